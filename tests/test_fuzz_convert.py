"""Hostile input through the converters: sc.convert, sc.quantize and sc.verify on mutated models.

Every mutated model either fails to load with a `sc.SwiftconvError` subclass or, when it
loads, goes through `sc.convert(to='tflite')`, `sc.convert(to='onnx')`, `sc.quantize`
('dynamic', 'float16', and 'int8' on two random samples when the model has float inputs),
a reload of every converted model from its bytes, and `sc.verify(source, converted)`; each
step gives a result or a `sc.SwiftconvError` subclass with a message: never another
exception, a crash, a hang or unbounded memory (a crash is a security bug).

The seeds are small ONNX models built here with onnx.helper (a conv net with a depthwise
conv and a ConvTranspose, an LSTM, an attention block, a graph of shape arithmetic) and
committed TFLite fixtures. Mutations are byte flips and truncations of either format, and
structured ones: ONNX dims and shape constants made huge, negative or zero, attributes
(axis, perm, kernel_shape, pads, group, ...) out of range, dtype swaps, dangling inputs,
duplicate outputs and cycles; TFLite dims, types, indices and builtin-options fields (the
structure reader of test_fuzz_tflite.py finds them). Mutations are deterministic from
(SEED, index); chunks run in child processes under RLIMIT_AS with a timeout
(tests/fuzz_harness.py), and a crash or hang saves the mutated file under
tests/.cache/fuzz-convert-crashes/.

    python -m pytest tests/test_fuzz_convert.py -q
    python tests/test_fuzz_convert.py --child --start 123 --count 1   # replay one mutation
    python tests/test_fuzz_convert.py --describe 123                  # what mutation 123 is
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import struct
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_fuzz_tflite as tflite_fuzz  # noqa: E402
from fuzz_harness import FuzzCampaign  # noqa: E402

SEED = 20261208
N_MUTATIONS = 600
N_CHUNKS = 6
CHUNK_TIMEOUT_S = 60.0
TOTAL_BUDGET_S = 90.0
MEMORY_LIMIT = 4 << 30  # RLIMIT_AS of each child
MAX_FEED_ELEMENTS = 1 << 20  # larger declared inputs are not fed to verify / calibration
HERE = Path(__file__).resolve().parent
CRASH_DIR = HERE / ".cache" / "fuzz-convert-crashes"
TFLITE_BASES = ("cnn_float32", "cnn_int8", "transformer_float32", "lstm_keras3_float32")
QUANTIZED_BASES = {"cnn_int8"}  # sc.quantize refuses these: only their float originals are quantized

# ============================================================================
# Seed models
# ============================================================================


def _const(rng, name, shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def _ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _model(nodes, inputs, outputs, inits, name):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def conv_net() -> onnx.ModelProto:
    """Conv + BatchNorm + Relu, a depthwise conv, Clip, MaxPool, ConvTranspose with a bias,
    a global pool, Flatten, Gemm, Softmax."""
    rng = np.random.default_rng(1)
    f = TensorProto.FLOAT
    inits = [
        _const(rng, "w1", [8, 3, 3, 3]),
        _const(rng, "b1", [8]),
        numpy_helper.from_array(np.linspace(0.5, 1.5, 8, dtype=np.float32), "bn_scale"),
        _const(rng, "bn_bias", [8]),
        _const(rng, "bn_mean", [8]),
        numpy_helper.from_array(np.linspace(0.5, 2.0, 8, dtype=np.float32), "bn_var"),
        _const(rng, "w2", [8, 1, 3, 3]),
        numpy_helper.from_array(np.array(0, np.float32), "clip_lo"),
        numpy_helper.from_array(np.array(6, np.float32), "clip_hi"),
        _const(rng, "w3", [8, 4, 2, 2]),
        _const(rng, "b3", [4]),
        _const(rng, "w4", [3, 4]),
        _const(rng, "b4", [3]),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], "conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"], "bn"),
        helper.make_node("Relu", ["bn"], ["r"], "relu"),
        helper.make_node("Conv", ["r", "w2"], ["dw"], "depthwise", group=8, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["dw", "clip_lo", "clip_hi"], ["clipped"], "clip"),
        helper.make_node("MaxPool", ["clipped"], ["p"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("ConvTranspose", ["p", "w3", "b3"], ["ct"], "deconv", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["ct"], ["g"], "gap"),
        helper.make_node("Flatten", ["g"], ["flat"], "flatten", axis=1),
        helper.make_node("Gemm", ["flat", "w4", "b4"], ["logits"], "gemm", transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], "softmax", axis=-1),
    ]
    inputs = [helper.make_tensor_value_info("x", f, [1, 3, 8, 8])]
    outputs = [helper.make_tensor_value_info("y", f, [1, 3])]
    return _model(nodes, inputs, outputs, inits, "conv_net")


def lstm() -> onnx.ModelProto:
    rng = np.random.default_rng(2)
    f = TensorProto.FLOAT
    inits = [_const(rng, "W", [1, 24, 4]), _const(rng, "R", [1, 24, 6]), _const(rng, "B", [1, 48])]
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "Y_h"], "lstm", hidden_size=6),
        helper.make_node("Squeeze", ["Y_h", "zero"], ["h"], "squeeze"),
    ]
    inits.append(_ints("zero", [0]))
    inputs = [helper.make_tensor_value_info("x", f, [5, 2, 4])]
    outputs = [helper.make_tensor_value_info("Y", f, [5, 1, 2, 6]), helper.make_tensor_value_info("h", f, [2, 6])]
    return _model(nodes, inputs, outputs, inits, "lstm")


def attention() -> onnx.ModelProto:
    """One self-attention block: projections, heads by Reshape/Transpose, scaled softmax, a
    residual Add and LayerNormalization."""
    rng = np.random.default_rng(3)
    f = TensorProto.FLOAT
    inits = [_const(rng, n, [8, 8]) for n in ("wq", "wk", "wv", "wo")]
    inits += [_const(rng, n, [8]) for n in ("bq", "bk", "bv", "ln_bias")]
    inits += [
        numpy_helper.from_array(np.ones(8, np.float32), "ln_scale"),
        numpy_helper.from_array(np.array(0.5, np.float32), "scale"),
        _ints("heads_shape", [1, 6, 2, 4]),
        _ints("model_shape", [1, 6, 8]),
    ]
    nodes = []
    for p in ("q", "k", "v"):
        nodes += [
            helper.make_node("MatMul", ["x", f"w{p}"], [f"{p}_mm"], f"{p}_proj"),
            helper.make_node("Add", [f"{p}_mm", f"b{p}"], [f"{p}_lin"], f"{p}_bias"),
            helper.make_node("Reshape", [f"{p}_lin", "heads_shape"], [f"{p}_heads"], f"{p}_reshape"),
        ]
    nodes += [
        helper.make_node("Transpose", ["q_heads"], ["q4"], "q_t", perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["k_heads"], ["kT"], "k_t", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["v_heads"], ["v4"], "v_t", perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["q4", "kT"], ["scores"], "qk"),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"], "scale"),
        helper.make_node("Softmax", ["scaled"], ["probs"], "softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "v4"], ["ctx"], "pv"),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], "ctx_t", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ctx_t", "model_shape"], ["merged"], "merge"),
        helper.make_node("MatMul", ["merged", "wo"], ["proj"], "out_proj"),
        helper.make_node("Add", ["proj", "x"], ["res"], "residual"),
        helper.make_node("LayerNormalization", ["res", "ln_scale", "ln_bias"], ["y"], "ln", axis=-1),
    ]
    inputs = [helper.make_tensor_value_info("x", f, [1, 6, 8])]
    outputs = [helper.make_tensor_value_info("y", f, [1, 6, 8])]
    return _model(nodes, inputs, outputs, inits, "attention")


def shape_graph() -> onnx.ModelProto:
    """Shape arithmetic on a dynamic batch: Shape/Gather/Unsqueeze/Concat into Reshape,
    Expand, Slice, Tile, ConstantOfShape, Cast."""
    f = TensorProto.FLOAT
    inits = [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        _ints("axes0", [0]),
        _ints("axes1", [1]),
        _ints("twelve", [12]),
        _ints("expand_to", [1, 2, 1]),
        _ints("starts", [0]),
        _ints("ends", [6]),
        _ints("slice_axes", [2]),
        _ints("repeats", [1, 1, 2]),
    ]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], "shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], "batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], "n1"),
        helper.make_node("Concat", ["n1", "twelve"], ["target"], "target", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], "reshape"),
        helper.make_node("Unsqueeze", ["flat", "axes1"], ["flat3"], "unsqueeze"),
        helper.make_node("Expand", ["flat3", "expand_to"], ["wide"], "expand"),
        helper.make_node("Slice", ["wide", "starts", "ends", "slice_axes"], ["half"], "slice"),
        helper.make_node("Tile", ["half", "repeats"], ["tiled"], "tile"),
        helper.make_node("Shape", ["tiled"], ["ts"], "tiled_shape"),
        helper.make_node("ConstantOfShape", ["ts"], ["ones"], "ones", value=helper.make_tensor("v", f, [1], [1.0])),
        helper.make_node("Add", ["tiled", "ones"], ["y"], "add"),
        helper.make_node("Cast", ["n1"], ["count"], "cast", to=f),
    ]
    inputs = [helper.make_tensor_value_info("x", f, ["N", 3, 4])]
    outputs = [helper.make_tensor_value_info("y", f, ["N", 2, 12]), helper.make_tensor_value_info("count", f, [1])]
    return _model(nodes, inputs, outputs, inits, "shape_graph")


ONNX_BUILDERS = {"conv_net": conv_net, "lstm": lstm, "attention": attention, "shape_graph": shape_graph}


@dataclass
class Base:
    name: str
    fmt: str  # "onnx" | "tflite"
    data: bytes
    proto: onnx.ModelProto | None = None
    tflite: tflite_fuzz.Base | None = None  # the TFLite structure sites


def build_bases() -> list[Base]:
    bases = []
    for name, build in ONNX_BUILDERS.items():
        proto = build()
        onnx.checker.check_model(proto, full_check=True)
        bases.append(Base(name, "onnx", proto.SerializeToString(), proto=proto))
    for name in TFLITE_BASES:
        data = (tflite_fuzz.FIXTURES / f"{name}.tflite").read_bytes()
        walker = tflite_fuzz.Walker(data)
        model = walker.walk()
        sites = walker.sites + _options_sites(walker, model)
        tb = tflite_fuzz.Base(name, data, sites, len(model.get("subgraphs", [])))
        bases.append(Base(name, "tflite", data, tflite=tb))
    return bases


def _options_sites(walker, model) -> list:
    """Every field of every operator's builtin options table (strides, axes, activations...)."""
    sites = []
    for si, sg in enumerate(model.get("subgraphs", [])):
        for oi, op in enumerate(sg.get("operators", [])):
            table = op.get("builtin_options")
            if table is None:
                continue
            vt = table - walker.i32(table)
            vt_size = struct.unpack_from("<H", walker.buf, vt)[0]
            for slot in range((vt_size - 4) // 2):
                p = walker.field_pos(table, slot)
                if p is not None:
                    what = f"subgraphs[{si}].operators[{oi}].builtin_options slot {slot}"
                    sites.append(tflite_fuzz.Site("option", p, 1, what))
    return sites


# ============================================================================
# Mutations
# ============================================================================


@dataclass
class Mutation:
    index: int
    kind: str
    desc: str
    fmt: str
    data: bytes
    must_convert: bool = False
    extra: dict = field(default_factory=dict)


HUGE_INTS = [0, -1, -2, -7, 7, 1 << 16, (1 << 31) - 1, 1 << 31, -(1 << 31), 1 << 40, (1 << 63) - 1, -(1 << 63)]
DIMS = [0, -1, -5, 1 << 20, (1 << 31) - 1, 1 << 40, (1 << 62), 46341]
# Attributes a mutation may add to a node of an op that reads them.
ATTRIBUTES = {
    "Conv": ("group", "kernel_shape", "pads", "strides", "dilations"),
    "ConvTranspose": ("group", "kernel_shape", "pads", "strides", "dilations", "output_padding", "output_shape"),
    "MaxPool": ("kernel_shape", "pads", "strides", "dilations", "ceil_mode"),
    "Transpose": ("perm",),
    "LSTM": ("hidden_size", "layout", "input_forget"),
    "Gemm": ("transA", "transB"),
    "LayerNormalization": ("axis", "stash_type"),
}
OTHER_ATTRIBUTES = ("axis", "axes", "perm", "group", "to")


def _onnx_bases(bases):
    return [b for b in bases if b.fmt == "onnx"]


def _tflite_bases(bases):
    return [b.tflite for b in bases if b.fmt == "tflite"]


def _copy(base: Base) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(base.proto)
    return m


def _done(base_name, m: onnx.ModelProto, what: str):
    return f"{base_name}: {what}", "onnx", m.SerializeToString()


def m_identity(rng, bases):
    b = rng.choice(bases)
    return f"unchanged {b.name}", b.fmt, b.data, {"must_convert": True, "quantized": b.name in QUANTIZED_BASES}


def m_truncate(rng, bases):
    b = rng.choice(bases)
    n = rng.choice([0, 4, 16, rng.randrange(len(b.data)), len(b.data) // 2, len(b.data) - 1])
    return f"{b.name} truncated to {n} of {len(b.data)} bytes", b.fmt, b.data[:n], {}


def m_flip(rng, bases):
    b = rng.choice(bases)
    data = bytearray(b.data)
    k = rng.choice([1, 2, 4, 16])
    for _ in range(k):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return f"{b.name} with {k} random bit flips", b.fmt, bytes(data), {}


def m_onnx_dim(rng, bases):
    """A graph input/output dim, or an element of an int64 shape constant, huge/negative/zero."""
    b = rng.choice(_onnx_bases(bases))
    m = _copy(b)
    g = m.graph
    v = rng.choice(DIMS)
    shape_consts = [t for t in g.initializer if t.data_type == TensorProto.INT64 and len(t.dims) == 1]
    if shape_consts and rng.random() < 0.5:
        t = rng.choice(shape_consts)
        arr = numpy_helper.to_array(t).copy()
        k = rng.randrange(arr.size)
        arr[k] = v
        t.CopyFrom(numpy_helper.from_array(arr, t.name))
        return *_done(b.name, m, f"shape constant {t.name}[{k}] := {v}"), {}
    infos = list(g.input) + list(g.output)
    info = rng.choice(infos)
    dims = info.type.tensor_type.shape.dim
    k = rng.randrange(len(dims))
    if rng.random() < 0.2:
        dims[k].Clear()
        dims[k].dim_param = "M"
        return *_done(b.name, m, f"{info.name} dim {k} := 'M'"), {}
    dims[k].dim_value = v
    return *_done(b.name, m, f"{info.name} dim {k} := {v}"), {}


def m_onnx_attribute(rng, bases):
    """An int or ints attribute out of range, of another length, or added where absent."""
    b = rng.choice(_onnx_bases(bases))
    m = _copy(b)
    node = rng.choice(list(m.graph.node))
    ints = [a for a in node.attribute if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)]
    v = rng.choice(HUGE_INTS)
    if not ints or rng.random() < 0.25:
        name = rng.choice(ATTRIBUTES.get(node.op_type, OTHER_ATTRIBUTES))
        for a in list(node.attribute):
            if a.name == name:
                node.attribute.remove(a)
        if rng.random() < 0.5:
            node.attribute.append(helper.make_attribute(name, v))
        else:
            node.attribute.append(helper.make_attribute(name, [v] * rng.choice([1, 2, 4, 5])))
        return *_done(b.name, m, f"node {node.name} ({node.op_type}) attribute {name} added as {v}"), {}
    a = rng.choice(ints)
    if a.type == onnx.AttributeProto.INT:
        a.i = v
        return *_done(b.name, m, f"node {node.name} ({node.op_type}) {a.name} := {v}"), {}
    how = rng.choice(["element", "longer", "shorter", "empty"])
    if how == "element" and a.ints:
        a.ints[rng.randrange(len(a.ints))] = v
    elif how == "longer":
        a.ints.append(v)
    elif how == "shorter" and a.ints:
        del a.ints[-1]
    else:
        del a.ints[:]
    return *_done(b.name, m, f"node {node.name} ({node.op_type}) {a.name} {how} -> {list(a.ints)}"), {}


def m_onnx_dtype(rng, bases):
    """A graph input/output type, an initializer's data type (same or another size) or Cast's `to`."""
    b = rng.choice(_onnx_bases(bases))
    m = _copy(b)
    g = m.graph
    t = rng.choice([1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 16, 8, 0, 99])
    where = rng.choice(["input", "output", "initializer", "initializer"])
    if where == "initializer":
        init = rng.choice(list(g.initializer))
        same_size = {
            TensorProto.FLOAT: [TensorProto.INT32, TensorProto.UINT32],
            TensorProto.INT64: [TensorProto.DOUBLE],
        }
        if init.data_type in same_size and rng.random() < 0.7:
            t = rng.choice(same_size[init.data_type])
        init.data_type = t
        return *_done(b.name, m, f"initializer {init.name} data_type := {t}"), {}
    info = rng.choice(list(g.input if where == "input" else g.output))
    info.type.tensor_type.elem_type = t
    return *_done(b.name, m, f"{where} {info.name} elem_type := {t}"), {}


def m_onnx_dangling(rng, bases):
    """A node input or a graph output that names no value, or a node or initializer removed."""
    b = rng.choice(_onnx_bases(bases))
    m = _copy(b)
    g = m.graph
    how = rng.choice(["input", "output", "drop_node", "drop_init"])
    if how == "input":
        node = rng.choice(list(g.node))
        k = rng.randrange(len(node.input))
        node.input[k] = "no_such_value"
        return *_done(b.name, m, f"node {node.name} input {k} := 'no_such_value'"), {}
    if how == "output":
        g.output[rng.randrange(len(g.output))].name = "no_such_value"
        return *_done(b.name, m, "a graph output renamed to 'no_such_value'"), {}
    if how == "drop_node":
        k = rng.randrange(len(g.node))
        name = g.node[k].name
        del g.node[k]
        return *_done(b.name, m, f"node {name} removed"), {}
    k = rng.randrange(len(g.initializer))
    name = g.initializer[k].name
    del g.initializer[k]
    return *_done(b.name, m, f"initializer {name} removed"), {}


def m_onnx_duplicate(rng, bases):
    """Two producers of one value: node outputs, an initializer named as a node output, or an
    output listed twice."""
    b = rng.choice(_onnx_bases(bases))
    m = _copy(b)
    g = m.graph
    how = rng.choice(["node", "initializer", "graph_output"])
    if how == "node" and len(g.node) > 1:
        i, j = rng.sample(range(len(g.node)), 2)
        g.node[j].output[0] = g.node[i].output[0]
        return *_done(b.name, m, f"node {g.node[j].name} output := {g.node[i].output[0]}"), {}
    if how == "initializer":
        node = rng.choice(list(g.node))
        init = rng.choice(list(g.initializer))
        node.output[0] = init.name
        return *_done(b.name, m, f"node {node.name} output := initializer {init.name}"), {}
    g.output.append(g.output[0])
    return *_done(b.name, m, f"graph output {g.output[0].name} listed twice"), {}


def m_onnx_cycle(rng, bases):
    """A node that reads its own output or a later node's."""
    b = rng.choice(_onnx_bases(bases))
    m = _copy(b)
    g = m.graph
    i = rng.randrange(len(g.node))
    j = rng.randrange(i, len(g.node))
    k = rng.randrange(len(g.node[i].input))
    g.node[i].input[k] = g.node[j].output[0]
    return *_done(b.name, m, f"node {g.node[i].name} input {k} := {g.node[j].name}'s output (cycle)"), {}


def _tflite(fn):
    def m(rng, bases):
        desc, data, extra = fn(rng, _tflite_bases(bases))
        return desc, "tflite", data, extra

    return m


def m_tflite_option(rng, bases):
    """One byte or word of a builtin options table (strides, axes, activations, flags...)."""
    b, s = tflite_fuzz._sites(rng, bases, {"option"})
    size = rng.choice([1, 4])
    if s.pos + size > len(b.data):
        size = 1
    v = rng.choice([0, 1, 2, 5, 6, 127, 128, 255, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
    return f"{b.name} {s.what} ({size} bytes) := {v:#x}", tflite_fuzz._put(b.data, s.pos, size, v), {}


KINDS = [
    ("identity", m_identity),
    ("truncate", m_truncate),
    ("flip", m_flip),
    ("onnx_dim", m_onnx_dim),
    ("onnx_attribute", m_onnx_attribute),
    ("onnx_dtype", m_onnx_dtype),
    ("onnx_dangling", m_onnx_dangling),
    ("onnx_duplicate", m_onnx_duplicate),
    ("onnx_cycle", m_onnx_cycle),
    ("onnx_attribute", m_onnx_attribute),
    ("tflite_dim", _tflite(tflite_fuzz.m_dim)),
    ("tflite_dtype", _tflite(tflite_fuzz.m_dtype)),
    ("tflite_index", _tflite(tflite_fuzz.m_index)),
    ("tflite_option", _tflite(m_tflite_option)),
    ("tflite_quant", _tflite(tflite_fuzz.m_quant)),
    ("onnx_dim", m_onnx_dim),
]


def make_mutation(index: int, bases: list[Base]) -> Mutation:
    rng = random.Random(SEED * 1_000_003 + index)
    kind, fn = KINDS[index % len(KINDS)]
    desc, fmt, data, extra = fn(rng, bases)
    return Mutation(index, kind, desc, fmt, data, must_convert=extra.get("must_convert", False), extra=extra)


# ============================================================================
# Child: convert, quantize and verify mutations, one JSON line per mutation
# ============================================================================


def _format(e: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(e), e)).strip()[:500]


def _random_inputs(model, rng):
    """One list of random arrays for `model`'s inputs, or None when an input is not float or
    declares more elements than a seed model's (a hostile shape is not allocated here)."""
    arrays = []
    for info in model.inputs:
        if info.shape is None or not isinstance(info.dtype, np.dtype) or info.dtype.kind != "f":
            return None
        shape = [d if isinstance(d, int) and d >= 0 else 1 for d in info.shape]
        if int(np.prod(shape, dtype=np.float64)) > MAX_FEED_ELEMENTS:
            return None
        arrays.append(rng.standard_normal(shape).astype(info.dtype))
    return arrays


def _bounded_inputs(model) -> bool:
    """Whether sc.verify's random inputs for `model` stay small."""
    for info in model.inputs:
        if info.shape is None:
            return False
        shape = [d if isinstance(d, int) and d >= 0 else 1 for d in info.shape]
        if float(np.prod(shape, dtype=np.float64)) > MAX_FEED_ELEMENTS:
            return False
    return True


def run_steps(sc, path: Path) -> dict:
    """{step: (status, detail)}; status 'ok', 'rejected' (a SwiftconvError) or 'bad'."""
    results: dict = {}

    def step(name, fn):
        try:
            value = fn()
        except sc.SwiftconvError as e:
            if not str(e).strip():
                results[name] = ("bad", f"{type(e).__name__} with an empty message")
            else:
                results[name] = ("rejected", f"{type(e).__name__}: {str(e)[:200]}")
            return None
        except BaseException as e:  # noqa: BLE001 - any other exception breaks the contract
            results[name] = ("bad", _format(e))
            return None
        results[name] = ("ok", "")
        return value

    source = step("load", lambda: sc.load(str(path)))
    if source is None:
        return results
    converted = {}
    for to in ("tflite", "onnx"):
        if source.format == to:
            continue
        result = step(f"convert-{to}", lambda to=to: sc.convert(source, to))
        if result is not None:
            converted[to] = step(f"reload-{to}", lambda r=result: sc.load(r.to_bytes()))
    float_tflite = source if source.format == "tflite" else converted.get("tflite")
    if float_tflite is not None:
        for mode in ("dynamic", "float16"):
            step(f"quantize-{mode}", lambda mode=mode: sc.quantize(float_tflite, mode))
        rng = np.random.default_rng(0)
        samples = [_random_inputs(float_tflite, rng) for _ in range(2)]
        if all(s is not None for s in samples):
            step("quantize-int8", lambda: sc.quantize(float_tflite, "int8", samples))
    if _bounded_inputs(source):
        for to, candidate in converted.items():
            if candidate is not None:
                step(f"verify-{to}", lambda c=candidate: sc.verify(source, c))
    return results


def child_main(start: int, count: int, workdir: Path) -> int:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import swiftconv as sc

    bases = build_bases()
    for index in range(start, start + count):
        mut = make_mutation(index, bases)
        path = workdir / f"m{index}.{mut.fmt}"
        path.write_bytes(mut.data)
        print(json.dumps({"start": index, "kind": mut.kind, "desc": mut.desc[:300]}), flush=True)
        t0 = time.perf_counter()
        results = run_steps(sc, path)
        problems = [f"{how}: {detail}" for how, (status, detail) in results.items() if status == "bad"]
        if mut.must_convert:
            expected = [h for h in results if not (mut.extra["quantized"] and h.startswith("quantize"))]
            problems += [f"a seed model failed {h}: {results[h][1]}" for h in expected if results[h][0] != "ok"]
        elapsed = round(time.perf_counter() - t0, 4)
        print(json.dumps({"done": index, "results": results, "problems": problems, "seconds": elapsed}), flush=True)
        path.unlink()
    print(json.dumps({"finished": True}), flush=True)
    return 0


# ============================================================================
# Tests (parent side)
# ============================================================================


def _save_reproducer(index: int) -> Path:
    mut = make_mutation(index, build_bases())
    dest = CRASH_DIR / f"seed{SEED}-m{index}"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    model = dest / f"model.{mut.fmt}"
    model.write_bytes(mut.data)
    (dest / "README.txt").write_text(
        f"seed {SEED}, mutation {index} ({mut.kind}): {mut.desc}\nmodel: {model}\n"
        f"replay: python tests/test_fuzz_convert.py --child --start {index} --count 1\n"
    )
    return model


CAMPAIGN = FuzzCampaign(
    script=Path(__file__).resolve(),
    seed=SEED,
    n_mutations=N_MUTATIONS,
    n_chunks=N_CHUNKS,
    chunk_timeout_s=CHUNK_TIMEOUT_S,
    total_budget_s=TOTAL_BUDGET_S,
    save_reproducer=_save_reproducer,
)


@pytest.mark.parametrize("chunk", range(N_CHUNKS))
def test_fuzz_convert(sc, chunk):
    CAMPAIGN.run_chunk(chunk)


# Mutations (of SEED) that once crashed the process, with the fix each needed; replayed every run.
FOUND_CRASHES = {
    68: "Transpose perm [0, -2, 1, 3]: TransposeCancellation composed it with an index out of range",
    2142: "an int8 CONCATENATION output scale of 1e-45: its requantization was infinite and trapped",
    5002: "an int8 CONV_2D input with 0 channels: the group count was a remainder by zero",
    7194: "an int8 AVERAGE_POOL_2D 2**31 - 1 wide: its tap-count table was a Swift array of 8 GiB",
}


def test_found_crashes_stay_fixed(sc):
    problems = []
    for index, what in FOUND_CRASHES.items():
        records, stderr, rc, timed_out = CAMPAIGN.spawn(index, 1, CHUNK_TIMEOUT_S)
        done = [r for r in records if r.get("done") == index]
        if not done or rc != 0 or timed_out:
            problems.append(f"mutation {index} ({what}): exit {rc}, timed out {timed_out}\n{stderr[-1500:]}")
        elif done[0]["problems"]:
            problems.append(f"mutation {index} ({what}): {done[0]['problems']}")
    assert not problems, "\n".join(problems)


def test_mutations_are_deterministic_and_cover_every_kind():
    bases = build_bases()
    assert {b.fmt for b in bases} == {"onnx", "tflite"}
    assert any(s.kind == "option" for b in bases if b.tflite for s in b.tflite.sites)
    picks = [0, 1, 13, 17, N_MUTATIONS - 1]
    a = [make_mutation(i, bases) for i in picks]
    b = [make_mutation(i, bases) for i in picks]
    assert [(m.desc, m.data) for m in a] == [(m.desc, m.data) for m in b]
    assert {make_mutation(i, bases).kind for i in range(len(KINDS))} == {k for k, _ in KINDS}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="fuzz sc.convert / sc.quantize / sc.verify (child side / replay)")
    p.add_argument("--child", action="store_true", help="run mutations and print JSON lines")
    p.add_argument("--describe", type=int, help="print what mutation N is and write its file")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--count", type=int, default=N_MUTATIONS)
    p.add_argument("--workdir", type=Path)
    args = p.parse_args(argv)
    if args.describe is not None:
        print((_save_reproducer(args.describe).parent / "README.txt").read_text(), end="")
        return 0
    if args.child:
        if args.workdir is None:
            with tempfile.TemporaryDirectory(prefix="sc-fuzz-") as d:
                return child_main(args.start, args.count, Path(d))
        return child_main(args.start, args.count, args.workdir)
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
