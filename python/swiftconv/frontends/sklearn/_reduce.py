"""Reductions and a log-softmax shared by the SVM, neighbours, naive Bayes and MLP converters.

ReduceSum takes its axes as an input from opset 13, the other reductions from opset 18;
these helpers pick the form the scope's target opset wants.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def reduce(scope, op_type: str, x: str, axes, keepdims: int = 1) -> str:
    """op_type (ReduceSum, ReduceMax, ...) of `x` over `axes`."""
    axes = [int(a) for a in axes]
    if op_type == "ReduceSum" or scope.target_opset >= 18:
        return scope.node(op_type, [x, scope.int64(axes, "axes")], keepdims=keepdims)
    return scope.node(op_type, [x], axes=axes, keepdims=keepdims)


def normalize_log_scores(scope, jll: str) -> str:
    """exp(jll - logsumexp(jll, axis=1)): the probabilities of joint log-likelihood rows, as
    scikit-learn's predict_proba of a naive Bayes model (the row maximum subtracted first)."""
    top = reduce(scope, "ReduceMax", jll, [1])
    shifted = scope.node("Sub", [jll, top])
    total = reduce(scope, "ReduceSum", scope.node("Exp", [shifted]), [1])
    return scope.node("Exp", [scope.node("Sub", [shifted, scope.node("Log", [total])])])


def in_double(scope, x):
    """(a float64 scope, x cast to float64) for a float32 scope, else (scope, x): for converters
    whose float32 arithmetic would move the result by more than 1e-5 (large cancelling terms)
    while onnxruntime and swiftconv both compute double. `back(scope, value)` casts a result to
    the caller's type again."""
    if scope.dtype == np.float64:
        return scope, x
    double = dataclasses.replace(scope, dtype=np.float64, options={**scope.options, "cast_back": True})
    return double, scope.node("Cast", [x], to=11)


def back(scope, value):
    """`value` in the element type of the scope `in_double` was given."""
    return scope.node("Cast", [value], to=1) if scope.options.get("cast_back") else value
