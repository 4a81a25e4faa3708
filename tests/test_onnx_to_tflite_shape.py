"""ONNX -> TFLite lowering of shape and indexing ops: small onnx.helper models per op and
attribute variant (negative axes and indices, broadcasting, dynamic dims), converted by
swiftconv, run in LiteRT (ai_edge_litert) and in sc.Interpreter, and compared with onnxruntime
on the original model. Models with a dynamic dim also run after resize_tensor_input to other
sizes, as the shape subgraphs of the Transformer must."""

import numpy as np
import pytest
from tflite_runner import check_conversion, make_onnx

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from onnx import TensorProto, helper  # noqa: E402

F, I32, I64, B = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


_model = make_onnx
_check = check_conversion


def _ops(content):
    return sc.load(content).summary()


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _i64(*values):
    return np.array(values, dtype=np.int64)


# MARK: the shape subgraph of a dynamic batch (Shape, Gather, Unsqueeze, Concat, Reshape)


def test_dynamic_batch_shape_subgraph_runs_after_resize():
    # x [batch, 4, 6] -> reshape to [batch, 2, 12] with a shape computed from Shape(x).
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
        helper.make_node("Unsqueeze", ["b", "axes0"], ["b1"]),
        helper.make_node("Concat", ["b1", "rest"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
        helper.make_node("Cast", ["s"], ["sf"], to=F),
    ]
    inits = {"zero": np.array(0, np.int64), "axes0": _i64(0), "rest": _i64(2, 12)}
    model = _model(nodes, [("x", F, ["batch", 4, 6])], [("y", F, None), ("sf", F, [3])], inits)
    _check(model, {"x": _rand(1, 4, 6)}, {"x": _rand(3, 4, 6)})


def test_reshape_with_computed_shape_copies_zeros_at_run_time():
    # Reshape(x, [0, -1] computed): ONNX's 0 copies the batch dim, whatever it is at run time.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Slice", ["s", "one", "two"], ["inner"]),
        helper.make_node("Concat", ["zero", "inner", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    inits = {"zero": _i64(0), "one": _i64(1), "two": _i64(2), "minus1": _i64(-1)}
    model = _model(nodes, [("x", F, ["batch", "n", 3, 2])], [("y", F, None)], inits)
    _check(model, {"x": _rand(2, 5, 3, 2)}, {"x": _rand(3, 1, 3, 2)})


def test_reshape_shape_from_graph_input():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
    model = _model(nodes, [("x", F, [2, 3, 4]), ("shape", I64, [3])], [("y", F, None)])
    _check(model, {"x": _rand(2, 3, 4), "shape": _i64(0, 4, -1)}, {"x": _rand(2, 3, 4), "shape": _i64(4, 0, 2)})


@pytest.mark.parametrize(("start", "end"), [(None, None), (1, None), (-2, None), (0, -1), (1, 2)])
def test_shape_with_start_end(start, end):
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    nodes = [helper.make_node("Shape", ["x"], ["y"], **attrs)]
    model = _model(nodes, [("x", F, ["batch", 3, 5])], [("y", I64, None)], opset=15)
    _check(model, {"x": _rand(2, 3, 5)}, {"x": _rand(4, 3, 5)})


def test_shape_and_size_of_static_and_dynamic_inputs():
    nodes = [
        helper.make_node("Size", ["x"], ["n"]),
        helper.make_node("Size", ["s"], ["m"]),
        helper.make_node("Shape", ["s"], ["sh"]),
    ]
    model = _model(
        nodes, [("x", F, ["batch", 3]), ("s", F, [2, 5])], [("n", I64, []), ("m", I64, []), ("sh", I64, [2])]
    )
    _check(model, {"x": _rand(4, 3), "s": _rand(2, 5)}, {"x": _rand(1, 3), "s": _rand(2, 5)})


# MARK: Gather, GatherND


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("indices", [[[0, 2], [-1, 1]], [-3], 1])
def test_gather_constant_indices(axis, indices):
    idx = np.array(indices, np.int64)
    nodes = [helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)]
    model = _model(nodes, [("x", F, [3, 3, 4])], [("y", F, None)], {"i": idx})
    _check(model, {"x": _rand(3, 3, 4)})


@pytest.mark.parametrize("itype", [I64, I32])
def test_gather_computed_negative_indices_dynamic_dim(itype):
    # Indices from a graph input, negative ones included, on a dim only known at run time.
    nodes = [helper.make_node("Gather", ["table", "ids"], ["y"], axis=1)]
    model = _model(nodes, [("table", F, [2, "n", 3]), ("ids", itype, ["batch", 2])], [("y", F, None)])
    dt = np.int64 if itype == I64 else np.int32
    _check(
        model,
        {"table": _rand(2, 5, 3), "ids": np.array([[0, -1], [4, -5]], dt)},
        {"table": _rand(2, 7, 3), "ids": np.array([[6, -7], [-2, 3], [1, 0]], dt)},
    )


def test_gather_embedding_int64_tokens():
    nodes = [helper.make_node("Gather", ["emb", "tokens"], ["y"])]
    model = _model(nodes, [("tokens", I64, ["batch", "seq"])], [("y", F, ["batch", "seq", 8])], {"emb": _rand(50, 8)})
    rng = np.random.default_rng(1)
    _check(model, {"tokens": rng.integers(0, 50, (1, 6))}, {"tokens": rng.integers(-50, 50, (3, 9))})


def test_gather_nd():
    nodes = [helper.make_node("GatherND", ["x", "i"], ["y"])]
    model = _model(
        nodes, [("x", F, [3, 4, 2])], [("y", F, None)], {"i": np.array([[0, 1], [2, -1], [-3, 0]], np.int64)}
    )
    _check(model, {"x": _rand(3, 4, 2)})


# MARK: Unsqueeze, Squeeze


@pytest.mark.parametrize(("opset", "axes"), [(11, [0]), (11, [-1, 1]), (13, [0, 3]), (13, [-2]), (13, [-1, -4])])
def test_unsqueeze(opset, axes):
    if opset < 13:
        nodes, inits = [helper.make_node("Unsqueeze", ["x"], ["y"], axes=axes)], {}
    else:
        nodes, inits = [helper.make_node("Unsqueeze", ["x", "axes"], ["y"])], {"axes": np.array(axes, np.int64)}
    for dims, feeds in (([2, 3], ({"x": _rand(2, 3)},)), (["batch", 3], ({"x": _rand(1, 3)}, {"x": _rand(4, 3)}))):
        model = _model(nodes, [("x", F, dims)], [("y", F, None)], inits, opset=opset)
        _check(model, *feeds)


def test_unsqueeze_scalar_shape_value():
    # The Transformer's pattern: a scalar dim from Gather(Shape) unsqueezed to [1].
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "k"], ["d"]),
        helper.make_node("Unsqueeze", ["d", "axes"], ["y"]),
    ]
    model = _model(nodes, [("x", F, ["batch", 3])], [("y", I64, [1])], {"k": np.array(0, np.int64), "axes": _i64(0)})
    _check(model, {"x": _rand(2, 3)}, {"x": _rand(5, 3)})


