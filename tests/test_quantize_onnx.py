"""ONNX -> ONNX post-training quantization (issue 10): sc.quantize of an ONNX model and
sc.convert(..., to='onnx', quantize=...), on the real models.

Each mode's model passes onnx.checker and runs in onnxruntime and in sc.InferenceSession; its
outputs have cosine similarity >= 0.999 ('dynamic'), >= 0.9999 ('float16') and >= 0.99
('int8', calibrated on 32 samples) with the float model's in onnxruntime; the file is about
4x ('dynamic', 'int8') or 2x ('float16') smaller. 'int8' is also held against onnxruntime's
own quantize_static (QDQ, per-channel, int8) on the same samples: our cosine may be at most
0.005 below its.
"""

import collections

import numpy as np
import pytest
import real_models
from test_onnx_to_tflite_quantized import _cosine, _samples

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
quantization = pytest.importorskip("onnxruntime.quantization")

MODELS = ["mobilenet_v2_op13", "resnet18_op17_dynbatch", "transformer_encoder_op17", "lstm_classifier_op13"]
MODES = ("dynamic", "float16", "int8")
MIN_COSINE = {"dynamic": 0.999, "float16": 0.9999, "int8": 0.99}
# Quantized file over float32 file. Weights are 4x (int8) or 2x (float16) smaller; what stays is
# the graph itself, which on the small Transformer (0.7 MB, 130 Constant nodes, a Q/DQ pair
# with its scale and zero point per quantized value, long exporter names) is a fifth of the file.
MAX_SIZE_RATIO = {"dynamic": 0.3, "float16": 0.55, "int8": 0.3}
SMALL_MODELS = {"transformer_encoder_op17": {"dynamic": 0.45, "float16": 0.6, "int8": 0.45}}


def _session(content, level=None):
    options = ort.SessionOptions()
    if level is not None:
        options.graph_optimization_level = level
    return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])


def _output_scales(model_proto):
    """The scale of the DequantizeLinear that writes each graph output (int8 mode)."""
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in model_proto.graph.initializer}
    scales = {}
    for node in model_proto.graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] in {o.name for o in model_proto.graph.output}:
            scales[node.output[0]] = float(constants[node.input[1]])
    return scales


@pytest.fixture(scope="module")
def quantized():
    cache = {}

    def get(name, mode):
        if (name, mode) not in cache:
            source = real_models.build(name)
            dataset = _samples(name, 32, seed=1) if mode == "int8" else None
            cache[(name, mode)] = (source, sc.quantize(source, mode, dataset).to_bytes())
        return cache[(name, mode)]

    return get


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", MODELS)
def test_quantized_onnx_runs_in_onnxruntime_and_here(name, mode, quantized):
    source, content = quantized(name, mode)
    proto = onnx.load_from_string(content)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 13
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    if mode == "int8":
        assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0
    elif mode == "dynamic":
        assert ops["DequantizeLinear"] + ops["MatMulInteger"] > 0
    else:
        assert ops["Cast"] > 0
    src = onnx.load_from_string(source)
    assert [i.name for i in proto.graph.input] == [i.name for i in src.graph.input]
    assert [o.name for o in proto.graph.output] == [o.name for o in src.graph.output]
    for a, b in zip(proto.graph.output, src.graph.output):
        assert a.type.tensor_type.elem_type == b.type.tensor_type.elem_type == onnx.TensorProto.FLOAT

    ratio = len(content) / len(source)
    limit = SMALL_MODELS.get(name, MAX_SIZE_RATIO)[mode]
    assert ratio <= limit, f"{name} {mode}: {len(content)} / {len(source)} bytes = {ratio:.3f}"

    reference = _session(source)
    theirs = _session(content)
    # onnxruntime without its graph rewrites evaluates each Q/DQ as written, as our engine does.
    literal = _session(content, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    ours = sc.InferenceSession(content)
    scales = _output_scales(proto) if mode == "int8" else {}
    names = [o.name for o in proto.graph.output]
    for feeds in _samples(name, 3, seed=7):
        want = reference.run(None, feeds)
        got = ours.run(None, feeds)
        ort_got = theirs.run(None, feeds)
        ort_literal = literal.run(None, feeds)
        for out, g, t, lit, w in zip(names, got, ort_got, ort_literal, want):
            assert _cosine(t, w) >= MIN_COSINE[mode], f"{name} {mode}: onnxruntime cosine {_cosine(t, w):.6f}"
            assert _cosine(g, w) >= MIN_COSINE[mode], f"{name} {mode}: our cosine {_cosine(g, w):.6f}"
            if mode == "int8":
                # Outputs are DequantizeLinear values: multiples of the output scale. Against the
                # graph as written we may differ only where a float sum lands within rounding of
                # a .5 tie, which moves one value one step; onnxruntime's fused integer kernels
                # (QLinearConv...) requantize in fixed point, so their steps differ more often and
                # a step in an early layer can move the output by a few more.
                step = scales[out]
                assert np.abs(g - lit).max() <= 1 * step + 1e-6, f"{name}: {np.abs(g - lit).max() / step:.1f} steps"
                assert np.abs(g - t).max() <= 8 * step + 1e-6, f"{name}: {np.abs(g - t).max() / step:.1f} steps"
            else:
                # float16: float compute on the same weights, so float rounding (summation order).
                # dynamic: inputs are quantized at run time (uint8, a step is 1/255 of their range)
                # and an input that float rounding puts on the other side of a rounding boundary
                # moves by one step; a few such steps stay within 0.5% of the output's magnitude.
                tolerance = (5e-3 if mode == "dynamic" else 1e-4) * max(1.0, float(np.abs(t).max()))
                np.testing.assert_allclose(g, t, atol=tolerance, rtol=0)
                np.testing.assert_allclose(g, lit, atol=tolerance, rtol=0)


class _Reader(quantization.CalibrationDataReader):
    def __init__(self, samples):
        self._samples = iter(samples)

    def get_next(self):
        return next(self._samples, None)


@pytest.mark.parametrize("name", MODELS)
def test_int8_is_as_accurate_as_onnxruntime_quantize_static(name, quantized, tmp_path):
    source, content = quantized(name, "int8")
    (tmp_path / "float.onnx").write_bytes(source)
    quantization.quantize_static(
        str(tmp_path / "float.onnx"),
        str(tmp_path / "ort_int8.onnx"),
        _Reader(_samples(name, 32, seed=1)),
        quant_format=quantization.QuantFormat.QDQ,
        per_channel=True,
        activation_type=quantization.QuantType.QInt8,
        weight_type=quantization.QuantType.QInt8,
    )
    reference = _session(source)
    ours = _session(content)
    theirs = _session((tmp_path / "ort_int8.onnx").read_bytes())
    for feeds in _samples(name, 3, seed=7):
        want = reference.run(None, feeds)[0]
        ours_cos = _cosine(ours.run(None, feeds)[0], want)
        theirs_cos = _cosine(theirs.run(None, feeds)[0], want)
        print(f"{name}: cosine ours {ours_cos:.6f}, onnxruntime quantize_static {theirs_cos:.6f}")
        assert ours_cos >= theirs_cos - 0.005
