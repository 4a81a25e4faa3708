"""sc.helper: models built in Python through the C graph builder, checked against onnx and onnxruntime.

python -m pytest tests/test_graph_builder.py -q
"""

import ctypes
import gc
import weakref
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper

import swiftconv as sc
from swiftconv import helper


def _ort_run(model, feed):
    sess = ort.InferenceSession(model.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def _matmul_relu(weight):
    """y = Relu(x @ W), W an initializer: the two-node graph of issue 8, acceptance item 6."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
            helper.make_node("Relu", ["xw"], ["y"], name="relu"),
        ],
        "matmul_relu",
        [helper.make_tensor_value_info("x", np.float32, ["batch", weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", weight.shape[1]])],
        initializer={"W": weight},
    )
    return helper.make_model(graph)


def test_two_node_graph_matches_onnxruntime():
    rng = np.random.default_rng(0)
    # Small integers keep every product and sum exact, so both engines must agree bit for bit.
    weight = rng.integers(-3, 4, size=(4, 3)).astype(np.float32)
    x = rng.integers(-3, 4, size=(5, 4)).astype(np.float32)
    model = _matmul_relu(weight)
    assert isinstance(model, sc.Model)
    assert [(i.name, i.shape, i.dtype) for i in model.inputs] == [("x", ["batch", 4], np.dtype(np.float32))]
    assert model.opset == {"": 17}

    (ours,) = sc.InferenceSession(model).run(None, {"x": x})
    (theirs,) = _ort_run(model, {"x": x})
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, np.maximum(x @ weight, 0))
    assert model.to_onnx().producer_name == "swiftconv"
    onnx.checker.check_model(model.to_onnx())


def test_initializer_is_shared_zero_copy():
    weight = np.arange(12, dtype=np.float32).reshape(4, 3)
    model = _matmul_relu(weight)
    assert model._handle.initializer("W").data_ptr == weight.ctypes.data
    assert model.get_initializer("W").ctypes.data == weight.ctypes.data
    weight[0, 0] = 100.0  # the model reads the caller's memory
    assert model.get_initializer("W")[0, 0] == 100.0


def test_builder_keeps_the_array_alive():
    weight = np.full((4, 3), 2.0, dtype=np.float32)
    alive = weakref.ref(weight)
    model = _matmul_relu(weight)
    del weight
    gc.collect()
    assert alive() is not None
    x = np.ones((1, 4), dtype=np.float32)
    sess = sc.InferenceSession(model)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], np.full((1, 3), 8.0, dtype=np.float32))
    del model, sess
    gc.collect()
    assert alive() is None  # released once nothing uses the weight


def test_attributes_of_every_kind_round_trip():
    tensor = np.array([[1.5, -2.0]], dtype=np.float32)
    attrs = {
        "i": 3,
        "f": 0.25,
        "s": "hello",
        "ints": [1, -2, 3],
        "floats": [0.5, 1.5],
        "strings": ["a", "bc"],
        "t": tensor,
    }
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Custom", ["x"], ["y"], name="custom", domain="test.domain", **attrs)],
            "attrs",
            [helper.make_tensor_value_info("x", np.float32, [1])],
            [helper.make_tensor_value_info("y", np.float32, [1])],
        ),
        opset_imports={"": 17, "test.domain": 1},
    )
    expected = onnx.helper.make_node(
        "Custom",
        ["x"],
        ["y"],
        name="custom",
        domain="test.domain",
        **{**attrs, "t": numpy_helper.from_array(tensor)},
    )
    (node,) = model.to_onnx().graph.node
    assert (node.op_type, node.domain, node.name) == ("Custom", "test.domain", "custom")
    ours = {a.name: a for a in node.attribute}
    theirs = {a.name: a for a in expected.attribute}
    assert sorted(ours) == sorted(theirs)
    for name, want in theirs.items():
        got = ours[name]
        assert got.type == want.type, name
        if want.type == onnx.AttributeProto.TENSOR:
            np.testing.assert_array_equal(numpy_helper.to_array(got.t), tensor)
        else:
            assert onnx.helper.get_attribute_value(got) == onnx.helper.get_attribute_value(want), name


def test_attributes_reach_the_kernels():
    """Gemm's float and int attributes, then Transpose's ints, run against onnxruntime."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 2)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    model = helper.make_model(
        helper.make_graph(
            [
                helper.make_node("Gemm", ["a", "b"], ["g"], alpha=0.5, transA=1, transB=1),
                helper.make_node("Transpose", ["g"], ["y"], perm=[1, 0]),
            ],
            "gemm_transpose",
            [helper.make_tensor_value_info("a", np.float32, [3, 2])],
            [helper.make_tensor_value_info("y", np.float32, [4, 2])],
            initializer={"b": b},
        )
    )
    (ours,) = sc.InferenceSession(model).run(None, {"a": a})
    (theirs,) = _ort_run(model, {"a": a})
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_subgraph_attribute_runs_like_onnxruntime():
    def branch(op, name):
        return helper.make_graph(
            [helper.make_node(op, ["x"], [name + "_out"])],
            name,
            [],
            [helper.make_tensor_value_info(name + "_out", np.float32, [3])],
        )

    model = helper.make_model(
        helper.make_graph(
            [
                helper.make_node(
                    "If", ["cond"], ["y"], then_branch=branch("Neg", "then"), else_branch=branch("Abs", "else")
                )
            ],
            "if_graph",
            [helper.make_tensor_value_info("cond", np.bool_, []), helper.make_tensor_value_info("x", np.float32, [3])],
            [helper.make_tensor_value_info("y", np.float32, [3])],
        )
    )
    x = np.array([-1.0, 2.0, -3.0], dtype=np.float32)
    sess = sc.InferenceSession(model)
    for cond in (True, False):
        feed = {"cond": np.array(cond), "x": x}
        np.testing.assert_array_equal(sess.run(None, feed)[0], _ort_run(model, feed)[0])


