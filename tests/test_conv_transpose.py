"""ConvTranspose with constant weights (packed once at session creation, as a model's
initializer is) against onnxruntime: strides with and without overlap, pads, output_padding,
dilations, groups, batches, 1-D and 3-D, auto_pad and output_shape, at one and two threads;
and the same model with the weights fed as an input (packed per run)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

CASES = {
    # (input shape, weight shape [C, M/group, k...], attributes)
    "unet-2x2-s2": ((1, 16, 8, 8), (16, 8, 2, 2), {"strides": [2, 2]}),
    "3x3-s2-overlap": ((2, 6, 7, 9), (6, 5, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "3x3-s1": ((1, 4, 10, 11), (4, 7, 3, 3), {"pads": [1, 0, 1, 2]}),
    "output-padding": ((1, 3, 5, 5), (3, 4, 3, 3), {"strides": [2, 2], "output_padding": [1, 1]}),
    "dilated": ((1, 5, 6, 6), (5, 3, 3, 3), {"dilations": [2, 2], "strides": [1, 2]}),
    "grouped": ((1, 8, 6, 7), (8, 3, 2, 3), {"group": 2, "strides": [2, 1]}),
    "depthwise": ((1, 6, 5, 5), (6, 1, 3, 3), {"group": 6, "strides": [2, 2]}),
    "same-upper": ((1, 4, 7, 6), (4, 6, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    # output_shape ignores pads: the padding that reaches it is split, larger half first...
    "output-shape": ((1, 4, 5, 5), (4, 2, 3, 3), {"strides": [2, 2], "output_shape": [10, 11], "pads": [1, 1, 1, 1]}),
    # ... and a shape past the full output (11) extends it at the end.
    "output-shape-mixed": ((1, 4, 5, 5), (4, 2, 3, 3), {"strides": [2, 2], "output_shape": [12, 8]}),
    "1d": ((2, 5, 13), (5, 4, 4), {"strides": [3]}),
    "3d": ((1, 3, 3, 4, 5), (3, 2, 2, 2, 2), {"strides": [2, 2, 2]}),
}


def _model(case, constant_weights=True, bias=True):
    x_shape, w_shape, attrs = CASES[case]
    rng = np.random.default_rng(21)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.3).astype(np.float32)
    group = attrs.get("group", 1)
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape))]
    inits, feeds = [], {"X": x}
    if constant_weights:
        inits.append(onnx.numpy_helper.from_array(w, "W"))
    else:
        inputs.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, list(w_shape)))
        feeds["W"] = w
    names = ["X", "W"]
    if bias:
        inits.append(onnx.numpy_helper.from_array(rng.standard_normal(w_shape[1] * group).astype(np.float32), "B"))
        names.append("B")
    node = helper.make_node("ConvTranspose", names, ["Y"], **attrs)
    graph = helper.make_graph(
        [node], "conv_transpose", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString(), feeds


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("constant_weights", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_conv_transpose_matches_onnxruntime(case, constant_weights, bias, threads):
    data, feeds = _model(case, constant_weights, bias)
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    options = sc.SessionOptions()
    options.intra_op_num_threads = threads
    actual = sc.InferenceSession(data, options).run(None, feeds)[0]
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
