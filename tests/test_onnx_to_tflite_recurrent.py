"""ONNX -> TFLite of LSTM, GRU and RNN (issue 10): small onnx.helper models converted by
swiftconv, run in LiteRT (ai_edge_litert) and in sc.Interpreter, compared with onnxruntime
on the original ONNX model. An LSTM that TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM computes
becomes that op; the rest is unrolled over a static sequence length."""

import numpy as np
import pytest
from tflite_runner import run_interpreter
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


# What cannot be lowered is reported


def _conversion_error(model):
    with pytest.raises(sc.ConversionError) as e:
        sc.convert(model, "tflite")
    return str(e.value)


def test_gru_dynamic_sequence_is_reported():
    message = _conversion_error(_recurrent_model("GRU", seq=None))
    assert "gru_node" in message and "sequence length is dynamic" in message


def test_lstm_y_c_with_dynamic_sequence_is_reported():
    message = _conversion_error(_recurrent_model("LSTM", seq=None, outputs=("Y", "Y_c")))
    assert "lstm_node" in message and "Y_c" in message


def test_unsupported_activation_is_reported():
    message = _conversion_error(_recurrent_model("RNN", activations=["HardSigmoid"]))
    assert "rnn_node" in message and "hardsigmoid" in message
