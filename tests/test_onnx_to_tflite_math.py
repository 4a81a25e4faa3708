"""ONNX -> TFLite lowering of math, comparison, reduction, normalization and activation ops:
one small onnx.helper model per op and attribute variant, converted by swiftconv, run in
LiteRT (ai_edge_litert) and in sc.Interpreter, and compared with onnxruntime on the original
ONNX model. Unsupported variants must raise sc.ConversionError naming the node."""

import math

import numpy as np
import pytest
from tflite_runner import run_litert as _litert
from tflite_runner import run_ours as _ours

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F, I32, I64, B = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL
NP = {F: np.float32, I32: np.int32, I64: np.int64, B: np.bool_}


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    """A model of `nodes`; `inputs`/`outputs` are (name, elem_type, shape) triples."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=[numpy_helper.from_array(v, k) for k, v in dict(initializers).items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset <= 18 else 9
    return m.SerializeToString()


def _check(model, feeds, tol=1e-5):
    """Converts `model`, runs it in LiteRT and in sc.Interpreter, compares with onnxruntime."""
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    want = session.run(None, feeds)
    content = sc.convert(model, "tflite").to_bytes()
    for runner in (_litert, _ours):
        got = runner(content, feeds, names)
        for g, w, n in zip(got, want, names):
            assert g.shape == w.shape, (runner.__name__, n, g.shape, w.shape)
            assert g.dtype == w.dtype, (runner.__name__, n, g.dtype, w.dtype)
            if w.dtype.kind == "f":
                np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"{runner.__name__} {n}")
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"{runner.__name__} {n}")
    return content


def _rand(shape, seed=0, low=-3.0, high=3.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def _unary(op, x, opset=17, **attrs):
    shape = list(x.shape)
    node = helper.make_node(op, ["x"], ["y"], name=f"{op.lower()}_node", **attrs)
    return _model([node], [("x", F, shape)], [("y", F, None)], opset=opset)


def _conversion_error(model, node_name):
    with pytest.raises(sc.ConversionError) as e:
        sc.convert(model, "tflite")
    assert node_name in str(e.value)


# --- element-wise math -------------------------------------------------------------------

UNARY = [
    ("Sqrt", 0.1, 4.0),
    ("Exp", -3.0, 3.0),
    ("Log", 0.1, 5.0),
    ("Neg", -3.0, 3.0),
    ("Abs", -3.0, 3.0),
    ("Floor", -3.0, 3.0),
    ("Ceil", -3.0, 3.0),
    ("Round", -3.0, 3.0),
    ("Sign", -3.0, 3.0),
    ("Sin", -3.0, 3.0),
    ("Cos", -3.0, 3.0),
    ("Reciprocal", 0.5, 3.0),
    ("Erf", -3.0, 3.0),
    ("Relu", -3.0, 3.0),
    ("Sigmoid", -3.0, 3.0),
    ("Tanh", -3.0, 3.0),
]


@pytest.mark.parametrize("op,low,high", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float(op, low, high):
    x = _rand([2, 3, 5], low=low, high=high)
    if op == "Round":
        x[0, 0, :3] = [0.5, 1.5, -2.5]  # halves round to even in both formats
    _check(_unary(op, x), {"x": x})


@pytest.mark.parametrize("op,elem", [("Neg", I32), ("Neg", I64), ("Abs", I32), ("Sign", I32)])
def test_unary_integer(op, elem):
    x = np.array([[-7, -1, 0, 2, 9]], NP[elem])
    model = _model([helper.make_node(op, ["x"], ["y"])], [("x", elem, [1, 5])], [("y", elem, None)])
    _check(model, {"x": x})


def test_unary_dynamic_batch():
    model = _model([helper.make_node("Exp", ["x"], ["y"])], [("x", F, ["n", 4])], [("y", F, ["n", 4])])
    _check(model, {"x": _rand([3, 4])})


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("shapes", [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([], [2, 3])])
def test_binary_float_broadcasting(op, shapes):
    a, b = _rand(shapes[0], 1), _rand(shapes[1], 2, 0.5, 3.0)
    model = _model(
        [helper.make_node(op, ["a", "b"], ["y"])], [("a", F, shapes[0]), ("b", F, shapes[1])], [("y", F, None)]
    )
    _check(model, {"a": a, "b": b})


@pytest.mark.parametrize("elem", [I32, I64])
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_integer(op, elem):
    rng = np.random.default_rng(3)
    a = rng.integers(-50, 50, [2, 6]).astype(NP[elem])
    b = rng.integers(1, 9, [6]).astype(NP[elem]) * np.array([1, -1, 1, -1, 1, -1], NP[elem])
    model = _model(
        [helper.make_node(op, ["a", "b"], ["y"])], [("a", elem, [2, 6]), ("b", elem, [6])], [("y", elem, None)]
    )
    _check(model, {"a": a, "b": b})


def test_binary_with_constant_operand():
    model = _model(
        [helper.make_node("Mul", ["x", "c"], ["y"])],
        [("x", F, ["n", 3])],
        [("y", F, ["n", 3])],
        {"c": np.array([1.5, -2.0, 0.25], np.float32)},
    )
    _check(model, {"x": _rand([4, 3])})


@pytest.mark.parametrize("exponent", [2.0, 0.5, 1.0, 3.0, -1.5])
def test_pow_constant_exponent(exponent):
    x = _rand([3, 4], low=0.5, high=2.0)
    model = _model(
        [helper.make_node("Pow", ["x", "e"], ["y"])],
        [("x", F, [3, 4])],
        [("y", F, None)],
        {"e": np.array(exponent, np.float32)},
    )
    _check(model, {"x": x})


def test_pow_tensor_exponent_of_another_type():
    x = _rand([3, 4], low=0.5, high=2.0)
    e = np.random.default_rng(1).integers(0, 4, [4]).astype(np.int64)
    model = _model([helper.make_node("Pow", ["x", "e"], ["y"])], [("x", F, [3, 4]), ("e", I64, [4])], [("y", F, None)])
    _check(model, {"x": x, "e": e})


def test_erf_is_accurate_over_its_range():
    x = np.linspace(-6, 6, 1201, dtype=np.float32).reshape(1, -1)
    _check(_unary("Erf", x), {"x": x}, tol=1e-6)


def _gelu_graph(order):
    c = {
        "sqrt2": np.array(math.sqrt(2), np.float32),
        "one": np.array(1, np.float32),
        "half": np.array(0.5, np.float32),
    }
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"])]
    nodes.append(helper.make_node("Add", ["one", "e"] if order == "mul_half_x" else ["e", "one"], ["p"]))
    if order == "x_then_half":  # torch: (x * (1 + erf)) * 0.5
        nodes += [helper.make_node("Mul", ["x", "p"], ["m"]), helper.make_node("Mul", ["m", "half"], ["y"])]
    elif order == "half_then_x":
        nodes += [helper.make_node("Mul", ["p", "half"], ["m"]), helper.make_node("Mul", ["x", "m"], ["y"])]
    else:  # (x * 0.5) * (1 + erf)
        nodes += [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Mul", ["h", "p"], ["y"])]
    return _model(nodes, [("x", F, ["n", 8])], [("y", F, ["n", 8])], c)


@pytest.mark.parametrize("order", ["x_then_half", "half_then_x", "mul_half_x"])
def test_erf_gelu_pattern_becomes_one_gelu(order):
    model = _gelu_graph(order)
    content = _check(model, {"x": _rand([3, 8])})
    ops = sc.load(content).summary()
    assert "GELU" in ops and "EXP" not in ops and "SIGN" not in ops


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_opset20(approximate):
    x = _rand([2, 7])
    _check(_unary("Gelu", x, opset=20, approximate=approximate), {"x": x})


@pytest.mark.parametrize("op", ["Min", "Max", "Sum", "Mean"])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_variadic_same_shape(op, count):
    names = [f"x{i}" for i in range(count)]
    model = _model([helper.make_node(op, names, ["y"])], [(n, F, [2, 5]) for n in names], [("y", F, None)])
    _check(model, {n: _rand([2, 5], i) for i, n in enumerate(names)})


@pytest.mark.parametrize("op", ["Min", "Max", "Sum", "Mean"])
def test_variadic_broadcasting(op):
    shapes = [[2, 1, 5], [3, 1], [5]]
    names = ["a", "b", "c"]
    model = _model([helper.make_node(op, names, ["y"])], [(n, F, s) for n, s in zip(names, shapes)], [("y", F, None)])
    _check(model, {n: _rand(s, i) for i, (n, s) in enumerate(zip(names, shapes))})


@pytest.mark.parametrize("op", ["Min", "Max"])  # ONNX's Sum is float-only
def test_variadic_int64(op):
    rng = np.random.default_rng(5)
    model = _model([helper.make_node(op, ["a", "b"], ["y"])], [("a", I64, [4]), ("b", I64, [4])], [("y", I64, None)])
    _check(model, {"a": rng.integers(-9, 9, [4]), "b": rng.integers(-9, 9, [4])})


@pytest.mark.parametrize("elem", [I32, I64])
def test_mod_integer(elem):
    a = np.array([[7, -7, 7, -7, 0, 13]], NP[elem])
    b = np.array([3, 3, -3, -3, 5, 4], NP[elem])
    model = _model(
        [helper.make_node("Mod", ["a", "b"], ["y"])], [("a", elem, [1, 6]), ("b", elem, [6])], [("y", elem, None)]
    )
    _check(model, {"a": a, "b": b})


@pytest.mark.parametrize("elem", [F, I32])
def test_mod_fmod(elem):
    a = np.array([[7.5, -7.5, 7.5, -7.5, 0, 13]] if elem == F else [[7, -7, 7, -7, 0, 13]], NP[elem])
    b = np.array([2, 2, -2, -2, 5, 4], NP[elem])
    model = _model(
        [helper.make_node("Mod", ["a", "b"], ["y"], fmod=1)],
        [("a", elem, [1, 6]), ("b", elem, [6])],
        [("y", elem, None)],
    )
    _check(model, {"a": a, "b": b})


def test_mod_of_int64_constants_as_a_shape_helper_writes_it():
    model = _model(
        [helper.make_node("Mod", ["a", "b"], ["m"]), helper.make_node("Add", ["x", "m"], ["y"])],
        [("x", I64, [1])],
        [("y", I64, [1])],
        {"a": np.array([32], np.int64), "b": np.array([5], np.int64)},
    )
    _check(model, {"x": np.array([4], np.int64)})


# --- comparisons and logic -----------------------------------------------------------------

COMPARISONS = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]


@pytest.mark.parametrize("elem", [F, I32, I64])
@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison(op, elem):
    rng = np.random.default_rng(7)
    a = rng.integers(-3, 3, [2, 3, 4]).astype(NP[elem])
    b = rng.integers(-3, 3, [4]).astype(NP[elem])
    model = _model(
        [helper.make_node(op, ["a", "b"], ["y"])], [("a", elem, [2, 3, 4]), ("b", elem, [4])], [("y", B, None)]
    )
    _check(model, {"a": a, "b": b})


def test_equal_bool():
    a = np.array([[True, False], [True, True]])
    b = np.array([True, False])
    model = _model([helper.make_node("Equal", ["a", "b"], ["y"])], [("a", B, [2, 2]), ("b", B, [2])], [("y", B, None)])
    _check(model, {"a": a, "b": b})


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_boolean_binary(op):
    a = np.array([[True, False, True, False]] * 2)
    b = np.array([True, True, False, False])
    model = _model([helper.make_node(op, ["a", "b"], ["y"])], [("a", B, [2, 4]), ("b", B, [4])], [("y", B, None)])
    _check(model, {"a": a, "b": b})


def test_not():
    a = np.array([[True, False, True]])
    model = _model([helper.make_node("Not", ["a"], ["y"])], [("a", B, [1, 3])], [("y", B, None)])
    _check(model, {"a": a})


# --- activations -------------------------------------------------------------------------

ACTIVATIONS = [
    ("LeakyRelu", {}),
    ("LeakyRelu", {"alpha": 0.2}),
    ("Elu", {}),
    ("Elu", {"alpha": 0.5}),
    ("Selu", {}),
    ("Selu", {"alpha": 1.5, "gamma": 0.8}),
    ("Celu", {"alpha": 2.0}),
    ("HardSigmoid", {}),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("HardSwish", {}),
    ("Softplus", {}),
    ("Softsign", {}),
    ("Mish", {}),
]


@pytest.mark.parametrize("op,attrs", ACTIVATIONS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(ACTIVATIONS)])
def test_activation(op, attrs):
    x = _rand([2, 3, 6], low=-6, high=6)
    opset = 18 if op in ("Mish", "HardSwish", "Celu") else 17
    _check(_unary(op, x, opset=opset, **attrs), {"x": x})


def test_softplus_large_inputs_do_not_overflow():
    x = np.array([[-100.0, -20.0, 0.0, 20.0, 100.0]], np.float32)
    _check(_unary("Softplus", x), {"x": x})


@pytest.mark.parametrize("slope_shape", [[3, 1, 1], [1], [5]])
def test_prelu_slope_broadcasting(slope_shape):
    x = _rand([2, 3, 4, 5])
    slope = _rand(slope_shape, 9, 0.1, 0.5)
    model = _model(
        [helper.make_node("PRelu", ["x", "slope"], ["y"])], [("x", F, [2, 3, 4, 5])], [("y", F, None)], {"slope": slope}
    )
    _check(model, {"x": x})


@pytest.mark.parametrize("bounds", [(0.0, 6.0), (0.0, None), (-1.0, 1.0), (-0.5, 2.5), (None, 1.5)])
def test_clip(bounds):
    inputs, init = ["x", "", ""], {}
    for k, (name, v) in enumerate(zip(["lo", "hi"], bounds)):
        if v is not None:
            inputs[k + 1] = name
            init[name] = np.array(v, np.float32)
    model = _model([helper.make_node("Clip", inputs, ["y"])], [("x", F, [3, 4])], [("y", F, None)], init)
    _check(model, {"x": _rand([3, 4], low=-8, high=8)})


def test_clip_and_relu_of_int32():
    model = _model(
        [helper.make_node("Clip", ["x", "lo", "hi"], ["c"]), helper.make_node("Relu", ["x"], ["r"])],
        [("x", I32, [6])],
        [("c", I32, None), ("r", I32, None)],
        {"lo": np.array(-2, np.int32), "hi": np.array(3, np.int32)},
    )
    _check(model, {"x": np.array([-5, -2, 0, 2, 3, 9], np.int32)})


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 1, 0, 2])
def test_softmax_opset13(op, axis):
    x = _rand([2, 3, 4])
    _check(_unary(op, x, opset=13, axis=axis), {"x": x})


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [None, 0, -1, 2])
def test_softmax_opset11_coerces_to_2d(op, axis):
    x = _rand([2, 3, 4])
    attrs = {} if axis is None else {"axis": axis}
    _check(_unary(op, x, opset=11, **attrs), {"x": x})


def test_softmax_opset11_dynamic_batch():
    model = _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [("x", F, ["n", 3, 4])], [("y", F, ["n", 3, 4])], opset=11
    )
    _check(model, {"x": _rand([5, 3, 4])})


def test_softmax_rank4_inner_axis_dynamic():
    model = _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [("x", F, ["n", 3, 4, 2])], [("y", F, None)], opset=13
    )
    _check(model, {"x": _rand([2, 3, 4, 2])})


# --- reductions --------------------------------------------------------------------------

REDUCES = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare"]
REDUCES += ["ReduceLogSum", "ReduceLogSumExp"]


def _reduce_model(op, shape, axes, keepdims, opset, noop=None, elem=F):
    attrs = {"keepdims": keepdims}
    if noop is not None:
        attrs["noop_with_empty_axes"] = noop
    inputs, init = ["x"], {}
    axes_as_input = opset >= (13 if op == "ReduceSum" else 18)
    if axes is not None:
        if axes_as_input:
            inputs.append("axes")
            init["axes"] = np.array(axes, np.int64)
        else:
            attrs["axes"] = axes
    node = helper.make_node(op, inputs, ["y"], name=f"{op}_node", **attrs)
    return _model([node], [("x", elem, shape)], [("y", elem, None)], init, opset=opset)


@pytest.mark.parametrize("op", REDUCES)
@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([-1], 0), ([0, 2], 1), (None, 0), ([2, -3], 0)])
def test_reduce(op, opset, axes, keepdims):
    low = 0.5 if op in ("ReduceLogSum", "ReduceProd") else -2.0
    x = _rand([2, 3, 4], 11, low=low, high=2.0)
    _check(_reduce_model(op, [2, 3, 4], axes, keepdims, opset), {"x": x}, tol=1e-5)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceL2"])
def test_reduce_noop_with_empty_axes(op):
    x = _rand([2, 3])
    _check(_reduce_model(op, [2, 3], [], 1, 18, noop=1), {"x": x})
    _check(_reduce_model(op, [2, 3], None, 1, 18, noop=0), {"x": x})


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"])
@pytest.mark.parametrize("elem", [I32, I64])
def test_reduce_integer(op, elem):
    x = np.random.default_rng(4).integers(-4, 5, [2, 3, 4]).astype(NP[elem])
    _check(_reduce_model(op, [2, 3, 4], [1], 0, 18, elem=elem), {"x": x})


def test_reduce_mean_dynamic_batch():
    model = _model(
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=0)],
        [("x", F, ["n", 6, 4])],
        [("y", F, ["n", 4])],
    )
    _check(model, {"x": _rand([3, 6, 4])})


def test_reduce_log_sum_exp_large_values():
    x = np.array([[100.0, 101.0, 99.0], [-100.0, -101.0, -99.0]], np.float32)
    _check(_reduce_model("ReduceLogSumExp", [2, 3], [1], 0, 18), {"x": x})


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keepdims", [(0, 1), (1, 0), (-1, 1), (-1, 0)])
def test_arg_extreme(op, axis, keepdims):
    x = _rand([3, 4, 5], 13)
    x[0, 0, :2] = x[0, 0, 2]  # ties: the first index wins in both
    model = _model(
        [helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=keepdims)], [("x", F, [3, 4, 5])], [("y", I64, None)]
    )
    _check(model, {"x": x})


def test_arg_max_int32_input():
    x = np.random.default_rng(2).integers(-9, 9, [4, 6]).astype(np.int32)
    model = _model([helper.make_node("ArgMax", ["x"], ["y"], axis=1)], [("x", I32, [4, 6])], [("y", I64, None)])
    _check(model, {"x": x})


# --- normalization -----------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, -2, 1])
def test_layer_normalization(axis):
    shape = [2, 5, 8]
    norm = shape[axis:] if axis < 0 else shape[axis:]
    init = {"scale": _rand(norm, 1, 0.5, 1.5), "bias": _rand(norm, 2)}
    model = _model(
        [helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=axis, epsilon=1e-5)],
        [("x", F, ["n", 5, 8])],
        [("y", F, None)],
        init,
    )
    _check(model, {"x": _rand(shape, 3)}, tol=2e-5)


def test_layer_normalization_statistics_outputs_and_no_bias():
    model = _model(
        [helper.make_node("LayerNormalization", ["x", "scale"], ["y", "mean", "inv"], axis=-1, epsilon=1e-3)],
        [("x", F, [3, 6])],
        [("y", F, None), ("mean", F, None), ("inv", F, None)],
        {"scale": _rand([6], 1, 0.5, 1.5)},
    )
    _check(model, {"x": _rand([3, 6], 3)}, tol=2e-5)


@pytest.mark.parametrize("shape", [[2, 3, 5, 5], [2, 3], [2, 3, 7]])
def test_batch_normalization_constant_statistics(shape):
    c = shape[1]
    init = {
        "scale": _rand([c], 1, 0.5, 1.5),
        "bias": _rand([c], 2),
        "mean": _rand([c], 3),
        "var": _rand([c], 4, 0.5, 2.0),
    }
    model = _model(
        [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-3)],
        [("x", F, shape)],
        [("y", F, None)],
        init,
    )
    _check(model, {"x": _rand(shape, 5)})


def test_batch_normalization_statistics_as_inputs():
    names = ["scale", "bias", "mean", "var"]
    model = _model(
        [helper.make_node("BatchNormalization", ["x"] + names, ["y"])],
        [("x", F, ["n", 3, 4, 4])] + [(n, F, [3]) for n in names],
        [("y", F, None)],
    )
    feeds = {"x": _rand([2, 3, 4, 4]), "scale": _rand([3], 1), "bias": _rand([3], 2), "mean": _rand([3], 3)}
    feeds["var"] = _rand([3], 4, 0.5, 2.0)
    _check(model, feeds)


@pytest.mark.parametrize("shape", [[2, 3, 6, 5], [1, 4, 9]])
def test_instance_normalization(shape):
    c = shape[1]
    model = _model(
        [helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"], epsilon=1e-4)],
        [("x", F, shape)],
        [("y", F, None)],
        {"scale": _rand([c], 1, 0.5, 1.5), "bias": _rand([c], 2)},
    )
    _check(model, {"x": _rand(shape, 3)}, tol=2e-5)


# --- what cannot be lowered is reported --------------------------------------------------


def test_arg_max_select_last_index_is_refused():
    model = _model(
        [helper.make_node("ArgMax", ["x"], ["y"], name="argmax_last", axis=0, select_last_index=1)],
        [("x", F, [3, 4])],
        [("y", I64, None)],
    )
    _conversion_error(model, "argmax_last")


def test_batch_normalization_training_is_refused():
    names = ["scale", "bias", "mean", "var"]
    model = _model(
        [helper.make_node("BatchNormalization", ["x"] + names, ["y", "rm", "rv"], name="bn_train", training_mode=1)],
        [("x", F, [2, 3, 4])],
        [("y", F, None), ("rm", F, None), ("rv", F, None)],
        {n: np.ones([3], np.float32) for n in names},
        opset=15,
    )
    _conversion_error(model, "bn_train")


def test_reduce_with_runtime_axes_is_refused():
    model = _model(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], name="dynamic_axes_sum")],
        [("x", F, [3, 4]), ("axes", I64, [1])],
        [("y", F, None)],
        opset=13,
    )
    _conversion_error(model, "dynamic_axes_sum")


def test_float64_math_is_refused():
    model = _model(
        [helper.make_node("Exp", ["x"], ["y"], name="exp_double")],
        [("x", TensorProto.DOUBLE, [3])],
        [("y", TensorProto.DOUBLE, None)],
    )
    _conversion_error(model, "exp_double")
