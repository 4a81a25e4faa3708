"""Linear models: LogisticRegression, LinearSVC, SGDClassifier and the linear regressors.

As skl2onnx: with float32 input a classifier is one ai.onnx.ml LinearClassifier (the binary
case as two rows, -w and w) and a regressor one LinearRegressor; with float64 input, which
those ops cannot keep, MatMul + Add in double. SGDClassifier is MatMul + Add in both types.

Output meaning (skl2onnx's): 'output_probability' is predict_proba when the estimator has
one, otherwise the decision scores — [N, C] for C > 2 classes; for two classes
[-s, s] (SGDClassifier hinge, Perceptron) or the positive column s as [N, 1] (LinearSVC,
RidgeClassifier).
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedOp
from . import Outputs, Scope, converter


def _coef(estimator):
    """coef_ as [K, F] float64 and intercept_ as [K]."""
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    intercept = np.asarray(getattr(estimator, "intercept_", 0.0), dtype=np.float64).reshape(-1)
    if intercept.size == 1 and coef.shape[0] > 1:
        intercept = np.full(coef.shape[0], intercept[0])
    if intercept.size != coef.shape[0]:
        raise UnsupportedOp(f"[from_sklearn] {type(estimator).__name__}: intercept_ and coef_ do not match")
    return coef, intercept


def _scores(scope: Scope, x: str, coef, intercept) -> str:
    """x @ coef.T + intercept in the scope's type: [N, K]."""
    product = scope.node("MatMul", [x, scope.constant(coef.T, "coef")])
    return scope.node("Add", [product, scope.constant(intercept, "intercept")])


def _class_label_attrs(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return {"classlabels_ints": [int(c) for c in classes]}
    if classes.dtype.kind in "US" or classes.dtype == object:
        return {"classlabels_strings": [str(c) for c in classes]}
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        return {"classlabels_ints": [int(c) for c in classes]}
    raise UnsupportedOp(f"[from_sklearn] class labels of dtype {classes.dtype} are not supported")


def _class_values(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        return classes.astype(np.int64)
    return classes


def _labels(scope: Scope, index: str, classes) -> str:
    """classes[index]; string classes through an ai.onnx.ml LabelEncoder (its string table is
    an attribute: the library's tensors hold no strings)."""
    classes = _class_values(classes)
    if classes.dtype.kind in "US" or classes.dtype == object:
        return scope.node(
            "LabelEncoder",
            [index],
            domain="ai.onnx.ml",
            keys_int64s=list(range(len(classes))),
            values_strings=[str(c) for c in classes],
            default_string="",
        )
    return scope.class_labels(index, classes)


def _binary_rows(coef, intercept):
    """The binary model s = x.w + b as two score rows [-s, s]."""
    return np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])


def _linear_classifier(scope: Scope, estimator, x: str, post: str, ovr_normalize: bool, scores_only: bool):
    """skl2onnx's LinearClassifier (float) or MatMul graph (double) for LogisticRegression/LinearSVC."""
    classes = estimator.classes_
    coef, intercept = _coef(estimator)
    binary = len(classes) == 2
    if binary:
        coef, intercept = _binary_rows(coef, intercept)
    if scope.dtype == np.float32:
        label, scores = scope.node(
            "LinearClassifier",
            [x],
            2,
            domain="ai.onnx.ml",
            coefficients=coef.astype(np.float32).ravel().tolist(),
            intercepts=intercept.astype(np.float32).tolist(),
            multi_class=0,
            post_transform=post,
            **_class_label_attrs(classes),
        )
        if ovr_normalize:
            scores = scope.node("Normalizer", [scores], domain="ai.onnx.ml", norm="L1")
    else:
        raw = _scores(scope, x, coef, intercept)
        label = _labels(scope, scope.node("ArgMax", [raw], axis=1, keepdims=0), classes)
        if post == "LOGISTIC":
            if ovr_normalize:
                scores = _l1_normalize_rows(scope, _expit(scope, raw))
            else:
                scores = scope.node("Sigmoid", [raw])
        elif post == "SOFTMAX":
            scores = scope.node("Softmax", [raw], axis=1)
        else:
            scores = raw
    if scores_only and binary:
        # skl2onnx keeps the positive class's score: [N, 1].
        if scope.dtype == np.float32:
            scores = scope.node("ArrayFeatureExtractor", [scores, scope.int64(1, "positive")], domain="ai.onnx.ml")
        else:
            scores = scope.node("Slice", [scores, scope.int64([1]), scope.int64([2]), scope.int64([1])])
    return Outputs(label=label, probabilities=scores)


