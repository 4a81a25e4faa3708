"""A quantized ONNX model in QDQ form converts to an int8 TFLite model with no calibration
(issue 10): sc.convert(qdq, 'tflite') keeps the Q/DQ pairs' own scales and zero points.

The QDQ models are made here by onnxruntime.quantization.quantize_static (QDQ format,
per-channel int8 weights, int8 or uint8 activations, 8 calibration samples) from small
onnx.helper models and the real CNNs. Oracles: onnxruntime running the QDQ model, the
float model in onnxruntime, LiteRT's reference kernels (BUILTIN_REF) against sc.Interpreter.
"""

import io

import numpy as np
import onnx
import pytest
import real_models
from onnx import TensorProto, helper, numpy_helper
from tflite_runner import run_litert, run_ours

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
quantization = pytest.importorskip("onnxruntime.quantization")
litert = pytest.importorskip("ai_edge_litert.interpreter")

# TFLite's kernels fix these output parameters (LOGISTIC and SOFTMAX 1/256, TANH 1/128),
# whatever the source says; they are the only int8 activation scales not taken from the source.
KERNEL_SCALES = {np.float32(1 / 256), np.float32(1 / 128)}


def _cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


class _Reader(quantization.CalibrationDataReader):
    def __init__(self, samples):
        self._it = iter(samples)

    def get_next(self):
        return next(self._it, None)


def _qdq(float_bytes: bytes, samples: list, activation_type, per_channel=True) -> bytes:
    """`float_bytes` quantized by onnxruntime in QDQ form (int8 weights, per channel by default)."""
    out = io.BytesIO()
    model = onnx.load_from_string(float_bytes)
    quantization.quantize_static(
        model,
        out,
        _Reader(samples),
        quant_format=quantization.QuantFormat.QDQ,
        per_channel=per_channel,
        activation_type=activation_type,
        weight_type=quantization.QuantType.QInt8,
    )
    return out.getvalue()


def _ort(model_bytes: bytes, feeds: dict) -> list:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _qdq_params(qdq_bytes: bytes):
    """The source's int8 activation parameters by value name (uint8 moved to int8) and the
    (scales, zero points) of its int8 constants."""
    model = onnx.load_from_string(qdq_bytes)
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    activations, weights, quantized = {}, [], {}
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear":
            scale, zp = consts[node.input[1]], consts[node.input[2]]
            shift = 128 if zp.dtype == np.uint8 else 0
            activations[node.input[0]] = quantized[node.output[0]] = (np.float32(scale), int(zp) - shift)
        elif node.op_type == "DequantizeLinear" and node.input[0] in quantized:
            activations[node.output[0]] = quantized[node.input[0]]
        elif node.op_type == "DequantizeLinear" and consts.get(node.input[0], np.zeros(0)).dtype in (np.int8, np.uint8):
            # uint8 constants (a table onnxruntime quantizes as an activation) move to int8 too.
            shift = 128 if consts[node.input[0]].dtype == np.uint8 else 0
            zero_points = (
                consts[node.input[2]].astype(np.int64) - shift if len(node.input) > 2 else np.zeros(1, np.int64)
            )
            weights.append((np.asarray(consts[node.input[1]], np.float32).ravel(), np.asarray(zero_points).ravel()))
    return activations, weights


def _tensors(content: bytes) -> list:
    return litert.Interpreter(model_content=content).get_tensor_details()


def _op_names(content: bytes) -> list:
    it = litert.Interpreter(model_content=content)
    return [op["op_name"] for op in it._get_ops_details()]


def _check_scales_are_the_sources(content: bytes, qdq_bytes: bytes) -> float:
    """Every int8 tensor's parameters are the source's: per-channel weight scales equal a
    source weight's, each activation's (scale, zero point) is a source pair (the same value's
    where the name survives) or a kernel's fixed one. Returns the share of the source's
    activation pairs that the TFLite model uses."""
    activations, weights = _qdq_params(qdq_bytes)
    pairs = set(activations.values())
    per_tensor_constants = {(s[0], int(z[0])) for s, z in weights if s.size == 1}
    used = set()
    for d in _tensors(content):
        if d["dtype"] != np.int8:
            continue
        q = d["quantization_parameters"]
        scales = np.asarray(q["scales"], np.float32)
        if len(scales) > 1:
            # A grouped Conv's parts take runs of the source's channels.
            runs = (w[k : k + len(scales)] for w, _ in weights for k in range(0, len(w) - len(scales) + 1, len(scales)))
            assert any(np.array_equal(r, scales) for r in runs), d["name"]
            assert not np.any(q["zero_points"]), d["name"]
            continue
        pair = (scales[0], int(q["zero_points"][0]))
        if d["name"] in activations:
            assert pair == activations[d["name"]], d["name"]
        if pair in pairs:
            used.add(pair)
        else:
            assert scales[0] in KERNEL_SCALES or pair in per_tensor_constants, (d["name"], pair)
    return len(used) / len(pairs)


