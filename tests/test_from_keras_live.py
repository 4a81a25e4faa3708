"""Every Keras fixture loaded by Keras itself and converted as a live model (weights read from
the model's variables), against the outputs Keras computed. Needs Keras 3 (and tf_keras for the
.h5 fixtures), so it runs where Keras is installed: CI has neither, and the same fixtures are
converted from their files by the other test_from_keras_* suites. Run it with

    PYTHONPATH=python /work/venv-tf/bin/python -m pytest -q tests/test_from_keras_live.py
"""

import pytest

keras = pytest.importorskip("keras")

import numpy as np  # noqa: E402
from keras_oracle import FIXTURES, check_live, fixtures, load_live  # noqa: E402

import swiftconv as sc  # noqa: E402


def _has_tf_keras():
    try:
        import tf_keras  # noqa: F401
    except ImportError:
        return False
    return True


# The err_* fixtures are models that cannot be converted: tested below.
@pytest.mark.parametrize("path", [p for p in fixtures() if not p.stem.startswith("err_")], ids=lambda p: p.name)
def test_live_model(path):
    if path.suffix == ".h5" and not _has_tf_keras():
        pytest.skip("tf_keras is not installed")
    check_live(path)


def test_live_lambda_and_custom_layer():
    class TimesThree(keras.layers.Layer):
        def call(self, x):
            return x * 3.0

    x = keras.Input((4,), name="x")
    h = keras.layers.Lambda(lambda t: t + 1.0, name="plus_one")(keras.layers.Dense(3, name="dense")(x))
    model = keras.Model(x, TimesThree(name="times_three")(h))
    with pytest.raises(sc.UnsupportedOp) as info:
        sc.from_keras(model)
    for fragment in ("Lambda", "'plus_one'", "TimesThree", "'times_three'"):
        assert fragment in str(info.value)


def test_live_tf_keras_lambda():
    if not _has_tf_keras():
        pytest.skip("tf_keras is not installed")
    with pytest.raises(sc.UnsupportedOp, match="plus_one"):
        sc.from_keras(load_live(FIXTURES / "err_lambda_tf.h5"))


def _subclassed(k):
    class Doubler(k.Model):  # no get_config: Keras cannot describe its layers
        def __init__(self):
            super().__init__()
            self.dense = k.layers.Dense(3)

        def call(self, x):
            return self.dense(x) * 2.0

    model = Doubler()
    model(np.zeros((1, 4), np.float32))
    return model


@pytest.mark.parametrize("flavor", ["keras3", "tf_keras"])
def test_live_subclassed_model_without_get_config(flavor, tmp_path):
    if flavor == "tf_keras" and not _has_tf_keras():
        pytest.skip("tf_keras is not installed")
    k = keras
    if flavor == "tf_keras":
        import tf_keras as k
    out = tmp_path / "out.onnx"
    with pytest.raises(sc.ConversionError) as info:
        sc.from_keras(_subclassed(k), output_path=out)
    message = str(info.value)
    assert "Doubler" in message and "subclassed model" in message and "get_config()" in message
    assert not out.exists()
