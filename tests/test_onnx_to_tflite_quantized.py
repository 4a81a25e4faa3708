"""ONNX -> TFLite with quantization (issue 10, acceptance 2), on the real models.

'dynamic' and 'float16' outputs have cosine similarity >= 0.999 and >= 0.9999 with the
float ONNX model's (onnxruntime), 'int8' calibrated on 32 samples >= 0.99; the files are
about 4x (dynamic, int8) and 2x (float16) smaller than the float32 one. LiteRT runs each file
with sc.Interpreter's outputs: int8 bit for bit against LiteRT's reference kernels, the
others within float rounding. The quantized TFLite model converted back to ONNX (QDQ and
integer ops) runs in onnxruntime with the same outputs."""

import numpy as np
import pytest
import real_models
from tflite_runner import run_interpreter as _run_interpreter

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")

MODELS = [
    "mobilenet_v2_op13",
    "resnet18_op17_dynbatch",
    "squeezenet1_1_op17",
    "transformer_encoder_op17",
    "lstm_classifier_op13",
]
MIN_COSINE = {"dynamic": 0.999, "float16": 0.9999, "int8": 0.99}
# Size of the quantized file over the float32 one. TFLiteConverter's rules, which the
# quantizer follows, leave weights under 1024 elements float and biases float or int32, so
# "4x" is 0.25-0.3 on the CNNs. Embedding tables (GATHER) and, in 'dynamic' mode, large
# constants of ADD/SUB/MUL (the position table, behind a DEQUANTIZE) become int8 too, which
# TF leaves float. The Transformer stays at 0.32 because its weights are small next to the
# file's structure: its int8 file (224 kB) holds 167 kB of tensor data, all int8 or int32 but
# two float scalars ('dynamic': 8 kB of float biases and LayerNorm vectors under 1024
# elements), and 57 kB of tensor tables, names (12.5 kB) and per-channel quantization (a
# float32 scale and an int64 zero point per output channel of every weight, 15 kB: LiteRT
# refuses a file whose zero points do not match its scales one for one). The float file
# has 36 kB of the same structure for 666 kB of weights, so 4x smaller data gives 0.32.
MAX_SIZE_RATIO = {"dynamic": 0.3, "float16": 0.55, "int8": 0.3}
EMBEDDING_MODELS = {"transformer_encoder_op17": 0.32}


def _cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


_samples = real_models.samples


@pytest.fixture(scope="module")
def float_models():
    cache = {}

    def get(name):
        if name not in cache:
            onnx_bytes = real_models.build(name)
            cache[name] = (onnx_bytes, sc.convert(onnx_bytes, "tflite").to_bytes())
        return cache[name]

    return get


# int8 outputs that are not yet bit for bit LiteRT's reference kernels, with the first tensor
# that differs (found with LiteRT's experimental_preserve_all_tensors and sc.Interpreter's).
NOT_BIT_EXACT: dict = {}


def _cases():
    for name in MODELS:
        for mode in ("dynamic", "float16", "int8"):
            reason = NOT_BIT_EXACT.get((name, mode))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, mode, marks=marks, id=f"{name}-{mode}")


