"""The float32 fast paths of Sigmoid, Tanh, Erf, Gelu, Softmax/LogSoftmax, LayerNormalization and the
bilinear Resize (issue 12), and the session's Erf GELU fusion, against onnxruntime (and
the exact erf of Python's math module for Erf's accuracy).

    python -m pytest -q tests/test_vectorized_activations.py
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(12)


def _model(nodes, inputs, outputs, initializers=(), opset=17, domains=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializer=list(initializers),
    )
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domains]
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = 9
    return model


def _run_both(model, feeds, level="ORT_ENABLE_ALL"):
    """swiftconv at `level` and onnxruntime with its own graph rewrites disabled."""
    data = model.SerializeToString()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    want = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"]).run(None, feeds)
    sc_options = sc.SessionOptions()
    sc_options.graph_optimization_level = getattr(sc.GraphOptimizationLevel, level)
    got = sc.InferenceSession(data, sc_options).run(None, feeds)
    return got, want


def _erf_sweep() -> np.ndarray:
    dense = np.linspace(-6, 6, 200_001, dtype=np.float32)
    tiny = np.geomspace(1e-30, 1e-3, 2_000).astype(np.float32)
    # Around the switch between the two approximations and the clamp.
    edges = np.concatenate([np.linspace(c - 1e-3, c + 1e-3, 2_001, dtype=np.float32) for c in (0.9, 3.95)])
    return np.concatenate([dense, tiny, -tiny, edges, -edges])


def test_erf_accuracy_against_exact_erf():
    x = _erf_sweep()
    model = _model([helper.make_node("Erf", ["x"], ["y"])], [("x", [len(x)])], ["y"])
    got = sc.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    exact = np.array([math.erf(float(v)) for v in x])
    err = np.abs(got.astype(np.float64) - exact)
    assert err.max() <= 2e-7
    # Within 3 ulp of the exact value everywhere, tiny arguments included (erf(x) ~ 1.128x).
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert (err / ulp).max() <= 3


def test_erf_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 10.0, -10.0, 4.0, -3.9], np.float32)
    model = _model([helper.make_node("Erf", ["x"], ["y"])], [("x", [len(x)])], ["y"])
    got = sc.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:3], [1, -1])
    assert got[3] == 0 and not np.signbit(got[3]) and got[4] == 0 and np.signbit(got[4])
    np.testing.assert_array_equal(got[5:8], [1, -1, 1])
    assert abs(got[8] - math.erf(-3.9)) <= 6e-8


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_onnxruntime(approximate):
    x = np.concatenate([RNG.normal(0, 3, 40_000), np.linspace(-12, 12, 4_001)]).astype(np.float32)
    model = _model(
        [helper.make_node("Gelu", ["x"], ["y"], approximate=approximate)], [("x", [len(x)])], ["y"], opset=20
    )
    got, want = _run_both(model, {"x": x})
    # onnxruntime computes 0.5x(1 + tanh(...)), which cancels to a few 1e-7 off where
    # tanh(...) is near -1; the exact value in double is the tighter oracle.
    np.testing.assert_allclose(got[0], want[0], rtol=2e-6, atol=1e-6)
    xd = x.astype(np.float64)
    if approximate == "tanh":
        exact = 0.5 * xd * (1 + np.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd**3)))
    else:
        exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xd])
    np.testing.assert_allclose(got[0], exact, rtol=1e-6, atol=2e-7)


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh"])
@pytest.mark.parametrize("n", [1, 7, 8, 13, 16, 23, 40_001])
def test_sigmoid_tanh_match_onnxruntime(op, n):
    """Every length mod 8 (the vector kernels' masked tails), and the special values."""
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.6249, 0.6251, 88.5, -88.5, -100.0], np.float32)
    x = np.concatenate([RNG.normal(0, 4, n).astype(np.float32), specials])
    model = _model([helper.make_node(op, ["x"], ["y"])], [("x", [len(x)])], ["y"])
    got, want = _run_both(model, {"x": x})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=2e-7)
    tail = got[0][n:]
    assert np.isnan(tail[0]) and tail[1] == 1 and tail[3] == (0 if op == "Tanh" else 0.5)
    assert tail[2] == (-1 if op == "Tanh" else 0) or (op == "Sigmoid" and 0 <= tail[2] < 1e-37)
    if op == "Tanh":
        assert np.signbit(tail[4])


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [[1, 3, 197, 197], [5, 7], [2, 1], [3, 4, 33], [1, 1000]])
def test_softmax_last_axis_random_shapes(op, shape):
    x = (RNG.normal(0, 4, shape) + RNG.normal(0, 20)).astype(np.float32)
    model = _model([helper.make_node(op, ["x"], ["y"], axis=-1)], [("x", shape)], ["y"], opset=13)
    got, want = _run_both(model, {"x": x})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("shape,axis", [([1, 197, 192], -1), ([4, 10, 3], -1), ([2, 3, 17, 9], 2), ([6, 1], -1)])
