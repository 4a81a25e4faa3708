"""`sc.load` / `Model` / `swiftconv inspect` / `swiftconv check` on .tflite files (API.md sections 1, 6).

LiteRT is the oracle for the inputs and outputs and for the files `save()` writes.

    python -m pytest tests/test_tflite_model_api.py -q
"""

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import swiftconv as sc

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tflite"
TFLITE_FILES = sorted(FIXTURES.glob("*.tflite"))
IDS = [p.stem for p in TFLITE_FILES]

litert = pytest.importorskip("ai_edge_litert.interpreter")


def _litert(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return litert.Interpreter(**kwargs)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "swiftconv", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONIOENCODING="utf-8"),
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("path", TFLITE_FILES, ids=IDS)
def test_load_reports_tflite_inputs_and_outputs(path, tmp_path):
    # Found by its magic bytes: the suffix does not matter.
    renamed = tmp_path / "model.bin"
    shutil.copy(path, renamed)
    for m in (sc.load(path), sc.load(renamed), sc.load(path.read_bytes())):
        assert m.format == "tflite"
        assert m.opset is None
        theirs = _litert(model_path=str(path))
        for ours, details in ((m.inputs, theirs.get_input_details()), (m.outputs, theirs.get_output_details())):
            assert [i.name for i in ours] == [d["name"] for d in details]
            assert [i.dtype for i in ours] == [np.dtype(d["dtype"]) for d in details]
            for info, d in zip(ours, details):
                assert len(info.shape) == len(d["shape_signature"])
                for got, want in zip(info.shape, d["shape_signature"]):
                    assert got == (None if want == -1 else want)


@pytest.mark.parametrize("path", TFLITE_FILES, ids=IDS)
def test_summary_names_the_tflite_ops(path):
    text = sc.load(path).summary()
    theirs = _litert(model_path=str(path))
    assert theirs.get_input_details()[0]["name"] in text
    ops = {op["op_name"] for op in theirs._get_ops_details()}
    # LiteRT names delegated partitions after the delegate; the builtin names stay in ours.
    for op in ops - {"DELEGATE", "TfLiteXNNPackDelegate"}:
        assert op in text, op


@pytest.mark.parametrize("path", TFLITE_FILES, ids=IDS)
def test_save_gives_a_file_litert_runs_alike(path, tmp_path):
    m = sc.load(path)
    out = tmp_path / "copy.tflite"
    m.save(out)
    assert out.read_bytes() == m.to_bytes()
    a, b = _litert(model_path=str(path)), _litert(model_content=m.to_bytes())
    a.allocate_tensors()
    b.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in a.get_input_details():
        if np.issubdtype(d["dtype"], np.floating):
            value = rng.standard_normal(d["shape"]).astype(d["dtype"])
        else:
            value = rng.integers(-100, 100, size=d["shape"]).astype(d["dtype"])
        a.set_tensor(d["index"], value)
        b.set_tensor(d["index"], value)
    a.invoke()
    b.invoke()
    for d in a.get_output_details():
        np.testing.assert_array_equal(a.get_tensor(d["index"]), b.get_tensor(d["index"]))


@pytest.mark.parametrize("path", TFLITE_FILES[:4], ids=IDS[:4])
def test_cli_inspect_and_check(path):
    r = _cli("inspect", str(path))
    assert r.returncode == 0, r.stderr
    assert _litert(model_path=str(path)).get_input_details()[0]["name"] in r.stdout
    r = _cli("inspect", "--json", str(path))
    assert r.returncode == 0, r.stderr
    facts = json.loads(r.stdout)
    assert facts["format"] == "tflite"
    assert [i["name"] for i in facts["inputs"]] == [i.name for i in sc.load(path).inputs]
    r = _cli("check", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{path}: ok"


def test_cli_on_a_corrupt_tflite(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40)
    for command in ("inspect", "check"):
        r = _cli(command, str(bad))
        assert r.returncode == 1
        assert "ModelFormatError" in r.stderr
        assert "Traceback" not in r.stderr
