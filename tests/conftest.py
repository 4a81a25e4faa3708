"""Shared fixtures for the Python test suite.

Besides small model builders this file owns the ONNX backend-case catalogue
used by test_roundtrip.py: every model of onnx's backend test suite (the
`node` cases, built in memory by onnx and written once to
tests/.cache/onnx-backend/<onnx version>/node/<case>/model.onnx, plus the
`simple`, `pytorch-converted`, `pytorch-operator` and `light` models that onnx
ships as files) and a few hand-made `synthetic` models for proto features the
backend cases never use (local functions, sparse initializers, value_info,
metadata, every typed data field).

Any test that takes a `backend_case` argument is parametrized over all of
them; cases named in tests/known_failures.txt are marked xfail(strict=True).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
EXAMPLES_DIR = REPO_DIR / "examples"
CACHE_DIR = TESTS_DIR / ".cache" / "onnx-backend" / onnx.__version__
KNOWN_FAILURES_FILE = TESTS_DIR / "known_failures.txt"
ONNX_DATA_DIR = Path(onnx.__file__).resolve().parent / "backend" / "test" / "data"

# `real` is left out on purpose: its cases are download URLs, not files.
FILE_KINDS = ("simple", "pytorch-converted", "pytorch-operator")
KINDS = ("node", *FILE_KINDS, "light", "synthetic")


@dataclasses.dataclass(frozen=True)
class BackendCase:
    kind: str
    name: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


# --------------------------------------------------------------------------
# Backend-case catalogue
# --------------------------------------------------------------------------

_COMPLETE_MARKER = "CASES"  # written last; lists the case names of a finished cache


def _write_cache(kind_dir: Path, models: dict[str, onnx.ModelProto]) -> None:
    """Write models to kind_dir atomically (a temp dir renamed into place)."""
    kind_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{kind_dir.name}-", dir=kind_dir.parent))
    try:
        for name, model in models.items():
            (tmp / name).mkdir()
            (tmp / name / "model.onnx").write_bytes(model.SerializeToString())
        (tmp / _COMPLETE_MARKER).write_text("\n".join(sorted(models)) + "\n")
        if kind_dir.exists():
            shutil.rmtree(kind_dir)
        os.replace(tmp, kind_dir)
    except FileExistsError:
        # Another process finished first; its cache is as good as ours.
        shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _cached_cases(kind: str, build) -> list[BackendCase]:
    kind_dir = CACHE_DIR / kind
    marker = kind_dir / _COMPLETE_MARKER
    if not marker.exists():
        _write_cache(kind_dir, build())
    names = marker.read_text().split()
    return [BackendCase(kind, n, kind_dir / n / "model.onnx") for n in names]


def _build_node_models() -> dict[str, onnx.ModelProto]:
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators divide by zero on purpose
        cases = load_model_tests(kind="node")
    return {c.name: c.model for c in cases}


def _file_cases(kind: str) -> list[BackendCase]:
    kind_dir = ONNX_DATA_DIR / kind
    return [
        BackendCase(kind, d.name, d / "model.onnx") for d in sorted(kind_dir.iterdir()) if (d / "model.onnx").is_file()
    ]


def _light_cases() -> list[BackendCase]:
    return [BackendCase("light", p.stem, p) for p in sorted((ONNX_DATA_DIR / "light").glob("*.onnx"))]


_CASES: list[BackendCase] | None = None


def backend_cases() -> list[BackendCase]:
    """All round-trip cases, in a stable order (built once per process)."""
    global _CASES
    if _CASES is None:
        cases = _cached_cases("node", _build_node_models)
        for kind in FILE_KINDS:
            cases += _file_cases(kind)
        cases += _light_cases()
        cases += _cached_cases("synthetic", build_synthetic_models)
        _CASES = cases
    return _CASES


def read_known_failures(suite: str) -> dict[str, str]:
    """Names listed as `<suite>::<name>  # reason` in known_failures.txt."""
    out: dict[str, str] = {}
    if not KNOWN_FAILURES_FILE.exists():
        return out
    for lineno, raw in enumerate(KNOWN_FAILURES_FILE.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry, sep, reason = line.partition("#")
        entry, reason = entry.strip(), reason.strip()
        if not sep or not reason:
            raise ValueError(f"{KNOWN_FAILURES_FILE}:{lineno}: every entry needs '# reason'")
        s, _, name = entry.partition("::")
        if s == suite:
            out[name] = reason
    return out


def pytest_generate_tests(metafunc):
    if "backend_case" not in metafunc.fixturenames:
        return
    known = read_known_failures("roundtrip")
    cases = backend_cases()
    names = {c.name for c in cases}
    stale = sorted(set(known) - names)
    if stale:
        raise ValueError(f"known_failures.txt names cases that do not exist: {stale}")
    params = [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(reason=known[c.name], strict=True)] if c.name in known else [],
        )
        for c in cases
    ]
    metafunc.parametrize("backend_case", params)


def pytest_report_collectionfinish(config, start_path, items):
    if _CASES is None:
        return []
    counts = Counter(c.kind for c in _CASES)
    parts = ", ".join(f"{k}={counts[k]}" for k in KINDS)
    return [f"onnx {onnx.__version__} backend cases: {parts} (total {len(_CASES)})"]


# --------------------------------------------------------------------------
# Hand-made models
# --------------------------------------------------------------------------


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def make_conv_net(rng_seed: int = 0, *, raw: bool = True) -> onnx.ModelProto:
    """Conv -> Relu -> MaxPool -> Flatten -> Gemm, dynamic batch 'batch', opset 17.

    raw=True stores initializers in raw_data, raw=False in float_data.
    """
    rng = np.random.default_rng(rng_seed)
    arrays = {
        "conv.w": _f32(rng, 4, 3, 3, 3),
        "conv.b": _f32(rng, 4),
        "fc.w": _f32(rng, 10, 4 * 4 * 4),
        "fc.b": _f32(rng, 10),
    }
    if raw:
        inits = [numpy_helper.from_array(a, n) for n, a in arrays.items()]
    else:
        inits = [
            helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.flatten().tolist(), raw=False)
            for n, a in arrays.items()
        ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def make_if_model() -> onnx.ModelProto:
    """A model whose If node holds two subgraphs, each with its own initializer."""
    then_c = numpy_helper.from_array(np.arange(4, dtype=np.float32), "then_c")
    else_c = numpy_helper.from_array(-np.arange(4, dtype=np.float32), "else_c")
    then_g = helper.make_graph(
        [helper.make_node("Add", ["x", "then_c"], ["then_out"], name="then_add")],
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [4])],
        initializer=[then_c],
    )
    else_g = helper.make_graph(
        [helper.make_node("Sub", ["x", "else_c"], ["else_out"], name="else_sub")],
        "else_branch",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [4])],
        initializer=[else_c],
    )
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then_g, else_branch=else_g)],
        "if_model",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def save_with_external_data(model: onnx.ModelProto, path: Path, location: str = "weights.bin") -> None:
    """Save model to path with every initializer in one external file beside it."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=0,
    )


