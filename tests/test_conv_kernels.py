"""Float32 convolution kernels against onnxruntime on many shapes: depthwise filters of every
size the AVX2 loops take (3x3, 5x5, 7x7, non-square) and the ones they leave to the portable
loop (dilation, stride 3, large filters), odd map sizes, asymmetric pads, batch > 1, and
1x1 convolutions on tiny maps (squeeze-excitation). tests/kernel_suites.py reruns this file
with the portable kernels and with AVX-512."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

# (input shape, weight shape, attributes); group = channels makes it depthwise.
DEPTHWISE = {
    "3x3-s1-14": ((1, 16, 14, 14), (16, 1, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3-s2-odd": ((2, 5, 15, 13), (5, 1, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "5x5-s1-7": ((1, 24, 7, 7), (24, 1, 5, 5), {"pads": [2, 2, 2, 2]}),
    "5x5-s1-14": ((1, 9, 14, 14), (9, 1, 5, 5), {"pads": [2, 2, 2, 2]}),
    "5x5-s1-odd-batch": ((3, 4, 11, 17), (4, 1, 5, 5), {"pads": [2, 2, 2, 2]}),
    "5x5-s2-28": ((1, 6, 28, 28), (6, 1, 5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    "5x5-s2-odd": ((1, 7, 13, 9), (7, 1, 5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    "5x5-s2-asym-pads": ((1, 3, 14, 14), (3, 1, 5, 5), {"pads": [1, 2, 2, 1], "strides": [2, 2]}),
    "5x5-nopad": ((1, 3, 9, 10), (3, 1, 5, 5), {}),
    "5x5-1x1-map": ((1, 8, 1, 1), (8, 1, 5, 5), {"pads": [2, 2, 2, 2]}),
    "5x5-same-upper": ((1, 5, 10, 7), (5, 1, 5, 5), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "7x7-s1": ((1, 4, 12, 12), (4, 1, 7, 7), {"pads": [3, 3, 3, 3]}),
    "3x5-s1": ((1, 4, 9, 12), (4, 1, 3, 5), {"pads": [1, 2, 1, 2]}),
    "5x5-dilated": ((1, 4, 15, 15), (4, 1, 5, 5), {"pads": [4, 4, 4, 4], "dilations": [2, 2]}),
    "5x5-s3": ((1, 4, 16, 16), (4, 1, 5, 5), {"pads": [2, 2, 2, 2], "strides": [3, 3]}),
    "5x5-s1x2": ((1, 4, 12, 12), (4, 1, 5, 5), {"pads": [2, 2, 2, 2], "strides": [1, 2]}),
    "9x9-s1": ((1, 2, 12, 12), (2, 1, 9, 9), {"pads": [4, 4, 4, 4]}),
    "multiplier-2": ((1, 4, 9, 9), (8, 1, 5, 5), {"pads": [2, 2, 2, 2]}),
    # Eight planes or more take the AVX2 loop's channel-blocked path: groups of eight planes
    # straddling images, a last partial group, rows narrower and wider than a vector.
    "blocked-5x5-s1-7": ((1, 40, 7, 7), (40, 1, 5, 5), {"pads": [2, 2, 2, 2]}),
    "blocked-5x5-s2-odd-batch": ((2, 13, 15, 21), (13, 1, 5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    "blocked-3x3-s2-asym": ((1, 12, 28, 27), (12, 1, 3, 3), {"pads": [0, 1, 1, 0], "strides": [2, 2]}),
    "blocked-3x3-s1-wide": ((1, 9, 10, 37), (9, 1, 3, 3), {"pads": [1, 1, 1, 1]}),
    "blocked-7x7-s2": ((1, 16, 19, 19), (16, 1, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
    "blocked-3x5-nopad": ((1, 11, 9, 12), (11, 1, 3, 5), {}),
    "blocked-5x5-1x1-map": ((1, 24, 1, 1), (24, 1, 5, 5), {"pads": [2, 2, 2, 2]}),
    "blocked-5x5-same-lower": ((1, 10, 14, 11), (10, 1, 5, 5), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
}

# Ordinary and grouped convolutions, the 1x1 ones on tiny maps included.
DENSE = {
    "1x1-on-1x1": ((1, 96, 1, 1), (24, 96, 1, 1), {}),
    "1x1-on-1x1-wide": ((1, 40, 1, 1), (250, 40, 1, 1), {}),
    "1x1-on-1x1-batch": ((3, 33, 1, 1), (17, 33, 1, 1), {}),
    "1x1-on-2x3": ((2, 19, 2, 3), (13, 19, 1, 1), {}),
    "1x1-on-7x7": ((1, 64, 7, 7), (40, 64, 1, 1), {}),
    "1x1-grouped": ((1, 8, 5, 5), (12, 2, 1, 1), {"group": 4}),
    "3x3-s2-stem": ((1, 3, 33, 31), (16, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "3x3-s1": ((2, 5, 9, 11), (7, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    "5x5-grouped": ((1, 6, 10, 10), (6, 2, 5, 5), {"group": 3, "pads": [2, 2, 2, 2]}),
    # The implicit GEMM (ImplicitConv: tiles of 6 pixels by 16 channels, padded copy of the input):
    # channel counts off 16, maps of exactly one tile or one pixel more, tiles split by threads or
    # by channels, padding on one side only, reads past the input without padding (floor), 1-D,
    # unequal strides and dilations, and a depth whose weight panel exceeds the cache block.
    "implicit-17-channels-6-pixels": ((1, 8, 2, 3), (17, 8, 3, 3), {"pads": [1, 1, 1, 1]}),
    "implicit-33-channels-7-pixels": ((1, 5, 1, 7), (33, 5, 1, 3), {"pads": [0, 1, 0, 1]}),
    "implicit-end-pads-only": ((1, 6, 9, 8), (20, 6, 3, 3), {"pads": [0, 0, 2, 2]}),
    "implicit-floor-no-pad": ((2, 7, 10, 11), (9, 7, 3, 3), {"strides": [2, 2]}),
    "implicit-s1x2-dilated": (
        (1, 4, 13, 12),
        (31, 4, 3, 2),
        {"pads": [2, 1, 2, 0], "strides": [1, 2], "dilations": [2, 3]},
    ),
    "implicit-1d": ((2, 12, 40), (24, 12, 5), {"pads": [2, 2]}),
    "implicit-deep-small-map": ((1, 512, 7, 7), (40, 512, 3, 3), {"pads": [1, 1, 1, 1]}),
    "implicit-many-channels-small-map": ((1, 16, 3, 4), (200, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    "implicit-5x5-s2": ((1, 10, 19, 17), (24, 10, 5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    "implicit-7x7-s2-stem": ((1, 3, 45, 38), (64, 3, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
    # The GEMM's edge tiles (fewer than 6 rows, 8 or fewer columns, columns off a vector) on
    # pointwise convolutions: output channels 1 to 5 past a multiple of 6, 1, 5, 7, 13 and 49
    # pixels, a depth over one GEMM depth block (the second block adds to the first), groups.
    "1x1-16-channels-49-pixels": ((1, 40, 7, 7), (16, 40, 1, 1), {}),
    "1x1-5-channels-13-pixels": ((1, 24, 1, 13), (5, 24, 1, 1), {}),
    "1x1-3-channels-5-pixels": ((2, 9, 5, 1), (3, 9, 1, 1), {}),
    "1x1-1-channel-7-pixels": ((1, 17, 7, 1), (1, 17, 1, 1), {}),
    "1x1-deep-22-channels-49-pixels": ((1, 600, 7, 7), (22, 600, 1, 1), {}),
    "1x1-wide-7x7": ((1, 160, 7, 7), (200, 160, 1, 1), {}),
    "1x1-14x14-to-few": ((1, 96, 14, 14), (20, 96, 1, 1), {}),
    "1x1-grouped-7x7": ((2, 24, 7, 7), (28, 6, 1, 1), {"group": 4}),
    "1x1-few-to-many-13x13": ((1, 12, 13, 13), (50, 12, 1, 1), {}),
    "1x1-big-map-16-channels": ((1, 32, 40, 37), (16, 32, 1, 1), {}),
    # A 1x1 map (squeeze-excitation after global pooling): one dot product per output channel,
    # 64 channels per task; depths around the eight-lane body, batch 2, counts off 4 and 64.
    "1x1-map-se-reduce": ((1, 1152, 1, 1), (48, 1152, 1, 1), {}),
    "1x1-map-se-expand": ((1, 48, 1, 1), (1152, 48, 1, 1), {}),
    "1x1-map-odd-batch": ((2, 13, 1, 1), (67, 13, 1, 1), {}),
    "1x1-map-grouped": ((1, 16, 1, 1), (8, 4, 1, 1), {"group": 4}),
    # Small depth (a stem's 27, 3x3 of 8 channels), where the algorithm choice differs.
    "3x3-s2-depth-27": ((1, 3, 57, 61), (64, 3, 3, 3), {"strides": [2, 2]}),
    "3x3-s2-depth-27-padded": ((1, 3, 30, 29), (20, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "3x3-depth-72": ((1, 8, 27, 27), (40, 8, 3, 3), {"pads": [1, 1, 1, 1]}),
    # im2col buffers over 4 MB, unfolded a band of output rows at a time (ConvKernel.columnBandBytes):
    # bands that do not divide the rows, stride and asymmetric pads, dilation with batch 2, groups.
    "3x3-banded-128": ((1, 32, 128, 128), (16, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3-s2-banded-odd": ((1, 24, 261, 193), (8, 24, 3, 3), {"pads": [1, 0, 2, 1], "strides": [2, 2]}),
    "3x3-dilated-banded-batch": ((2, 16, 160, 120), (8, 16, 3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2]}),
    "3x3-grouped-banded": ((1, 32, 160, 160), (32, 8, 3, 3), {"group": 4, "pads": [1, 1, 1, 1]}),
}


def conv_model(x_shape, w_shape, attrs, with_bias=True):
    channels = x_shape[1]
    group = attrs.get("group", channels if w_shape[1] == 1 and channels > 1 else 1)
    attrs = {**attrs, "group": group}
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    w = (rng.standard_normal(w_shape) * 0.3).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(w, "W")]
    inputs = ["X", "W"]
    if with_bias:
        inits.append(onnx.numpy_helper.from_array(rng.standard_normal(w_shape[0]).astype(np.float32), "B"))
        inputs.append("B")
    graph = helper.make_graph(
        [helper.make_node("Conv", inputs, ["Y"], **attrs)],
        "conv",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = rng.standard_normal(x_shape).astype(np.float32)
    return model.SerializeToString(), {"X": x}


def assert_matches_onnxruntime(data, feeds):
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    actual = sc.InferenceSession(data).run(None, feeds)[0]
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=scaled_atol(expected))


def scaled_atol(expected):
    """Float sums of thousands of terms (512 channels x 9 taps) differ by summation order: the
    absolute tolerance follows the output's scale (1e-6 of its largest finite value, at least 1e-5)."""
    finite = np.abs(expected[np.isfinite(expected)])
    return max(1e-5, 1e-6 * float(finite.max())) if finite.size else 1e-5


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape", list(DEPTHWISE))
def test_depthwise_conv_matches_onnxruntime(shape, with_bias):
    assert_matches_onnxruntime(*conv_model(*DEPTHWISE[shape], with_bias=with_bias))


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape", list(DENSE))
def test_dense_conv_matches_onnxruntime(shape, with_bias):
    assert_matches_onnxruntime(*conv_model(*DENSE[shape], with_bias=with_bias))


