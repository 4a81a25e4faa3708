"""ONNX -> TFLite layout ops (issue 10): ConvTranspose, grouped and 1-D convolutions and pools,
Resize/Upsample, DepthToSpace/SpaceToDepth, the normalizations, and the fewest transposes.

Each small ONNX model is converted, run in LiteRT (ai_edge_litert) and in sc.Interpreter, and
compared with onnxruntime on the original model."""

import re

import numpy as np
import pytest
import real_models

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(7)


def _model(nodes, x_shape, initializers=(), opset=17, inputs=None):
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    graph = helper.make_graph(
        nodes,
        "g",
        inputs,
        [helper.make_empty_tensor_value_info("y")],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    # The output's type as ONNX infers it.
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    y = [
        v
        for v in list(inferred.graph.value_info) + list(inferred.graph.output)
        if v.name == "y" and v.type.HasField("tensor_type")
    ]
    model.graph.output[0].CopyFrom(y[0])
    return model


def _weights(*shape):
    return RNG.standard_normal(shape).astype(np.float32) * 0.5


def _run_litert(content, feeds):
    it = litert.Interpreter(model_content=content)
    it.allocate_tensors()
    details = {d["name"]: d for d in it.get_input_details()}
    for name, x in feeds.items():
        it.set_tensor(details[name]["index"], x)
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


def _run_ours(content, feeds):
    it = sc.Interpreter(model_content=content)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


def _ops(model):
    return dict((op, int(n)) for op, n in re.findall(r"tflite\.([A-Z0-9_]+)\s+(\d+)", model.summary()))


def check(model, x_shape, tol=1e-4):
    """Converts `model`, runs it in LiteRT and in our interpreter against onnxruntime."""
    onnx.checker.check_model(model)
    x = RNG.standard_normal(x_shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    converted = sc.convert(model, "tflite")
    content = converted.to_bytes()
    for got in (_run_litert(content, {"x": x})["y"], _run_ours(content, {"x": x})["y"]):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=tol, rtol=0)
    assert np.std(want) > 1e-3
    return converted


# --- convolutions and pools ------------------------------------------------------------


def test_conv1d_with_stride_pads_and_bias():
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[2], pads=[1, 2], dilations=[1])
    m = _model([node], [2, 3, 17], {"w": _weights(4, 3, 3), "b": _weights(4)})
    check(m, [2, 3, 17])


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool1d(op):
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[3], strides=[2])
    check(_model([node], [1, 4, 15]), [1, 4, 15])


def test_grouped_conv_splits_per_group():
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=2, pads=[1, 1, 1, 1])
    m = check(_model([node], [1, 4, 8, 8], {"w": _weights(6, 2, 3, 3), "b": _weights(6)}), [1, 4, 8, 8])
    ops = _ops(m)
    assert ops["CONV_2D"] == 2 and ops["SPLIT"] == 1 and ops["CONCATENATION"] == 1


@pytest.mark.parametrize(
    "kernel,stride,pads,output_padding",
    [(2, 2, [0, 0, 0, 0], None), (4, 2, [1, 1, 1, 1], None), (3, 2, [1, 1, 1, 1], [1, 1]), (3, 1, [0, 1, 2, 0], None)],
)
def test_conv_transpose(kernel, stride, pads, output_padding):
    attrs = {"strides": [stride, stride], "pads": pads}
    if output_padding:
        attrs["output_padding"] = output_padding
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    m = _model([node], [1, 3, 5, 6], {"w": _weights(3, 4, kernel, kernel), "b": _weights(4)})
    converted = check(m, [1, 3, 5, 6])
    assert _ops(converted)["TRANSPOSE_CONV"] == 1


def test_average_pool_ceil_mode_as_same():
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    check(_model([node], [1, 3, 12, 12]), [1, 3, 12, 12])


