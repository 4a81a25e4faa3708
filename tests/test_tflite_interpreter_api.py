"""`sc.Interpreter` behaves like `tf.lite.Interpreter` (API.md section 3).

LiteRT (`ai_edge_litert`) is the oracle: on every .tflite fixture the detail dicts,
signature lists, error types and outputs are compared with its own. The API parts that
need no TFLite file run on small ONNX models built with onnx.helper, with values computed
here in numpy.

    python -m pytest tests/test_tflite_interpreter_api.py -q
"""

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import swiftconv as sc

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tflite"
TFLITE_FILES = sorted(FIXTURES.glob("*.tflite"))
DETAIL_KEYS = {
    "name",
    "index",
    "shape",
    "shape_signature",
    "dtype",
    "quantization",
    "quantization_parameters",
    "sparsity_parameters",
}

litert = pytest.importorskip("ai_edge_litert.interpreter")


# ------------------------------------------------------------------ helpers


def _mlp_bytes():
    """x[batch, 4] -> MatMul(w) -> h -> Relu -> y, with w known here to compute y in numpy."""
    w = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5) / 7
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "mlp",
        [helper.make_tensor_value_info("x", TP.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TP.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString(), w


@pytest.fixture()
def mlp():
    content, w = _mlp_bytes()
    return sc.Interpreter(model_content=content), w


def _litert(path, **kwargs):
    """LiteRT with its reference kernels (the ones ours match; XNNPACK differs from them by up
    to 1.5e-3 on the dynamic-range MobileNetV2), unless the caller asks otherwise."""
    kwargs.setdefault("experimental_op_resolver_type", litert.OpResolverType.BUILTIN_REF)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return litert.Interpreter(model_path=str(path), **kwargs)


def _assert_same_details(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert DETAIL_KEYS <= set(b)
        assert set(a) == set(b), set(a) ^ set(b)
        assert a["name"] == b["name"]
        assert a["index"] == b["index"] and type(a["index"]) is type(b["index"])
        for key in ("shape", "shape_signature"):
            assert a[key].dtype == b[key].dtype == np.int32, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{key} of {b['name']}")
        assert a["dtype"] is b["dtype"], b["name"]
        assert type(a["quantization"][0]) is type(b["quantization"][0])
        assert a["quantization"][1] == b["quantization"][1]
        np.testing.assert_allclose(a["quantization"][0], b["quantization"][0], rtol=1e-6)
        qa, qb = a["quantization_parameters"], b["quantization_parameters"]
        assert set(qa) == set(qb)
        assert qa["scales"].dtype == qb["scales"].dtype and qa["zero_points"].dtype == qb["zero_points"].dtype
        np.testing.assert_array_equal(qa["scales"], qb["scales"])
        np.testing.assert_array_equal(qa["zero_points"], qb["zero_points"])
        assert qa["quantized_dimension"] == qb["quantized_dimension"]
        assert (a["sparsity_parameters"] == {}) == (b["sparsity_parameters"] == {})


def _random_input(detail, rng):
    shape, dtype = detail["shape"], detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), size=shape, dtype=dtype)


# ------------------------------------------- the API on a model of any format


def test_exported_names():
    assert sc.Interpreter is sc.lite.Interpreter


def test_details_of_an_onnx_model(mlp):
    it, w = mlp
    (x,) = it.get_input_details()
    (y,) = it.get_output_details()
    assert set(x) == DETAIL_KEYS | {"quantization_parameters"} and "block_size" in x["quantization_parameters"]
    assert (x["name"], x["index"], x["dtype"]) == ("x", 0, np.float32)
    np.testing.assert_array_equal(x["shape"], [1, 4])  # an unknown dim is 1 until resized, as in tf.lite
    np.testing.assert_array_equal(x["shape_signature"], [-1, 4])
    assert x["quantization"] == (0.0, 0) and x["sparsity_parameters"] == {}
    assert x["quantization_parameters"]["scales"].dtype == np.float32
    names = [d["name"] for d in it.get_tensor_details()]
    assert names == ["x", "w", "h", "y"]  # graph order: inputs, weights, node outputs
    assert y["index"] == 3


def test_run_matches_numpy(mlp):
    it, w = mlp
    it.allocate_tensors()
    x = np.array([[1, -2, 3, 0.5]], dtype=np.float32)
    it.set_tensor(0, x)
    x[:] = 100  # set_tensor copied
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, np.maximum(np.array([[1, -2, 3, 0.5]], np.float32) @ w, 0), rtol=1e-6)
    np.testing.assert_array_equal(it.get_tensor(1), w)  # a constant
    np.testing.assert_array_equal(it.get_tensor(0), [[1, -2, 3, 0.5]])  # the input as set