@pytest.mark.parametrize("shape", ["blocked-5x5-s1-7", "blocked-5x5-s2-odd-batch", "3x3-s2-odd"])
def test_depthwise_conv_on_two_threads_matches_onnxruntime(shape):
    """Two threads split the planes anywhere, not at groups of eight."""
    data, feeds = conv_model(*DEPTHWISE[shape])
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    options = sc.SessionOptions()
    options.intra_op_num_threads = 2
    actual = sc.InferenceSession(data, options).run(None, feeds)[0]
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_depthwise_conv_with_fused_clip_matches_onnxruntime():
    """Conv -> Clip fuses, and the depthwise loops apply the clamp as they store."""
    data, feeds = conv_model(*DEPTHWISE["blocked-5x5-s2-odd-batch"])
    model = onnx.load_from_string(data)
    model.graph.node[0].output[0] = "C"
    lo, hi = onnx.numpy_helper.from_array(np.float32(-0.5), "lo"), onnx.numpy_helper.from_array(np.float32(0.75), "hi")
    model.graph.initializer.extend([lo, hi])
    model.graph.node.append(helper.make_node("Clip", ["C", "lo", "hi"], ["Y"]))
    assert_matches_onnxruntime(model.SerializeToString(), feeds)


@pytest.mark.parametrize("shape", ["5x5-s1-7", "blocked-5x5-s2-odd-batch"])
def test_depthwise_conv_keeps_nan_and_infinity(shape):
    data, feeds = conv_model(*DEPTHWISE[shape])
    feeds["X"][0, 3, 2, 4] = np.nan
    feeds["X"][0, 5, 0, 0] = np.inf
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    actual = sc.InferenceSession(data).run(None, feeds)[0]
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "shape",
    [
        "3x3-s1",
        "implicit-deep-small-map",
        "implicit-floor-no-pad",
        "1x1-16-channels-49-pixels",
        "1x1-deep-22-channels-49-pixels",
        "1x1-big-map-16-channels",
        "3x3-s2-depth-27",
    ],
)
def test_dense_conv_keeps_nan_and_infinity(shape):
    data, feeds = conv_model(*DENSE[shape])
    feeds["X"][0, 2, 1, 3] = np.nan
    feeds["X"][-1, 0, -1, -2] = np.inf
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    actual = sc.InferenceSession(data).run(None, feeds)[0]
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-5, atol=scaled_atol(expected))


