"""ONNX -> TFLite lowering of the ops torch exports use that have no one-to-one TFLite builtin:
Trilu, GatherElements, Pad edge/wrap, CumSum, Einsum, ScatterND, NonZero, ConvTranspose variants,
3-D Conv and pooling, Hardmax, ThresholdedRelu. One small onnx.helper model per op and variant,
converted by swiftconv, run in LiteRT (ai_edge_litert, builtin ops only) and in sc.Interpreter,
and compared with onnxruntime on the original model; models with dynamic dims run again after
resize_tensor_input. Variants without a TFLite form must raise sc.ConversionError naming the
node and the reason."""

import numpy as np
import pytest
from tflite_runner import check_conversion, make_onnx

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from onnx import TensorProto, helper  # noqa: E402

F, I32, I64, B = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL


_model = make_onnx
_check = check_conversion


def _refused(model, *patterns):
    """Conversion must fail with a ConversionError whose message matches every pattern."""
    with pytest.raises(sc.ConversionError) as e:
        sc.convert(model, "tflite")
    for p in patterns:
        assert p in str(e.value), (p, str(e.value))


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _i64(*values):
    return np.array(values, dtype=np.int64)


# MARK: Trilu


@pytest.mark.parametrize("upper", [1, 0])
@pytest.mark.parametrize("k", [None, 0, 1, -2, 7])
def test_trilu_constant_k(upper, k):
    inputs = ["x"] + (["k"] if k is not None else [])
    inits = {"k": np.array(k, np.int64)} if k is not None else {}
    nodes = [helper.make_node("Trilu", inputs, ["y"], upper=upper)]
    model = _model(nodes, [("x", F, [2, 4, 5])], [("y", F, None)], inits, opset=14)
    _check(model, {"x": _rand(2, 4, 5)})


def test_trilu_causal_mask_of_minus_infinity_keeps_zeros():
    # torch.triu(torch.full((L, L), -inf), diagonal=1): the masked half must be 0, not NaN.
    nodes = [helper.make_node("Trilu", ["x", "k"], ["y"], upper=1)]
    model = _model(nodes, [("x", F, [6, 6])], [("y", F, None)], {"k": np.array(1, np.int64)}, opset=14)
    _check(model, {"x": np.full((6, 6), -np.inf, np.float32)})


def test_trilu_dynamic_dims_and_computed_k():
    nodes = [helper.make_node("Trilu", ["x", "k"], ["y"], upper=0)]
    model = _model(nodes, [("x", F, ["b", "n", "m"]), ("k", I64, [])], [("y", F, None)], opset=14)
    _check(
        model,
        {"x": _rand(1, 3, 4), "k": np.array(0, np.int64)},
        {"x": _rand(2, 5, 3), "k": np.array(-1, np.int64)},
        {"x": _rand(3, 4, 6), "k": np.array(2, np.int64)},
    )


@pytest.mark.parametrize("elem", [I64, I32, B])
def test_trilu_integer_and_bool(elem):
    nodes = [helper.make_node("Trilu", ["x"], ["y"], upper=1)]
    model = _model(nodes, [("x", elem, [3, 4])], [("y", elem, None)], opset=14)
    x = np.arange(1, 13).reshape(3, 4)
    _check(model, {"x": x.astype(bool) if elem == B else x.astype(np.int64 if elem == I64 else np.int32)})


# MARK: GatherElements


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_gather_elements_constant_indices(axis):
    rng = np.random.default_rng(1)
    shape = [3, 4, 5]
    a = axis % 3
    index_shape = list(shape)
    index_shape[a] = 2
    indices = rng.integers(-shape[a], shape[a], index_shape).astype(np.int64)
    nodes = [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=axis)]
    model = _model(nodes, [("x", F, shape)], [("y", F, None)], {"i": indices})
    _check(model, {"x": _rand(*shape)})


@pytest.mark.parametrize("itype", [I64, I32])
def test_gather_elements_computed_indices_dynamic(itype):
    nodes = [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)]
    model = _model(nodes, [("x", F, ["b", "n"]), ("i", itype, ["b", "k"])], [("y", F, None)])
    dt = np.int64 if itype == I64 else np.int32
    rng = np.random.default_rng(2)
    _check(
        model,
        {"x": _rand(2, 5), "i": rng.integers(-5, 5, (2, 3)).astype(dt)},
        {"x": _rand(4, 7), "i": rng.integers(-7, 7, (4, 9)).astype(dt)},
    )


