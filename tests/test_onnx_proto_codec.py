"""Our protobuf codec (Sources/ONNXProto) against the `onnx` package's: a model using every
message type of onnx-ml.proto is loaded with swiftconv, written back, and parsed again by
protobuf; the result must equal the original message.

The main graph holds what the IR models (it is rebuilt from the IR on save); the training
info holds everything else (typed data fields, segments, external data fields, device
configurations, quantization annotations, unknown fields): swiftconv keeps training info as
decoded protos and re-encodes them, so they exercise the decoder and encoder directly.

    python -m pytest tests/test_onnx_proto_codec.py -q
"""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def _meta(**kv):
    return [onnx.StringStringEntryProto(key=k, value=v) for k, v in kv.items()]


def _sparse(name):
    values = numpy_helper.from_array(np.array([1.5, -2.0], np.float32), name)
    indices = numpy_helper.from_array(np.array([1, 4], np.int64), name + "_indices")
    return helper.make_sparse_tensor(values, indices, [6])


def _subgraph(name, value):
    c = numpy_helper.from_array(np.array([value], np.float32), name + "_c")
    node = helper.make_node("Identity", [name + "_c"], [name + "_y"], name=name + "_id")
    out = helper.make_tensor_value_info(name + "_y", TensorProto.FLOAT, [1])
    return helper.make_graph([node], name, [], [out], [c])


def _every_type():
    return [
        helper.make_tensor_type_proto(TensorProto.FLOAT, ["N", 3, None]),
        helper.make_sparse_tensor_type_proto(TensorProto.FLOAT, [6]),
        helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.INT64, [2])),
        helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.DOUBLE, [])),
        helper.make_optional_type_proto(
            helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.UINT8, [None]))
        ),
        onnx.TypeProto(opaque_type=onnx.TypeProto.Opaque(domain="com.example", name="handle")),
    ]


