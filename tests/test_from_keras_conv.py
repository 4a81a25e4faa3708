"""Keras convolution, pooling and reshaping layers (fixtures `conv_*`, `pool_*`, `reshape_*`)
converted from their files, against the outputs Keras computed: onnxruntime and our engine
for the ONNX model, LiteRT and sc.Interpreter for the TFLite one."""

import pytest
import swiftconv as sc
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


# Layers that are a TFLite TRANSPOSE themselves.
TRANSPOSE_LAYERS = {"reshape_permute"}


@pytest.mark.parametrize("path", [p for p in PATHS if p.stem.removesuffix("_tf") not in TFLITE_XFAIL], ids=lambda p: p.name)
def test_tflite_has_no_transpose(path):
    """Keras' NHWC layout is TFLite's: the NCHW round trips around Conv, pooling and Resize
    leave no TRANSPOSE (op names as LiteRT reads them from the flatbuffer)."""
    from ai_edge_litert.interpreter import Interpreter

    content = sc.convert(str(path), "tflite").to_bytes()
    ops = [op["op_name"] for op in Interpreter(model_content=content)._get_ops_details()]
    assert ops, "LiteRT lists no ops"
    expected = 1 if path.stem.removesuffix("_tf") in TRANSPOSE_LAYERS else 0
    assert ops.count("TRANSPOSE") == expected, ops
