"""Slice returns a view of its input only when the picked block is contiguous and forward.

A Slice that keeps the leading axes whole and reverses a later one used to be returned as a
view starting at the reversed axis's end, which reads past the input's buffer (found by
running converted TFLite REVERSE_V2 and MIRROR_PAD models)."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize(
    "starts,ends,axes,steps",
    [
        ([-1], [-(2**62)], [1], [-1]),  # reverse the last axis, keep the first whole
        ([0, -1], [1, -(2**62)], [0, 1], [1, -1]),  # one row, reversed
        ([-1, 0], [-(2**62), 3], [0, 1], [-1, 1]),  # rows reversed
        ([0, 2], [2, -(2**62)], [0, 1], [1, -2]),
    ],
)
def test_reversing_slices_match_onnxruntime(starts, ends, axes, steps):
    consts = [
        helper.make_tensor(n, TensorProto.INT64, [len(v)], v)
        for n, v in (("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps))
    ]
    graph = helper.make_graph(
        [helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])],
        "slice",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    session = sc.InferenceSession(model)
    for _ in range(3):  # a read past the buffer would give values that change between runs
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], want)
