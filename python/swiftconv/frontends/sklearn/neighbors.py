"""KNeighborsClassifier and KNeighborsRegressor (brute force, euclidean metric) as skl2onnx
builds them: squared distances to the training points ||x||² - 2 x·Yᵀ + ||Y||² (ReduceSum,
MatMul), TopK of the k smallest (ties: the lower training index first), Gather of their labels
or targets, then uniform or 1/distance weights.

The distances are computed in double even for a float32 model, as scikit-learn does (it upcasts
float32 chunks to float64): float32 would reorder neighbours at near-equal distances. On an
exact distance tie at the k-th place scikit-learn keeps whichever its heap kept, which may not be
the lower index; the labels then differ only if the tied points have different labels.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedOp
from . import Outputs, converter
from ._reduce import back, in_double, reduce


def _check(estimator):
    metric, p = estimator.effective_metric_, estimator.effective_metric_params_.get("p", getattr(estimator, "p", 2))
    if not (metric == "euclidean" or (metric == "minkowski" and p == 2)):
        raise UnsupportedOp(
            f"[from_sklearn] {type(estimator).__name__} with metric '{metric}' (p={p}) is not supported"
        )
    if estimator.weights not in ("uniform", "distance"):
        raise UnsupportedOp(f"[from_sklearn] {type(estimator).__name__} with callable weights is not supported")


def _neighbours(scope, estimator, x):
    """(squared distances [N, k] ascending, training indices [N, k]) in a double scope."""
    fit_x = np.asarray(estimator._fit_X, np.float64)
    k = int(estimator.n_neighbors)
    if k > len(fit_x):
        raise UnsupportedOp(f"[from_sklearn] n_neighbors={k} exceeds the {len(fit_x)} training points")
    x_norms = reduce(scope, "ReduceSum", scope.node("Mul", [x, x]), [1], keepdims=1)  # [N, 1]
    cross = scope.node("MatMul", [x, scope.constant(-2.0 * fit_x.T, "fit_x_t")])  # [N, M]
    squared = scope.node(
        "Add", [scope.node("Add", [cross, x_norms]), scope.constant((fit_x * fit_x).sum(axis=1), "fit_x_norms")]
    )
    squared = scope.node("Max", [squared, scope.constant(0.0, "zero")])
    return scope.node("TopK", [squared, scope.int64([k], "k")], 2, axis=1, largest=0, sorted=1)


def _weights(scope, estimator, squared):
    """None for uniform weights, else 1/distance [N, k] with scikit-learn's rule: a row with
    zero distances weighs those neighbours 1 and the others 0."""
    if estimator.weights == "uniform":
        return None
    dist = scope.node("Sqrt", [squared])
    zero = scope.node("Cast", [scope.node("Equal", [dist, scope.constant(0.0, "zero")])], to=11)
    any_zero = scope.node("Cast", [reduce(scope, "ReduceMax", zero, [1], keepdims=1)], to=9)
    inverse = scope.node("Div", [scope.constant(1.0, "one"), scope.node("Max", [dist, scope.constant(1e-300, "tiny")])])
    return scope.node("Where", [scope.node("Expand", [any_zero, scope.node("Shape", [dist])]), zero, inverse])


@converter("KNeighborsClassifier")
def convert_kneighbors_classifier(scope, estimator, x, columns):
    _check(estimator)
    if getattr(estimator, "outputs_2d_", False):
        raise UnsupportedOp("[from_sklearn] a multi-output KNeighborsClassifier is not supported")
    scope, x = in_double(scope, x)
    classes = np.asarray(estimator.classes_)
    squared, index = _neighbours(scope, estimator, x)
    labels = scope.node("Gather", [scope.int64(np.asarray(estimator._y).astype(np.int64), "fit_y"), index], axis=0)
    # [N, k, C]: 1 where the neighbour has class c (OneHot has no double kernel in onnxruntime).
    same = scope.node(
        "Equal",
        [
            scope.node("Unsqueeze", [labels, scope.int64([2], "axes")]),
            scope.int64(np.arange(len(classes)), "class_index"),
        ],
    )
    onehot = scope.node("Cast", [same], to=11)
    weights = _weights(scope, estimator, squared)
    if weights is not None:
        onehot = scope.node("Mul", [onehot, scope.node("Unsqueeze", [weights, scope.int64([2], "axes")])])
    votes = reduce(scope, "ReduceSum", onehot, [1], keepdims=0)  # [N, C]
    proba = scope.node("Div", [votes, reduce(scope, "ReduceSum", votes, [1], keepdims=1)])
    return Outputs(label=scope.labels_from_scores(proba, classes), probabilities=back(scope, proba))


@converter("KNeighborsRegressor")
def convert_kneighbors_regressor(scope, estimator, x, columns):
    _check(estimator)
    scope, x = in_double(scope, x)
    fit_y = np.asarray(estimator._y, np.float64)
    targets = 1 if fit_y.ndim == 1 else fit_y.shape[1]
    squared, index = _neighbours(scope, estimator, x)
    values = scope.node(
        "Gather", [scope.constant(fit_y.reshape(len(fit_y), targets), "fit_y"), index], axis=0
    )  # [N, k, T]
    weights = _weights(scope, estimator, squared)
    if weights is None:
        pred = reduce(scope, "ReduceMean", values, [1], keepdims=0)
    else:
        total = reduce(
            scope,
            "ReduceSum",
            scope.node("Mul", [values, scope.node("Unsqueeze", [weights, scope.int64([2], "axes")])]),
            [1],
            keepdims=0,
        )
        pred = scope.node("Div", [total, reduce(scope, "ReduceSum", weights, [1], keepdims=1)])
    return Outputs(value=back(scope, pred), columns=targets)
