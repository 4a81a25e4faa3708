"""Model-level zero copy: m.get_initializer(name) shares the model's memory.

A raw_data initializer of 1 KiB or more points into the loaded bytes: inside a
bytes object the caller passed, and, loaded from a file or a ModelProto, at the
distances apart its raw_data has in the serialized model; smaller ones are
copied. A typed-field initializer (float_data,
int32_data, ...) must be decoded, so it lies outside those bytes; it is decoded
once (two calls share memory). Values equal numpy_helper.to_array of the ONNX
initializer, and an array outlives its model (del m + gc.collect()). The C-level
buffer rules are covered by test_capi_tensors.py.

    python -m pytest tests/test_zero_copy.py -q
"""

import functools
import gc

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ARRAYS = {
    "w_f32": np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32),
    "w_f64": np.linspace(-1, 1, 17, dtype=np.float64),
    "w_f16": np.array([0.5, -2.0, np.inf, 65504.0], np.float16),
    "w_i64": np.array([[1, -2], [2**62, -(2**62)]], np.int64),
    "w_i32": np.arange(-5, 5, dtype=np.int32),
    "w_i8": np.array([-128, 0, 127], np.int8),
    "w_u8": np.arange(256, dtype=np.uint8),
    "w_bool": np.array([True, False, True, True]),
    "w_scalar": np.array(3.5, np.float32),
    "w_big": np.random.default_rng(1).standard_normal((512, 1024)).astype(np.float32),  # 2 MiB
}


