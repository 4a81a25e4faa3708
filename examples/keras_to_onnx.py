"""A Keras model file to ONNX with sc.from_keras, checked in sc.InferenceSession.

`keras/digits_cnn.keras` (a tiny CNN, made by keras/make_keras_examples.py) becomes an ONNX
model with Keras' interface: input 'images' float32 [batch, 28, 28, 1] (channels-last, as in
Keras), output 'probabilities' [batch, 10]. No TensorFlow or Keras is needed to convert. The
model is saved, run by sc.InferenceSession on the images stored next to the .keras file, and
its probabilities must be within 1e-5 of what Keras computed for them.

    python examples/keras_to_onnx.py [--out DIR]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import swiftconv as sc

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="where to write digits_cnn.onnx (a temp dir)")
    args = parser.parse_args(argv)

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="keras_to_onnx_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "digits_cnn.onnx"
    sc.from_keras(str(HERE / "keras" / "digits_cnn.keras"), output_path=str(path))
    print(f"wrote {path} ({path.stat().st_size} bytes)")

    session = sc.InferenceSession(str(path))
    print("inputs: ", [(i.name, i.type, i.shape) for i in session.get_inputs()])
    print("outputs:", [(o.name, o.type, o.shape) for o in session.get_outputs()])
    data = np.load(HERE / "keras" / "digits_cnn.npz")
    (probs,) = session.run(None, {"images": data["images"]})

    worst = float(np.max(np.abs(probs - data["probabilities"])))
    same_class = np.array_equal(probs.argmax(1), data["probabilities"].argmax(1))
    print(f"{len(probs)} images: max |p - keras| = {worst:.3g}, same classes: {same_class}")
    if worst > 1e-5 or not same_class:
        print("FAILED: the ONNX model differs from Keras")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
