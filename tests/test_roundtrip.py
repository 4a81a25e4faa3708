"""Round trip over every ONNX backend test model: load, write, compare.

`sc.load(path).to_bytes()` must pass onnx.checker and equal the original:
tensor values compared as arrays (storage field free, NaN == NaN), all else
compared as protos (see conftest.compare_models). Parametrized by conftest over
`backend_case`; known exceptions live in tests/known_failures.txt.

    python -m pytest tests/test_roundtrip.py -q
"""

import onnx


def test_roundtrip(sc, backend_case, assert_models_equal):
    original = onnx.load(str(backend_case.path))
    data = sc.load(str(backend_case.path)).to_bytes()
    assert isinstance(data, bytes), f"to_bytes() returned {type(data).__name__}"
    written = onnx.ModelProto.FromString(data)
    onnx.checker.check_model(written)
    assert_models_equal(original, written)
