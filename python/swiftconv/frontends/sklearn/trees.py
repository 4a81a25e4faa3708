"""Tree ensembles: DecisionTree*, RandomForest*, ExtraTrees*, GradientBoosting*,
HistGradientBoosting* -> ai.onnx.ml TreeEnsembleRegressor (+ standard ops for the link).

Every estimator is read into one form: a list of trees (feature, threshold, left, right,
missing-goes-left per node; a leaf vector of n_out raw scores per leaf), a per-output
baseline and a final transform (mean over trees, logistic, softmax, exp).

Thresholds are exact. scikit-learn's trees compare `float32(x) <= t` with a float64 `t`
(HistGradientBoosting compares float64 `x <= t`). For float32 input the node threshold is the
largest float32 <= t, so `x <= t32` splits every float32 x as scikit-learn does. For float64
input the threshold is a double (nodes_values_as_tensor, ai.onnx.ml 3): `t` itself for
HistGradientBoosting, and for the other trees the largest double w with
`x <= w  <=>  float32(x) <= t` (the float32 rounding boundary above the largest float32 <= t).

Float32: the leaf scores are TreeEnsembleRegressor target weights summed by the op (as
skl2onnx). Float64: TreeEnsembleRegressor/Classifier only produce float32 scores, so the op
computes each tree's leaf index (one target per tree, weight = global leaf number, exact in
float32) and the double leaf values are gathered and summed with standard ops (as skl2onnx's
double DecisionTree path gathers leaf values by index).
Labels come from ArgMax over the scores (first maximum, as numpy), or `raw > 0` for binary
gradient boosting (scikit-learn's argmax of [1 - expit(raw), expit(raw)]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedOp
from . import Outputs, Scope, converter

_F32_MAX_LEAVES = 1 << 24  # leaf numbers must be exact in the op's float32 output


@dataclass
class _Tree:
    feature: np.ndarray  # int64 [n_nodes]
    threshold: np.ndarray  # float64 [n_nodes]
    left: np.ndarray  # int64 [n_nodes], -1 at leaves
    right: np.ndarray
    missing_left: np.ndarray  # bool [n_nodes]
    leaf_values: np.ndarray  # float64 [n_nodes, n_out] (rows of leaves are used)

    @property
    def is_leaf(self):
        return self.left < 0


@dataclass
class _Ensemble:
    trees: list
    n_out: int
    base: np.ndarray | None = None  # float64 [n_out] added after the sum
    # True: scikit-learn casts x to float32 before comparing (sklearn.tree); False: float64 x (HGB).
    float32_compare: bool = True


# ---------------------------------------------------------------- thresholds


def _f32_floor(t: np.ndarray) -> np.ndarray:
    """The largest float32 <= t (float64 array in, float32 array out)."""
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    above = f.astype(np.float64) > t
    f[above] = np.nextafter(f[above], np.float32(-np.inf))
    return f


def _f64_for_f32_compare(t: np.ndarray) -> np.ndarray:
    """The largest double w with  x <= w  <=>  float32(x) <= t  for every double x."""
    f = _f32_floor(t)
    with np.errstate(invalid="ignore"):
        up = np.nextafter(f, np.float32(np.inf)).astype(np.float64)
    f64 = f.astype(np.float64)
    hi = np.where(np.isfinite(up), up, 2.0**128)  # the rounding boundary above float32 max
    lo = np.where(np.isfinite(f64), f64, -(2.0**128))
    mid = lo / 2 + hi / 2  # exact: both are float32 values
    # A tie rounds to the even float32: to f when f's last mantissa bit is 0 (or f = -inf).
    even = ~np.isfinite(f64) | ((np.ascontiguousarray(f).view(np.uint32) & 1) == 0)
    out = np.where(even, mid, np.nextafter(mid, -np.inf))
    out[np.isposinf(f64)] = np.inf  # t = +inf: every x
    return out


# ---------------------------------------------------------------- reading estimators


def _sk_tree(tree_, leaf_values: np.ndarray) -> _Tree:
    n = tree_.node_count
    missing = getattr(tree_, "missing_go_to_left", None)
    missing = np.zeros(n, bool) if missing is None else np.asarray(missing).astype(bool)
    return _Tree(
        feature=np.asarray(tree_.feature, np.int64),
        threshold=np.asarray(tree_.threshold, np.float64),
        left=np.asarray(tree_.children_left, np.int64),
        right=np.asarray(tree_.children_right, np.int64),
        missing_left=missing,
        leaf_values=np.asarray(leaf_values, np.float64).reshape(n, -1),
    )


def _single_output(est):
    if getattr(est, "n_outputs_", 1) != 1:
        raise UnsupportedOp(f"[from_sklearn] {type(est).__name__} with {est.n_outputs_} outputs is not supported")


def _classifier_tree(tree_) -> _Tree:
    """A DecisionTreeClassifier's tree with leaf vectors = predict_proba (value / value.sum)."""
    v = np.asarray(tree_.value, np.float64)[:, 0, :]
    s = v.sum(axis=1, keepdims=True)
    s[s == 0.0] = 1.0
    return _sk_tree(tree_, v / s)


