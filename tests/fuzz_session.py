#!/usr/bin/env python3
"""Structural fuzzer for session creation + run (issue 7, acceptance item 2).

Seeds are small models with inputs: the ONNX backend `node` cases in
tests/.cache/backend-data/<onnx version>/node/<case>/ (written by
scripts/export-backend-cases.py when missing) and examples/*.onnx. Case
(seed, index) takes one seed model and applies one to three mutations to the
ModelProto and its feeds (extreme attribute values, dropped/duplicated/added
attributes, declared shapes and dtypes, initializer values and dims, constant
inputs such as shapes/axes/pads/repeats/indices, node wiring, op type, opset,
NaN/inf/extreme run-time inputs, input shapes). It is deterministic: the same
(seed, index) always gives the same bytes.

Each case runs `sc.InferenceSession(bytes)` and one `run` in a child process
(many cases per child) under a 4 GiB RLIMIT_AS with no core files. The child
prints "BEGIN i" / "END i {json}" lines; the parent's watchdog kills a child
whose case takes longer than the per-case limit (a hang) and restarts past a
crashing case. Outcome per case: ok or a SwiftconvError subclass (clean), or a
failure: a crash (signal / abort / exit without a result), a hang, or another
Python exception.

    python tests/fuzz_session.py --count 20000 --start 0 --jobs 2   # a campaign
    python tests/fuzz_session.py --describe 123                     # what case 123 is
    python tests/fuzz_session.py --replay tests/fuzz_corpus/<id>    # replay one saved case

A campaign saves each distinct failure (by op, mutation kind and the first line
of the crash's stderr) into tests/fuzz_corpus/<id>/: model.onnx,
test_data_set_0/input_K.pb (the ONNX backend layout, so
`swiftconv-conformance --smoke tests/fuzz_corpus` replays them in Swift only)
and case.json. tests/test_fuzz_session.py replays the corpus and runs a few
hundred fresh cases.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS_DIR = HERE / "fuzz_corpus"
CACHE_DIR = HERE / ".cache" / "fuzz-session"
MEMORY_LIMIT = 4 << 30
DEFAULT_SEED = 7
CASE_LIMIT_S = 20.0  # per-case wall limit: longer is a hang
MAX_FEED_BYTES = 4 << 20  # skip cases whose feeds exceed this
MAX_SEED_MODEL_BYTES = 256 << 10
MAX_CORPUS_CASES = 150
MAX_CORPUS_CASE_BYTES = 200 << 10
IMPORT_RETRIES = 8
IMPORT_RETRY_PAUSE_S = 15.0

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
NAN, INF = float("nan"), float("inf")
EXTREME_INTS = [
    0,
    -1,
    1,
    2,
    3,
    -2,
    1000,
    10**9,
    2**31 - 1,
    2**31,
    -(2**31),
    2**32,
    2**40,
    2**59,
    2**62,
    -(2**62),
    -(10**12),
    I64_MAX,
    I64_MIN,
    I64_MAX - 1,
    I64_MIN + 1,
]
EXTREME_FLOATS = [NAN, INF, -INF, 0.0, -0.0, 1e38, -1e38, 3.4e38, 1e-45, -1.0, 2.0**31, 2.0**63, 1e-30, 0.5]
STRINGS = [
    "",
    "SAME_UPPER",
    "SAME_LOWER",
    "VALID",
    "NOTSET",
    "reflect",
    "edge",
    "wrap",
    "constant",
    "nearest",
    "linear",
    "cubic",
    "bilinear",
    "bicubic",
    "zeros",
    "border",
    "reflection",
    "DCR",
    "CRD",
    "forward",
    "reverse",
    "bidirectional",
    "half_pixel",
    "tf_crop_and_resize",
    "align_corners",
    "asymmetric",
    "round_prefer_ceil",
    "floor",
    "ceil",
    "avg",
    "max",
    "TF",
    "IDF",
    "TFIDF",
    "none",
    "tanh",
    "Relu",
    "garbage",
    "\x00",
    "x" * 300,
]
ATTR_POOL = [  # (name, kind) added to nodes by `attr_add`
    ("axis", "int"),
    ("axes", "ints"),
    ("keepdims", "int"),
    ("pads", "ints"),
    ("kernel_shape", "ints"),
    ("strides", "ints"),
    ("dilations", "ints"),
    ("group", "int"),
    ("perm", "ints"),
    ("k", "int"),
    ("upper", "int"),
    ("mode", "string"),
    ("auto_pad", "string"),
    ("alpha", "float"),
    ("beta", "float"),
    ("epsilon", "float"),
    ("to", "int"),
    ("ceil_mode", "int"),
    ("count_include_pad", "int"),
    ("output_shape", "ints"),
    ("output_padding", "ints"),
    ("batch_dims", "int"),
    ("num_outputs", "int"),
    ("size", "int"),
    ("exclusive", "int"),
    ("reverse", "int"),
    ("sorted", "int"),
    ("largest", "int"),
    ("hidden_size", "int"),
    ("direction", "string"),
    ("layout", "int"),
    ("blocksize", "int"),
    ("select_last_index", "int"),
    ("noop_with_empty_axes", "int"),
    ("split", "ints"),
    ("allowzero", "int"),
    ("transA", "int"),
    ("transB", "int"),
    ("sampling_ratio", "int"),
    ("spatial_scale", "float"),
    ("output_height", "int"),
    ("output_width", "int"),
    ("p", "int"),
    ("bias", "float"),
    ("center_point_box", "int"),
    ("detect_negative", "int"),
    ("fmod", "int"),
    ("seed", "float"),
    ("dtype", "int"),
    ("stash_type", "int"),
    ("block_size", "int"),
    ("coordinate_transformation_mode", "string"),
]
OPSETS = [1, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 0, -1, 10**6, 2**62]
DOMAINS = ["", "ai.onnx.ml", "com.microsoft", "ai.onnx.preview.training", "nowhere"]


# ============================================================================
# Seeds
# ============================================================================


def backend_node_dir() -> Path:
    import onnx

    return HERE / ".cache" / "backend-data" / onnx.__version__ / "node"


@dataclass
class Seed:
    name: str
    model: bytes
    feeds: dict[str, np.ndarray]  # name -> value, in graph input order


def _all_ops(graph, out):
    for n in graph.node:
        out.add((n.domain or "", n.op_type))
        for a in n.attribute:
            if a.g.node:
                _all_ops(a.g, out)
            for g in a.graphs:
                _all_ops(g, out)
    return out


def seed_catalogue() -> dict:
    """{'names': [...], 'arity': {n_inputs: [op, ...]}} of usable seeds, cached per onnx version."""
    import onnx

    node_dir = backend_node_dir()
    if not node_dir.is_dir():
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "export-backend-cases.py")], check=True, stdout=subprocess.DEVNULL
        )
    cache = CACHE_DIR / f"seeds-{onnx.__version__}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    names, arity = [], {}
    for d in sorted(node_dir.iterdir()):
        p = d / "model.onnx"
        ds = d / "test_data_set_0"
        if not p.is_file() or not ds.is_dir() or p.stat().st_size > MAX_SEED_MODEL_BYTES:
            continue
        if sum(f.stat().st_size for f in ds.glob("input_*.pb")) > MAX_FEED_BYTES:
            continue
        m = onnx.load_model_from_string(p.read_bytes())
        if any(not i.type.HasField("tensor_type") for i in m.graph.input):
            continue  # sequence / map / optional inputs: the corpus stores TensorProtos only
        ops = _all_ops(m.graph, set())
        if any(op in ("Loop",) for _, op in ops):
            continue  # an unbounded trip count is a legitimate endless run (cancellation is tested elsewhere)
        if len(m.graph.input) != len(list(ds.glob("input_*.pb"))):
            continue
        names.append("node/" + d.name)
        for n in m.graph.node:
            arity.setdefault(str(len(n.input)), set()).add(n.op_type)
    for p in sorted((REPO / "examples").glob("*.onnx")):
        if p.stat().st_size <= MAX_SEED_MODEL_BYTES:
            names.append("examples/" + p.name)
    out = {"names": names, "arity": {k: sorted(v) for k, v in sorted(arity.items())}}
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, cache)
    return out


_SEEDS: dict[str, Seed] = {}
_CATALOGUE: list = []


def catalogue() -> dict:
    if not _CATALOGUE:
        _CATALOGUE.append(seed_catalogue())
    return _CATALOGUE[0]


def _example_feeds(m) -> dict[str, np.ndarray]:
    from onnx import helper

    rng = np.random.default_rng(0)
    inits = {t.name for t in m.graph.initializer}
    feeds = {}
    for i in m.graph.input:
        if i.name in inits:
            continue
        tt = i.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[i.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def load_seed(name: str) -> Seed:
    if name in _SEEDS:
        return _SEEDS[name]
    import onnx
    from onnx import numpy_helper

    if name.startswith("examples/"):
        data = (REPO / name).read_bytes()
        seed = Seed(name, data, _example_feeds(onnx.load_model_from_string(data)))
    else:
        d = backend_node_dir() / name.split("/", 1)[1]
        data = (d / "model.onnx").read_bytes()
        m = onnx.load_model_from_string(data)
        feeds = {}
        for k, info in enumerate(m.graph.input):
            t = onnx.TensorProto.FromString((d / "test_data_set_0" / f"input_{k}.pb").read_bytes())
            feeds[info.name] = numpy_helper.to_array(t)
        seed = Seed(name, data, feeds)
    _SEEDS[name] = seed
    return seed


# ============================================================================
# Mutations
# ============================================================================


@dataclass
class Case:
    seed: int
    index: int
    seed_model: str
    kinds: list[str]
    ops: list[str]  # op types of the nodes mutated (or the seed's first op)
    desc: list[str]
    model: bytes
    feeds: dict[str, np.ndarray]
    skip: str | None = None  # why this case is not run (too big)

    @property
    def kind(self) -> str:
        return "+".join(self.kinds)

    @property
    def op(self) -> str:
        return self.ops[0] if self.ops else "?"


def _walk_nodes(graph, out, path="graph"):
    for i, n in enumerate(graph.node):
        out.append((f"{path}.node[{i}]", graph, n))
        for a in n.attribute:
            if a.HasField("g"):
                _walk_nodes(a.g, out, f"{path}.node[{i}].{a.name}")
            for j, g in enumerate(a.graphs):
                _walk_nodes(g, out, f"{path}.node[{i}].{a.name}[{j}]")
    return out


def _extreme_int(rng) -> int:
    return rng.choice(EXTREME_INTS)


def _extreme_float(rng) -> float:
    return rng.choice(EXTREME_FLOATS)


def _fmt(v) -> str:
    if isinstance(v, int) and abs(v) >= 2**20:
        e = int(math.log2(abs(v))) if v else 0
        if abs(v) == 2**e:
            return ("-" if v < 0 else "") + f"2^{e}"
        return {I64_MAX: "INT64_MAX", I64_MIN: "INT64_MIN"}.get(v, str(v))
    return repr(v)


def _int_list(rng, old: list[int]) -> list[int]:
    how = rng.choice(["one", "one", "all", "empty", "longer", "shorter", "negate"])
    new = list(old)
    if how == "one" and new:
        new[rng.randrange(len(new))] = _extreme_int(rng)
    elif how == "all":
        new = [_extreme_int(rng) for _ in range(max(1, len(old)))]
    elif how == "empty":
        new = []
    elif how == "longer":
        new = new + [_extreme_int(rng) for _ in range(rng.choice([1, 2, 7]))]
    elif how == "shorter" and new:
        new = new[:-1]
    else:
        new = [-x for x in new] or [-1]
    return new


def mut_attr_value(rng, m, feeds, ctx):
    from onnx import AttributeProto as A
    from onnx import helper

    nodes = [x for x in _walk_nodes(m.graph, []) if x[2].attribute]
    if not nodes:
        return None
    path, _, n = rng.choice(nodes)
    a = rng.choice(list(n.attribute))
    old = helper.get_attribute_value(a)
    if a.type == A.INT:
        a.i = _extreme_int(rng)
        new = _fmt(a.i)
    elif a.type == A.INTS:
        vals = _int_list(rng, list(a.ints))
        del a.ints[:]
        a.ints.extend(vals)
        new = [_fmt(v) for v in vals]
    elif a.type == A.FLOAT:
        a.f = _extreme_float(rng)
        new = a.f
    elif a.type == A.FLOATS:
        vals = list(a.floats) or [0.0]
        vals[rng.randrange(len(vals))] = _extreme_float(rng)
        del a.floats[:]
        a.floats.extend(vals)
        new = vals[:8]
    elif a.type == A.STRING:
        a.s = rng.choice(STRINGS).encode()
        new = a.s[:40]
    elif a.type == A.TENSOR:
        _mutate_tensor_proto(rng, a.t)
        new = f"tensor {list(a.t.dims)}"
    else:
        return None
    ctx.ops.append(n.op_type)
    return f"{path} ({n.op_type}) attribute {a.name}: {str(old)[:60]} -> {str(new)[:80]}"


def mut_attr_struct(rng, m, feeds, ctx):
    from onnx import helper

    path, _, n = rng.choice(_walk_nodes(m.graph, []))
    how = rng.choice(["drop", "dup", "add", "add", "retype"])
    ctx.ops.append(n.op_type)
    if how == "drop" and n.attribute:
        i = rng.randrange(len(n.attribute))
        name = n.attribute[i].name
        del n.attribute[i]
        return f"{path} ({n.op_type}) attribute {name} dropped"
    if how == "dup" and n.attribute:
        a = rng.choice(list(n.attribute))
        n.attribute.add().CopyFrom(a)
        return f"{path} ({n.op_type}) attribute {a.name} duplicated"
    if how == "retype" and n.attribute:
        a = rng.choice(list(n.attribute))
        name = a.name
        n.attribute.remove(a)
        n.attribute.append(helper.make_attribute(name, rng.choice([[1, 2], 3, 1.5, "x", [0.5, 0.25]])))
        return f"{path} ({n.op_type}) attribute {name} retyped"
    name, kind = rng.choice(ATTR_POOL)
    for a in list(n.attribute):
        if a.name == name:
            n.attribute.remove(a)
    if kind == "int":
        v = _extreme_int(rng)
    elif kind == "ints":
        v = [_extreme_int(rng) for _ in range(rng.choice([1, 2, 4]))]
    elif kind == "float":
        v = _extreme_float(rng)
    else:
        v = rng.choice(STRINGS)
    n.attribute.append(helper.make_attribute(name, v))
    return f"{path} ({n.op_type}) attribute {name} = {v if kind != 'ints' else [_fmt(x) for x in v]} added"


def mut_io_decl(rng, m, feeds, ctx):
    from onnx import TensorProto as TP

    vis = [*m.graph.input, *m.graph.output]
    if not vis:
        return None
    vi = rng.choice(vis)
    tt = vi.type.tensor_type
    how = rng.choice(["dim", "dim", "rank", "dtype", "unknown"])
    ctx.ops.append(_first_op(m))
    if how == "dim" and tt.shape.dim:
        d = rng.choice(list(tt.shape.dim))
        v = rng.choice([0, 1, 2**40, 7, -1, 2**62])
        d.Clear()
        d.dim_value = v
        return f"declared {vi.name} dim -> {_fmt(v)}"
    if how == "rank":
        if tt.shape.dim and rng.random() < 0.5:
            del tt.shape.dim[-1]
            return f"declared {vi.name} rank - 1"
        tt.shape.dim.add().dim_value = rng.choice([1, 3, 0])
        return f"declared {vi.name} rank + 1"
    if how == "dtype":
        t = rng.choice([TP.FLOAT, TP.DOUBLE, TP.INT64, TP.INT32, TP.BOOL, TP.STRING, TP.FLOAT16, TP.UINT8, 0, 999])
        tt.elem_type = t
        return f"declared {vi.name} elem_type -> {t}"
    vi.type.tensor_type.ClearField("shape")
    return f"declared {vi.name} shape removed"


def _extreme_array(rng, arr: np.ndarray) -> np.ndarray:
    """arr with some (or all) elements replaced by values at the edge of its dtype."""
    a = np.array(arr, copy=True)
    if a.size == 0:
        return a
    flat = a.reshape(-1)
    k = rng.choice([1, 1, 2, flat.size])
    picks = [rng.randrange(flat.size) for _ in range(min(k, flat.size))]
    kind = a.dtype.kind
    with np.errstate(all="ignore"):
        _fill_extremes(rng, flat, picks, kind, a.dtype)
    return a


def _fill_extremes(rng, flat, picks, kind, dtype):
    for i in picks:
        if kind == "f":
            flat[i] = rng.choice([NAN, INF, -INF, 1e38, -1e38, 0.0, 1e30])
        elif kind in "iu":
            info = np.iinfo(dtype)
            cand = [v for v in EXTREME_INTS if info.min <= v <= info.max] + [int(info.min), int(info.max)]
            flat[i] = rng.choice(cand)
        elif kind == "b":
            flat[i] = not flat[i]
        elif kind == "c":
            flat[i] = complex(NAN, INF)


def _mutate_tensor_proto(rng, t):
    from onnx import numpy_helper

    how = rng.choice(["values", "values", "values", "dims"])
    if how == "dims":
        dims = list(t.dims)
        if dims and rng.random() < 0.7:
            dims[rng.randrange(len(dims))] = rng.choice([0, 2**40, -1, 2**31, 2**62, 3])
        else:
            dims = dims + [rng.choice([0, 1, 2**33])]
        del t.dims[:]
        t.dims.extend(dims)
        return f"dims -> {[_fmt(d) for d in dims]}"
    try:
        arr = numpy_helper.to_array(t)
    except Exception:  # noqa: BLE001 - strings, external data...
        return None
    if arr.dtype.kind not in "fiubc" or arr.size > (1 << 20):
        return None
    new = _extreme_array(rng, arr)
    t.CopyFrom(numpy_helper.from_array(new, t.name))
    return f"values -> {np.array2string(new.reshape(-1)[:6], threshold=6)}"


def mut_initializer(rng, m, feeds, ctx):
    tensors = list(m.graph.initializer)
    consts = [(p, n) for p, _, n in _walk_nodes(m.graph, []) if n.op_type == "Constant" and n.attribute]
    if not tensors and not consts:
        return None
    if consts and (not tensors or rng.random() < 0.5):
        path, n = rng.choice(consts)
        a = n.attribute[0]
        if not a.HasField("t"):
            return None
        what = _mutate_tensor_proto(rng, a.t)
        ctx.ops.append("Constant")
        return what and f"{path} Constant {what}"
    t = rng.choice(tensors)
    what = _mutate_tensor_proto(rng, t)
    ctx.ops.append(_consumer_op(m, t.name))
    return what and f"initializer {t.name} {what}"


def _consumer_op(m, name) -> str:
    for n in m.graph.node:
        if name in n.input:
            return n.op_type
    return _first_op(m)


def _first_op(m) -> str:
    return m.graph.node[0].op_type if m.graph.node else "?"


def mut_feed_values(rng, m, feeds, ctx):
    if not feeds:
        return None
    ints = [k for k, v in feeds.items() if v.dtype.kind in "iu"]
    # constant-like inputs (shapes, axes, pads, repeats, indices) are the interesting ones
    name = rng.choice(ints) if ints and rng.random() < 0.7 else rng.choice(list(feeds))
    feeds[name] = _extreme_array(rng, feeds[name])
    ctx.ops.append(_consumer_op(m, name))
    return f"feed {name} values -> {np.array2string(feeds[name].reshape(-1)[:6], threshold=6)}"


def mut_feed_shape(rng, m, feeds, ctx):
    if not feeds:
        return None
    name = rng.choice(list(feeds))
    a = feeds[name]
    how = rng.choice(["zero", "zero", "add_rank", "drop_rank", "scalar", "grow", "flatten", "dtype"])
    if how == "zero" and a.ndim:
        shape = list(a.shape)
        shape[rng.randrange(a.ndim)] = 0
        new = np.zeros(shape, dtype=a.dtype)
    elif how == "add_rank":
        new = a.reshape((1, *a.shape)) if rng.random() < 0.5 else a.reshape((*a.shape, 1))
    elif how == "drop_rank" and a.ndim:
        new = np.take(a, 0, axis=rng.randrange(a.ndim)) if a.size else a.reshape(a.shape[1:])
    elif how == "scalar":
        new = np.array(a.reshape(-1)[0] if a.size else 0, dtype=a.dtype)
    elif how == "grow" and a.ndim:
        axis = rng.randrange(a.ndim)
        new = np.repeat(a, rng.choice([2, 3, 17]), axis=axis) if a.size else a
    elif how == "dtype":
        new = a.astype(rng.choice([np.float64, np.int32, np.float32, np.int64, np.bool_, np.float16]))
    else:
        new = a.reshape(-1)
    feeds[name] = np.ascontiguousarray(new)
    ctx.ops.append(_consumer_op(m, name))
    return f"feed {name} {how}: shape {list(a.shape)} {a.dtype} -> {list(new.shape)} {new.dtype}"


def mut_rewire(rng, m, feeds, ctx):
    path, g, n = rng.choice(_walk_nodes(m.graph, []))
    names = [i.name for i in g.input] + [t.name for t in g.initializer]
    for x in g.node:
        names += list(x.output)
    names = [x for x in names if x] or ["x"]
    how = rng.choice(
        [
            "drop_input",
            "dup_input",
            "rewire_input",
            "empty_input",
            "drop_output",
            "extra_output",
            "dup_output",
            "reorder",
            "dangling",
        ]
    )
    ctx.ops.append(n.op_type)
    if how == "drop_input" and n.input:
        i = rng.randrange(len(n.input))
        del n.input[i]
        return f"{path} ({n.op_type}) input {i} dropped"
    if how == "dup_input" and n.input:
        n.input.append(rng.choice(list(n.input)))
        return f"{path} ({n.op_type}) an input duplicated at the end"
    if how == "rewire_input" and n.input:
        i = rng.randrange(len(n.input))
        n.input[i] = rng.choice(names)
        return f"{path} ({n.op_type}) input {i} -> {n.input[i]}"
    if how == "empty_input" and n.input:
        i = rng.randrange(len(n.input))
        n.input[i] = ""
        return f"{path} ({n.op_type}) input {i} omitted ('')"
    if how == "drop_output" and len(n.output) > 1:
        del n.output[-1]
        return f"{path} ({n.op_type}) last output dropped"
    if how == "extra_output":
        n.output.append(f"extra_{len(n.output)}")
        return f"{path} ({n.op_type}) extra output"
    if how == "dup_output":
        n.output[rng.randrange(len(n.output))] = rng.choice(names)
        return f"{path} ({n.op_type}) output renamed to an existing name"
    if how == "reorder" and len(g.node) > 1:
        nodes = list(g.node)
        rng.shuffle(nodes)
        del g.node[:]
        g.node.extend(nodes)
        return f"{path}: graph nodes shuffled"
    n.input.append("nowhere")
    return f"{path} ({n.op_type}) dangling input appended"


def mut_op_swap(rng, m, feeds, ctx):
    path, _, n = rng.choice(_walk_nodes(m.graph, []))
    arity = catalogue()["arity"]
    pool = arity.get(str(len(n.input))) or [op for ops in arity.values() for op in ops]
    old = n.op_type
    n.op_type = rng.choice(pool)
    if rng.random() < 0.1:
        n.domain = rng.choice(DOMAINS)
    ctx.ops.append(n.op_type)
    return f"{path} op {old} -> {n.op_type} (domain '{n.domain}')"


def mut_opset(rng, m, feeds, ctx):
    ctx.ops.append(_first_op(m))
    v = rng.choice(OPSETS)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = v
            return f"opset -> {_fmt(v)}"
    m.opset_import.add().version = v
    return f"opset added {_fmt(v)}"


MUTATORS = [  # (kind, weight, function)
    ("attr_value", 6, mut_attr_value),
    ("attr_struct", 3, mut_attr_struct),
    ("io_decl", 2, mut_io_decl),
    ("initializer", 4, mut_initializer),
    ("feed_values", 6, mut_feed_values),
    ("feed_shape", 4, mut_feed_shape),
    ("rewire", 3, mut_rewire),
    ("op_swap", 3, mut_op_swap),
    ("opset", 1, mut_opset),
]


@dataclass
class _Ctx:
    ops: list[str] = field(default_factory=list)


def make_case(seed: int, index: int) -> Case:
    import onnx

    rng = random.Random(f"fuzz_session:{seed}:{index}")
    names = catalogue()["names"]
    s = load_seed(rng.choice(names))
    m = onnx.ModelProto.FromString(s.model)
    feeds = {k: np.array(v, copy=True) for k, v in s.feeds.items()}
    kinds, desc, ctx = [], [], _Ctx()
    n_mut = rng.choice([1, 1, 1, 2, 2, 3])
    weights = [w for _, w, _ in MUTATORS]
    for _ in range(n_mut):
        for _attempt in range(6):
            kind, _, fn = rng.choices(MUTATORS, weights)[0]
            try:
                d = fn(rng, m, feeds, ctx)
            except Exception as e:  # noqa: BLE001 - a mutation that does not apply to this model
                d = None
                desc.append(f"({kind} not applied: {type(e).__name__})")
            if d:
                kinds.append(kind)
                desc.append(d)
                break
    data = m.SerializeToString()
    case = Case(seed, index, s.name, kinds, ctx.ops or [_first_op(m)], desc, data, feeds)
    nbytes = sum(v.nbytes for v in feeds.values())
    if nbytes > MAX_FEED_BYTES:
        case.skip = f"feeds of {nbytes} bytes"
    return case


def case_id(case: Case) -> str:
    return f"{re.sub(r'[^a-z0-9]+', '', case.op.lower())[:20] or 'op'}-s{case.seed}-i{case.index}"


# ============================================================================
# Writing / reading case folders (ONNX backend layout)
# ============================================================================


def write_case_dir(case: Case, folder: Path, meta: dict) -> int:
    """model.onnx + test_data_set_0/input_K.pb + case.json; returns the bytes written."""
    import onnx
    from onnx import numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(case.model)
    ds = folder / "test_data_set_0"
    ds.mkdir(exist_ok=True)
    try:
        order = [i.name for i in onnx.ModelProto.FromString(case.model).graph.input]
    except Exception:  # noqa: BLE001
        order = []
    names = [n for n in order if n in case.feeds] + [n for n in case.feeds if n not in order]
    total = len(case.model)
    for k, name in enumerate(names):
        k_file = order.index(name) if name in order else len(order) + k
        data = numpy_helper.from_array(case.feeds[name], name).SerializeToString()
        (ds / f"input_{k_file}.pb").write_bytes(data)
        total += len(data)
    (folder / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    return total


def read_case_dir(folder: Path) -> tuple[bytes, dict[str, np.ndarray]]:
    import onnx
    from onnx import numpy_helper

    feeds = {}
    files = sorted((folder / "test_data_set_0").glob("input_*.pb"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    for p in files:
        t = onnx.TensorProto.FromString(p.read_bytes())
        feeds[t.name] = numpy_helper.to_array(t)
    return (folder / "model.onnx").read_bytes(), feeds


# ============================================================================
# Child
# ============================================================================


def _run_one(sc, model: bytes, feeds: dict) -> dict:
    t0 = time.perf_counter()
    stage = "session"
    try:
        sess = sc.InferenceSession(model)
        stage = "run"
        names = {i.name for i in sess.get_inputs()} | {i.name for i in sess.get_overridable_initializers()}
        feed = {k: v for k, v in feeds.items() if k in names}
        outs = sess.run(None, feed)
        shapes = [list(o.shape) if isinstance(o, np.ndarray) else type(o).__name__ for o in outs]
        return {"outcome": "ok", "stage": stage, "detail": str(shapes)[:200], "s": round(time.perf_counter() - t0, 3)}
    except sc.SwiftconvError as e:
        return {
            "outcome": "clean",
            "stage": stage,
            "type": type(e).__name__,
            "detail": str(e)[:300],
            "s": round(time.perf_counter() - t0, 3),
        }
    except BaseException as e:  # noqa: BLE001 - anything else breaks the contract
        return {
            "outcome": "other",
            "stage": stage,
            "type": f"{type(e).__module__}.{type(e).__qualname__}",
            "detail": "".join(traceback.format_exception_only(type(e), e)).strip()[:500],
            "s": round(time.perf_counter() - t0, 3),
        }


def limit_child():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def child_main(seed: int, indices: list[int] | None, replay: list[Path] | None) -> int:
    limit_child()
    try:
        import swiftconv as sc
    except ImportError as e:
        print(f"IMPORT-FAILED {e}", flush=True)
        return 3
    items = replay if replay is not None else indices
    for item in items:
        if replay is not None:
            key = str(item)
            print(f"BEGIN {key}", flush=True)
            print(f"@@BEGIN {key}", file=sys.stderr, flush=True)
            model, feeds = read_case_dir(item)
        else:
            key = str(item)
            try:
                case = make_case(seed, item)
            except Exception as e:  # noqa: BLE001 - a generator bug must not end the campaign
                print(f"SKIP {key} {json.dumps('generator error: ' + repr(e)[:200])}", flush=True)
                continue
            if case.skip:
                print(f"SKIP {key} {json.dumps(case.skip)}", flush=True)
                continue
            print(f"BEGIN {key}", flush=True)
            print(f"@@BEGIN {key}", file=sys.stderr, flush=True)
            model, feeds = case.model, case.feeds
        rec = _run_one(sc, model, feeds)
        print(f"END {key} {json.dumps(rec)}", flush=True)
    print("FINISHED", flush=True)
    return 0


# ============================================================================
# Parent: watchdog over children
# ============================================================================


@dataclass
class Result:
    key: str
    outcome: str  # ok, clean, other, crash, hang, skip
    detail: str = ""
    stderr: str = ""
    seconds: float = 0.0
    rec: dict = field(default_factory=dict)


def _child_env():
    env = dict(os.environ)
    env["SWIFT_BACKTRACE"] = "enable=no"  # a crash report in milliseconds, not a symbolicated backtrace
    env.setdefault("PYTHONFAULTHANDLER", "1")
    env["PYTHONPATH"] = str(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def first_crash_line(stderr: str) -> str:
    """The line that says what went wrong (a Swift fatal error, a signal), for dedup and case.json."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for pat in (
        r"Fatal error",
        r"fatal error",
        r"Fatal Python error",
        r"ERROR: AddressSanitizer",
        r"Assertion",
        r"terminate called",
        r"Illegal instruction",
        r"Segmentation fault",
        r"Aborted",
    ):
        for ln in lines:
            if re.search(pat, ln):
                return ln[:300]
    return lines[0][:300] if lines else ""


