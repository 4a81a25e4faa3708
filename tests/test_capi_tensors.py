"""The C ABI's tensor and model handles as seen from Python: zero copy, lifetimes, errors."""

import gc
import json
import subprocess
import sys
import threading
import weakref

import numpy as np
import pytest

import swiftconv as sc
from swiftconv import _core, _dtypes


def borrow(array):
    return _core.tensor_from_array(array)


# ---------------------------------------------------------------- numpy -> Swift


def test_contiguous_array_is_shared_not_copied():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = borrow(a)
    assert t.data_ptr == a.ctypes.data
    assert t.shape == (2, 3, 4) and t.dtype == 1 and t.nbytes == a.nbytes
    a[1, 2, 3] = -7.0  # a change to the source is seen through the tensor
    assert t.numpy()[1, 2, 3] == -7.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.arange(12, dtype=np.float32).reshape(3, 4).T,
        lambda: np.arange(20, dtype=np.int64)[::3],
        lambda: np.arange(24, dtype=np.int16).reshape(2, 3, 4)[:, ::-1, 1:3],
        lambda: np.broadcast_to(np.arange(4, dtype=np.uint8), (3, 4)),
        lambda: np.arange(6, dtype=np.complex128).reshape(2, 3)[:, ::2],
    ],
)
def test_non_contiguous_array_is_copied_once(make):
    a = make()
    t = borrow(a)
    assert t.data_ptr != a.ctypes.data
    np.testing.assert_array_equal(t.numpy(), np.ascontiguousarray(a))


def test_size_one_dims_with_odd_strides_stay_zero_copy():
    a = np.arange(8, dtype=np.float32).reshape(8, 1)[:, :]
    b = a[None, :, :]  # numpy may give size-1 dims any stride
    assert borrow(b).data_ptr == b.ctypes.data


def test_unaligned_array_is_copied():
    a = np.frombuffer(bytes(1) + np.arange(4, dtype=np.float32).tobytes(), dtype=np.float32, offset=1)
    assert not a.flags.aligned
    t = borrow(a)
    assert t.data_ptr != a.ctypes.data
    np.testing.assert_array_equal(t.numpy(), np.arange(4, dtype=np.float32))


@pytest.mark.parametrize(
    "dtype",
    [
        "float32",
        "float64",
        "float16",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "bool",
        "complex64",
        "complex128",
    ],
)
def test_dtypes_round_trip_without_copy(dtype):
    a = (np.arange(6) % 2 == 0) if dtype == "bool" else np.arange(6).astype(dtype)
    a = a.reshape(2, 3)
    t = borrow(a)
    assert t.dtype == _dtypes.NAME_TO_CODE[np.dtype(dtype).name]
    out = t.numpy()
    assert out.dtype == a.dtype and out.ctypes.data == a.ctypes.data
    np.testing.assert_array_equal(out, a)


def test_scalar_and_empty_arrays():
    s = np.array(3.5, dtype=np.float64)
    t = borrow(s)
    assert t.shape == () and t.numpy() == 3.5
    e = np.zeros((0, 5), dtype=np.int32)
    t = borrow(e)
    assert t.shape == (0, 5) and t.nbytes == 0
    assert t.numpy().shape == (0, 5) and t.numpy().dtype == np.int32


def test_tensor_arrays_are_read_only():
    t = borrow(np.ones(3, dtype=np.float32))
    out = t.numpy()
    assert not out.flags.writeable
    with pytest.raises(ValueError):
        out[0] = 2


def test_borrowed_array_lives_until_last_tensor_goes():
    a = np.arange(100, dtype=np.float64)
    alive = weakref.ref(a)
    t = borrow(a)
    view = t.numpy()
    del a
    gc.collect()
    assert alive() is not None
    del t
    gc.collect()
    assert alive() is not None  # the numpy view still holds the tensor
    np.testing.assert_array_equal(view, np.arange(100, dtype=np.float64))
    del view
    gc.collect()
    assert alive() is None  # released exactly once, when the last user is gone


def test_copied_array_is_released_at_once():
    a = np.arange(12, dtype=np.float32).reshape(3, 4).T.copy().T  # non-contiguous, owns its data
    alive = weakref.ref(a)
    t = borrow(a)
    del a
    gc.collect()
    assert alive() is None
    np.testing.assert_array_equal(t.numpy(), np.arange(12, dtype=np.float32).reshape(3, 4))


def test_swift_owned_array_survives_all_handles():
    out = borrow(np.arange(6, dtype=np.int32).reshape(2, 3)[:, ::2]).numpy()  # copy owned by Swift
    gc.collect()
    np.testing.assert_array_equal(out, [[0, 2], [3, 5]])
    raw = borrow(np.arange(4, dtype=np.uint16)[::2]).raw()
    gc.collect()
    assert raw.dtype == np.uint8 and raw.tobytes() == np.array([0, 2], dtype=np.uint16).tobytes()


def test_failed_create_releases_the_array_exactly_once():
    a = np.zeros(1, dtype=np.uint8)
    before = sys.getrefcount(a)
    with pytest.raises(sc.InvalidArgument):
        _core.tensor_from_array(a, dtype_code=22, shape=[10])  # 10 int4 need 5 bytes
    assert sys.getrefcount(a) == before


def test_tensors_from_many_threads():
    errors = []

    def work(seed):
        try:
            for _ in range(200):
                a = np.full((16, 16), seed, dtype=np.float32)
                t = borrow(a[:, ::2] if seed % 2 else a)
                assert t.numpy().sum() == seed * t.numpy().size
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors


