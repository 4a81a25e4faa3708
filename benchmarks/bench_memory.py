"""Peak resident memory of a process that loads a model and runs it, swiftconv vs onnxruntime.

    python benchmarks/bench_memory.py [--models NAME ...] [--runs 5] [--inferences 10] [--markdown]

For each model (the names of `bench_models.py`: the real models of `tests/real_models.py`
and the exported op-mix models), each engine runs in a fresh Python process that:

1. imports numpy and the engine (its `VmHWM` after this is the "import" column);
2. reads the model bytes and the batch-1 feeds, made beforehand by this script and passed in
   a temporary `.npz` + `.onnx`, so neither child builds models or imports onnx;
3. creates a session with default options (full optimization, 1 intra-op thread, onnxruntime's
   inter-op threads 1) and runs it `--inferences` times.

The child reports its peak resident set (`VmHWM` from /proc/self/status) after the import and
at the end. The table gives the median over `--runs` processes per engine (interleaved: one of
each in turn) of the final peak, and of the growth past the import, which is what loading and
running the model cost on top of the libraries. Both engines' outputs are compared in the
parent with the same tolerance as bench_models (1e-4).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import op_mix_models  # noqa: E402
import real_models  # noqa: E402
from bench_models import _model  # noqa: E402

CHILD = r"""
import json, sys

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

engine, model_path, feeds_path, inferences = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import numpy as np
if engine == "swiftconv":
    import swiftconv as rt
    so = rt.SessionOptions()
    so.intra_op_num_threads = 1
    make = lambda m: rt.InferenceSession(m, so)
else:
    import onnxruntime as rt
    so = rt.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    make = lambda m: rt.InferenceSession(m, so, providers=["CPUExecutionProvider"])
after_import = hwm_kib()
model = open(model_path, "rb").read()
with np.load(feeds_path) as z:
    feeds = {k: z[k] for k in z.files}
sess = make(model)
del model
for _ in range(inferences):
    outs = sess.run(None, feeds)
np.savez(feeds_path + ".out.npz", *outs)
print(json.dumps({"import_kib": after_import, "peak_kib": hwm_kib()}))
"""


def measure(engine: str, model_path: str, feeds_path: str, inferences: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, engine, model_path, feeds_path, str(inferences)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} child failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(feeds_path + ".out.npz") as z:
        result["outputs"] = [z[k] for k in sorted(z.files, key=lambda s: int(s.split("_")[1]))]
    return result


def bench(name: str, runs: int, inferences: int) -> dict:
    model, feeds = _model(name, 1)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.onnx")
        feeds_path = os.path.join(tmp, "feeds.npz")
        with open(model_path, "wb") as f:
            f.write(model)
        np.savez(feeds_path, **feeds)
        samples: dict[str, list[dict]] = {"swiftconv": [], "onnxruntime": []}
        for _ in range(runs):
            for engine in samples:
                samples[engine].append(measure(engine, model_path, feeds_path, inferences))
    got, want = samples["swiftconv"][0]["outputs"], samples["onnxruntime"][0]["outputs"]
    error = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    if len(got) != len(want) or not error <= 1e-4:
        raise RuntimeError(f"{name}: outputs differ (max abs {error:.3g})")
    row = {"model": name, "model_mib": len(model) / 2**20, "max_abs_error": error}
    for engine, s in samples.items():
        row[f"{engine}_peak_mib"] = statistics.median(x["peak_kib"] for x in s) / 1024
        row[f"{engine}_import_mib"] = statistics.median(x["import_kib"] for x in s) / 1024
        row[f"{engine}_growth_mib"] = statistics.median(x["peak_kib"] - x["import_kib"] for x in s) / 1024
    row["ratio"] = row["swiftconv_peak_mib"] / row["onnxruntime_peak_mib"]
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", help="default: every real model and every exported op-mix model")
    p.add_argument("--runs", type=int, default=5, help="processes per engine and model (median)")
    p.add_argument("--inferences", type=int, default=10, help="runs of the session in each process")
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    names = args.models or (real_models.names() + op_mix_models.available())
    rows = [bench(n, args.runs, args.inferences) for n in names]
    import onnxruntime

    import swiftconv

    header = (
        f"<!-- {date.today()}: swiftconv {swiftconv.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"numpy {np.__version__}; 1 thread, batch 1, {args.inferences} runs per process, median of {args.runs} "
        "processes per engine -->"
    )
    cols = [
        ("model", "model", "{}"),
        ("model MiB", "model_mib", "{:.1f}"),
        ("swiftconv peak MiB", "swiftconv_peak_mib", "{:.1f}"),
        ("onnxruntime peak MiB", "onnxruntime_peak_mib", "{:.1f}"),
        ("ratio", "ratio", "{:.2f}"),
        ("swiftconv growth MiB", "swiftconv_growth_mib", "{:.1f}"),
        ("onnxruntime growth MiB", "onnxruntime_growth_mib", "{:.1f}"),
        ("swiftconv after import", "swiftconv_import_mib", "{:.1f}"),
        ("onnxruntime after import", "onnxruntime_import_mib", "{:.1f}"),
    ]
    if args.markdown:
        print(header)
        print("| " + " | ".join(c[0] for c in cols) + " |")
        print("|---|" + "---:|" * (len(cols) - 1))
        for r in rows:
            print("| " + " | ".join(fmt.format(r[key]) for _, key, fmt in cols) + " |")
    else:
        print(header)
        for r in rows:
            print("  ".join(f"{label}={fmt.format(r[key])}" for label, key, fmt in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