def _stderr_of(err, key) -> str:
    """What the child wrote to stderr after it began case `key`."""
    err.seek(0)
    text = err.read().decode(errors="replace")
    marker = f"@@BEGIN {key}\n"
    at = text.rfind(marker) if key else -1
    return text[at + len(marker) :] if at >= 0 else text


def run_items(
    args_for_child: list[str], keys: list[str], case_limit: float, deadline: float | None = None, on_result=None
) -> list[Result]:
    """Runs `keys` in as few children as possible, restarting past crashes and hangs."""
    results: dict[str, Result] = {}
    todo = list(keys)
    import_failures = 0
    while todo:
        if deadline is not None and time.monotonic() > deadline:
            break
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-X",
                    "faulthandler",
                    str(Path(__file__).resolve()),
                    *args_for_child,
                    "--items",
                    ",".join(todo),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=_child_env(),
                text=True,
                errors="replace",
                bufsize=1,
            )
            q: queue.Queue = queue.Queue()

            def reader():
                for line in proc.stdout:
                    q.put(line.rstrip("\n"))
                q.put(None)

            threading.Thread(target=reader, daemon=True).start()
            current, begun_at = None, None
            finished, import_failed, hung = False, False, False
            while True:
                wait = case_limit if current is None else max(0.05, case_limit - (time.monotonic() - begun_at))
                if current is None:
                    wait = max(case_limit, 120.0)  # startup: imports and seed loading
                try:
                    line = q.get(timeout=wait)
                except queue.Empty:
                    line = "TIMEOUT"
                if line is None:
                    break
                if line == "TIMEOUT":
                    proc.kill()
                    proc.wait()
                    tail = _stderr_of(err, current)
                    key = current or (todo[0] if todo else "?")
                    r = Result(
                        key,
                        "hang",
                        f"no END after {case_limit:.0f} s" if current else "child startup hung",
                        tail[:3000],
                        case_limit,
                    )
                    results[key] = r
                    on_result and on_result(r)
                    if key in todo:
                        todo.remove(key)
                    current, hung = None, True
                    break
                if line.startswith("IMPORT-FAILED"):
                    import_failed = True
                elif line.startswith("BEGIN "):
                    current, begun_at = line.split(" ", 1)[1], time.monotonic()
                elif line.startswith("END ") or line.startswith("SKIP "):
                    tag, key, payload = line.split(" ", 2)
                    if tag == "END":
                        rec = json.loads(payload)
                        r = Result(key, rec["outcome"], rec.get("detail", ""), seconds=rec.get("s", 0.0), rec=rec)
                    else:
                        r = Result(key, "skip", json.loads(payload))
                    results[key] = r
                    on_result and on_result(r)
                    if key in todo:
                        todo.remove(key)
                    current = None
                elif line == "FINISHED":
                    finished = True
            proc.wait()
            if hung:
                continue
            if import_failed:
                import_failures += 1
                if import_failures > IMPORT_RETRIES:
                    raise RuntimeError("swiftconv does not import in the child")
                time.sleep(IMPORT_RETRY_PAUSE_S)
                continue
            if current is not None and current not in results:
                rc = proc.returncode
                how = f"died of signal {signal.Signals(-rc).name}" if rc < 0 else f"exited with status {rc}"
                tail = _stderr_of(err, current)
                r = Result(current, "crash", how, tail[:3000], time.monotonic() - begun_at)
                results[current] = r
                on_result and on_result(r)
                if current in todo:
                    todo.remove(current)
            elif not finished and todo and current is None and proc.returncode != 0:
                err.seek(0)
                raise RuntimeError(
                    f"fuzz child failed outside a case (status {proc.returncode}):\n"
                    + err.read().decode(errors="replace")[-3000:]
                )
            if finished:
                break
    return [results[k] for k in keys if k in results]