def test_gather_elements_rank1_and_int64_data():
    nodes = [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=0)]
    model = _model(nodes, [("x", I64, [6])], [("y", I64, None)], {"i": _i64(5, 0, -1, 2)})
    _check(model, {"x": np.arange(10, 16, dtype=np.int64)})


# MARK: Pad edge and wrap


@pytest.mark.parametrize("mode", ["edge", "wrap"])
def test_pad_edge_and_wrap(mode):
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)]
    model = _model(nodes, [("x", F, [2, 3, 4])], [("y", F, None)], {"pads": _i64(0, 2, 1, 1, 3, 4)}, opset=19)
    _check(model, {"x": _rand(2, 3, 4)})


@pytest.mark.parametrize("mode", ["edge", "wrap"])
def test_pad_edge_and_wrap_with_negative_axes(mode):
    nodes = [helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"], mode=mode)]
    inits = {"pads": _i64(1, 2, 2, 1), "axes": _i64(-1, -2)}
    model = _model(nodes, [("x", F, [1, 3, 4, 5])], [("y", F, None)], inits, opset=19)
    _check(model, {"x": _rand(1, 3, 4, 5)})


def test_pad_edge_dynamic_dims():
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode="edge")]
    model = _model(nodes, [("x", F, ["n", "m"])], [("y", F, None)], {"pads": _i64(3, 1, 2, 0)})
    _check(model, {"x": _rand(2, 3)}, {"x": _rand(4, 1)})


def test_pad_wrap_wider_than_the_dim_is_refused():
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap", name="wide_wrap")]
    model = _model(nodes, [("x", F, [2, 3])], [("y", F, None)], {"pads": _i64(0, 4, 0, 0)}, opset=19)
    _refused(model, "wide_wrap", "wrap")


# MARK: CumSum


@pytest.mark.parametrize("axis", [0, -1, -2])
@pytest.mark.parametrize(("exclusive", "reverse"), [(0, 0), (1, 1)])
def test_cumsum_negative_axes(axis, exclusive, reverse):
    nodes = [helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)]
    model = _model(nodes, [("x", F, ["b", 4, 5])], [("y", F, None)], {"axis": np.array(axis, np.int32)})
    _check(model, {"x": _rand(2, 4, 5)}, {"x": _rand(3, 4, 5)})


# MARK: activations


@pytest.mark.parametrize("alpha", [None, 0.5, -1.0])
def test_thresholded_relu(alpha):
    attrs = {} if alpha is None else {"alpha": alpha}
    nodes = [helper.make_node("ThresholdedRelu", ["x"], ["y"], **attrs)]
    model = _model(nodes, [("x", F, ["b", 6])], [("y", F, None)])
    _check(model, {"x": _rand(2, 6) * 2}, {"x": _rand(3, 6) * 2})


@pytest.mark.parametrize(("opset", "axis"), [(13, -1), (13, 1), (13, 0), (11, 1), (11, -1)])
def test_hardmax(opset, axis):
    nodes = [helper.make_node("Hardmax", ["x"], ["y"], axis=axis)]
    model = _model(nodes, [("x", F, [2, 3, 4])], [("y", F, None)], opset=opset)
    x = _rand(2, 3, 4)
    x[0, 1, :2] = 5.0  # a tie: the first maximum wins
    _check(model, {"x": x})


@pytest.mark.parametrize("op", ["Mish", "Softplus", "HardSigmoid", "HardSwish", "Celu", "Selu"])
def test_activations_already_lowered(op):
    nodes = [helper.make_node(op, ["x"], ["y"])]
    model = _model(nodes, [("x", F, ["b", 8])], [("y", F, None)], opset=18)
    _check(model, {"x": _rand(2, 8) * 4}, {"x": _rand(1, 8) * 4}, tol=1e-5)


def test_reduce_log_sum_exp_negative_axis():
    nodes = [helper.make_node("ReduceLogSumExp", ["x"], ["y"], axes=[-1], keepdims=0)]
    model = _model(nodes, [("x", F, [2, 3, 4])], [("y", F, None)], opset=13)
    _check(model, {"x": _rand(2, 3, 4) * 30})


