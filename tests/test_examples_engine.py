"""The example models run on swiftconv's engine and match onnxruntime.

Their weights are larger than the reader's in-place threshold, so they are read in place
from the model file at arbitrary byte offsets: this exercises the engine's realignment
of misaligned weights with real Conv/Gemm kernels."""

from pathlib import Path

import numpy as np
import pytest

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", ["tiny_cnn.onnx", "mnist_mlp.onnx"])
@pytest.mark.parametrize("batch", [1, 5])
def test_example_matches_onnxruntime(name, batch):
    path = str(EXAMPLES / name)
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    sess = sc.InferenceSession(path)
    info = ref.get_inputs()[0]
    shape = [batch if not isinstance(d, int) else d for d in info.shape]
    x = np.random.default_rng(batch).standard_normal(shape).astype(np.float32)
    want = ref.run(None, {info.name: x})
    got = sess.run(None, {info.name: x})
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
