"""Conv + activation graphs the session fuses into FusedConv (SiLU as EfficientNet writes it,
Sigmoid * Mul; HardSwish as MobileNetV3 does; Sigmoid, HardSigmoid) against onnxruntime, on
the depthwise, 1x1 and im2col paths, and graphs it must leave alone (the Conv output read
elsewhere). Every optimization level must give onnxruntime's outputs."""

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
    "1x1": ((2, 16, 6, 7), (24, 16, 1, 1), {}),
    "1x1-on-1x1": ((1, 40, 1, 1), (10, 40, 1, 1), {}),
    "dw5x5": ((1, 12, 14, 14), (12, 1, 5, 5), {"group": 12, "pads": [2, 2, 2, 2]}),
    "dw3x3-s2": ((1, 8, 15, 15), (8, 1, 3, 3), {"group": 8, "pads": [1, 1, 1, 1], "strides": [2, 2]}),
}
PATTERNS = [
    "silu",  # Mul(conv, Sigmoid(conv))
    "silu-swapped",  # Mul(Sigmoid(conv), conv)
    "hardswish",
    "sigmoid",
    "hardsigmoid",
    "silu-conv-also-output",  # not fused: the Conv output is a graph output too
    "silu-conv-read-again",  # not fused: a third reader of the Conv output
    "sigmoid-times-other",  # not SiLU: the Mul's other input is not the Conv output
]
LEVELS = {
    "disable_all": sc.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": sc.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "all": sc.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def fusion_model(shape, pattern):
    x_shape, w_shape, attrs = SHAPES[shape]
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(x_shape) * 2).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.4).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    nodes = [helper.make_node("Conv", ["X", "W", "B"], ["C"], **attrs)]
    outputs = ["Y"]
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape))]
    feeds = {"X": x}
    if pattern.startswith("silu"):
        nodes.append(helper.make_node("Sigmoid", ["C"], ["S"]))
        nodes.append(helper.make_node("Mul", ["S", "C"] if pattern == "silu-swapped" else ["C", "S"], ["Y"]))
        if pattern == "silu-conv-also-output":
            outputs.append("C")
        if pattern == "silu-conv-read-again":
            nodes.append(helper.make_node("Neg", ["C"], ["Z"]))
            outputs.append("Z")
    elif pattern == "hardswish":
        nodes.append(helper.make_node("HardSwish", ["C"], ["Y"]))
    elif pattern == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["C"], ["Y"]))
    elif pattern == "hardsigmoid":
        nodes.append(helper.make_node("HardSigmoid", ["C"], ["Y"], alpha=0.3, beta=0.4))
    else:
        nodes.append(helper.make_node("Sigmoid", ["C"], ["S"]))
        nodes.append(helper.make_node("Mul", ["S", "O"], ["Y"]))
        feeds["O"] = rng.standard_normal(x_shape[:1] + w_shape[:1] + (1, 1)).astype(np.float32)
        inputs.append(helper.make_tensor_value_info("O", TensorProto.FLOAT, list(feeds["O"].shape)))
    graph = helper.make_graph(
        nodes,
        "conv_fusion",
        inputs,
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["n", "c", "h", "w"]) for o in outputs],
        [onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString(), feeds


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_conv_activation_matches_onnxruntime(shape, pattern, level):
    data, feeds = fusion_model(shape, pattern)
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    options = sc.SessionOptions()
    options.graph_optimization_level = LEVELS[level]
    actual = sc.InferenceSession(data, options).run(None, feeds)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


def test_silu_fusion_keeps_nan_and_infinity():
    data, feeds = fusion_model("dw5x5", "silu")
    feeds["X"][0, 2, 3, 3] = np.nan
    feeds["X"][0, 4, 7, 7] = 1e30  # the Conv output overflows to +-inf
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    actual = sc.InferenceSession(data).run(None, feeds)[0]
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-5, atol=1e-5)
