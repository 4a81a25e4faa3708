"""sc.optimize (constant folding with shape arithmetic, BatchNormalization folding, identity
and dead-code removal) on the real models: the optimized model, run in onnxruntime, gives
the original's onnxruntime outputs, with fewer nodes, and dynamic dims stay dynamic."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import real_models

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tflite"


def _run(model_bytes, feeds):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    # Disabled so that onnxruntime's own folding does not hide a difference between the two.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"]).run(None, feeds)


def _batches(name):
    shapes = [spec["shape"][0] for spec in real_models.manifest()[name]["inputs"]]
    return [1, 3] if "batch" in shapes else [1]


@pytest.fixture(scope="module")
def optimized():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = sc.optimize(real_models.build(name)).to_onnx()
        return cache[name]

    return get


@pytest.mark.parametrize("name", real_models.names())
def test_optimized_real_model_matches_the_original_in_onnxruntime(name, optimized):
    original = onnx.load_from_string(real_models.build(name))
    result = optimized(name)
    onnx.checker.check_model(result)
    for batch in _batches(name):
        feeds = real_models.inputs(name, batch)
        want = _run(original.SerializeToString(), feeds)
        got = _run(result.SerializeToString(), feeds)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            assert np.std(w) > 0.01, f"reference output of {name} is degenerate"
            assert np.abs(g - w).max() <= 1e-4
    before, after = len(original.graph.node), len(result.graph.node)
    constants = sum(n.op_type == "Constant" for n in original.graph.node)
    assert after <= before
    if constants:
        assert after <= before - constants
    assert not any(n.op_type == "Constant" for n in result.graph.node)


def _initializers(model):
    return {t.name for t in model.graph.initializer}


def test_no_node_of_an_optimized_model_reads_only_constants(optimized):
    for name in real_models.names():
        result = optimized(name)
        weights = _initializers(result)
        for node in result.graph.node:
            assert any(i and i not in weights for i in node.input), f"{name}: {node.op_type} {node.name} was not folded"


def _static_shapes(model):
    """Value name -> dims (int, or None for a dynamic one), from onnx's shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        if v.type.tensor_type.HasField("shape"):
            shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
    return shapes


def test_transformer_shape_arithmetic_folds_to_the_dynamic_batch_only(optimized):
    name = "transformer_encoder_op17"
    original = onnx.load_from_string(real_models.build(name))
    result = optimized(name)
    ops_before = Counter(n.op_type for n in original.graph.node)
    ops_after = Counter(n.op_type for n in result.graph.node)
    assert ops_before["Shape"] == 17
    # What is left of the shape arithmetic reads a shape with the dynamic batch dim in it.
    shapes = _static_shapes(result)
    remaining = [n for n in result.graph.node if n.op_type == "Shape"]
    assert remaining, "the batch is dynamic: some Shape must stay"
    for node in remaining:
        dims = shapes[node.input[0]]
        assert None in dims, f"Shape of the static {node.input[0]} {dims} was not folded"
    # A Gather or Slice of what stays of a shape takes the batch: the sequence (32) and model
    # (64) dims it could also pick are constants now.
    weights = {t.name: numpy_helper.to_array(t) for t in result.graph.initializer}
    producers = {o: n for n in result.graph.node for o in n.output}
    for node in result.graph.node:
        source = producers.get(node.input[0]) if node.input else None
        if source is None or source.op_type != "Shape" or node.op_type not in ("Gather", "Slice"):
            continue
        dims = shapes[source.input[0]]
        if node.op_type == "Gather":
            picked = [dims[int(i)] for i in np.ravel(weights[node.input[1]])]
        else:
            start, end = (int(weights[i][0]) for i in node.input[1:3])
            picked = dims[slice(start, end)]
        assert None in picked, f"{node.name} picks only static dims {picked}"
    # Those are the padding mask's [batch, 32] and, in each of the two layers, the attention
    # input's (read before its transpose to [32, batch, 64]); the reshapes of the projection
    # take the constant target (-1 for the batch) its inferred shape gives, at level 'all'.
    assert ops_after["Shape"] == 3
    assert ops_after["Constant"] == 0 and ops_after["Identity"] == 0
    # The head-size arithmetic (64 / 4 heads, sqrt for the scale) read only static dims.
    assert ops_after["Mod"] == 0 and ops_after["Div"] == 0 and ops_after["Sqrt"] == 0 and ops_after["Cast"] == 1
    assert len(original.graph.node) == 391 and len(result.graph.node) < 160
    # Nothing about the batch was baked in: a batch of 5 still matches.
    feeds = real_models.inputs(name, 5)
    want = _run(original.SerializeToString(), feeds)
    got = _run(result.SerializeToString(), feeds)
    assert max(np.abs(g - w).max() for g, w in zip(got, want)) <= 1e-4