def _regressor_tree(tree_, scale=None) -> _Tree:
    v = np.asarray(tree_.value, np.float64)[:, :, 0]
    if scale is not None:
        v = scale * v
    return _sk_tree(tree_, v)


def _forest_estimators(est):
    if type(est).__name__.startswith("DecisionTree"):
        return [est]
    return list(est.estimators_)


def _hgb_tree(predictor, n_out, k) -> _Tree:
    nodes = predictor.nodes
    if np.any(nodes["is_categorical"]):
        raise UnsupportedOp("[from_sklearn] HistGradientBoosting with categorical features is not supported")
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    values = np.zeros((len(nodes), n_out))
    values[:, k] = nodes["value"]
    return _Tree(
        feature=nodes["feature_idx"].astype(np.int64),
        threshold=nodes["num_threshold"].astype(np.float64),
        left=left,
        right=right,
        missing_left=nodes["missing_go_to_left"].astype(bool),
        leaf_values=values,
    )


def _hgb_ensemble(est) -> _Ensemble:
    categorical = getattr(est, "is_categorical_", None)
    if getattr(est, "_preprocessor", None) is not None or (categorical is not None and np.any(categorical)):
        raise UnsupportedOp("[from_sklearn] HistGradientBoosting with categorical features is not supported")
    k_trees = int(est.n_trees_per_iteration_)
    trees = [_hgb_tree(p, k_trees, k) for stage in est._predictors for k, p in enumerate(stage)]
    base = np.asarray(est._baseline_prediction, np.float64).reshape(-1)
    return _Ensemble(trees, k_trees, base=base, float32_compare=False)


def _gb_baseline(est, n_out) -> np.ndarray:
    init = est.init_
    if isinstance(init, str) and init == "zero":
        return np.zeros(n_out)
    if type(init).__name__ not in ("DummyClassifier", "DummyRegressor"):
        raise UnsupportedOp(f"[from_sklearn] {type(est).__name__} with init={type(init).__name__} is not supported")
    # The raw score of the prior (DummyClassifier priors through the loss link, or
    # DummyRegressor's constant); it does not depend on the row.
    row = np.zeros((1, int(est.n_features_in_)))
    return np.asarray(est._raw_predict_init(row), np.float64).reshape(-1)


def _gb_ensemble(est) -> _Ensemble:
    stages = np.asarray(est.estimators_)
    n_out = stages.shape[1]
    lr = float(est.learning_rate)
    trees = [_regressor_tree(stages[i, k].tree_, lr) for i in range(stages.shape[0]) for k in range(n_out)]
    for t, k in zip(trees, [k for _ in range(stages.shape[0]) for k in range(n_out)]):
        v = np.zeros((t.leaf_values.shape[0], n_out))
        v[:, k] = t.leaf_values[:, 0]
        t.leaf_values = v
    return _Ensemble(trees, n_out, base=_gb_baseline(est, n_out))


# ---------------------------------------------------------------- the ONNX graph