def test_errors_before_allocate(mlp):
    it, _ = mlp
    with pytest.raises(RuntimeError):
        it.invoke()
    with pytest.raises(ValueError):
        it.set_tensor(0, np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError):
        it.get_tensor(0)


def test_set_tensor_checks_dtype_and_shape(mlp):
    it, _ = mlp
    it.allocate_tensors()
    with pytest.raises(ValueError, match="FLOAT64 but expected type FLOAT32"):
        it.set_tensor(0, np.zeros((1, 4), np.float64))
    with pytest.raises(ValueError, match="INT64"):
        it.set_tensor(0, [[1, 2, 3, 4]])  # numpy makes int64 of it, as in tf.lite
    with pytest.raises(ValueError, match="Dimension mismatch"):
        it.set_tensor(0, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="Dimension mismatch"):
        it.set_tensor(0, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="Invalid tensor index"):
        it.set_tensor(99, np.zeros((1, 4), np.float32))
    with pytest.raises(sc.InvalidArgument):
        it.set_tensor("x", np.zeros((1, 4), np.float32))


def test_intermediates_need_preserve_all_tensors():
    content, w = _mlp_bytes()
    it = sc.Interpreter(model_content=content)
    it.allocate_tensors()
    it.set_tensor(0, np.ones((1, 4), np.float32))
    it.invoke()
    with pytest.raises(ValueError, match="experimental_preserve_all_tensors"):
        it.get_tensor(2)
    it = sc.Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    it.set_tensor(0, np.ones((1, 4), np.float32))
    it.invoke()
    np.testing.assert_allclose(it.get_tensor(2), np.ones((1, 4), np.float32) @ w, rtol=1e-6)
    assert [d["index"] for d in it.get_output_details()] == [3]  # exposing intermediates adds no outputs


def test_resize_then_allocate_runs_the_new_shape(mlp):
    it, w = mlp
    it.allocate_tensors()
    it.resize_tensor_input(0, [3, 4], strict=True)
    np.testing.assert_array_equal(it.get_input_details()[0]["shape"], [3, 4])
    with pytest.raises(RuntimeError):
        it.invoke()  # allocate_tensors() must follow a resize
    it.allocate_tensors()
    np.testing.assert_array_equal(it.get_output_details()[0]["shape"], [3, 3])
    np.testing.assert_array_equal(it.get_output_details()[0]["shape_signature"], [-1, 3])
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    it.set_tensor(0, x)
    it.invoke()
    np.testing.assert_allclose(it.get_tensor(3), np.maximum(x @ w, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="ResizeInputTensorStrict"):
        it.resize_tensor_input(0, [3, 5], strict=True)
    with pytest.raises(ValueError):
        it.resize_tensor_input(3, [3, 3])  # an output
    with pytest.raises(ValueError):
        it.resize_tensor_input(0, [-2, 4])


def test_tensor_views(mlp):
    it, w = mlp
    it.allocate_tensors()
    x_view = it.tensor(0)
    y_view = it.tensor(3)
    held = y_view()
    for k in range(3):
        x_view().fill(k - 1)
        it.invoke()
        expected = np.maximum(np.full((1, 4), k - 1, np.float32) @ w, 0)
        np.testing.assert_allclose(y_view(), expected, rtol=1e-6)
        np.testing.assert_allclose(held, expected, rtol=1e-6)  # the buffer is reused in place
    assert not it.tensor(1)().flags.writeable  # a constant


def test_constructor_arguments():
    content, _ = _mlp_bytes()
    with pytest.raises(ValueError, match="num_threads should >= 1"):
        sc.Interpreter(model_content=content, num_threads=0)
    with pytest.raises(ValueError, match="type of num_threads"):
        sc.Interpreter(model_content=content, num_threads="2")
    with pytest.raises(ValueError, match="must be specified"):
        sc.Interpreter()
    with pytest.raises(ValueError, match="Can't both"):
        sc.Interpreter(model_path="a.tflite", model_content=content)
    it = sc.Interpreter(model_content=content, num_threads=2, experimental_op_resolver_type=None, whatever=1)
    it.allocate_tensors()


def test_unreadable_models_raise_value_errors(tmp_path):
    with pytest.raises(ValueError) as e:
        sc.Interpreter(model_path=str(tmp_path / "missing.tflite"))
    assert isinstance(e.value, sc.SwiftconvIOError)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40)
    with pytest.raises(ValueError) as e:
        sc.Interpreter(model_path=str(bad))
    assert isinstance(e.value, sc.ModelFormatError)