def test_lstm_keeps_its_dynamic_shape_and_loses_its_constants(optimized):
    name = "lstm_classifier_op17"
    original = onnx.load_from_string(real_models.build(name))
    result = optimized(name)
    expected = Counter(n.op_type for n in original.graph.node)
    del expected["Constant"]
    # tokens is [batch, sequence]: its Shape, the Gathers of it and the state shape stay.
    # (Level 'all' also moves a Transpose through the LSTM output's Squeeze and merges it.)
    got = Counter(n.op_type for n in result.graph.node)
    assert got["Transpose"] <= expected["Transpose"]
    del got["Transpose"], expected["Transpose"]
    assert got == expected
    for batch, length in ((1, 24), (4, 24)):
        feeds = real_models.inputs(name, batch)
        feeds = {k: v[:, :length] for k, v in feeds.items()}
        want = _run(original.SerializeToString(), feeds)
        got = _run(result.SerializeToString(), feeds)
        assert max(np.abs(g - w).max() for g, w in zip(got, want)) <= 1e-4


def _conv_bn_model():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    scale = rng.standard_normal(8).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    mean = rng.standard_normal(8).astype(np.float32)
    var = rng.uniform(0.5, 2, 8).astype(np.float32)
    wt = rng.standard_normal((8, 4, 2, 2)).astype(np.float32)
    t_stats = [rng.standard_normal(4).astype(np.float32) for _ in range(3)] + [
        rng.uniform(0.5, 2, 4).astype(np.float32)
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b"), (wt, "wt"))]
    inits += [numpy_helper.from_array(a, n) for a, n in zip((scale, bias, mean, var), ("s", "bb", "m", "v"))]
    inits += [numpy_helper.from_array(a, n) for a, n in zip(t_stats, ("ts", "tb", "tm", "tv"))]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-3),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("ConvTranspose", ["r", "wt"], ["t"], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["t", "ts", "tb", "tm", "tv"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_bn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 12, 12])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def test_batch_norm_folds_at_the_extended_level():
    model = _conv_bn_model()
    feeds = {"x": np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)}
    want = _run(model.SerializeToString(), feeds)[0]
    basic = sc.optimize(model, level="basic").to_onnx()
    assert [n.op_type for n in basic.graph.node] == [n.op_type for n in model.graph.node]
    for level in ("extended", "all"):
        result = sc.optimize(model, level=level).to_onnx()
        onnx.checker.check_model(result)
        assert [n.op_type for n in result.graph.node] == ["Conv", "Relu", "ConvTranspose"]
        got = _run(result.SerializeToString(), feeds)[0]
        assert got.shape == want.shape == (2, 4, 12, 12)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_optimize_levels_and_arguments():
    name = "mobilenet_v2_op13"
    source = real_models.build(name)
    untouched = sc.optimize(source, level="none").to_onnx()
    assert len(untouched.graph.node) == len(onnx.load_from_string(source).graph.node)
    model = sc.load(source)
    assert sc.optimize(model, "basic").to_onnx().graph.node  # the source Model is not changed
    assert len(model.to_onnx().graph.node) == len(untouched.graph.node)
    for bad in ("fast", 2, None):
        with pytest.raises(sc.InvalidArgument, match="level"):
            sc.optimize(model, bad)
    with pytest.raises(sc.InvalidArgument, match="ONNX"):
        sc.optimize(FIXTURES / "cnn_float16.tflite")
