"""`sc.InferenceSession` behaves like `onnxruntime.InferenceSession` (API.md section 2).

Small models built with onnx.helper; onnxruntime is the oracle for signatures and
results. Also: errors, zero-copy inputs/outputs, output writability, threads and memory.

    python -m pytest tests/test_session_api.py -q
"""

import gc
import threading
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper


def _model(nodes, inputs, outputs, initializers=(), opset=17, ir_version=8, **kwargs):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version, **kwargs)
    return model


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


@pytest.fixture(scope="module")
def mlp():
    """x[batch, 4] -> MatMul(w) + b -> Relu -> y; also the pre-activation h; b is overridable."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "b"], ["h"], name="add"),
        helper.make_node("Relu", ["h"], ["y"], name="relu"),
    ]
    return _model(
        nodes,
        [_vi("x", TP.FLOAT, ["batch", 4]), _vi("b", TP.FLOAT, [3])],
        [_vi("y", TP.FLOAT, ["batch", 3]), _vi("h", TP.FLOAT, ["batch", None])],
        [w, b],
        producer_name="tests",
        doc_string="an mlp",
        model_version=3,
        domain="ai.swiftconv.test",
    )


@pytest.fixture(scope="module")
def mixed_signature():
    """Inputs of several dtypes and shapes (static, symbolic, unknown, unknown rank, scalar)."""
    nodes = [
        helper.make_node("Identity", ["a"], ["a_out"]),
        helper.make_node("Identity", ["i"], ["i_out"]),
        helper.make_node("Identity", ["s"], ["s_out"]),
        helper.make_node("Identity", ["u"], ["u_out"]),
        helper.make_node("Cast", ["b"], ["b_out"], to=TP.INT32),
    ]
    return _model(
        nodes,
        [
            _vi("a", TP.FLOAT, [2, "n", None]),
            _vi("i", TP.INT64, []),
            _vi("s", TP.STRING, ["k"]),
            _vi("u", TP.DOUBLE, None),
            _vi("b", TP.BOOL, [3]),
        ],
        [
            _vi("a_out", TP.FLOAT, [2, "n", None]),
            _vi("i_out", TP.INT64, []),
            _vi("s_out", TP.STRING, ["k"]),
            _vi("u_out", TP.DOUBLE, None),
            _vi("b_out", TP.INT32, [3]),
        ],
    )


def _both(sc, model, **kwargs):
    data = model.SerializeToString()
    return sc.InferenceSession(data, **kwargs), ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _signature(args):
    return [(a.name, a.shape, a.type) for a in args]


# --------------------------------------------------------------- signature


def test_fused_graph_outputs_still_get_inferred_shapes(sc):
    """Conv + Relu is fused into com.microsoft FusedConv before planning; the output
    declared without a shape still reports the shape inference finds, as onnxruntime."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    model = _model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        [_vi("x", TP.FLOAT, ["n", 3, 8, 8])],
        [_vi("y", TP.FLOAT, None)],
        [w],
    )
    ours, theirs = _both(sc, model)
    assert _signature(ours.get_outputs()) == _signature(theirs.get_outputs())
    assert ours.get_outputs()[0].shape == ["n", 4, 8, 8]


@pytest.mark.parametrize("which", ["mlp", "mixed_signature"])
def test_signature_matches_onnxruntime(sc, request, which):
    ours, theirs = _both(sc, request.getfixturevalue(which))
    assert _signature(ours.get_inputs()) == _signature(theirs.get_inputs())
    assert _signature(ours.get_outputs()) == _signature(theirs.get_outputs())
    assert _signature(ours.get_overridable_initializers()) == _signature(theirs.get_overridable_initializers())


