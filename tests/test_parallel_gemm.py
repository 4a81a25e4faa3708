"""The float32 GEMM split over several threads, against onnxruntime: 1x1 convolutions on small
maps (the packed-weight product whose tasks are cut into near-equal parts of micro-tiles, with
row and column counts that are not multiples of the tile), and MatMul of two inputs (both
operands packed in one parallel loop each, depths past one 256-deep block)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

# (channels in, channels out, map side): 7x7 and 14x14 maps as in MobileNet's last stages,
# odd channel counts, a product of fewer tiles than tasks, and depths of one to four blocks.
POINTWISE = [(96, 384, 14), (160, 960, 7), (320, 1280, 7), (37, 101, 13), (5, 7, 3), (700, 19, 5), (24, 144, 11)]

# (m, k, n) of MatMul with both operands inputs.
MATMUL = [(49, 960, 384), (200, 300, 17), (7, 513, 130), (130, 64, 7), (384, 257, 196)]


def _run_both(model: bytes, feeds: dict, threads: int):
    expected = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    options = sc.SessionOptions()
    options.intra_op_num_threads = threads
    return sc.InferenceSession(model, options).run(None, feeds)[0], expected


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("shape", POINTWISE, ids=[f"{c}to{m}-{s}x{s}" for c, m, s in POINTWISE])
def test_pointwise_conv_on_threads_matches_onnxruntime(shape, threads):
    c, m, side = shape
    rng = np.random.default_rng(c * 1000 + m)
    w = rng.normal(scale=c**-0.5, size=(m, c, 1, 1)).astype(np.float32)
    b = rng.normal(size=(m,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["X", "W", "B"], ["C"]), helper.make_node("Relu", ["C"], ["Y"])],
        "pointwise",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, c, side, side])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [
            helper.make_tensor("W", TensorProto.FLOAT, w.shape, w.ravel()),
            helper.make_tensor("B", TensorProto.FLOAT, b.shape, b),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = rng.normal(size=(1, c, side, side)).astype(np.float32)
    actual, expected = _run_both(model, {"X": x}, threads)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("shape", MATMUL, ids=[f"{m}x{k}x{n}" for m, k, n in MATMUL])
def test_matmul_of_inputs_on_threads_matches_onnxruntime(shape, threads):
    m, k, n = shape
    rng = np.random.default_rng(m * 7 + k * 3 + n)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["Y"])],
        "matmul",
        [
            helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k]),
            helper.make_tensor_value_info("B", TensorProto.FLOAT, [k, n]),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    feeds = {"A": rng.normal(size=(m, k)).astype(np.float32), "B": rng.normal(size=(k, n)).astype(np.float32)}
    actual, expected = _run_both(model, feeds, threads)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-3)
