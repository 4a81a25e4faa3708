"""The portable Swift kernels, which run on CPUs without AVX2+FMA, stay correct.

On a machine with AVX2 the engine picks the AVX2 GEMM tile and depthwise kernels at
start-up, so the rest of the suite never runs the portable ones. Here a child process
started with SWIFTCONV_PORTABLE_KERNELS=1 reruns the tests that go through them (real
models, convolution and fused-activation cases, the example models) against onnxruntime,
and another reruns the whole ONNX backend suite (its known failures stay strict xfails).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_suites import run_kernel_suites

pytest.importorskip("onnxruntime")
TESTS = Path(__file__).resolve().parent


def test_portable_kernels_match_onnxruntime():
    env = dict(os.environ, SWIFTCONV_PORTABLE_KERNELS="1")
    probe = subprocess.run(
        [sys.executable, "-c", "import swiftconv; print(swiftconv._core.kernel_isa())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "portable"
    run_kernel_suites(env)


def test_portable_kernels_pass_the_backend_suite():
    env = dict(os.environ, SWIFTCONV_PORTABLE_KERNELS="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / "test_backend_engine.py")],
        env=env,
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