# --- small models, one op each ------------------------------------------------------------

RNG = np.random.default_rng(7)


def _init(name, shape, scale=0.3):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _model(nodes, inputs, output_shape, inits=(), opset=13):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 21 else 10
    return model.SerializeToString()


IMG = [1, 4, 8, 8]
SMALL = {
    "conv_relu": _model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        [("x", IMG)],
        [1, 6, 8, 8],
        [_init("w", [6, 4, 3, 3]), _init("b", [6], 0.1)],
    ),
    "depthwise_conv": _model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], group=4)],
        [("x", IMG)],
        [1, 4, 8, 8],
        [_init("w", [4, 1, 3, 3]), _init("b", [4], 0.1)],
    ),
    "grouped_conv": _model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], group=2)],
        [("x", IMG)],
        [1, 6, 8, 8],
        [_init("w", [6, 2, 3, 3]), _init("b", [6], 0.1)],
    ),
    "gemm": _model(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
        [("x", [1, 32])],
        [1, 10],
        [_init("w", [10, 32]), _init("b", [10], 0.1)],
    ),
    "matmul": _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [("x", [1, 32])],
        [1, 12],
        [_init("w", [32, 12])],
    ),
    "add": _model([helper.make_node("Add", ["x", "z"], ["y"])], [("x", IMG), ("z", IMG)], IMG),
    "concat": _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"]),
            helper.make_node("Concat", ["c", "x"], ["y"], axis=1),
        ],
        [("x", IMG)],
        [1, 8, 8, 8],
        [_init("w", [4, 4, 1, 1])],
    ),
    "maxpool": _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"]),
            helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
        ],
        [("x", IMG)],
        [1, 4, 4, 4],
        [_init("w", [4, 4, 1, 1])],
    ),
    "averagepool": _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"]),
            helper.make_node("AveragePool", ["c"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
        ],
        [("x", IMG)],
        [1, 4, 4, 4],
        [_init("w", [4, 4, 1, 1])],
    ),
    "softmax": _model(
        [helper.make_node("Gemm", ["x", "w"], ["g"], transB=1), helper.make_node("Softmax", ["g"], ["y"], axis=-1)],
        [("x", [1, 32])],
        [1, 10],
        [_init("w", [10, 32])],
    ),
}


def _feeds(model_bytes: bytes, seed: int) -> dict:
    model = onnx.load_from_string(model_bytes)
    rng = np.random.default_rng(seed)
    return {
        i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
        for i in model.graph.input
    }


ACTIVATION_TYPES = {"int8": quantization.QuantType.QInt8, "uint8": quantization.QuantType.QUInt8}


