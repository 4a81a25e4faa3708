"""Convolutions of few channels (a CNN's stem) against onnxruntime. Where the CPU has AVX-512F
they take the direct loop (SwiftConvKernels/DirectConv.swift, output pixels across the lanes,
rows split by column phase at stride 2) when the output rows have 16 pixels or more: every
stem input channel count, output channel counts around its blocks of 8, up to 32 channels in
and out beyond the stems, kernels 1x1 to 7x7 at stride 1 and 2, explicit,
asymmetric and automatic pads, maps from 1x1 to 225x225 with widths around its 16-pixel
vectors, batches, bias, fused Relu/Clip/HardSwish and two threads. A child reruns the file with
SWIFTCONV_DIRECT_CONV=0, so the path it replaces stays checked too; tests/kernel_suites.py
reruns it with the portable kernels and the AVX2 convolution."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc

pytest.importorskip("onnxruntime")


def conv_model(x_shape, w_shape, attrs, with_bias=True, activation=None, seed=0):
    """A Conv (optionally followed by Relu, Clip or HardSwish, which the session fuses) and its feeds."""
    rng = np.random.default_rng(seed + sum(x_shape) + sum(w_shape))
    w = (rng.standard_normal(w_shape) * 0.3).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(w, "W")]
    inputs = ["X", "W"]
    if with_bias:
        inits.append(onnx.numpy_helper.from_array(rng.standard_normal(w_shape[0]).astype(np.float32), "B"))
        inputs.append("B")
    nodes = [helper.make_node("Conv", inputs, ["C" if activation else "Y"], **attrs)]
    if activation == "Clip":
        inits += [
            onnx.numpy_helper.from_array(np.float32(-0.5), "lo"),
            onnx.numpy_helper.from_array(np.float32(0.75), "hi"),
        ]
        nodes.append(helper.make_node("Clip", ["C", "lo", "hi"], ["Y"]))
    elif activation:
        nodes.append(helper.make_node(activation, ["C"], ["Y"]))
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = rng.standard_normal(x_shape).astype(np.float32)
    return model.SerializeToString(), {"X": x}


def assert_matches_onnxruntime(data, feeds, threads=1):
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    options = sc.SessionOptions()
    options.intra_op_num_threads = threads
    actual = sc.InferenceSession(data, options).run(None, feeds)[0]
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cout", [1, 5, 16, 17, 32, 64])
@pytest.mark.parametrize("cin", [1, 2, 3, 4])
def test_channel_counts(cin, cout):
    """Blocks of 8 output channels: a part block, whole blocks, one past; 1 to 4 input planes."""
    assert_matches_onnxruntime(
        *conv_model((1, cin, 19, 35), (cout, cin, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]})
    )


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
@pytest.mark.parametrize(
    "pads",
    ["none", "half", "three", "asymmetric", "SAME_UPPER", "SAME_LOWER", "VALID"],
)
def test_kernels_strides_and_pads(kernel, stride, pads):
    attrs = {"strides": [stride, stride]}
    if pads == "half":
        attrs["pads"] = [kernel // 2] * 4
    elif pads == "three":
        attrs["pads"] = [min(3, kernel - 1)] * 4 if kernel > 1 else [0] * 4
    elif pads == "asymmetric":
        attrs["pads"] = [0, min(2, kernel - 1), min(1, kernel - 1), 0]
    elif pads != "none":
        attrs["auto_pad"] = pads
    assert_matches_onnxruntime(*conv_model((1, 3, 23, 33), (17, 3, kernel, kernel), attrs))


# (height, width): one pixel, widths around a 16-pixel vector and three-vector blocks, the stems' sizes.
MAPS = [
    (1, 1),
    (2, 7),
    (7, 7),
    (9, 15),
    (16, 16),
    (5, 17),
    (11, 33),
    (6, 49),
    (3, 97),
    (113, 113),
    (225, 225),
    (224, 224),
]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", MAPS, ids=[f"{h}x{w}" for h, w in MAPS])
def test_map_sizes(size, stride):
    h, w = size
    attrs = {"pads": [1, 1, 1, 1], "strides": [stride, stride]}
    assert_matches_onnxruntime(*conv_model((1, 3, h, w), (16, 3, 3, 3), attrs))


@pytest.mark.parametrize(
    "case",
    [
        ("3x3-s2-to-64", (1, 3, 224, 224), (64, 3, 3, 3), {"strides": [2, 2]}),
        ("3x3-s2-to-32-padded", (1, 3, 224, 224), (32, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
        ("7x7-s2-to-64", (1, 3, 224, 224), (64, 3, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
        ("5x5-s1-batch", (3, 2, 31, 29), (9, 2, 5, 5), {"pads": [2, 2, 2, 2]}),
        ("3x3-s2-batch", (3, 4, 40, 18), (33, 4, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
        ("s1x2", (1, 3, 21, 37), (10, 3, 3, 5), {"pads": [1, 2, 1, 2], "strides": [1, 2]}),
        ("s2x1", (2, 3, 21, 37), (10, 3, 5, 3), {"pads": [2, 1, 2, 1], "strides": [2, 1]}),
        ("2x7-non-square", (1, 2, 12, 40), (12, 2, 2, 7), {"pads": [0, 3, 1, 3]}),
        ("1x1-s1-no-pad", (2, 3, 13, 17), (20, 3, 1, 1), {}),
    ],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
def test_stem_and_batch_shapes(case, with_bias):
    _, x_shape, w_shape, attrs = case
    assert_matches_onnxruntime(*conv_model(x_shape, w_shape, attrs, with_bias=with_bias))


@pytest.mark.parametrize(
    "case",
    [
        ("8-to-32", (1, 8, 40, 37), (32, 8, 3, 3), {"pads": [1, 1, 1, 1]}),
        ("16-to-16-s2", (2, 16, 41, 66), (16, 16, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
        ("32-to-17", (1, 32, 20, 48), (17, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
        ("24-to-24-5x5", (1, 24, 19, 33), (24, 24, 5, 5), {"pads": [2, 2, 2, 2]}),
        ("32-to-16-1x1", (1, 32, 18, 18), (16, 32, 1, 1), {}),
        ("5-to-9-7x7-s2", (1, 5, 40, 45), (9, 5, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
        # Not routed: more than 32 in or out channels past the stems, rows under 16 outputs.
        ("33-to-16", (1, 33, 20, 20), (16, 33, 3, 3), {"pads": [1, 1, 1, 1]}),
        ("16-to-64", (1, 16, 20, 20), (64, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
        ("16-to-16-narrow", (1, 16, 20, 15), (16, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    ],
    ids=lambda c: c[0],
)
def test_beyond_stems(case):
    """Up to 32 input and output channels, where the direct loop also measured faster."""
    _, x_shape, w_shape, attrs = case
    assert_matches_onnxruntime(*conv_model(x_shape, w_shape, attrs), threads=1)
    assert_matches_onnxruntime(*conv_model(x_shape, w_shape, attrs, activation="HardSwish"), threads=2)


@pytest.mark.parametrize("activation", ["Relu", "Clip", "HardSwish"])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_activations(activation, threads):
    """Relu and Clip clamp as rows are stored; HardSwish follows each finished row."""
    data, feeds = conv_model(
        (2, 3, 37, 45), (20, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}, activation=activation
    )
    assert_matches_onnxruntime(data, feeds, threads=threads)


@pytest.mark.parametrize(
    "case",
    [
        ((3, 3, 64, 50), (17, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
        ((1, 1, 33, 33), (64, 1, 7, 7), {"pads": [3, 3, 3, 3]}),
        ((1, 4, 5, 3), (5, 4, 3, 3), {"pads": [1, 1, 1, 1]}),
    ],
    ids=["batch-s2", "7x7-s1", "tiny"],
)
def test_two_threads(case):
    assert_matches_onnxruntime(*conv_model(*case), threads=2)


def test_keeps_nan_and_infinity():
    data, feeds = conv_model(
        (1, 3, 30, 40), (16, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}, activation="Relu"
    )
    feeds["X"][0, 1, 5, 7] = np.nan
    feeds["X"][0, 2, 20, 33] = np.inf
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    actual = sc.InferenceSession(data).run(None, feeds)[0]
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-5, atol=1e-5)


def test_without_direct_loop_matches_onnxruntime():
    """A child with SWIFTCONV_DIRECT_CONV=0 reruns this file through the implicit GEMM."""
    if os.environ.get("SWIFTCONV_DIRECT_CONV") == "0":
        pytest.skip("already the child")
    env = dict(os.environ, SWIFTCONV_DIRECT_CONV="0")
    tests = Path(__file__).resolve().parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(Path(__file__)),
            "-k",
            "not without_direct and not bit_identical",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tests.parent,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]


BIT_IDENTITY = """
import sys
sys.path.insert(0, "tests")
import numpy as np
import swiftconv as sc
from test_direct_conv import conv_model