def build_synthetic_models() -> dict[str, onnx.ModelProto]:
    """Models for proto features the backend cases leave out."""
    models: dict[str, onnx.ModelProto] = {}
    rng = np.random.default_rng(1234)

    # Local function used twice; its Constant takes `alpha` by reference
    # (ref_attr_name) with a default in attribute_proto (IR 9).
    alpha_const = helper.make_node("Constant", [], ["alpha_t"])
    alpha_const.attribute.append(
        helper.make_attribute_ref("value_float", onnx.AttributeProto.FLOAT, ref_attr_name="alpha")
    )
    fn = helper.make_function(
        "custom.fn",
        "ScaledAdd",
        ["a", "b"],
        ["out"],
        [alpha_const, helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Mul", ["s", "alpha_t"], ["out"])],
        [helper.make_opsetid("", 17)],
        attribute_protos=[helper.make_attribute("alpha", 2.0)],
        doc_string="(a + b) * alpha",
        value_info=[helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("ScaledAdd", ["x", "y"], ["t"], name="f1", domain="custom.fn", alpha=1.5),
            helper.make_node("ScaledAdd", ["t", "y"], ["z"], name="f2", domain="custom.fn"),
        ],
        "with_functions",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3]),
        ],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 3])],
        value_info=[helper.make_tensor_value_info("t", TensorProto.FLOAT, ["n", 3])],
        doc_string="graph doc",
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom.fn", 1)],
        functions=[fn],
        ir_version=10,
        producer_name="swiftconv-tests",
        producer_version="1.0",
        doc_string="model doc",
        model_version=7,
        domain="ai.swiftconv.test",
    )
    helper.set_model_props(model, {"author": "tests", "license": "MIT"})
    models["synthetic_local_functions"] = model

    # Every typed data field, plus raw_data twins, as initializers of an Identity chain.
    typed = [
        ("f32_float_data", TensorProto.FLOAT, [2, 3], _f32(rng, 6).tolist()),
        ("f64_double_data", TensorProto.DOUBLE, [3], [1.5, -2.25, float("nan")]),
        ("i32_int32_data", TensorProto.INT32, [4], [1, -2, 2**31 - 1, -(2**31)]),
        ("i64_int64_data", TensorProto.INT64, [2, 2], [1, -1, 2**63 - 1, -(2**63)]),
        ("u64_uint64_data", TensorProto.UINT64, [2], [0, 2**64 - 1]),
        ("u32_uint64_data", TensorProto.UINT32, [2], [0, 2**32 - 1]),
        ("i8_int32_data", TensorProto.INT8, [3], [-128, 0, 127]),
        ("u8_int32_data", TensorProto.UINT8, [3], [0, 1, 255]),
        ("i16_int32_data", TensorProto.INT16, [2], [-32768, 32767]),
        ("u16_int32_data", TensorProto.UINT16, [2], [0, 65535]),
        ("bool_int32_data", TensorProto.BOOL, [3], [True, False, True]),
        ("f16_int32_data", TensorProto.FLOAT16, [3], np.array([1.0, -0.5, np.inf], np.float16)),
        ("bf16_int32_data", TensorProto.BFLOAT16, [2], [1.0, -3.0]),
        ("str_string_data", TensorProto.STRING, [3], [b"a", b"", "\u00e9t\u00e9".encode()]),
        ("scalar_float_data", TensorProto.FLOAT, [], [3.25]),
        ("empty_float_data", TensorProto.FLOAT, [0, 4], []),
        ("c64_float_data", TensorProto.COMPLEX64, [2], [1 + 2j, -3j]),
    ]
    inits = [helper.make_tensor(n, t, d, v, raw=False) for n, t, d, v in typed]
    for n, a in {
        "f32_raw": _f32(rng, 2, 2),
        "i64_raw": np.array([5, -6, 7], np.int64),
        "f16_raw": np.array([0.5, np.nan], np.float16),
        "bool_raw": np.array([True, False]),
        "u8_raw": np.arange(10, dtype=np.uint8),
    }.items():
        inits.append(numpy_helper.from_array(a, n))
    inits[0].doc_string = "an initializer doc string"
    nodes = [helper.make_node("Identity", [t.name], [t.name + "_out"], name="id_" + t.name) for t in inits]
    graph = helper.make_graph(
        nodes,
        "typed_fields",
        [],
        [
            helper.make_value_info(t.name + "_out", helper.make_tensor_type_proto(t.data_type, list(t.dims)))
            for t in inits
        ],
        initializer=inits,
    )
    models["synthetic_typed_fields"] = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8
    )

    # Sparse initializer and tensor-valued attributes (tensor, tensors, sparse_tensor).
    values = numpy_helper.from_array(np.array([1.0, 2.0, 3.0], np.float32), "sp")
    indices = numpy_helper.from_array(np.array([0, 5, 11], np.int64), "sp_idx")
    sparse = helper.make_sparse_tensor(values, indices, [3, 4])
    graph = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                ["k"],
                name="const_tensor",
                value=helper.make_tensor("kv", TensorProto.INT64, [2], [4, -4]),
            ),
            helper.make_node(
                "Constant",
                [],
                ["ks"],
                name="const_sparse",
                sparse_value=helper.make_sparse_tensor(
                    helper.make_tensor("sv", TensorProto.FLOAT, [2], [9.0, 8.0]),
                    helper.make_tensor("si", TensorProto.INT64, [2], [1, 3]),
                    [4],
                ),
            ),
        ],
        "sparse",
        [],
        [
            helper.make_sparse_tensor_value_info("sp", TensorProto.FLOAT, [3, 4]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [2]),
            helper.make_tensor_value_info("ks", TensorProto.FLOAT, [4]),
        ],
        sparse_initializer=[sparse],
    )
    models["synthetic_sparse_and_tensor_attrs"] = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8
    )

    models["synthetic_if_subgraphs"] = make_if_model()
    models["synthetic_conv_float_data"] = make_conv_net(raw=False)

    for m in models.values():
        onnx.checker.check_model(m, full_check=True)
    return models


