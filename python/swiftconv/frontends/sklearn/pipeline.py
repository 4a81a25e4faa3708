"""Composition: Pipeline, ColumnTransformer and FeatureUnion, built from their steps' converters
(`convert_estimator`). Columns of the tensor input are chosen by index, slice or boolean mask
(a tensor has no column names) and the parts joined with Concat, in scikit-learn's order."""

from __future__ import annotations

import numbers

import numpy as np

from ...errors import InvalidArgument, UnsupportedOp
from . import Outputs, Scope, convert_estimator, converter


def _skipped(step) -> bool:
    return step is None or (isinstance(step, str) and step == "drop")


def _passthrough(step) -> bool:
    return isinstance(step, str) and step == "passthrough"


@converter("Pipeline")
def convert_pipeline(scope: Scope, est, x: str, columns):
    steps = [step for _, step in est.steps]
    for step in steps[:-1]:
        if _skipped(step) or _passthrough(step):
            continue
        out = convert_estimator(scope, step, x, columns)
        if out.value is None:
            raise UnsupportedOp(
                f"[from_sklearn] Pipeline: the intermediate step {type(step).__name__} is not a transformer"
            )
        x, columns = out.value, out.columns
    last = steps[-1]
    if _skipped(last) or _passthrough(last):
        return Outputs(value=scope.node("Identity", [x]), columns=columns)
    return convert_estimator(scope, last, x, columns)


def _indices(spec, columns, owner):
    """The column indices `spec` (int, list of int, slice, boolean mask) selects among `columns`."""
    if callable(spec):
        raise UnsupportedOp(f"[from_sklearn] {owner}: callable column selections are not supported")
    if isinstance(spec, str) or (
        isinstance(spec, (list, tuple, np.ndarray)) and any(isinstance(c, str) for c in np.ravel(np.asarray(spec)))
    ):
        raise UnsupportedOp(f"[from_sklearn] {owner}: columns chosen by name ({spec!r}) need a DataFrame input")
    if columns is None:
        raise InvalidArgument(f"[from_sklearn] {owner}: the input's number of columns must be known")
    every = np.arange(columns)
    if isinstance(spec, slice):
        return every[spec]
    if isinstance(spec, numbers.Integral):
        return every[[int(spec)]]
    array = np.asarray(spec)
    if array.dtype == bool:
        if array.shape != (columns,):
            raise InvalidArgument(f"[from_sklearn] {owner}: a boolean mask of {array.shape} for {columns} columns")
        return every[array]
    return every[array.astype(np.int64).reshape(-1)]


def _select(scope: Scope, x: str, indices, columns):
    """x[:, indices] (x itself when they are all the columns in order)."""
    if columns is not None and np.array_equal(indices, np.arange(columns)):
        return x
    return scope.node("Gather", [x, scope.int64(np.asarray(indices, np.int64), "columns")], axis=1)


def _join(scope: Scope, parts):
    """Concat of (value, columns) parts along axis 1, with the total column count when known."""
    if not parts:
        raise UnsupportedOp("[from_sklearn] every transformer drops its columns: the output would be empty")
    values = [v for v, _ in parts]
    total = None if any(c is None for _, c in parts) else sum(c for _, c in parts)
    value = values[0] if len(values) == 1 else scope.node("Concat", values, axis=1)
    return Outputs(value=value, columns=total)


def _transform(scope: Scope, step, x, columns, owner):
    out = convert_estimator(scope, step, x, columns)
    if out.value is None:
        raise UnsupportedOp(f"[from_sklearn] {owner}: {type(step).__name__} is not a transformer")
    return out.value, out.columns


@converter("ColumnTransformer")
def convert_column_transformer(scope: Scope, est, x: str, columns):
    if getattr(est, "sparse_output_", False):
        raise UnsupportedOp("[from_sklearn] ColumnTransformer with a sparse output is not supported")
    parts = []
    for name, step, spec in est.transformers_:
        if _skipped(step):
            continue
        indices = _indices(spec, columns, f"ColumnTransformer '{name}'")
        if len(indices) == 0:
            continue  # scikit-learn skips transformers given no columns
        sub = _select(scope, x, indices, columns)
        if _passthrough(step):
            parts.append((sub, len(indices)))
        else:
            parts.append(_transform(scope, step, sub, len(indices), f"ColumnTransformer '{name}'"))
    return _join(scope, parts)


@converter("FeatureUnion")
def convert_feature_union(scope: Scope, est, x: str, columns):
    weights = est.transformer_weights or {}
    parts = []
    for name, step in est.transformer_list:
        if _skipped(step):
            continue
        if _passthrough(step):
            value, n = scope.node("Identity", [x]), columns
        else:
            value, n = _transform(scope, step, x, columns, f"FeatureUnion '{name}'")
        if name in weights and weights[name] is not None:
            value = scope.node("Mul", [value, scope.constant(weights[name], "weight")])
        parts.append((value, n))
    return _join(scope, parts)
