"""ONNX backend cases *with their test data*, for suites that run models.

`python3 scripts/export-backend-cases.py` writes every case of the installed onnx to
tests/.cache/backend-data/<onnx version>/<kind>/<case>/ (model.onnx plus
test_data_set_N/{input,output}_K.pb); `engine_cases()` runs it when that folder is
missing or unfinished. Values are read and compared the way onnx's backend runner
does (onnx.backend.test.runner): protos by the graph's declared type, outputs with
np.testing.assert_allclose(rtol=1e-3, atol=1e-7) unless the case's data.json says
otherwise, exact dtypes, strings and integers equal, NaN equal to NaN.

Used by test_backend_engine.py and scripts/update-known-failures.py.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
DATA_DIR = TESTS_DIR / ".cache" / "backend-data" / onnx.__version__
KINDS = ("node", "simple", "pytorch-converted", "pytorch-operator")
_COMPLETE = ".complete"  # written after a successful export

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-7


@dataclasses.dataclass(frozen=True)
class EngineCase:
    kind: str
    name: str
    dir: Path

    @property
    def model_path(self) -> Path:
        return self.dir / "model.onnx"

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    def tolerances(self) -> tuple[float, float]:
        """(rtol, atol): onnx's defaults unless the case's data.json overrides them."""
        rtol, atol = DEFAULT_RTOL, DEFAULT_ATOL
        meta = self.dir / "data.json"
        if meta.exists():
            data = json.loads(meta.read_text())
            rtol, atol = data.get("rtol", rtol), data.get("atol", atol)
        return rtol, atol

    def data_sets(self) -> list[Path]:
        return sorted(self.dir.glob("test_data_set_*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))


def export_cases() -> None:
    """Runs the export script (idempotent: existing cases are kept) and marks the folder complete."""
    subprocess.run(
        [sys.executable, str(REPO_DIR / "scripts" / "export-backend-cases.py")], check=True, stdout=subprocess.DEVNULL
    )
    (DATA_DIR / _COMPLETE).write_text("ok\n")


def engine_cases() -> list[EngineCase]:
    """Every exported case, in a stable order (kind, then name)."""
    if not (DATA_DIR / _COMPLETE).exists():
        export_cases()
    cases = []
    for kind in KINDS:
        kind_dir = DATA_DIR / kind
        if not kind_dir.is_dir():
            continue
        for d in sorted(kind_dir.iterdir()):
            if (d / "model.onnx").is_file():
                cases.append(EngineCase(kind, d.name, d))
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("backend case names collide across kinds")
    return cases


# --------------------------------------------------------------------------
# Reading values
# --------------------------------------------------------------------------


def read_value(path: Path, type_proto: onnx.TypeProto):
    """A .pb value as numpy (tensor), list (sequence), dict (map) or optional (None or value)."""
    data = path.read_bytes()
    field = type_proto.WhichOneof("value")
    if field == "sequence_type":
        return numpy_helper.to_list(onnx.SequenceProto.FromString(data))
    if field == "optional_type":
        return numpy_helper.to_optional(onnx.OptionalProto.FromString(data))
    if field == "map_type":
        return numpy_helper.to_dict(onnx.MapProto.FromString(data))
    return numpy_helper.to_array(onnx.TensorProto.FromString(data))


def _files(folder: Path, prefix: str) -> list[Path]:
    return sorted(folder.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))


def load_data_set(model: onnx.ModelProto, folder: Path, feed_names: list[str]):
    """(feed dict, expected outputs) of one data set.

    Input files map to `feed_names` (the session's required inputs, like onnxruntime's
    backend) or, when their count differs, to the graph inputs in order.
    """
    types = {i.name: i.type for i in model.graph.input}
    inputs = _files(folder, "input")
    names = feed_names if len(inputs) == len(feed_names) else [i.name for i in model.graph.input][: len(inputs)]
    if len(names) != len(inputs):
        raise ValueError(f"{len(inputs)} input files for {len(names)} inputs")
    feed = {n: read_value(p, types[n]) for n, p in zip(names, inputs)}
    outputs = _files(folder, "output")
    expected = [read_value(p, model.graph.output[k].type) for k, p in enumerate(outputs)]
    return feed, expected


# --------------------------------------------------------------------------
# Comparing values
# --------------------------------------------------------------------------

_EXACT_ML_DTYPES = {"int4", "uint4", "int2", "uint2"}


def _as_text(a: np.ndarray) -> np.ndarray:
    def text(x):
        return x.decode("utf-8", "surrogateescape") if isinstance(x, bytes) else x

    return np.vectorize(text, otypes=[object])(a) if a.size else a


def assert_arrays_close(expected: np.ndarray, actual, rtol: float, atol: float, where: str) -> None:
    assert isinstance(actual, np.ndarray), f"{where}: expected an ndarray, got {type(actual).__name__}"
    assert actual.shape == expected.shape, f"{where}: shape {actual.shape}, expected {expected.shape}"
    if expected.dtype == object:
        np.testing.assert_array_equal(_as_text(actual), _as_text(expected), err_msg=where)
        return
    assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype}, expected {expected.dtype}"
    name = expected.dtype.name
    if expected.dtype.kind in "iub" or name in _EXACT_ML_DTYPES:
        if name in _EXACT_ML_DTYPES:
            expected, actual = expected.astype(np.int8), actual.astype(np.int8)
        np.testing.assert_array_equal(actual, expected, err_msg=where)
        return
    if expected.dtype.kind not in "fc":  # bfloat16, float8, float4 (ml_dtypes)
        if name == "bfloat16":
            rtol = max(rtol, 2**-6)  # two bfloat16 ULPs, as onnx's runner
        expected, actual = expected.astype(np.float32), actual.astype(np.float32)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)


def assert_values_close(expected, actual, rtol: float, atol: float, where: str = "output") -> None:
    """Recursive comparison of tensors, sequences (lists), maps (dicts) and optionals (None)."""
    if expected is None:
        assert actual is None, f"{where}: expected None (empty optional), got {type(actual).__name__}"
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), f"{where}: expected a list, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{where}: {len(actual)} items, expected {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_values_close(e, a, rtol, atol, f"{where}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a dict, got {type(actual).__name__}"
        assert sorted(map(str, actual)) == sorted(map(str, expected)), f"{where}: keys differ"
        for k in expected:
            np.testing.assert_allclose(actual[k], expected[k], rtol=rtol, atol=atol, err_msg=f"{where}[{k!r}]")
    else:
        assert_arrays_close(np.asarray(expected), actual, rtol, atol, where)


def first_line(error: BaseException) -> str:
    """`Type: first line of the message`, for known_failures.txt reasons."""
    text = [t.strip() for t in str(error).strip().splitlines() if t.strip()]
    line = text[0] if text else ""
    if line.endswith(":") and len(text) > 1:  # a header such as "2 node(s) cannot run:"
        line = f"{line} {text[1]}"
    return f"{type(error).__name__}: {line}"[:200]