def test_banded_conv_with_fused_silu_matches_onnxruntime():
    """Conv -> Sigmoid -> Mul fuses into one FusedConv whose SiLU is applied per finished block;
    on a 128x128 map the columns are unfolded in bands, and each band's block must land in place."""
    data, feeds = conv_model((1, 32, 128, 128), (16, 32, 3, 3), {"pads": [1, 1, 1, 1]})
    model = onnx.load_from_string(data)
    model.graph.node[0].output[0] = "C"
    model.graph.node.extend([helper.make_node("Sigmoid", ["C"], ["S"]), helper.make_node("Mul", ["C", "S"], ["Y"])])
    assert_matches_onnxruntime(model.SerializeToString(), feeds)


ACTIVATIONS = {
    "relu": ("Relu", []),
    "clip": ("Clip", [-0.5, 0.75]),
    "sigmoid": ("Sigmoid", []),
    "silu": ("Sigmoid", None),  # Mul(conv, Sigmoid(conv)), fused into Swish
}


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize(
    "shape",
    [
        "1x1-16-channels-49-pixels",
        "1x1-5-channels-13-pixels",
        "1x1-deep-22-channels-49-pixels",
        "1x1-wide-7x7",
        "1x1-grouped-7x7",
        "3x3-s2-depth-27",
        "1x1-map-se-reduce",
        "1x1-map-odd-batch",
    ],
)
def test_dense_conv_with_fused_activation_matches_onnxruntime(shape, activation):
    """Conv + activation fuses into FusedConv: Relu and Clip are clamps applied as tiles are
    stored, the others run on each finished block; on every path the algorithm choice takes."""
    data, feeds = conv_model(*DENSE[shape])
    model = onnx.load_from_string(data)
    model.graph.node[0].output[0] = "C"
    op, params = ACTIVATIONS[activation]
    if params is None:
        model.graph.node.extend([helper.make_node("Sigmoid", ["C"], ["S"]), helper.make_node("Mul", ["C", "S"], ["Y"])])
    elif op == "Clip":
        bounds = [onnx.numpy_helper.from_array(np.float32(v), n) for v, n in zip(params, ["lo", "hi"])]
        model.graph.initializer.extend(bounds)
        model.graph.node.append(helper.make_node("Clip", ["C", "lo", "hi"], ["Y"]))
    else:
        model.graph.node.append(helper.make_node(op, ["C"], ["Y"]))
    assert_matches_onnxruntime(model.SerializeToString(), feeds)


@pytest.mark.parametrize(
    "shape",
    ["1x1-16-channels-49-pixels", "1x1-wide-7x7", "1x1-big-map-16-channels", "3x3-s2-depth-27", "1x1-map-se-expand"],
)
def test_dense_conv_on_two_threads_matches_onnxruntime(shape):
    """Two threads split the pixels or the channels of each algorithm."""
    data, feeds = conv_model(*DENSE[shape])
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    options = sc.SessionOptions()
    options.intra_op_num_threads = 2
    actual = sc.InferenceSession(data, options).run(None, feeds)[0]
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=scaled_atol(expected))
