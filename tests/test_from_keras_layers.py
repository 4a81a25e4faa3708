"""Keras normalization, activation, merging and preprocessing layers and Keras 3 operations
(`x + y`, keras.ops.*) converted by sc.from_keras, against the outputs Keras computed
(fixtures made by tests/fixtures/keras/make_{norm,act,merge,ops}.py), in onnxruntime and our
engine, and through sc.convert(..., 'tflite') in LiteRT and our interpreter."""

import numpy as np
import onnx
import pytest
from keras_oracle import check_onnx, check_tflite, fixtures, io

import swiftconv as sc

FIXTURES = fixtures("norm_") + fixtures("act_") + fixtures("merge_") + fixtures("ops_")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_tflite(path):
    check_tflite(path)


@pytest.mark.parametrize("stem", ["norm_ln_last", "norm_ln_two", "norm_ln_mid_tf"])
@pytest.mark.parametrize("opset", [13, 17, 18])
def test_layer_normalization_opsets(stem, opset):
    """Decomposed below opset 17 and for non-trailing axes, ONNX LayerNormalization else."""
    path = next(p for p in fixtures(stem) if p.stem == stem)
    model = sc.from_keras(str(path), opset=opset)
    check_onnx(path, model=model)
    ops = {n.op_type for n in onnx.load_from_string(model.to_bytes()).graph.node}
    # norm_ln_mid normalizes axis 1 of 3: not the trailing axes, so always decomposed.
    assert ("LayerNormalization" in ops) == (opset >= 17 and stem != "norm_ln_mid_tf")