def _expit(scope: Scope, values: str) -> str:
    """1 / (1 + exp(-v)) as skl2onnx writes it for the one-vs-rest rows: relatively exact far
    in the negative tail, where a row's probabilities may all be tiny before normalization."""
    exp = scope.node("Exp", [scope.node("Neg", [values])])
    return scope.node("Reciprocal", [scope.node("Add", [exp, scope.constant(1.0, "one")])])


def _l1_normalize_rows(scope: Scope, values: str) -> str:
    total = scope.node("ReduceSum", [values, scope.int64([1], "axis")], keepdims=1)
    return scope.node("Div", [values, total])


@converter("LogisticRegression")
def convert_logistic_regression(scope: Scope, estimator, x: str, columns):
    n_classes = len(estimator.classes_)
    multi_class = getattr(estimator, "multi_class", "auto")
    ovr = n_classes > 2 and (multi_class == "ovr" or estimator.solver == "liblinear")
    # Before 1.8, multi_class='multinomial' on two classes meant softmax([-s, s]).
    binary_softmax = n_classes == 2 and multi_class == "multinomial"
    post = "LOGISTIC" if (n_classes == 2 and not binary_softmax) or ovr else "SOFTMAX"
    return _linear_classifier(scope, estimator, x, post, ovr_normalize=ovr, scores_only=False)


@converter("LinearSVC", "RidgeClassifier", "RidgeClassifierCV")
def convert_linear_svc(scope: Scope, estimator, x: str, columns):
    return _linear_classifier(scope, estimator, x, "NONE", ovr_normalize=False, scores_only=True)


@converter("SGDClassifier", "Perceptron", "PassiveAggressiveClassifier")
def convert_sgd_classifier(scope: Scope, estimator, x: str, columns):
    classes = _class_values(estimator.classes_)
    coef, intercept = _coef(estimator)
    scores = _scores(scope, x, coef, intercept)  # [N, 1] for two classes, else [N, C]
    binary = len(classes) == 2
    if binary:
        both = scope.node("Concat", [scope.node("Neg", [scores]), scores], axis=1)
        label = _labels(scope, scope.node("ArgMax", [both], axis=1, keepdims=0), classes)
    else:
        label = _labels(scope, scope.node("ArgMax", [scores], axis=1, keepdims=0), classes)
    loss = estimator.loss
    probabilistic = loss in ("log", "log_loss", "modified_huber")
    one = scope.constant(np.ones((1, 1)), "one") if probabilistic else None
    if loss in ("log", "log_loss"):
        if binary:
            proba = scope.node("Sigmoid", [scores])
            proba = scope.node("Concat", [scope.node("Sub", [one, proba]), proba], axis=1)
        else:
            proba = _l1_normalize_rows(scope, _expit(scope, scores))
    elif loss == "modified_huber":
        clipped = scope.node("Clip", [scores, scope.constant(-1.0, "minus_one"), scope.constant(1.0, "plus_one")])
        proba = scope.node("Div", [scope.node("Add", [clipped, one]), scope.constant(2.0, "two")])
        if binary:
            proba = scope.node("Concat", [scope.node("Sub", [one, proba]), proba], axis=1)
        else:
            # sklearn: a row whose probabilities are all zero becomes uniform.
            total = scope.node("ReduceSum", [proba, scope.int64([1], "axis")], keepdims=1)
            zero_row = scope.node("Equal", [total, scope.constant(0.0, "zero")])
            proba = scope.node("Where", [zero_row, one, proba])
            total = scope.node("Where", [zero_row, scope.constant(float(len(classes)), "n_classes"), total])
            proba = scope.node("Div", [proba, total])
    else:
        proba = both if binary else scores
    return Outputs(label=label, probabilities=proba)


@converter(
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "SGDRegressor",
    "LinearSVR",
    "LassoLars",
    "Lars",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
    "TheilSenRegressor",
    "OrthogonalMatchingPursuit",
)
def convert_linear_regressor(scope: Scope, estimator, x: str, columns):
    coef, intercept = _coef(estimator)
    targets = coef.shape[0]
    if scope.dtype == np.float32:
        value = scope.node(
            "LinearRegressor",
            [x],
            domain="ai.onnx.ml",
            coefficients=coef.astype(np.float32).ravel().tolist(),
            intercepts=intercept.astype(np.float32).tolist(),
            targets=targets,
        )
    else:
        value = _scores(scope, x, coef, intercept)
    return Outputs(value=value, columns=targets)
