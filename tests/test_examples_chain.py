"""The classic chain of examples/torch_chain (issue 10, acceptance 5): a PyTorch model's ONNX
export, committed with what PyTorch computed, converted to TFLite with and without
quantization, checked with sc.Interpreter and LiteRT."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_torch_chain_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "torch_chain" / "run_chain.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout
    for label in ("float32", "dynamic", "float16", "int8"):
        assert (tmp_path / f"small_convnet_{label}.tflite").exists()
