"""The AVX-512 GEMM tile, chosen with SWIFTCONV_AVX512=1, stays correct; and so does the AVX2
implicit convolution, which a CPU with AVX-512F replaces by its AVX-512 loop unless
SWIFTCONV_CONV_AVX512=0 (the two must agree bit for bit); and the same for the 12x16 AVX-512
GEMM pair tile over the AVX2 tile's packing, which SWIFTCONV_GEMM_AVX512=0 turns off.

The engine keeps the 6x16 AVX2 GEMM tile by default (the 8x32 AVX-512 one measured no faster
on the AMD Zen 4 it was written on; docs/PERF.md), so the rest of the suite never runs it.
Here a child process started with SWIFTCONV_AVX512=1 reruns the tests that go through the
GEMM (real models, convolution and fused-activation cases, the example models) against
onnxruntime, and the start-up choice is checked against the CPU's features.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from kernel_suites import run_kernel_suites

pytest.importorskip("onnxruntime")
TESTS = Path(__file__).resolve().parent
SWITCHES = (
    "SWIFTCONV_PORTABLE_KERNELS",
    "SWIFTCONV_AVX512",
    "SWIFTCONV_CONV_AVX512",
    "SWIFTCONV_DIRECT_CONV",
    "SWIFTCONV_GEMM_AVX512",
)


def cpu_flags():
    """The feature flags of the first CPU in /proc/cpuinfo (empty off Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def kernel_isa(**switches):
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    env.update(switches)
    probe = subprocess.run(
        [sys.executable, "-c", "import swiftconv; print(swiftconv._core.kernel_isa())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return probe.stdout.strip()


def test_kernel_table_follows_cpu_features():
    flags = cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo to read the CPU's features from")
    default = "avx2-fma" if {"avx2", "fma"} <= flags else "portable"
    assert kernel_isa() == default
    assert kernel_isa(SWIFTCONV_AVX512="1") == ("avx512f" if "avx512f" in flags and default != "portable" else default)
    assert kernel_isa(SWIFTCONV_AVX512="0") == default
    assert kernel_isa(SWIFTCONV_AVX512="1", SWIFTCONV_PORTABLE_KERNELS="1") == "portable"


def test_avx512_kernels_match_onnxruntime():
    if kernel_isa(SWIFTCONV_AVX512="1") != "avx512f":
        pytest.skip("this CPU has no AVX-512F")
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    env["SWIFTCONV_AVX512"] = "1"
    run_kernel_suites(env)


def test_avx2_convolution_matches_onnxruntime():
    """Where the default run takes the AVX-512 convolution, a child reruns the suites with the AVX2 one."""
    if "avx512f" not in cpu_flags() or kernel_isa() == "portable":
        pytest.skip("no AVX-512F: the default run already takes the AVX2 convolution")
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    env["SWIFTCONV_CONV_AVX512"] = "0"
    # Without the direct loop, so the AVX2 convolution also meets the stems' shapes.
    env["SWIFTCONV_DIRECT_CONV"] = "0"
    run_kernel_suites(env)


CONVOLUTIONS = """
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
import swiftconv as sc

out = {}
rng = np.random.default_rng(3)
# Output channels of 1, 2, 3 and 4 panels and a partial one; deep inputs whose panel pairs
# exceed the cache block; stride 2; a fused clamp.
for i, (cin, cout, hw, k, stride) in enumerate(
    [(3, 16, 23, 3, 2), (8, 17, 9, 3, 1), (5, 33, 11, 3, 1), (16, 48, 13, 3, 1), (64, 64, 7, 3, 1),
     (512, 40, 7, 3, 1), (3, 64, 45, 7, 2)]
):
    w = numpy_helper.from_array(rng.standard_normal((cout, cin, k, k)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[k // 2] * 4, strides=[stride] * 2),
             helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((1, cin, hw, hw)).astype(np.float32)
    for threads in (1, 2):
        options = sc.SessionOptions()
        options.intra_op_num_threads = threads
        out[f"{i}-{threads}"] = sc.InferenceSession(model.SerializeToString(), options).run(None, {"x": x})[0]
np.savez(sys.argv[1], **out)
"""


def test_avx512_convolution_is_bit_identical_to_avx2(tmp_path):
    """Both loops take the same multiply-adds in the same order, so their outputs are equal."""
    if "avx512f" not in cpu_flags() or kernel_isa() == "portable":
        pytest.skip("this CPU has no AVX-512F")
    results = []
    for switch in ("0", "1"):
        env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
        env["SWIFTCONV_CONV_AVX512"] = switch
        env["SWIFTCONV_DIRECT_CONV"] = "0"
        path = tmp_path / f"conv-{switch}.npz"
        subprocess.run([sys.executable, "-c", CONVOLUTIONS, str(path)], env=env, check=True, cwd=TESTS.parent)
        results.append(np.load(path))
    avx2, avx512 = results
    assert sorted(avx2.files) == sorted(avx512.files)
    for name in avx2.files:
        np.testing.assert_array_equal(avx512[name], avx2[name], err_msg=name)


def test_avx2_gemm_tile_matches_onnxruntime():
    """Where the default run takes the AVX-512 pair tile, a child reruns the suites with the AVX2 tile alone."""
    if "avx512f" not in cpu_flags() or kernel_isa() == "portable":
        pytest.skip("no AVX-512F: the default run already takes the AVX2 GEMM tile")
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    env["SWIFTCONV_GEMM_AVX512"] = "0"
    run_kernel_suites(env)


PRODUCTS = """
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
import swiftconv as sc

out = {}
rng = np.random.default_rng(5)


def run(name, nodes, inputs, initializers, feeds):
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    for threads in (1, 2):
        options = sc.SessionOptions()
        options.intra_op_num_threads = threads
        out[f"{name}-{threads}"] = sc.InferenceSession(model, options).run(None, feeds)[0]


# Rows of C (m) that leave 1..5 rows past whole 6-row panel pairs, every width of edge tile.
for m in (7, 11, 13, 25, 577):
    for n in (1, 15, 16, 17, 49, 196):
        for k in (1, 3, 96, 320):
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            f = helper.make_tensor_value_info
            run(f"matmul-{m}-{n}-{k}", [helper.make_node("MatMul", ["a", "b"], ["y"])],
                [f("a", TensorProto.FLOAT, [m, k]), f("b", TensorProto.FLOAT, [k, n])], [], {"a": a, "b": b})
            # A 1x1 convolution: m output channels over n pixels, depth k; bias and Relu fused.
            w = numpy_helper.from_array(rng.standard_normal((m, k, 1, 1)).astype(np.float32), "w")
            bias = numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "bias")
            x = rng.standard_normal((1, k, 1, n)).astype(np.float32)
            run(f"conv-{m}-{n}-{k}",
                [helper.make_node("Conv", ["x", "w", "bias"], ["c"]), helper.make_node("Relu", ["c"], ["y"])],
                [f("x", TensorProto.FLOAT, [1, k, 1, n])], [w, bias], {"x": x})
            if k in (3, 320):
                wg = numpy_helper.from_array(rng.standard_normal((n, k)).astype(np.float32), "wg")
                cg = numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "cg")
                run(f"gemm-{m}-{n}-{k}",
                    [helper.make_node("Gemm", ["a", "wg", "cg"], ["y"], transB=1, alpha=0.5, beta=2.0)],
                    [f("a", TensorProto.FLOAT, [m, k])], [wg, cg], {"a": a})
np.savez(sys.argv[1], **out)
"""


def test_avx512_gemm_pair_tile_is_bit_identical_to_avx2(tmp_path):
    """The pair tile takes each element's multiply-adds in the AVX2 tile's order: MatMul, Gemm
    and 1x1 convolution outputs are equal with and without it."""
    if "avx512f" not in cpu_flags() or kernel_isa() == "portable":
        pytest.skip("this CPU has no AVX-512F")
    results = []
    for switch in ("0", "1"):
        env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
        env["SWIFTCONV_GEMM_AVX512"] = switch
        path = tmp_path / f"gemm-{switch}.npz"
        subprocess.run([sys.executable, "-c", PRODUCTS, str(path)], env=env, check=True, cwd=TESTS.parent)
        results.append(np.load(path))
    avx2, avx512 = results
    assert sorted(avx2.files) == sorted(avx512.files)
    for name in avx2.files:
        np.testing.assert_array_equal(avx512[name], avx2[name], err_msg=name)