@pytest.mark.parametrize(("opset", "axes"), [(11, None), (11, [1]), (13, [-1, 1]), (13, None)])
def test_squeeze(opset, axes):
    inits = {}
    if axes is None:
        nodes = [helper.make_node("Squeeze", ["x"], ["y"])]
    elif opset < 13:
        nodes = [helper.make_node("Squeeze", ["x"], ["y"], axes=axes)]
    else:
        nodes, inits = [helper.make_node("Squeeze", ["x", "axes"], ["y"])], {"axes": np.array(axes, np.int64)}
    for dims, feeds in (
        ([2, 1, 3, 1], ({"x": _rand(2, 1, 3, 1)},)),
        (["batch", 1, 3, 1], ({"x": _rand(2, 1, 3, 1)}, {"x": _rand(5, 1, 3, 1)})),
    ):
        model = _model(nodes, [("x", F, dims)], [("y", F, None)], inits, opset=opset)
        _check(model, *feeds)


def test_squeeze_to_scalar():
    nodes = [helper.make_node("Squeeze", ["x", "axes"], ["y"])]
    model = _model(nodes, [("x", F, [1])], [("y", F, [])], {"axes": _i64(0)})
    _check(model, {"x": _rand(1)})


def test_reshape_to_scalar_reads_an_empty_shape_constant():
    # RESHAPE's shape [] is a constant with no elements; its buffer is empty in the file, which
    # sc.Interpreter must still read as that constant (as LiteRT does), not as a missing value.
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
    model = _model(nodes, [("x", F, [1, 1])], [("y", F, [])], {"shape": np.zeros([0], np.int64)})
    content = _check(model, {"x": _rand(1, 1)})
    assert "RESHAPE" in _ops(content)