def _check(float_bytes, qdq_bytes, feeds, steps, min_cosine=0.99, size_ratio=None):
    """The conversion of `qdq_bytes` against every oracle; returns the TFLite bytes."""
    content = sc.convert(qdq_bytes, "tflite").to_bytes()
    ops = _op_names(content)
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops
    _check_scales_are_the_sources(content, qdq_bytes)
    names = [o.name for o in onnx.load_from_string(qdq_bytes).graph.output]
    ref = run_litert(content, feeds, names, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    ours = run_ours(content, feeds, names)
    expected = _ort(qdq_bytes, feeds)
    floats = _ort(float_bytes, feeds)
    activations = _qdq_params(qdq_bytes)[0]
    for name, r, o, e, f in zip(names, ref, ours, expected, floats):
        np.testing.assert_array_equal(o, r, err_msg=f"sc.Interpreter vs LiteRT BUILTIN_REF on {name}")
        assert name in activations, f"output {name} has no QDQ pair"
        worst = float(np.max(np.abs(r - e))) / float(activations[name][0])
        assert worst <= steps, f"{name}: {worst:.2f} int8 steps from onnxruntime's QDQ result"
        assert _cosine(r, f) >= min_cosine
    if size_ratio is not None:
        float_size = len(sc.convert(float_bytes, "tflite").to_bytes())
        assert len(content) <= size_ratio * float_size, (len(content), float_size)
    return content


@pytest.mark.parametrize("activation", sorted(ACTIVATION_TYPES))
@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_qdq_model_converts_to_int8(name, activation):
    float_bytes = SMALL[name]
    samples = [_feeds(float_bytes, 100 + k) for k in range(8)]
    qdq = _qdq(float_bytes, samples, ACTIVATION_TYPES[activation])
    # One op: onnxruntime (float requantization, rounding half to even) and LiteRT (fixed-point
    # multiplier, half away from zero) may round the one requantization differently: 1 step;
    # the softmax output is requantized from onnxruntime's scale to TFLite's fixed 1/256 (1 more).
    content = _check(float_bytes, qdq, _feeds(float_bytes, 1), steps=2, min_cosine=0.98)
    details = _tensors(content)
    # The op itself runs in int8: every tensor but the float32 interface and its QUANTIZE/DEQUANTIZE.
    floats = [d["name"] for d in details if d["dtype"] == np.float32]
    interface = {i.name for i in onnx.load_from_string(qdq).graph.input} | {"y"}
    assert set(floats) <= interface, floats


@pytest.mark.parametrize("name", ["conv_relu", "depthwise_conv", "gemm"])
def test_per_tensor_weights_stay_per_tensor(name):
    float_bytes = SMALL[name]
    samples = [_feeds(float_bytes, 100 + k) for k in range(8)]
    qdq = _qdq(float_bytes, samples, quantization.QuantType.QUInt8, per_channel=False)
    content = _check(float_bytes, qdq, _feeds(float_bytes, 1), steps=2, min_cosine=0.98)
    _, weights = _qdq_params(qdq)
    per_tensor = {
        (np.float32(d["quantization_parameters"]["scales"][0]), int(d["quantization_parameters"]["zero_points"][0]))
        for d in _tensors(content)
        if d["dtype"] == np.int8 and len(d["quantization_parameters"]["scales"]) == 1
    }
    assert weights and all(s.size == 1 and (s[0], 0) in per_tensor for s, _ in weights)


REAL = ["mobilenet_v2_op13", "resnet18_op17_dynbatch", "squeezenet1_1_op13"]


@pytest.mark.parametrize("name", REAL)
def test_real_qdq_model_converts_to_int8(name):
    float_bytes = real_models.build(name)
    input_name = real_models.manifest()[name]["inputs"][0]["name"]
    shape = real_models.inputs(name, 1)[input_name].shape
    samples = [{input_name: np.random.default_rng([5, k]).standard_normal(shape).astype(np.float32)} for k in range(8)]
    qdq = _qdq(float_bytes, samples, quantization.QuantType.QUInt8)
    # Both run the same int8 arithmetic but round requantizations differently (LiteRT: a
    # fixed-point multiplier, ties away from zero; onnxruntime: float, ties to even), which
    # rarely flips a step and barely propagates: measured worst 1 output step on all three.
    content = _check(float_bytes, qdq, real_models.inputs(name, 1), steps=2, size_ratio=0.3)
    assert _check_scales_are_the_sources(content, qdq) >= 0.95
    floats = [d["name"] for d in _tensors(content) if d["dtype"] == np.float32]
    assert set(floats) == set(real_models.inputs(name, 1)) | {o.name for o in onnx.load_from_string(qdq).graph.output}


def _q_dq(x, scale, zero_point, out, inits):
    """A per-tensor uint8 QuantizeLinear/DequantizeLinear pair from `x` to `out`."""
    inits += [
        numpy_helper.from_array(np.array(scale, np.float32), f"{out}_scale"),
        numpy_helper.from_array(np.array(zero_point, np.uint8), f"{out}_zp"),
    ]
    return [
        helper.make_node("QuantizeLinear", [x, f"{out}_scale", f"{out}_zp"], [f"{out}_q"]),
        helper.make_node("DequantizeLinear", [f"{out}_q", f"{out}_scale", f"{out}_zp"], [out]),
    ]


def _sin_between_int8_ops():
    """x -> Conv -> Sin -> Add(x) -> y, every activation and the weights in Q/DQ pairs, as a
    QDQ tool writes them around an op TFLite has no int8 kernel for (SIN)."""
    inits = []
    w = np.round(RNG.standard_normal([4, 4, 1, 1]) * 40).clip(-127, 127).astype(np.int8)
    w_scale = np.array([0.01, 0.02, 0.015, 0.005], np.float32)
    inits += [
        numpy_helper.from_array(w, "w_q"),
        numpy_helper.from_array(w_scale, "w_scale"),
        numpy_helper.from_array(np.zeros(4, np.int8), "w_zp"),
    ]
    nodes = _q_dq("x", 0.03, 128, "x_dq", inits)
    nodes.append(helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w"], axis=0))
    nodes.append(helper.make_node("Conv", ["x_dq", "w"], ["c"]))
    nodes += _q_dq("c", 0.01, 120, "c_dq", inits)
    nodes.append(helper.make_node("Sin", ["c_dq"], ["s"]))
    nodes += _q_dq("s", 1 / 127, 128, "s_dq", inits)
    nodes.append(helper.make_node("Add", ["s_dq", "x_dq"], ["a"]))
    nodes += _q_dq("a", 0.04, 128, "y", inits)
    return _model(nodes, [("x", IMG)], IMG, inits)


def test_op_without_int8_kernel_stays_float_between_int8_ops():
    qdq = _sin_between_int8_ops()
    content = sc.convert(qdq, "tflite").to_bytes()
    it = litert.Interpreter(model_content=content)
    details = it.get_tensor_details()
    kinds = {
        op["op_name"]: ([details[i]["dtype"] for i in op["inputs"]][0], details[op["outputs"][0]]["dtype"])
        for op in it._get_ops_details()
    }
    assert kinds["SIN"] == (np.float32, np.float32)
    assert kinds["CONV_2D"] == (np.int8, np.int8) and kinds["ADD"] == (np.int8, np.int8)
    assert [op["op_name"] for op in it._get_ops_details()].count("DEQUANTIZE") == 2  # before SIN, at the output
    weights = next(d for d in details if d["dtype"] == np.int8 and len(d["quantization_parameters"]["scales"]) == 4)
    np.testing.assert_array_equal(weights["quantization_parameters"]["scales"], np.float32([0.01, 0.02, 0.015, 0.005]))
    np.testing.assert_array_equal(
        it.get_tensor(weights["index"]).ravel(),
        onnx.numpy_helper.to_array(
            next(t for t in onnx.load_from_string(qdq).graph.initializer if t.name == "w_q")
        ).ravel(),
    )
    feeds = _feeds(qdq, 3)
    ref = run_litert(content, feeds, ["y"], experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)[0]
    ours = run_ours(content, feeds, ["y"])[0]
    expected = _ort(qdq, feeds)[0]
    # The float SIN may differ in its last bit between the engines and tip a requantization.
    np.testing.assert_allclose(ours, ref, rtol=0, atol=0.04 * 1.001)
    assert np.max(np.abs(ref - expected)) <= 2 * 0.04 * 1.001


def test_qdq_source_with_quantize_is_refused():
    qdq = _sin_between_int8_ops()
    for mode in ("dynamic", "float16"):
        with pytest.raises(sc.InvalidArgument, match="already quantized"):
            sc.convert(qdq, "tflite", quantize=mode)
    with pytest.raises(sc.InvalidArgument, match="already quantized"):
        sc.convert(qdq, "tflite", quantize="int8", representative_dataset=[_feeds(qdq, 0)])


def test_qdq_conversion_with_channels_last_interface():
    float_bytes = SMALL["conv_relu"]
    qdq = _qdq(float_bytes, [_feeds(float_bytes, 100 + k) for k in range(8)], quantization.QuantType.QInt8)
    content = sc.convert(qdq, "tflite", keep_layout=False).to_bytes()
    feeds = _feeds(float_bytes, 1)
    nhwc = {k: v.transpose(0, 2, 3, 1) for k, v in feeds.items()}
    ref = run_litert(content, nhwc, ["y"], experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)[0]
    np.testing.assert_array_equal(run_ours(content, nhwc, ["y"])[0], ref)
    expected = _ort(qdq, feeds)[0].transpose(0, 2, 3, 1)
    scale = _qdq_params(qdq)[0]["y"][0]
    assert np.max(np.abs(ref - expected)) <= 1.001 * scale
    assert "TRANSPOSE" not in _op_names(content)


def _without_unusable_pairs(qdq_bytes: bytes) -> bytes:
    """The QDQ model with its pairs of non-finite scale taken out, as the conversion takes them:
    onnxruntime quantizes with such a scale to the zero point and dequantizes to 0 * inf."""
    model = onnx.load_from_string(qdq_bytes)
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    bad = {
        n.output[0]: n.input[0]
        for n in model.graph.node
        if n.op_type == "QuantizeLinear" and not np.all(np.isfinite(consts[n.input[1]]))
    }
    alias, kept = {}, []
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in bad:
            alias[n.output[0]] = bad[n.input[0]]
        elif not (n.op_type == "QuantizeLinear" and n.output[0] in bad):
            kept.append(n)
    for n in kept:
        n.input[:] = [alias.get(x, x) for x in n.input]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model.SerializeToString()


# onnxruntime's calibration divides by the infinite range of the masked scores.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_transformer_qdq_model_converts_to_int8():
    name = "transformer_encoder_op17"
    float_bytes = real_models.build(name)
    test_feeds = real_models.inputs(name, 1)
    samples = []
    for k in range(8):
        rng = np.random.default_rng([9, k])
        samples.append({n: rng.integers(0, 1000, v.shape) if v.dtype == np.int64 else v for n, v in test_feeds.items()})
    qdq = _qdq(float_bytes, samples, quantization.QuantType.QUInt8)
    # onnxruntime calibrates the attention scores after the -inf padding mask to an infinite
    # scale; the conversion leaves those values float (QDQImport), so the oracle is the QDQ
    # model without those pairs (with them onnxruntime's own cosine to the float model is 0.976).
    content = _check(float_bytes, _without_unusable_pairs(qdq), test_feeds, steps=2, size_ratio=0.4)
    assert content == sc.convert(qdq, "tflite").to_bytes()
    ops = _op_names(content)
    it = litert.Interpreter(model_content=content)
    details = it.get_tensor_details()
    int8_ops = {op["op_name"] for op in it._get_ops_details() if details[op["outputs"][0]]["dtype"] == np.int8}
    assert {"FULLY_CONNECTED", "BATCH_MATMUL", "GATHER", "ADD"} <= int8_ops, (int8_ops, ops)


def test_pair_int8_cannot_state_leaves_its_value_float():
    """A 16-bit pair (onnxruntime's QInt16 activations) has no int8 form: the value stays
    float and the ops touching it run in float."""
    inits = []
    nodes = _q_dq("x", 0.03, 128, "x_dq", inits)
    nodes.append(helper.make_node("Sin", ["x_dq"], ["s"]))
    inits += [
        numpy_helper.from_array(np.array(1 / 32768, np.float32), "s_scale"),
        numpy_helper.from_array(np.array(0, np.int16), "s_zp"),
    ]
    nodes += [
        helper.make_node("QuantizeLinear", ["s", "s_scale", "s_zp"], ["s_q"]),
        helper.make_node("DequantizeLinear", ["s_q", "s_scale", "s_zp"], ["s_dq"]),
        helper.make_node("Relu", ["s_dq"], ["r"]),
    ]
    nodes += _q_dq("r", 1 / 255, 0, "y", inits)
    qdq = _model(nodes, [("x", IMG)], IMG, inits, opset=21)  # 16-bit Q/DQ
    content = sc.convert(qdq, "tflite").to_bytes()
    it = litert.Interpreter(model_content=content)
    details = it.get_tensor_details()
    relu = next(op for op in it._get_ops_details() if op["op_name"] == "RELU")
    assert details[relu["inputs"][0]]["dtype"] == np.float32
    feeds = _feeds(qdq, 4)
    ref = run_litert(content, feeds, ["y"], experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)[0]
    assert not any(d["dtype"] in (np.int8, np.int16) for d in details)
    # No int8 op reads x or y either, so the whole model is float: onnxruntime's roundings
    # (half a step of x's 0.03 through sin, whose slope is at most 1; 1/65536 at the 16-bit
    # pair; half an output step of 1/255) are all it differs by.
    assert np.max(np.abs(ref - _ort(qdq, feeds)[0])) <= 0.015 + 1 / 65536 + 0.5 / 255
    np.testing.assert_allclose(run_ours(content, feeds, ["y"])[0], ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["mobilenet_v2_op13", "squeezenet1_1_op13"])
def test_swiftconv_qdq_model_converts_to_int8(name):
    """The whole chain in swiftconv: a float ONNX model quantized to QDQ ONNX by sc.quantize
    (calibrated once), then that QDQ model to int8 TFLite with no second calibration."""
    float_bytes = real_models.build(name)
    input_name = real_models.manifest()[name]["inputs"][0]["name"]
    shape = real_models.inputs(name, 1)[input_name].shape
    samples = [{input_name: np.random.default_rng([6, k]).standard_normal(shape).astype(np.float32)} for k in range(8)]
    qdq = sc.quantize(float_bytes, "int8", samples).to_bytes()
    # Same rounding argument as for onnxruntime's QDQ models above.
    content = _check(float_bytes, qdq, real_models.inputs(name, 1), steps=2, size_ratio=0.3)
    assert _check_scales_are_the_sources(content, qdq) >= 0.95
