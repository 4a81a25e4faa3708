"""scikit-learn -> ONNX: whole-process conversion wall time, sc.from_sklearn vs skl2onnx.

    python benchmarks/bench_sklearn.py [--runs 5] [--estimators NAME ...] [--markdown]

Each estimator is fitted once and pickled to a temporary folder; then, for each tool, a fresh
Python process `--runs` times loads the pickle, converts it (sc.from_sklearn, or
skl2onnx.convert_sklearn with the same float input) and writes the ONNX bytes. The table gives
the median wall time (process start to exit, imports included) and the model sizes. An
estimator swiftconv has no converter for shows "no converter" (its UnsupportedOp message is
printed). Needs scikit-learn and skl2onnx; not run in CI.
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
            rows.append(row)
            print(row, file=sys.stderr)
    columns = ["estimator", "swiftconv", "skl2onnx", "swiftconv size", "skl2onnx size"]
    if args.markdown:
        print(f"<!-- python benchmarks/bench_sklearn.py --runs {args.runs}: median whole-process wall time -->")
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