def _attributes(ens: _Ensemble, dtype, leaf_index: bool):
    """TreeEnsembleRegressor attributes; leaf_index: one target per tree weighted by the leaf's
    global number (returns the double table of leaf values too). Built per tree with NumPy:
    nodes in order, and each leaf's targets in output order (a zero weight is left out but for
    output 0, so every leaf has a target)."""
    cols = {k: [] for k in "tree node feature leaf true false missing value t_tree t_node t_id t_w".split()}
    table = []
    leaves_so_far = 0
    for ti, tree in enumerate(ens.trees):
        n = len(tree.feature)
        leaf = tree.is_leaf
        thr = tree.threshold
        if dtype == np.float32:
            thr = _f32_floor(thr).astype(np.float64)
        elif ens.float32_compare:
            thr = _f64_for_f32_compare(thr)
        index = np.arange(n, dtype=np.int64)
        cols["tree"].append(np.full(n, ti, np.int64))
        cols["node"].append(index)
        cols["feature"].append(np.where(leaf, 0, tree.feature))
        cols["leaf"].append(leaf)
        cols["true"].append(np.where(leaf, 0, tree.left))
        cols["false"].append(np.where(leaf, 0, tree.right))
        cols["missing"].append(np.where(leaf, 0, tree.missing_left.astype(np.int64)))
        cols["value"].append(np.where(leaf, 0.0, thr))
        leaves = index[leaf]
        if leaf_index:
            cols["t_tree"].append(np.full(len(leaves), ti, np.int64))
            cols["t_node"].append(leaves)
            cols["t_id"].append(np.full(len(leaves), ti, np.int64))
            cols["t_w"].append(np.arange(leaves_so_far, leaves_so_far + len(leaves), dtype=np.float64))
            table.append(tree.leaf_values[leaves])
            leaves_so_far += len(leaves)
        else:
            weights = tree.leaf_values[leaves, : ens.n_out]
            keep = weights != 0.0
            keep[:, 0] = True
            row, k = np.nonzero(keep)  # row-major: leaf by leaf, outputs in order
            cols["t_tree"].append(np.full(len(row), ti, np.int64))
            cols["t_node"].append(leaves[row])
            cols["t_id"].append(k.astype(np.int64))
            cols["t_w"].append(weights[row, k])

    def joined(key, dtype=np.int64):
        parts = cols[key]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    values = joined("value", np.float64)
    attrs = dict(
        nodes_treeids=joined("tree").tolist(),
        nodes_nodeids=joined("node").tolist(),
        nodes_featureids=joined("feature").tolist(),
        nodes_modes=np.where(joined("leaf", bool), "LEAF", "BRANCH_LEQ").tolist(),
        nodes_truenodeids=joined("true").tolist(),
        nodes_falsenodeids=joined("false").tolist(),
        nodes_missing_value_tracks_true=joined("missing").tolist(),
        target_treeids=joined("t_tree").tolist(),
        target_nodeids=joined("t_node").tolist(),
        target_ids=joined("t_id").tolist(),
        aggregate_function="SUM",
        post_transform="NONE",
    )
    if dtype == np.float32:
        attrs["nodes_values"] = values.tolist()
    else:
        attrs["nodes_values_as_tensor"] = values
    attrs["target_weights"] = joined("t_w", np.float64).tolist()
    if leaf_index:
        if leaves_so_far >= _F32_MAX_LEAVES:
            raise UnsupportedOp(f"[from_sklearn] a tree ensemble with {leaves_so_far} leaves is too large for float64")
        attrs["n_targets"] = len(ens.trees)
        return attrs, np.concatenate(table).astype(np.float64).reshape(-1, ens.n_out)
    attrs["n_targets"] = ens.n_out
    if ens.base is not None:
        attrs["base_values"] = [float(b) for b in ens.base]
    return attrs, None


def _raw_scores(scope: Scope, ens: _Ensemble, x: str) -> str:
    """[N, n_out] summed leaf values (+ baseline), in the scope's dtype."""
    if scope.dtype == np.float32:
        attrs, _ = _attributes(ens, np.float32, leaf_index=False)
        return scope.node("TreeEnsembleRegressor", [x], domain="ai.onnx.ml", **attrs)
    attrs, table = _attributes(ens, np.float64, leaf_index=True)
    leaves = scope.node("TreeEnsembleRegressor", [x], domain="ai.onnx.ml", **attrs)
    index = scope.node("Cast", [leaves], to=7)  # int64 [N, trees]
    gathered = scope.node("Gather", [scope.constant(table, "leaf_values"), index], axis=0)  # [N, trees, out]
    total = scope.node("ReduceSum", [gathered, scope.int64([1])], keepdims=0)
    if ens.base is not None and np.any(ens.base != 0):
        total = scope.node("Add", [total, scope.constant(ens.base.reshape(1, -1), "baseline")])
    return total


