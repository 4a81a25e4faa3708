"""Attention layers (MultiHeadAttention, Attention, AdditiveAttention) from Keras 3 .keras and
tf_keras .h5 files, against the outputs Keras computed: the ONNX model in onnxruntime and our
engine, the TFLite model in LiteRT and sc.Interpreter."""

import pytest
from keras_oracle import check_onnx, check_tflite, fixtures

FIXTURES = fixtures("attn_")


def test_fixtures_exist():
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_tflite(path):
    check_tflite(path)
