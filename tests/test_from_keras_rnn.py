"""Recurrent Keras layers (SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed) with Embedding,
Masking and masks: each fixture of tests/fixtures/keras/make_rnn.py converted from its file, run in
onnxruntime and our engine (check_onnx) and as TFLite in LiteRT and sc.Interpreter (check_tflite),
against the outputs Keras computed."""

import pytest
from keras_oracle import check_onnx, check_tflite, fixtures

FIXTURES = fixtures("rnn_")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_tflite(path):
    check_tflite(path)
