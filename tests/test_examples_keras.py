"""examples/keras_to_onnx.py and examples/keras_to_tflite.py: a small Keras CNN file through
sc.from_keras / sc.convert, checked against the Keras outputs stored next to it."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script, written",
    [
        ("keras_to_onnx.py", ["digits_cnn.onnx"]),
        ("keras_to_tflite.py", ["digits_cnn_float32.tflite", "digits_cnn_dynamic.tflite"]),
    ],
)
def test_keras_example_runs(tmp_path, script, written):
    args = [sys.executable, str(ROOT / "examples" / script), "--out", str(tmp_path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout
    for name in written:
        assert (tmp_path / name).stat().st_size > 0