def _typed_tensors():
    """Tensors in every typed field, with a segment, external data fields, a string tensor."""
    f = helper.make_tensor("f", TensorProto.FLOAT, [2, 2], [1.0, -2.5, 3.25, 1e-30])
    f.segment.begin, f.segment.end = 0, 4
    i32 = helper.make_tensor("i32", TensorProto.INT32, [3], [-1, 0, 2**31 - 1])
    i64 = helper.make_tensor("i64", TensorProto.INT64, [2], [-(2**63), 2**62])
    d = helper.make_tensor("d", TensorProto.DOUBLE, [2], [np.pi, -0.0])
    u64 = helper.make_tensor("u64", TensorProto.UINT64, [2], [0, 2**64 - 1])
    s = helper.make_tensor("s", TensorProto.STRING, [2], [b"abc", "h\u00e9llo".encode()])
    ext = TensorProto(name="ext", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
    ext.external_data.extend(_meta(location="weights.bin", offset="0", length="16"))
    ext.metadata_props.extend(_meta(origin="test"))
    ext.doc_string = "external"
    return [f, i32, i64, d, u64, s, ext]


def _training_info():
    g = helper.make_graph(
        [helper.make_node("Add", ["f", "f"], ["y"], name="add")],
        "init",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        _typed_tensors(),
        sparse_initializer=[_sparse("sp")],
    )
    g.quantization_annotation.add(tensor_name="y").quant_parameter_tensor_names.extend(_meta(SCALE_TENSOR="f"))
    dc = g.node[0].device_configurations.add(configuration_id="cfg", pipeline_stage=2)
    spec = dc.sharding_spec.add(tensor_name="f", device=[0, 1])
    spec.index_to_device_group_map.add(key=0, value=[0, 1])
    dim = spec.sharded_dim.add(axis=0)
    dim.simple_sharding.add(dim_value=2, num_shards=2)
    dim.simple_sharding.add(dim_param="S", num_shards=1)
    info = onnx.TrainingInfoProto(initialization=g, algorithm=_subgraph("algo", 1.0))
    info.initialization_binding.extend(_meta(a="b"))
    info.update_binding.extend(_meta(c="d"))
    return info


def _attributes():
    return [
        helper.make_attribute("f", 0.5),
        helper.make_attribute("i", -7),
        helper.make_attribute("s", b"bytes\x00\xff"),
        helper.make_attribute("t", numpy_helper.from_array(np.arange(3, dtype=np.float32), "t")),
        helper.make_attribute("g", _subgraph("then", 2.0)),
        helper.make_attribute("sp", _sparse("attr_sp")),
        helper.make_attribute("tp", _every_type()[3]),
        helper.make_attribute("floats", [1.0, 2.5]),
        helper.make_attribute("ints", [1, -2, 2**40]),
        helper.make_attribute("strings", [b"a", b"bc"]),
        helper.make_attribute("tensors", [numpy_helper.from_array(np.array([1, 2], np.int32), "ts")]),
        helper.make_attribute("graphs", [_subgraph("g1", 3.0), _subgraph("g2", 4.0)]),
        helper.make_attribute("sparse_tensors", [_sparse("sps")]),
        helper.make_attribute("type_protos", _every_type()),
        helper.make_attribute_ref("ref", onnx.AttributeProto.FLOAT),
    ]


def _model():
    node = helper.make_node("Custom", ["x", "w"], ["y"], name="n0", domain="com.example", doc_string="custom")
    node.attribute.extend(_attributes())
    node.metadata_props.extend(_meta(k="v"))
    w = numpy_helper.from_array(np.arange(300, dtype=np.float32).reshape(3, 100), "w")
    names = numpy_helper.from_array(np.array([b"x", b"yz"], dtype=object), "names")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, None], doc_string="input")]
    inputs[0].metadata_props.extend(_meta(role="input"))
    inputs[0].type.denotation = "TENSOR"
    inputs[0].type.tensor_type.shape.dim[0].denotation = "DATA_BATCH"
    outputs = [helper.make_value_info(f"o{i}", t) for i, t in enumerate(_every_type())]
    g = helper.make_graph(
        [node], "main", inputs, outputs, [w, names], doc_string="graph doc", sparse_initializer=[_sparse("gsp")]
    )
    g.metadata_props.extend(_meta(graph="yes"))
    fn = helper.make_function(
        "com.example",
        "Custom",
        ["x", "w"],
        ["y"],
        [helper.make_node("Add", ["x", "w"], ["y"])],
        [helper.make_opsetid("", 17)],
        attributes=["alpha"],
        attribute_protos=[helper.make_attribute("beta", 2.0)],
        doc_string="a function",
        overload="v2",
        value_info=[helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    fn.metadata_props.extend(_meta(fn="meta"))
    m = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
        producer_name="codec-test",
        producer_version="1.0",
        domain="org.example",
        model_version=3,
        doc_string="model doc",
        functions=[fn],
    )
    m.ir_version = 10
    m.metadata_props.extend(_meta(author="me", license="none"))
    m.training_info.append(_training_info())
    m.configuration.add(name="cfg", num_devices=2, device=["cpu0", "cpu1"])
    return m


# An unknown field (number 1000, length-delimited) inside TrainingInfoProto: a newer ONNX field.
UNKNOWN = bytes([0xC2, 0x3E, 3]) + b"new"


def test_every_message_type_round_trips(sc):
    original = _model()
    written = onnx.load_from_string(sc.load(original.SerializeToString()).to_bytes())
    assert written == original


def test_unknown_fields_are_written_back(sc):
    original = _model()
    info = original.training_info[0]
    info.ParseFromString(info.SerializeToString() + UNKNOWN)
    assert info.SerializeToString().endswith(UNKNOWN)  # protobuf itself kept it
    written = onnx.load_from_string(sc.load(original.SerializeToString()).to_bytes())
    assert written.training_info[0].SerializeToString() == info.SerializeToString()


def test_a_truncated_model_is_a_format_error(sc):
    data = _model().SerializeToString()  # ends inside ModelProto.configuration: its length now runs past the end
    with pytest.raises(sc.ModelFormatError, match="not a valid ONNX model"):
        sc.load(data[:-1])
