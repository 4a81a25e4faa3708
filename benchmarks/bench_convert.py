"""ONNX -> TFLite conversion: whole-process wall time and TRANSPOSE count, swiftconv vs onnx2tf.

    python benchmarks/bench_convert.py [--runs 5] [--models NAME ...] [--onnx2tf PATH] [--markdown]

For every real model of tests/models/real_models.json (torch exports; weights refilled from
a fixed seed by tests/real_models.py) the ONNX file is written to a temporary folder, then
`python -m swiftconv convert model.onnx model.tflite` runs as a fresh process `--runs` times;
the table gives the median wall time (process start to exit, import included), the TRANSPOSE
ops in the result (default: the ONNX layouts kept at the inputs and outputs) and in a
conversion with `keep_layout=False` (NHWC inputs and outputs, as onnx2tf makes them), and
LiteRT's largest difference from onnxruntime's outputs.

With `--onnx2tf PATH` (the onnx2tf command of a separate environment with TensorFlow; see
benchmarks/README.md), `onnx2tf -i model.onnx -o DIR` is timed the same way (one run unless
`--onnx2tf-runs` says more: it takes tens of seconds) and the TRANSPOSE ops of its
float32 .tflite are counted next to ours. onnx2tf fetches a sample-image file from GitHub
when it starts unless `calibration_image_sample_data_20x128x128x3_float32.npy` is in its
working folder; so that it runs offline, it runs in a temporary folder holding such a file
(seeded uniform [0, 1) values; onnx2tf uses them only for its own output checks).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import real_models  # noqa: E402

import swiftconv as sc  # noqa: E402


def timed(command: list[str], runs: int, cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    times = []
    proc = None
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            break
    return statistics.median(times), proc


def transposes(path: Path) -> int:
    return sc.load(str(path))._facts()["ops"].get("tflite:TRANSPOSE", 0)


def litert_matches(tflite: Path, onnx_bytes: bytes, name: str) -> str:
    try:
        import onnxruntime as ort
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return "n/a"
    import numpy as np

    feeds = real_models.inputs(name, 1)
    want = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(None, feeds)
    it = Interpreter(model_path=str(tflite))
    details = {d["name"]: d for d in it.get_input_details()}
    for k, x in feeds.items():
        if k not in details:
            return "inputs renamed"
        if tuple(details[k]["shape"]) != x.shape:
            it.resize_tensor_input(details[k]["index"], list(x.shape))
    it.allocate_tensors()
    for k, x in feeds.items():
        it.set_tensor(details[k]["index"], x.astype(details[k]["dtype"]))
    it.invoke()
    outs = it.get_output_details()
    error = max(float(np.abs(it.get_tensor(o["index"]) - w).max()) for o, w in zip(outs, want))
    return f"{error:.1e}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=real_models.names())
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--onnx2tf", help="path of an onnx2tf command (separate environment)")
    parser.add_argument("--onnx2tf-runs", type=int, default=1)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.onnx2tf:
            import numpy as np

            samples = np.random.default_rng(0).uniform(0, 1, (20, 128, 128, 3)).astype(np.float32)
            np.save(tmp / "calibration_image_sample_data_20x128x128x3_float32.npy", samples)
        for name in args.models:
            onnx_bytes = real_models.build(name)
            source = tmp / f"{name}.onnx"
            source.write_bytes(onnx_bytes)
            target = tmp / f"{name}.tflite"
            seconds, proc = timed([sys.executable, "-m", "swiftconv", "convert", str(source), str(target)], args.runs)
            if proc.returncode != 0:
                rows.append((name, "failed", "-", "-", proc.stderr.strip().splitlines()[-1][:80], "-", "-"))
                continue
            # With NHWC inputs and outputs (keep_layout=False), as onnx2tf makes them by default.
            nhwc = tmp / f"{name}_nhwc.tflite"
            sc.convert(onnx_bytes, "tflite", nhwc, keep_layout=False)
            row = [
                name,
                f"{seconds:.2f}",
                str(transposes(target)),
                str(transposes(nhwc)),
                litert_matches(target, onnx_bytes, name),
            ]
            if args.onnx2tf:
                out = tmp / f"{name}_onnx2tf"
                their, proc = timed([args.onnx2tf, "-i", str(source), "-o", str(out)], args.onnx2tf_runs, cwd=tmp)
                files = sorted(out.glob("*_float32.tflite"))
                if proc.returncode != 0 or not files:
                    row += ["failed", "-"]
                else:
                    row += [f"{their:.2f}", str(transposes(files[0]))]
            else:
                row += ["-", "-"]
            rows.append(tuple(row))
    header = (
        "model",
        "swiftconv s",
        "TRANSPOSE",
        "TRANSPOSE, NHWC I/O",
        "LiteRT vs ORT",
        "onnx2tf s",
        "onnx2tf TRANSPOSE",
    )
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for r in [header, *rows]:
            print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    return 0 if all(r[1] != "failed" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
