"""Scalers, Normalizer, Binarizer, SimpleImputer and OneHotEncoder (numeric columns).

As skl2onnx: float32 uses the ai.onnx.ml op where skl2onnx does (Scaler, Normalizer,
Binarizer, Imputer); float64, which those ops cannot keep, standard ops.
Where an ai.onnx.ml op's definition differs from scikit-learn's (Normalizer 'max' divides by
the row's maximum, sklearn by its largest absolute value) standard ops compute sklearn's.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedOp
from . import Outputs, Scope, converter


def _sub_div(scope: Scope, x: str, offset, divisor) -> str:
    """(x - offset) / divisor in the scope's type (either may be None)."""
    if offset is not None:
        x = scope.node("Sub", [x, scope.constant(offset, "offset")])
    if divisor is not None:
        x = scope.node("Div", [x, scope.constant(divisor, "scale")])
    return x


def _scaler(scope: Scope, x: str, offset, divisor, n: int) -> Outputs:
    """sklearn's (x - offset) / divisor: the ai.onnx.ml Scaler in float32 (offset, 1 / divisor),
    Sub + Div in float64."""
    if scope.dtype == np.float32:
        off = np.zeros(n) if offset is None else np.asarray(offset, np.float64)
        inv = np.ones(n) if divisor is None else 1.0 / np.asarray(divisor, np.float64)
        value = scope.node(
            "Scaler",
            [x],
            domain="ai.onnx.ml",
            offset=off.astype(np.float32).tolist(),
            scale=inv.astype(np.float32).tolist(),
        )
    else:
        value = _sub_div(scope, x, offset, divisor)
        if value == x:
            value = scope.node("Identity", [x])
    return Outputs(value=value, columns=n)


@converter("StandardScaler")
def convert_standard_scaler(scope: Scope, est, x: str, columns):
    n = int(est.n_features_in_)
    offset = est.mean_ if est.with_mean and est.mean_ is not None else None
    divisor = est.scale_ if est.with_std and est.scale_ is not None else None
    return _scaler(scope, x, offset, divisor, n)


@converter("RobustScaler")
def convert_robust_scaler(scope: Scope, est, x: str, columns):
    n = int(est.n_features_in_)
    offset = est.center_ if est.with_centering and est.center_ is not None else None
    divisor = est.scale_ if est.with_scaling and est.scale_ is not None else None
    return _scaler(scope, x, offset, divisor, n)


@converter("MaxAbsScaler")
def convert_max_abs_scaler(scope: Scope, est, x: str, columns):
    return _scaler(scope, x, None, est.scale_, int(est.n_features_in_))


@converter("MinMaxScaler")
def convert_min_max_scaler(scope: Scope, est, x: str, columns):
    # sklearn: x * scale_ + min_, then clipped to feature_range when clip=True.
    value = scope.node("Mul", [x, scope.constant(est.scale_, "scale")])
    value = scope.node("Add", [value, scope.constant(est.min_, "min")])
    if getattr(est, "clip", False):
        low, high = est.feature_range
        value = scope.node("Clip", [value, scope.constant(low, "low"), scope.constant(high, "high")])
    return Outputs(value=value, columns=int(est.n_features_in_))


def _reduce(scope: Scope, op: str, x: str) -> str:
    """op over axis 1, keepdims: axes an input from opset 18 (ReduceSum: 13), else an attribute."""
    if scope.target_opset >= (13 if op == "ReduceSum" else 18):
        return scope.node(op, [x, scope.int64([1], "axis")], keepdims=1)
    return scope.node(op, [x], axes=[1], keepdims=1)


@converter("Normalizer")
def convert_normalizer(scope: Scope, est, x: str, columns):
    norm = est.norm
    if norm not in ("l1", "l2", "max"):
        raise UnsupportedOp(f"[from_sklearn] Normalizer norm '{norm}' is not supported")
    if scope.dtype == np.float32 and norm != "max":
        value = scope.node("Normalizer", [x], domain="ai.onnx.ml", norm=norm.upper())
        return Outputs(value=value, columns=columns)
    if norm == "l1":
        size = _reduce(scope, "ReduceSum", scope.node("Abs", [x]))
    elif norm == "l2":
        size = scope.node("Sqrt", [_reduce(scope, "ReduceSumSquare", x)])
    else:
        size = _reduce(scope, "ReduceMax", scope.node("Abs", [x]))
    # sklearn leaves a row of norm 0 as it is (divides by 1).
    zero = scope.node("Equal", [size, scope.constant(0.0, "zero")])
    size = scope.node("Where", [zero, scope.constant(1.0, "one"), size])
    return Outputs(value=scope.node("Div", [x, size]), columns=columns)


