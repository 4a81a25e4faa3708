"""Keras convolution, pooling and reshaping layers (fixtures `conv_*`, `pool_*`, `reshape_*`)
converted from their files, against the outputs Keras computed: onnxruntime and our engine
for the ONNX model, LiteRT and sc.Interpreter for the TFLite one."""

import pytest
from keras_oracle import check_onnx, check_tflite, fixtures

FAMILIES = ("conv_", "pool_", "reshape_")
PATHS = [p for prefix in FAMILIES for p in fixtures(prefix)]

# Fixtures whose TFLite conversion fails for a reason outside the Keras front end.
TFLITE_XFAIL = {
    "conv_conv3dT_same_s2": "the ONNX -> TFLite lowering turns only 2-D ConvTranspose into TFLite ops",
}


def _tflite_param(path):
    reason = TFLITE_XFAIL.get(path.stem.removesuffix("_tf"))
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(path, marks=marks, id=path.name)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", [_tflite_param(p) for p in PATHS])
def test_tflite(path):
    check_tflite(path)