def test_bitshift_is_refused_naming_the_node():
    nodes = [helper.make_node("BitShift", ["x", "s"], ["y"], direction="LEFT", name="shl")]
    model = _model(
        nodes, [("x", TensorProto.UINT32, [4]), ("s", TensorProto.UINT32, [4])], [("y", TensorProto.UINT32, None)]
    )
    _refused(model, "shl", "BitShift")


def test_resize_cubic_is_refused_with_the_reason():
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic", name="bicubic")]
    inits = {"scales": np.array([1, 1, 2, 2], np.float32)}
    model = _model(nodes, [("x", F, [1, 1, 4, 4])], [("y", F, None)], inits)
    _refused(model, "bicubic", "cubic")


# MARK: Einsum


@pytest.mark.parametrize(
    ("equation", "shapes"),
    [
        ("bij,bjk->bik", [[2, 3, 4], [2, 4, 5]]),
        ("bhqd,bhkd->bhqk", [[2, 3, 4, 8], [2, 3, 6, 8]]),
        ("bhqk,bhkd->bhqd", [[2, 3, 4, 6], [2, 3, 6, 8]]),
        ("ij,jk", [[3, 4], [4, 5]]),
        ("ij,kj->ik", [[3, 4], [5, 4]]),
        ("ji,jk->ik", [[4, 3], [4, 5]]),
        ("bij,bkj->bki", [[2, 3, 4], [2, 5, 4]]),
        ("i,j->ij", [[3], [4]]),
        ("i,i->", [[5], [5]]),
        ("bi,bi->b", [[3, 5], [3, 5]]),
        ("bnd,dhk->bnhk", [[2, 3, 4], [4, 2, 5]]),
        ("abcd,cde->abe", [[2, 3, 4, 5], [4, 5, 6]]),
        ("...ij,...jk->...ik", [[2, 3, 4, 5], [2, 3, 5, 2]]),
        ("bij,jk->bik", [[2, 3, 4], [4, 5]]),
        ("bij,bjk->bi", [[2, 3, 4], [2, 4, 5]]),
        ("ij->ji", [[3, 4]]),
        ("bij->bj", [[2, 3, 4]]),
    ],
)
def test_einsum(equation, shapes):
    names = [f"x{k}" for k in range(len(shapes))]
    nodes = [helper.make_node("Einsum", names, ["y"], equation=equation)]
    model = _model(nodes, [(n, F, s) for n, s in zip(names, shapes)], [("y", F, None)], opset=12)
    _check(model, {n: _rand(*s, seed=k) for k, (n, s) in enumerate(zip(names, shapes))}, tol=1e-4)


def test_einsum_attention_scores_dynamic_batch_and_sequence():
    nodes = [helper.make_node("Einsum", ["q", "k"], ["y"], equation="bhqd,bhkd->bhqk")]
    model = _model(nodes, [("q", F, ["b", 2, "s", 8]), ("k", F, ["b", 2, "s", 8])], [("y", F, None)], opset=12)
    _check(
        model,
        {"q": _rand(1, 2, 3, 8), "k": _rand(1, 2, 3, 8, seed=1)},
        {"q": _rand(3, 2, 5, 8), "k": _rand(3, 2, 5, 8, seed=1)},
        tol=1e-4,
    )


def test_einsum_diagonal_and_three_operands_are_refused():
    nodes = [helper.make_node("Einsum", ["x"], ["y"], equation="ii->i", name="diag")]
    _refused(_model(nodes, [("x", F, [3, 3])], [("y", F, None)], opset=12), "diag", "diagonal")
    nodes = [helper.make_node("Einsum", ["a", "b", "c"], ["y"], equation="ij,jk,kl->il", name="chain")]
    model = _model(nodes, [("a", F, [2, 3]), ("b", F, [3, 4]), ("c", F, [4, 5])], [("y", F, None)], opset=12)
    _refused(model, "chain", "two-operand")


# MARK: ScatterND