# MARK: Slice


SLICES = [
    # starts, ends, axes, steps
    ([1], [3], [1], None),
    ([0, 1], [INT64_MAX, -1], [0, 2], None),
    ([-1], [INT64_MIN], [2], [-1]),
    ([4], [0], [2], [-2]),
    ([-3, 0], [INT64_MAX, 5], [-1, 0], [1, 2]),
    ([0], [-1], [-2], None),
    ([-100], [100], [2], None),
    # Sentinels against the step's direction: empty slices in ONNX and TFLite alike. (An end
    # of INT64_MAX with a negative step is not here: the ONNX spec clamps it to an empty slice,
    # onnxruntime reads it as "to the beginning".)
    ([INT64_MAX], [INT64_MAX], [0], None),
    ([1], [INT64_MIN], [2], [1]),
    ([-2], [INT64_MIN], [0], [-2]),
]


@pytest.mark.parametrize(("starts", "ends", "axes", "steps"), SLICES)
@pytest.mark.parametrize("dynamic", [False, True])
def test_slice_constant_bounds(starts, ends, axes, steps, dynamic):
    inputs = ["x", "starts", "ends", "axes"] + (["steps"] if steps else [])
    inits = {"starts": _i64(*starts), "ends": _i64(*ends), "axes": _i64(*axes)}
    if steps:
        inits["steps"] = _i64(*steps)
    nodes = [helper.make_node("Slice", inputs, ["y"])]
    dims = ["batch", 3, "w"] if dynamic else [4, 3, 6]
    model = _model(nodes, [("x", F, dims)], [("y", F, None)], inits)
    feeds = [{"x": _rand(4, 3, 6)}] + ([{"x": _rand(2, 3, 9)}] if dynamic else [])
    _check(model, *feeds)


def test_slice_opset9_attributes():
    nodes = [helper.make_node("Slice", ["x"], ["y"], starts=[1, -2], ends=[1000, -1], axes=[0, 1])]
    model = _model(nodes, [("x", F, [4, 5])], [("y", F, None)], opset=9)
    _check(model, {"x": _rand(4, 5)})


def test_slice_computed_bounds():
    # The Transformer's pattern: the end of a Slice of Shape(x) computed from other values;
    # here the start and end come from Shape(z), on the second axis only.
    nodes = [
        helper.make_node("Shape", ["z"], ["zs"]),
        helper.make_node("Slice", ["zs", "zero", "one"], ["start"]),
        helper.make_node("Slice", ["zs", "one", "two"], ["end"]),
        helper.make_node("Slice", ["x", "start", "end", "axes"], ["y"]),
        helper.make_node("Slice", ["x", "start", "big", "axes"], ["y2"]),
    ]
    inits = {"zero": _i64(0), "one": _i64(1), "two": _i64(2), "axes": _i64(1), "big": _i64(INT64_MAX)}
    model = _model(nodes, [("x", F, [2, 8, 3]), ("z", F, ["a", "b"])], [("y", F, None), ("y2", F, None)], inits)
    _check(model, {"x": _rand(2, 8, 3), "z": _rand(1, 5)}, {"x": _rand(2, 8, 3), "z": _rand(3, 7)})


