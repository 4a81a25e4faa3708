"""The Keras acceptance models (`tests/fixtures/keras/model_*`, made by make_models.py there):
a small CNN, MobileNetV2 (alpha 0.35), the MNIST LSTM in Keras 3 and tf_keras, a bidirectional
GRU text model with a padding mask, and a Transformer encoder block.

Each is converted from its file and checked against the outputs Keras computed:
- to ONNX (sc.from_keras), in onnxruntime and sc.InferenceSession, within 1e-4;
- to float32 TFLite (sc.convert), in LiteRT and sc.Interpreter, within 1e-4, with the ops
  TFLiteConverter would use (counted by LiteRT, not by us): no TRANSPOSE in the CNNs, the
  fused UNIDIRECTIONAL_SEQUENCE_LSTM for the LSTMs;
- quantized ('dynamic', 'float16', 'int8' calibrated on the 32 samples of `<stem>_calib.npz`),
  in LiteRT and sc.Interpreter, by the cosine similarity of all outputs to Keras' outputs.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from keras_oracle import FIXTURES, check_onnx, check_tflite, fixtures, io, run_tflite

import swiftconv as sc

MODELS = fixtures("model_")
STEMS = [p.stem for p in MODELS]

# The bounds of ONNX -> TFLite quantization (issue 9): cosine similarity to the float model.
COSINE = {"dynamic": 0.999, "float16": 0.9999, "int8": 0.99}


def _path(stem):
    (path,) = [p for p in MODELS if p.stem == stem]
    return path


def calibration(path):
    """The 32 stored calibration samples as a list of one-sample input lists."""
    data = np.load(path.with_name(f"{path.stem}_calib.npz"))
    arrays = [data[f"input_{k}"] for k in range(len(data.files))]
    arrays = [a.astype(np.float32) if a.dtype == np.float16 else a for a in arrays]
    return [[a[i : i + 1] for a in arrays] for i in range(len(arrays[0]))]


def litert_ops(content: bytes) -> list[str]:
    """Op names of the main subgraph as LiteRT reads them (no delegate, so nothing is replaced)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_content=content, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    return [op["op_name"] for op in interp._get_ops_details()]


def cosine(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    a = np.concatenate([np.asarray(g, np.float64).ravel() for g in got])
    b = np.concatenate([np.asarray(w, np.float64).ravel() for w in want])
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_all_acceptance_models_are_there():
    assert STEMS == [
        "model_cnn",
        "model_lstm",
        "model_lstm_tf",
        "model_mobilenetv2",
        "model_text_bigru",
        "model_transformer",
    ]
    assert _path("model_lstm_tf").suffix == ".h5"
    for path in MODELS:
        assert len(calibration(path)) == 32


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_tflite_float32(path):
    check_tflite(path)


def _tflite(stem, mode):
    path = _path(stem)
    dataset = calibration(path) if mode == "int8" else None
    return sc.convert(str(path), "tflite", quantize=mode, representative_dataset=dataset).to_bytes()


@pytest.mark.parametrize("mode", [None, *COSINE])
@pytest.mark.parametrize("stem", ["model_cnn", "model_mobilenetv2"])
def test_cnn_tflite_is_nhwc_without_transpose(stem, mode):
    ops = litert_ops(_tflite(stem, mode))
    assert "TRANSPOSE" not in ops, ops
    assert "CONV_2D" in ops and "DEPTHWISE_CONV_2D" in ops, ops
    # TFLiteConverter's model of the same architecture has as many convolutions.
    theirs = litert_ops((FIXTURES.parent / "tflite" / f"{stem[len('model_') :]}_float32.tflite").read_bytes())
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        assert ops.count(op) == theirs.count(op), (op, ops.count(op), theirs.count(op))


@pytest.mark.parametrize("mode", [None, *COSINE])
@pytest.mark.parametrize("stem", ["model_lstm", "model_lstm_tf"])
def test_lstm_tflite_uses_the_fused_lstm(stem, mode):
    ops = litert_ops(_tflite(stem, mode))
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1, ops
    assert "WHILE" not in ops, ops


@pytest.mark.parametrize("mode", list(COSINE))
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_tflite_quantized(path, mode):
    inputs, want = io(path)
    dataset = calibration(path) if mode == "int8" else None
    model = sc.convert(str(path), "tflite", quantize=mode, representative_dataset=dataset)
    litert, ours = run_tflite(model.to_bytes(), inputs)
    assert cosine(litert, want) >= COSINE[mode], f"LiteRT: {cosine(litert, want)}"
    assert cosine(ours, want) >= COSINE[mode], f"sc.Interpreter: {cosine(ours, want)}"


def test_cli_converts_keras_to_tflite_and_verifies(tmp_path):
    """`swiftconv convert model.keras model.tflite --quantize dynamic --verify` (the reference is
    the ONNX model from_keras makes)."""
    src = _path("model_lstm")
    out = tmp_path / "lstm.tflite"
    args = [sys.executable, "-m", "swiftconv", "convert", str(src), str(out)]
    proc = subprocess.run(args + ["--quantize", "dynamic", "--verify"], capture_output=True, text=True, timeout=600)
    # The file is written; verify's default tolerance (1e-4) flags the quantization error (4e-4
    # here), and the CLI exits with 2 ("the models differ") after printing the comparison.
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cosine" in proc.stdout and "probs" in proc.stdout, proc.stdout
    inputs, want = io(src)
    litert, _ = run_tflite(out.read_bytes(), inputs)
    assert cosine(litert, want) >= COSINE["dynamic"]

    proc = subprocess.run(args + ["--verify"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    litert, ours = run_tflite(out.read_bytes(), inputs)
    np.testing.assert_allclose(litert[0], want[0], atol=1e-4)


def test_cli_converts_keras_to_onnx(tmp_path):
    src = _path("model_cnn")
    out = tmp_path / "cnn.onnx"
    args = [sys.executable, "-m", "swiftconv", "convert", str(src), str(out), "--verify"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_onnx(src, model=sc.load(str(out)))