# --------------------------------------------------------------------------
# Comparing models
# --------------------------------------------------------------------------

_DATA_FIELDS = (
    "raw_data",
    "float_data",
    "int32_data",
    "string_data",
    "int64_data",
    "double_data",
    "uint64_data",
)


def _is_repeated(field) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 5.28; `label` is going away
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED


def _tensors(msg, path: str, out: list) -> None:
    """Collect (path, TensorProto) for every tensor inside msg, in field order."""
    if isinstance(msg, onnx.TensorProto):
        out.append((path, msg))
        return
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if _is_repeated(field):
            for i, v in enumerate(value):
                key = getattr(v, "name", "") or str(i)
                _tensors(v, f"{path}.{field.name}[{key}]", out)
        else:
            _tensors(value, f"{path}.{field.name}", out)


def _clear_defaults_and_data(msg) -> None:
    """Strip tensor payloads, explicitly-set default scalars, and sort unordered lists."""
    if isinstance(msg, onnx.TensorProto):
        for f in _DATA_FIELDS:
            msg.ClearField(f)
    for field, value in list(msg.ListFields()):
        if field.message_type is not None:
            items = value if _is_repeated(field) else [value]
            for v in items:
                _clear_defaults_and_data(v)
        elif not _is_repeated(field) and value == field.default_value:
            # proto2 presence of a default value carries no meaning in ONNX.
            msg.ClearField(field.name)
    # Semantically unordered lists.
    for name, key in (("opset_import", lambda o: o.domain), ("metadata_props", lambda p: p.key)):
        if name in msg.DESCRIPTOR.fields_by_name:
            items = sorted(getattr(msg, name), key=key)
            copies = [type(i)() for i in items]
            for c, i in zip(copies, items):
                c.CopyFrom(i)
            msg.ClearField(name)
            getattr(msg, name).extend(copies)


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "O":
        return a.tolist() == b.tolist()
    if a.tobytes() == b.tobytes():
        return True
    if a.dtype.kind in "iub":  # integers and bools: equal values have equal bytes
        return False
    if a.dtype.kind == "c":
        return np.array_equal(a.astype(np.complex128), b.astype(np.complex128), equal_nan=True)
    try:
        wide_a, wide_b = a.astype(np.float64), b.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return np.array_equal(wide_a, wide_b, equal_nan=True)


