"""Identity and constant estimators: FunctionTransformer(func=None), DummyClassifier and
DummyRegressor (their deterministic strategies). They predict the same thing for every row,
so the graph broadcasts fitted constants to the input's row count."""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedOp
from . import Outputs, Scope, converter


def _rows(scope: Scope, x: str) -> str:
    """The input's row count as an int64 [1] tensor."""
    shape = scope.node("Shape", [x])
    return scope.node("Gather", [shape, scope.int64([0], "row_axis")], axis=0)


@converter("FunctionTransformer")
def convert_function_transformer(scope: Scope, est, x: str, columns):
    if est.func is not None:
        raise UnsupportedOp("[from_sklearn] FunctionTransformer with a func is not supported (only func=None)")
    return Outputs(value=scope.node("Identity", [x]), columns=columns)


@converter("DummyClassifier")
def convert_dummy_classifier(scope: Scope, est, x: str, columns):
    if getattr(est, "n_outputs_", 1) != 1:
        raise UnsupportedOp("[from_sklearn] DummyClassifier with several outputs is not supported")
    classes = np.asarray(est.classes_)
    prior = np.asarray(est.class_prior_, dtype=np.float64)
    if est.strategy in ("most_frequent", "prior"):
        index = int(np.argmax(prior))
        proba = prior if est.strategy == "prior" else np.eye(len(classes))[index]
    elif est.strategy == "constant":
        constant = np.asarray(est.constant).reshape(-1)[0]
        (matches,) = np.nonzero(classes == constant)
        index = int(matches[0])
        proba = np.eye(len(classes))[index]
    else:  # 'uniform' and 'stratified' predict at random
        raise UnsupportedOp(f"[from_sklearn] DummyClassifier(strategy={est.strategy!r}) predicts at random")
    rows = _rows(scope, x)
    shape = scope.node("Concat", [rows, scope.int64([len(classes)], "n_classes")], axis=0)
    probabilities = scope.node("Expand", [scope.constant(proba.reshape(1, -1), "class_prior"), shape])
    label_index = scope.node("Expand", [scope.int64([index], "label_index"), rows])
    return Outputs(label=scope.class_labels(label_index, classes), probabilities=probabilities)


@converter("DummyRegressor")
def convert_dummy_regressor(scope: Scope, est, x: str, columns):
    constant = np.asarray(est.constant_, dtype=np.float64).reshape(1, -1)
    rows = _rows(scope, x)
    shape = scope.node("Concat", [rows, scope.int64([constant.shape[1]], "n_targets")], axis=0)
    value = scope.node("Expand", [scope.constant(constant, "constant"), shape])
    return Outputs(value=value, columns=constant.shape[1])