def test_sequence_signature_matches_onnxruntime(sc):
    seq = helper.make_tensor_sequence_value_info("s", TP.FLOAT, None)
    model = _model(
        [helper.make_node("SequenceLength", ["s"], ["n"]), helper.make_node("SequenceConstruct", ["x", "x"], ["t"])],
        [seq, _vi("x", TP.FLOAT, [2])],
        [_vi("n", TP.INT64, []), helper.make_tensor_sequence_value_info("t", TP.FLOAT, None)],
    )
    ours, theirs = _both(sc, model)
    assert _signature(ours.get_inputs()) == _signature(theirs.get_inputs())
    assert _signature(ours.get_outputs()) == _signature(theirs.get_outputs())
    x = np.arange(2, dtype=np.float32)
    feed = {"s": [x, x, x], "x": x}
    n, t = ours.run(None, feed)
    n_ref, t_ref = theirs.run(None, feed)
    assert n == n_ref == 3 and n.dtype == n_ref.dtype
    assert isinstance(t, list) and len(t) == 2
    np.testing.assert_array_equal(t[0], t_ref[0])
    # An empty sequence takes its element type from the model.
    assert ours.run(["n"], {"s": [], "x": x})[0] == 0


def test_optional_input_none(sc):
    opt = helper.make_value_info("o", helper.make_optional_type_proto(helper.make_tensor_type_proto(TP.FLOAT, [2])))
    model = _model([helper.make_node("OptionalHasElement", ["o"], ["has"])], [opt], [_vi("has", TP.BOOL, [])], opset=18)
    ours, theirs = _both(sc, model)
    assert ours.run(None, {"o": None})[0] == theirs.run(None, {"o": None})[0] == np.array(False)
    x = np.ones(2, np.float32)
    assert ours.run(None, {"o": x})[0] == theirs.run(None, {"o": x})[0] == np.array(True)


def test_modelmeta_providers_options(sc, mlp):
    ours, theirs = _both(sc, mlp)
    a, b = ours.get_modelmeta(), theirs.get_modelmeta()
    for field in ("producer_name", "graph_name", "domain", "description", "version", "custom_metadata_map"):
        assert getattr(a, field) == getattr(b, field), field
    assert ours.get_providers() == ["CPUExecutionProvider"]
    assert ours.get_provider_options() == {"CPUExecutionProvider": {}}
    assert sc.get_available_providers() == ["CPUExecutionProvider"]
    so = sc.SessionOptions()
    so.intra_op_num_threads = 2
    so.graph_optimization_level = sc.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.enable_profiling = False
    so.execution_mode = sc.ExecutionMode.ORT_SEQUENTIAL
    sess = sc.InferenceSession(mlp.SerializeToString(), sess_options=so, providers=["CPUExecutionProvider"])
    assert sess.get_session_options() is so
    assert [int(v) for v in sc.GraphOptimizationLevel] == [0, 1, 2, 99]


