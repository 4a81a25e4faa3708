"""Gemm with one row of A (a batch-1 classifier) against onnxruntime.

With B constant and transposed (`[n, k]`, the layout PyTorch's Linear exports), one row of
A is computed as one dot product per output over B's stored rows instead of through the
packed GEMM tile. These cases pin its edges: C absent, broadcast from `[n]`, `[1, n]`,
`[1, 1]` or a scalar; beta 0, 1 and other values; alpha other than 1 and B not transposed
(which keep the tile); output counts around the four-row and 64-row blocks; depths around
the eight-lane body; NaN and infinity in A; one and two threads."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")


def _gemm(k, n, c_shape, alpha, beta, trans_b, rng):
    w = (rng.standard_normal((n, k) if trans_b else (k, n)) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    inputs = ["x", "w"]
    if c_shape is not None:
        inits.append(numpy_helper.from_array(rng.standard_normal(c_shape).astype(np.float32), "c"))
        inputs.append("c")
    node = helper.make_node("Gemm", inputs, ["y"], alpha=alpha, beta=beta, transB=int(trans_b))
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize("k", [1, 7, 8, 9, 64, 576])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 63, 64, 65, 1000])
@pytest.mark.parametrize("threads", [1, 2])
def test_row_dots_match_onnxruntime(k, n, threads):
    rng = np.random.default_rng(k * 1000 + n)
    model = _gemm(k, n, [n], 1.0, 1.0, True, rng)
    x = rng.standard_normal((1, k)).astype(np.float32)
    options = sc.SessionOptions()
    options.intra_op_num_threads = threads
    got = sc.InferenceSession(model, options).run(None, {"x": x})[0]
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "c_shape,alpha,beta,trans_b",
    [
        (None, 1.0, 1.0, True),
        ([1, 100], 1.0, 1.0, True),
        ([1, 1], 1.0, 1.0, True),
        ([], 1.0, 1.0, True),
        ([100], 1.0, 0.5, True),
        ([100], 1.0, 0.0, True),
        ([100], 2.0, 1.0, True),  # alpha other than 1 keeps the tile
        ([100], 1.0, 1.0, False),  # B not transposed keeps the tile
    ],
)
def test_row_dots_bias_forms_match_onnxruntime(c_shape, alpha, beta, trans_b):
    rng = np.random.default_rng(7)
    model = _gemm(40, 100, c_shape, alpha, beta, trans_b, rng)
    x = rng.standard_normal((1, 40)).astype(np.float32)
    x[0, 3] = np.nan
    x[0, 5] = np.inf  # every output is NaN or +-inf; both engines must agree on which
    x2 = rng.standard_normal((1, 40)).astype(np.float32)
    session = sc.InferenceSession(model)
    reference = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    for feed in (x, x2):
        got = session.run(None, {"x": feed})[0]
        want = reference.run(None, {"x": feed})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