def test_slice_int64_graph_input_bounds():
    nodes = [helper.make_node("Slice", ["x", "s", "e"], ["y"])]
    model = _model(nodes, [("x", F, [6, 4]), ("s", I64, [2]), ("e", I64, [2])], [("y", F, None)])
    _check(model, {"x": _rand(6, 4), "s": _i64(1, -3), "e": _i64(INT64_MAX, 3)})


# MARK: Split


def test_split_equal_and_sizes():
    cases = [
        (13, [helper.make_node("Split", ["x"], ["a", "b"], axis=1)], {}),
        (13, [helper.make_node("Split", ["x", "split"], ["a", "b"], axis=-1)], {"split": _i64(2, 4)}),
        (11, [helper.make_node("Split", ["x"], ["a", "b"], axis=2, split=[5, 1])], {}),
        (18, [helper.make_node("Split", ["x"], ["a", "b"], axis=2, num_outputs=2)], {}),
    ]
    for opset, nodes, inits in cases:
        model = _model(nodes, [("x", F, [2, 4, 6])], [("a", F, None), ("b", F, None)], inits, opset=opset)
        _check(model, {"x": _rand(2, 4, 6)})


def test_split_uneven_num_outputs_and_dynamic_batch():
    nodes = [helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)]
    model = _model(nodes, [("x", F, ["batch", 7])], [("a", F, None), ("b", F, None), ("c", F, None)], opset=18)
    _check(model, {"x": _rand(1, 7)}, {"x": _rand(3, 7)})


# MARK: Expand, ConstantOfShape, Tile, Range


def test_expand_both_ways():
    # [3, 1] expanded by [2, 1, 4]: the 1 in the shape keeps the input's 3.
    nodes = [helper.make_node("Expand", ["x", "shape"], ["y"])]
    model = _model(nodes, [("x", F, [3, 1])], [("y", F, None)], {"shape": _i64(2, 1, 4)})
    _check(model, {"x": _rand(3, 1)})


def test_expand_computed_shape_dynamic():
    # The mask pattern: a [batch, 1, 1, n] tensor expanded to Shape(scores) computed at run time.
    nodes = [
        helper.make_node("Shape", ["scores"], ["s"]),
        helper.make_node("Expand", ["mask", "s"], ["y"]),
        helper.make_node("Expand", ["scores", "ones"], ["y2"]),
    ]
    model = _model(
        nodes,
        [("mask", F, ["batch", 1, 1, "n"]), ("scores", F, ["batch", 2, "n", "n"])],
        [("y", F, None), ("y2", F, None)],
        {"ones": _i64(1, 1)},
    )
    _check(
        model,
        {"mask": _rand(1, 1, 1, 4), "scores": _rand(1, 2, 4, 4)},
        {"mask": _rand(3, 1, 1, 5), "scores": _rand(3, 2, 5, 5)},
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        helper.make_tensor("v", F, [1], [2.5]),
        helper.make_tensor("v", I64, [1], [7]),
        helper.make_tensor("v", I32, [1], [-3]),
    ],
)
def test_constant_of_shape(value):
    attrs = {"value": value} if value is not None else {}
    out_type = value.data_type if value is not None else F
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("ConstantOfShape", ["s"], ["y"], **attrs)]
    model = _model(nodes, [("x", F, ["batch", 3])], [("y", out_type, None)])
    _check(model, {"x": _rand(2, 3)}, {"x": _rand(4, 3)})