def test_unknown_provider_warns_like_onnxruntime(sc, mlp):
    with pytest.warns(UserWarning, match="CUDAExecutionProvider"):
        sess = sc.InferenceSession(mlp.SerializeToString(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(ValueError):
        sc.InferenceSession(mlp.SerializeToString(), providers=["CPUExecutionProvider"], provider_options=[{}, {}])


def test_sources(sc, mlp, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(mlp, str(path))
    x = np.ones((2, 4), np.float32)
    expected = sc.InferenceSession(str(path)).run(None, {"x": x})
    for src in (path, mlp, mlp.SerializeToString(), sc.load(str(path))):
        got = sc.InferenceSession(src).run(None, {"x": x})
        for e, g in zip(expected, got):
            np.testing.assert_array_equal(e, g)


# ---------------------------------------------------------------------- run


def test_run_matches_onnxruntime_with_output_subsets(sc, mlp):
    ours, theirs = _both(sc, mlp)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    for names in (None, [], ["y"], ["h"], ["h", "y"], ["y", "h", "y"]):
        got = ours.run(names, {"x": x})
        ref = theirs.run(names, {"x": x})
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert g.dtype == r.dtype and g.shape == r.shape
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    # Overriding an initializer input.
    b = np.full(3, 10.0, np.float32)
    np.testing.assert_allclose(
        ours.run(["h"], {"x": x, "b": b})[0], theirs.run(["h"], {"x": x, "b": b})[0], rtol=1e-5, atol=1e-6
    )


def test_mixed_dtypes_and_strings(sc, mixed_signature):
    ours, theirs = _both(sc, mixed_signature)
    feed = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3, 1),
        "i": np.array(7, np.int64),
        "s": np.array(["a", "", "été"], dtype=object),
        "u": np.arange(4.0).reshape(2, 2),
        "b": np.array([True, False, True]),
    }
    for g, r in zip(ours.run(None, feed), theirs.run(None, feed)):
        assert g.dtype == r.dtype and g.shape == r.shape
        np.testing.assert_array_equal(g, r)


def test_non_contiguous_input_is_copied_correctly(sc, mlp):
    ours, theirs = _both(sc, mlp)
    base = np.random.default_rng(2).standard_normal((8, 8)).astype(np.float32)
    x = base[::2, 1:5]  # strided view
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(ours.run(["y"], {"x": x})[0], theirs.run(["y"], {"x": x})[0], rtol=1e-5, atol=1e-6)
    xt = np.asfortranarray(base[:3, :4])
    np.testing.assert_allclose(ours.run(["y"], {"x": xt})[0], theirs.run(["y"], {"x": xt})[0], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------- errors


def test_feed_errors(sc, mlp):
    sess = sc.InferenceSession(mlp.SerializeToString())
    x = np.ones((2, 4), np.float32)
    with pytest.raises(sc.InvalidArgument, match="nope"):
        sess.run(None, {"x": x, "nope": x})
    with pytest.raises(sc.InvalidArgument, match="x"):
        sess.run(None, {})
    with pytest.raises(sc.InvalidArgument, match="double"):
        sess.run(None, {"x": x.astype(np.float64)})
    with pytest.raises(sc.InvalidArgument, match="double"):  # a list becomes float64, as in onnxruntime
        sess.run(None, {"x": [[1.0, 2.0, 3.0, 4.0]]})
    with pytest.raises(sc.InvalidArgument, match="index 1"):
        sess.run(None, {"x": np.ones((2, 5), np.float32)})
    with pytest.raises(sc.InvalidArgument, match="rank"):
        sess.run(None, {"x": np.ones(4, np.float32)})
    with pytest.raises(sc.InvalidArgument, match="zzz"):
        sess.run(["zzz"], {"x": x})
    # InvalidArgument is a ValueError too, like onnxruntime's missing-input error.
    with pytest.raises(ValueError):
        sess.run(None, {})


def test_unsupported_op_names_op_domain_version_node(sc):
    model = _model(
        [helper.make_node("FrobnicateTensor", ["x"], ["y"], name="frob_node", domain="com.example")],
        [_vi("x", TP.FLOAT, [2])],
        [_vi("y", TP.FLOAT, [2])],
    )
    model.opset_import.append(helper.make_opsetid("com.example", 3))
    with pytest.raises(sc.UnsupportedOp) as info:
        sc.InferenceSession(model.SerializeToString())
    message = str(info.value)
    for part in ("FrobnicateTensor", "com.example", "3", "frob_node"):
        assert part in message, (part, message)


# ----------------------------------------------------------- zero copy


@pytest.mark.parametrize("op", ["Identity", "Reshape"])
def test_output_shares_input_memory_and_outlives_session(sc, op):
    if op == "Identity":
        nodes, inits = [helper.make_node("Identity", ["x"], ["y"])], []
        out_shape = [2, 3]
    else:
        nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
        inits = [numpy_helper.from_array(np.array([3, 2], np.int64), "shape")]
        out_shape = [3, 2]
    model = _model(nodes, [_vi("x", TP.FLOAT, [2, 3])], [_vi("y", TP.FLOAT, out_shape)], inits)
    sess = sc.InferenceSession(model.SerializeToString())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = sess.run(None, {"x": x})
    assert np.shares_memory(x, y)
    assert not y.flags.writeable  # it is the caller's input memory, seen through the engine
    del sess
    gc.collect()
    np.testing.assert_array_equal(y.reshape(-1), np.arange(6, dtype=np.float32))
    x[0, 0] = 42.0
    assert y.reshape(-1)[0] == 42.0
    del x
    gc.collect()
    assert y.reshape(-1)[5] == 5.0  # the output keeps the input buffer alive


def test_fresh_output_is_writable_and_private(sc, mlp):
    sess = sc.InferenceSession(mlp.SerializeToString())
    x = np.ones((2, 4), np.float32)
    y, h = sess.run(["y", "h"], {"x": x})
    assert y.flags.writeable and h.flags.writeable
    y[...] = 0.0
    y2, h2 = sess.run(["y", "h"], {"x": x})
    np.testing.assert_array_equal(h, h2)
    assert not np.shares_memory(y, y2)


def test_initializer_output_is_read_only(sc):
    w = numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    model = _model([helper.make_node("Identity", ["w"], ["y"])], [], [_vi("y", TP.FLOAT, [3])], [w])
    (y,) = sc.InferenceSession(model.SerializeToString()).run(None, {})
    assert not y.flags.writeable
    np.testing.assert_array_equal(y, np.arange(3, dtype=np.float32))


def test_same_value_twice_is_read_only(sc):
    model = _model([helper.make_node("Add", ["x", "x"], ["y"])], [_vi("x", TP.FLOAT, [2])], [_vi("y", TP.FLOAT, [2])])
    sess = sc.InferenceSession(model.SerializeToString())
    a, b = sess.run(["y", "y"], {"x": np.ones(2, np.float32)})
    assert np.shares_memory(a, b) and not a.flags.writeable and not b.flags.writeable


# ------------------------------------------------------------- threads


def _heavy_model(n=384, layers=8):
    rng = np.random.default_rng(3)
    inits, nodes, prev = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array((rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32), f"w{i}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]))
        nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"t{i}"]))
        prev = f"t{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    return _model(nodes, [_vi("x", TP.FLOAT, ["b", n])], [_vi("y", TP.FLOAT, ["b", n])], inits)


