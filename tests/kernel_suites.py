"""Reruns the tests that go through the GEMM tile, convolution, pooling, recurrent and transcendental
kernels (real models, example models, convolution (the direct loop's cases too), pooling and
fused-activation cases, GRU and LSTM, Sigmoid/Tanh/Erf/Gelu/Softmax cases) in a child process with
the given environment, so that a kernel path the start-up choice skips here is checked against
onnxruntime too (tests/test_portable_kernels.py, tests/test_avx512_kernels.py)."""

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def run_kernel_suites(env: dict) -> None:
    """Asserts that those tests pass in a child started with `env`, none of them skipped."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(TESTS / "test_real_models.py"),
            str(TESTS / "test_examples_engine.py"),
            str(TESTS / "test_rare_ops.py"),
            str(TESTS / "test_conv_kernels.py"),
            str(TESTS / "test_pool_kernels.py"),
            str(TESTS / "test_conv_fusion.py"),
            str(TESTS / "test_recurrent.py"),
            str(TESTS / "test_vectorized_activations.py"),
            str(TESTS / "test_direct_conv.py"),
            "-k",
            "(real_model or example or conv or pool or gru or lstm or sigmoid or erf or gelu or softmax)"
            " and not without_direct_loop and not bit_identical",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]
