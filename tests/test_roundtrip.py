"""Round trip over every ONNX backend test model: load, write, compare.

`sc.load(path).to_bytes()` must pass onnx.checker and equal the original:
tensor values compared as arrays (storage field free, NaN == NaN), all else
compared as protos (see conftest.compare_models). Parametrized by conftest over
`backend_case`; known exceptions live in tests/known_failures.txt.

    python -m pytest tests/test_roundtrip.py -q
"""

import numpy as np
import onnx
from conftest import compare_models
from onnx import helper, numpy_helper


def test_roundtrip(sc, backend_case, assert_models_equal):
    original = onnx.load(str(backend_case.path))
    data = sc.load(str(backend_case.path)).to_bytes()
    assert isinstance(data, bytes), f"to_bytes() returned {type(data).__name__}"
    written = onnx.ModelProto.FromString(data)
    onnx.checker.check_model(written)
    assert_models_equal(original, written)


def _int64_model(value: int) -> onnx.ModelProto:
    init = numpy_helper.from_array(np.array([value, -value], np.int64), "w")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", onnx.TensorProto.INT64, [2])],
        [init],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_comparison_sees_the_low_bit_of_large_integers():
    # 2**60 and 2**60 + 1 are one float64; the comparison must not go through floats.
    assert float(2**60) == float(2**60 + 1)
    assert compare_models(_int64_model(2**60), _int64_model(2**60)) == []
    problems = compare_models(_int64_model(2**60), _int64_model(2**60 + 1))
    assert len(problems) == 1 and "values differ" in problems[0]