@functools.cache
def _model(raw: bool) -> onnx.ModelProto:
    """Built once per storage kind; callers must not modify it."""
    if raw:
        inits = [numpy_helper.from_array(a, n) for n, a in ARRAYS.items()]
    else:
        inits = [
            helper.make_tensor(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape, a.ravel().tolist(), raw=False)
            for n, a in ARRAYS.items()
        ]
    nodes = [helper.make_node("Identity", [n], [n + "_out"], name="id_" + n) for n in ARRAYS]
    graph = helper.make_graph(
        nodes,
        "initializers",
        [],
        [
            helper.make_tensor_value_info(n + "_out", helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in ARRAYS.items()
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


@pytest.fixture(params=["raw_data", "typed_fields"])
def model_proto(request) -> onnx.ModelProto:
    return _model(raw=request.param == "raw_data")


@pytest.fixture(params=["path", "bytes", "proto"])
def loaded(request, sc, tmp_path, model_proto):
    if request.param == "path":
        p = tmp_path / "m.onnx"
        onnx.save_model(model_proto, str(p))
        return sc.load(str(p)), model_proto
    if request.param == "bytes":
        return sc.load(model_proto.SerializeToString()), model_proto
    return sc.load(model_proto), model_proto


def _expected(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_values_match_onnx(loaded, name):
    m, proto = loaded
    want = _expected(proto)[name]
    got = m.get_initializer(name)
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", list(ARRAYS))
def test_two_calls_share_memory(loaded, name):
    m, _ = loaded
    a, b = m.get_initializer(name), m.get_initializer(name)
    assert _address(a) == _address(b)
    if a.size:
        assert np.shares_memory(a, b)


def _buffer_range(data: bytes) -> tuple[int, int]:
    return _address(np.frombuffer(data, np.uint8)), len(data)


def _inside(a: np.ndarray, start: int, size: int) -> bool:
    return start <= _address(a) and _address(a) + a.nbytes <= start + size


# The ONNX reader leaves raw_data of at least this many bytes in place and copies smaller
# payloads (ONNXReader.inPlaceThreshold): a copy of a few bytes costs less than a view.
IN_PLACE_MIN_BYTES = 1024


@pytest.mark.parametrize("name", [n for n, a in ARRAYS.items() if a.size])
def test_raw_data_initializer_points_into_the_loaded_bytes(sc, name):
    data = _model(raw=True).SerializeToString()
    start, size = _buffer_range(data)
    a = sc.load(data).get_initializer(name)
    if a.nbytes < IN_PLACE_MIN_BYTES:
        assert not _inside(a, start, size), f"{name} ({a.nbytes} bytes) should be copied"
        return
    assert _inside(a, start, size), f"{name} at {_address(a):#x} is outside the bytes at {start:#x}+{size}"
    raw = next(t.raw_data for t in _model(raw=True).graph.initializer if t.name == name)
    assert data.count(raw) == 1
    assert _address(a) - start == data.find(raw)


@pytest.mark.parametrize("source", ["path", "proto"])
def test_raw_data_initializers_keep_their_file_layout(sc, tmp_path, source):
    # Loaded from a path or a ModelProto the bytes are the library's own; arrays that point
    # into them lie as far apart as their raw_data in the serialized model (copies would not).
    proto = _model(raw=True)
    if source == "path":
        onnx.save_model(proto, str(tmp_path / "m.onnx"))
        m = sc.load(str(tmp_path / "m.onnx"))
    else:
        m = sc.load(proto)
    data = proto.SerializeToString()
    offsets = {t.name: data.find(t.raw_data) for t in proto.graph.initializer if len(t.raw_data) >= IN_PLACE_MIN_BYTES}
    assert offsets.keys() == {"w_big", "w_f32"}
    assert (
        _address(m.get_initializer("w_big")) - _address(m.get_initializer("w_f32"))
        == offsets["w_big"] - offsets["w_f32"]
    )


@pytest.mark.parametrize("name", [n for n, a in ARRAYS.items() if a.size])
def test_typed_field_initializer_is_decoded_once(sc, name):
    data = _model(raw=False).SerializeToString()
    start, size = _buffer_range(data)
    m = sc.load(data)
    a, b = m.get_initializer(name), m.get_initializer(name)
    assert not _inside(a, start, size)
    assert _address(a) == _address(b)
    np.testing.assert_array_equal(a, ARRAYS[name])


def test_arrays_outlive_the_model(loaded):
    m, proto = loaded
    want = _expected(proto)
    got = {name: m.get_initializer(name) for name in ARRAYS}
    addresses = {name: _address(a) for name, a in got.items()}
    del m
    gc.collect()
    # Churn the allocator so freed model memory would likely be reused.
    churn = [np.full(len(a.tobytes()) + 64, 0xAB, np.uint8) for a in got.values() for _ in range(4)]
    del churn
    gc.collect()
    for name, a in got.items():
        assert _address(a) == addresses[name]
        np.testing.assert_array_equal(a, want[name], err_msg=name)


def test_array_from_temporary_model(sc, model_proto):
    # No reference to the model is ever held by the caller.
    a = sc.load(model_proto.SerializeToString()).get_initializer("w_big")
    gc.collect()
    np.testing.assert_array_equal(a, ARRAYS["w_big"])


def test_many_arrays_from_one_model_keep_it_alive_until_the_last(sc, model_proto):
    m = sc.load(model_proto)
    first = m.get_initializer("w_f32")
    second = m.get_initializer("w_f32")
    del m
    del first
    gc.collect()
    np.testing.assert_array_equal(second, ARRAYS["w_f32"])


def test_unknown_initializer_name(sc, model_proto):
    m = sc.load(model_proto)
    with pytest.raises((KeyError, sc.InvalidArgument)):
        m.get_initializer("no_such_initializer")


def test_initializer_of_a_real_model(sc, tiny_cnn_path):
    proto = onnx.load(str(tiny_cnn_path))
    m = sc.load(str(tiny_cnn_path))
    for t in proto.graph.initializer:
        a, b = m.get_initializer(t.name), m.get_initializer(t.name)
        assert _address(a) == _address(b)
        np.testing.assert_array_equal(a, numpy_helper.to_array(t))


def test_float16_in_int32_data():
    # Sanity check of the fixture itself: typed-field float16 goes through int32_data.
    t = next(t for t in _model(raw=False).graph.initializer if t.name == "w_f16")
    assert t.data_type == TensorProto.FLOAT16 and len(t.int32_data) == 4 and not t.raw_data


# A file rewritten in place after loading (onnx.save to the same path truncates
# it first) must not change or crash a model that maps it; run in a child so a
# SIGBUS fails the test instead of killing pytest.
_REWRITE_CHILD = r"""
import sys
import numpy as np, onnx
from onnx import numpy_helper
import swiftconv as sc
path = sys.argv[1]
original = onnx.load(path)
want = {t.name: numpy_helper.to_array(t) for t in original.graph.initializer}
m = sc.load(path)
arrays = {name: m.get_initializer(name) for name in want}
# Rewrite the file in place: shorter, then different bytes.
with open(path, "r+b") as f:
    f.truncate(16)
with open(path, "wb") as f:
    f.write(b"\x00" * 64)
for name, a in arrays.items():
    np.testing.assert_array_equal(a, want[name], err_msg=name)
for name in want:
    np.testing.assert_array_equal(m.get_initializer(name), want[name], err_msg=name)
data = m.to_bytes()
again = onnx.ModelProto.FromString(data)
for t in again.graph.initializer:
    np.testing.assert_array_equal(numpy_helper.to_array(t), want[t.name], err_msg=t.name)
print("ok")
"""


def test_file_rewritten_after_load_does_not_affect_the_model(sc, tmp_path):
    import subprocess
    import sys

    p = tmp_path / "m.onnx"
    onnx.save_model(_model(raw=True), str(p))
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", _REWRITE_CHILD, str(p)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (
        f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    )
