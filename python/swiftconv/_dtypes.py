"""numpy dtypes <-> swiftconv element types (ONNX TensorProto numbering).

Standard types map directly; bfloat16 and the float8/int4 family use the ml_dtypes
package when it is installed. Sub-byte types are packed two (or four) per byte in
swiftconv, as in ONNX raw_data, but take one byte per element in numpy: they are
the only ones that are copied on the way in or out.
"""

import json

import numpy as np

from . import _core
from .errors import InvalidArgument

# The library's dtype table (Swift's DType, reported by sc_dtypes_json) is the one source.
DTYPES = json.loads(_core.dtypes_json())["dtypes"]

# Bits per element of the packed types numpy arrays are unpacked from (one per byte in numpy).
_UNPACKED_BITS = (2, 4)

# code -> (bits per element, signed) for the packed types.
SUBBYTE = {d["code"]: (d["bits"], d["signed"]) for d in DTYPES if d["bits"] in _UNPACKED_BITS}

# sc_dtype code -> numpy dtype name (ml_dtypes names for the exotic ones); strings are objects.
# 6-bit floats have no unpacking here and so no numpy counterpart.
CODE_TO_NAME = {
    d["code"]: d["numpy"]
    for d in DTYPES
    if d["numpy"] is not None and (d["bits"] >= 8 or d["bits"] in _UNPACKED_BITS or d["numpy"] == "object")
}
NAME_TO_CODE = {name: code for code, name in CODE_TO_NAME.items()}


def _ml_dtypes():
    try:
        import ml_dtypes
    except ImportError:
        return None
    return ml_dtypes


def dtype_from_name(name):
    """The numpy dtype for a type name in the model info; the name itself when numpy lacks it."""
    if name is None:
        return None
    try:
        return np.dtype(name)
    except TypeError:
        pass
    ml = _ml_dtypes()
    if ml is not None and hasattr(ml, name):
        return np.dtype(getattr(ml, name))
    return name


# numpy computes `dtype.name` in Python (microseconds, more than a small run), and every
# fed array asks: the codes of the dtypes seen are kept (a few; bounded all the same).
_CODE_BY_DTYPE = {}


def code_of(dtype):
    """The sc_dtype code of a numpy dtype, or None."""
    dtype = np.dtype(dtype)
    try:
        return _CODE_BY_DTYPE[dtype]
    except KeyError:
        code = NAME_TO_CODE.get(dtype.name)
        if len(_CODE_BY_DTYPE) < 64:
            _CODE_BY_DTYPE[dtype] = code
        return code


def tensor_to_numpy(tensor):
    """A _core.Tensor as numpy: shared memory, except strings and packed types (copied)."""
    if tensor.dtype not in SUBBYTE:
        return tensor.numpy()
    bits, signed = SUBBYTE[tensor.dtype]
    shape = tensor.shape
    count = int(np.prod(shape, dtype=np.int64))
    raw = tensor.raw()
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    values = np.empty(raw.size * per_byte, dtype=np.uint8)
    for k in range(per_byte):  # low bits first, as ONNX packs them
        values[k::per_byte] = (raw >> (k * bits)) & mask
    values = values[:count].reshape(shape)
    target = dtype_from_name(CODE_TO_NAME[tensor.dtype])
    if tensor.dtype == 23:
        if isinstance(target, str):
            raise ImportError("float4_e2m1fn tensors need the ml_dtypes package (pip install ml_dtypes)")
        return values.view(target)
    if signed:
        values = values.astype(np.int8)
        values[values >= (1 << (bits - 1))] -= 1 << bits
    return values.astype(target) if not isinstance(target, str) else values


def array_to_tensor(array):
    """A _core.Tensor over a numpy array's memory (packed copy for sub-byte types; strings,
    an object array of str/bytes or a numpy str array, are copied as UTF-8)."""
    array = np.asarray(array)
    if array.dtype.kind in "OUS":
        items = []
        for item in array.reshape(-1).tolist():
            if isinstance(item, str):
                items.append(item.encode("utf-8"))
            elif isinstance(item, (bytes, bytearray)):
                items.append(bytes(item))
            else:
                raise InvalidArgument(f"a string tensor holds str or bytes, not {type(item).__name__}")
        return _core.tensor_from_strings(array.shape, items)
    if array.dtype.byteorder not in ("=", "|") and not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    code = code_of(array.dtype)
    if code in SUBBYTE:
        bits, _ = SUBBYTE[code]
        per_byte = 8 // bits
        mask = (1 << bits) - 1
        flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8) & mask
        padded = np.zeros(-(-flat.size // per_byte) * per_byte, dtype=np.uint8)
        padded[: flat.size] = flat
        packed = np.zeros(padded.size // per_byte, dtype=np.uint8)
        for k in range(per_byte):
            packed |= padded[k::per_byte] << (k * bits)
        return _core.tensor_from_array(packed, dtype_code=code, shape=array.shape)
    return _core.tensor_from_array(array)
