"""sc.load and the sc.Model surface of docs API.md section 1, against onnx / onnxruntime.

python -m pytest tests/test_model_api.py -q
"""

import os
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


def _parameter_count(model: onnx.ModelProto) -> int:
    return sum(int(np.prod(t.dims, dtype=np.int64)) for t in model.graph.initializer)


def _broken_model() -> onnx.ModelProto:
    """Node 'bad_add' reads 'ghost', which nothing defines."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="bad_add")],
        "broken",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


# ---------------------------------------------------------------- errors


def test_error_hierarchy(sc):
    assert issubclass(sc.SwiftconvError, RuntimeError)
    for name in ("ValidationError", "ConversionError", "InvalidArgument", "UnsupportedOp", "ModelFormatError"):
        assert issubclass(getattr(sc, name), sc.SwiftconvError), name
    assert issubclass(sc.InvalidArgument, ValueError)


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize("kind", ["str", "pathlike", "bytes", "bytearray", "proto"])
def test_load_sources(sc, conv_net, conv_net_path, assert_models_equal, kind):
    src = {
        "str": str(conv_net_path),
        "pathlike": conv_net_path,
        "bytes": conv_net.SerializeToString(),
        "bytearray": bytearray(conv_net.SerializeToString()),
        "proto": conv_net,
    }[kind]
    m = sc.load(src)
    assert m.format == "onnx"
    assert_models_equal(conv_net, onnx.ModelProto.FromString(m.to_bytes()))


@pytest.mark.parametrize("suffix", [".tflite", ".bin", ""])
def test_load_detects_onnx_by_content_not_suffix(sc, tmp_path, conv_net, suffix):
    p = tmp_path / f"model{suffix}"
    p.write_bytes(conv_net.SerializeToString())
    m = sc.load(str(p))
    assert m.format == "onnx"
    assert [i.name for i in m.inputs] == ["x"]


def test_load_garbage_raises_model_format_error(sc, tmp_path):
    p = tmp_path / "garbage.onnx"
    p.write_bytes(b"\xff" * 64)
    with pytest.raises(sc.ModelFormatError):
        sc.load(str(p))
    with pytest.raises(sc.ModelFormatError):
        sc.load(b"\xff" * 64)


def test_load_does_not_keep_the_file_open_or_locked(sc, tmp_path, conv_net):
    p = tmp_path / "m.onnx"
    onnx.save_model(conv_net, str(p))
    m = sc.load(str(p))
    os.replace(str(p), str(tmp_path / "moved.onnx"))  # the model must not depend on the path
    assert onnx.ModelProto.FromString(m.to_bytes()).graph.node[0].op_type == "Conv"


# ---------------------------------------------------------------- inputs / outputs / opset


@pytest.mark.parametrize("example", ["tiny_cnn_path", "mnist_mlp_path", "conv_net_path"])
def test_inputs_outputs_match_onnxruntime(sc, request, example):
    path = str(request.getfixturevalue(example))
    m = sc.load(path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for ours, theirs in ((m.inputs, sess.get_inputs()), (m.outputs, sess.get_outputs())):
        assert [t.name for t in ours] == [t.name for t in theirs]
        for t, r in zip(ours, theirs):
            assert list(t.shape) == list(r.shape), t.name
            assert np.dtype(t.dtype) == np.dtype(ORT_TYPES[r.type]), t.name
    # A symbolic dim is the str itself, as in onnxruntime.
    assert m.inputs[0].shape[0] == "batch"
    assert isinstance(m.inputs[0].shape[0], str)


def test_tensor_info_fields(sc, tiny_cnn_path):
    info = sc.load(str(tiny_cnn_path)).inputs[0]
    assert isinstance(info, sc.TensorInfo)
    assert info.name == "input"
    assert list(info.shape) == ["batch", 1, 28, 28]
    assert info.dtype == np.float32
    assert all(isinstance(d, int) for d in info.shape[1:])


def test_unknown_dim_is_none(sc):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
    )
    m = sc.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8))
    assert list(m.inputs[0].shape) == [None, 3]


@pytest.mark.parametrize(
    "opsets",
    [
        [("", 17)],
        [("", 13), ("ai.onnx.ml", 3)],
        [("", 18), ("com.microsoft", 1), ("custom", 5)],
    ],
)
def test_opset_dict(sc, opsets):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], ir_version=8)
    assert sc.load(model).opset == {op.domain: op.version for op in model.opset_import}


def test_opset_of_example(sc, tiny_cnn_path):
    model = onnx.load(str(tiny_cnn_path))
    assert sc.load(str(tiny_cnn_path)).opset == {op.domain: op.version for op in model.opset_import}


# ---------------------------------------------------------------- serialization


def test_serialize_to_string_is_to_bytes(sc, conv_net):
    m = sc.load(conv_net)
    data = m.to_bytes()
    assert isinstance(data, bytes)
    assert m.SerializeToString() == data


def test_to_onnx(sc, conv_net, assert_models_equal):
    proto = sc.load(conv_net).to_onnx()
    assert isinstance(proto, onnx.ModelProto)
    onnx.checker.check_model(proto)
    assert_models_equal(conv_net, proto)


def test_save_roundtrip_leaves_no_temp_files(sc, tmp_path, conv_net, assert_models_equal):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    m = sc.load(conv_net)
    target = out_dir / "saved.onnx"
    m.save(str(target))
    assert sorted(os.listdir(out_dir)) == ["saved.onnx"]
    assert target.read_bytes() == m.to_bytes()
    assert_models_equal(conv_net, onnx.load(str(target)))
    # Overwriting an existing file replaces it, again without leftovers; Path works too.
    target.write_bytes(b"old contents")
    m.save(target)
    assert sorted(os.listdir(out_dir)) == ["saved.onnx"]
    assert target.read_bytes() == m.to_bytes()


def test_save_over_the_file_it_was_loaded_from(sc, tmp_path, conv_net, assert_models_equal):
    p = tmp_path / "m.onnx"
    onnx.save_model(conv_net, str(p))
    m = sc.load(str(p))
    m.save(str(p))
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]
    assert_models_equal(conv_net, onnx.load(str(p)))
    assert_models_equal(conv_net, onnx.ModelProto.FromString(m.to_bytes()))


def test_save_into_missing_directory_raises_and_leaves_nothing(sc, tmp_path, conv_net):
    m = sc.load(conv_net)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises((OSError, sc.SwiftconvError)):
        m.save(str(tmp_path / "no" / "such" / "dir" / "m.onnx"))
    assert sorted(os.listdir(tmp_path)) == before
    assert not (tmp_path / "no").exists()


def test_failed_rename_leaves_old_target_and_no_temp_file(sc, tmp_path, conv_net):
    # The final rename fails when the target is a non-empty directory; the
    # temp file written before it must be cleaned up (root ignores chmod, so
    # this is the portable way to make the last step fail).
    m = sc.load(conv_net)
    blocker = tmp_path / "m.onnx"
    blocker.mkdir()
    (blocker / "keep.txt").write_text("keep")
    with pytest.raises((OSError, sc.SwiftconvError)):
        m.save(str(blocker))
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]
    assert (blocker / "keep.txt").read_text() == "keep"


# ---------------------------------------------------------------- text views


def test_summary_mentions_ops_and_parameter_count(sc, tiny_cnn_path):
    model = onnx.load(str(tiny_cnn_path))
    text = sc.load(str(tiny_cnn_path)).summary()
    assert isinstance(text, str)
    for op in Counter(n.op_type for n in model.graph.node):
        assert op in text, op
    for vi in (*model.graph.input, *model.graph.output):
        assert vi.name in text, vi.name
    n = _parameter_count(model)
    assert n == 8 * 9 + 8 + 1568 * 10 + 10  # independent cross-check of the helper
    assert any(form in text for form in (str(n), f"{n:,}", f"{n:_}")), f"{n} not in summary:\n{text}"


def test_printable_graph(sc, tiny_cnn_path):
    model = onnx.load(str(tiny_cnn_path))
    for src in (str(tiny_cnn_path), sc.load(str(tiny_cnn_path)), model):
        text = sc.printable_graph(src)
        assert isinstance(text, str)
        for node in model.graph.node:
            assert node.op_type in text


# ---------------------------------------------------------------- check_model


def test_check_model_accepts_valid_models(sc, tiny_cnn_path, conv_net):
    assert sc.check_model(str(tiny_cnn_path)) is None
    assert sc.check_model(sc.load(conv_net)) is None
    assert sc.check_model(conv_net) is None


def test_check_model_names_the_node(sc):
    model = _broken_model()
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model, full_check=True)  # the oracle agrees it is broken
    for src in (model, model.SerializeToString()):
        with pytest.raises(sc.ValidationError) as info:
            sc.check_model(src)
        assert "bad_add" in str(info.value)
        assert "ghost" in str(info.value)
