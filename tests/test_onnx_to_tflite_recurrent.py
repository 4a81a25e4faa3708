"""ONNX -> TFLite of LSTM, GRU and RNN (issue 10): small onnx.helper models converted by
swiftconv, run in LiteRT (ai_edge_litert) and in sc.Interpreter, compared with onnxruntime
on the original ONNX model. An LSTM that TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM computes
becomes that op; the rest is unrolled over a static sequence of up to 64 steps, and becomes a
WHILE loop over a longer or dynamic one."""

import numpy as np
import pytest
from tflite_runner import run_interpreter, run_litert
from tflite_runner import run_ours as _ours

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

TOLERANCE = 2e-5
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _recurrent_model(
    op,
    *,
    seq=5,
    batch=2,
    features=3,
    hidden=4,
    direction="forward",
    layout=0,
    bias=True,
    peepholes=False,
    initial_states=None,
    outputs=("Y", "Y_h"),
    opset=17,
    seed=0,
    **attributes,
):
    """One recurrent node; `seq`/`batch` None make that dim dynamic. `initial_states` is
    None (absent), "input" (graph inputs) or "zeros" (constant zeros)."""
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    gates = GATES[op]
    inits = [
        numpy_helper.from_array(rng.uniform(-0.6, 0.6, (dirs, gates * hidden, features)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.uniform(-0.6, 0.6, (dirs, gates * hidden, hidden)).astype(np.float32), "R"),
    ]
    names = ["X", "W", "R"]
    if bias:
        inits.append(
            numpy_helper.from_array(rng.uniform(-0.5, 0.5, (dirs, 2 * gates * hidden)).astype(np.float32), "B")
        )
        names.append("B")
    else:
        names.append("")
    names.append("")  # sequence_lens
    x_dims = (
        [seq or "sequence", batch or "batch", features]
        if layout == 0
        else [batch or "batch", seq or "sequence", features]
    )
    state_dims = [dirs, batch or "batch", hidden] if layout == 0 else [batch or "batch", dirs, hidden]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_dims)]
    state_names = ["initial_h", "initial_c"] if op == "LSTM" else ["initial_h"]
    for s in state_names:
        if initial_states == "input":
            graph_inputs.append(helper.make_tensor_value_info(s, TensorProto.FLOAT, state_dims))
            names.append(s)
        elif initial_states == "zeros":
            inits.append(numpy_helper.from_array(np.zeros(state_dims, np.float32), s))
            names.append(s)
        else:
            names.append("")
    if peepholes:
        inits.append(numpy_helper.from_array(rng.uniform(-0.5, 0.5, (dirs, 3 * hidden)).astype(np.float32), "P"))
        names.append("P")
    while names and names[-1] == "":
        names.pop()
    all_outputs = ["Y", "Y_h", "Y_c"][: 3 if op == "LSTM" else 2]
    node_outputs = [o if o in outputs else "" for o in all_outputs]
    while node_outputs[-1] == "":
        node_outputs.pop()
    if layout:
        attributes["layout"] = layout
    node = helper.make_node(
        op, names, node_outputs, name=f"{op.lower()}_node", hidden_size=hidden, direction=direction, **attributes
    )
    graph_outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
    graph = helper.make_graph([node], "recurrent", graph_inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8

    return model.SerializeToString()


def _feeds(model, seq, batch, seed=1):
    rng = np.random.default_rng(seed)
    m = onnx.load_from_string(model)
    feeds = {}
    for i in m.graph.input:
        dims = []
        for d in i.type.tensor_type.shape.dim:
            dims.append(d.dim_value if d.dim_value else {"sequence": seq, "batch": batch}[d.dim_param])
        feeds[i.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def _litert(content, feeds, names):
    """LiteRT's outputs and the op types it ran."""
    it = litert.Interpreter(model_content=content)
    outputs = run_interpreter(it, feeds, names)
    return outputs, [o["op_name"] for o in it._get_ops_details()]


def _onnxruntime(model, feeds, layout0=None):
    """onnxruntime's outputs. It has no batch-major (layout 1) recurrent kernels, so a layout 1
    model is run as `layout0`, the same weights time-major, with inputs and outputs transposed."""
    if layout0 is None:
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        return [o.name for o in session.get_outputs()], session.run(None, feeds)
    session = ort.InferenceSession(layout0, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, {k: v.transpose(1, 0, 2) for k, v in feeds.items()})
    return names, [y.transpose(2, 0, 1, 3) if y.ndim == 4 else y.transpose(1, 0, 2) for y in outputs]


def _check(model, seq=5, batch=2, layout0=None):
    """Converts `model`, runs it in LiteRT and sc.Interpreter against onnxruntime; returns
    the TFLite op names LiteRT ran."""
    content = sc.convert(model, "tflite").to_bytes()
    feeds = _feeds(model, seq, batch)
    names, want = _onnxruntime(model, feeds, layout0)
    got, ops = _litert(content, feeds, names)
    mine = _ours(content, feeds, names)
    for name, w, g, m in zip(names, want, got, mine):
        assert np.std(w) > 0.01, name
        assert g.shape == w.shape, (name, g.shape, w.shape)
        np.testing.assert_allclose(g, w, atol=TOLERANCE, rtol=0, err_msg=f"LiteRT {name}")
        np.testing.assert_allclose(m, w, atol=TOLERANCE, rtol=0, err_msg=f"sc.Interpreter {name}")
    return ops


def _check_layout_1(op, seq=5, batch=2, **kwargs):
    """`_check` of a batch-major model against its time-major twin in onnxruntime."""
    model = _recurrent_model(op, layout=1, **kwargs)
    return _check(model, seq, batch, layout0=_recurrent_model(op, layout=0, **kwargs))


# LSTM as UNIDIRECTIONAL_SEQUENCE_LSTM


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
def test_lstm_becomes_sequence_lstm(direction, layout):
    if layout == 0:
        ops = _check(_recurrent_model("LSTM", direction=direction))
    else:
        ops = _check_layout_1("LSTM", direction=direction)
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == (2 if direction == "bidirectional" else 1)
    assert "REVERSE_V2" in ops if direction != "forward" else "REVERSE_V2" not in ops


def test_lstm_without_bias_and_with_constant_zero_states():
    ops = _check(_recurrent_model("LSTM", bias=False, initial_states="zeros", outputs=("Y",)))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops


def test_lstm_peepholes():
    ops = _check(_recurrent_model("LSTM", peepholes=True, direction="bidirectional"))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops


def test_lstm_coupled_input_forget_gate():
    """onnxruntime keeps the input gate and sets f = 1 - i; TFLite's CIFG is the other way."""
    ops = _check(_recurrent_model("LSTM", input_forget=1, peepholes=True, direction="bidirectional"))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops


def test_lstm_coupled_input_forget_gate_unrolled():
    ops = _check(_recurrent_model("LSTM", input_forget=1, peepholes=True, initial_states="input"))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops


def test_lstm_only_y_h_read():
    ops = _check(_recurrent_model("LSTM", outputs=("Y_h",), direction="bidirectional"))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops


def test_lstm_dynamic_sequence_resizes():
    """Batch static, sequence dynamic: the sequence op; LiteRT runs other lengths."""
    model = _recurrent_model("LSTM", seq=None, batch=2)
    for seq in (3, 9):
        ops = _check(model, seq=seq, batch=2)
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops


def test_lstm_dynamic_batch_and_sequence():
    """The zero states are made for the run's batch, so any batch and length run."""
    model = _recurrent_model("LSTM", seq=None, batch=None, layout=1, direction="bidirectional")
    twin = _recurrent_model("LSTM", seq=None, batch=None, direction="bidirectional")
    for seq, batch in ((7, 1), (3, 4)):
        ops = _check(model, seq=seq, batch=batch, layout0=twin)
        assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2


def test_lstm_state_does_not_carry_over_between_runs():
    """LiteRT keeps a variable tensor's last value; the states are refilled with zeros on every
    run, so a second invoke computes what the first did, as the ONNX model does."""
    model = _recurrent_model("LSTM", batch=None)
    content = sc.convert(model, "tflite").to_bytes()
    feeds = _feeds(model, 5, 3)
    it = litert.Interpreter(model_content=content)
    x = it.get_input_details()[0]
    it.resize_tensor_input(x["index"], list(feeds["X"].shape))
    it.allocate_tensors()
    y = it.get_output_details()[0]["index"]
    results = []
    for _ in range(2):
        it.set_tensor(x["index"], feeds["X"])
        it.invoke()
        results.append(it.get_tensor(y).copy())
    np.testing.assert_array_equal(results[0], results[1])
    assert any(o["op_name"] == "UNIDIRECTIONAL_SEQUENCE_LSTM" for o in it._get_ops_details())


# LSTM unrolled


def test_lstm_unrolled_with_dynamic_batch():
    model = _recurrent_model("LSTM", batch=None, seq=4, initial_states="input")
    for batch in (1, 3):
        ops = _check(model, seq=4, batch=batch)
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops and "FULLY_CONNECTED" in ops


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm_initial_states_and_y_c_unroll(direction):
    model = _recurrent_model(
        "LSTM", initial_states="input", outputs=("Y", "Y_h", "Y_c"), direction=direction, peepholes=True
    )
    ops = _check(model)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops


def test_lstm_clip_unrolls():
    ops = _check(_recurrent_model("LSTM", clip=0.4, outputs=("Y", "Y_c")))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops


def test_lstm_other_activations_unroll_with_layout_1():
    _check_layout_1("LSTM", direction="reverse", activations=["Sigmoid", "Relu", "Tanh"], initial_states="input")


# UNIDIRECTIONAL_SEQUENCE_LSTM bit for bit LiteRT's reference kernel, float (LiteRT sums its
# products in Eigen's orders: GEMV for one row per step, the coefficient-wise or GEMM product
# for a time-major batch) and dynamic-range (int8 weights, rows quantized on the fly).
# (hidden, features, batch, layout, peepholes, input_forget, sequence length)
BIT_EXACT_LSTMS = [
    (13, 5, 3, 0, True, 0, 4),  # a coefficient-wise product; gates off 16-byte alignment
    (64, 28, 1, 1, False, 0, 28),  # batch-major: one GEMV per row and step
    (33, 40, 3, 0, True, 1, 5),  # GEMM with a remainder row; CIFG
    (9, 11, 6, 0, True, 0, 3),  # GEMM past a 4-column panel
    (7, 300, 4, 0, False, 0, 3),  # GEMM 4-row panel and last rows over a long depth
]


@pytest.mark.parametrize("quantize", [None, "dynamic"])
@pytest.mark.parametrize("hidden,features,batch,layout,peepholes,input_forget,seq", BIT_EXACT_LSTMS)
def test_sequence_lstm_is_litert_reference_bit_for_bit(
    quantize, hidden, features, batch, layout, peepholes, input_forget, seq
):
    model = _recurrent_model(
        "LSTM",
        seq=seq,
        batch=batch,
        features=features,
        hidden=hidden,
        layout=layout,
        peepholes=peepholes,
        input_forget=input_forget,
        outputs=("Y",),
    )
    content = sc.convert(model, "tflite", quantize=quantize).to_bytes()
    feeds = _feeds(model, seq, batch)
    reference = litert.Interpreter(
        model_content=content, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF
    )
    (want,) = run_interpreter(reference, feeds, ["Y"])
    lstm = [o for o in reference._get_ops_details() if o["op_name"] == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert len(lstm) == 1
    weights = reference.get_tensor_details()[lstm[0]["inputs"][2]]["dtype"]
    # Weights of 1024 elements and more become int8 in dynamic mode: the hybrid kernel.
    assert weights == (np.int8 if quantize and hidden * features >= 1024 else np.float32)
    (got,) = _ours(content, feeds, ["Y"])
    np.testing.assert_array_equal(got, want)


# GRU and RNN, unrolled


@pytest.mark.parametrize("linear_before_reset", [0, 1])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_gru(direction, linear_before_reset):
    ops = _check(_recurrent_model("GRU", direction=direction, linear_before_reset=linear_before_reset))
    assert "FULLY_CONNECTED" in ops


@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_gru_initial_state_layout_1_dynamic_batch(linear_before_reset):
    kwargs = {"batch": None, "initial_states": "input", "linear_before_reset": linear_before_reset}
    for batch in (1, 3):
        model = _recurrent_model("GRU", layout=1, direction="bidirectional", **kwargs)
        twin = _recurrent_model("GRU", direction="bidirectional", **kwargs)
        _check(model, batch=batch, layout0=twin)


def test_gru_clip_without_bias():
    _check(_recurrent_model("GRU", clip=0.5, bias=False, initial_states="input"))


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_rnn(direction):
    _check(_recurrent_model("RNN", direction=direction, initial_states="input"))


def test_rnn_relu_layout_1():
    _check_layout_1("RNN", activations=["Relu"], outputs=("Y_h",))


# WHILE loops: a dynamic or long sequence


def _check_lengths(op, lengths, layout=0, **kwargs):
    """Converts once with a dynamic sequence (and batch), runs at each (seq, batch) of
    `lengths`; asserts a WHILE loop per direction and no unrolled steps (outside the loops only
    each gate's input FULLY_CONNECTED over the whole sequence)."""
    model = _recurrent_model(op, seq=None, layout=layout, **kwargs)
    twin = _recurrent_model(op, seq=None, layout=0, **kwargs) if layout == 1 else None
    dirs = 2 if kwargs.get("direction") == "bidirectional" else 1
    for seq, batch in lengths:
        ops = _check(model, seq=seq, batch=batch, layout0=twin)
        assert ops.count("WHILE") == dirs, ops
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops
        assert ops.count("FULLY_CONNECTED") <= GATES[op] * dirs, ops


LOOPED = {
    "GRU": {},
    "GRU_linear_before_reset": {"linear_before_reset": 1},
    "RNN": {"initial_states": "input"},
    "LSTM_clip": {"clip": 0.4},
    "LSTM_initial_states": {"initial_states": "input", "peepholes": True, "outputs": ("Y", "Y_h", "Y_c")},
}


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("variant", sorted(LOOPED))
def test_dynamic_sequence_becomes_while(variant, layout, direction):
    op = variant.split("_")[0]
    _check_lengths(op, [(4, 2), (11, 1), (1, 3)], layout=layout, batch=None, direction=direction, **LOOPED[variant])


def test_while_with_static_batch_and_only_y_h_read():
    _check_lengths("GRU", [(6, 2), (2, 2)], batch=2, outputs=("Y_h",), direction="bidirectional")


def test_while_lstm_coupled_input_forget_and_relu():
    _check_lengths(
        "LSTM",
        [(5, 2), (3, 1)],
        batch=None,
        input_forget=1,
        peepholes=True,
        activations=["Sigmoid", "Relu", "Tanh"],
        outputs=("Y", "Y_c"),
    )


def test_while_gru_without_bias_clip_and_initial_state():
    _check_lengths("GRU", [(7, 2), (2, 3)], batch=None, bias=False, clip=0.5, initial_states="input")


def test_while_converts_back_to_onnx():
    """The TFLite file's WHILE loops (and DYNAMIC_UPDATE_SLICE) convert back to ONNX, which
    onnxruntime runs to the original model's outputs."""
    model = _recurrent_model("LSTM", seq=None, batch=None, direction="bidirectional", clip=0.4)
    back = sc.convert(sc.convert(model, "tflite").to_bytes(), "onnx").to_bytes()
    session = ort.InferenceSession(back, providers=["CPUExecutionProvider"])
    for seq, batch in ((6, 2), (2, 3)):
        feeds = _feeds(model, seq, batch)
        names, want = _onnxruntime(model, feeds)
        for name, w, g in zip(names, want, session.run(names, feeds)):
            np.testing.assert_allclose(g, w, atol=TOLERANCE, rtol=0, err_msg=name)


def test_long_static_sequence_becomes_while():
    """Past 64 steps a static sequence loops too; 64 steps are still unrolled."""
    ops = _check(_recurrent_model("GRU", seq=65, direction="bidirectional"), seq=65)
    assert ops.count("WHILE") == 2 and "UNPACK" not in ops
    ops = _check(_recurrent_model("RNN", seq=64, initial_states="input"), seq=64)
    assert "WHILE" not in ops and "UNPACK" in ops


def test_while_runs_again_with_the_same_result():
    """A loop holds no state between invokes."""
    model = _recurrent_model("GRU", seq=None, batch=None, direction="reverse")
    content = sc.convert(model, "tflite").to_bytes()
    feeds = _feeds(model, 6, 2)
    it = litert.Interpreter(model_content=content)
    first = run_interpreter(it, feeds, ["Y", "Y_h"])
    first = [y.copy() for y in first]
    second = run_interpreter(it, feeds, ["Y", "Y_h"])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def _gru_text_classifier(vocab=50, embed=8, hidden=6, classes=3, seed=3):
    """A text classifier as torch.onnx.export writes one: token ids [batch, sequence] ->
    embedding Gather -> Transpose -> bidirectional GRU whose zero initial state is
    ConstantOfShape of a shape computed from the input -> Y_h of both directions -> Gemm."""
    rng = np.random.default_rng(seed)

    def init(name, *shape):
        return numpy_helper.from_array(rng.uniform(-0.5, 0.5, shape).astype(np.float32), name)

    def ints(name, values):
        return numpy_helper.from_array(np.array(values, np.int64), name)

    inits = [
        init("embedding", vocab, embed),
        init("W", 2, 3 * hidden, embed),
        init("R", 2, 3 * hidden, hidden),
        init("B", 2, 6 * hidden),
        init("fc_w", classes, 2 * hidden),
        init("fc_b", classes),
        ints("zero", [0]),
        ints("two", [2]),
        ints("hidden", [hidden]),
        ints("flat", [-1, 2 * hidden]),
    ]
    nodes = [
        helper.make_node("Gather", ["embedding", "tokens"], ["embedded"]),
        helper.make_node("Transpose", ["embedded"], ["x"], perm=[1, 0, 2]),
        helper.make_node("Shape", ["tokens"], ["tokens_shape"]),
        helper.make_node("Gather", ["tokens_shape", "zero"], ["batch"], axis=0),
        helper.make_node("Concat", ["two", "batch", "hidden"], ["h0_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["h0_shape"], ["h0"]),
        helper.make_node(
            "GRU",
            ["x", "W", "R", "B", "", "h0"],
            ["", "y_h"],
            name="gru",
            hidden_size=hidden,
            direction="bidirectional",
            linear_before_reset=1,
        ),
        helper.make_node("Transpose", ["y_h"], ["y_h_batch"], perm=[1, 0, 2]),
        helper.make_node("Reshape", ["y_h_batch", "flat"], ["features"]),
        helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "gru_text",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_torch_style_gru_text_classifier():
    model = _gru_text_classifier()
    content = sc.convert(model, "tflite").to_bytes()
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(4)
    for batch, seq in ((2, 9), (1, 30), (3, 2)):
        feeds = {"tokens": rng.integers(0, 50, (batch, seq), dtype=np.int64)}
        (want,) = session.run(None, feeds)
        got, ops = _litert(content, feeds, ["logits"])
        assert ops.count("WHILE") == 2
        assert np.std(want) > 0.01
        np.testing.assert_allclose(got[0], want, atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(_ours(content, feeds, ["logits"])[0], want, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_dynamic_update_slice_matches_litert(dtype):
    """The loops' DYNAMIC_UPDATE_SLICE in sc.Interpreter and LiteRT, start indices clamped so
    the update fits (XLA's semantics): a tflite-domain node passes through the conversion."""
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.INT32
    node = helper.make_node("DYNAMIC_UPDATE_SLICE", ["x", "u", "s"], ["y"], domain="tflite")
    graph = helper.make_graph(
        [node],
        "update",
        [
            helper.make_tensor_value_info("x", elem, [4, 5, 3]),
            helper.make_tensor_value_info("u", elem, [2, 5, 2]),
            helper.make_tensor_value_info("s", TensorProto.INT32, [3]),
        ],
        [helper.make_tensor_value_info("y", elem, [4, 5, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("tflite", 1)])
    content = sc.convert(model.SerializeToString(), "tflite").to_bytes()
    # TFLite -> ONNX lowers it too (Pad and Where), run by onnxruntime.
    back = ort.InferenceSession(sc.convert(content, "onnx").to_bytes(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 5, 3)) * 100).astype(dtype)
    u = (rng.standard_normal((2, 5, 2)) * 100).astype(dtype)
    for start in ([0, 0, 0], [1, 0, 1], [3, 2, 5], [-2, -1, -7], [2, 0, 1]):
        feeds = {"x": x, "u": u, "s": np.array(start, np.int32)}
        want = run_litert(content, feeds, ["y"])[0]
        clamped = [min(max(0, b), n - k) for b, n, k in zip(start, x.shape, u.shape)]
        assert not np.array_equal(want, x)
        np.testing.assert_array_equal(want[clamped[0] : clamped[0] + 2, :, clamped[2] : clamped[2] + 2], u)
        np.testing.assert_array_equal(_ours(content, feeds, ["y"])[0], want)
        np.testing.assert_array_equal(back.run(["y"], feeds)[0], want)
    # An update larger than the operand is an error (LiteRT's Prepare refuses it too).
    with pytest.raises(sc.SwiftconvError, match="larger than the operand"):
        _ours(content, {"x": x, "u": np.zeros((5, 5, 2), dtype), "s": np.zeros(3, np.int32)}, ["y"])


# sequence_lens: each step's update masked by step < length


def _with_lengths(model_bytes, batch):
    """The model with sequence_lens read from a graph input 'lens' (int32 [batch])."""
    model = onnx.load_from_string(model_bytes)
    model.graph.input.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [batch]))
    node = model.graph.node[0]
    inputs = list(node.input) + [""] * max(0, 5 - len(node.input))
    inputs[4] = "lens"
    del node.input[:]
    node.input.extend(inputs)
    return model.SerializeToString()


SEQUENCE_LENS = {
    "LSTM": {"outputs": ("Y", "Y_h", "Y_c")},
    "LSTM_initial_states": {"initial_states": "input", "outputs": ("Y", "Y_h", "Y_c")},
    "GRU": {},
    "GRU_linear_before_reset": {"linear_before_reset": 1, "initial_states": "input"},
    "RNN": {},
}


@pytest.mark.parametrize("seq", [6, None], ids=["unrolled", "while"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("variant", sorted(SEQUENCE_LENS))
def test_sequence_lens(variant, direction, seq):
    """Rows shorter than the sequence (ONNX: steps past a row's length are skipped, Y is zero
    there, Y_h/Y_c are the state at its last step; reverse starts at that step), unrolled over
    a static sequence and in the WHILE loop over a dynamic one, against onnxruntime."""
    op = variant.split("_")[0]
    model = _with_lengths(_recurrent_model(op, seq=seq, batch=3, direction=direction, **SEQUENCE_LENS[variant]), 3)
    feeds = _feeds(model, 6, 3)
    feeds["lens"] = np.array([6, 2, 4], np.int32)
    content = sc.convert(model, "tflite").to_bytes()
    names, want = _onnxruntime(model, feeds)
    got, ops = _litert(content, feeds, names)
    mine = _ours(content, feeds, names)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops
    assert ("WHILE" in ops) == (seq is None)
    y = want[0]
    assert np.all(y[2:, :, 1] == 0) and np.std(y) > 0.01  # the padding is zero in onnxruntime
    for name, w, g, m in zip(names, want, got, mine):
        np.testing.assert_allclose(g, w, atol=TOLERANCE, rtol=0, err_msg=f"LiteRT {name}")
        np.testing.assert_allclose(m, w, atol=TOLERANCE, rtol=0, err_msg=f"sc.Interpreter {name}")


def test_full_constant_sequence_lens_keeps_sequence_lstm():
    """sequence_lens equal to the static length everywhere is no mask: still the sequence op."""
    model = onnx.load_from_string(_recurrent_model("LSTM", seq=5, batch=2))
    model.graph.initializer.append(numpy_helper.from_array(np.array([5, 5], np.int32), "lens"))
    node = model.graph.node[0]
    inputs = list(node.input) + [""] * max(0, 5 - len(node.input))
    inputs[4] = "lens"
    del node.input[:]
    node.input.extend(inputs)
    ops = _check(model.SerializeToString())
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1


# What cannot be lowered is reported


def _conversion_error(model):
    with pytest.raises(sc.ConversionError) as e:
        sc.convert(model, "tflite")
    return str(e.value)


def test_unsupported_activation_is_reported():
    message = _conversion_error(_recurrent_model("RNN", activations=["HardSigmoid"]))
    assert "rnn_node" in message and "hardsigmoid" in message