def test_constant_of_shape_constant_dims_and_tile():
    nodes = [
        helper.make_node("ConstantOfShape", ["dims"], ["z"], value=helper.make_tensor("v", F, [1], [1.5])),
        helper.make_node("Tile", ["x", "reps"], ["t"]),
        helper.make_node("Add", ["t", "z"], ["y"]),
    ]
    model = _model(nodes, [("x", F, [2, 3])], [("y", F, None)], {"dims": _i64(4, 6), "reps": _i64(2, 2)})
    _check(model, {"x": _rand(2, 3)})


def test_tile_dynamic_repeats():
    nodes = [helper.make_node("Shape", ["r"], ["reps"]), helper.make_node("Tile", ["x", "reps"], ["y"])]
    model = _model(nodes, [("x", I64, [2, 3]), ("r", F, ["a", "b"])], [("y", I64, None)])
    _check(model, {"x": _i64(1, 2, 3, 4, 5, 6).reshape(2, 3), "r": _rand(3, 2)})


def test_range_int64_and_float():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "one"], ["n"]),
        helper.make_node("Range", ["start", "n", "step"], ["positions"]),
        helper.make_node("Range", ["fs", "fl", "fd"], ["floats"]),
    ]
    inits = {
        "one": np.array(1, np.int64),
        "start": np.array(0, np.int64),
        "step": np.array(1, np.int64),
        "fs": np.array(0.5, np.float32),
        "fl": np.array(3.0, np.float32),
        "fd": np.array(0.75, np.float32),
    }
    model = _model(nodes, [("x", F, ["batch", "seq"])], [("positions", I64, None), ("floats", F, None)], inits)
    _check(model, {"x": _rand(1, 5)}, {"x": _rand(2, 9)})


# MARK: Pad


@pytest.mark.parametrize(
    ("mode", "value"), [("constant", None), ("constant", 0.0), ("constant", -2.5), ("reflect", None)]
)
def test_pad(mode, value):
    inputs = ["x", "pads"] + (["value"] if value is not None else [])
    inits = {"pads": _i64(0, 1, 2, 0, 2, 1)}
    if value is not None:
        inits["value"] = np.array(value, np.float32)
    nodes = [helper.make_node("Pad", inputs, ["y"], mode=mode)]
    model = _model(nodes, [("x", F, [2, 3, 4])], [("y", F, None)], inits)
    _check(model, {"x": _rand(2, 3, 4)})


def test_pad_opset2_attributes_and_axes_input():
    nodes = [helper.make_node("Pad", ["x"], ["y"], pads=[1, 0, 0, 2], value=1.0)]
    _check(_model(nodes, [("x", F, [2, 3])], [("y", F, None)], opset=2), {"x": _rand(2, 3)})
    nodes = [helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"])]
    model = _model(
        nodes, [("x", F, [2, 3, 4])], [("y", F, None)], {"pads": _i64(1, 2, 3, 0), "axes": _i64(-1, 0)}, opset=18
    )
    _check(model, {"x": _rand(2, 3, 4)})


def test_pad_computed_pads():
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"])]
    model = _model(nodes, [("x", F, [2, 3]), ("pads", I64, [4])], [("y", F, None)])
    _check(model, {"x": _rand(2, 3), "pads": _i64(1, 0, 2, 3)})


def test_pad_edge_with_computed_pads_is_refused_naming_the_node():
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode="edge", name="edge_pad")]
    model = _model(nodes, [("x", F, [2, 3]), ("pads", I64, [4])], [("y", F, None)])
    with pytest.raises(sc.ConversionError, match="edge_pad.*edge"):
        sc.convert(model, "tflite")


# MARK: Cast, Where, Concat of integers, OneHot, CumSum