def _short_diff(a: str, b: str, limit: int = 60) -> str:
    import difflib

    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "original", "roundtrip", lineterm="", n=2))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


def compare_models(original: onnx.ModelProto, other: onnx.ModelProto) -> list[str]:
    """Differences between two models; [] when equal.

    Tensor values are compared as arrays (numpy_helper.to_array; NaN == NaN), so
    raw_data vs typed-field storage does not matter; everything else is compared
    as protos, ignoring explicitly-set defaults and the order of opset_import /
    metadata_props.
    """
    problems: list[str] = []
    ta: list = []
    tb: list = []
    _tensors(original, "model", ta)
    _tensors(other, "model", tb)
    if [p for p, _ in ta] != [p for p, _ in tb]:
        problems.append(f"tensor locations differ: {[p for p, _ in ta]} vs {[p for p, _ in tb]}")
    else:
        for (path, x), (_, y) in zip(ta, tb):
            try:
                ax, ay = numpy_helper.to_array(x), numpy_helper.to_array(y)
            except Exception as e:  # noqa: BLE001 - reported as a difference
                problems.append(f"{path}: to_array failed: {type(e).__name__}: {e}")
                continue
            if not _arrays_equal(ax, ay):
                problems.append(
                    f"{path}: values differ: {ax.dtype}{ax.shape} {ax.ravel()[:8]} vs "
                    f"{ay.dtype}{ay.shape} {ay.ravel()[:8]}"
                )
    a, b = onnx.ModelProto(), onnx.ModelProto()
    a.CopyFrom(original)
    b.CopyFrom(other)
    _clear_defaults_and_data(a)
    _clear_defaults_and_data(b)
    # Bytes as a fallback: proto equality says NaN != NaN in float attributes.
    if a != b and a.SerializeToString(deterministic=True) != b.SerializeToString(deterministic=True):
        problems.append("protos differ (tensor payloads cleared):\n" + _short_diff(str(a), str(b)))
    return problems


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sc():
    import swiftconv

    return swiftconv


@pytest.fixture
def conv_net() -> onnx.ModelProto:
    return make_conv_net()


@pytest.fixture
def conv_net_path(tmp_path, conv_net) -> Path:
    p = tmp_path / "conv_net.onnx"
    onnx.save_model(conv_net, str(p))
    return p


@pytest.fixture(scope="session")
def tiny_cnn_path() -> Path:
    p = EXAMPLES_DIR / "tiny_cnn.onnx"
    if not p.exists():
        pytest.fail(f"{p} is missing: run python examples/make_examples.py")
    return p


@pytest.fixture(scope="session")
def mnist_mlp_path() -> Path:
    p = EXAMPLES_DIR / "mnist_mlp.onnx"
    if not p.exists():
        pytest.fail(f"{p} is missing: run python examples/make_examples.py")
    return p


@pytest.fixture
def assert_models_equal():
    def check(original: onnx.ModelProto, other: onnx.ModelProto) -> None:
        problems = compare_models(original, other)
        assert not problems, "\n".join(problems)

    return check