def _classifier_outputs(scope: Scope, est, proba: str) -> Outputs:
    return Outputs(label=scope.labels_from_scores(proba, est.classes_), probabilities=proba)


def _check_classes(est):
    _single_output(est)
    if len(est.classes_) < 2:
        raise UnsupportedOp(f"[from_sklearn] {type(est).__name__} fitted on one class is not supported")


@converter("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier")
def _forest_classifier(scope: Scope, est, x: str, columns):
    _check_classes(est)
    trees = [_classifier_tree(e.tree_) for e in _forest_estimators(est)]
    raw = _raw_scores(scope, _Ensemble(trees, len(est.classes_)), x)
    proba = raw if len(trees) == 1 else scope.node("Div", [raw, scope.constant(float(len(trees)), "n_trees")])
    return _classifier_outputs(scope, est, proba)


@converter("DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor")
def _forest_regressor(scope: Scope, est, x: str, columns):
    estimators = _forest_estimators(est)
    trees = [_regressor_tree(e.tree_) for e in estimators]
    raw = _raw_scores(scope, _Ensemble(trees, int(est.n_outputs_)), x)
    value = raw if len(trees) == 1 else scope.node("Div", [raw, scope.constant(float(len(trees)), "n_trees")])
    return Outputs(value=value, columns=int(est.n_outputs_))


def _boosted_classifier(scope: Scope, est, raw: str) -> Outputs:
    if len(est.classes_) == 2:
        p1 = scope.node("Sigmoid", [raw])
        p0 = scope.node("Sub", [scope.constant(1.0, "one"), p1])
        proba = scope.node("Concat", [p0, p1], axis=1)
        positive = scope.node("Greater", [raw, scope.constant(0.0, "zero")])
        index = scope.node("Cast", [scope.node("Squeeze", [positive, scope.int64([1])])], to=7)
        return Outputs(label=scope.class_labels(index, est.classes_), probabilities=proba)
    proba = scope.node("Softmax", [raw], axis=1)
    return Outputs(label=scope.labels_from_scores(raw, est.classes_), probabilities=proba)


def _loss_name(est) -> str:
    return type(getattr(est, "_loss", None)).__name__


@converter("GradientBoostingClassifier")
def _gb_classifier(scope: Scope, est, x: str, columns):
    _check_classes(est)
    loss = _loss_name(est)
    if loss not in ("HalfBinomialLoss", "HalfMultinomialLoss"):
        raise UnsupportedOp(f"[from_sklearn] GradientBoostingClassifier with loss {loss} is not supported")
    return _boosted_classifier(scope, est, _raw_scores(scope, _gb_ensemble(est), x))


@converter("GradientBoostingRegressor")
def _gb_regressor(scope: Scope, est, x: str, columns):
    return Outputs(value=_raw_scores(scope, _gb_ensemble(est), x), columns=1)


@converter("HistGradientBoostingClassifier")
def _hgb_classifier(scope: Scope, est, x: str, columns):
    _check_classes(est)
    loss = _loss_name(est)
    if loss not in ("HalfBinomialLoss", "HalfMultinomialLoss"):
        raise UnsupportedOp(f"[from_sklearn] HistGradientBoostingClassifier with loss {loss} is not supported")
    return _boosted_classifier(scope, est, _raw_scores(scope, _hgb_ensemble(est), x))


_IDENTITY_LINK = ("HalfSquaredError", "AbsoluteError", "PinballLoss", "HuberLoss")
_LOG_LINK = ("HalfPoissonLoss", "HalfGammaLoss")


@converter("HistGradientBoostingRegressor")
def _hgb_regressor(scope: Scope, est, x: str, columns):
    loss = _loss_name(est)
    raw = _raw_scores(scope, _hgb_ensemble(est), x)
    if loss in _LOG_LINK:
        raw = scope.node("Exp", [raw])
    elif loss not in _IDENTITY_LINK:
        raise UnsupportedOp(f"[from_sklearn] HistGradientBoostingRegressor with loss {loss} is not supported")
    return Outputs(value=raw, columns=1)
