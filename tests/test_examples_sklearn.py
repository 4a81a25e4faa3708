"""examples/sklearn_to_onnx.py: a RandomForest on iris through sc.from_sklearn, checked in
sc.InferenceSession. It needs the RandomForestClassifier converter (the trees family)."""

import subprocess
import sys
from pathlib import Path

import pytest

import swiftconv.frontends.sklearn as sk

ROOT = Path(__file__).resolve().parents[1]

sk._load_converters()
needs_forest = pytest.mark.skipif(
    "RandomForestClassifier" not in sk._CONVERTERS,
    reason="needs the RandomForestClassifier converter (the trees branch)",
)


@needs_forest
@pytest.mark.parametrize("zipmap", [False, True])
def test_sklearn_example_runs(tmp_path, zipmap):
    args = [sys.executable, str(ROOT / "examples" / "sklearn_to_onnx.py"), "--out", str(tmp_path)]
    proc = subprocess.run(args + (["--zipmap"] if zipmap else []), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout
    assert (tmp_path / "iris_forest.onnx").exists()
