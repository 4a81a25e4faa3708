"""Conv + residual Add (+ activation), which the session fuses into one FusedConv with a sum
input Z (ResNet's Conv -> Add -> Relu, MobileNetV2's Conv -> Add), against onnxruntime: on
every convolution path (implicit 3x3, 1x1 GEMM, im2col with bands, depthwise, the 1x1-map
dot products, 1-D), at every optimization level and with two threads; graphs it must leave
alone (a broadcasting Add, the Conv output read elsewhere); and onnxruntime's own
com.microsoft FusedConv with Z run by both engines."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

SHAPES = {
    # (input shape, weight shape, attributes)
    "3x3": ((1, 5, 9, 11), (7, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3-s2-batch2": ((2, 6, 17, 13), (16, 6, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "3x3-small-map": ((1, 4, 3, 2), (5, 4, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Few input channels and rows of 16 or more outputs: the direct convolution (stems).
    "stem-3x3": ((1, 3, 20, 40), (8, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    "stem-3x3-s2-batch2": ((2, 3, 33, 64), (16, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "1x1": ((2, 16, 6, 7), (24, 16, 1, 1), {}),
    "1x1-wide": ((1, 8, 40, 50), (12, 8, 1, 1), {}),
    "1x1-on-1x1": ((2, 40, 1, 1), (10, 40, 1, 1), {}),
    "5x5-dilated": ((1, 3, 20, 21), (4, 3, 5, 5), {"pads": [4, 4, 4, 4], "dilations": [2, 2]}),
    "grouped": ((1, 8, 10, 10), (8, 4, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    "dw3x3": ((1, 12, 14, 14), (12, 1, 3, 3), {"group": 12, "pads": [1, 1, 1, 1]}),
    "dw5x5-s2": ((1, 8, 15, 15), (8, 1, 5, 5), {"group": 8, "pads": [2, 2, 2, 2], "strides": [2, 2]}),
    "1d": ((1, 6, 30), (9, 6, 3), {"pads": [1, 1]}),
}
TAILS = {
    "add": (None, None),
    "add-relu": ("Relu", None),
    "add-clip": ("Clip", (0.0, 1.5)),
    "add-sigmoid": ("Sigmoid", None),
    "add-hardswish": ("HardSwish", None),
    "add-leakyrelu": ("LeakyRelu", 0.2),
}
LEVELS = {
    "disable_all": sc.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "all": sc.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def _out_shape(x_shape, w_shape, attrs):
    dims = []
    pads = attrs.get("pads", [0] * (2 * (len(x_shape) - 2)))
    half = len(pads) // 2
    for i, (size, k) in enumerate(zip(x_shape[2:], w_shape[2:])):
        d = attrs.get("dilations", [1] * half)[i]
        s = attrs.get("strides", [1] * half)[i]
        dims.append((size + pads[i] + pads[i + half] - d * (k - 1) - 1) // s + 1)
    return (x_shape[0], w_shape[0], *dims)


def residual_model(shape, tail, residual="input", conv_first=True, bias=True, extra_reader=False):
    """Conv(X) + R, then `tail`'s activation; R is a graph input of the Conv output's shape, or
    (residual="broadcast") one value per channel, or (residual="computed") Neg of an input."""
    x_shape, w_shape, attrs = SHAPES[shape]
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(x_shape) * 2).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.4).astype(np.float32)
    out_shape = _out_shape(x_shape, w_shape, attrs)
    r_shape = (out_shape[0], out_shape[1]) + (1,) * (len(out_shape) - 2) if residual == "broadcast" else out_shape
    r = (rng.standard_normal(r_shape) * 2).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(w, "W")]
    conv_inputs = ["X", "W"]
    if bias:
        inits.append(onnx.numpy_helper.from_array(rng.standard_normal(w_shape[0]).astype(np.float32), "B"))
        conv_inputs.append("B")
    nodes = [helper.make_node("Conv", conv_inputs, ["C"], **attrs)]
    inputs = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape)),
        helper.make_tensor_value_info("R", TensorProto.FLOAT, list(r_shape)),
    ]
    other = "R"
    if residual == "computed":
        nodes.append(helper.make_node("Neg", ["R"], ["NR"]))
        other = "NR"
    nodes.append(helper.make_node("Add", ["C", other] if conv_first else [other, "C"], ["S"]))
    op, param = TAILS[tail]
    outputs = ["Y"]
    if op is None:
        nodes.append(helper.make_node("Identity", ["S"], ["Y"]))
    elif op == "Clip":
        inits += [
            onnx.numpy_helper.from_array(np.array(param[0], np.float32), "lo"),
            onnx.numpy_helper.from_array(np.array(param[1], np.float32), "hi"),
        ]
        nodes.append(helper.make_node("Clip", ["S", "lo", "hi"], ["Y"]))
    elif op == "LeakyRelu":
        nodes.append(helper.make_node("LeakyRelu", ["S"], ["Y"], alpha=param))
    else:
        nodes.append(helper.make_node(op, ["S"], ["Y"]))
    if extra_reader:
        nodes.append(helper.make_node("Neg", ["C"], ["Z"]))
        outputs.append("Z")
    graph = helper.make_graph(
        nodes,
        "conv_add",
        inputs,
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(out_shape)) for o in outputs],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString(), {"X": x, "R": r}


def _compare(data, feeds, level="all", threads=1, rtol=1e-5, atol=1e-5):
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    options = sc.SessionOptions()
    options.graph_optimization_level = LEVELS[level]
    options.intra_op_num_threads = threads
    actual = sc.InferenceSession(data, options).run(None, feeds)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("tail", list(TAILS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_conv_add_matches_onnxruntime(shape, tail, level):
    _compare(*residual_model(shape, tail), level=level)


@pytest.mark.parametrize("shape", ["3x3", "1x1-wide", "dw3x3", "1x1-on-1x1", "3x3-s2-batch2", "stem-3x3-s2-batch2"])
def test_conv_add_two_threads(shape):
    _compare(*residual_model(shape, "add-relu"), threads=2)


@pytest.mark.parametrize(
    "variant",
    ["add-first", "no-bias", "computed-residual", "broadcast-residual", "conv-output-read-again"],
)
def test_conv_add_variants(variant):
    kwargs = {
        "add-first": {"conv_first": False},
        "no-bias": {"bias": False},
        "computed-residual": {"residual": "computed"},
        "broadcast-residual": {"residual": "broadcast"},
        "conv-output-read-again": {"extra_reader": True},
    }[variant]
    for shape in ("3x3", "1x1", "dw3x3"):
        _compare(*residual_model(shape, "add-relu", **kwargs))


def test_conv_add_keeps_nan_and_infinity():
    data, feeds = residual_model("3x3", "add-relu")
    feeds["R"][0, 1, 2, 3] = np.nan
    feeds["R"][0, 2, 4, 4] = np.inf
    feeds["R"][0, 3, 5, 5] = -np.inf
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    actual = sc.InferenceSession(data).run(None, feeds)[0]
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", [None, "Relu", "Sigmoid"])
@pytest.mark.parametrize("shape", ["3x3", "1x1", "dw3x3"])
def test_contrib_fused_conv_with_sum_input(shape, activation):
    """onnxruntime's com.microsoft FusedConv with its fourth input Z, as a model may contain it."""
    x_shape, w_shape, attrs = SHAPES[shape]
    rng = np.random.default_rng(12)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.4).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    z = rng.standard_normal(_out_shape(x_shape, w_shape, attrs)).astype(np.float32)
    extra = {"activation": activation} if activation else {}
    node = helper.make_node("FusedConv", ["X", "W", "B", "Z"], ["Y"], domain="com.microsoft", **attrs, **extra)
    graph = helper.make_graph(
        [node],
        "fused_conv_sum",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape)),
            helper.make_tensor_value_info("Z", TensorProto.FLOAT, list(z.shape)),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    _compare(model.SerializeToString(), {"X": x, "Z": z}, level="disable_all")


def test_contrib_fused_conv_rejects_a_sum_of_another_shape():
    x_shape, w_shape, attrs = SHAPES["3x3"]
    rng = np.random.default_rng(13)
    node = helper.make_node("FusedConv", ["X", "W", "", "Z"], ["Y"], domain="com.microsoft", **attrs)
    graph = helper.make_graph(
        [node],
        "fused_conv_bad_sum",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape)),
            helper.make_tensor_value_info("Z", TensorProto.FLOAT, None),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32), "W")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    session = sc.InferenceSession(model.SerializeToString())
    feeds = {"X": rng.standard_normal(x_shape).astype(np.float32), "Z": np.ones((1, 7, 1, 1), np.float32)}
    with pytest.raises(sc.SwiftconvError, match="sum input Z"):
        session.run(None, feeds)