def test_run_releases_the_gil(sc):
    """While one thread is inside run(), another Python thread keeps running."""
    so = sc.SessionOptions()
    so.intra_op_num_threads = 1
    sess = sc.InferenceSession(_heavy_model().SerializeToString(), sess_options=so)
    x = np.random.default_rng(4).standard_normal((256, 384)).astype(np.float32)
    sess.run(None, {"x": x})
    start = time.perf_counter()
    sess.run(None, {"x": x})
    one = time.perf_counter() - start
    ticks = 0
    done = threading.Event()

    def work():
        for _ in range(3):
            sess.run(None, {"x": x})
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    t.join()
    # With the GIL held through run() the loop could tick only between runs.
    assert ticks > 100, (ticks, one)


def _rss_pages():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1])


def test_threads_share_one_session(sc, mlp):
    """4 threads x 250 runs on one session equal single-thread results; RSS stays flat."""
    sess = sc.InferenceSession(mlp.SerializeToString())
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((16, 4)).astype(np.float32) for _ in range(8)]
    expected = [sess.run(None, {"x": x}) for x in inputs]
    for _ in range(200):  # warm-up
        sess.run(None, {"x": inputs[0]})
    gc.collect()
    before = _rss_pages()
    errors = []

    def work(k):
        try:
            for i in range(250):
                j = (i + k) % len(inputs)
                got = sess.run(None, {"x": inputs[j]})
                for g, e in zip(got, expected[j]):
                    if not np.array_equal(g, e):
                        errors.append((k, i))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.collect()
    after = _rss_pages()
    assert not errors, errors[:5]
    assert after <= before * 1.05, f"RSS grew from {before} to {after} pages"