FAILURES = ("crash", "hang", "other")


def _norm(line: str) -> str:
    return re.sub(r"0x[0-9a-f]+|\d+", "N", line)


def existing_corpus_keys() -> set:
    keys = set()
    if CORPUS_DIR.is_dir():
        for d in CORPUS_DIR.iterdir():
            p = d / "case.json"
            if p.is_file():
                meta = json.loads(p.read_text())
                keys.add(tuple(meta.get("dedup", [])))
    return keys


def campaign(
    seed: int,
    start: int,
    count: int,
    jobs: int,
    case_limit: float,
    save: bool = True,
    budget: float | None = None,
    quiet: bool = False,
) -> dict:
    catalogue()  # build the seed cache once, before the children read it
    indices = list(range(start, start + count))
    chunks = [indices[j::jobs] for j in range(jobs)]
    results: list[Result] = []
    lock = threading.Lock()
    deadline = None if budget is None else time.monotonic() + budget
    t0 = time.monotonic()

    def progress(r: Result):
        with lock:
            results.append(r)
            if not quiet and r.outcome in FAILURES:
                print(f"  {r.outcome}: case {r.key}: {r.detail[:120]} | {first_crash_line(r.stderr)[:160]}", flush=True)
            if not quiet and len(results) % 500 == 0:
                print(f"  ... {len(results)} cases, {time.monotonic() - t0:.0f} s", flush=True)

    def worker(chunk):
        if chunk:
            run_items(["--child", "--seed", str(seed)], [str(i) for i in chunk], case_limit, deadline, progress)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {k: sum(r.outcome == k for r in results) for k in ("ok", "clean", "crash", "hang", "other", "skip")}
    failures = [r for r in results if r.outcome in FAILURES]
    summary = {
        "seed": seed,
        "start": start,
        "count": count,
        "run": len(results),
        "counts": counts,
        "seconds": round(time.monotonic() - t0, 1),
        "failures": [],
        "saved": [],
        "too_big": [],
    }
    known = existing_corpus_keys() if save else set()
    n_corpus = len(list(CORPUS_DIR.glob("*/case.json"))) if CORPUS_DIR.is_dir() else 0
    for r in sorted(failures, key=lambda r: int(r.key)):
        case = make_case(seed, int(r.key))
        line = first_crash_line(r.stderr) if r.outcome != "other" else r.detail.splitlines()[-1][:300]
        dedup = [case.op, case.kind, r.outcome, _norm(line)]
        entry = {
            "index": case.index,
            "op": case.op,
            "kind": case.kind,
            "outcome": r.outcome,
            "line": line,
            "seed_model": case.seed_model,
            "desc": case.desc,
        }
        summary["failures"].append(entry)
        if not save or tuple(dedup) in known or n_corpus >= MAX_CORPUS_CASES:
            continue
        folder = CORPUS_DIR / case_id(case)
        meta = {
            "seed": seed,
            "index": case.index,
            "seed_model": case.seed_model,
            "op": case.op,
            "kind": case.kind,
            "mutation": case.desc,
            "failure": r.outcome,
            "detail": r.detail[:300],
            "stderr_first_line": line,
            "dedup": dedup,
        }
        size = write_case_dir(case, folder, meta)
        if size > MAX_CORPUS_CASE_BYTES:
            shutil.rmtree(folder, ignore_errors=True)
            summary["too_big"].append({"index": case.index, "bytes": size})
            continue
        known.add(tuple(dedup))
        n_corpus += 1
        summary["saved"].append(folder.name)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    (CACHE_DIR / f"campaign-s{seed}-{start}-{count}.json").write_text(json.dumps(summary, indent=1))
    return summary


