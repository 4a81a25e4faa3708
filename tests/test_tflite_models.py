"""`sc.Interpreter` runs the TensorFlow-made TFLite fixtures like LiteRT (issue 9, acceptance 1).

The fixtures (`tests/fixtures/tflite/`, made by `make_fixtures.py` there with
TFLiteConverter; see its README) store the inputs and LiteRT's outputs, so
this suite needs no TensorFlow:
  * float variants (float32, dynamic-range, float16 weights): within 1e-4 max
    abs error of LiteRT's reference kernels (`out_ref`); the distance from
    LiteRT's default XNNPACK kernels (`out_default`) is reported;
  * int8 variants: identical to LiteRT's reference kernels (BUILTIN_REF);
    how many int8 steps we are from XNNPACK is reported (XNNPACK and the
    reference kernels themselves differ by a step or two);
  * when ai_edge_litert is importable, it is run live and must still agree
    with the stored outputs, so stale fixtures cannot pass unnoticed.
The fixture list is explicit: a missing file fails, it is never skipped.

    python -m pytest -q tests/test_tflite_models.py
    python -m pytest -q -s tests/test_tflite_models.py -k report   # the XNNPACK distance table
"""

from pathlib import Path

import numpy as np
import pytest

import swiftconv as sc

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "tflite"
MODELS = ("cnn", "mobilenetv2", "lstm_keras3", "lstm_tfkeras", "transformer")
VARIANTS = ("float32", "dynamic", "float16", "int8")
# TFLiteConverter cannot make these (README.md of the fixtures says why).
UNAVAILABLE = {"lstm_keras3_int8": "TFLiteConverter's calibrator crashes (SIGSEGV) on the WHILE-loop LSTM"}
FIXTURES = [f"{m}_{v}" for m in MODELS for v in VARIANTS if f"{m}_{v}" not in UNAVAILABLE]
FLOAT_ATOL = 1e-4


def _load(stem):
    """(model path, stored arrays); a missing fixture is a failure."""
    path = FIXTURE_DIR / f"{stem}.tflite"
    data = FIXTURE_DIR / f"{stem}.npz"
    assert path.is_file(), f"missing fixture {path}"
    assert data.is_file(), f"missing fixture {data}"
    with np.load(data) as z:
        arrays = {k: z[k] for k in z.files}
    return path, arrays


def _stored(arrays, prefix):
    """The stored arrays `<prefix>_0`, `<prefix>_1`, ... in index order."""
    out = []
    while f"{prefix}_{len(out)}" in arrays:
        out.append(arrays[f"{prefix}_{len(out)}"])
    return out