@pytest.mark.parametrize(
    ("src", "to", "values"),
    [
        (F, I32, [-2.7, -0.5, 0.0, 1.9, 3.5, 100.2]),
        (F, I64, [-2.7, -0.5, 0.0, 1.9, 3.5, 100.2]),
        (F, B, [-2.7, 0.0, 0.0, 1.9, 0.0, 1.0]),
        (I64, F, [-3, 0, 5, 7, 1 << 20, -9]),
        (I64, I32, [-3, 0, 5, 7, 1 << 20, -9]),
        (B, F, [1, 0, 0, 1, 1, 0]),
        (I32, I64, [-3, 0, 5, 7, 1 << 20, -9]),
        (F, F, [1, 2, 3, 4, 5, 6]),
    ],
)
def test_cast(src, to, values):
    dt = {F: np.float32, I32: np.int32, I64: np.int64, B: np.bool_}
    nodes = [helper.make_node("Cast", ["x"], ["y"], to=to)]
    model = _model(nodes, [("x", src, [2, 3])], [("y", to, [2, 3])])
    _check(model, {"x": np.array(values).astype(dt[src]).reshape(2, 3)})


def test_cast_of_shape_arithmetic_stays_int32_inside():
    # Shape -> Cast(int64) -> Mul-free arithmetic via Concat and Reshape: no CAST to int64 is
    # left inside; the int64 graph output gets one.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Cast", ["s"], ["s64"], to=I64),
        helper.make_node("Concat", ["s64", "extra"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    model = _model(nodes, [("x", F, ["batch", 4])], [("y", F, None), ("s64", I64, [2])], {"extra": _i64(1)})
    content = _check(model, {"x": _rand(3, 4)}, {"x": _rand(1, 4)})
    summary = _ops(content)
    assert "CAST" in summary  # the int64 output


def test_where_broadcasting_and_types():
    nodes = [
        helper.make_node("Where", ["c", "x", "y"], ["f"]),
        helper.make_node("Where", ["c", "i", "j"], ["g"]),
    ]
    model = _model(
        nodes,
        [("c", B, ["batch", 1, 4]), ("x", F, [3, 4]), ("y", F, []), ("i", I64, [1, 4]), ("j", I64, ["batch", 3, 1])],
        [("f", F, None), ("g", I64, None)],
    )
    rng = np.random.default_rng(3)
    for b in (1, 2):
        _check(
            model,
            {
                "c": rng.random((b, 1, 4)) > 0.5,
                "x": _rand(3, 4),
                "y": np.array(-1.0, np.float32),
                "i": rng.integers(-9, 9, (1, 4)),
                "j": rng.integers(-9, 9, (b, 3, 1)),
            },
        )


def test_where_mask_from_constant_of_shape():
    # The Transformer's key-padding mask: Where(Cast(mask, bool), -inf, ConstantOfShape(Shape(mask))).
    nodes = [
        helper.make_node("Shape", ["mask"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["zeros"]),
        helper.make_node("Cast", ["mask"], ["b"], to=B),
        helper.make_node("Where", ["b", "ninf", "zeros"], ["y"]),
    ]
    model = _model(nodes, [("mask", B, ["batch", 6])], [("y", F, None)], {"ninf": np.array(-np.inf, np.float32)})
    m1 = np.array([[0, 0, 1, 0, 1, 1]], bool)
    m3 = np.array([[0, 0, 0, 0, 0, 1]] * 3, bool)
    _check(model, {"mask": m1}, {"mask": m3})


def test_concat_of_shape_values_and_int64_constants():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Concat", ["head", "s", "tail"], ["y"], axis=-1),
    ]
    model = _model(nodes, [("x", F, ["batch", 2])], [("y", I64, [4])], {"head": _i64(7), "tail": _i64(-1)})
    _check(model, {"x": _rand(5, 2)}, {"x": _rand(1, 2)})


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    nodes = [helper.make_node("OneHot", ["i", "depth", "values"], ["y"], axis=axis)]
    inits = {"depth": np.array(5, np.int64), "values": np.array([-1.0, 2.0], np.float32)}
    model = _model(nodes, [("i", I64, [2, 3])], [("y", F, None)], inits, opset=11)
    _check(model, {"i": _i64(0, 4, -1, -5, 2, 7).reshape(2, 3)})


@pytest.mark.parametrize(("exclusive", "reverse"), [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum(exclusive, reverse):
    nodes = [helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)]
    model = _model(nodes, [("x", F, ["batch", 5])], [("y", F, None)], {"axis": np.array(-1, np.int64)}, opset=14)
    _check(model, {"x": _rand(2, 5)}, {"x": _rand(3, 5)})


def test_transpose_of_unknown_rank_uses_perm():
    # Reshape to a computed shape leaves the rank unknown to ONNX; perm says it.
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Transpose", ["r"], ["y"], perm=[2, 0, 1]),
    ]
    model = _model(nodes, [("x", F, [2, 12]), ("shape", I64, [3])], [("y", F, None)])
    _check(model, {"x": _rand(2, 12), "shape": _i64(2, 3, 4)})


# MARK: the real models' shape subgraphs at other batch sizes


def test_transformer_runs_after_resize_to_batch_3():
    # Its shape subgraphs (SHAPE, GATHER, CONCATENATION of int32, RESHAPE with a tensor shape)
    # follow the batch at run time.
    real_models = pytest.importorskip("real_models")
    model = real_models.build("transformer_encoder_op17")
    feeds = real_models.inputs("transformer_encoder_op17", 3)
    _check(model, feeds, tol=1e-4)


def test_lstm_classifier_zero_state_subgraph():
    # The LSTM classifier up to its first LSTM: Shape/Gather/Unsqueeze/Concat/ConstantOfShape
    # make the zero initial states [layers, batch, hidden], sliced per layer; the last time
    # step is a Gather with index -1 on the dynamic sequence axis.
    real_models = pytest.importorskip("real_models")
    full = onnx.load_from_string(real_models.build("lstm_classifier_op17"))
    keep = []
    for n in full.graph.node:
        if n.op_type == "LSTM":
            break
        keep.append(n)
    last = helper.make_node("Gather", ["/lstm/Transpose_output_0", "/embedding/Constant_output_0"], ["last"], axis=0)
    used = {i for n in keep + [last] for i in n.input}
    graph = helper.make_graph(
        keep + [last],
        "zero_state",
        list(full.graph.input),
        [helper.make_tensor_value_info(n, F, None) for n in ("/lstm/Slice_output_0", "/lstm/Slice_1_output_0", "last")],
        initializer=[t for t in full.graph.initializer if t.name in used],
    )
    model = helper.make_model(graph, opset_imports=list(full.opset_import))
    model.ir_version = full.ir_version
    content = _check(
        model.SerializeToString(),
        real_models.inputs("lstm_classifier_op17", 1),
        {"tokens": np.random.default_rng(5).integers(0, 1000, (3, 11))},
    )
    assert "FILL" in _ops(content)


@pytest.mark.parametrize("shape", [["N", 3], ["N", "M", 3]], ids=["one_free_dim", "two_free_dims"])
def test_output_repeating_a_value_of_dynamic_shape(shape):
    """A graph output that is another value under a second name (Identity), with free dims:
    a RESHAPE by -1 (one free dim) or by the value's SHAPE (more) copies it."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Identity", ["r"], ["a"]),
        helper.make_node("Neg", ["r"], ["b"]),
    ]
    model = make_onnx(
        nodes,
        [("x", TensorProto.FLOAT, shape)],
        [(n, TensorProto.FLOAT, shape) for n in ("a", "b", "r")],
        opset=13,
    )
    dims = [2, 3] if len(shape) == 2 else [2, 4, 3]
    check_conversion(model, {"x": _rand(*dims)}, {"x": _rand(*[d + 1 for d in dims[:-1]], 3, seed=1)})
