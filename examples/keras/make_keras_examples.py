"""Make `digits_cnn.keras` and `digits_cnn.npz` for examples/keras_to_onnx.py and keras_to_tflite.py.

    /work/venv-tf/bin/python examples/keras/make_keras_examples.py

A tiny Keras 3 CNN on 28x28x1 images (Conv2D 3x3 -> MaxPooling2D -> Conv2D 3x3 ->
GlobalAveragePooling2D -> Dense softmax), random but seeded weights (not trained: the examples
show conversion, not accuracy). The .npz holds `images` (8 seeded images in [0, 1]) and
`probabilities`, what Keras computed for them. Needs Keras 3 (TensorFlow backend); the
examples themselves need neither.
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    keras.utils.set_random_seed(7)
    images = keras.Input((28, 28, 1), name="images")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(images)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(10, activation="softmax", name="probabilities")(x)
    model = keras.Model(images, x, name="digits_cnn")
    model.save(HERE / "digits_cnn.keras")
    data = np.random.default_rng(7).uniform(0.0, 1.0, (8, 28, 28, 1)).astype(np.float32)
    probs = np.asarray(model(data, training=False))
    np.savez(HERE / "digits_cnn.npz", images=data, probabilities=probs)
    print(f"wrote digits_cnn.keras ({(HERE / 'digits_cnn.keras').stat().st_size} bytes) and digits_cnn.npz")


if __name__ == "__main__":
    main()