def test_layer_norm_random_shapes(shape, axis, with_bias):
    norm = shape[axis:] if axis != -1 else shape[-1:]
    # A mean far from zero next to the spread: the variance must not cancel.
    x = (RNG.normal(0, 1, shape) + 30).astype(np.float32)
    scale = numpy_helper.from_array(RNG.normal(1, 0.2, norm).astype(np.float32), "scale")
    bias = numpy_helper.from_array(RNG.normal(0, 0.5, norm).astype(np.float32), "bias")
    inputs = ["x", "scale", "bias"] if with_bias else ["x", "scale"]
    node = helper.make_node("LayerNormalization", inputs, ["y"], axis=axis, epsilon=1e-5)
    model = _model([node], [("x", shape)], ["y"], [scale, bias] if with_bias else [scale])
    got, want = _run_both(model, {"x": x})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=3e-5)


RESIZE_MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"]


@pytest.mark.parametrize("mode", RESIZE_MODES)
@pytest.mark.parametrize(
    "shape,out",
    [
        ([1, 8, 32, 32], [1, 8, 64, 64]),
        ([2, 3, 7, 5], [2, 3, 12, 13]),
        ([1, 2, 9, 11], [1, 2, 4, 3]),
        # Planes split between threads mid-plane, one input row, and a downsample by three: the
        # blended rows a task keeps must belong to its own plane and rows.
        ([3, 5, 20, 30], [3, 5, 41, 17]),
        ([1, 1, 1, 9], [1, 1, 5, 20]),
        ([1, 2, 30, 30], [1, 2, 10, 10]),
    ],
)
def test_bilinear_resize_random_shapes(mode, shape, out):
    x = RNG.normal(0, 1, shape).astype(np.float32)
    sizes = numpy_helper.from_array(np.array(out, np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear", coordinate_transformation_mode=mode)
    model = _model([node], [("x", shape)], ["y"], [sizes], opset=19)
    got, want = _run_both(model, {"x": x})
    assert got[0].shape == tuple(out)
    # onnxruntime computes the source coordinates in float: weights differ by float rounding.
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)


def test_bilinear_resize_by_scales():
    x = RNG.normal(0, 1, [1, 4, 16, 16]).astype(np.float32)
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear")
    got, want = _run_both(_model([node], [("x", [1, 4, 16, 16])], ["y"], [scales], opset=13), {"x": x})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)


# MARK: GELU fusion


def _const(name, value):
    return numpy_helper.from_array(np.array(value, np.float32), name)


