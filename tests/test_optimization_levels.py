"""Results must not depend on `graph_optimization_level`, only the kernels that compute them.

The default suites (test_backend_engine.py, test_real_models.py) run at ORT_ENABLE_ALL.
Here the backend cases whose models the session's passes can change, and every real
model, run at the other levels. ORT_ENABLE_EXTENDED runs the same passes as
ORT_ENABLE_ALL (tests/../Tests/SwiftConvPassesTests checks that), so DISABLE_ALL and
ENABLE_BASIC are the levels left to cover. A case is chosen when its model has Conv, Clip
or Relu (Conv + activation fusion, SiLU included), Erf (GELU fusion), Shape, Size or Constant
(shape folding), ReduceMean or LayerNormalization (LayerNorm fusions), subgraphs or model-local
functions (inlining), or a node whose outputs nothing reads (dead-code removal); the rest of
the backend suite runs the same graph at every level. tests/test_session_fusions.py has the
graphs written for the folding and the LayerNorm fusions.
"""

import numpy as np
import onnx
import pytest
import real_models
from backend_data import engine_cases
from conftest import read_known_failures
from test_backend_engine import SUITE, run_case

LEVELS = ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC"]
REWRITTEN_OPS = {
    "Conv",
    "Clip",
    "Relu",
    "Erf",
    "If",
    "Loop",
    "Scan",
    "Shape",
    "Size",
    "Constant",
    "ReduceMean",
    "LayerNormalization",
}


def _op_types(graph: onnx.GraphProto):
    for node in graph.node:
        yield node.op_type
        for a in node.attribute:
            if a.HasField("g"):
                yield from _op_types(a.g)
            for g in a.graphs:
                yield from _op_types(g)


def _has_dead_node(graph: onnx.GraphProto) -> bool:
    read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    return any(all(not out or out not in read for out in node.output) for node in graph.node)


def _rewritten_by_passes(case) -> bool:
    model = onnx.load(str(case.model_path), load_external_data=False)
    return bool(REWRITTEN_OPS & set(_op_types(model.graph)) or model.functions or _has_dead_node(model.graph))


def _backend_params():
    known = read_known_failures(SUITE)
    return [
        pytest.param(
            case,
            level,
            id=f"{case.id}-{level}",
            marks=[pytest.mark.xfail(reason=known[case.name], strict=True)] if case.name in known else [],
        )
        for case in engine_cases()
        if _rewritten_by_passes(case)
        for level in LEVELS
    ]


def _options(sc, level):
    options = sc.SessionOptions()
    options.graph_optimization_level = getattr(sc.GraphOptimizationLevel, level)
    return options


@pytest.mark.parametrize("case,level", _backend_params())
def test_backend_case_at_level(sc, case, level):
    run_case(sc, case, _options(sc, level))


def test_selection_covers_the_rewritten_ops():
    # The selection is what keeps this file short; it must still hold fusion and inlining cases.
    names = {p.values[0].name for p in _backend_params()}
    assert {"test_conv_with_strides_padding", "test_clip_default_min", "test_relu"} <= names
    assert any(name.endswith("_expanded") for name in names)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", real_models.names())
def test_real_model_at_level(sc, name, level):
    ort = pytest.importorskip("onnxruntime")
    model = real_models.build(name)
    feeds = real_models.inputs(name, 1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    want = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = sc.InferenceSession(model, _options(sc, level)).run(None, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert np.std(w) > 0.01, f"reference output of {name} is degenerate (std {np.std(w):.3g})"
        np.testing.assert_array_less(np.abs(g - w).max(), 1e-4)


@pytest.mark.parametrize("level", ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"])
def test_conv_clip_without_min_keeps_minus_infinity(sc, level):
    """Conv + Clip(max only) fused or not: -inf stays -inf as in onnxruntime and the onnx reference."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Clip", ["c", "", "hi"], ["y"])],
        "conv_clip",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 4])],
        initializer=[
            numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w"),
            numpy_helper.from_array(np.array(6, np.float32), "hi"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    x = np.array([[[[-np.inf, -1, 7, np.inf]]]], np.float32)
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    got = sc.InferenceSession(model.SerializeToString(), _options(sc, level)).run(None, {"x": x})[0]
    assert want[0, 0, 0, 0] == -np.inf
    np.testing.assert_array_equal(got, want)
