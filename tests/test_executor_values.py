"""How the executor hands values from node to node, checked against onnxruntime.

Single-output kernels return their value without a result array, tensors sit inline in
values (not boxed), small buffers come from malloc with the start aligned by hand, and
Reshape-like ops return views of their input. These cases can go wrong in ways a plain
model test does not see: a graph output that a later node also reads, outputs that are
views of the caller's input (which must never be written), the same value fed twice to a
node, many runs on one session from several threads, and sizes around the small-buffer
limit (32 KiB) and its alignment."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def _both(model, feeds):
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = sc.InferenceSession(model).run(None, feeds)
    return got, want


def _float(name, shape=None):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_graph_output_read_by_a_later_node():
    # "a" is an output and the input of the next two nodes; "b" is an output and a view of "a".
    nodes = [
        helper.make_node("Add", ["x", "x"], ["a"]),
        helper.make_node("Reshape", ["a", "shape"], ["b"]),
        helper.make_node("Relu", ["b"], ["c"]),
        helper.make_node("Mul", ["a", "a"], ["d"]),
    ]
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [-1])
    model = _model(nodes, [_float("x", [3, 4])], [_float(n) for n in "abcd"], [shape])
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    got, want = _both(model, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_views_of_the_input_leave_it_unchanged():
    # Identity, Reshape, Unsqueeze, Squeeze and Flatten return the caller's bytes; the nodes
    # after them must write new buffers, never into those.
    nodes = [
        helper.make_node("Identity", ["x"], ["i"]),
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Unsqueeze", ["x", "axes"], ["u"]),
        helper.make_node("Squeeze", ["u", "axes"], ["s"]),
        helper.make_node("Flatten", ["s"], ["f"]),
        helper.make_node("Neg", ["f"], ["n"]),
        helper.make_node("Reshape", ["i", "shape"], ["ri"]),
        helper.make_node("Add", ["r", "ri"], ["sum"]),
    ]
    inits = [
        helper.make_tensor("shape", TensorProto.INT64, [2], [4, 3]),
        helper.make_tensor("axes", TensorProto.INT64, [1], [0]),
    ]
    outs = [_float(n) for n in ("i", "r", "u", "s", "f", "n", "sum")]
    model = _model(nodes, [_float("x", [3, 4])], outs, inits)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    before = x.copy()
    session = sc.InferenceSession(model)
    for _ in range(3):
        got = session.run(None, {"x": x})
    np.testing.assert_array_equal(x, before)
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # A second session run on a fresh copy gives the same results.
    again = session.run(None, {"x": before.copy()})
    for g, w in zip(again, want):
        np.testing.assert_array_equal(g, w)


def test_one_value_fed_twice_and_released_after_its_last_reader():
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"]),
        helper.make_node("Sub", ["sq", "sq"], ["zero"]),
        helper.make_node("Add", ["zero", "x"], ["y"]),
        helper.make_node("Pow", ["y", "two"], ["p"]),
        helper.make_node("ReduceMean", ["p"], ["m"], axes=[-1]),
    ]
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    model = _model(nodes, [_float("x", [2, 5])], [_float("m"), _float("y")], [two], opset=13)
    x = np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32)
    got, want = _both(model, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n", [1, 3, 15, 16, 17, 8191, 8192, 8193, 20000])
def test_sizes_around_the_small_buffer_limit(n):
    # 8192 floats are 32 KiB, where buffers stop coming from malloc; results must be aligned
    # (kernels use SIMD loads) and independent of which side of the limit they fall on.
    nodes = [
        helper.make_node("Add", ["x", "c"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["s"]),
        helper.make_node("Concat", ["s", "x"], ["cat"], axis=0),
        helper.make_node("Softmax", ["cat"], ["y"], axis=0),
    ]
    c = helper.make_tensor("c", TensorProto.FLOAT, [], [0.25])
    model = _model(nodes, [_float("x", [n])], [_float("y")], [c])
    x = np.random.default_rng(n).normal(size=(n,)).astype(np.float32)
    got, want = _both(model, {"x": x})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-7)


def test_concurrent_runs_on_one_session():
    nodes, prev = [], "x"
    for i in range(40):
        out = "y" if i == 39 else f"v{i}"
        op = ("Add", [prev, "c"]) if i % 3 == 0 else ("Relu", [prev]) if i % 3 == 1 else ("Mul", [prev, "c"])
        nodes.append(helper.make_node(op[0], op[1], [out]))
        prev = out
    c = helper.make_tensor("c", TensorProto.FLOAT, [1, 64], np.linspace(-1, 1, 64, dtype=np.float32))
    model = _model(nodes, [_float("x", [None, 64])], [_float("y")], [c])
    reference = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    options = sc.SessionOptions()
    options.intra_op_num_threads = 2
    session = sc.InferenceSession(model, options)
    feeds = [np.random.default_rng(k).normal(size=(k % 4 + 1, 64)).astype(np.float32) for k in range(16)]
    wants = [reference.run(None, {"x": f})[0] for f in feeds]

    def work(k):
        for _ in range(20):
            np.testing.assert_allclose(session.run(None, {"x": feeds[k]})[0], wants[k], rtol=1e-6, atol=1e-6)
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(len(feeds))))


@pytest.mark.parametrize(
    "exponent,etype,eshape,xshape",
    [
        (2.0, TensorProto.FLOAT, [], [2, 3]),
        (3.0, TensorProto.FLOAT, [1], [2, 3]),
        (2, TensorProto.INT64, [], [4]),
        (3, TensorProto.INT32, [1, 1], [5]),  # the exponent's rank raises the output's
        (2.0, TensorProto.DOUBLE, [1, 1, 1], [2, 3]),
        (2.5, TensorProto.FLOAT, [], [2, 3]),  # not a product: powf
    ],
)
def test_pow_by_two_or_three_matches_onnxruntime(exponent, etype, eshape, xshape):
    e = helper.make_tensor("e", etype, eshape, [exponent])
    model = _model([helper.make_node("Pow", ["x", "e"], ["y"])], [_float("x", xshape)], [_float("y")], [e], opset=15)
    x = np.random.default_rng(2).normal(size=xshape).astype(np.float32) * 3
    x.flat[0] = np.float32(-0.0)
    x.flat[-1] = np.float32(1e-30)  # squares to a denormal or zero
    got, want = _both(model, {"x": np.abs(x) if exponent == 2.5 else x})
    assert got[0].shape == want[0].shape
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize(
    "op,axes,keepdims,shape",
    [
        ("ReduceMean", [-1], 1, [1, 32, 64]),
        ("ReduceMean", [1, 2], 0, [3, 4, 5]),
        ("ReduceSum", [2], 1, [2, 1, 7]),
        ("ReduceMean", None, 1, [3, 5]),  # every axis
        ("ReduceSum", [0], 1, [4, 6]),  # a leading axis: the general path
        ("ReduceMean", [-1], 0, [1, 1]),
    ],
)
def test_trailing_axis_sums_match_onnxruntime(op, axes, keepdims, shape):
    attrs = {"keepdims": keepdims}
    if axes is not None:
        attrs["axes"] = axes
    model = _model([helper.make_node(op, ["x"], ["y"], **attrs)], [_float("x", shape)], [_float("y")], opset=11)
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    got, want = _both(model, {"x": x})
    assert got[0].shape == want[0].shape
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "op,ashape,bshape",
    [
        ("Add", [1, 32, 64], [64]),  # a bias along the last axis
        ("Sub", [4], [3, 4]),  # the first operand is the repeated one
        ("Div", [2, 3, 4], [1, 3, 4]),
        ("Mul", [2, 3, 4], [1, 1, 4]),
        ("Add", [2, 1, 4], [3, 4]),  # both broadcast: the general layout
        ("Sub", [3, 1], [3, 5]),  # a column: not a trailing block
        ("Mul", [0, 4], [4]),
    ],
)
def test_repeated_operand_broadcasts_match_onnxruntime(op, ashape, bshape):
    model = _model([helper.make_node(op, ["a", "b"], ["y"])], [_float("a", ashape), _float("b", bshape)], [_float("y")])
    rng = np.random.default_rng(4)
    feeds = {"a": rng.normal(size=ashape).astype(np.float32), "b": rng.uniform(0.5, 2, size=bshape).astype(np.float32)}
    got, want = _both(model, feeds)
    assert got[0].shape == want[0].shape
    np.testing.assert_array_equal(got[0], want[0])
