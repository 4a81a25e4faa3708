"""sc.convert(tflite, to='onnx') (issue 9, acceptance item 2).

Every TFLite fixture (the whole models in tests/fixtures/tflite/ and the per-op ones in
tests/fixtures/tflite/ops/, both made by TensorFlow's TFLiteConverter) is converted to ONNX,
run by onnxruntime, and compared with LiteRT's reference-kernel outputs stored next to it
(`out_ref_<k>`): float within 1e-4 (absolute, or relative for large values), int8/uint8
within one quantization step. The converted model keeps the TFLite input/output names, order
and NHWC shapes. Fixtures that cannot be converted yet are listed with their reason in
tests/tflite_known_failures.txt (suite `onnx`) and run as xfail(strict=True), so the list only
shrinks. SWIFTCONV_TFLITE_FIXTURES (folders separated by os.pathsep) points the test at
other fixture folders.
"""

import os
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tflite_fixtures import known_failures

import swiftconv as sc

TESTS_DIR = Path(__file__).resolve().parent


def _fixture_dirs():
    override = os.environ.get("SWIFTCONV_TFLITE_FIXTURES")
    if override:
        return [Path(p) for p in override.split(os.pathsep) if p]
    root = TESTS_DIR / "fixtures" / "tflite"
    return [root, root / "ops"]


def _fixtures():
    known = known_failures("onnx")
    params = []
    for folder in _fixture_dirs():
        for model in sorted(folder.glob("*.tflite")):
            if not model.with_suffix(".npz").exists():
                continue
            marks = [pytest.mark.xfail(reason=known[model.stem], strict=True)] if model.stem in known else []
            params.append(pytest.param(model, id=model.stem, marks=marks))
    return params


FIXTURES = _fixtures()


def _inputs(data):
    if "inputs" in data.files:
        return list(data["inputs"])
    count = sum(1 for k in data.files if re.fullmatch(r"input_\d+", k))
    return [data[f"input_{k}"] for k in range(count)]


def _expected(data):
    prefix = "out_ref_" if any(k.startswith("out_ref_") for k in data.files) else "out_default_"
    count = sum(1 for k in data.files if re.fullmatch(prefix + r"\d+", k))
    return [data[f"{prefix}{k}"] for k in range(count)]


def _run_onnx(model, feeds):
    """onnxruntime at its default optimization level, as a user runs it."""
    session = ort.InferenceSession(model.to_bytes(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds, strict=True)))


def _compare(name, got, want):
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    if want.dtype in (np.int8, np.uint8, np.int16):
        # QDQ around float ops rounds once where TFLite's integer kernels round in steps.
        diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
        assert diff.max(initial=0) <= 1, f"{name}: {int(diff.max())} quantization steps off"
    elif np.issubdtype(want.dtype, np.floating):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.skipif(not FIXTURES, reason="no TFLite fixtures found")
@pytest.mark.parametrize("path", FIXTURES)
def test_fixture_converts_and_matches_litert(path):
    data = np.load(path.with_suffix(".npz"), allow_pickle=False)
    source = sc.load(path)
    # SCATTER_ND adds duplicate indices, which ONNX's ScatterND does from opset 16 (below it
    # the conversion refuses: test_scatter_nd_with_duplicates_needs_opset_16).
    opset = 16 if path.stem.startswith("scatter_nd") else None
    onnx_model = sc.convert(source, "onnx", opset=opset)
    assert onnx_model.format == "onnx"
    assert onnx_model.opset[""] >= 13
    # The TFLite interface is kept: names, order, shapes (NHWC stays NHWC) and dtypes.
    assert [i.name for i in onnx_model.inputs] == [i.name for i in source.inputs]
    assert [o.name for o in onnx_model.outputs] == [o.name for o in source.outputs]
    assert [i.shape for i in onnx_model.inputs] == [i.shape for i in source.inputs]
    assert [i.dtype for i in onnx_model.inputs] == [i.dtype for i in source.inputs]
    outputs = _run_onnx(onnx_model, _inputs(data))
    expected = _expected(data)
    assert len(outputs) == len(expected)
    for k, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        _compare(f"{path.stem} output {k}", got, want)


def _first_fixture(pattern):
    for folder in _fixture_dirs():
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    pytest.skip(f"no fixture matching {pattern}")


def test_convert_writes_atomically_and_accepts_an_opset(tmp_path):
    path = _first_fixture("conv2d*_float32.tflite")
    out = tmp_path / "model.onnx"
    model = sc.convert(str(path), "onnx", out, opset=17)
    assert model.opset[""] == 17
    assert out.read_bytes() == model.to_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_transposes_only_where_ops_need_them():
    import onnx

    path = _first_fixture("cnn_float32.tflite")
    graph = onnx.load_model_from_string(sc.convert(path, "onnx").to_bytes()).graph
    transposes = sum(1 for n in graph.node if n.op_type == "Transpose")
    convs = sum(1 for n in graph.node if n.op_type == "Conv")
    # A pair per convolution would be 2 * convs; cancellation leaves one in and one out.
    assert convs >= 2
    assert transposes <= 2


def test_int8_model_keeps_int8_interface_and_computes_in_integers():
    import onnx

    path = _first_fixture("*conv2d*_int8.tflite")
    source = sc.load(path)
    model = onnx.load_model_from_string(sc.convert(source, "onnx").to_bytes())
    ops = {n.op_type for n in model.graph.node}
    # LiteRT's integer arithmetic (int32 accumulators, fixed-point rescale), not QDQ around a float Conv.
    assert "ConvInteger" in ops
    assert not ops & {"QuantizeLinear", "DequantizeLinear", "Conv"}
    elem = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    for i in source.inputs:
        assert elem[i.name] == onnx.helper.np_dtype_to_tensor_dtype(np.dtype(i.dtype))


def test_other_directions_are_errors():
    # TFLite -> ONNX with quantize is tests/test_quantize_onnx.py's.
    path = _first_fixture("*_float32.tflite")
    source = sc.load(path)
    with pytest.raises(sc.ConversionError, match="tflite to tflite does nothing without quantize"):
        sc.convert(source, "tflite")
    with pytest.raises(sc.InvalidArgument):
        sc.convert(source, "keras")
    with pytest.raises(sc.InvalidArgument):
        sc.convert(source, "onnx", opset=12)


def test_scatter_nd_with_duplicates_needs_opset_16():
    path = _first_fixture("scatter_nd_rows_float32.tflite")
    with pytest.raises(sc.ConversionError, match="SCATTER_ND.*opset 16"):
        sc.convert(sc.load(path), "onnx")
