"""One dtype table: Swift's DType, as the library reports it (sc_dtypes_json), is the source.

The C header's sc_dtype enum, the extension's numpy mapping (python/csrc/_core.c) and
swiftconv._dtypes must agree with it, and it must agree with ONNX's TensorProto numbering
and onnx's numpy dtypes. Any mismatch fails here.
"""

import json
import re
from pathlib import Path

import numpy as np
import onnx
import onnx.helper
import pytest

from swiftconv import _core, _dtypes

REPO = Path(__file__).resolve().parent.parent
HEADER = REPO / "Sources" / "CSwiftConv" / "include" / "swiftconv.h"
EXTENSION = REPO / "python" / "csrc" / "_core.c"

LIBRARY = json.loads(_core.dtypes_json())["dtypes"]
BY_CODE = {d["code"]: d for d in LIBRARY}


def header_enum():
    """SC_DTYPE_* name -> value, parsed from the header's `typedef enum sc_dtype`."""
    body = re.search(r"typedef enum sc_dtype \{(.*?)\} sc_dtype;", HEADER.read_text(), re.DOTALL).group(1)
    return {name: int(value) for name, value in re.findall(r"(SC_DTYPE_\w+)\s*=\s*(\d+)", body)}


def extension_source():
    return EXTENSION.read_text()


def extension_numpy_names():
    """sc_dtype code -> numpy name for every type the extension maps to numpy itself."""
    enum = header_enum()
    source = extension_source()
    body = re.search(r"static PyArray_Descr \*descr_for_code\(sc_dtype code\) \{(.*?)\n\}", source, re.DOTALL).group(1)
    names = {enum[c]: np.dtype(t.lower()).name for c, t in re.findall(r"case (SC_DTYPE_\w+): type = NPY_(\w+);", body)}
    table = re.search(r"\} extension_dtypes\[\] = \{(.*?)\};", source, re.DOTALL).group(1)
    for c, name in re.findall(r"\{(SC_DTYPE_\w+), \"(\w+)\"\}", table):
        assert enum[c] not in names, c
        names[enum[c]] = name
    return names


def extension_packed_codes():
    enum = header_enum()
    body = re.search(r"static int is_packed_subbyte\(sc_dtype code\) \{(.*?)\n\}", extension_source(), re.DOTALL).group(
        1
    )
    return {enum[c] for c in re.findall(r"code == (SC_DTYPE_\w+)", body)}


def test_library_table_is_onnx_numbering_and_onnx_numpy_names():
    onnx_codes = dict(onnx.TensorProto.DataType.items())
    assert sorted(BY_CODE) == sorted(onnx_codes.values())
    for d in LIBRARY:
        assert onnx_codes[d["onnx_type"].upper()] == d["code"], d
        if d["code"] == 0:
            assert d["numpy"] is None
        else:
            assert d["numpy"] == np.dtype(onnx.helper.tensor_dtype_to_np_dtype(d["code"])).name, d


def test_library_bit_widths_match_numpy_and_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    for d in LIBRARY:
        if d["numpy"] in (None, "object"):
            assert d["bits"] == 0
            continue
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(d["code"]))
        if dtype.kind in "iub":
            bits = 8 if dtype == np.bool_ else np.iinfo(dtype).bits
        elif dtype.kind in "fc":
            bits = dtype.itemsize * 8
        else:  # ml_dtypes types (kind 'V'): their finfo/iinfo know the packed width
            info = ml_dtypes.iinfo(dtype) if "int" in d["numpy"] else ml_dtypes.finfo(dtype)
            bits = info.bits
        assert d["bits"] == bits, d


def test_header_enum_matches_the_library():
    assert header_enum() == {"SC_DTYPE_" + d["name"].upper(): d["code"] for d in LIBRARY}


def test_extension_numpy_mapping_matches_the_library():
    names = extension_numpy_names()
    assert names, "no mapping parsed from _core.c"
    for code, name in names.items():
        assert BY_CODE[code]["numpy"] == name, (code, name)
    # Every type numpy can hold goes through the extension, except the packed ones (Python-side).
    assert set(names) == set(_dtypes.CODE_TO_NAME) - set(_dtypes.SUBBYTE)
    assert extension_packed_codes() == set(_dtypes.SUBBYTE)


def test_python_tables_are_the_library_table():
    for code, name in _dtypes.CODE_TO_NAME.items():
        assert BY_CODE[code]["numpy"] == name
    for code, (bits, signed) in _dtypes.SUBBYTE.items():
        assert (BY_CODE[code]["bits"], BY_CODE[code]["signed"]) == (bits, signed)
    missing = {d["code"] for d in LIBRARY} - set(_dtypes.CODE_TO_NAME)
    assert missing == {0, 27, 28}  # undefined and the 6-bit floats have no numpy form here


@pytest.mark.parametrize("code", sorted(set(_dtypes.CODE_TO_NAME) - set(_dtypes.SUBBYTE) - {8}))
def test_each_numpy_type_crosses_the_extension_with_its_code(code):
    dtype = _dtypes.dtype_from_name(_dtypes.CODE_TO_NAME[code])
    if isinstance(dtype, str):
        pytest.skip(f"{dtype} needs ml_dtypes")
    array = np.zeros(3, dtype=dtype)
    tensor = _core.tensor_from_array(array)
    assert tensor.dtype == code
    assert tensor.numpy().dtype == array.dtype