def summary_line(s: dict) -> str:
    c = s["counts"]
    return (
        f"fuzz: {s['run'] - c['skip']} cases, {c['ok']} ok, {c['clean']} clean errors, {c['crash']} crashes, "
        f"{c['hang']} hangs, {c['other']} other exceptions ({c['skip']} skipped as too big, {s['seconds']} s)"
    )


def replay_dirs(dirs: list[Path], case_limit: float = CASE_LIMIT_S) -> list[Result]:
    return run_items(["--replay-child"], [str(d) for d in dirs], case_limit)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="structural fuzzer for sc.InferenceSession + run")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--case-limit", type=float, default=CASE_LIMIT_S, help="seconds per case before it is a hang")
    p.add_argument("--no-save", action="store_true", help="do not write failures into tests/fuzz_corpus")
    p.add_argument("--replay", type=Path, help="replay one case folder (or every case under a corpus folder)")
    p.add_argument("--describe", type=int, help="print case N (of --seed) and write it to tests/.cache/fuzz-session/")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--replay-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--items", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child_main(a.seed, [int(x) for x in a.items.split(",") if x], None)
    if a.replay_child:
        return child_main(a.seed, None, [Path(x) for x in a.items.split(",") if x])
    if a.describe is not None:
        case = make_case(a.seed, a.describe)
        folder = CACHE_DIR / "describe" / case_id(case)
        shutil.rmtree(folder, ignore_errors=True)
        write_case_dir(
            case,
            folder,
            {
                "seed": a.seed,
                "index": a.describe,
                "seed_model": case.seed_model,
                "kind": case.kind,
                "mutation": case.desc,
            },
        )
        print(f"seed {a.seed} case {a.describe}: {case.seed_model} [{case.kind}] op {case.op}")
        for d in case.desc:
            print("  " + d)
        print(f"files: {folder}" + (f"  (not run: {case.skip})" if case.skip else ""))
        return 0
    if a.replay:
        dirs = (
            [a.replay]
            if (a.replay / "model.onnx").is_file()
            else sorted(d for d in a.replay.iterdir() if (d / "model.onnx").is_file())
        )
        bad = 0
        for r in replay_dirs(dirs, a.case_limit):
            extra = f" | {first_crash_line(r.stderr)}" if r.outcome in ("crash", "hang") else ""
            print(f"{r.outcome:6} {r.key}: {r.detail[:200]}{extra}")
            bad += r.outcome in FAILURES
        return 1 if bad else 0
    s = campaign(a.seed, a.start, a.count, a.jobs, a.case_limit, save=not a.no_save)
    if s["failures"]:
        print("failures (index, op, mutation kind, outcome, first stderr line):")
        for f in s["failures"]:
            print(f"  {f['index']:6} {f['op']:20} {f['kind']:28} {f['outcome']:6} {f['line'][:150]}")
    if s["saved"]:
        print(f"saved {len(s['saved'])} new case(s) into {CORPUS_DIR}")
    if s["too_big"]:
        print(f"not saved (over {MAX_CORPUS_CASE_BYTES} bytes): {s['too_big']}")
    print(summary_line(s))
    return 1 if s["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