def test_no_signatures_on_an_onnx_model(mlp):
    it, _ = mlp
    assert it.get_signature_list() == {}
    with pytest.raises(ValueError, match="has 0 Signatures"):
        it.get_signature_runner()
    with pytest.raises(ValueError, match="Invalid signature_key"):
        sc.lite.SignatureRunner(it, "serving_default")


def test_custom_op_is_unsupported_at_interpreter_creation():
    """Issue 9: a custom or Flex op fails when the interpreter is created, naming the op."""
    graph = helper.make_graph(
        [helper.make_node("MyCustom", ["x"], ["y"], domain="tflite.custom")],
        "g",
        [helper.make_tensor_value_info("x", TP.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [2])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("tflite.custom", 1)],
        ir_version=8,
    )
    with pytest.raises(sc.UnsupportedOp, match="MyCustom"):
        sc.Interpreter(model_content=model.SerializeToString())


# ---------------------------------------------------- against LiteRT on .tflite


def _ours(path, **kwargs):
    return sc.Interpreter(model_path=str(path), **kwargs)


@pytest.mark.parametrize("path", TFLITE_FILES, ids=[p.stem for p in TFLITE_FILES])
def test_details_match_litert(path):
    ours, theirs = _ours(path), _litert(path)
    _assert_same_details(ours.get_input_details(), theirs.get_input_details())
    _assert_same_details(ours.get_output_details(), theirs.get_output_details())
    _assert_same_details(ours.get_tensor_details(), theirs.get_tensor_details())
    assert ours.get_signature_list() == theirs.get_signature_list()
    assert ours._get_full_signature_list() == theirs._get_full_signature_list()


def _allocated(path, **kwargs):
    """Our interpreter, allocated; a fixture whose ops have no kernels yet is skipped by name."""
    it = _ours(path, **kwargs)
    _needing_kernels(it.allocate_tensors)
    return it


def _needing_kernels(call, *args, **kwargs):
    """Runs `call`; an op without a kernel for these types (found at allocate_tensors, or at
    invoke for a type only known then) skips the test, naming the nodes."""
    try:
        return call(*args, **kwargs)
    except sc.UnsupportedOp as e:
        pytest.skip(f"kernels missing: {e}")