@pytest.mark.parametrize("reduction", ["none", "add"])
def test_scatter_nd_constant_indices(reduction):
    # Rows of a [4, 3, 2] tensor by index pairs, one of them negative.
    indices = _i64([0, 1], [-1, 2], [2, 0])
    nodes = [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction=reduction)]
    model = _model(nodes, [("x", F, [4, 3, 2]), ("u", F, [3, 2])], [("y", F, None)], {"i": indices}, opset=16)
    _check(model, {"x": _rand(4, 3, 2), "u": _rand(3, 2, seed=1)})


def test_scatter_nd_computed_indices_dynamic_data():
    # A KV-cache style update: whole rows at computed (negative) positions of a dynamic dim.
    nodes = [helper.make_node("ScatterND", ["x", "i", "u"], ["y"])]
    inputs = [("x", F, ["n", 4]), ("i", I64, ["k", 1]), ("u", F, ["k", 4])]
    model = _model(nodes, inputs, [("y", F, None)], opset=13)
    _check(
        model,
        {"x": _rand(5, 4), "i": _i64([1], [-1]), "u": _rand(2, 4, seed=1)},
        {"x": _rand(7, 4), "i": _i64([0], [-2], [4]), "u": _rand(3, 4, seed=2)},
    )


def test_scatter_nd_int64_data():
    nodes = [helper.make_node("ScatterND", ["x", "i", "u"], ["y"])]
    model = _model(nodes, [("x", I64, [6])], [("y", I64, None)], {"i": _i64([4], [0]), "u": _i64(40, 10)})
    _check(model, {"x": np.arange(6, dtype=np.int64)})


def test_scatter_nd_mul_is_refused_naming_the_node():
    nodes = [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="mul", name="scatter_mul")]
    model = _model(nodes, [("x", F, [4]), ("u", F, [1])], [("y", F, None)], {"i": _i64([1])}, opset=16)
    _refused(model, "scatter_mul", "mul")


# MARK: NonZero


@pytest.mark.parametrize(("elem", "dtype"), [(F, np.float32), (I64, np.int64), (I32, np.int32), (B, np.bool_)])
def test_non_zero(elem, dtype):
    nodes = [helper.make_node("NonZero", ["x"], ["y"])]
    model = _model(nodes, [("x", elem, ["n", 4])], [("y", I64, None)])
    x = np.array([[0, 1, 0, 2], [3, 0, 0, 0], [0, 0, 0, 0]]).astype(dtype)
    _check(model, {"x": x}, {"x": np.zeros((2, 4), dtype)}, {"x": np.ones((1, 4), dtype)})


def test_scatter_nd_add_with_repeated_indices_sums_them():
    # SCATTER_ND sums repeated indices (LiteRT and our kernel), as reduction='add' wants.
    nodes = [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="add")]
    inits = {"i": _i64([1, 0], [1, 0], [2, 1], [1, 0])}
    model = _model(nodes, [("x", F, [3, 2]), ("u", F, [4])], [("y", F, None)], inits, opset=16)
    _check(model, {"x": _rand(3, 2), "u": np.array([1, 2, 3, 4], np.float32)})


# MARK: ConvTranspose variants


def _conv_transpose(x_shape, w_shape, bias=True, name="", **attrs):
    inputs = ["x", "w"] + (["b"] if bias else [])
    inits = {"w": _rand(*w_shape, seed=3) * 0.5}
    if bias:
        inits["b"] = _rand(w_shape[1] * attrs.get("group", 1), seed=4)
    nodes = [helper.make_node("ConvTranspose", inputs, ["y"], name=name, **attrs)]
    return _model(nodes, [("x", F, x_shape)], [("y", F, None)], inits)