def _run(interpreter, inputs):
    """allocate + set_tensor + invoke + get_tensor, in get_input/output_details order."""
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()
    assert len(details) == len(inputs)
    for d, x in zip(details, inputs):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [np.array(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()]


def _run_swiftconv(path, inputs):
    return _run(sc.Interpreter(model_path=str(path)), inputs)


def _is_integer(a):
    return np.issubdtype(a.dtype, np.integer)


def _max_abs(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def test_fixture_list_is_complete():
    """Every listed fixture exists, and nothing in the folder is left out of the list."""
    on_disk = {p.stem for p in FIXTURE_DIR.glob("*.tflite")}
    assert on_disk == set(FIXTURES), (
        f"not in the list: {sorted(on_disk - set(FIXTURES))}; missing: {sorted(set(FIXTURES) - on_disk)}"
    )
    assert not (set(UNAVAILABLE) & on_disk)


@pytest.mark.parametrize("stem", FIXTURES)
def test_details_match_litert(stem):
    """Input/output details: names, order, shapes and dtypes as LiteRT reported them."""
    path, arrays = _load(stem)
    it = sc.Interpreter(model_path=str(path))
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    assert [d["name"] for d in ins] == list(arrays["input_names"])
    assert [d["name"] for d in outs] == list(arrays["output_names"])
    for d, x in zip(ins, _stored(arrays, "input")):
        assert tuple(d["shape"]) == x.shape and np.dtype(d["dtype"]) == x.dtype, d
    for d, y in zip(outs, _stored(arrays, "out_ref")):
        assert tuple(d["shape"]) == y.shape and np.dtype(d["dtype"]) == y.dtype, d
    litert = _litert_interpreter_or_none()
    if litert is not None:
        ref = litert(model_path=str(path))
        for ours, theirs in zip(ins + outs, ref.get_input_details() + ref.get_output_details()):
            assert list(ours["shape_signature"]) == list(theirs["shape_signature"])
            scale, zero_point = ours["quantization"]
            assert zero_point == theirs["quantization"][1]
            assert scale == pytest.approx(theirs["quantization"][0], rel=1e-7)


@pytest.mark.parametrize("stem", FIXTURES)
def test_outputs_match_litert_reference_kernels(stem):
    """Float: within 1e-4 of LiteRT's reference kernels; int8: identical to them."""
    path, arrays = _load(stem)
    expected = _stored(arrays, "out_ref")
    got = _run_swiftconv(path, _stored(arrays, "input"))
    assert len(got) == len(expected)
    for k, (y, ref) in enumerate(zip(got, expected)):
        assert y.shape == ref.shape and y.dtype == ref.dtype, (k, y.shape, y.dtype, ref.shape, ref.dtype)
        if _is_integer(ref):
            diff = np.flatnonzero(y != ref)
            assert diff.size == 0, (
                f"output {k}: {diff.size}/{ref.size} elements differ from BUILTIN_REF, "
                f"max {_max_abs(y, ref):.0f} steps, first at flat index {diff[:5].tolist()}"
            )
        else:
            err = _max_abs(y, ref)
            assert err <= FLOAT_ATOL, f"output {k}: max abs error {err:.3g} vs BUILTIN_REF"


def _litert_interpreter_or_none():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


@pytest.mark.parametrize("stem", FIXTURES)
def test_stored_outputs_match_live_litert(stem):
    """The stored LiteRT outputs are what the installed LiteRT computes now (no stale fixtures)."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    path, arrays = _load(stem)
    inputs = _stored(arrays, "input")
    ref = _run(
        litert.Interpreter(model_path=str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF),
        inputs,
    )
    default = _run(litert.Interpreter(model_path=str(path)), inputs)
    assert len(ref) == len(_stored(arrays, "out_ref")) == len(default) == len(_stored(arrays, "out_default"))
    for k, (live, stored) in enumerate(zip(ref, _stored(arrays, "out_ref"))):
        if _is_integer(stored):
            np.testing.assert_array_equal(live, stored, err_msg=f"out_ref_{k}")
        else:
            np.testing.assert_allclose(live, stored, rtol=0, atol=1e-6, err_msg=f"out_ref_{k}")
    # XNNPACK picks kernels by CPU features, so it is held to a step / 1e-4, not to equality.
    for k, (live, stored) in enumerate(zip(default, _stored(arrays, "out_default"))):
        assert _max_abs(live, stored) <= (1 if _is_integer(stored) else FLOAT_ATOL), f"out_default_{k}"


@pytest.mark.parametrize("stem", [s for s in FIXTURES if s.endswith("_float32")])
def test_float32_fixtures_match_keras(stem):
    """The fixtures themselves: LiteRT's float32 outputs are the Keras model's (keras_<k>)."""
    _, arrays = _load(stem)
    keras, ref = _stored(arrays, "keras"), _stored(arrays, "out_ref")
    assert keras and len(keras) == len(ref)
    for k, (a, b) in enumerate(zip(keras, ref)):
        assert a.shape == b.shape and _max_abs(a, b) <= FLOAT_ATOL, f"keras_{k}"


def test_report_distance_from_xnnpack(capsys):
    """Report (not a pass criterion) how far our outputs are from LiteRT's default XNNPACK kernels."""
    rows = []
    for stem in FIXTURES:
        path, arrays = _load(stem)
        got = _run_swiftconv(path, _stored(arrays, "input"))
        for k, (y, xnn, ref) in enumerate(zip(got, _stored(arrays, "out_default"), _stored(arrays, "out_ref"))):
            unit = "int8 steps" if _is_integer(ref) else "abs"
            rows.append((f"{stem}[{k}]", _max_abs(y, xnn), _max_abs(ref, xnn), unit))
    lines = ["", f"{'fixture':28} {'ours vs XNNPACK':>16} {'ref vs XNNPACK':>15}  unit"]
    lines += [f"{name:28} {ours:16.3g} {ref:15.3g}  {unit}" for name, ours, ref, unit in rows]
    steps = [ours for _, ours, _, unit in rows if unit == "int8 steps"]
    lines.append(f"max int8 step difference from XNNPACK: {max(steps):.0f}" if steps else "no int8 fixtures")
    with capsys.disabled():
        print("\n".join(lines))
    assert all(np.isfinite(ours) for _, ours, _, _ in rows)
