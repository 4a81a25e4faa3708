"""The Keras config walker on whole models: Dense with each activation on 2-D and 3-D
inputs, Dropout, multi-input/multi-output functional models, Sequential models (with and
without an InputLayer), nested models used as layers and shared layers, from .keras and
legacy .h5 files (fixtures made by tests/fixtures/keras/make_core.py), against Keras'
outputs in onnxruntime, our engine, LiteRT and our TFLite interpreter."""

import pytest
from keras_oracle import check_onnx, check_tflite, fixtures

FIXTURES = fixtures("core_")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_tflite(path):
    check_tflite(path)
