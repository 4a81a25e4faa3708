"""Hostile models for session creation and run (issue 7, acceptance item 1).

One small model per hostile case, built with onnx.helper (never through
onnx.checker: many are invalid on purpose), each with its input feed.
tests/test_hostile_models.py runs every case in child processes under a 4 GiB
RLIMIT_AS, once through swiftconv and once through onnxruntime, and compares.

A case is either compared with onnxruntime (the default: if onnxruntime returns
a result swiftconv must return an equal one, if onnxruntime raises, runs out of
memory, crashes or hangs, swiftconv must raise a SwiftconvError), or listed with
`reject=<reason>`: swiftconv deliberately raises a SwiftconvError even where
onnxruntime returns something (always an undefined value, e.g. NaN cast to int).

Child side (also a replay tool):

    python tests/hostile_cases.py --list
    python tests/hostile_cases.py --write CASE DIR        # model.onnx + test_data_set_0/ (+ FIFO)
    python tests/hostile_cases.py --child sc CASE         # run one case here, print RESULT json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

MEMORY_LIMIT = 4 << 30
HERE = Path(__file__).resolve().parent

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
NAN = float("nan")
INF = float("inf")


@dataclass
class Built:
    model: object  # onnx.ModelProto
    feeds: dict[str, np.ndarray] = field(default_factory=dict)
    fifos: list[str] = field(default_factory=list)  # FIFOs to create beside model.onnx
    external: dict[str, bytes] = field(default_factory=dict)  # files beside model.onnx
    by_path: bool = False  # the session opens model.onnx by path (external data)


@dataclass
class Case:
    name: str
    family: str
    build: Callable[[], Built]
    reject: str | None = None  # swiftconv raises on purpose even if onnxruntime returns; why
    terminate: bool = False  # RunOptions.terminate = True before run
    timeout: float = 60.0  # swiftconv child
    ort_timeout: float = 30.0  # onnxruntime child (a hang there only means "no result to match")


# ============================================================================
# Builders
# ============================================================================


def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


def _model(nodes, inputs, outputs, initializers=(), opset=20, ir=9, sparse=(), domain_opsets=None):
    onnx, TP, helper, nh = _onnx()
    graph = helper.make_graph(
        list(nodes),
        "hostile",
        list(inputs),
        list(outputs),
        initializer=list(initializers),
        sparse_initializer=list(sparse),
    )
    opsets = [helper.make_opsetid("", opset)] + list(domain_opsets or [])
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir, producer_name="hostile_cases")


def _vi(name, elem, shape):
    _, TP, helper, _ = _onnx()
    return helper.make_tensor_value_info(name, elem, shape)


def _init(name, array):
    _, _, _, nh = _onnx()
    return nh.from_array(np.asarray(array), name)


F = 1  # TensorProto.FLOAT
I32 = 6
I64 = 7
BOOL = 9


def unary_shape_op(
    op, x, shape_name, shape_values, x_elem=F, extra_inputs=(), attrs=None, out_elem=None, const_shape=False
):
    """op(x, shape_tensor, *extra) -> y, with the shape tensor fed at run time (or an initializer)."""
    _, _, helper, _ = _onnx()
    shape = np.asarray(shape_values, dtype=np.int64)
    node = helper.make_node(op, ["x", shape_name, *[n for n, _ in extra_inputs]], ["y"], **(attrs or {}))
    inputs = [_vi("x", x_elem, list(x.shape))]
    feeds = {"x": x}
    inits = []
    if const_shape:
        inits.append(_init(shape_name, shape))
    else:
        inputs.append(_vi(shape_name, I64, list(shape.shape)))
        feeds[shape_name] = shape
    for n, v in extra_inputs:
        inputs.append(_vi(n, _elem(v), list(v.shape)))
        feeds[n] = v
    return Built(_model([node], inputs, [_vi("y", out_elem or x_elem, None)], inits), feeds)


def _elem(a: np.ndarray) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(a.dtype)


def constant_of_shape(shape):
    def build():
        _, _, helper, nh = _onnx()
        s = np.asarray(shape, dtype=np.int64)
        node = helper.make_node(
            "ConstantOfShape", ["shape"], ["y"], value=nh.from_array(np.array([1.0], dtype=np.float32), "value")
        )
        return Built(_model([node], [_vi("shape", I64, list(s.shape))], [_vi("y", F, None)]), {"shape": s})

    return build


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) if shape else np.float32(1.5)


def expand(shape, x_shape=(1, 1)):
    return lambda: unary_shape_op("Expand", f32(*x_shape), "shape", shape)


def tile(repeats, x_shape=(2,)):
    return lambda: unary_shape_op("Tile", f32(*x_shape), "repeats", repeats)


def pad(pads, x_shape=(2,), mode="constant"):
    return lambda: unary_shape_op("Pad", f32(*x_shape), "pads", pads, attrs={"mode": mode})


def onehot(indices, depth, values=(0.0, 1.0)):
    def build():
        _, _, helper, _ = _onnx()
        idx = np.asarray(indices)
        dep = np.asarray(depth)
        val = np.asarray(values, dtype=np.float32)
        node = helper.make_node("OneHot", ["indices", "depth", "values"], ["y"], axis=-1)
        feeds = {"indices": idx, "depth": dep, "values": val}
        inputs = [_vi(k, _elem(v), list(v.shape)) for k, v in feeds.items()]
        return Built(_model([node], inputs, [_vi("y", F, None)]), feeds)

    return build


def resize(sizes=None, scales=None, roi=None, mode="nearest", ctm="half_pixel", x_shape=(1, 1, 2, 2)):
    def build():
        _, _, helper, _ = _onnx()
        x = f32(*x_shape)
        feeds = {"x": x}
        names = ["x", "", "", ""]
        if roi is not None:
            feeds["roi"] = np.asarray(roi, dtype=np.float32)
            names[1] = "roi"
        if scales is not None:
            feeds["scales"] = np.asarray(scales, dtype=np.float32)
            names[2] = "scales"
        if sizes is not None:
            feeds["sizes"] = np.asarray(sizes, dtype=np.int64)
            names[3] = "sizes"
        while names[-1] == "":
            names.pop()
        node = helper.make_node("Resize", names, ["y"], mode=mode, coordinate_transformation_mode=ctm)
        inputs = [_vi(k, _elem(v), list(v.shape)) for k, v in feeds.items()]
        return Built(_model([node], inputs, [_vi("y", F, None)]), feeds)

    return build


def single(op, feeds, attrs=None, out_elem=F, n_out=1, opset=20, inits=None):
    """One node over fed inputs (and optional initializers) with untyped-shape outputs."""

    def build():
        _, _, helper, _ = _onnx()
        fs = {k: np.asarray(v) for k, v in feeds.items()}
        ins = {k: np.asarray(v) for k, v in (inits or {}).items()}
        names = list(fs) + list(ins)
        outs = [f"y{i}" for i in range(n_out)]
        node = helper.make_node(op, names, outs, **(attrs or {}))
        inputs = [_vi(k, _elem(v), list(v.shape)) for k, v in fs.items()]
        initializers = [_init(k, v) for k, v in ins.items()]
        return Built(_model([node], inputs, [_vi(o, out_elem, None) for o in outs], initializers, opset=opset), fs)

    return build


def conv_pads_huge():
    return single(
        "Conv",
        {"x": f32(1, 1, 3, 3), "w": f32(1, 1, 1, 1, seed=1)},
        {"pads": [2**40, 2**40, 0, 0], "kernel_shape": [1, 1]},
    )()


def convtranspose_output_shape():
    return single(
        "ConvTranspose",
        {"x": f32(1, 1, 2, 2), "w": f32(1, 1, 2, 2, seed=1)},
        {"output_shape": [2**31, 2**31], "kernel_shape": [2, 2]},
    )()


def tfidf_huge():
    return single(
        "TfIdfVectorizer",
        {"x": np.array([[1, 2, 3]], dtype=np.int64)},
        {
            "mode": "TF",
            "min_gram_length": 1,
            "max_gram_length": 1,
            "max_skip_count": 0,
            "ngram_counts": [0],
            "ngram_indexes": [2**40],
            "pool_int64s": [1],
        },
    )()


def sparse_initializer_huge():
    _, TP, helper, nh = _onnx()
    values = nh.from_array(np.array([1.0], dtype=np.float32), "w")
    indices = nh.from_array(np.array([0], dtype=np.int64), "w_indices")
    sp = helper.make_sparse_tensor(values, indices, [2**40])
    node = helper.make_node("Add", ["x", "w"], ["y"])
    x = f32(1)
    return Built(_model([node], [_vi("x", F, [1])], [_vi("y", F, None)], sparse=[sp]), {"x": x})


def split_wrapping():
    # sizes sum to 2^64 + 4, i.e. 4 modulo 2^64: a wrapping sum equals the axis length
    return single(
        "Split", {"x": f32(4), "split": np.array([I64_MAX, I64_MAX, 6], dtype=np.int64)}, {"axis": 0}, n_out=3
    )()


def col2im_huge():
    return single(
        "Col2Im",
        {
            "x": f32(1, 1, 1),
            "image_shape": np.array([2**62, 2**62], dtype=np.int64),
            "block_shape": np.array([1, 1], dtype=np.int64),
        },
    )()


def affinegrid_huge():
    theta = np.array([[[1, 0, 0], [0, 1, 0]]], dtype=np.float32)
    return single("AffineGrid", {"theta": theta, "size": np.array([1, 1, 2**31, 2**31], dtype=np.int64)})()


def slice_step(starts, ends, steps):
    def build():
        x = np.arange(5, dtype=np.float32)
        return single(
            "Slice",
            {
                "x": x,
                "starts": np.array(starts, dtype=np.int64),
                "ends": np.array(ends, dtype=np.int64),
                "axes": np.array([0], dtype=np.int64),
                "steps": np.array(steps, dtype=np.int64),
            },
        )()

    return build


def trilu(k, upper):
    return lambda: single("Trilu", {"x": f32(3, 4), "k": np.array(k, dtype=np.int64)}, {"upper": upper})()


def gridsample(value):
    def build():
        grid = np.array([[[[value, 0.25], [0.5, -0.5]]]], dtype=np.float32)  # [1, 1, 2, 2]
        return single("GridSample", {"x": f32(1, 1, 3, 3), "grid": grid}, {"mode": "linear"})()

    return build


def roialign_nan():
    return single(
        "RoiAlign",
        {
            "x": f32(1, 1, 4, 4),
            "rois": np.array([[0, 0, 2, 2]], dtype=np.float32),
            "batch_indices": np.array([0], dtype=np.int64),
        },
        {"spatial_scale": NAN, "output_height": 2, "output_width": 2, "sampling_ratio": 0},
    )()


def binary_consts(op, out_elem=F):
    """op(A, B) of two initializers of shapes [0] and [1]: folded or run at session creation."""

    def build():
        _, _, helper, _ = _onnx()
        a = _init("a", np.zeros([0], dtype=np.float32))
        b = _init("b", np.ones([1], dtype=np.float32))
        node = helper.make_node(op, ["a", "b"], ["y"])
        return Built(_model([node], [], [_vi("y", out_elem, None)], [a, b]))

    return build


def concat_rank0():
    _, _, helper, _ = _onnx()
    a = _init("a", np.array(1.0, dtype=np.float32))
    b = _init("b", np.array(2.0, dtype=np.float32))
    node = helper.make_node("Concat", ["a", "b"], ["y"], axis=0)
    return Built(_model([node], [], [_vi("y", F, None)], [a, b]))


def external_fifo():
    onnx, TP, helper, nh = _onnx()
    w = nh.from_array(np.ones([4], dtype=np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TP.EXTERNAL
    for k, v in {"location": "weights.fifo", "offset": "0", "length": "16"}.items():
        e = w.external_data.add()
        e.key, e.value = k, v
    node = helper.make_node("Add", ["x", "w"], ["y"])
    m = _model([node], [_vi("x", F, [4])], [_vi("y", F, None)], [w])
    return Built(m, {"x": f32(4)}, fifos=["weights.fifo"], by_path=True)


def averagepool_kernel_huge():
    return single("AveragePool", {"x": f32(1, 1, 4, 4)}, {"kernel_shape": [2**62, 2**62], "auto_pad": "SAME_LOWER"})()


def loop_huge_trip_count():
    _, TP, helper, _ = _onnx()
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [_vi("iter", I64, []), _vi("cond_in", BOOL, []), _vi("v_in", F, [1])],
        [_vi("cond_out", BOOL, []), _vi("v_out", F, [1])],
        initializer=[_init("one", np.ones([1], dtype=np.float32))],
    )
    node = helper.make_node("Loop", ["M", "cond", "v0"], ["v_final"], body=body)
    feeds = {"M": np.array(2**62, dtype=np.int64), "cond": np.array(True), "v0": np.zeros([1], dtype=np.float32)}
    inputs = [_vi("M", I64, []), _vi("cond", BOOL, []), _vi("v0", F, [1])]
    return Built(_model([node], inputs, [_vi("v_final", F, [1])]), feeds)


# ----------------------------------------------------------------- invalid graphs


def relu_relu(out1, out2, x_init=False):
    def build():
        _, _, helper, _ = _onnx()
        nodes = [helper.make_node("Relu", ["x"], [out1]), helper.make_node("Neg", ["x"], [out2])]
        inits = [_init("c", np.ones([2], dtype=np.float32))] if x_init else []
        return Built(_model(nodes, [_vi("x", F, [2])], [_vi(out1, F, [2])], inits), {"x": f32(2)})

    return build


def node_writes_initializer():
    _, _, helper, _ = _onnx()
    nodes = [helper.make_node("Relu", ["x"], ["c"]), helper.make_node("Add", ["x", "c"], ["y"])]
    return Built(
        _model(nodes, [_vi("x", F, [2])], [_vi("y", F, [2])], [_init("c", np.ones([2], dtype=np.float32))]),
        {"x": f32(2)},
    )


def output_type_contradicted():
    _, _, helper, _ = _onnx()
    node = helper.make_node("Relu", ["x"], ["y"])
    return Built(_model([node], [_vi("x", F, [2])], [_vi("y", I64, [2])]), {"x": f32(2)})


def relu_three_inputs():
    _, _, helper, _ = _onnx()
    node = helper.make_node("Relu", ["x", "x", "x"], ["y"])
    return Built(_model([node], [_vi("x", F, [2])], [_vi("y", F, [2])]), {"x": f32(2)})


def opset_huge():
    _, _, helper, _ = _onnx()
    node = helper.make_node("Relu", ["x"], ["y"])
    return Built(_model([node], [_vi("x", F, [2])], [_vi("y", F, [2])], opset=10**6), {"x": f32(2)})


def no_outputs():
    _, _, helper, _ = _onnx()
    node = helper.make_node("Relu", ["x"], ["y"])
    return Built(_model([node], [_vi("x", F, [2])], []), {"x": f32(2)})


def mod_int_zero():
    return single(
        "Mod",
        {"a": np.array([5, 7, -3], dtype=np.int32), "b": np.array([2, 0, 0], dtype=np.int32)},
        {"fmod": 0},
        out_elem=I32,
    )()


def pool_pads_gt_kernel(op):
    return lambda: single(op, {"x": f32(1, 1, 4, 4)}, {"kernel_shape": [2, 2], "pads": [3, 3, 3, 3]})()


def lrn_size0():
    return single("LRN", {"x": f32(1, 2, 3, 3)}, {"size": 0})()


def pad_reflect_wide():
    return unary_shape_op("Pad", f32(1, 3), "pads", [0, 5, 0, 5], attrs={"mode": "reflect"})


# ============================================================================
# The catalogue
# ============================================================================

# Why swiftconv deliberately raises where onnxruntime returns something (the `reject=` cases):
# onnxruntime casts a non-finite float to an integer index (undefined behaviour in C++; INT64_MIN
# on x86) and returns whatever its clamping makes of that, which contradicts the operator's own
# definition; swiftconv raises InvalidArgument for a non-finite coordinate / scale instead.
GRID_NAN = (
    "onnxruntime samples a NaN grid coordinate as if it were -1 (the border), an artefact of "
    "casting NaN to int64; with padding_mode=zeros there is no defined value to match"
)
GRID_INF = (
    "a grid coordinate at +inf lies outside the image, so padding_mode=zeros defines 0, but "
    "onnxruntime returns the border sample (NaN/inf cast to int64, then clamped)"
)
ROI_NAN = (
    "tf_crop_and_resize with a NaN ROI: onnxruntime's NaN comparisons pass and the NaN source "
    "coordinate is cast to int64 and clamped to row 0; neither the crop nor the extrapolation "
    "value is defined"
)
ROIALIGN_NAN = (
    "RoiAlign with spatial_scale NaN: onnxruntime's adaptive sampling grid is ceil(NaN) cast "
    "to int (INT_MIN), its loops run zero times and it returns zeros by accident"
)

CASES: list[Case] = [
    # --- heap overflow: a wrapped or truncated size, then writes past the buffer
    Case("constantofshape_2p31x2p31", "heap-overflow", constant_of_shape([2**31, 2**31])),
    Case("expand_2p30x2p30", "heap-overflow", expand([2**30, 2**30])),
    Case("tile_repeats_2p60", "heap-overflow", tile([2**60])),
    Case("pad_2p59", "heap-overflow", pad([0, 2**59])),
    Case(
        "onehot_depth_2p59",
        "heap-overflow",
        onehot(np.array([0, 1], dtype=np.int64), np.array([2**59], dtype=np.int64)),
    ),
    # --- out of memory: the allocation must fail cleanly (ResourceExhausted)
    Case("constantofshape_2p40", "oom", constant_of_shape([2**40])),
    # 1.1e9 floats = 4.4 GB: more than the 4 GiB address-space cap whatever the interpreter's own
    # footprint (exactly 1e9 floats = 4.0 GB fits or not depending on that footprint: flaky); the
    # allocation itself fails, below the engine's per-tensor byte limit
    Case("constantofshape_1p1e9_floats", "oom", constant_of_shape([1_100_000_000])),
    Case("resize_sizes_2p32_elements", "oom", resize(sizes=[1, 1, 2**16, 2**16])),
    Case("pad_2p40", "oom", pad([0, 2**40])),
    Case("conv_pads_2p40", "oom", conv_pads_huge),
    Case("convtranspose_output_shape_2p31", "oom", convtranspose_output_shape),
    Case("tfidfvectorizer_ngram_index_2p40", "oom", tfidf_huge),
    Case("sparse_initializer_2p40", "oom", sparse_initializer_huge),
    # --- integer overflow in size arithmetic
    Case("reshape_2p40x2p40", "int-overflow", lambda: unary_shape_op("Reshape", f32(4), "shape", [2**40, 2**40])),
    Case("reshape_2p62x4xm1", "int-overflow", lambda: unary_shape_op("Reshape", f32(4), "shape", [2**62, 4, -1])),
    Case("expand_count_wraps_2p32x2p32", "int-overflow", expand([2**32, 2**32])),
    Case("tile_count_wraps_2p32x2p32", "int-overflow", tile([2**32, 2**32], x_shape=(1, 1))),
    Case("tile_count_wraps_int64max", "int-overflow", tile([I64_MAX], x_shape=(2,))),
    Case("col2im_image_2p62", "int-overflow", col2im_huge),
    Case("split_sizes_wrap_to_length", "int-overflow", split_wrapping),
    Case("affinegrid_size_2p31", "int-overflow", affinegrid_huge),
    Case("slice_step_int64min", "int-overflow", slice_step([4], [I64_MIN], [I64_MIN])),
    Case("slice_step_int64max", "int-overflow", slice_step([0], [I64_MAX], [I64_MAX])),
    Case("trilu_k_int64max_upper", "int-overflow", trilu(I64_MAX, 1)),
    Case("trilu_k_int64max_lower", "int-overflow", trilu(I64_MAX, 0)),
    # --- NaN / inf converted to an integer
    Case(
        "onehot_nan_indices",
        "nan-to-int",
        # compared: a NaN index is outside [-depth, depth-1], so its row is all off_value (onnxruntime agrees)
        onehot(np.array([NAN, 1.0], dtype=np.float32), np.array([3], dtype=np.float32)),
    ),
    Case("onehot_nan_depth", "nan-to-int", onehot(np.array([0, 1], dtype=np.int64), np.array([NAN], dtype=np.float32))),
    Case("resize_scale_inf", "nan-to-int", resize(scales=[1, 1, INF, INF])),
    Case("resize_scale_1e38", "nan-to-int", resize(scales=[1, 1, 1e38, 1e38])),
    Case("gridsample_nan_grid", "nan-to-int", gridsample(NAN), reject=GRID_NAN),
    Case("gridsample_inf_grid", "nan-to-int", gridsample(INF), reject=GRID_INF),
    Case(
        "resize_tf_crop_nan_roi",
        "nan-to-int",
        resize(scales=[1, 1, 2, 2], roi=[0, 0, NAN, 0, 1, 1, 1, 1], mode="linear", ctm="tf_crop_and_resize"),
        reject=ROI_NAN,
    ),
    Case("roialign_spatial_scale_nan", "nan-to-int", roialign_nan, reject=ROIALIGN_NAN),
    # --- session creation (constant folding / planning)
    Case("add_consts_0_and_1", "session-creation", binary_consts("Add")),
    Case("equal_consts_0_and_1", "session-creation", binary_consts("Equal", out_elem=BOOL)),
    Case("mul_consts_0_and_1", "session-creation", binary_consts("Mul")),
    Case("concat_rank0_consts", "session-creation", concat_rank0),
    # --- hangs
    Case("external_data_fifo", "hang", external_fifo),
    # onnxruntime itself hangs on this one (> 60 s): no result, so swiftconv must raise
    Case("averagepool_kernel_2p62_same_lower", "hang", averagepool_kernel_huge),
    Case("loop_trip_2p62_terminated", "hang", loop_huge_trip_count, terminate=True),
    # --- invalid graphs
    Case("duplicate_output_name", "invalid-graph", relu_relu("y", "y")),
    Case("node_writes_graph_input", "invalid-graph", relu_relu("y", "x")),
    Case("node_writes_initializer", "invalid-graph", node_writes_initializer),
    Case("output_type_contradicted", "invalid-graph", output_type_contradicted),
    Case("relu_three_inputs", "invalid-graph", relu_three_inputs),
    Case("opset_1e6", "invalid-graph", opset_huge),
    Case("no_graph_outputs", "invalid-graph", no_outputs),
    # --- runs onnxruntime refuses
    Case("mod_int32_by_zero", "run-error", mod_int_zero),
    Case("maxpool_pads_gt_kernel", "run-error", pool_pads_gt_kernel("MaxPool")),
    Case("averagepool_pads_gt_kernel", "run-error", pool_pads_gt_kernel("AveragePool")),
    Case("lrn_size_0", "run-error", lrn_size0),
    Case("pad_reflect_wider_than_input", "run-error", pad_reflect_wide),
]

BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES), "duplicate case names"


# ============================================================================
# Writing a case (parent) and running it (child)
# ============================================================================


def write_case(case: Case, folder: Path) -> Path:
    """model.onnx + test_data_set_0/input_K.pb (+ FIFOs) in `folder`; returns the model path."""
    from onnx import numpy_helper

    built = case.build()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    path.write_bytes(built.model.SerializeToString())
    ds = folder / "test_data_set_0"
    ds.mkdir(exist_ok=True)
    for i, (name, value) in enumerate(built.feeds.items()):
        (ds / f"input_{i}.pb").write_bytes(numpy_helper.from_array(np.asarray(value), name).SerializeToString())
    np.savez(folder / "feeds.npz", **{f"f{i}": np.asarray(v) for i, v in enumerate(built.feeds.values())})
    meta = {"names": list(built.feeds), "by_path": built.by_path, "terminate": case.terminate}
    (folder / "case.json").write_text(json.dumps(meta))
    for name, data in built.external.items():
        (folder / name).write_bytes(data)
    for name in built.fifos:
        p = folder / name
        if not p.exists():
            os.mkfifo(p)
    return path


def limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _digest(a: np.ndarray) -> str:
    """sha256 of the array's bytes without copying a huge array."""
    import hashlib

    h = hashlib.sha256()
    flat = a.reshape(-1) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(-1)
    step = max(1, (16 << 20) // max(1, a.itemsize))
    for i in range(0, flat.size, step):
        h.update(memoryview(flat[i : i + step]).cast("B"))
    return h.hexdigest()


def _summarize_outputs(outputs, out_path: Path):
    """Saves outputs to out_path (.npz); big ones are kept as a digest only."""

    arrays, info = {}, []
    for i, o in enumerate(outputs):
        if not isinstance(o, np.ndarray):
            info.append({"kind": type(o).__name__, "repr": repr(o)[:200]})
            continue
        if o.nbytes > (64 << 20):
            info.append({"kind": "digest", "dtype": str(o.dtype), "shape": list(o.shape), "sha256": _digest(o)})
        else:
            arrays[f"o{i}"] = o
            info.append({"kind": "array", "dtype": str(o.dtype), "shape": list(o.shape)})
    np.savez(out_path, **arrays)
    return info


def child_main(engine: str, folder: Path, out_path: Path) -> int:
    """Run the case in `folder` with `engine` ('sc' or 'ort'); print one RESULT line."""
    limit_child()
    meta = json.loads((folder / "case.json").read_text())
    with np.load(folder / "feeds.npz", allow_pickle=False) as z:
        feeds = {name: z[f"f{i}"] for i, name in enumerate(meta["names"])}
    model_path = folder / "model.onnx"
    src = str(model_path) if meta["by_path"] else model_path.read_bytes()
    stage = "import"
    t0 = time.perf_counter()

    def report(**kw):
        kw.update(engine=engine, stage=stage, seconds=round(time.perf_counter() - t0, 3))
        print("RESULT " + json.dumps(kw), flush=True)

    try:
        if engine == "sc":
            import swiftconv as rt

            stage = "session"
            sess = rt.InferenceSession(src)
            ro = rt.RunOptions()
        else:
            import onnxruntime as rt

            so = rt.SessionOptions()
            so.intra_op_num_threads = 1
            so.log_severity_level = 4
            stage = "session"
            sess = rt.InferenceSession(src, so, providers=["CPUExecutionProvider"])
            ro = rt.RunOptions()
        if meta["terminate"]:
            ro.terminate = True
        stage = "run"
        outputs = sess.run(None, feeds, ro)
        stage = "save"
        info = _summarize_outputs(outputs, out_path)
    except BaseException as e:  # noqa: BLE001 - every exception is reported, the parent judges
        clean = False
        if engine == "sc":
            try:
                import swiftconv

                clean = isinstance(e, swiftconv.SwiftconvError)
            except Exception:  # noqa: BLE001
                pass
        report(
            status="raised",
            type=type(e).__module__ + "." + type(e).__qualname__,
            clean=clean,
            message=str(e)[:1000],
            traceback="".join(traceback.format_exception(type(e), e, e.__traceback__))[-2000:],
        )
        return 0
    report(status="ok", outputs=info)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true")
    p.add_argument("--write", nargs=2, metavar=("CASE", "DIR"))
    p.add_argument("--child", nargs=2, metavar=("ENGINE", "CASE_OR_DIR"))
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.list:
        for c in CASES:
            print(f"{c.family:18} {c.name}" + (f"  [reject: {c.reject}]" if c.reject else ""))
        return 0
    if args.write:
        print(write_case(BY_NAME[args.write[0]], Path(args.write[1])))
        return 0
    if args.child:
        engine, target = args.child
        folder = Path(target)
        if not folder.is_dir():  # a case name: write it to a temp folder first
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="sc-hostile-"))
            write_case(BY_NAME[target], folder)
        return child_main(engine, folder, args.out or folder / f"out-{engine}.npz")
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