out = {}
cases = [((1, 3, 64, 70), (32, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
         ((2, 3, 50, 45), (64, 3, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
         ((1, 16, 20, 40), (17, 16, 3, 3), {"pads": [1, 1, 1, 1]})]
for i, case in enumerate(cases):
    data, feeds = conv_model(*case, activation="Relu")
    out[str(i)] = sc.InferenceSession(data).run(None, feeds)[0]
np.savez(sys.argv[1], **out)
"""


def test_direct_loop_is_bit_identical_to_implicit_gemm(tmp_path):
    """Both sum each output over input channels then taps, one multiply-add a step from zero, then
    add the bias: the same floats, so switching paths never changes a model's outputs."""
    if os.environ.get("SWIFTCONV_PORTABLE_KERNELS", "0") != "0" or "avx512f" not in Path("/proc/cpuinfo").read_text():
        pytest.skip("no direct loop without AVX-512F")
    results = []
    for switch in ("0", "1"):
        path = tmp_path / f"direct-{switch}.npz"
        env = dict(os.environ, SWIFTCONV_DIRECT_CONV=switch)
        subprocess.run(
            [sys.executable, "-c", BIT_IDENTITY, str(path)], env=env, check=True, cwd=Path(__file__).parent.parent
        )
        results.append(np.load(path))
    implicit, direct = results
    for name in implicit.files:
        np.testing.assert_array_equal(direct[name], implicit[name], err_msg=name)
