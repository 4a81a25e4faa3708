"""swiftconv's float tflite kernels of the Elementwise, Activation, Reduce, Shape and Indexing
families against LiteRT's reference kernels (``out_ref_<k>``) on the per-op fixtures.

Every float32 fixture whose builtin ops all belong to these families runs; the integer and
quantized variants belong to the integer kernels' suite. Tolerance as the fixtures' README
says: float32 within 1e-5 (rel and abs), everything else identical.

    PYTHONPATH=$PWD/python python3 -m pytest -q tests/test_tflite_misc_ops.py

``SWIFTCONV_TFLITE_OPS_DIR`` points at another fixture folder (before the fixtures are merged).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import swiftconv as sc

OPS_DIR = Path(os.environ.get("SWIFTCONV_TFLITE_OPS_DIR", Path(__file__).parent / "fixtures" / "tflite" / "ops"))

FAMILY_OPS = frozenset(
    """
    ADD SUB MUL DIV SQUARED_DIFFERENCE MAXIMUM MINIMUM POW FLOOR_DIV FLOOR_MOD ABS NEG SQRT RSQRT EXP LOG
    SIN COS SQUARE FLOOR CEIL ROUND SIGN CAST EQUAL NOT_EQUAL LESS LESS_EQUAL GREATER GREATER_EQUAL
    LOGICAL_AND LOGICAL_OR LOGICAL_NOT SELECT SELECT_V2 ADD_N
    RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LOGISTIC TANH HARD_SWISH GELU LEAKY_RELU PRELU ELU SOFTMAX LOG_SOFTMAX
    MEAN SUM REDUCE_MAX REDUCE_MIN REDUCE_PROD REDUCE_ANY ARG_MAX ARG_MIN
    RESHAPE TRANSPOSE CONCATENATION SQUEEZE EXPAND_DIMS PACK UNPACK SPLIT SPLIT_V SHAPE FILL ZEROS_LIKE
    ONES_LIKE BROADCAST_TO TILE RANGE
    GATHER GATHER_ND STRIDED_SLICE SLICE PAD PADV2 MIRROR_PAD REVERSE_V2 CUMSUM TOPK_V2 ONE_HOT
    SPACE_TO_DEPTH DEPTH_TO_SPACE
    """.split()
)


def _cases():
    manifest = OPS_DIR / "manifest.json"
    if not manifest.exists():
        return []
    fixtures = json.loads(manifest.read_text())["fixtures"]
    return [
        f["name"]
        for f in fixtures
        if f["variant"] == "float32" and f["builtin_ops"] and set(f["builtin_ops"]) <= FAMILY_OPS
    ]


CASES = _cases()


@pytest.mark.skipif(not CASES, reason=f"no per-op TFLite fixtures in {OPS_DIR}")
@pytest.mark.parametrize("name", CASES)
def test_float_kernel_matches_litert_reference(name):
    data = np.load(OPS_DIR / f"{name}.npz")
    session = sc.InferenceSession(str(OPS_DIR / f"{name}.tflite"))
    inputs = session.get_inputs()
    feed = {info.name: data[f"input_{k}"] for k, info in enumerate(inputs)}
    outputs = session.run(None, feed)
    for k, got in enumerate(outputs):
        # Ops without a BUILTIN_REF kernel have only the default kernels' outputs.
        want = data[f"out_ref_{k}"] if f"out_ref_{k}" in data.files else data[f"out_default_{k}"]
        got = np.asarray(got)
        assert got.dtype == want.dtype, f"output {k}: {got.dtype}, LiteRT {want.dtype}"
        assert got.shape == want.shape, f"output {k}: {got.shape}, LiteRT {want.shape}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"output {k}")
