"""Float32 MaxPool and AveragePool against onnxruntime: the 3x3 stride-2 windows of ResNet and
SqueezeNet (ceil_mode), 2x2 stride 2 (U-Net), maps wide enough for the vector loops and odd
ones that leave tails, asymmetric and SAME padding, dilations, batch > 1, and NaN, which must
win a window exactly where onnxruntime lets it. tests/kernel_suites.py reruns this file with the
portable kernels."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

# (op, input shape, attributes)
POOLS = {
    "max-3x3-s2-p1-112": (
        "MaxPool",
        (1, 16, 112, 112),
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    ),
    "max-3x3-s2-ceil-55": ("MaxPool", (1, 8, 55, 55), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    "max-3x3-s2-ceil-111": ("MaxPool", (2, 3, 111, 111), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    "max-2x2-s2-64": ("MaxPool", (1, 16, 64, 64), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "max-2x2-s2-odd": ("MaxPool", (1, 5, 37, 41), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    "max-3x3-s1-same": ("MaxPool", (1, 4, 30, 45), {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"}),
    "max-5x5-s1-asym": ("MaxPool", (1, 3, 33, 50), {"kernel_shape": [5, 5], "pads": [2, 1, 0, 2]}),
    "max-3x2-s2x1": ("MaxPool", (1, 3, 20, 70), {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 1]}),
    "max-3x3-s3": ("MaxPool", (1, 3, 40, 64), {"kernel_shape": [3, 3], "strides": [3, 3]}),
    "max-3x3-dilated": ("MaxPool", (1, 3, 40, 60), {"kernel_shape": [3, 3], "strides": [2, 2], "dilations": [2, 2]}),
    "max-1d-k3-s2": ("MaxPool", (2, 4, 97), {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    "max-kernel-wider-than-map": ("MaxPool", (1, 2, 6, 7), {"kernel_shape": [3, 9], "pads": [1, 1, 1, 1]}),
    "avg-3x3-s2-p1": ("AveragePool", (1, 8, 56, 56), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "avg-2x2-s2-ceil-pad": (
        "AveragePool",
        (1, 4, 27, 29),
        {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1, "count_include_pad": 1, "pads": [1, 1, 0, 0]},
    ),
}


def pool_model(op, x_shape, attrs):
    graph = helper.make_graph(
        [helper.make_node(op, ["X"], ["Y"], **attrs)],
        "pool",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model.SerializeToString()


def run_both(data, x, threads=1):
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]
    options = sc.SessionOptions()
    options.intra_op_num_threads = threads
    actual = sc.InferenceSession(data, options).run(None, {"X": x})[0]
    assert actual.shape == expected.shape
    return actual, expected


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", list(POOLS))
def test_pool_matches_onnxruntime(case, threads):
    op, shape, attrs = POOLS[case]
    x = np.random.default_rng(len(case)).standard_normal(shape).astype(np.float32)
    actual, expected = run_both(pool_model(op, shape, attrs), x, threads)
    if op == "MaxPool":
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", ["max-3x3-s2-p1-112", "max-2x2-s2-odd", "max-3x3-s1-same"])
def test_maxpool_with_nan_and_infinity(case):
    """ONNX leaves NaN in MaxPool undefined (onnxruntime's 1-D and 2-D loops disagree), so only
    the windows without one are compared: a NaN must not leak into them, and infinities must
    come out exactly. The vector loops keep the portable loop's NaN rule bit for bit
    (Tests/SwiftConvKernelsTests/KernelTableTests.swift)."""
    op, shape, attrs = POOLS[case]
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1, shape[-2], shape[-1])
    flat[0, 0, 0] = np.nan
    flat[0, 5, 7] = np.nan
    flat[0, 9, 20:31] = np.nan
    flat[-1, 11, :] = np.nan
    flat[-1, 2, 3] = np.inf
    flat[-1, 4, 4] = -np.inf
    data = pool_model(op, shape, attrs)
    actual, expected = run_both(data, x)
    touched, _ = run_both(data, np.isnan(x).astype(np.float32))
    clean = touched == 0
    assert clean.sum() > 0.9 * clean.size
    np.testing.assert_array_equal(actual[clean], expected[clean])
    assert np.isinf(expected[clean]).any()
