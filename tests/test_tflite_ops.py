"""Per-op TFLite fixtures (tests/fixtures/tflite/ops, written by make_op_fixtures.py with TensorFlow's
TFLiteConverter) run on `sc.Interpreter` and compared with LiteRT's BUILTIN_REF outputs stored next to them
(default-kernel outputs where BUILTIN_REF has no kernel):
float32/float16 within 1e-5 (rel and abs), dynamic-range within 1e-4, int8 and int8float identical, integer and
bool outputs always identical. The manifest lists the builtin ops of every fixture; the run ends with a per-op
coverage line (passed/total fixtures containing the op) so a failing kernel shows up by name."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from tflite_fixtures import known_failures

import swiftconv as sc

OPS_DIR = Path(__file__).resolve().parent / "fixtures" / "tflite" / "ops"
MANIFEST = json.loads((OPS_DIR / "manifest.json").read_text())
FIXTURES = MANIFEST["fixtures"]
# Absolute and relative tolerance on floating outputs per variant; None means bit-identical.
KNOWN = known_failures("interpreter")
# The list of fixtures sc.Interpreter cannot run may shrink, never grow.
MAX_KNOWN_FAILURES = 1
TOLERANCE = {"float32": 1e-5, "float16": 1e-5, "dynamic": 1e-4, "int8": None, "int8float": None}


@pytest.fixture(scope="module")
def coverage(request):
    """Collects pass/fail per builtin op and prints one table when the module ends."""
    results: dict[str, list[bool]] = defaultdict(list)
    yield results
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is None or not results:
        return
    lines = ["", "tflite op coverage (fixtures passed / fixtures with the op):"]
    for op in sorted(results):
        passed = sum(results[op])
        mark = "ok  " if passed == len(results[op]) else "FAIL"
        lines.append(f"  {mark} {op:32s} {passed}/{len(results[op])}")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # module teardown output is captured otherwise
        for line in lines:
            reporter.write_line(line)


def run_interpreter(model_path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interpreter = sc.Interpreter(model_path=str(model_path))
    details = interpreter.get_input_details()
    assert len(details) == len(inputs), "input count differs from the fixture"
    for d, x in zip(details, inputs):
        if list(d["shape"]) != list(x.shape):
            interpreter.resize_tensor_input(d["index"], list(x.shape))
    interpreter.allocate_tensors()
    for d, x in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [np.array(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()]


def test_manifest_lists_existing_files():
    assert len(FIXTURES) >= 300, "the manifest lost fixtures"
    missing = [f["name"] for f in FIXTURES for s in (".tflite", ".npz") if not (OPS_DIR / f"{f['name']}{s}").is_file()]
    assert not missing, f"fixtures in manifest.json without files: {missing}"
    listed = {f["name"] for f in FIXTURES}
    stray = sorted(p.stem for p in OPS_DIR.glob("*.tflite") if p.stem not in listed)
    assert not stray, f"fixtures not in manifest.json (never tested): {stray}"


def test_known_failures_do_not_grow():
    assert len(KNOWN) <= MAX_KNOWN_FAILURES, f"tests/tflite_known_failures.txt grew: {sorted(KNOWN)}"
    listed = {f["name"] for f in FIXTURES}
    assert set(KNOWN) <= listed, f"known failures that are not fixtures: {sorted(set(KNOWN) - listed)}"


# Registered tflite kernels no fixture runs, with why (TFLiteConverter never emits them).
UNFIXTURED = {
    "ONES_LIKE": "the converter folds ones_like into FILL or a constant",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "the converter lowers SimpleRNN to WHILE",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "the converter emits two UNIDIRECTIONAL_SEQUENCE_LSTMs",
    "CALL_ONCE": "the converter emits it only to initialise resource variables (a known failure); "
    "tests/SwiftConvEngineTests' TFLiteControlFlowTests run it",
}


def test_every_tflite_kernel_runs_a_passing_fixture():
    """Every registered `tflite` kernel is run by a fixture this file expects to pass."""
    registered = {k.op_type for k in sc.get_registered_kernels() if k.domain == "tflite"}
    exercised = {op for f in FIXTURES if f["name"] not in KNOWN for op in f["builtin_ops"]}
    missing = sorted(registered - exercised - set(UNFIXTURED))
    assert not missing, f"tflite kernels no passing fixture runs: {missing}"
    stale = sorted(set(UNFIXTURED) & exercised)
    assert not stale, f"listed in UNFIXTURED but a fixture runs them: {stale}"


def _params():
    for f in FIXTURES:
        marks = [pytest.mark.xfail(reason=KNOWN[f["name"]], strict=True)] if f["name"] in KNOWN else []
        yield pytest.param(f, id=f["name"], marks=marks)


@pytest.mark.parametrize("fixture", list(_params()))
def test_op_fixture_matches_litert_reference(fixture, coverage):
    ok = False
    try:
        with np.load(OPS_DIR / f"{fixture['name']}.npz") as data:
            inputs = [data[f"input_{k}"] for k in range(len(fixture["inputs"]))]
            # BUILTIN_REF lacks a few float kernels (CEIL, ROUND, ELU...): those fixtures hold default outputs only.
            key = "out_ref" if fixture.get("reference", "ref") == "ref" else "out_default"
            want = [data[f"{key}_{k}"] for k in range(len(fixture["outputs"]))]
        got = run_interpreter(OPS_DIR / f"{fixture['name']}.tflite", inputs)
        assert len(got) == len(want), "output count"
        tol = TOLERANCE[fixture["variant"]]
        for k, (g, w) in enumerate(zip(got, want)):
            assert g.dtype == w.dtype, f"output {k}: dtype {g.dtype}, LiteRT {w.dtype}"
            assert g.shape == w.shape, f"output {k}: shape {g.shape}, LiteRT {w.shape}"
            if tol is None or not np.issubdtype(w.dtype, np.floating):
                np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
            else:
                np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"output {k}")
        ok = True
    finally:
        for op in fixture["builtin_ops"]:
            coverage[op].append(ok)