def test_max_pool_ceil_mode_with_pads():
    node = helper.make_node(
        "MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1
    )
    check(_model([node], [1, 3, 10, 10]), [1, 3, 10, 10])


# --- image ops -----------------------------------------------------------------------------


def _resize(x_shape, sizes=None, scales=None, **attrs):
    inits = {"roi": np.zeros([0], np.float32)}
    inputs = ["x", "roi"]
    if scales is not None:
        inits["scales"] = np.asarray(scales, np.float32)
        inputs.append("scales")
    else:
        inits["scales"] = np.zeros([0], np.float32)
        inits["sizes"] = np.asarray(sizes, np.int64)
        inputs += ["scales", "sizes"]
    return _model([helper.make_node("Resize", inputs, ["y"], **attrs)], x_shape, inits)


@pytest.mark.parametrize(
    "attrs",
    [
        {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
        {"mode": "nearest"},  # half_pixel, round_prefer_floor: no ties when enlarging by 2
        {"mode": "nearest", "coordinate_transformation_mode": "align_corners", "nearest_mode": "round_prefer_ceil"},
        {"mode": "linear"},
        {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
        {"mode": "linear", "coordinate_transformation_mode": "asymmetric"},
        {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
    ],
)
def test_resize_scales(attrs):
    check(_resize([1, 3, 5, 7], scales=[1, 1, 2, 2], **attrs), [1, 3, 5, 7])


def test_resize_sizes_bilinear_half_pixel():
    check(_resize([1, 2, 6, 5], sizes=[1, 2, 9, 13], mode="linear"), [1, 2, 6, 5])


def test_upsample_opset9_nearest():
    m = _model(
        [helper.make_node("Upsample", ["x", "s"], ["y"], mode="nearest")],
        [1, 2, 4, 3],
        {"s": np.asarray([1, 1, 2, 3], np.float32)},
        opset=9,
    )
    check(m, [1, 2, 4, 3])


def test_resize_cubic_is_refused_naming_the_node():
    m = _resize([1, 3, 5, 7], scales=[1, 1, 2, 2], mode="cubic")
    m.graph.node[0].name = "the_cubic_resize"
    with pytest.raises(sc.ConversionError, match="the_cubic_resize"):
        sc.convert(m, "tflite")


@pytest.mark.parametrize("perm", [[0, 7, 1, 3], [0, -2, 1, 3], [0, 2, 2**63 - 1, 1], [0, 1, 1, 3]])
def test_transpose_with_a_bad_perm_after_a_conv_is_refused_naming_the_node(perm):
    # The conv's layout transposes meet this one: composing with a perm index out of range trapped.
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Transpose", ["c"], ["y"], "the_bad_transpose", perm=perm),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(_weights(4, 3, 3, 3), "w")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(sc.ConversionError, match=r"the_bad_transpose.*not a permutation"):
        sc.convert(m, "tflite")


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(mode):
    check(_model([helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode=mode)], [1, 8, 3, 4]), [1, 8, 3, 4])


def test_space_to_depth():
    check(_model([helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=2)], [1, 3, 4, 6]), [1, 3, 4, 6])


# --- normalizations ------------------------------------------------------------------------


def test_lrn():
    check(
        _model([helper.make_node("LRN", ["x"], ["y"], size=5, alpha=0.01, beta=0.75, bias=2.0)], [1, 7, 4, 4]),
        [1, 7, 4, 4],
    )


def test_instance_normalization():
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)
    check(_model([node], [2, 3, 5, 4], {"s": _weights(3), "b": _weights(3)}), [2, 3, 5, 4])


def test_standalone_batch_normalization_after_conv_costs_no_transpose():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("BatchNormalization", ["r", "g", "b", "m", "v"], ["n"]),
        helper.make_node("Conv", ["n", "w2"], ["y"]),
    ]
    inits = {
        "w": _weights(4, 3, 3, 3),
        "w2": _weights(2, 4, 1, 1),
        "g": _weights(4),
        "b": _weights(4),
        "m": _weights(4),
        "v": np.abs(_weights(4)) + 0.5,
    }
    converted = check(_model(nodes, [1, 3, 6, 6], inits), [1, 3, 6, 6])
    # Only the boundary transposes: NCHW in, NCHW out.
    assert _ops(converted)["TRANSPOSE"] == 2


