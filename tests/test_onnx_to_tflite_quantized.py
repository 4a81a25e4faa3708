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
# "4x" is 0.25-0.3 on the CNNs. Embedding tables (GATHER) become int8 too, which TF leaves
# float; the Transformer keeps its 2k-element position table and small weights float (0.33).
MAX_SIZE_RATIO = {"dynamic": 0.3, "float16": 0.55, "int8": 0.3}
EMBEDDING_MODELS = {"transformer_encoder_op17": 0.34}


def _cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _samples(name, count, seed):
    """Inputs like the test inputs, from other seeds (batch 1)."""
    feeds = []
    for k in range(count):
        f = {}
        for spec in real_models.manifest()[name]["inputs"]:
            shape = [1 if d == "batch" else (24 if d == "sequence" else d) for d in spec["shape"]]
            rng = np.random.default_rng([seed, k])
            if spec["kind"] == "normal":
                f[spec["name"]] = rng.standard_normal(shape).astype(np.float32)
            elif spec["kind"] == "tokens":
                f[spec["name"]] = rng.integers(0, spec["high"], shape, dtype=np.int64)
            else:
                mask = np.zeros(shape, dtype=bool)
                mask[:, -4:] = True
                f[spec["name"]] = mask
        feeds.append(f)
    return feeds


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