@pytest.mark.parametrize(
    "attrs",
    [
        {"group": 2, "strides": [2, 2]},
        {"group": 4, "strides": [1, 2], "pads": [1, 0, 0, 1]},
        {"dilations": [2, 2]},
        {"dilations": [2, 3], "strides": [2, 1], "pads": [1, 1, 2, 0]},
        {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
        {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
        {"auto_pad": "SAME_UPPER", "strides": [2, 2], "output_padding": [1, 1]},
        {"strides": [3, 3], "output_padding": [2, 1]},
        {"strides": [2, 2], "pads": [0, 1, 0, 1], "output_padding": [1, 1]},
        {"strides": [2, 2], "output_shape": [11, 12]},
        {"auto_pad": "VALID", "strides": [2, 2], "group": 2, "dilations": [2, 1], "output_padding": [1, 0]},
    ],
)
def test_conv_transpose_variants(attrs):
    group = attrs.get("group", 1)
    model = _conv_transpose([1, 4, 5, 6], [4, 6 // group if group < 4 else 2, 3, 3], **attrs)
    _check(model, {"x": _rand(1, 4, 5, 6)}, tol=1e-4)


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2]},
        {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
        {"auto_pad": "SAME_UPPER", "strides": [2, 2], "group": 2},
        {"strides": [2, 1], "dilations": [1, 2], "pads": [0, 2, 1, 0]},
    ],
)
def test_conv_transpose_dynamic_spatial_size(attrs):
    group = attrs.get("group", 1)
    model = _conv_transpose(["n", 4, "h", "w"], [4, 6 // group, 3, 3], **attrs)
    _check(model, {"x": _rand(1, 4, 5, 6)}, {"x": _rand(2, 4, 3, 7)}, tol=1e-4)


def test_conv_transpose_output_padding_not_below_stride_is_refused():
    attrs = {"strides": [1, 1], "dilations": [2, 2], "output_padding": [1, 1]}
    model = _conv_transpose([1, 4, 5, 6], [4, 2, 3, 3], name="up", **attrs)
    _refused(model, "'up'", "output_padding")


# MARK: 3-D Conv and pooling


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"pads": [1, 1, 1, 1, 1, 1]},
        {"strides": [2, 1, 2], "pads": [0, 1, 2, 1, 0, 1]},
        {"dilations": [2, 1, 1], "pads": [2, 1, 0, 2, 1, 0]},
        {"strides": [1, 2, 2], "auto_pad": "SAME_UPPER"},
        {"strides": [2, 2, 2], "auto_pad": "SAME_LOWER"},
    ],
)
def test_conv3d(attrs):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)]
    inits = {"w": _rand(5, 3, 3, 2, 3, seed=1) * 0.3, "b": _rand(5, seed=2)}
    model = _model(nodes, [("x", F, [1, 3, 6, 5, 7])], [("y", F, None)], inits)
    _check(model, {"x": _rand(1, 3, 6, 5, 7)}, tol=1e-4)


def test_conv3d_dynamic_batch_and_no_bias():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 0, 1, 1, 0, 1])]
    model = _model(nodes, [("x", F, ["n", 2, 4, 4, 4])], [("y", F, None)], {"w": _rand(3, 2, 3, 1, 3, seed=1)})
    _check(model, {"x": _rand(1, 2, 4, 4, 4)}, {"x": _rand(2, 2, 4, 4, 4)}, tol=1e-4)


def test_grouped_conv3d_is_refused_naming_the_node():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], group=2, name="conv3d_grouped")]
    model = _model(nodes, [("x", F, [1, 4, 4, 4, 4])], [("y", F, None)], {"w": _rand(4, 2, 1, 1, 1)})
    _refused(model, "conv3d_grouped", "group")


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [2, 2, 2], "strides": [2, 2, 2]},
        {"kernel_shape": [3, 2, 3], "strides": [1, 2, 1]},
        {"kernel_shape": [3, 3, 3], "strides": [2, 2, 2], "pads": [1, 1, 1, 1, 1, 1], "count_include_pad": 1},
        {"kernel_shape": [2, 3, 2], "auto_pad": "SAME_UPPER", "count_include_pad": 1},
    ],
)
def test_pool3d(op, attrs):
    if op == "MaxPool":
        attrs = {k: v for k, v in attrs.items() if k != "count_include_pad"}
    nodes = [helper.make_node(op, ["x"], ["y"], **attrs)]
    model = _model(nodes, [("x", F, ["n", 3, 6, 7, 5])], [("y", F, None)])
    _check(model, {"x": _rand(1, 3, 6, 7, 5)}, {"x": _rand(2, 3, 6, 7, 5)}, tol=1e-5)


def test_average_pool3d_excluding_pads_is_refused():
    nodes = [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3, 3], pads=[1] * 6, name="avg3d")]
    _refused(_model(nodes, [("x", F, [1, 2, 4, 4, 4])], [("y", F, None)]), "avg3d", "count_include_pad")