def test_bfloat16_zero_copy():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    a = np.arange(8, dtype=np.float32).astype(ml_dtypes.bfloat16)
    t = borrow(a)
    assert t.dtype == 16 and t.data_ptr == a.ctypes.data
    out = t.numpy()
    assert out.dtype == a.dtype
    np.testing.assert_array_equal(out.astype(np.float32), a.astype(np.float32))


@pytest.mark.parametrize("name", ["int4", "uint4", "int2", "uint2"])
def test_packed_types_round_trip(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, name):
        pytest.skip(f"ml_dtypes has no {name}")
    dtype = np.dtype(getattr(ml_dtypes, name))
    lo, hi = int(ml_dtypes.iinfo(dtype).min), int(ml_dtypes.iinfo(dtype).max)
    a = (np.arange(7) % (hi - lo + 1) + lo).astype(dtype).reshape(7)
    t = _dtypes.array_to_tensor(a)
    bits = _dtypes.SUBBYTE[t.dtype][0]
    assert t.nbytes == -(-7 * bits // 8)
    np.testing.assert_array_equal(_dtypes.tensor_to_numpy(t).astype(np.int8), a.astype(np.int8))


# ------------------------------------------------------------------- errors


def test_error_classes():
    assert issubclass(sc.InvalidArgument, ValueError) and issubclass(sc.SwiftconvError, RuntimeError)
    assert issubclass(sc.SwiftconvIOError, OSError) and issubclass(sc.SwiftconvIOError, sc.SwiftconvError)
    for cls in (sc.ValidationError, sc.ConversionError, sc.UnsupportedOp, sc.ModelFormatError):
        assert issubclass(cls, sc.SwiftconvError)


def test_unsupported_numpy_dtype_is_invalid_argument():
    with pytest.raises(sc.InvalidArgument):
        borrow(np.array(["a", "b"]))
    with pytest.raises(ValueError):
        borrow(np.zeros(2, dtype="datetime64[s]"))


def test_string_tensors_cannot_be_borrowed():
    with pytest.raises(sc.InvalidArgument, match="string"):
        _core.tensor_from_array(np.zeros(2, dtype=np.uint8), dtype_code=8)


def test_missing_file_is_io_error(tmp_path):
    with pytest.raises(sc.SwiftconvIOError) as info:
        sc.load(tmp_path / "missing.onnx")
    assert isinstance(info.value, OSError) and "missing.onnx" in str(info.value)
    with pytest.raises(OSError):
        sc.load(str(tmp_path))  # a folder, not a model file


def test_tflite_magic_is_model_format_error(tmp_path):
    blob = b"\x1c\x00\x00\x00TFL3" + bytes(32)
    with pytest.raises(sc.ModelFormatError, match="TFLite"):
        sc.load(blob)
    path = tmp_path / "m.bin"  # found by magic bytes, not by suffix
    path.write_bytes(blob)
    with pytest.raises(sc.ModelFormatError):
        sc.load(path)


def test_bad_load_arguments():
    with pytest.raises(sc.InvalidArgument):
        sc.load(123)
    with pytest.raises(sc.InvalidArgument):
        sc.load("")


def test_garbage_bytes_raise_a_swiftconv_error():
    with pytest.raises(sc.SwiftconvError):
        sc.load(b"\xff\xfe definitely not a model")
    with pytest.raises(sc.SwiftconvError):
        sc.load(bytearray(b"\x08"))


def test_cli_reports_errors_with_exit_code_1(tmp_path):
    missing = tmp_path / "missing.onnx"
    for command in (["check", str(missing)], ["inspect", str(missing), "--json"]):
        r = subprocess.run([sys.executable, "-m", "swiftconv", *command], capture_output=True, text=True)
        assert r.returncode == 1
        assert "missing.onnx" in r.stderr and r.stdout == ""


# ------------------------------------------------------------------ models


@pytest.fixture
def small_model_bytes():
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm")],
        "g",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("W", TensorProto.FLOAT, [3, 4]),
        ],  # IR<4 style: weight listed as input
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", None])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.doc_string = 'quote " backslash \\ newline \n tab \t bell \x07 é'
    helper.set_model_props(model, {"author": "me", "note": "x\x00y"})
    return model.SerializeToString()


def test_model_facts(small_model_bytes):
    m = sc.load(small_model_bytes)
    assert m.format == "onnx"
    assert m.opset == {"": 17, "ai.onnx.ml": 3}
    assert m.inputs == [sc.TensorInfo("X", ["batch", 3], np.dtype(np.float32))]
    assert m.outputs == [sc.TensorInfo("Y", ["batch", None], np.dtype(np.float32))]
    assert m.initializer_names == ["W"]
    facts = json.loads(m._handle.info_json())
    assert facts["doc_string"] == 'quote " backslash \\ newline \n tab \t bell \x07 é'
    assert facts["metadata"]["author"] == "me"
    assert facts["inputs"][0]["type"] == "tensor(float)"


def test_initializer_outlives_model(small_model_bytes):
    m = sc.load(small_model_bytes)
    w = m.get_initializer("W")
    del m
    gc.collect()
    assert not w.flags.writeable
    np.testing.assert_array_equal(w, np.arange(12, dtype=np.float32).reshape(3, 4))
    with pytest.raises(sc.InvalidArgument):
        sc.load(small_model_bytes).get_initializer("nope")
