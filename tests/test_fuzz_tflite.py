"""Hostile input: >= 1,000 mutated .tflite files through sc.load and sc.Interpreter.

Every mutated file either loads or raises a `sc.SwiftconvError` subclass; when
it loads, `to_bytes()` and `summary()` work, and `sc.Interpreter(model_content=
...)` + `allocate_tensors()` + `invoke()` on inputs of the declared shapes and
dtypes either run or raise a `sc.SwiftconvError` subclass: never another
exception, a crash, a hang or unbounded memory (issue 9, acceptance item 4).
LiteRT itself dies on many of these files; we must not.

The mutations are structure-aware: a small reader of TFLite's FlatBuffers
layout (the tables of schema.fbs that models use; slot numbers below) finds
the offsets, vtables, vector lengths, indices, shapes, quantization parameters
and subgraph references of the committed fixtures, and each mutation corrupts
one of them (or truncates, flips bytes, splices). Mutations are deterministic
from (SEED, index); chunks run in child processes under RLIMIT_AS with a
timeout, and each child also checks that the resident memory a mutation adds
stays within what a file of that size can justify.

    python -m pytest tests/test_fuzz_tflite.py -q
    python tests/test_fuzz_tflite.py --child --start 123 --count 1   # replay one mutation
    python tests/test_fuzz_tflite.py --describe 123                  # what mutation 123 is
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
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_harness import FuzzCampaign  # noqa: E402

SEED = 20261207
N_MUTATIONS = 1200
N_CHUNKS = 8
CHUNK_TIMEOUT_S = 90.0
TOTAL_BUDGET_S = 300.0
MEMORY_LIMIT = 4 << 30  # RLIMIT_AS of each child
# Resident memory a mutation may add beyond the first clean run of its base: generous for
# intermediate tensors of the fixture models, far below what an absurd shape would need.
RSS_ALLOWANCE = 256 << 20
HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "tflite"
CRASH_DIR = HERE / ".cache" / "fuzz-tflite-crashes"

# The bases: small fixtures that cover convolutions, int8 quantization (per-channel), the fused
# LSTM, and WHILE subgraphs (Keras 3's LSTM), so subgraph references can be made cyclic.
BASE_NAMES = ("cnn_float32", "cnn_int8", "lstm_tfkeras_float32", "lstm_keras3_float32", "transformer_int8")

# ============================================================================
# A minimal FlatBuffers reader for TFLite's layout (schema.fbs field slots)
# ============================================================================

# table -> {field: (slot, kind)}; kind: "table", "[table]", "[int]", "[long]", "[float]", "[ubyte]",
# "string", "uint", "int", "byte", "ubyte", "ulong", "union"
SCHEMA = {
    "Model": {
        "version": (0, "uint"),
        "operator_codes": (1, "[OperatorCode]"),
        "subgraphs": (2, "[SubGraph]"),
        "description": (3, "string"),
        "buffers": (4, "[Buffer]"),
        "metadata_buffer": (5, "[int]"),
        "metadata": (6, "[Metadata]"),
        "signature_defs": (7, "[SignatureDef]"),
    },
    "SubGraph": {
        "tensors": (0, "[Tensor]"),
        "inputs": (1, "[int]"),
        "outputs": (2, "[int]"),
        "operators": (3, "[Operator]"),
        "name": (4, "string"),
    },
    "Tensor": {
        "shape": (0, "[int]"),
        "type": (1, "byte"),
        "buffer": (2, "uint"),
        "name": (3, "string"),
        "quantization": (4, "QuantizationParameters"),
        "shape_signature": (7, "[int]"),
    },
    "QuantizationParameters": {
        "scale": (2, "[float]"),
        "zero_point": (3, "[long]"),
        "quantized_dimension": (6, "int"),
    },
    "Operator": {
        "opcode_index": (0, "uint"),
        "inputs": (1, "[int]"),
        "outputs": (2, "[int]"),
        "builtin_options_type": (3, "ubyte"),
        "builtin_options": (4, "union"),
    },
    "OperatorCode": {
        "deprecated_builtin_code": (0, "byte"),
        "custom_code": (1, "string"),
        "version": (2, "int"),
        "builtin_code": (3, "int"),
    },
    "Buffer": {"data": (0, "[ubyte]"), "offset": (1, "ulong"), "size": (2, "ulong")},
    "Metadata": {"name": (0, "string"), "buffer": (1, "uint")},
    "SignatureDef": {
        "inputs": (0, "[TensorMap]"),
        "outputs": (1, "[TensorMap]"),
        "signature_key": (2, "string"),
        "subgraph_index": (4, "uint"),
    },
    "TensorMap": {"name": (0, "string"), "tensor_index": (1, "uint")},
}
SCALAR_SIZE = {"uint": 4, "int": 4, "byte": 1, "ubyte": 1, "ulong": 8, "float": 4, "long": 8}
# BuiltinOperator codes whose options hold subgraph indices (options field slots 0 and 1).
SUBGRAPH_CALLERS = {118: "IF", 119: "WHILE", 129: "CALL_ONCE"}


@dataclass
class Site:
    """A place in the file a mutation can corrupt."""

    kind: str  # "uoffset", "vector_len", "vtable", "soffset", "scalar", "index", "dim", "scale", "subgraph_ref", ...
    pos: int
    size: int
    what: str  # human-readable path, e.g. "subgraphs[0].tensors[3].buffer"


class Walker:
    """Collects mutation sites by walking the file from its root table."""

    def __init__(self, buf: bytes):
        self.buf = buf
        self.sites: list[Site] = []
        self.opcodes: list[int] = []

    def u32(self, p: int) -> int:
        return struct.unpack_from("<I", self.buf, p)[0]

    def i32(self, p: int) -> int:
        return struct.unpack_from("<i", self.buf, p)[0]

    def field_pos(self, table: int, slot: int) -> int | None:
        vt = table - self.i32(table)
        vt_size = struct.unpack_from("<H", self.buf, vt)[0]
        entry = 4 + 2 * slot
        if entry + 2 > vt_size:
            return None
        off = struct.unpack_from("<H", self.buf, vt + entry)[0]
        return table + off if off else None

    def deref(self, p: int) -> int:
        return p + self.u32(p)

    def table(self, t: int, name: str, path: str) -> dict:
        """Walks table `name` at `t`, recording sites; returns {field: value or position}."""
        vt = t - self.i32(t)
        self.sites.append(Site("soffset", t, 4, f"{path} (vtable offset)"))
        self.sites.append(Site("vtable", vt, 2, f"{path} vtable size"))
        self.sites.append(Site("vtable", vt + 2, 2, f"{path} object size"))
        out: dict = {}
        for fname, (slot, kind) in SCHEMA[name].items():
            p = self.field_pos(t, slot)
            fpath = f"{path}.{fname}"
            if p is None:
                continue
            self.sites.append(Site("vtable", vt + 4 + 2 * slot, 2, f"{fpath} (vtable entry)"))
            if kind in SCALAR_SIZE:
                size = SCALAR_SIZE[kind]
                fmt = {"uint": "<I", "int": "<i", "byte": "<b", "ubyte": "<B", "ulong": "<Q"}[kind]
                out[fname] = struct.unpack_from(fmt, self.buf, p)[0]
                out[fname + "@"] = p
                self.sites.append(Site("scalar", p, size, fpath))
            elif kind == "union":
                self.sites.append(Site("uoffset", p, 4, fpath))
                out[fname] = self.deref(p)
            elif kind == "string":
                self.sites.append(Site("uoffset", p, 4, fpath))
                s = self.deref(p)
                self.sites.append(Site("vector_len", s, 4, f"{fpath} length"))
            elif kind.startswith("["):
                self.sites.append(Site("uoffset", p, 4, fpath))
                v = self.deref(p)
                n = self.u32(v)
                self.sites.append(Site("vector_len", v, 4, f"{fpath} length"))
                elem = kind[1:-1]
                if elem in SCHEMA:
                    out[fname] = [
                        self.table(self.deref(v + 4 + 4 * i), elem, f"{fpath}[{i}]") for i in range(min(n, 4096))
                    ]
                    for i in range(min(n, 4096)):
                        self.sites.append(Site("uoffset", v + 4 + 4 * i, 4, f"{fpath}[{i}] (offset)"))
                else:
                    size = SCALAR_SIZE[elem]
                    out[fname] = [(v + 4 + size * i) for i in range(min(n, 1 << 20))]
            else:  # a nested table
                self.sites.append(Site("uoffset", p, 4, fpath))
                out[fname] = self.table(self.deref(p), kind, fpath)
        return out

    def walk(self) -> dict:
        self.sites.append(Site("uoffset", 0, 4, "root table offset"))
        model = self.table(self.u32(0), "Model", "model")
        self.opcodes = [
            max(c.get("deprecated_builtin_code", 0), c.get("builtin_code", 0)) for c in model.get("operator_codes", [])
        ]
        for si, sg in enumerate(model.get("subgraphs", [])):
            for ti, t in enumerate(sg.get("tensors", [])):
                base = f"subgraphs[{si}].tensors[{ti}]"
                if "buffer@" in t:
                    self.sites.append(Site("index", t["buffer@"], 4, f"{base}.buffer"))
                if "type@" in t:
                    self.sites.append(Site("dtype", t["type@"], 1, f"{base}.type"))
                for k, p in enumerate(t.get("shape", [])):
                    self.sites.append(Site("dim", p, 4, f"{base}.shape[{k}]"))
                for k, p in enumerate(t.get("shape_signature", [])):
                    self.sites.append(Site("dim", p, 4, f"{base}.shape_signature[{k}]"))
                q = t.get("quantization")
                if q:
                    for k, p in enumerate(q.get("scale", [])):
                        self.sites.append(Site("scale", p, 4, f"{base}.quantization.scale[{k}]"))
                    for k, p in enumerate(q.get("zero_point", [])):
                        self.sites.append(Site("zero_point", p, 8, f"{base}.quantization.zero_point[{k}]"))
                    if "quantized_dimension@" in q:
                        self.sites.append(Site("index", q["quantized_dimension@"], 4, f"{base}.quantized_dimension"))
            for key in ("inputs", "outputs"):
                for k, p in enumerate(sg.get(key, [])):
                    self.sites.append(Site("index", p, 4, f"subgraphs[{si}].{key}[{k}]"))
            for oi, op in enumerate(sg.get("operators", [])):
                base = f"subgraphs[{si}].operators[{oi}]"
                if "opcode_index@" in op:
                    self.sites.append(Site("index", op["opcode_index@"], 4, f"{base}.opcode_index"))
                for key in ("inputs", "outputs"):
                    for k, p in enumerate(op.get(key, [])):
                        self.sites.append(Site("index", p, 4, f"{base}.{key}[{k}]"))
                code = self.opcodes[op.get("opcode_index", 0)] if op.get("opcode_index", 0) < len(self.opcodes) else -1
                if code in SUBGRAPH_CALLERS and "builtin_options" in op:
                    opt = op["builtin_options"]
                    for slot in (0, 1):
                        p = self.field_pos(opt, slot)
                        if p is not None:
                            what = f"{base} ({SUBGRAPH_CALLERS[code]}) options slot {slot} (subgraph index)"
                            self.sites.append(Site("subgraph_ref", p, 4, what))
        for ci, c in enumerate(model.get("operator_codes", [])):
            for key in ("builtin_code", "deprecated_builtin_code", "version"):
                if key + "@" in c:
                    self.sites.append(
                        Site(
                            "opcode",
                            c[key + "@"],
                            4 if key != "deprecated_builtin_code" else 1,
                            f"operator_codes[{ci}].{key}",
                        )
                    )
        for bi, b in enumerate(model.get("buffers", [])):
            for key in ("offset", "size"):
                if key + "@" in b:
                    self.sites.append(Site("scalar", b[key + "@"], 8, f"buffers[{bi}].{key}"))
        for di, d in enumerate(model.get("signature_defs", [])):
            for key in ("inputs", "outputs"):
                for k, m in enumerate(d.get(key, [])):
                    if "tensor_index@" in m:
                        self.sites.append(
                            Site("index", m["tensor_index@"], 4, f"signature_defs[{di}].{key}[{k}].tensor_index")
                        )
            if "subgraph_index@" in d:
                self.sites.append(Site("index", d["subgraph_index@"], 4, f"signature_defs[{di}].subgraph_index"))
        return model


@dataclass
class Base:
    name: str
    data: bytes
    sites: list[Site]
    n_subgraphs: int


def build_bases() -> list[Base]:
    bases = []
    for name in BASE_NAMES:
        path = FIXTURES / f"{name}.tflite"
        data = path.read_bytes()
        w = Walker(data)
        model = w.walk()
        bases.append(Base(name, data, w.sites, len(model.get("subgraphs", []))))
    return bases


# ============================================================================
# Mutations
# ============================================================================


@dataclass
class Mutation:
    index: int
    kind: str
    desc: str
    data: bytes
    must_load: bool = False


def _put(data: bytes, pos: int, size: int, value: int) -> bytes:
    fmt = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}[size]
    b = bytearray(data)
    struct.pack_into(fmt, b, pos, value & ((1 << (8 * size)) - 1))
    return bytes(b)


def _sites(rng, bases, kinds):
    candidates = [(b, s) for b in bases for s in b.sites if s.kind in kinds]
    return rng.choice(candidates)


def _interesting(rng, size: int, data_len: int) -> int:
    top = (1 << (8 * size)) - 1
    return rng.choice(
        [0, 1, 2, 3, 7, top, top >> 1, (top >> 1) + 1, data_len, data_len - 1, data_len + 4, 0x10000, 0xFFFF, top - 3]
    )


def m_identity(rng, bases):
    b = rng.choice(bases)
    return f"unchanged {b.name}", b.data, {"must_load": True}


def m_truncate(rng, bases):
    b = rng.choice(bases)
    n = rng.choice([0, 3, 4, 7, 8, rng.randrange(len(b.data)), len(b.data) - 1, len(b.data) // 2, len(b.data) - 16])
    return f"{b.name} truncated to {n} of {len(b.data)} bytes", b.data[: max(0, n)], {}


def m_flip(rng, bases):
    b = rng.choice(bases)
    data = bytearray(b.data)
    k = rng.choice([1, 2, 4, 16, 64])
    for _ in range(k):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return f"{b.name} with {k} random bit flips", bytes(data), {}


def m_word(rng, bases):
    b = rng.choice(bases)
    pos = rng.randrange(0, len(b.data) - 4) & ~3
    v = _interesting(rng, 4, len(b.data))
    return f"{b.name} word at {pos} := {v:#x}", _put(b.data, pos, 4, v), {}


def _site_mutation(kinds, label):
    def m(rng, bases):
        b, s = _sites(rng, bases, kinds)
        v = _interesting(rng, s.size, len(b.data))
        return f"{b.name} {label} {s.what} := {v:#x}", _put(b.data, s.pos, s.size, v), {}

    return m


def m_index(rng, bases):
    """A tensor/buffer/opcode/input/output/signature index out of range or negative."""
    b, s = _sites(rng, bases, {"index"})
    v = rng.choice([-1, -2, -(1 << 31), 0x7FFFFFFF, 0xFFFF, 1 << 20, rng.randrange(1, 300)])
    return f"{b.name} index {s.what} := {v}", _put(b.data, s.pos, 4, v), {}


def m_dim(rng, bases):
    """Absurd shapes: huge, negative, zero, products that overflow."""
    b = rng.choice(bases)
    dims = [s for s in b.sites if s.kind == "dim"]
    data = b.data
    picks = rng.sample(dims, min(len(dims), rng.choice([1, 1, 2, 4])))
    vals = []
    for s in picks:
        v = rng.choice([0x7FFFFFFF, 1 << 30, 1 << 16, 65536 * 3, -2, -1000, 0, 10_000_000, 46341])
        data = _put(data, s.pos, 4, v)
        vals.append(f"{s.what}={v}")
    return f"{b.name} dims " + ", ".join(vals), data, {}


def m_dtype(rng, bases):
    b, s = _sites(rng, bases, {"dtype"})
    v = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 16, 17, 99, 127, 255])
    return f"{b.name} {s.what} := {v}", _put(b.data, s.pos, 1, v), {}


def m_quant(rng, bases):
    b, s = _sites(rng, bases, {"scale", "zero_point"})
    if s.kind == "scale":
        v = rng.choice([0x7FC00000, 0x7F800000, 0xFF800000, 0, 0x80000000, 0xBF800000, 0x00000001])
        return f"{b.name} {s.what} := float bits {v:#x}", _put(b.data, s.pos, 4, v), {}
    v = rng.choice([1 << 40, -(1 << 40), 128, -129, 300, 1 << 63])
    return f"{b.name} {s.what} := {v}", _put(b.data, s.pos, 8, v), {}


def m_opcode(rng, bases):
    b, s = _sites(rng, bases, {"opcode"})
    v = rng.choice([-1, 0, 127, 128, 205, 255, 1000, 0x7FFFFFFF, 32, 119, 118])
    return f"{b.name} {s.what} := {v}", _put(b.data, s.pos, s.size, v), {}


def m_subgraph_ref(rng, bases):
    """Subgraph references: cyclic (a subgraph calling itself or its caller) or out of range."""
    with_refs = [b for b in bases if any(s.kind == "subgraph_ref" for s in b.sites)]
    b = rng.choice(with_refs)
    s = rng.choice([s for s in b.sites if s.kind == "subgraph_ref"])
    v = rng.choice([0, 0, 1, 2, b.n_subgraphs, b.n_subgraphs + 5, -1, 0x7FFFFFFF])
    return f"{b.name} {s.what} := {v} ({b.n_subgraphs} subgraphs)", _put(b.data, s.pos, 4, v), {}


def m_splice(rng, bases):
    a, b = rng.choice(bases), rng.choice(bases)
    i, j = rng.randrange(len(a.data)), rng.randrange(len(b.data))
    n = rng.choice([16, 256, 4096])
    data = a.data[:i] + b.data[j : j + n] + a.data[i + n :]
    return f"{a.name}[{i}:{i + n}] replaced by {b.name}[{j}:{j + n}]", data, {}


def m_garbage(rng, bases):
    n = rng.choice([8, 16, 64, 1024])
    data = bytearray(rng.randbytes(n))
    if n >= 8:
        data[4:8] = b"TFL3"
    return f"{n} random bytes with the TFL3 identifier", bytes(data), {}


KINDS = [
    ("identity", m_identity),
    ("truncate", m_truncate),
    ("flip", m_flip),
    ("word", m_word),
    ("uoffset", _site_mutation({"uoffset"}, "offset")),
    ("vector_len", _site_mutation({"vector_len"}, "length")),
    ("vtable", _site_mutation({"vtable", "soffset"}, "vtable")),
    ("index", m_index),
    ("dim", m_dim),
    ("dtype", m_dtype),
    ("quant", m_quant),
    ("opcode", m_opcode),
    ("subgraph_ref", m_subgraph_ref),
    ("scalar", _site_mutation({"scalar"}, "scalar")),
    ("splice", m_splice),
    ("garbage", m_garbage),
]


def make_mutation(index: int, bases: list[Base]) -> Mutation:
    rng = random.Random(SEED * 1_000_003 + index)
    kind, fn = KINDS[index % len(KINDS)]
    desc, data, extra = fn(rng, bases)
    return Mutation(index, kind, desc, data, must_load=extra.get("must_load", False))


# ============================================================================
# Child: load and run mutations, report one JSON line per mutation
# ============================================================================


def _format(e: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(e), e)).strip()[:500]


def _feed(details, np):
    """Inputs of the declared shapes and dtypes (bounded: a hostile shape is not allocated)."""
    rng = np.random.default_rng(0)
    arrays = []
    for d in details:
        shape = [max(int(x), 1) for x in d["shape"]]
        count = 1
        for x in shape:
            count *= x
        if count > (1 << 24):
            return None  # the model declares an input larger than any fixture's: nothing to feed
        dtype = np.dtype(d["dtype"])
        if dtype.kind == "f":
            arr = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            arr = rng.integers(max(info.min, -100), min(info.max, 100), size=shape, dtype=dtype)
        elif dtype.kind == "b":
            arr = rng.integers(0, 2, size=shape).astype(bool)
        else:
            return None
        arrays.append(arr)
    return arrays


def _try(sc, data: bytes, path: Path) -> tuple[str, str]:
    """('ran' | 'loaded' | 'rejected' | 'bad', detail)."""
    import numpy as np

    allowed = (sc.SwiftconvError,)
    try:
        m = sc.load(str(path))
    except allowed as e:
        if not str(e).strip():
            return "bad", f"{type(e).__name__} with an empty message"
        return "rejected", f"load: {type(e).__name__}: {str(e)[:200]}"
    except BaseException as e:  # noqa: BLE001 - any other exception breaks the contract
        return "bad", "load raised " + _format(e)
    try:
        out = m.to_bytes()
        assert isinstance(out, bytes)
        assert isinstance(m.summary(), str)
    except BaseException as e:  # noqa: BLE001
        return "bad", "loaded, but to_bytes()/summary() raised " + _format(e)
    try:
        it = sc.Interpreter(model_content=data)
        it.allocate_tensors()
        details = it.get_input_details()
        feed = _feed(details, np)
        if feed is None:
            return "loaded", "inputs too large to feed"
        for d, arr in zip(details, feed):
            it.set_tensor(d["index"], arr)
        it.invoke()
        for d in it.get_output_details():
            it.get_tensor(d["index"])
    except allowed as e:
        if not str(e).strip():
            return "bad", f"{type(e).__name__} with an empty message"
        return "loaded", f"interpreter: {type(e).__name__}: {str(e)[:200]}"
    except BaseException as e:  # noqa: BLE001
        return "bad", "loaded, but the interpreter raised " + _format(e)
    return "ran", f"{len(out)} bytes"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def child_main(start: int, count: int, workdir: Path) -> int:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import swiftconv as sc

    bases = build_bases()
    # Warm up on every clean base, so the memory check measures what a mutation adds.
    for b in bases:
        p = workdir / f"base-{b.name}.tflite"
        p.write_bytes(b.data)
        _try(sc, b.data, p)
    baseline = _rss_bytes()
    for index in range(start, start + count):
        mut = make_mutation(index, bases)
        path = workdir / f"m{index}.tflite"
        path.write_bytes(mut.data)
        print(json.dumps({"start": index, "kind": mut.kind, "desc": mut.desc[:300]}), flush=True)
        t0 = time.perf_counter()
        status, detail = _try(sc, mut.data, path)
        problems = [detail] if status == "bad" else []
        if mut.must_load and status != "ran":
            problems.append(f"a valid model did not run: {detail}")
        grown = _rss_bytes() - baseline
        if grown > RSS_ALLOWANCE:
            problems.append(f"resident memory grew by {grown >> 20} MiB (allowed {RSS_ALLOWANCE >> 20} MiB)")
            baseline = _rss_bytes()
        elapsed = round(time.perf_counter() - t0, 4)
        print(
            json.dumps(
                {"done": index, "results": {"file": [status, detail]}, "problems": problems, "seconds": elapsed}
            ),
            flush=True,
        )
        path.unlink()
    print(json.dumps({"finished": True}), flush=True)
    return 0


# ============================================================================
# Tests (parent side)
# ============================================================================


def _save_reproducer(index: int) -> Path:
    """Write mutation `index` where a developer can find it."""
    mut = make_mutation(index, build_bases())
    dest = CRASH_DIR / f"seed{SEED}-m{index}"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    model = dest / "model.tflite"
    model.write_bytes(mut.data)
    (dest / "README.txt").write_text(f"seed {SEED}, mutation {index} ({mut.kind}): {mut.desc}\nmodel: {model}\n")
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
def test_fuzz_tflite(sc, chunk):
    CAMPAIGN.run_chunk(chunk)


def test_mutations_are_deterministic_and_cover_every_kind():
    bases = build_bases()
    assert all(b.sites for b in bases)
    assert any(s.kind == "subgraph_ref" for b in bases for s in b.sites), "no WHILE/IF base: cycles untested"
    picks = [0, 1, 13, 17, 500, N_MUTATIONS - 1]
    a = [make_mutation(i, bases) for i in picks]
    b = [make_mutation(i, bases) for i in picks]
    assert [(m.desc, m.data) for m in a] == [(m.desc, m.data) for m in b]
    assert N_MUTATIONS >= 1000
    assert {make_mutation(i, bases).kind for i in range(len(KINDS))} == {k for k, _ in KINDS}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="fuzz sc.load / sc.Interpreter on .tflite (child side / replay)")
    p.add_argument("--child", action="store_true", help="load and run mutations and print JSON lines")
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