@pytest.mark.parametrize("path", TFLITE_FILES, ids=[p.stem for p in TFLITE_FILES])
def test_outputs_match_litert(path):
    ours = _allocated(path)
    theirs = _litert(path)
    theirs.allocate_tensors()
    rng = np.random.default_rng(1)
    for detail in theirs.get_input_details():
        value = _random_input(detail, rng)
        ours.set_tensor(detail["index"], value)
        theirs.set_tensor(detail["index"], value)
    _needing_kernels(ours.invoke)
    theirs.invoke()
    for detail in theirs.get_output_details():
        want = theirs.get_tensor(detail["index"])
        got = ours.get_tensor(detail["index"])
        assert got.dtype == want.dtype and got.shape == want.shape
        if np.issubdtype(want.dtype, np.floating):
            np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
        else:  # integer outputs: LiteRT's default kernels may round differently from the reference ones
            assert np.max(np.abs(got.astype(np.int64) - want.astype(np.int64))) <= 5


@pytest.mark.parametrize("path", TFLITE_FILES, ids=[p.stem for p in TFLITE_FILES])
def test_same_errors_as_litert(path):
    ours, theirs = _ours(path), _litert(path)
    detail = theirs.get_input_details()[0]
    index = detail["index"]
    cases = {
        "invoke before allocate": lambda it: it.invoke(),
        "set before allocate": lambda it: it.set_tensor(index, np.zeros(detail["shape"], detail["dtype"])),
    }
    wrong_dtype = np.float64 if detail["dtype"] != np.float64 else np.float32
    after = {
        "wrong dtype": lambda it: it.set_tensor(index, np.zeros(detail["shape"], wrong_dtype)),
        "wrong rank": lambda it: it.set_tensor(index, np.zeros([*detail["shape"], 1], detail["dtype"])),
        "bad index": lambda it: it.get_tensor(10**6),
        "bad signature": lambda it: it.get_signature_runner("no such signature"),
    }
    for name, call in cases.items():
        with pytest.raises(Exception) as theirs_error:
            call(theirs)
        with pytest.raises(type(theirs_error.value)):
            call(ours)
        assert isinstance(theirs_error.value, (ValueError, RuntimeError)), name
    try:
        ours.allocate_tensors()
    except sc.UnsupportedOp as e:
        pytest.skip(f"kernels missing (the errors before allocate_tensors matched): {e}")
    theirs.allocate_tensors()
    for call in after.values():
        with pytest.raises(Exception) as theirs_error:
            call(theirs)
        with pytest.raises(type(theirs_error.value)):
            call(ours)


@pytest.mark.parametrize("path", TFLITE_FILES, ids=[p.stem for p in TFLITE_FILES])
def test_signature_runner_matches_litert(path):
    theirs = _litert(path)
    if not theirs.get_signature_list():
        pytest.skip("no SignatureDef in this fixture")
    ours = _allocated(path)
    run_theirs = theirs.get_signature_runner()
    run_ours = ours.get_signature_runner()
    rng = np.random.default_rng(2)
    feeds = {name: _random_input(d, rng) for name, d in run_theirs.get_input_details().items()}
    want, got = run_theirs(**feeds), _needing_kernels(run_ours, **feeds)
    assert list(got) == list(want)
    for name in want:
        assert got[name].shape == want[name].shape
        if np.issubdtype(want[name].dtype, np.floating):
            np.testing.assert_allclose(got[name], want[name], atol=1e-4, rtol=1e-4)
    for a, b in [
        (run_ours.get_input_details(), run_theirs.get_input_details()),
        (run_ours.get_output_details(), run_theirs.get_output_details()),
    ]:
        assert list(a) == list(b)
        _assert_same_details(list(a.values()), list(b.values()))


