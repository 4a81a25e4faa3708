"""A Keras model file to TFLite with dynamic-range quantization, checked in sc.Interpreter.

`sc.convert('keras/digits_cnn.keras', 'tflite', quantize='dynamic')` does what
TFLiteConverter.from_keras_model with optimizations=[tf.lite.Optimize.DEFAULT] does, without
TensorFlow: int8 weights, float activations, NHWC end to end (no TRANSPOSE). The float32 and
quantized models are saved and run by sc.Interpreter on the images stored next to the .keras
file: the float model must be within 1e-5 of Keras' probabilities, the quantized one at a
cosine similarity of 0.999 or more, and both must pick Keras' classes.

    python examples/keras_to_tflite.py [--out DIR]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import swiftconv as sc

HERE = Path(__file__).resolve().parent


def run(path, images):
    """One image at a time, as a batch-1 TFLite model is usually run."""
    interp = sc.Interpreter(model_path=str(path))
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    rows = []
    for image in images:
        interp.set_tensor(inp["index"], image[None])
        interp.invoke()
        rows.append(interp.get_tensor(out["index"])[0])
    return np.stack(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="where to write the .tflite files (a temp dir)")
    args = parser.parse_args(argv)

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="keras_to_tflite_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    source = str(HERE / "keras" / "digits_cnn.keras")
    data = np.load(HERE / "keras" / "digits_cnn.npz")
    want = data["probabilities"]
    failures = []
    for name, quantize in (("digits_cnn_float32.tflite", None), ("digits_cnn_dynamic.tflite", "dynamic")):
        path = out_dir / name
        sc.convert(source, "tflite", str(path), quantize=quantize)
        probs = run(path, data["images"])
        worst = float(np.max(np.abs(probs - want)))
        cos = float(np.sum(probs * want) / (np.linalg.norm(probs) * np.linalg.norm(want)))
        same_class = np.array_equal(probs.argmax(1), want.argmax(1))
        print(
            f"{name}: {path.stat().st_size} bytes, max |p - keras| = {worst:.3g}, cosine {cos:.6f}, "
            f"same classes: {same_class}"
        )
        if (quantize is None and worst > 1e-5) or (quantize and cos < 0.999) or not same_class:
            failures.append(name)
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
