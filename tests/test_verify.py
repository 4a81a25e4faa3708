"""sc.verify: two models on the same inputs, output by output and layer by layer (issue 10).

Oracles: a model against itself must agree exactly; a copy with one weight changed (through
onnx) must fail on exactly the output that weight feeds; a TFLite fixture against its ONNX
conversion must agree on swiftconv's engine and on the reference runtimes (onnxruntime
and LiteRT run live); per-layer comparison must name the value right after a weight
perturbed in the converted model.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import swiftconv as sc

TESTS_DIR = Path(__file__).resolve().parent
TFLITE_DIR = TESTS_DIR / "fixtures" / "tflite"
TINY_CNN = TESTS_DIR.parent / "examples" / "tiny_cnn.onnx"


def _two_branches(w1, w2):
    """y1 = x @ w1, y2 = Relu(x @ w2): two outputs, each fed by one weight."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y1 = helper.make_tensor_value_info("y1", TensorProto.FLOAT, [2, 4])
    y2 = helper.make_tensor_value_info("y2", TensorProto.FLOAT, [2, 4])
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["y1"], name="mm1"),
        helper.make_node("MatMul", ["x", "w2"], ["h2"], name="mm2"),
        helper.make_node("Relu", ["h2"], ["y2"], name="relu2"),
    ]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    graph = helper.make_graph(nodes, "two", [x], [y1, y2], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _weights():
    rng = np.random.default_rng(1)
    return rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)


def test_model_against_itself_is_exact():
    report = sc.verify(TINY_CNN, TINY_CNN)
    assert report.ok
    assert len(report.outputs) == len(sc.load(TINY_CNN).outputs)
    for r in report.outputs:
        assert r.ok and r.max_abs == 0 and r.max_rel == 0 and r.mismatches == 0
        assert r.cosine == pytest.approx(1, abs=1e-12)
        assert r.count == int(np.prod(r.shape))
    assert "OK" in str(report)
    json.dumps(report.to_dict())


def test_perturbed_weight_fails_on_the_output_it_feeds():
    w1, w2 = _weights()
    reference = _two_branches(w1, w2)
    perturbed = onnx.ModelProto()
    perturbed.CopyFrom(reference)
    changed = numpy_helper.to_array(perturbed.graph.initializer[1]).copy()
    changed[0, 0] += 1.0
    perturbed.graph.initializer[1].CopyFrom(numpy_helper.from_array(changed, "w2"))
    x = np.abs(np.random.default_rng(2).standard_normal((2, 3))).astype(np.float32)
    report = sc.verify(reference, perturbed, {"x": x})
    assert not report.ok
    by_name = {r.name: r for r in report.outputs}
    assert by_name["y1"].ok and by_name["y1"].max_abs == 0
    assert not by_name["y2"].ok
    # y2 = Relu(x @ w2) with x >= 0: row i changes by x[i, 0] in column 0 (when positive).
    expected = np.maximum(x @ changed, 0) - np.maximum(x @ w2, 0)
    assert by_name["y2"].max_abs == pytest.approx(np.abs(expected).max(), rel=1e-6)
    assert "FAIL" in str(report) and "y2" in str(report)
    assert report.to_dict()["outputs"][1]["ok"] is False


def test_inputs_as_dict_list_and_random_agree():
    w1, w2 = _weights()
    model = _two_branches(w1, w2)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    perturbed = _two_branches(w1, w2 + 1e-3)
    a = sc.verify(model, perturbed, {"x": x})
    b = sc.verify(model, perturbed, [x])
    assert [r.max_abs for r in a.outputs] == [r.max_abs for r in b.outputs]
    # Random inputs are seeded: the same seed gives the same report, another seed another.
    r0 = sc.verify(model, perturbed, seed=0)
    assert [r.max_abs for r in r0.outputs] == [r.max_abs for r in sc.verify(model, perturbed, seed=0).outputs]
    assert [r.max_abs for r in r0.outputs] != [r.max_abs for r in sc.verify(model, perturbed, seed=5).outputs]


def test_bad_inputs_are_invalid_arguments():
    w1, w2 = _weights()
    model = _two_branches(w1, w2)
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(sc.InvalidArgument, match="'nope' is not an input of the reference"):
        sc.verify(model, model, {"nope": x})
    with pytest.raises(sc.InvalidArgument, match="missing"):
        sc.verify(model, model, {})
    with pytest.raises(sc.InvalidArgument, match="by position"):
        sc.verify(model, model, [x, x])
    with pytest.raises(sc.InvalidArgument, match="dimensions"):
        sc.verify(model, model, {"x": np.zeros((2, 5), np.float32)})
    with pytest.raises(sc.InvalidArgument, match="backend"):
        sc.verify(model, model, backend="tensorflow")
    with pytest.raises(sc.InvalidArgument, match="per_layer"):
        sc.verify(model, model, backend="reference", per_layer=True)


