"""TFLite load -> save through swiftconv keeps what LiteRT sees.

For every .tflite fixture under tests/fixtures/tflite (recursively; extra folders may be
named in SWIFTCONV_TFLITE_FIXTURES, colon-separated), `sc.load(p).save(q)` must write a file
that LiteRT's loader accepts and that gives outputs identical to p's on the fixture's inputs
(or on seeded random inputs where a fixture has no .npz), with the same signature list.
The oracle is LiteRT itself running the original file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import swiftconv as sc

ai_edge_litert = pytest.importorskip("ai_edge_litert.interpreter")

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "tflite"


def _fixture_paths():
    folders = [FIXTURE_DIR] + [Path(p) for p in os.environ.get("SWIFTCONV_TFLITE_FIXTURES", "").split(":") if p]
    found = set()
    for folder in folders:
        found.update(folder.glob("**/*.tflite"))
    return sorted(found)


FIXTURES = _fixture_paths()


def test_fixtures_are_present():
    # An empty fixture folder must fail loudly, not skip every case below.
    assert FIXTURES, f"no .tflite fixtures under {FIXTURE_DIR}"


def _inputs(path, details):
    npz = path.with_suffix(".npz")
    data = np.load(npz, allow_pickle=False) if npz.exists() else {}
    rng = np.random.default_rng(0)
    out = []
    for k, det in enumerate(details):
        if f"input_{k}" in data:
            out.append(np.asarray(data[f"input_{k}"]).astype(det["dtype"]))
            continue
        shape = det["shape"]
        if np.issubdtype(det["dtype"], np.floating):
            out.append(rng.standard_normal(shape).astype(det["dtype"]))
        elif det["dtype"] == np.bool_:
            out.append(rng.integers(0, 2, shape).astype(np.bool_))
        else:
            out.append(rng.integers(1, 4, shape).astype(det["dtype"]))
    return out


def _run(model_path, inputs_from):
    it = ai_edge_litert.Interpreter(model_path=str(model_path))
    details = it.get_input_details()
    inputs = _inputs(inputs_from, details)
    for det, x in zip(details, inputs):
        if list(x.shape) != list(det["shape"]):
            it.resize_tensor_input(det["index"], x.shape)
    it.allocate_tensors()
    for det, x in zip(details, inputs):
        it.set_tensor(det["index"], x)
    it.invoke()
    outputs = [it.get_tensor(o["index"]) for o in it.get_output_details()]
    return outputs, it.get_signature_list()


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_saved_model_runs_identically_in_litert(path, tmp_path):
    saved = tmp_path / path.name
    model = sc.load(str(path))
    assert model.format == "tflite"
    model.save(str(saved))
    assert saved.read_bytes()[4:8] == b"TFL3"
    want, want_signatures = _run(path, path)
    got, got_signatures = _run(saved, path)
    assert got_signatures == want_signatures
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, f"output {k}"
        np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