def test_unknown_dtype_is_invalid_argument():
    # 999 passes the Python layer and is refused by the library's dtype check.
    graph = helper.make_graph(
        [], "g", [helper.make_tensor_value_info("x", 999, [1])], [helper.make_tensor_value_info("x", np.float32, [1])]
    )
    with pytest.raises(sc.InvalidArgument, match="unknown dtype code 999"):
        helper.make_model(graph)
    with pytest.raises(sc.InvalidArgument, match="dtype"):
        helper.make_tensor_value_info("s", np.dtype("U4"), [1])


def test_undefined_input_is_validation_error_naming_the_node():
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="bad_add")],
        "broken",
        [helper.make_tensor_value_info("x", np.float32, [2])],
        [helper.make_tensor_value_info("y", np.float32, [2])],
    )
    with pytest.raises(sc.ValidationError, match="node 'bad_add'.*'ghost'"):
        helper.make_model(graph)


def test_bad_python_values_are_invalid_argument():
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[])],
        "g",
        [helper.make_tensor_value_info("x", np.float32, [2, 2])],
        [helper.make_tensor_value_info("y", np.float32, [2, 2])],
    )
    with pytest.raises(sc.InvalidArgument, match="empty list"):
        helper.make_model(graph)
    with pytest.raises(sc.InvalidArgument, match="initializer 'w'"):
        helper.make_graph([], "g", [], [], initializer={"w": [1.0, 2.0]})


def test_c_abi_rejects_null_and_bad_arguments():
    lib = ctypes.CDLL(str(Path(sc.__file__).parent / "libswiftconv.so"))
    p = ctypes.c_void_p
    lib.sc_status_code.argtypes = [p]
    lib.sc_status_release.argtypes = [p]
    lib.sc_graph_builder_create.restype = p
    lib.sc_graph_builder_create.argtypes = [
        ctypes.c_char_p,
        ctypes.c_int64,
        ctypes.c_char_p,
        p,
        p,
        ctypes.c_size_t,
        ctypes.POINTER(p),
    ]
    lib.sc_graph_builder_add_node.restype = p
    lib.sc_graph_builder_add_node.argtypes = [
        p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        p,
        ctypes.c_size_t,
        p,
        ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_size_t),
    ]
    lib.sc_graph_builder_set_attribute_int.restype = p
    lib.sc_graph_builder_set_attribute_int.argtypes = [p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_int64]
    lib.sc_graph_builder_finish.restype = p
    lib.sc_graph_builder_finish.argtypes = [p, ctypes.POINTER(p)]
    lib.sc_graph_builder_release.argtypes = [p]

    def code(status):
        assert status, "expected an error status"
        try:
            return lib.sc_status_code(status)
        finally:
            lib.sc_status_release(status)

    out = p()
    assert code(lib.sc_graph_builder_create(None, 0, None, None, None, 0, ctypes.byref(out))) == 1
    assert code(lib.sc_graph_builder_create(b"g", 0, None, None, None, 2, ctypes.byref(out))) == 1  # count, NULL arrays
    assert code(lib.sc_graph_builder_create(b"g", -1, None, None, None, 0, ctypes.byref(out))) == 1
    assert code(lib.sc_graph_builder_create(b"g", 0, None, None, None, 0, None)) == 1
    assert lib.sc_graph_builder_create(b"g", 0, None, None, None, 0, ctypes.byref(out)) is None
    builder = out.value
    try:
        index = ctypes.c_size_t()
        assert (
            code(lib.sc_graph_builder_add_node(builder, b"Relu", None, None, None, 1, None, 0, ctypes.byref(index)))
            == 1
        )
        assert code(lib.sc_graph_builder_set_attribute_int(builder, 0, b"alpha", 1)) == 1  # no node 0 yet
        assert code(lib.sc_graph_builder_set_attribute_int(None, 0, b"alpha", 1)) == 1
        assert code(lib.sc_graph_builder_finish(builder, None)) == 1
        # No opset import: the checker refuses the model.
        assert code(lib.sc_graph_builder_finish(builder, ctypes.byref(out))) == 3
    finally:
        lib.sc_graph_builder_release(builder)
    lib.sc_graph_builder_release(None)


def test_opset_imports_as_onnx_opsetids():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)], ir_version=7)
    proto = model.to_onnx()
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 13)]
    assert proto.ir_version == 7
    x = np.array([-1.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(sc.InferenceSession(model).run(None, {"x": x})[0], _ort_run(model, {"x": x})[0])