@converter("Binarizer")
def convert_binarizer(scope: Scope, est, x: str, columns):
    threshold = float(est.threshold)
    if scope.dtype == np.float32 and np.float32(threshold) == threshold:
        value = scope.node("Binarizer", [x], domain="ai.onnx.ml", threshold=threshold)
    else:
        # sklearn: 1 where x > threshold, else 0.
        above = scope.node("Greater", [x, scope.constant(threshold, "threshold")])
        value = scope.node("Cast", [above], to=1 if scope.dtype == np.float32 else 11)
    return Outputs(value=value, columns=columns)


@converter("SimpleImputer")
def convert_simple_imputer(scope: Scope, est, x: str, columns):
    if getattr(est, "add_indicator", False):
        raise UnsupportedOp("[from_sklearn] SimpleImputer(add_indicator=True) is not supported")
    statistics = np.asarray(est.statistics_)  # object for strategy='constant'
    try:
        statistics = statistics.astype(np.float64)
    except (TypeError, ValueError):
        raise UnsupportedOp("[from_sklearn] SimpleImputer with non-numeric statistics is not supported") from None
    missing = est.missing_values
    missing_is_nan = missing is None or (isinstance(missing, float) and np.isnan(missing))
    if not missing_is_nan and not isinstance(missing, (int, float, np.integer, np.floating)):
        raise UnsupportedOp(f"[from_sklearn] SimpleImputer missing_values={missing!r} is not supported")
    # Columns whose statistic is NaN (all missing in the fit) are dropped unless keep_empty_features.
    keep = ~np.isnan(statistics)
    fill = np.where(keep, statistics, 0.0)
    if scope.dtype == np.float32:
        value = scope.node(
            "Imputer",
            [x],
            domain="ai.onnx.ml",
            imputed_value_floats=fill.astype(np.float32).tolist(),
            replaced_value_float=float("nan") if missing_is_nan else float(missing),
        )
    else:
        if missing_is_nan:
            is_missing = scope.node("IsNaN", [x])
        else:
            is_missing = scope.node("Equal", [x, scope.constant(float(missing), "missing")])
        value = scope.node("Where", [is_missing, scope.constant(fill.reshape(1, -1), "fill"), x])
    if not keep.all():
        value = scope.node("Gather", [value, scope.int64(np.flatnonzero(keep), "kept")], axis=1)
    return Outputs(value=value, columns=int(keep.sum()))


@converter("OneHotEncoder")
def convert_one_hot_encoder(scope: Scope, est, x: str, columns):
    """Numeric columns: per column, Equal against the categories of the fit, as float. An
    unknown value gives zeros (handle_unknown='ignore'); drop_idx_ removes the dropped columns.
    (skl2onnx uses the ai.onnx.ml OneHotEncoder, which casts a float input to int64 first:
    2.5 would match category 2, where sklearn sees an unknown value.)"""
    if getattr(est, "_infrequent_enabled", False):
        raise UnsupportedOp("[from_sklearn] OneHotEncoder with infrequent categories is not supported")
    drop_idx = getattr(est, "drop_idx_", None)
    pieces = []
    width = 0
    for j, categories in enumerate(est.categories_):
        categories = np.asarray(categories)
        if categories.dtype.kind not in "fiub":
            raise UnsupportedOp("[from_sklearn] OneHotEncoder on string columns is not supported")
        categories = categories.astype(np.float64)
        if np.isnan(categories).any():
            raise UnsupportedOp("[from_sklearn] OneHotEncoder with NaN as a category is not supported")
        column = scope.node("Gather", [x, scope.int64([j], "column")], axis=1)  # [N, 1]
        # Equal against the categories (exact for any value, like sklearn's lookup).
        hot = scope.node("Equal", [column, scope.constant(categories.reshape(1, -1), "categories")])
        hot = scope.node("Cast", [hot], to=1 if scope.dtype == np.float32 else 11)
        kept = np.arange(len(categories))
        if drop_idx is not None and drop_idx[j] is not None:
            kept = np.delete(kept, int(drop_idx[j]))
            hot = scope.node("Gather", [hot, scope.int64(kept, "kept")], axis=1)
        pieces.append(hot)
        width += len(kept)
    value = pieces[0] if len(pieces) == 1 else scope.node("Concat", pieces, axis=1)
    return Outputs(value=value, columns=width)
