"""float32 GRU and LSTM against onnxruntime on many random configurations.

The float32 GRU has a fast path (default Sigmoid/Tanh, no clip: gate GEMVs for batch 1,
GEMMs for larger batches, W and R packed once when they are initializers) and a generic
loop for everything else; both are checked here, with weights as initializers and as
inputs, forward, reverse and bidirectional, both `linear_before_reset`, `initial_h`,
`sequence_lens` (outputs past a sequence's length are zero, Y_h is its last valid step),
batch 1 and more, and layout 1. onnxruntime's CPU GRU does not implement layout 1, so
that case is compared with onnxruntime running the same weights on transposed inputs.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

F = TensorProto.FLOAT
# The fast path's sigmoid and tanh are within 1e-7 absolute; summation orders differ.
ATOL = 2e-5
RTOL = 1e-4


def gru_model(
    hidden,
    direction,
    *,
    seq,
    batch,
    inp,
    lbr=0,
    initial_h=False,
    seq_lens=None,
    layout=0,
    weights_constant=True,
    bias=True,
    attrs=None,
    seed=0,
    op="GRU",
):
    """A one-node GRU (or LSTM) model and its feeds; `seq_lens` is an array or None."""
    gates = {"GRU": 3, "LSTM": 4}[op]
    dirs = 2 if direction == "bidirectional" else 1
    r = np.random.default_rng(seed)
    x_shape = (seq, batch, inp) if layout == 0 else (batch, seq, inp)
    h_shape = (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden)
    tensors = {
        "X": r.normal(0, 1, x_shape).astype(np.float32),
        "W": r.normal(0, 0.4, (dirs, gates * hidden, inp)).astype(np.float32),
        "R": r.normal(0, 0.4, (dirs, gates * hidden, hidden)).astype(np.float32),
    }
    names = ["X", "W", "R"]
    if bias:
        tensors["B"] = r.normal(0, 0.4, (dirs, 2 * gates * hidden)).astype(np.float32)
    names.append("B" if bias else "")
    if seq_lens is not None:
        tensors["L"] = np.asarray(seq_lens, dtype=np.int32)
    names.append("L" if seq_lens is not None else "")
    if initial_h:
        tensors["H0"] = r.normal(0, 1, h_shape).astype(np.float32)
    names.append("H0" if initial_h else "")
    while names and names[-1] == "":
        names.pop()
    constant = {"W", "R", "B"} if weights_constant else set()
    initializers = [helper.make_tensor(k, F, v.shape, v.ravel()) for k, v in tensors.items() if k in constant]
    inputs = [
        helper.make_tensor_value_info(k, TensorProto.INT32 if k == "L" else F, v.shape)
        for k, v in tensors.items()
        if k not in constant
    ]
    feeds = {k: v for k, v in tensors.items() if k not in constant}
    node_attrs = dict(hidden_size=hidden, direction=direction, **(attrs or {}))
    if op == "GRU":
        node_attrs["linear_before_reset"] = lbr
    if layout:
        node_attrs["layout"] = layout
    node = helper.make_node(op, names, ["Y", "Y_h"], **node_attrs)
    outputs = [
        helper.make_tensor_value_info("Y", F, [None] * 4),
        helper.make_tensor_value_info("Y_h", F, [None] * 3),
    ]
    graph = helper.make_graph([node], "recurrent", inputs, outputs, initializer=initializers)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="swiftconv-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m, feeds


def run_ort(m, feeds):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def session(m, threads=1):
    so = sc.SessionOptions()
    so.intra_op_num_threads = threads
    return sc.InferenceSession(m.SerializeToString(), so)


def run_sc(m, feeds, threads=1):
    return session(m, threads).run(None, feeds)


def expected_outputs(config):
    """onnxruntime's outputs; for layout 1 the layout-0 model on transposed inputs, transposed back."""
    if config.get("layout", 0) == 0:
        m, feeds = gru_model(**config)
        return run_ort(m, feeds)
    base = dict(config, layout=0)
    m1, feeds1 = gru_model(**config)
    m0, _ = gru_model(**base)
    feeds0 = dict(feeds1)
    feeds0["X"] = feeds1["X"].transpose(1, 0, 2).copy()
    if "H0" in feeds1:
        feeds0["H0"] = feeds1["H0"].transpose(1, 0, 2).copy()
    y, yh = run_ort(m0, feeds0)
    return [y.transpose(2, 0, 1, 3), yh.transpose(1, 0, 2)]


