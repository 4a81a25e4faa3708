"""Keras convolution, pooling and reshaping layers (fixtures `conv_*`, `pool_*`, `reshape_*`)
converted from their files, against the outputs Keras computed: onnxruntime and our engine
for the ONNX model, LiteRT and sc.Interpreter for the TFLite one."""

import numpy as np
import pytest
from keras_oracle import assert_close, check_onnx, check_tflite, fixtures, io

import swiftconv as sc
from swiftconv.errors import InvalidArgument, UnsupportedOp

FAMILIES = ("conv_", "pool_", "reshape_")
PATHS = [p for prefix in FAMILIES for p in fixtures(prefix)]

# Fixtures whose TFLite conversion fails for a reason outside the Keras front end.
TFLITE_XFAIL = {
    "conv_conv3dT_same_s2": "the ONNX -> TFLite lowering turns only 2-D ConvTranspose into TFLite ops",
    "reshape_upsample2d_dyn": "the ONNX -> TFLite lowering resizes only inputs of a static shape",
    "reshape_upsample2d_bilinear_dyn": "the ONNX -> TFLite lowering resizes only inputs of a static shape",
}


def _stem(path):
    return path.stem.removesuffix("_tf")


def _tflite_param(path):
    reason = TFLITE_XFAIL.get(_stem(path))
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(path, marks=marks, id=path.name)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


def _check_tflite_resized(path, tol=1e-4):
    """check_tflite for inputs with unknown spatial sizes: the TFLite inputs are resized to the
    stored inputs' shapes before allocating (LiteRT and sc.Interpreter alike)."""
    from ai_edge_litert.interpreter import Interpreter

    inputs, want = io(path)
    content = sc.convert(str(path), "tflite").to_bytes()
    for make in (Interpreter, sc.Interpreter):
        interp = make(model_content=content)
        details = interp.get_input_details()
        for detail, x in zip(details, inputs):
            interp.resize_tensor_input(detail["index"], list(x.shape))
        interp.allocate_tensors()
        for detail, x in zip(details, inputs):
            interp.set_tensor(detail["index"], np.asarray(x, detail["dtype"]))
        interp.invoke()
        got = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
        for k, w in enumerate(want):
            assert_close(got[k], w, tol, f"{path.name} output {k} ({make.__module__})")


@pytest.mark.parametrize("path", [_tflite_param(p) for p in PATHS])
def test_tflite(path):
    if _stem(path).endswith("_dyn"):
        _check_tflite_resized(path)
    else:
        check_tflite(path)


# Layers that are a TFLite TRANSPOSE themselves; channels_first models (NCHW at the interface)
# need one to reach TFLite's NHWC.
def _expected_transposes(path):
    stem = _stem(path)
    return None if "channels_first" in stem else 1 if stem == "reshape_permute" else 0


@pytest.mark.parametrize(
    "path", [p for p in PATHS if _stem(p) not in TFLITE_XFAIL and _expected_transposes(p) is not None],
    ids=lambda p: p.name,
)  # fmt: skip
def test_tflite_has_no_transpose(path):
    """Keras' NHWC layout is TFLite's: the NCHW round trips around Conv, pooling and Resize
    leave no TRANSPOSE (op names as LiteRT reads them from the flatbuffer)."""
    from ai_edge_litert.interpreter import Interpreter

    content = sc.convert(str(path), "tflite").to_bytes()
    ops = [op["op_name"] for op in Interpreter(model_content=content)._get_ops_details()]
    assert ops, "LiteRT lists no ops"
    assert ops.count("TRANSPOSE") == _expected_transposes(path), ops


# ---------------------------------------------------------------- refused configurations


def _edited(tmp_path, stem, index, **changes):
    """A copy of fixture `stem`.keras with layer `index`'s config entries replaced."""
    import json
    import zipfile

    source = next(p for p in PATHS if p.name == f"{stem}.keras")
    target = tmp_path / source.name
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][index]["config"].update(changes)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return target


@pytest.mark.parametrize(
    "stem, changes, message",
    [
        ("conv_conv2d_valid", {"padding": "reflect"}, "padding 'reflect'"),
        ("conv_conv2d_valid", {"padding": "causal"}, "padding 'causal'"),
        ("conv_conv2d_valid", {"kernel_size": [3, 2, 1]}, "kernel_size must be 2 integers"),
        ("conv_conv2d_valid", {"strides": 1.5}, "strides must be an integer"),
        ("conv_conv2d_valid", {"strides": [0, 1]}, "must be positive"),
        ("conv_conv2d_valid", {"filters": 5}, "the kernel has shape"),
        ("conv_conv2d_valid", {"groups": 2}, "groups 2 must divide"),
        ("conv_conv2d_valid", {"data_format": "nhwc"}, "data_format 'nhwc'"),
        ("conv_conv2d_same_s2", {"activation": "no_such_activation"}, "activation 'no_such_activation'"),
        ("conv_depthwise2d", {"depth_multiplier": 3}, "the depthwise kernel has shape"),
        ("conv_conv2dT_outpad", {"output_padding": [0, 2]}, "output_padding"),
        ("pool_max2d", {"pool_size": "2"}, "pool_size must be"),
        ("pool_max2d", {"pool_size": [9, 2]}, "does not fit"),
        ("reshape_reshape", {"target_shape": [5, -1]}, "cannot reshape"),
        ("reshape_reshape", {"target_shape": [-1, -1, 2]}, "at most one -1"),
        ("reshape_permute", {"dims": [1, 1, 2]}, "permutation"),
        ("reshape_permute", {"dims": ["a", 1, 2]}, "permutation"),
        ("reshape_repeat_vector", {"n": 0}, "n must be a positive integer"),
        ("reshape_zeropad2d", {"padding": [[1, -1], [0, 0]]}, "must not be negative"),
        ("reshape_zeropad2d", {"padding": "same"}, "is not 2 integers"),
        ("reshape_crop2d", {"cropping": [[4, 3], [0, 0]]}, "leaves nothing"),
        ("reshape_upsample2d", {"interpolation": "bicubic"}, "interpolation 'bicubic'"),
    ],
)
def test_refused_config(tmp_path, stem, changes, message):
    path = _edited(tmp_path, stem, 1, **changes)
    with pytest.raises(UnsupportedOp, match=message) as info:
        sc.from_keras(str(path))
    assert "layer '" in str(info.value)  # names the layer


def test_missing_bias_weights_is_invalid(tmp_path):
    # use_bias turned off in the config while the file stores a bias: the weights do not match.
    path = _edited(tmp_path, "conv_conv2d_valid", 1, use_bias=False)
    with pytest.raises(InvalidArgument, match="weight arrays"):
        sc.from_keras(str(path))


@pytest.mark.parametrize("path", fixtures("pool_g"), ids=lambda p: p.name)
def test_global_pooling_opset18(path):
    # From opset 18 the reductions take their axes as an input.
    check_onnx(path, model=sc.from_keras(str(path), opset=18))
