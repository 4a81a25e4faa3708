"""GaussianNB, MultinomialNB and BernoulliNB: the joint log-likelihood of each class in standard
ops (MatMul, Add, ...) in the input's element type, then scikit-learn's predict_proba
normalization exp(jll - logsumexp(jll)); the label is the class of the largest jll."""

from __future__ import annotations

import numpy as np

from . import Outputs, converter
from ._reduce import back, in_double, normalize_log_scores, reduce

# Joint log-likelihoods reach 1e3..1e9 in magnitude (GaussianNB on near-constant features, where
# var_ ~ var_smoothing; long count vectors for the discrete models) while the probabilities depend
# on their differences: float32 loses 1e-4 there, so a float32 model computes in double inside.


def _classifier(scope, estimator, jll):
    proba = normalize_log_scores(scope, jll)
    return Outputs(label=scope.labels_from_scores(jll, estimator.classes_), probabilities=back(scope, proba))


@converter("GaussianNB")
def convert_gaussian_nb(scope, estimator, x, columns):
    scope, x = in_double(scope, x)
    theta = np.asarray(estimator.theta_, np.float64)  # [C, F]
    var = np.asarray(estimator.var_, np.float64)
    # jll[c] = log prior[c] - 0.5 * Σ log(2π var[c]) - 0.5 * Σ (x - θ[c])² / var[c]
    bias = np.log(estimator.class_prior_) - 0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1)
    diff = scope.node("Sub", [scope.node("Unsqueeze", [x, scope.int64([1], "axes")]), scope.constant(theta, "theta")])
    scaled = scope.node("Div", [scope.node("Mul", [diff, diff]), scope.constant(var, "var")])
    distance = reduce(scope, "ReduceSum", scaled, [2], keepdims=0)  # [N, C]
    jll = scope.node(
        "Sub", [scope.constant(bias, "log_prior"), scope.node("Mul", [distance, scope.constant(0.5, "half")])]
    )
    return _classifier(scope, estimator, jll)


@converter("MultinomialNB", "ComplementNB")
def convert_multinomial_nb(scope, estimator, x, columns):
    scope, x = in_double(scope, x)
    flp = np.asarray(estimator.feature_log_prob_, np.float64)
    jll = scope.node("MatMul", [x, scope.constant(flp.T, "feature_log_prob")])
    if type(estimator).__name__ == "MultinomialNB" or len(estimator.classes_) == 1:
        jll = scope.node("Add", [jll, scope.constant(estimator.class_log_prior_, "class_log_prior")])
    return _classifier(scope, estimator, jll)


@converter("BernoulliNB")
def convert_bernoulli_nb(scope, estimator, x, columns):
    flp = np.asarray(estimator.feature_log_prob_, np.float64)
    neg = np.log(1.0 - np.exp(flp))
    threshold = estimator.binarize
    if threshold is not None:
        # numpy compares X > threshold in X's type for a Python float threshold, in float64 for
        # a numpy float64 one: so does the graph.
        if (
            isinstance(threshold, np.generic)
            and np.asarray(threshold).dtype == np.float64
            and scope.dtype != np.float64
        ):
            x = scope.node("Cast", [x], to=11)
            bound = scope.builder.constant(np.asarray(threshold, np.float64), "binarize")
        else:
            bound = scope.constant(threshold, "binarize")
        x = scope.node("Cast", [scope.node("Greater", [x, bound])], to=1 if scope.dtype == np.float32 else 11)
    scope, x = in_double(scope, x)
    jll = scope.node("MatMul", [x, scope.constant((flp - neg).T, "feature_log_prob")])
    bias = np.asarray(estimator.class_log_prior_, np.float64) + neg.sum(axis=1)
    jll = scope.node("Add", [jll, scope.constant(bias, "class_log_prior")])
    return _classifier(scope, estimator, jll)