def _erf_gelu(x, out, form, prefix):
    """The Erf GELU as torch and other exporters write it, producing `out` from `x`."""
    p = prefix
    scaled = (
        helper.make_node("Div", [x, "sqrt2"], [p + "s"])
        if form != "mul"
        else helper.make_node("Mul", [x, "inv_sqrt2"], [p + "s"])
    )
    nodes = [
        scaled,
        helper.make_node("Erf", [p + "s"], [p + "e"]),
        helper.make_node("Add", [p + "e", "one"], [p + "a"]),
    ]
    if form == "half_last":  # torch: x * (1 + erf(x / sqrt2)) * 0.5
        nodes += [helper.make_node("Mul", [x, p + "a"], [p + "m"]), helper.make_node("Mul", [p + "m", "half"], [out])]
    elif form == "mul":  # (1 + erf(x * (1/sqrt2))) * 0.5 * x
        nodes += [helper.make_node("Mul", [p + "a", "half"], [p + "m"]), helper.make_node("Mul", [p + "m", x], [out])]
    else:  # (x * 0.5) * (1 + erf(x / sqrt2))
        nodes += [helper.make_node("Mul", [x, "half"], [p + "h"]), helper.make_node("Mul", [p + "h", p + "a"], [out])]
    return nodes


GELU_CONSTANTS = [
    _const("sqrt2", 1.4142135),
    _const("inv_sqrt2", 0.70710678),
    _const("one", 1.0),
    _const("half", 0.5),
]


def _vit_block(form, tokens=197, dim=64):
    """LayerNorm -> MatMul -> GELU -> MatMul -> residual Add, a ViT MLP block."""
    w1 = numpy_helper.from_array((RNG.normal(0, 1, [dim, 4 * dim]) / math.sqrt(dim)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((RNG.normal(0, 1, [4 * dim, dim]) / math.sqrt(4 * dim)).astype(np.float32), "w2")
    scale = numpy_helper.from_array(RNG.normal(1, 0.1, [dim]).astype(np.float32), "ln_scale")
    bias = numpy_helper.from_array(RNG.normal(0, 0.1, [dim]).astype(np.float32), "ln_bias")
    nodes = [
        helper.make_node("LayerNormalization", ["x", "ln_scale", "ln_bias"], ["n"], axis=-1),
        helper.make_node("MatMul", ["n", "w1"], ["h"]),
        *_erf_gelu("h", "g", form, "gelu_"),
        helper.make_node("MatMul", ["g", "w2"], ["o"]),
        helper.make_node("Add", ["x", "o"], ["y"]),
    ]
    return _model(nodes, [("x", [1, tokens, dim])], ["y"], [w1, w2, scale, bias, *GELU_CONSTANTS])


@pytest.mark.parametrize("level", ["ORT_DISABLE_ALL", "ORT_ENABLE_EXTENDED"])
@pytest.mark.parametrize("form", ["half_last", "mul", "half_first"])
def test_vit_block_with_erf_gelu(form, level):
    x = RNG.normal(0, 1, [1, 197, 64]).astype(np.float32)
    got, want = _run_both(_vit_block(form), {"x": x}, level)
    assert np.std(want[0]) > 0.1
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=2e-5)


def test_gelu_fusion_leaves_shared_intermediates():
    # The Erf's output is a graph output too: the chain must stay (and both outputs be right).
    nodes = _erf_gelu("x", "y", "half_last", "p_")
    model = _model(nodes, [("x", [3, 50])], ["y", "p_e"], GELU_CONSTANTS)
    x = RNG.normal(0, 2, [3, 50]).astype(np.float32)
    got, want = _run_both(model, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("form", ["half_last", "mul"])
def test_gelu_fusion_on_a_real_transformer(form):
    """torch's TransformerEncoder (tests/models) with each feed-forward Relu replaced by the Erf GELU."""
    import real_models

    name = "transformer_encoder_op13"
    model = onnx.load_from_string(real_models.build(name))
    relus = [n for n in model.graph.node if n.op_type == "Relu"]
    assert relus
    nodes = []
    for node in model.graph.node:
        if node.op_type == "Relu":
            nodes += _erf_gelu(node.input[0], node.output[0], form, node.output[0] + "_gelu_")
        else:
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(GELU_CONSTANTS)
    data = model.SerializeToString()
    feeds = real_models.inputs(name, 1)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    want = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = sc.InferenceSession(data).run(None, feeds)
    for g, w in zip(got, want):
        assert np.std(w) > 0.01
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
