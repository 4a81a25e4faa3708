"""MLPClassifier and MLPRegressor: MatMul + Add per layer with the hidden activation (relu, tanh,
logistic, identity) and the output activation scikit-learn picked when fitting
(`out_activation_`: logistic for a binary or multilabel classifier, softmax for multiclass,
identity for a regressor), in the input's element type."""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedOp
from . import Outputs, converter

_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid"}


def _activation(scope, name, value):
    if name == "identity":
        return value
    if name == "softmax":
        return scope.node("Softmax", [value], axis=1)
    op = _ACTIVATIONS.get(name)
    if op is None:
        raise UnsupportedOp(f"[from_sklearn] MLP activation '{name}' is not supported")
    return scope.node(op, [value])


def _forward(scope, estimator, x):
    value = x
    layers = len(estimator.coefs_)
    for i, (coef, bias) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        value = scope.node("MatMul", [value, scope.constant(np.asarray(coef, np.float64), f"coefficient{i}")])
        value = scope.node("Add", [value, scope.constant(np.asarray(bias, np.float64), f"intercepts{i}")])
        last = i == layers - 1
        value = _activation(scope, estimator.out_activation_ if last else estimator.activation, value)
    return value


@converter("MLPRegressor")
def convert_mlp_regressor(scope, estimator, x, columns):
    return Outputs(value=_forward(scope, estimator, x), columns=int(estimator.n_outputs_))


@converter("MLPClassifier")
def convert_mlp_classifier(scope, estimator, x, columns):
    classes = np.asarray(estimator.classes_)
    if getattr(getattr(estimator, "_label_binarizer", None), "y_type_", "") == "multilabel-indicator":
        raise UnsupportedOp("[from_sklearn] a multilabel MLPClassifier is not supported")
    out = _forward(scope, estimator, x)
    if estimator.out_activation_ == "logistic":
        # Binary: one probability p of classes_[1]; sklearn's label is p > 0.5, the columns [1 - p, p].
        proba = scope.node("Concat", [scope.node("Sub", [scope.constant(1.0, "one"), out]), out], axis=1)
        above = scope.node("Greater", [out, scope.constant(0.5, "threshold")])
        index = scope.node("Cast", [scope.node("Squeeze", [above, scope.int64([1], "axes")])], to=7)
        return Outputs(label=scope.class_labels(index, classes), probabilities=proba)
    return Outputs(label=scope.labels_from_scores(out, classes), probabilities=out)
