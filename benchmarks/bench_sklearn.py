"""scikit-learn -> ONNX: whole-process conversion wall time, sc.from_sklearn vs skl2onnx.

    python benchmarks/bench_sklearn.py [--runs 5] [--warm-runs 20] [--estimators NAME ...] [--markdown]

Each estimator is fitted once and pickled to a temporary folder; then, for each tool, a fresh
Python process `--runs` times loads the pickle, converts it (sc.from_sklearn, or
skl2onnx.convert_sklearn with the same float input) and writes the ONNX bytes. The table gives
the median wall time (process start to exit, imports included) and the model sizes. An
estimator swiftconv has no converter for shows "no converter" (its UnsupportedOp message is
printed).

The "warm" columns time the conversion call alone: one process per tool loads the pickle,
converts once (imports and first-call costs), then converts `--warm-runs` more times to bytes
and reports the median. Needs scikit-learn and skl2onnx; not run in CI.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SWIFTCONV = """
import pickle, sys
import swiftconv as sc
est = pickle.load(open(sys.argv[1], "rb"))
open(sys.argv[2], "wb").write(sc.from_sklearn(est).to_bytes())
"""

SKL2ONNX = """
import pickle, sys
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
est = pickle.load(open(sys.argv[1], "rb"))
options = {id(est): {"zipmap": False}} if hasattr(est, "predict_proba") else None
onx = convert_sklearn(est, initial_types=[("float_input", FloatTensorType([None, est.n_features_in_]))],
                      options=options)
open(sys.argv[2], "wb").write(onx.SerializeToString())
"""


# The conversion call alone, after one warm-up conversion in the same process.
WARM = """
import pickle, statistics, sys, time
est = pickle.load(open(sys.argv[1], "rb"))
runs = int(sys.argv[2])
if sys.argv[3] == "swiftconv":
    import swiftconv as sc
    def convert():
        return sc.from_sklearn(est).to_bytes()
else:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    options = {id(est): {"zipmap": False}} if hasattr(est, "predict_proba") else None
    types = [("float_input", FloatTensorType([None, est.n_features_in_]))]
    def convert():
        return convert_sklearn(est, initial_types=types, options=options).SerializeToString()
convert()
times = []
for _ in range(runs):
    started = time.perf_counter()
    convert()
    times.append(time.perf_counter() - started)
print(statistics.median(times))
"""


def warm(pickle_path: Path, tool: str, runs: int):
    """Median seconds of one conversion call in a warm process, or None when it fails."""
    proc = subprocess.run(
        [sys.executable, "-c", WARM, str(pickle_path), str(runs), tool], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None
    return float(proc.stdout.strip().splitlines()[-1])


def estimators():
    """name -> (unfitted estimator, dataset loader)."""
    from sklearn import datasets
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    return {
        "DummyClassifier": (DummyClassifier(), datasets.load_iris),
        "LogisticRegression": (LogisticRegression(max_iter=1000), datasets.load_iris),
        "Scaler+LogisticRegression": (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            datasets.load_breast_cancer,
        ),
        "LinearRegression": (LinearRegression(), datasets.load_diabetes),
        "DecisionTreeRegressor": (DecisionTreeRegressor(max_depth=8, random_state=0), datasets.load_diabetes),
        "RandomForestClassifier(100)": (RandomForestClassifier(n_estimators=100, random_state=0), datasets.load_digits),
    }


def timed(script: str, pickle_path: Path, out: Path, runs: int):
    times, proc = [], None
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", script, str(pickle_path), str(out)], capture_output=True, text=True
        )
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            return None, proc
    return statistics.median(times), proc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm-runs", type=int, default=20)
    parser.add_argument("--estimators", nargs="*", default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    table = estimators()
    names = args.estimators or list(table)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in names:
            est, load = table[name]
            X, y = load(return_X_y=True)
            est.fit(X.astype("float32"), y)
            pkl = tmp / f"{len(rows)}.pkl"
            pkl.write_bytes(pickle.dumps(est))
            row = {"estimator": name}
            for tool, script in (("swiftconv", SWIFTCONV), ("skl2onnx", SKL2ONNX)):
                out = tmp / f"{len(rows)}_{tool}.onnx"
                seconds, proc = timed(script, pkl, out, args.runs)
                if seconds is None:
                    last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
                    print(f"# {name} / {tool}: {last}", file=sys.stderr)
                    unsupported = "UnsupportedOp" in proc.stderr or "Unable to find a shape calculator" in proc.stderr
                    row[tool] = "no converter" if unsupported else "failed"
                    row[f"{tool} size"] = "-"
                else:
                    row[tool] = f"{seconds * 1000:.0f} ms"
                    row[f"{tool} size"] = f"{out.stat().st_size / 1024:.1f} KB"
            warm_times = {tool: warm(pkl, tool, args.warm_runs) for tool in ("swiftconv", "skl2onnx")}
            for tool, seconds in warm_times.items():
                row[f"warm {tool}"] = "-" if seconds is None else f"{seconds * 1000:.1f} ms"
            ours, theirs = warm_times["swiftconv"], warm_times["skl2onnx"]
            row["warm ratio"] = "-" if ours is None or theirs is None else f"{ours / theirs:.3f}"
            rows.append(row)
            print(row, file=sys.stderr)
    columns = [
        "estimator",
        "swiftconv",
        "skl2onnx",
        "warm swiftconv",
        "warm skl2onnx",
        "warm ratio",
        "swiftconv size",
        "skl2onnx size",
    ]
    if args.markdown:
        print(
            f"<!-- python benchmarks/bench_sklearn.py --runs {args.runs} --warm-runs {args.warm_runs}: "
            "median whole-process wall time, then the warm conversion call alone -->"
        )
        print("| " + " | ".join(columns) + " |")
        print("|" + "|".join(" --- " for _ in columns) + "|")
        for row in rows:
            print("| " + " | ".join(row[c] for c in columns) + " |")
    else:
        widths = [max(len(c), *(len(r[c]) for r in rows)) for c in columns]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
        for row in rows:
            print("  ".join(row[c].ljust(w) for c, w in zip(columns, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
