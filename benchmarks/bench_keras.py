"""Keras -> ONNX and Keras -> TFLite: whole-process conversion wall time, swiftconv vs tf2onnx
and TFLiteConverter.

    python benchmarks/bench_keras.py [--runs 5] [--models cnn lstm ...] [--markdown]
        [--python PY] [--tf-python /work/venv-tf/bin/python] [--tf2onnx-python PY]

For each acceptance model (`tests/fixtures/keras/model_*.keras|.h5`), a fresh process
`--runs` times converts the file and writes the result; the table gives the median wall time
(process start to exit, imports and file reading included) and the sizes of the results:
- swiftconv ONNX:     `PY -m swiftconv convert model.keras model.onnx`
- tf2onnx:            Keras loads the file, then `tf2onnx.convert.from_keras(model, opset=13)`
- swiftconv dynamic:  `PY -m swiftconv convert model.keras model.tflite --quantize dynamic`
- TFLiteConverter:    Keras loads the file, then `TFLiteConverter.from_keras_model(model)` with
                      `optimizations=[tf.lite.Optimize.DEFAULT]` (the same int8-weight model).
The ratio columns are swiftconv's time over the other tool's. A tool that fails on a model
shows "failed" (its last error line goes to stderr). swiftconv runs with this checkout's
`python/` on PYTHONPATH; the TensorFlow tools run with `--tf-python` (Keras 3, tf_keras,
tf2onnx installed there). Not run in CI.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "keras"

# Both TensorFlow tools load the file as the user would: Keras 3 for .keras, tf_keras for .h5.
LOAD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
src, out = sys.argv[1], sys.argv[2]
if src.endswith(".h5"):
    import tf_keras
    model = tf_keras.models.load_model(src, compile=False)
else:
    import keras
    model = keras.saving.load_model(src, compile=False)
"""

TF2ONNX = (
    LOAD
    + """
import tf2onnx
tf2onnx.convert.from_keras(model, opset=13, output_path=out)
"""
)

TFLITE = (
    LOAD
    + """
import tensorflow as tf
converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
open(out, "wb").write(converter.convert())
"""
)


def timed(command: list[str], out: Path, runs: int, env=None):
    """(median seconds, size of `out`) over `runs` fresh processes, or (None, last error line)."""
    times = []
    for _ in range(runs):
        out.unlink(missing_ok=True)
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0 or not out.exists():
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()] or ["no output written"]
            return None, lines[-1]
    return statistics.median(times), out.stat().st_size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=None, help="stems without 'model_' (default: all)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs swiftconv")
    parser.add_argument("--tf-python", default="/work/venv-tf/bin/python", help="Python with TensorFlow")
    parser.add_argument("--tf2onnx-python", default=None, help="Python with tf2onnx (default: --tf-python)")
    args = parser.parse_args(argv)
    tf2onnx_python = args.tf2onnx_python or args.tf_python

    paths = sorted(p for p in FIXTURES.glob("model_*") if p.suffix in (".keras", ".h5"))
    if args.models:
        paths = [p for p in paths if p.stem[len("model_") :] in args.models]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "python"), os.environ.get("PYTHONPATH")]))
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for path in paths:
            name = path.stem[len("model_") :] + ("" if path.suffix == ".keras" else " (tf_keras .h5)")
            row = {"model": name}
            runs = {
                "swiftconv onnx": ([args.python, "-m", "swiftconv", "convert", str(path)], "onnx", env),
                "tf2onnx": ([tf2onnx_python, "-c", TF2ONNX, str(path)], "onnx", None),
                "swiftconv dynamic": (
                    [args.python, "-m", "swiftconv", "convert", str(path)],
                    "tflite",
                    env,
                ),
                "TFLiteConverter": ([args.tf_python, "-c", TFLITE, str(path)], "tflite", None),
            }
            seconds = {}
            for tool, (command, ext, tool_env) in runs.items():
                out = tmp / f"{path.stem}_{tool.replace(' ', '_')}.{ext}"
                extra = ["--quantize", "dynamic"] if tool == "swiftconv dynamic" else []
                secs, size = timed(command + [str(out)] + extra, out, args.runs, tool_env)
                seconds[tool] = secs
                if secs is None:
                    print(f"# {name} / {tool}: {size}", file=sys.stderr)
                    row[tool], row[f"{tool} size"] = "failed", "-"
                else:
                    row[tool], row[f"{tool} size"] = f"{secs:.2f} s", f"{size / 1024:.0f} KB"
            for ours, theirs in (("swiftconv onnx", "tf2onnx"), ("swiftconv dynamic", "TFLiteConverter")):
                a, b = seconds[ours], seconds[theirs]
                row[f"{ours} / {theirs}"] = "-" if a is None or b is None else f"{a / b:.3f}"
            rows.append(row)
            print(row, file=sys.stderr)
    columns = [
        "model",
        "swiftconv onnx",
        "tf2onnx",
        "swiftconv onnx / tf2onnx",
        "swiftconv dynamic",
        "TFLiteConverter",
        "swiftconv dynamic / TFLiteConverter",
        "swiftconv onnx size",
        "tf2onnx size",
        "swiftconv dynamic size",
        "TFLiteConverter size",
    ]
    if args.markdown:
        print(f"<!-- python benchmarks/bench_keras.py --runs {args.runs}: median whole-process wall time -->")
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
