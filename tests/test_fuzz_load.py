"""Hostile input: sc.load on >= 1,000 mutated model files.

Every mutated file either loads (and then to_bytes() and summary() work, and
sc.check_model returns or raises sc.ValidationError) or raises
sc.ModelFormatError / sc.ValidationError: never another exception, a crash, a
hang or unbounded memory (API.md section 5). Mutations are deterministic from
(SEED, index); each chunk runs in a child process under RLIMIT_AS so a segfault
or a runaway allocation fails the test with the mutation's index, its
description and a copy of the offending files under tests/.cache/fuzz-crashes/.

    python -m pytest tests/test_fuzz_load.py -q
    python tests/test_fuzz_load.py --child --start 123 --count 1   # replay one mutation
    python tests/test_fuzz_load.py --describe 123                  # what mutation 123 is
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_harness import FuzzCampaign  # noqa: E402

SEED = 20240917
N_MUTATIONS = 1200
N_CHUNKS = 8
CHUNK_TIMEOUT_S = 60.0
TOTAL_BUDGET_S = 115.0  # the whole file, all chunks together
MEMORY_LIMIT = 4 << 30  # RLIMIT_AS of each child
HERE = Path(__file__).resolve().parent
CRASH_DIR = HERE / ".cache" / "fuzz-crashes"

# ============================================================================
# Protobuf wire-format helpers (just enough to find and corrupt fields)
# ============================================================================


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int] | None:
    result = shift = 0
    while pos < end and shift < 70:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    return None


def tag(field_number: int, wire_type: int) -> bytes:
    return varint(field_number << 3 | wire_type)


def ld(field_number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return tag(field_number, 2) + varint(len(payload)) + payload


@dataclass
class LenField:
    tag_at: int  # offset of the tag
    len_at: int  # offset of the length varint
    len_size: int
    start: int  # payload
    length: int


def scan_len_fields(buf: bytes, start: int = 0, end: int | None = None, depth: int = 0, out=None):
    """All length-delimited fields, recursing into payloads that parse as messages."""
    out = [] if out is None else out
    end = len(buf) if end is None else end
    pos = start
    found = []
    while pos < end:
        t = read_varint(buf, pos, end)
        if t is None or t[0] >> 3 == 0:
            return None
        key, p = t
        wt = key & 7
        if wt == 0:
            v = read_varint(buf, p, end)
            if v is None:
                return None
            pos = v[1]
        elif wt == 1:
            pos = p + 8
        elif wt == 5:
            pos = p + 4
        elif wt == 2:
            v = read_varint(buf, p, end)
            if v is None or v[1] + v[0] > end:
                return None
            found.append(LenField(pos, p, v[1] - p, v[1], v[0]))
            pos = v[1] + v[0]
        else:
            return None
    if pos != end:
        return None
    out.extend(found)
    if depth < 24:
        for f in found:
            if f.length:
                scan_len_fields(buf, f.start, f.start + f.length, depth + 1, out)
    return out


# ============================================================================
# Base models
# ============================================================================


@dataclass
class Base:
    name: str
    model: bytes  # serialized ModelProto
    sidecar: dict[str, bytes] = field(default_factory=dict)  # files beside model.onnx


def build_bases() -> list[Base]:
    import onnx
    from conftest import make_conv_net, make_if_model, save_with_external_data

    bases = [
        Base("conv_raw", make_conv_net(0, raw=True).SerializeToString()),
        Base("conv_float_data", make_conv_net(1, raw=False).SerializeToString()),
        Base("if_subgraph", make_if_model().SerializeToString()),
    ]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "model.onnx"
        save_with_external_data(make_conv_net(2, raw=True), p, "weights.bin")
        onnx.checker.check_model(str(p))
        bases.append(Base("external", p.read_bytes(), {"weights.bin": (Path(d) / "weights.bin").read_bytes()}))
    for b in bases[:3]:  # the unmutated bases are valid: a sanity check of the generator
        onnx.checker.check_model(onnx.ModelProto.FromString(b.model))
    return bases


# ============================================================================
# Mutations
# ============================================================================


@dataclass
class Mutation:
    index: int
    kind: str
    desc: str
    model: bytes
    sidecar: dict[str, bytes] = field(default_factory=dict)
    outside: dict[str, bytes] = field(default_factory=dict)  # files one folder up ("../")
    must_load: bool = False
    must_raise: bool = False


def _proto(base: Base):
    import onnx

    return onnx.ModelProto.FromString(base.model)


def m_identity(rng, bases, ext):
    b = rng.choice(bases)
    return f"unchanged {b.name}", b.model, b.sidecar, {"must_load": True}


def m_truncate(rng, bases, ext):
    b = rng.choice(bases)
    n = rng.choice([0, 1, 2, rng.randrange(len(b.model)), len(b.model) - 1, len(b.model) // 2])
    return f"{b.name} truncated to {n} of {len(b.model)} bytes", b.model[:n], b.sidecar, {}


def m_flip(rng, bases, ext):
    b = rng.choice(bases)
    data = bytearray(b.model)
    k = rng.choice([1, 1, 2, 4, 8, 32])
    region = rng.choice(["any", "head", "tail"])
    lo, hi = {"any": (0, len(data)), "head": (0, min(96, len(data))), "tail": (max(0, len(data) - 96), len(data))}[
        region
    ]
    at = sorted(rng.randrange(lo, hi) for _ in range(k))
    for i in at:
        data[i] ^= rng.randrange(1, 256)
    return f"{b.name}: {k} byte(s) flipped in {region} at {at[:8]}", bytes(data), b.sidecar, {}


HUGE_LENGTHS = [2**31 - 1, 2**31, 2**32 - 1, 2**32 + 7, 2**62, 2**63 - 1, 2**64 - 1]


def m_huge_length(rng, bases, ext):
    b = rng.choice(bases)
    fields = scan_len_fields(b.model)
    f = rng.choice(fields)
    new = rng.choice(HUGE_LENGTHS + [f.length + 1, f.length + 4096, len(b.model)])
    data = b.model[: f.len_at] + varint(new) + b.model[f.len_at + f.len_size :]
    return f"{b.name}: length of field at {f.tag_at} ({f.length}) declared as {new}", data, b.sidecar, {}


def m_bad_varint(rng, bases, ext):
    b = rng.choice(bases)
    fields = scan_len_fields(b.model)
    f = rng.choice(fields)
    variant = rng.choice(["overlong_len", "unterminated_end", "field_zero", "wire_type_6", "wire_type_7", "end_group"])
    if variant == "overlong_len":  # 11+ continuation bytes
        data = b.model[: f.len_at] + b"\xff" * rng.choice([10, 11, 20]) + b"\x01" + b.model[f.len_at + f.len_size :]
    elif variant == "unterminated_end":
        data = b.model + tag(1, 0) + b"\xff" * rng.choice([1, 9, 12])
    else:
        bad = {"field_zero": b"\x02\x05", "wire_type_6": b"\x0e\x00", "wire_type_7": b"\x0f", "end_group": b"\x0c"}[
            variant
        ]
        data = b.model[: f.tag_at] + bad + b.model[f.tag_at :]
    return f"{b.name}: {variant} near offset {f.tag_at}", data, b.sidecar, {}


ABSURD_DIMS = [
    [2**40, 2**40],
    [-1, 4],
    [-(2**63)],
    [2**31, 2**31, 2**31],
    [2**62, 4],
    [2**63 - 1],
    [0],
    [1] * 64,
    [3, 0, 2**62],
]


def m_absurd_dims(rng, bases, ext):
    b = rng.choice([x for x in bases if x.name != "if_subgraph"])
    m = _proto(b)
    target = rng.choice(["initializer", "value_info"])
    dims = rng.choice(ABSURD_DIMS)
    if target == "initializer":
        t = rng.choice(list(m.graph.initializer))
        del t.dims[:]
        t.dims.extend(dims)
        what = f"initializer {t.name}"
    else:
        vi = rng.choice([*m.graph.input, *m.graph.output])
        shape = vi.type.tensor_type.shape
        shape.ClearField("dim")
        for d in dims:
            shape.dim.add().dim_value = d
        what = f"value_info {vi.name}"
    return f"{b.name}: {what} dims = {dims}", m.SerializeToString(), b.sidecar, {}


def m_bad_tensor(rng, bases, ext):
    b = rng.choice([x for x in bases if x.name != "external"])
    m = _proto(b)
    t = rng.choice(list(m.graph.initializer) or [None])
    if t is None:  # if_subgraph keeps its tensors in subgraphs
        t = m.graph.node[0].attribute[0].g.initializer[0]
    variant = rng.choice(
        [
            "data_type",
            "raw_short",
            "raw_long",
            "typed_short",
            "typed_long",
            "both_fields",
            "string_raw",
            "location_enum",
        ]
    )
    if variant == "data_type":
        t.data_type = rng.choice([0, 999, 2**31 - 1, 8, 17, 21, 23])
    elif variant == "raw_short":
        data = t.raw_data or b"\x00" * 8
        t.ClearField("float_data")
        t.raw_data = data[: len(data) // 2 - 1]
    elif variant == "raw_long":
        data = t.raw_data or b""
        t.ClearField("float_data")
        t.raw_data = data + b"\x01" * rng.choice([1, 3, 4096])
    elif variant == "typed_short":
        t.ClearField("raw_data")
        del t.float_data[:]
        t.float_data.extend([1.0] * max(0, rng.randrange(0, 3)))
    elif variant == "typed_long":
        t.ClearField("raw_data")
        del t.float_data[:]
        t.float_data.extend([1.0] * 100_000)
    elif variant == "both_fields":
        t.float_data.extend([2.0] * 4)
        t.raw_data = t.raw_data or b"\x00" * 16
    elif variant == "string_raw":
        t.data_type = 8  # STRING
    else:
        t.data_location = 1  # EXTERNAL, with no external_data entries
    return f"{b.name}: tensor {t.name} {variant}", m.SerializeToString(), b.sidecar, {}


_BOMB_CACHE: dict[tuple[str, int], bytes] = {}


def _graph_bomb(depth: int) -> bytes:
    """GraphProto > node > attribute(type GRAPH) > g > ... `depth` times, built inside-out."""
    attr_head = ld(1, b"g") + tag(20, 0) + varint(5)
    lengths = []
    inner = len(ld(2, b"leaf"))  # innermost graph: just a name
    for _ in range(depth):
        attr_len = len(attr_head) + len(tag(6, 2)) + len(varint(inner)) + inner
        node_len = len(tag(5, 2)) + len(varint(attr_len)) + attr_len
        lengths.append((inner, attr_len, node_len))
        inner = len(tag(1, 2)) + len(varint(node_len)) + node_len
    parts = []
    for g_len, attr_len, node_len in reversed(lengths):
        parts += [tag(1, 2), varint(node_len), tag(5, 2), varint(attr_len), attr_head, tag(6, 2), varint(g_len)]
    parts.append(ld(2, b"leaf"))
    graph = b"".join(parts)
    return tag(1, 0) + varint(8) + ld(8, tag(2, 0) + varint(17)) + tag(7, 2) + varint(len(graph)) + graph


def _type_bomb(depth: int) -> bytes:
    """A graph input typed sequence(sequence(...(tensor)))."""
    inner = ld(1, tag(1, 0) + varint(1))  # TypeProto{tensor_type{elem_type: FLOAT}}
    for _ in range(depth):
        inner = ld(4, ld(1, inner))  # TypeProto{sequence_type{elem_type: inner}}
    vi = ld(1, b"x") + ld(2, inner)
    graph = ld(11, vi) + ld(2, b"g")
    return tag(1, 0) + varint(8) + ld(8, tag(2, 0) + varint(17)) + ld(7, graph)


def _group_bomb(depth: int) -> bytes:
    """Unknown field 99 as nested start-group markers: skipping it naively recurses."""
    return tag(1, 0) + varint(8) + tag(99, 3) * depth + tag(99, 4) * depth


def _width_bomb(count: int) -> bytes:
    """`count` empty nodes: tiny on disk, many objects in memory."""
    graph = (tag(1, 2) + b"\x00") * count + ld(2, b"wide")
    return tag(1, 0) + varint(8) + ld(8, tag(2, 0) + varint(17)) + ld(7, graph)


def m_nesting_bomb(rng, bases, ext):
    variant = rng.choice(["graph", "graph", "type", "group", "width"])
    if variant == "width":
        size = rng.choice([100_000, 250_000])
    elif variant == "type":
        size = rng.choice([50, 200, 5_000])  # built outside-in: quadratic, keep it modest
    else:
        size = rng.choice([3, 50, 101, 1_000, 100_000])
    key = (variant, size)
    if key not in _BOMB_CACHE:
        build = {"graph": _graph_bomb, "type": _type_bomb, "group": _group_bomb, "width": _width_bomb}[variant]
        _BOMB_CACHE[key] = build(size)
    data = _BOMB_CACHE[key]
    return f"{variant} bomb, size {size} ({len(data)} bytes)", data, {}, {}


def m_structure(rng, bases, ext):
    """Valid protobuf, wrong model: dangling names, duplicate names, absurd versions."""
    b = rng.choice([x for x in bases if x.name != "external"])
    m = _proto(b)
    variant = rng.choice(
        [
            "dangling_input",
            "dup_initializer",
            "opset_huge",
            "ir_negative",
            "no_graph",
            "empty_op",
            "cycle",
            "missing_subgraph",
            "dup_output",
        ]
    )
    g = m.graph
    if variant == "dangling_input":
        g.node[0].input[0] = "nowhere"
    elif variant == "dup_initializer" and g.initializer:
        g.initializer.add().CopyFrom(g.initializer[0])
    elif variant == "opset_huge":
        m.opset_import[0].version = rng.choice([0, 10**9, 2**63 - 1, -1])
    elif variant == "ir_negative":
        m.ir_version = rng.choice([-1, 0, 10**6])
    elif variant == "no_graph":
        m.ClearField("graph")
    elif variant == "empty_op":
        g.node[0].op_type = ""
    elif variant == "cycle" and len(g.node) > 1:
        g.node[0].input.append(g.node[-1].output[0])
    elif variant == "missing_subgraph":
        for n in g.node:
            if n.op_type == "If":
                del n.attribute[:]
    else:
        g.node[-1].output.append(g.node[0].output[0])
    return f"{b.name}: {variant}", m.SerializeToString(), b.sidecar, {}


def m_splice(rng, bases, ext):
    a, c = rng.choice(bases), rng.choice(bases)
    i, j = sorted(rng.randrange(len(c.model)) for _ in range(2))
    at = rng.randrange(len(a.model))
    variant = rng.choice(["insert", "replace", "delete", "duplicate"])
    if variant == "insert":
        data = a.model[:at] + c.model[i:j] + a.model[at:]
    elif variant == "replace":
        data = a.model[:at] + c.model[i:j] + a.model[at + (j - i) :]
    elif variant == "delete":
        data = a.model[:i] + a.model[j:]
        c = a
    else:
        data = a.model[:j] + a.model[i:j] + a.model[j:]
        c = a
    return f"{variant} {c.name}[{i}:{j}] into {a.name} at {at}", data, a.sidecar, {}


def m_garbage(rng, bases, ext):
    n = rng.choice([1, 7, 100, 4096, 65536])
    variant = rng.choice(["random", "zeros", "ff", "tflite_magic", "text"])
    if variant == "random":
        data = bytes(rng.randrange(256) for _ in range(min(n, 4096)))
    elif variant == "zeros":
        data = b"\x00" * n
    elif variant == "ff":
        data = b"\xff" * n
    elif variant == "tflite_magic":  # looks like TFLite by its identifier, is not
        data = b"\x1c\x00\x00\x00TFL3" + bytes(rng.randrange(256) for _ in range(min(n, 512)))
    else:
        data = b"ir_version: 8\ngraph { name: 'text format is not binary' }\n"
    return f"garbage: {variant}, {len(data)} bytes", data, {}, {}


def m_external(rng, bases, ext):
    """Corrupt the external-data references of the external base."""
    import onnx

    m = _proto(ext)
    weights = ext.sidecar["weights.bin"]
    inits = [t for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    t = rng.choice(inits)
    entries = {e.key: e.value for e in t.external_data}
    sidecar = dict(ext.sidecar)
    extra: dict = {}
    outside: dict[str, bytes] = {}
    variant = rng.choice(
        [
            "dotdot",
            "dotdot_deep",
            "absolute",
            "absolute_etc",
            "offset_beyond",
            "length_beyond",
            "offset_huge",
            "length_huge",
            "offset_negative",
            "offset_text",
            "no_location",
            "empty_location",
            "dir_location",
            "missing_file",
            "weights_truncated",
            "no_entries",
            "nul_in_location",
            "sum_overflow",
        ]
    )
    if variant == "dotdot":
        entries["location"] = "../secret.bin"
        outside["secret.bin"] = weights
        extra["must_raise"] = True
    elif variant == "dotdot_deep":
        entries["location"] = "sub/../../secret.bin"
        outside["secret.bin"] = weights
        extra["must_raise"] = True
    elif variant == "absolute":
        entries["location"] = "@ABS@/secret.bin"  # filled in with the real folder by the child
        outside["secret.bin"] = weights
        extra["must_raise"] = True
    elif variant == "absolute_etc":
        entries["location"] = "/etc/passwd"
        entries.pop("length", None)
        entries["offset"] = "0"
        extra["must_raise"] = True
    elif variant == "offset_beyond":
        entries["offset"] = str(len(weights) + rng.choice([0, 1, 4096]))
    elif variant == "length_beyond":
        entries["length"] = str(len(weights) + rng.choice([1, 4096]))
    elif variant == "offset_huge":
        entries["offset"] = str(rng.choice([2**31, 2**63 - 1, 2**64 - 1, 10**30]))
    elif variant == "length_huge":
        entries["length"] = str(rng.choice([2**40, 2**63 - 1, 2**64 + 5]))
    elif variant == "offset_negative":
        entries["offset"] = str(rng.choice([-1, -4096, -(2**63)]))
    elif variant == "offset_text":
        entries[rng.choice(["offset", "length"])] = rng.choice(
            ["abc", "", "1e3", "0x10", " 12", "99999999999999999999999"]
        )
    elif variant == "no_location":
        entries.pop("location")
    elif variant == "empty_location":
        entries["location"] = ""
    elif variant == "dir_location":
        entries["location"] = rng.choice([".", "./", "sub"])
        sidecar["sub/placeholder"] = b""
    elif variant == "missing_file":
        entries["location"] = "no_such_weights.bin"
    elif variant == "weights_truncated":
        sidecar["weights.bin"] = weights[: rng.randrange(len(weights))]
    elif variant == "no_entries":
        entries = {}
    elif variant == "nul_in_location":
        entries["location"] = "weights.bin\x00.txt"
    else:  # offset + length overflows int64 / uint64
        entries["offset"] = str(2**63 - 8)
        entries["length"] = str(16)
    del t.external_data[:]
    for k, v in entries.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return f"external {t.name}: {variant} {entries}", m.SerializeToString(), sidecar, {"outside": outside, **extra}


# Weighted round-robin: index i uses KINDS[i % len(KINDS)].
KINDS = [
    ("identity", m_identity),
    ("truncate", m_truncate),
    ("truncate", m_truncate),
    ("flip", m_flip),
    ("flip", m_flip),
    ("flip", m_flip),
    ("huge_length", m_huge_length),
    ("huge_length", m_huge_length),
    ("bad_varint", m_bad_varint),
    ("absurd_dims", m_absurd_dims),
    ("absurd_dims", m_absurd_dims),
    ("bad_tensor", m_bad_tensor),
    ("bad_tensor", m_bad_tensor),
    ("nesting_bomb", m_nesting_bomb),
    ("structure", m_structure),
    ("splice", m_splice),
    ("garbage", m_garbage),
    ("external", m_external),
    ("external", m_external),
    ("external", m_external),
]


def make_mutation(index: int, bases: list[Base]) -> Mutation:
    rng = random.Random(SEED * 1_000_003 + index)
    kind, fn = KINDS[index % len(KINDS)]
    ext = next(b for b in bases if b.name == "external")
    desc, data, sidecar, extra = fn(rng, bases, ext)
    return Mutation(
        index,
        kind,
        desc,
        data,
        dict(sidecar),
        outside=extra.get("outside", {}),
        must_load=extra.get("must_load", False),
        must_raise=extra.get("must_raise", False),
    )


# ============================================================================
# Child: load mutations, report one JSON line per mutation
# ============================================================================


def _write_case(root: Path, mut: Mutation) -> Path:
    case = root / f"m{mut.index}"
    case.mkdir(parents=True)
    for name, data in mut.outside.items():
        (root / name).write_bytes(data)
    for name, data in mut.sidecar.items():
        p = case / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    model = mut.model
    if b"@ABS@" in model:  # an absolute location, known only now
        import onnx

        m = onnx.ModelProto.FromString(mut.model)
        for t in m.graph.initializer:
            for e in t.external_data:
                e.value = e.value.replace("@ABS@", str(root))
        model = m.SerializeToString()
    (case / "model.onnx").write_bytes(model)
    return case / "model.onnx"


def _try(sc, src) -> tuple[str, str]:
    """('loaded' | 'rejected' | 'bad', detail)."""
    allowed = (sc.ModelFormatError, sc.ValidationError)
    try:
        m = sc.load(src)
    except allowed as e:
        msg = str(e)
        if not msg.strip():
            return "bad", f"{type(e).__name__} with an empty message"
        return "rejected", f"{type(e).__name__}: {msg[:200]}"
    except BaseException as e:  # noqa: BLE001 - any other exception breaks the contract
        return "bad", "load raised " + "".join(traceback.format_exception_only(type(e), e)).strip()[:500]
    try:
        data = m.to_bytes()
    except BaseException as e:  # noqa: BLE001
        return "bad", "loaded, but to_bytes() raised " + "".join(traceback.format_exception_only(type(e), e)).strip()[
            :500
        ]
    if not isinstance(data, bytes):
        return "bad", f"to_bytes() returned {type(data).__name__}"
    # What a user does next with a model that loaded must not crash either.
    try:
        text = m.summary()
        assert isinstance(text, str), f"summary() returned {type(text).__name__}"
    except BaseException as e:  # noqa: BLE001
        return "bad", "loaded, but summary() raised " + "".join(traceback.format_exception_only(type(e), e)).strip()[
            :500
        ]
    try:
        sc.check_model(m)
    except sc.ValidationError:
        pass
    except BaseException as e:  # noqa: BLE001
        return "bad", "loaded, but check_model() raised " + "".join(
            traceback.format_exception_only(type(e), e)
        ).strip()[:500]
    return "loaded", f"{len(data)} bytes"


def child_main(start: int, count: int, workdir: Path) -> int:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.path.insert(0, str(HERE))
    import swiftconv as sc

    bases = build_bases()
    for index in range(start, start + count):
        mut = make_mutation(index, bases)
        root = workdir / f"chunk-{index}"
        path = _write_case(root, mut)
        print(json.dumps({"start": index, "kind": mut.kind, "desc": mut.desc[:300]}), flush=True)
        t0 = time.perf_counter()
        results = {"path": _try(sc, str(path))}
        if not mut.outside:  # the same bytes from memory (external data may then be refused)
            results["bytes"] = _try(sc, path.read_bytes())
        problems = [f"{how}: {detail}" for how, (status, detail) in results.items() if status == "bad"]
        if mut.must_load and results["path"][0] != "loaded":
            problems.append(f"a valid model did not load from its path: {results['path'][1]}")
        if mut.must_load and not mut.sidecar and results["bytes"][0] != "loaded":
            problems.append(f"a valid model did not load from bytes: {results['bytes'][1]}")
        if mut.must_raise and results["path"][0] == "loaded":
            problems.append("loaded a model whose external data lies outside the model's folder")
        elapsed = round(time.perf_counter() - t0, 4)
        print(json.dumps({"done": index, "results": results, "problems": problems, "seconds": elapsed}), flush=True)
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"finished": True}), flush=True)
    return 0


# ============================================================================
# Tests (parent side)
# ============================================================================

CAMPAIGN = FuzzCampaign(
    script=Path(__file__).resolve(),
    seed=SEED,
    n_mutations=N_MUTATIONS,
    n_chunks=N_CHUNKS,
    chunk_timeout_s=CHUNK_TIMEOUT_S,
    total_budget_s=TOTAL_BUDGET_S,
    save_reproducer=lambda index: _save_reproducer(index),
)


def _save_reproducer(index: int) -> Path:
    """Write the files of mutation `index` where a developer can find them."""
    sys.path.insert(0, str(HERE))
    mut = make_mutation(index, build_bases())
    dest = CRASH_DIR / f"seed{SEED}-m{index}"
    shutil.rmtree(dest, ignore_errors=True)
    model = _write_case(dest, mut)
    (dest / "README.txt").write_text(f"seed {SEED}, mutation {index} ({mut.kind}): {mut.desc}\nmodel: {model}\n")
    return model


@pytest.mark.parametrize("chunk", range(N_CHUNKS))
def test_fuzz_load(sc, chunk):
    CAMPAIGN.run_chunk(chunk)


def test_mutation_generator_is_deterministic_and_covers_every_kind():
    sys.path.insert(0, str(HERE))
    bases = build_bases()
    picks = [0, 1, 13, 17, 500, N_MUTATIONS - 1]
    a = [make_mutation(i, bases) for i in picks]
    b = [make_mutation(i, bases) for i in picks]
    assert [(m.desc, m.model) for m in a] == [(m.desc, m.model) for m in b]
    assert N_MUTATIONS >= 1000
    assert {make_mutation(i, bases).kind for i in range(len(KINDS))} == {k for k, _ in KINDS}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="fuzz sc.load (child side / replay)")
    p.add_argument("--child", action="store_true", help="load mutations and print JSON lines")
    p.add_argument("--describe", type=int, help="print what mutation N is and write its files")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--count", type=int, default=N_MUTATIONS)
    p.add_argument("--workdir", type=Path)
    args = p.parse_args(argv)
    if args.describe is not None:
        print((_save_reproducer(args.describe).parent.parent / "README.txt").read_text(), end="")
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
