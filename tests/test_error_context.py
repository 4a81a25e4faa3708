"""Errors name their node as data: `node_name`, `op_type` and `node_domain` on the exception.

A kernel that fails while running, a node refused at session creation (by the checker, or
because no kernel runs it) and an input type a kernel has no implementation for each raise
an exception carrying the node's name and op type; errors about no node carry None. Each
case first asserts that onnxruntime fails too, and an input type without a kernel raises
`UnsupportedOp`, the class of onnxruntime's NOT_IMPLEMENTED.

    python -m pytest tests/test_error_context.py -q
"""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper


def _model(nodes, inputs, outputs, opsets=(("", 17),)):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], ir_version=8)


def _ort_session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _assert_names_node(error, name, op_type, domain=""):
    assert (error.node_name, error.op_type, error.node_domain) == (name, op_type, domain)
    assert str(error).startswith(f"node '{name}' ({op_type if not domain else domain + '.' + op_type}): ")


def test_kernel_failure_while_running_names_the_node(sc):
    model = _model(
        [
            helper.make_node("Relu", ["x"], ["r"], name="first"),
            helper.make_node("Reshape", ["r", "shape"], ["y"], name="to_4x4"),
        ],
        [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3]), helper.make_tensor_value_info("shape", TP.INT64, [2])],
        [helper.make_tensor_value_info("y", TP.FLOAT, None)],
    )
    feeds = {"x": np.ones((2, 3), np.float32), "shape": np.array([4, 4], np.int64)}
    with pytest.raises(Exception, match="4"):
        _ort_session(model).run(None, feeds)
    session = sc.InferenceSession(model)
    with pytest.raises(sc.InvalidArgument) as caught:
        session.run(None, feeds)
    _assert_names_node(caught.value, "to_4x4", "Reshape")


def test_node_refused_at_session_creation_is_named(sc):
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"], name="first"), helper.make_node("Relu", ["x"], ["y"], name="again")],
        [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [2])],
    )
    with pytest.raises(Exception):
        _ort_session(model)
    with pytest.raises(sc.ValidationError) as caught:
        sc.InferenceSession(model)
    _assert_names_node(caught.value, "again", "Relu")


def test_one_node_without_a_kernel_is_named(sc):
    model = _model(
        [helper.make_node("Frobnicate", ["x"], ["y"], name="custom", domain="com.example")],
        [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [2])],
        opsets=(("", 17), ("com.example", 1)),
    )
    with pytest.raises(Exception):
        _ort_session(model)
    with pytest.raises(sc.UnsupportedOp) as caught:
        sc.InferenceSession(model)
    _assert_names_node(caught.value, "custom", "Frobnicate", "com.example")


def test_several_nodes_without_a_kernel_are_listed_in_the_message(sc):
    model = _model(
        [
            helper.make_node("Frobnicate", ["x"], ["h"], name="one", domain="com.example"),
            helper.make_node("Frobnicate", ["h"], ["y"], name="two", domain="com.example"),
        ],
        [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [2])],
        opsets=(("", 17), ("com.example", 1)),
    )
    with pytest.raises(sc.UnsupportedOp, match="2 node") as caught:
        sc.InferenceSession(model)
    assert "'one'" in str(caught.value) and "'two'" in str(caught.value)
    assert caught.value.node_name is None and caught.value.op_type is None


def test_input_type_without_a_kernel_is_unsupported_op(sc):
    # onnxruntime has no Pad kernel for strings and refuses at session creation with
    # NOT_IMPLEMENTED; swiftconv finds out when the kernel runs, with the same class.
    pads = helper.make_tensor("pads", TP.INT64, [2], [1, 1])
    graph = helper.make_graph(
        [helper.make_node("Pad", ["x", "pads"], ["y"], name="pad")],
        "g",
        [helper.make_tensor_value_info("x", TP.STRING, [2])],
        [helper.make_tensor_value_info("y", TP.STRING, [4])],
        [pads],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.NotImplemented, match="'pad'"):
        _ort_session(model)
    with pytest.raises(sc.UnsupportedOp, match="strings") as caught:
        sc.InferenceSession(model).run(None, {"x": np.array(["a", "b"], dtype=object)})
    _assert_names_node(caught.value, "pad", "Pad")


def test_error_about_no_node_carries_none(sc):
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [2])],
    )
    with pytest.raises(sc.InvalidArgument) as caught:
        sc.InferenceSession(model).run(None, {"nope": np.zeros(2, np.float32)})
    assert caught.value.node_name is None and caught.value.op_type is None and caught.value.node_domain is None