# --- a small U-Net ---------------------------------------------------------------------------


def test_small_unet():
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["e1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["e2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e2"], ["r2"]),
        helper.make_node("ConvTranspose", ["r2", "wt", "bt"], ["u1"], strides=[2, 2]),
        helper.make_node("Resize", ["r2", "", "sc"], ["u2"], mode="linear"),
        helper.make_node("Concat", ["u1", "u2", "r1"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w3", "b3"], ["y"], pads=[1, 1, 1, 1]),
    ]
    inits = {
        "w1": _weights(4, 3, 3, 3),
        "b1": _weights(4),
        "w2": _weights(8, 4, 3, 3),
        "b2": _weights(8),
        "wt": _weights(8, 4, 2, 2),
        "bt": _weights(4),
        "sc": np.asarray([1, 1, 2, 2], np.float32),
        "w3": _weights(2, 16, 3, 3),
        "b3": _weights(2),
    }
    converted = check(_model(nodes, [1, 3, 16, 16], inits), [1, 3, 16, 16])
    ops = _ops(converted)
    assert ops["TRANSPOSE_CONV"] == 1 and ops["RESIZE_BILINEAR"] == 1
    assert ops["TRANSPOSE"] == 2


# --- fewest transposes, keep_layout=False ----------------------------------------------------

CNNS = [n for n in real_models.names() if not n.startswith(("lstm", "transformer"))]


@pytest.mark.parametrize("name", CNNS)
def test_real_cnn_transpose_count(name):
    source = real_models.build(name)
    # The NCHW input kept: one TRANSPOSE after it, none inside (onnx2tf has the same or more).
    assert _ops(sc.convert(source, "tflite")).get("TRANSPOSE", 0) == 1
    assert _ops(sc.convert(source, "tflite", keep_layout=False)).get("TRANSPOSE", 0) == 0


def test_keep_layout_false_exposes_channels_last_input_and_output():
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    m = _model(nodes, [1, 3, 8, 10], {"w": _weights(4, 3, 3, 3), "b": _weights(4)})
    x = RNG.standard_normal([1, 3, 8, 10]).astype(np.float32)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    converted = sc.convert(m, "tflite", keep_layout=False)
    assert list(converted.inputs[0].shape) == [1, 8, 10, 3]
    assert list(converted.outputs[0].shape) == [1, 8, 10, 4]
    assert converted.metadata["swiftconv.layout.x"] == "channels_last"
    assert converted.metadata["swiftconv.layout.y"] == "channels_last"
    assert re.search(r"^\s+x\s+float32\s+\[1, 8, 10, 3\]\s+channels_last$", converted.summary(), re.M)
    assert "TRANSPOSE" not in _ops(converted)
    content = converted.to_bytes()
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    for got in (_run_litert(content, {"x": nhwc})["y"], _run_ours(content, {"x": nhwc})["y"]):
        np.testing.assert_allclose(got, want.transpose(0, 2, 3, 1), atol=1e-4, rtol=0)


def test_keep_layout_false_resnet_input_is_nhwc():
    name = "resnet18_op13"
    source = real_models.build(name)
    converted = sc.convert(source, "tflite", keep_layout=False)
    assert list(converted.inputs[0].shape) == [1, 224, 224, 3]
    assert "channels_last" in converted.summary()
    feeds = real_models.inputs(name, 1)
    want = ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    image = feeds[converted.inputs[0].name]
    got = _run_litert(
        converted.to_bytes(), {converted.inputs[0].name: np.ascontiguousarray(image.transpose(0, 2, 3, 1))}
    )
    np.testing.assert_array_less(np.abs(got[converted.outputs[0].name] - want).max(), 1e-4)


# --- transposes through Reshape and into BATCH_MATMUL ------------------------------------------


def _check_dynamic(model, shapes):
    """Converts `model` (input x with a dynamic first dim), runs it at each of `shapes` in LiteRT
    (resized) and in our interpreter against onnxruntime; returns the converted model."""
    from tflite_runner import run_litert, run_ours

    onnx.checker.check_model(model)
    converted = sc.convert(model, "tflite")
    content = converted.to_bytes()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for shape in shapes:
        feeds = {"x": RNG.standard_normal(shape).astype(np.float32)}
        want = session.run(None, feeds)[0]
        for run in (run_litert, run_ours):
            got = run(content, feeds, ["y"])[0]
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    return converted


def _ints(name, values):
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def _attention_model(seq=6, embed=8, heads=2):
    """Self-attention as torch.onnx exports nn.MultiheadAttention (batch_first=True): [B, S, E]
    to sequence-first, one input projection, heads split by Reshape [S, B*H, D] + Transpose,
    K^T by a Transpose, heads merged back and a Gemm on the flattened rows."""
    d = embed // heads
    n = helper.make_node
    nodes = [
        n("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        n("MatMul", ["xt", "w_in"], ["proj"]),
        n("Add", ["b_in", "proj"], ["qkv"]),
        n("Reshape", ["qkv", "s_qkv"], ["qkv4"]),
        n("Unsqueeze", ["qkv4", "zero"], ["qkv5"]),
        n("Transpose", ["qkv5"], ["qkv5t"], perm=[3, 1, 2, 0, 4]),
        n("Squeeze", ["qkv5t", "three"], ["qkv3"]),
    ]
    for k, name in enumerate("qkv"):
        nodes += [
            n("Gather", ["qkv3", f"i{k}"], [f"{name}0"], axis=0),
            n("Reshape", [f"{name}0", "s_heads"], [f"{name}1"]),
            n("Transpose", [f"{name}1"], [f"{name}2"], perm=[1, 0, 2]),
            n("Reshape", [f"{name}2", "s_split"], [f"{name}3"]),
        ]
    nodes += [
        n("Mul", ["q3", "scale"], ["qs"]),
        n("Transpose", ["k3"], ["kt"], perm=[0, 1, 3, 2]),
        n("MatMul", ["qs", "kt"], ["scores"]),
        n("Softmax", ["scores"], ["attn"], axis=-1),
        n("MatMul", ["attn", "v3"], ["ctx"]),
        n("Transpose", ["ctx"], ["ctxt"], perm=[2, 0, 1, 3]),
        n("Reshape", ["ctxt", "s_rows"], ["rows"]),
        n("Gemm", ["rows", "w_out", "b_out"], ["out"], transB=1),
        n("Reshape", ["out", "s_back"], ["back"]),
        n("Transpose", ["back"], ["y"], perm=[1, 0, 2]),
    ]
    inits = [
        numpy_helper.from_array(_weights(embed, 3 * embed), "w_in"),
        numpy_helper.from_array(_weights(3 * embed), "b_in"),
        numpy_helper.from_array(_weights(embed, embed), "w_out"),
        numpy_helper.from_array(_weights(embed), "b_out"),
        numpy_helper.from_array(np.asarray(1 / np.sqrt(d), np.float32), "scale"),
        _ints("s_qkv", [seq, -1, 3, embed]),
        _ints("zero", [0]),
        _ints("three", [3]),
        _ints("s_heads", [seq, -1, d]),
        _ints("s_split", [-1, heads, seq, d]),
        _ints("s_rows", [-1, embed]),
        _ints("s_back", [seq, -1, embed]),
    ] + [_ints(f"i{k}", k) for k in range(3)]
    graph = helper.make_graph(
        nodes,
        "attention",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", seq, embed])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", seq, embed])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_attention_heads_split_and_merged_with_one_transpose_each():
    model = _attention_model()
    assert sum(node.op_type == "Transpose" for node in model.graph.node) == 8
    converted = _check_dynamic(model, [[1, 6, 8], [3, 6, 8]])
    # q, k (K^T folded in) and v to [B, H, S, D], and the context back to [B, S, H, D].
    assert _ops(converted).get("TRANSPOSE", 0) == 4


@pytest.mark.parametrize("target", [[3, 2, 2, 4], [0, 0, 2, -1]])
def test_transpose_moves_through_a_reshape_that_splits_and_cancels(target):
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
        helper.make_node("Reshape", ["t", "s"], ["r"]),
        helper.make_node("Relu", ["r"], ["a"]),
        helper.make_node("Transpose", ["a"], ["y"], perm=[1, 0, 2, 3]),
    ]
    m = _model(nodes, [2, 3, 8], {"s": np.asarray(target, np.int64)})
    assert "TRANSPOSE" not in _ops(check(m, [2, 3, 8]))


def test_transpose_stays_before_a_reshape_that_merges_axes_it_reorders():
    # [4, 3, 5] -> [5, 4, 3] -> [5, 12] merges 4 and 3 in their source order: the Reshape goes
    # first ([12, 5]) and the Transpose after it. [4, 3, 5] -> [3, 4, 5] -> [12, 5] merges axes
    # the Transpose swaps: it stays before the Reshape.
    for perm, shape, count in [([2, 0, 1], [5, 12], 1), ([1, 0, 2], [12, 5], 1)]:
        nodes = [
            helper.make_node("Transpose", ["x"], ["t"], perm=perm),
            helper.make_node("Reshape", ["t", "s"], ["y"]),
        ]
        m = _model(nodes, [4, 3, 5], {"s": np.asarray(shape, np.int64)})
        assert _ops(check(m, [4, 3, 5])).get("TRANSPOSE", 0) == count


@pytest.mark.parametrize("operand", [0, 1])
def test_matmul_of_a_last_two_axes_transpose_uses_the_adjoint_flag(operand):
    a_shape, b_shape = ([2, 3, 5, 4], [2, 3, 5, 6]) if operand == 0 else ([2, 3, 4, 5], [2, 3, 6, 5])
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, a_shape),
        helper.make_tensor_value_info("b", TensorProto.FLOAT, b_shape),
    ]
    swapped = ["x", "bt"] if operand == 1 else ["xt", "b"]
    nodes = [
        helper.make_node("Transpose", ["b" if operand == 1 else "x"], [swapped[operand]], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", swapped, ["y"]),
    ]
    m = _model(nodes, None, inputs=inputs)
    feeds = {"x": RNG.standard_normal(a_shape).astype(np.float32), "b": RNG.standard_normal(b_shape).astype(np.float32)}
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    converted = sc.convert(m, "tflite")
    ops = _ops(converted)
    assert "TRANSPOSE" not in ops and ops["BATCH_MATMUL"] == 1
    assert f"BATCH_MATMUL[adj_{'xy'[operand]} = 1" in converted.printable_graph()
    content = converted.to_bytes()
    for got in (_run_litert(content, feeds)["y"], _run_ours(content, feeds)["y"]):
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_transformer_encoder_transposes():
    # torch's export has 16 transposes in its two attention layers; one each for q, k (K^T
    # folded in), v and the attention's output remain.
    name = "transformer_encoder_op17"
    source = real_models.build(name)
    converted = sc.convert(source, "tflite")
    assert _ops(converted)["TRANSPOSE"] == 8
    from tflite_runner import run_litert

    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        feeds = real_models.inputs(name, batch)
        want = session.run(None, feeds)
        got = run_litert(converted.to_bytes(), feeds, [o.name for o in session.get_outputs()])
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-4, rtol=0)
