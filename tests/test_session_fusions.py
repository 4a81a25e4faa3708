"""The session's shape folding (basic level) and LayerNorm fusions (extended level) against onnxruntime.

Hand-built graphs in the forms exporters write: torch's opset-13 LayerNorm
(ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add) after a residual Add, an opset-17
LayerNormalization after one, patterns that must not fuse (a mean over another axis, a value
read elsewhere, operands that broadcast each other), and the shape arithmetic of a Reshape
with a dynamic batch. Every one runs at every level and must give onnxruntime's values;
Tests/SwiftConvPassesTests/LayerNormFusionTests.swift checks which nodes the session keeps.
The real transformer models run at every level in test_optimization_levels.py, the
SkipLayerNormalization kernel alone in test_rare_ops.py.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

ort = pytest.importorskip("onnxruntime")

LEVELS = ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"]
C = 16


def _constants(rng):
    return [
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, C).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.uniform(-0.5, 0.5, C).astype(np.float32), "beta"),
    ]


def _norm(x="x", y="y", axes=(-1,), square="Pow"):
    """torch's decomposed LayerNorm of `x` into `y`."""
    sq = helper.make_node("Pow", ["d", "two"], ["p"]) if square == "Pow" else helper.make_node("Mul", ["d", "d"], ["p"])
    return [
        helper.make_node("ReduceMean", [x], ["m"], axes=list(axes)),
        helper.make_node("Sub", [x, "m"], ["d"]),
        sq,
        helper.make_node("ReduceMean", ["p"], ["v"], axes=list(axes)),
        helper.make_node("Add", ["v", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["d", "sd"], ["n"]),
        helper.make_node("Mul", ["n", "gamma"], ["ns"]),
        helper.make_node("Add", ["ns", "beta"], [y]),
    ]


def _model(nodes, inputs, outputs, initializers, opset):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8).SerializeToString()


def _check(sc, model, feeds, atol=2e-5):
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    for level in LEVELS:
        options = sc.SessionOptions()
        options.graph_optimization_level = getattr(sc.GraphOptimizationLevel, level)
        got = sc.InferenceSession(model, options).run(None, feeds)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, level
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=atol, err_msg=level)


def _feeds(rng, **shapes):
    return {n: (rng.standard_normal(s) * 3 + 1).astype(np.float32) for n, s in shapes.items()}


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("square", ["Pow", "Mul"])
def test_residual_decomposed_norm(sc, opset, square):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Add", ["a", "b"], ["x"])] + _norm(square=square)
    model = _model(nodes, [("a", ["batch", 5, C]), ("b", ["batch", 5, C])], ["y"], _constants(rng), opset)
    for batch in (1, 3):
        _check(sc, model, _feeds(rng, a=(batch, 5, C), b=(batch, 5, C)))


def test_residual_sum_read_again_and_skip_repeating_over_batch(sc):
    # Pre-norm block: x = a + pos feeds the norm and the next residual Add; pos is [5, C].
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Add", ["a", "pos"], ["x"])] + _norm() + [helper.make_node("Add", ["x", "y"], ["z"])]
    model = _model(nodes, [("a", ["batch", 5, C]), ("pos", [5, C])], ["z", "y"], _constants(rng), 13)
    _check(sc, model, _feeds(rng, a=(2, 5, C), pos=(5, C)))


def test_layer_normalization_after_add(sc):
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node("Add", ["a", "b"], ["x"]),
        helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], epsilon=1e-5),
    ]
    model = _model(nodes, [("a", ["batch", 7, C]), ("b", [1, 7, C])], ["y"], _constants(rng), 17)
    _check(sc, model, _feeds(rng, a=(3, 7, C), b=(1, 7, C)))


def test_norm_without_residual(sc):
    rng = np.random.default_rng(3)
    for opset in (13, 17, 18):
        nodes = _norm()
        if opset >= 18:  # axes became an input
            nodes[0] = helper.make_node("ReduceMean", ["x", "axes"], ["m"])
            nodes[3] = helper.make_node("ReduceMean", ["p", "axes"], ["v"])
        inits = _constants(rng) + [numpy_helper.from_array(np.array([-1], np.int64), "axes")]
        model = _model(nodes, [("x", [4, C])], ["y"], inits, opset)
        _check(sc, model, _feeds(rng, x=(4, C)))


@pytest.mark.parametrize("case", ["other_axis", "centred_read_again", "variance_read_again", "mutual_broadcast"])
def test_patterns_that_must_not_fuse_keep_their_values(sc, case):
    rng = np.random.default_rng(4)
    add = helper.make_node("Add", ["a", "b"], ["x"])
    shapes = {"a": (2, 4, C), "b": (2, 4, C)}
    outputs = ["y"]
    if case == "other_axis":
        nodes = [add] + _norm(axes=(1,))
        model_inits = _constants(rng)
        # gamma/beta of the last axis still broadcast after a mean over axis 1.
    elif case == "centred_read_again":
        nodes, model_inits, outputs = [add] + _norm(), _constants(rng), ["y", "d"]
    elif case == "variance_read_again":
        nodes = [add] + _norm() + [helper.make_node("Neg", ["v"], ["z"])]
        model_inits, outputs = _constants(rng), ["y", "z"]
    else:
        nodes, model_inits = [add] + _norm(), _constants(rng)
        shapes = {"a": (2, 1, C), "b": (1, 4, C)}
    model = _model(nodes, [(n, list(s)) for n, s in shapes.items()], outputs, model_inits, 13)
    _check(sc, model, _feeds(rng, **shapes))


def test_shape_arithmetic_with_dynamic_batch(sc):
    """Reshape to [batch, H * W]: the static part folds at basic level, the batch stays read at run time."""
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "i0"], ["n"]),
        helper.make_node("Gather", ["sh", "i1"], ["h"]),
        helper.make_node("Gather", ["sh", "i2"], ["w"]),
        helper.make_node("Mul", ["h", "w"], ["hw"]),
        helper.make_node("Unsqueeze", ["n", "zero"], ["n1"]),
        helper.make_node("Unsqueeze", ["hw", "zero"], ["hw1"]),
        helper.make_node("Concat", ["n1", "hw1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(i, np.int64), f"i{i}") for i in range(3)] + [
        numpy_helper.from_array(np.array([0], np.int64), "zero")
    ]
    model = _model(nodes, [("x", ["batch", 3, 5])], ["y"], inits, 13)
    rng = np.random.default_rng(6)
    for batch in (1, 4):
        _check(sc, model, _feeds(rng, x=(batch, 3, 5)))


def test_reshape_target_with_two_dynamic_dims(sc):
    """[n, m, 6] -> Shape[:2] ++ [-1]: two dims only a run knows, so the target stays computed."""
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Slice", ["sh", "zero", "two"], ["nm"]),
        helper.make_node("Concat", ["nm", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("zero", 0), ("two", 2), ("minus1", -1))]
    model = _model(nodes, [("x", ["n", "m", 6])], ["y"], inits, 13)
    rng = np.random.default_rng(7)
    for shape in ((1, 2, 6), (3, 1, 6)):
        _check(sc, model, _feeds(rng, x=shape))
