"""ONNX quantization_annotation survives sc.load -> to_onnx, against onnx / onnxruntime.

python -m pytest tests/test_quantization_annotation.py -q
"""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def _qdq_model(with_value_info: bool) -> onnx.ModelProto:
    """x -> QuantizeLinear -> q -> DequantizeLinear -> y, with q annotated by its scale and zero point."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "s"), numpy_helper.from_array(np.array(3, np.uint8), "zp")],
        value_info=[helper.make_tensor_value_info("q", TensorProto.UINT8, [2, 3])] if with_value_info else [],
    )
    for name, params in (
        ("q", {"SCALE_TENSOR": "s", "ZERO_POINT_TENSOR": "zp"}),
        # Names no initializer: kept as written, not put on any type.
        ("y", {"SCALE_TENSOR": "missing", "ZERO_POINT_TENSOR": "zp"}),
    ):
        annotation = graph.quantization_annotation.add()
        annotation.tensor_name = name
        for key, value in params.items():
            entry = annotation.quant_parameter_tensor_names.add()
            entry.key, entry.value = key, value
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def test_annotated_model_round_trips_unchanged(sc, assert_models_equal):
    model = _qdq_model(with_value_info=True)
    saved = sc.load(model.SerializeToString()).to_onnx()
    assert_models_equal(model, saved)
    assert saved.graph.quantization_annotation == model.graph.quantization_annotation


def test_annotated_value_without_value_info_gains_one(sc):
    model = _qdq_model(with_value_info=False)
    saved = sc.load(model.SerializeToString()).to_onnx()
    onnx.checker.check_model(saved)
    assert saved.graph.quantization_annotation == model.graph.quantization_annotation
    assert [(v.name, v.type.tensor_type.elem_type) for v in saved.graph.value_info] == [("q", TensorProto.UINT8)]
    assert list(saved.graph.initializer) == list(model.graph.initializer)

    x = np.array([[-1.3, -0.25, 0.0], [0.74, 1.25, 200.0]], np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    got = sc.InferenceSession(saved.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)
