"""ONNX -> TFLite (issue 10, acceptance 1): the real models of tests/test_real_models.py,
converted by swiftconv, run in LiteRT (ai_edge_litert) and match onnxruntime within 1e-4;
no custom or Flex ops; inputs and outputs keep the ONNX names and, by default, layouts."""

import numpy as np
import pytest
import real_models
from tflite_runner import run_litert as _litert

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")


def _onnxruntime(model, feeds):
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)


def _op_types(content):
    """Every op type of a .tflite file, read back by swiftconv's importer."""
    return set(sc.load(content)._facts()["ops"])


MODELS = [n for n in real_models.names()]


@pytest.mark.parametrize("name", MODELS)
def test_real_model_converts_and_runs_in_litert(name):
    model = real_models.build(name)
    converted = sc.convert(model, "tflite")
    content = converted.to_bytes()
    feeds = real_models.inputs(name, 1)
    want = _onnxruntime(model, feeds)
    source = sc.load(model)
    assert [i.name for i in converted.inputs] == [i.name for i in source.inputs]
    assert [o.name for o in converted.outputs] == [o.name for o in source.outputs]
    for i, j in zip(converted.inputs, source.inputs):
        assert list(i.shape) == list(j.shape)
    assert not any(op.startswith("tflite.custom") or "Flex" in op for op in _op_types(content)), _op_types(content)
    got = _litert(content, feeds, [o.name for o in source.outputs])
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert np.std(w) > 0.01
        np.testing.assert_array_less(np.abs(g - w).max(), 1e-4)
    # LiteRT's signature runner takes the ONNX names (it lists them sorted).
    it = litert.Interpreter(model_content=content)
    signature = it.get_signature_list()["serving_default"]
    assert sorted(signature["inputs"]) == sorted(i.name for i in source.inputs)
    assert sorted(signature["outputs"]) == sorted(o.name for o in source.outputs)
    # Our own interpreter runs it too.
    ours = sc.Interpreter(model_content=content)
    for d in ours.get_input_details():
        if tuple(d["shape"]) != feeds[d["name"]].shape:
            ours.resize_tensor_input(d["index"], list(feeds[d["name"]].shape))
    ours.allocate_tensors()
    runner = ours.get_signature_runner() if ours.get_signature_list() else None
    if runner is None:
        for d in ours.get_input_details():
            ours.set_tensor(d["index"], feeds[d["name"]])
        ours.invoke()
        by_name = {d["name"]: d for d in ours.get_output_details()}
        mine = [ours.get_tensor(by_name[o.name]["index"]) for o in source.outputs]
        for m, w in zip(mine, want):
            np.testing.assert_array_less(np.abs(m - w).max(), 1e-4)


def test_unlowerable_nodes_are_all_named_and_nothing_is_written(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Det", ["x"], ["d"], name="first_det"),
            helper.make_node("Relu", ["x"], ["r"], name="fine_relu"),
            helper.make_node("Det", ["r"], ["e"], name="second_det"),
            helper.make_node("Add", ["d", "e"], ["y"], name="fine_add"),
        ],
        "two_dets",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    out = tmp_path / "never.tflite"
    with pytest.raises(sc.ConversionError) as info:
        sc.convert(model.SerializeToString(), "tflite", str(out))
    message = str(info.value)
    assert "first_det" in message and "second_det" in message and "2 ONNX nodes" in message
    assert "fine_relu" not in message and "fine_add" not in message
    assert not out.exists() and list(tmp_path.iterdir()) == []