def check(config, threads=1):
    m, feeds = gru_model(**config)
    expected = expected_outputs(config)
    actual = run_sc(m, feeds, threads)
    assert len(actual) == 2
    for name, a, e in zip(["Y", "Y_h"], actual, expected):
        assert a.dtype == np.float32 and a.shape == e.shape, f"{name}: {a.dtype} {a.shape} vs {e.shape}"
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL, err_msg=f"{name} of {config}")


def random_configs(count, seed):
    r = np.random.default_rng(seed)
    configs = []
    for i in range(count):
        batch = int(r.choice([1, 1, 2, 3, 5]))
        seq = int(r.integers(1, 9))
        lens = None
        if r.random() < 0.4:
            lens = r.integers(1, seq + 1, size=batch)
        configs.append(
            dict(
                hidden=int(r.choice([1, 3, 4, 8, 13, 32, 37])),
                direction=str(r.choice(["forward", "reverse", "bidirectional"])),
                seq=seq,
                batch=batch,
                inp=int(r.choice([1, 5, 8, 19])),
                lbr=int(r.integers(0, 2)),
                initial_h=bool(r.random() < 0.5),
                seq_lens=lens,
                layout=int(r.random() < 0.25),
                weights_constant=bool(r.random() < 0.7),
                bias=bool(r.random() < 0.8),
                seed=1000 + i,
            )
        )
    return configs


@pytest.mark.parametrize("config", random_configs(60, seed=12), ids=lambda c: f"{c['seed']}")
def test_gru_random_configs(config):
    check(config)


@pytest.mark.parametrize(
    "direction,lbr,batch", list(itertools.product(["forward", "reverse", "bidirectional"], [0, 1], [1, 4]))
)
def test_gru_grid(direction, lbr, batch):
    check(
        dict(
            hidden=16,
            direction=direction,
            seq=7,
            batch=batch,
            inp=9,
            lbr=lbr,
            initial_h=True,
            seq_lens=[7, 3, 5, 1][:batch] if batch > 1 else None,
            seed=7,
        )
    )


@pytest.mark.parametrize("lbr", [0, 1])
@pytest.mark.parametrize("batch", [1, 3])
def test_gru_two_threads(lbr, batch):
    """Hidden 128 splits the gate rows (batch 1) or the GEMM (batch > 1) across threads."""
    check(
        dict(hidden=128, direction="bidirectional", seq=6, batch=batch, inp=64, lbr=lbr, initial_h=True, seed=3),
        threads=2,
    )


@pytest.mark.parametrize(
    "attrs",
    [
        dict(activations=["HardSigmoid", "Relu"], activation_alpha=[0.3], activation_beta=[0.4]),
        dict(activations=["Sigmoid", "Tanh", "Sigmoid", "Softsign"]),
        dict(clip=0.5),
    ],
    ids=["hardsigmoid-relu", "bidirectional-mixed", "clip"],
)
@pytest.mark.parametrize("lbr", [0, 1])
def test_gru_generic_activations_and_clip(attrs, lbr):
    direction = "bidirectional" if len(attrs.get("activations", [])) == 4 else "forward"
    check(dict(hidden=6, direction=direction, seq=5, batch=2, inp=4, lbr=lbr, initial_h=True, attrs=attrs, seed=5))


def test_gru_matches_across_repeated_runs_and_threads():
    """One session run from several threads gives onnxruntime's outputs every time."""
    from concurrent.futures import ThreadPoolExecutor

    config = dict(hidden=32, direction="bidirectional", seq=10, batch=3, inp=16, lbr=0, initial_h=True, seed=9)
    m, feeds = gru_model(**config)
    expected = expected_outputs(config)
    s = session(m, threads=2)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: s.run(None, feeds), range(16)))
    for actual in results:
        for a, e in zip(actual, expected):
            np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("config", random_configs(12, seed=34), ids=lambda c: f"{c['seed']}")
def test_lstm_random_configs(config):
    """The LSTM fast path on the same kinds of configuration (no peepholes)."""
    config = dict(config, op="LSTM", lbr=0)
    check(config)