def _converted(stem):
    source = sc.load(TFLITE_DIR / f"{stem}.tflite")
    return source, sc.convert(source, to="onnx")


@pytest.mark.parametrize("backend", ["swiftconv", "reference"])
def test_tflite_fixture_against_its_onnx_conversion(backend):
    source, onnx_model = _converted("cnn_float32")
    data = np.load(TFLITE_DIR / "cnn_float32.npz")
    report = sc.verify(source, onnx_model, [data["input_0"]], backend=backend)
    assert report.ok, str(report)
    assert report.backend == backend
    assert [r.name for r in report.outputs] == [o.name for o in source.outputs]
    assert all(r.cosine > 0.999999 for r in report.outputs)


def test_per_layer_on_a_float_conversion_compares_every_mapped_layer():
    source, onnx_model = _converted("cnn_float32")
    value_map = json.loads(onnx_model.metadata["swiftconv.value_map"])
    report = sc.verify(source, onnx_model, per_layer=True)
    assert report.ok
    assert report.first_divergence is None
    names = [r.name for r in report.layers]
    # Intermediate values, not only the outputs, and each compared within tolerance.
    assert len(names) > len(report.outputs) + 3
    assert all(r.ok and r.count > 0 for r in report.layers), str(report)
    # Every pairing comes from the converter's map; transposed ones say how.
    for r in report.layers:
        assert value_map[r.candidate_name]["source"] == r.name
        assert r.perm == (tuple(value_map[r.candidate_name]["perm"]) if "perm" in value_map[r.candidate_name] else None)
    assert any(r.perm is not None for r in report.layers)


def test_per_layer_on_the_int8_transformer_records_every_layer():
    source, onnx_model = _converted("transformer_int8")
    report = sc.verify(source, onnx_model, per_layer=True)
    assert len(report.layers) > 10
    assert len({r.name for r in report.layers}) == len(report.layers)
    for r in report.layers:
        assert r.count == int(np.prod(r.shape)) and r.note is None
        assert r.ok == (r.mismatches == 0 and r.nonfinite_mismatches == 0)
    # Quantized values are held to one step of their scale.
    assert any(r.quantized_tolerance > 0 for r in report.layers)
    failing = [r for r in report.layers if not r.ok]
    if failing:
        assert report.first_divergence == failing[0].name
        assert failing[0].max_abs > max(failing[0].quantized_tolerance, 1e-5)
    else:
        assert report.first_divergence is None


def test_per_layer_names_the_layer_after_a_perturbed_weight():
    source, converted = _converted("cnn_float32")
    proto = converted.to_onnx()
    value_map = json.loads(converted.metadata["swiftconv.value_map"])
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    target = convs[len(convs) // 2]
    weights = {t.name: t for t in proto.graph.initializer}
    w = numpy_helper.to_array(weights[target.input[1]]).copy()
    w *= 1.5
    weights[target.input[1]].CopyFrom(numpy_helper.from_array(w, target.input[1]))
    # The layer right after the weight: the Conv's output, or the first value after it
    # (through its fused activation) that holds a value of the source model.
    consumers = {}
    for n in proto.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    value = target.output[0]
    while value not in value_map:
        (value,) = consumers[value][0].output
    report = sc.verify(source, proto, per_layer=True)
    assert not report.ok
    assert report.first_divergence == value_map[value]["source"]
    first = next(r for r in report.layers if not r.ok)
    assert first.name == report.first_divergence
    # Everything before it in the reference's order still agrees.
    before = report.layers[: report.layers.index(first)]
    assert before and all(r.ok for r in before)


def test_layout_permutation_without_a_map_fails_clearly():
    w1, w2 = _weights()
    reference = _two_branches(w1, w2)
    # The same model with y1 transposed to [4, 2]: no map says so.
    transposed = onnx.ModelProto()
    transposed.CopyFrom(reference)
    transposed.graph.node[0].output[0] = "y1_raw"
    transposed.graph.node.append(helper.make_node("Transpose", ["y1_raw"], ["y1"], perm=[1, 0]))
    transposed.graph.output[0].CopyFrom(helper.make_tensor_value_info("y1", TensorProto.FLOAT, [4, 2]))
    report = sc.verify(reference, transposed)
    y1 = report.outputs[0]
    assert not y1.ok and "layout permutation" in y1.note and "swiftconv.value_map" in y1.note
    # With the map entry the same pair compares equal.
    onnx.helper.set_model_props(
        transposed, {"swiftconv.value_map": json.dumps({"y1": {"source": "y1", "perm": [1, 0]}})}
    )
    assert sc.verify(reference, transposed).ok


def test_reference_backend_names_a_missing_runtime(monkeypatch):
    w1, w2 = _weights()
    model = _two_branches(w1, w2)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(sc.SwiftconvError, match="onnxruntime"):
        sc.verify(model, model, backend="reference")
