"""LpNormalization of a slice whose norm is zero: onnxruntime and the onnx reference
give 0 there (not NaN); swiftconv must agree, for p=1 and p=2 at both since-versions.
Every case also has a non-zero slice, so the test is not only about zeros.

    python -m pytest -q tests/test_lp_normalization.py
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")


def lp_model(p: int, axis: int, opset: int) -> onnx.ModelProto:
    node = helper.make_node("LpNormalization", ["x"], ["y"], p=p, axis=axis)
    graph = helper.make_graph(
        [node],
        "lp_zero_row",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("opset", [1, 22])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("p", [1, 2])
def test_zero_norm_gives_zero(p, axis, opset):
    x = np.array([[0, 0, 0, 0], [1, -2, 3, -4], [0, 0, 0, 0]], dtype=np.float32)
    if axis == 0:
        x[:, 1] = 0
    model = lp_model(p, axis, opset)
    got = sc.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert not np.isnan(want).any()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    if p == 2:
        # The reference evaluator divides by the signed sum for p=1 (1 / (1-2+3-4) = -0.5 where
        # onnxruntime gives 1 / 10), so it judges p=2 only.
        reference = ReferenceEvaluator(model).run(None, {"x": x})[0]
        np.testing.assert_allclose(got, reference, rtol=1e-6, atol=1e-7)