@pytest.mark.parametrize("name,mode", list(_cases()))
def test_quantized_conversion(name, mode, float_models):
    onnx_bytes, float_tflite = float_models(name)
    dataset = _samples(name, 32, seed=1) if mode == "int8" else None
    model = sc.convert(onnx_bytes, "tflite", quantize=mode, representative_dataset=dataset)
    content = model.to_bytes()
    ratio = len(content) / len(float_tflite)
    limit = MAX_SIZE_RATIO[mode] if mode == "float16" else EMBEDDING_MODELS.get(name, MAX_SIZE_RATIO[mode])
    assert ratio <= limit, f"{name} {mode}: {len(content)} / {len(float_tflite)} bytes = {ratio:.2f}"
    source = sc.load(onnx_bytes)
    names = [o.name for o in source.outputs]
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    ours = sc.Interpreter(model_content=content)
    reference = litert.Interpreter(
        model_content=content, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF
    )
    optimized = litert.Interpreter(
        model_content=content, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    for feeds in _samples(name, 3, seed=7):
        want = session.run(None, feeds)
        got = _run_interpreter(ours, feeds, names)
        theirs = _run_interpreter(reference, feeds, names)
        for g, t, w in zip(got, theirs, want):
            assert _cosine(g, w) >= MIN_COSINE[mode], f"{name} {mode}: cosine {_cosine(g, w):.6f}"
            if mode == "int8":
                np.testing.assert_array_equal(g, t)
            elif mode == "float16":
                np.testing.assert_allclose(g, t, atol=1e-4 * max(1.0, float(np.abs(t).max())), rtol=0)
        if mode == "dynamic":
            # Hybrid kernels quantize each activation at run time, and LiteRT's own reference
            # and optimized kernels round that differently (about 1e-2 on mobilenet_v2): ours
            # must be within twice that spread of the reference, or 1e-3 of the output's scale
            # where LiteRT's two agree.
            spread = [np.abs(o - t).max() for o, t in zip(_run_interpreter(optimized, feeds, names), theirs)]
            for g, t, d in zip(got, theirs, spread):
                assert np.abs(g - t).max() <= 2 * d + 1e-3 * max(1.0, float(np.abs(t).max()))


@pytest.mark.parametrize("name,steps", [("mobilenet_v2_op13", 2), ("transformer_encoder_op17", 6)])
def test_quantized_model_back_to_onnx_runs_in_onnxruntime(name, steps, float_models):
    """The ONNX form of a quantized model (TFLite -> ONNX: integer ops and QDQ) runs in
    onnxruntime with LiteRT's outputs: within `steps` int8 steps of the output's range (the
    float output is a DEQUANTIZE of an int8 value whose scale covers at least that range).
    The Transformer's ONNX form is 5 steps off: ops its int8 TFLite form keeps float between
    DEQUANTIZE and QUANTIZE are lowered as QDQ, whose rounding is onnxruntime's."""
    onnx_bytes, _ = float_models(name)
    tfl = sc.convert(onnx_bytes, "tflite", quantize="int8", representative_dataset=_samples(name, 32, seed=1))
    back = sc.convert(tfl, "onnx")
    session = ort.InferenceSession(back.to_bytes(), providers=["CPUExecutionProvider"])
    names = [o.name for o in tfl.outputs]
    reference = litert.Interpreter(
        model_content=tfl.to_bytes(), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF
    )
    for feeds in _samples(name, 2, seed=9):
        want = _run_interpreter(reference, feeds, names)
        got = session.run(names, feeds)
        for g, w in zip(got, want):
            step = (float(w.max()) - float(w.min())) / 255
            assert np.abs(g.astype(np.float64) - w).max() <= steps * step + 1e-6


def test_dynamic_mode_stores_a_large_added_table_int8():
    """A 2048-element table added to an activation (a position table) is int8 with a
    DEQUANTIZE in front of the float ADD; a 64-element one stays float (under TFLiteConverter's
    1024-element minimum)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    big = rng.standard_normal([1, 32, 64]).astype(np.float32)
    small = rng.standard_normal([64]).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "big"], ["a"]), helper.make_node("Mul", ["a", "small"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 64])],
        [numpy_helper.from_array(big, "big"), numpy_helper.from_array(small, "small")],
    )
    onnx_bytes = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    content = sc.convert(onnx_bytes, "tflite", quantize="dynamic").to_bytes()
    interpreter = litert.Interpreter(model_content=content)
    types = {d["name"]: d["dtype"] for d in interpreter.get_tensor_details()}
    assert types["big"] == np.int8 and types["small"] == np.float32
    assert "DEQUANTIZE" in {op["op_name"] for op in interpreter._get_ops_details()}
    feeds = {"x": rng.standard_normal([1, 32, 64]).astype(np.float32)}
    want = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    ours = _run_interpreter(sc.Interpreter(model_content=content), feeds, ["y"])[0]
    theirs = _run_interpreter(interpreter, feeds, ["y"])[0]
    np.testing.assert_array_equal(ours, theirs)
    # Symmetric int8 of the table: within half a step of its largest magnitude.
    step = float(np.abs(big).max()) / 127
    np.testing.assert_allclose(theirs, want, atol=0.5 * step * float(np.abs(small).max()) + 1e-5, rtol=0)
