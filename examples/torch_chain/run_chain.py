"""The classic deployment chain, step 2: ONNX (exported from PyTorch by
`export_torch_model.py`) -> TFLite, float and quantized, checked against what PyTorch computed.

    python examples/torch_chain/run_chain.py [--out DIR]

No torch and no TensorFlow: swiftconv converts, quantizes and runs; LiteRT (ai-edge-litert)
runs the files too when it is installed. Exits non-zero when a check fails. CI runs it
(tests/test_examples_chain.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import swiftconv as sc

HERE = Path(__file__).resolve().parent
# Minimum cosine similarity of each form's outputs with PyTorch's (issue 10's bounds).
COSINE = {None: 0.999999, "dynamic": 0.999, "float16": 0.9999, "int8": 0.99}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def calibration_samples(count: int = 32):
    """Representative inputs for int8: images drawn like the test inputs (seed 1)."""
    rng = np.random.default_rng(1)
    for _ in range(count):
        yield {"image": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)}


def run_interpreter(interpreter_class, content: bytes, images: np.ndarray) -> np.ndarray:
    """One image at a time through a tf.lite-style interpreter (batch 1, as on a phone)."""
    it = interpreter_class(model_content=content)
    it.allocate_tensors()
    (inp,) = it.get_input_details()
    (out,) = it.get_output_details()
    results = []
    for image in images:
        x = image[None]
        if inp["dtype"] != np.float32:  # int8 interface: quantize with the file's parameters
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale) + zero, -128, 127).astype(inp["dtype"])
        it.set_tensor(inp["index"], x)
        it.invoke()
        y = it.get_tensor(out["index"])
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        results.append(y[0])
    return np.stack(results)


def litert_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the .tflite files (default: a temporary one)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="swiftconv-chain-"))
    out.mkdir(parents=True, exist_ok=True)

    onnx_path = HERE / "small_convnet.onnx"
    reference = np.load(HERE / "torch_reference.npz")
    images, torch_outputs = reference["inputs"], reference["outputs"]
    failures = []

    # The ONNX file itself, on swiftconv's engine.
    got = sc.InferenceSession(str(onnx_path)).run(None, {"image": images})[0]
    error = float(np.abs(got - torch_outputs).max())
    print(f"onnx            max |swiftconv - torch| = {error:.2e}")
    if error > 1e-4:
        failures.append("onnx")

    litert = litert_interpreter()
    for mode in (None, "dynamic", "float16", "int8"):
        label = mode or "float32"
        path = out / f"small_convnet_{label}.tflite"
        dataset = calibration_samples if mode == "int8" else None
        model = sc.convert(str(onnx_path), "tflite", path, quantize=mode, representative_dataset=dataset)
        size = path.stat().st_size
        ours = run_interpreter(sc.Interpreter, model.to_bytes(), images)
        line = f"{label:<15} {size:>7} bytes  cosine(sc.Interpreter, torch) = {cosine(ours, torch_outputs):.6f}"
        if mode is None:
            line += f"  max abs {np.abs(ours - torch_outputs).max():.2e}"
            if np.abs(ours - torch_outputs).max() > 1e-4:
                failures.append(label)
        if cosine(ours, torch_outputs) < COSINE[mode]:
            failures.append(label)
        if litert is not None:
            theirs = run_interpreter(litert, path.read_bytes(), images)
            line += f"  LiteRT vs sc.Interpreter max abs {np.abs(theirs - ours).max():.2e}"
            # Float kernels differ in summation order only; quantized ones may differ by a step.
            tolerance = 1e-4 if mode in (None, "float16") else 0.05 * np.abs(torch_outputs).max()
            if np.abs(theirs - ours).max() > tolerance:
                failures.append(label + " (LiteRT)")
        print(line)

    report = sc.verify(str(onnx_path), out / "small_convnet_float32.tflite", inputs={"image": images[:1]})
    print(report)
    if not report.ok:
        failures.append("verify")
    if failures:
        print("FAILED: " + ", ".join(failures), file=sys.stderr)
        return 1
    print(f"all checks passed; files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