@pytest.mark.parametrize("path", TFLITE_FILES, ids=[p.stem for p in TFLITE_FILES])
def test_resize_batch_matches_litert(path):
    theirs = _litert(path)
    detail = theirs.get_input_details()[0]
    if detail["shape_signature"].size == 0 or detail["shape_signature"][0] != -1:
        pytest.skip("the first input has no dynamic batch")
    ours = _allocated(path)
    shape = [3, *detail["shape"][1:]]
    for it in (ours, theirs):
        it.resize_tensor_input(detail["index"], shape, strict=True)
        _needing_kernels(it.allocate_tensors)
    _assert_same_details(ours.get_input_details(), theirs.get_input_details())
    rng = np.random.default_rng(3)
    for d in theirs.get_input_details():
        value = _random_input(d, rng)
        ours.set_tensor(d["index"], value)
        theirs.set_tensor(d["index"], value)
    _needing_kernels(ours.invoke)
    theirs.invoke()
    # A dynamic-range op quantizes its float input per image at run time: a 1-ulp difference
    # upstream (summation order) can move one element across a rounding boundary, one int8
    # step, about 1e-3 on MobileNetV2's logits (checked on batch 3: one element of one image;
    # LiteRT's own XNNPACK and reference kernels differ by 1.5e-3 on this model). Float models
    # are held to 1e-4.
    tol = 2e-3 if path.stem.endswith("_dynamic") else 1e-4
    for d in theirs.get_output_details():
        want, got = theirs.get_tensor(d["index"]), ours.get_tensor(d["index"])
        assert got.shape == want.shape
        if np.issubdtype(want.dtype, np.floating):
            np.testing.assert_allclose(got, want, atol=tol, rtol=1e-4)


def test_fixtures_present_when_importer_is():
    """The LiteRT comparisons above are parametrized over the committed fixtures."""
    if not TFLITE_FILES:
        pytest.skip(f"no .tflite fixtures in {FIXTURES}")
    assert sc.load(TFLITE_FILES[0]).format == "tflite"


def test_onnx_model_round_trips_through_onnx_checker(mlp):
    """The Interpreter leaves the model it was given unchanged."""
    content, _ = _mlp_bytes()
    it = sc.Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    it.resize_tensor_input(0, [2, 4])
    it.allocate_tensors()
    onnx.checker.check_model(onnx.load_model_from_string(it._model.to_bytes()))
    assert [o.name for o in onnx.load_model_from_string(it._model.to_bytes()).graph.output] == ["y"]


@pytest.mark.parametrize("path", TFLITE_FILES, ids=[p.stem for p in TFLITE_FILES])
def test_preserved_intermediates_match_litert(path):
    ours = _allocated(path, experimental_preserve_all_tensors=True)
    # (With LiteRT's default XNNPACK delegate the tensors inside a delegated partition hold
    # stale data: _litert uses the reference kernels.)
    theirs = _litert(path, experimental_preserve_all_tensors=True)
    theirs.allocate_tensors()
    rng = np.random.default_rng(4)
    for d in theirs.get_input_details():
        value = _random_input(d, rng)
        ours.set_tensor(d["index"], value)
        theirs.set_tensor(d["index"], value)
    _needing_kernels(ours.invoke)
    theirs.invoke()
    compared = 0
    ours_indices = {d["index"] for d in ours.get_tensor_details()}
    # Tensors no operator writes and no caller feeds (an LSTM's `intermediates`, which only carry
    # quantization parameters) have no defined value in LiteRT either.
    defined = {i for op in theirs._get_ops_details() for i in op["outputs"]}
    defined |= {d["index"] for d in theirs.get_input_details()}
    for d in theirs.get_tensor_details():
        if d["index"] not in ours_indices:  # a scratch tensor a reference kernel added (im2col)
            continue
        if d["index"] not in defined:
            continue
        if ours._tensors[d["index"]]["constant"] or ours._tensors[d["index"]]["variable"]:
            # Weights are compared by the round-trip tests; a variable tensor (an LSTM's state)
            # is zeros at every run here, while LiteRT keeps the last run's final state in it.
            continue
        try:
            want = theirs.get_tensor(d["index"])
        except ValueError:  # LiteRT holds no data for it (a tensor of a delegated partition)
            continue
        got = ours.get_tensor(d["index"])
        assert np.shape(got) == np.shape(want), d["name"]
        if np.issubdtype(np.asarray(want).dtype, np.floating):
            np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4, err_msg=d["name"])
        else:
            np.testing.assert_array_equal(got, want, err_msg=d["name"])
        compared += 1
    assert compared > 0
