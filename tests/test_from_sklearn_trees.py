"""sc.from_sklearn on tree models: DecisionTree*, RandomForest*, ExtraTrees*, GradientBoosting*,
HistGradientBoosting*, float32 and float64, against scikit-learn in onnxruntime and
sc.InferenceSession. Labels identical; probabilities and predictions within 1e-5 / 1e-9.
Thresholds are probed with inputs equal to and adjacent to every split threshold."""

import numpy as np
import pytest
from sklearn import ensemble, tree
from sklearn_oracle import check_classifier, check_regressor, dataset

import swiftconv as sc
from swiftconv.errors import UnsupportedOp

DATASETS = ["iris", "digits", "breast_cancer", "diabetes"]
DTYPES = [np.float32, np.float64]

CLASSIFIERS = {
    "DecisionTreeClassifier": lambda: tree.DecisionTreeClassifier(random_state=0),
    "RandomForestClassifier": lambda: ensemble.RandomForestClassifier(n_estimators=8, max_depth=8, random_state=0),
    "ExtraTreesClassifier": lambda: ensemble.ExtraTreesClassifier(n_estimators=8, max_depth=8, random_state=0),
    "GradientBoostingClassifier": lambda: ensemble.GradientBoostingClassifier(
        n_estimators=8, max_depth=3, random_state=0
    ),
    "HistGradientBoostingClassifier": lambda: ensemble.HistGradientBoostingClassifier(max_iter=8, random_state=0),
}
REGRESSORS = {
    "DecisionTreeRegressor": lambda: tree.DecisionTreeRegressor(random_state=0),
    "RandomForestRegressor": lambda: ensemble.RandomForestRegressor(n_estimators=8, max_depth=8, random_state=0),
    "ExtraTreesRegressor": lambda: ensemble.ExtraTreesRegressor(n_estimators=8, max_depth=8, random_state=0),
    "GradientBoostingRegressor": lambda: ensemble.GradientBoostingRegressor(n_estimators=8, random_state=0),
    "HistGradientBoostingRegressor": lambda: ensemble.HistGradientBoostingRegressor(max_iter=8, random_state=0),
}


def _kwargs(X):
    if X.dtype == np.float64:
        return {"initial_types": [("X", np.float64, [None, X.shape[1]])]}
    return {}


def _classes(name, y):
    # diabetes has a continuous target: classifiers learn "above the median".
    return (y > np.median(y)).astype(np.int64) if name == "diabetes" else y


def _trees(est):
    """(feature, threshold) of every split of every tree (sklearn trees and HGB predictors)."""
    if hasattr(est, "_predictors"):
        for stage in est._predictors:
            for p in stage:
                nodes = p.nodes[p.nodes["is_leaf"] == 0]
                yield from zip(nodes["feature_idx"], nodes["num_threshold"])
        return
    estimators = [est] if hasattr(est, "tree_") else np.asarray(est.estimators_, dtype=object).ravel()
    for e in estimators:
        t = e.tree_
        inner = t.children_left >= 0
        yield from zip(t.feature[inner], t.threshold[inner])


def _probe(est, X, limit=400):
    """Rows of X with one feature set equal to, and next to, split thresholds: float32 values
    around float32(t) for float32 X; for float64 X also t itself and the doubles around the
    float32 rounding boundaries (sklearn's trees compare float32(x) with t)."""
    rng = np.random.default_rng(0)
    splits = list(_trees(est))
    rows = []
    for k in rng.permutation(len(splits))[: limit // 8]:
        f, t = splits[k]
        if not np.isfinite(t):
            continue
        t32 = np.float32(t)
        values = [t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))]
        if X.dtype == np.float64:
            up = float(np.nextafter(t32, np.float32(np.inf)))
            down = float(np.nextafter(t32, np.float32(-np.inf)))
            mids = [(float(t32) + up) / 2, (float(t32) + down) / 2]
            values = [float(v) for v in values] + [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
            values += [m for mid in mids for m in (mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf))]
        for v in values:
            row = X[rng.integers(len(X))].copy()
            row[f] = v
            rows.append(row)
    return np.vstack([X] + rows).astype(X.dtype) if rows else X


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_classifier(name, data, dtype):
    X, y = dataset(data, dtype)
    est = CLASSIFIERS[name]().fit(X, _classes(data, y))
    check_classifier(est, _probe(est, X), **_kwargs(X))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("name", list(REGRESSORS))
def test_regressor(name, data, dtype):
    X, y = dataset(data, dtype)
    est = REGRESSORS[name]().fit(X, y.astype(np.float64))
    check_regressor(est, _probe(est, X), **_kwargs(X))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_string_labels(dtype):
    X, y = dataset("iris", dtype)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    est = ensemble.RandomForestClassifier(n_estimators=4, random_state=0).fit(X, names)
    check_classifier(est, X, **_kwargs(X))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_multioutput_regressor(dtype):
    X, _ = dataset("iris", dtype)
    Y = np.stack([X[:, 0] * 2.0, X[:, 1] - X[:, 2]], axis=1).astype(np.float64)
    for est in [
        tree.DecisionTreeRegressor(random_state=0),
        ensemble.ExtraTreesRegressor(n_estimators=4, random_state=0),
    ]:
        est.fit(X[:, 2:], Y)
        probe = _probe(est, np.ascontiguousarray(X[:, 2:]))
        check_regressor(est, probe, **_kwargs(probe))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: tree.DecisionTreeClassifier(random_state=0),
        lambda: ensemble.RandomForestClassifier(n_estimators=5, random_state=0),
        lambda: ensemble.HistGradientBoostingClassifier(max_iter=6, random_state=0),
    ],
    ids=["DecisionTree", "RandomForest", "HistGradientBoosting"],
)
def test_missing_values_follow_each_node(make, dtype):
    """NaN goes left or right per node as learned (missing_go_to_left)."""
    X, y = dataset("breast_cancer", dtype)
    rng = np.random.default_rng(1)
    X = X.copy()
    X[rng.random(X.shape) < 0.15] = np.nan
    est = make().fit(X, y)
    check_classifier(est, X, **_kwargs(X))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_boosting_init_zero_and_losses(dtype):
    X, y = dataset("diabetes", dtype)
    for est in [
        ensemble.GradientBoostingRegressor(n_estimators=5, init="zero", random_state=0),
        ensemble.GradientBoostingRegressor(n_estimators=5, loss="huber", random_state=0),
        ensemble.GradientBoostingRegressor(n_estimators=5, loss="quantile", alpha=0.7, random_state=0),
        ensemble.HistGradientBoostingRegressor(max_iter=5, loss="poisson", random_state=0),
        ensemble.HistGradientBoostingRegressor(max_iter=5, loss="absolute_error", random_state=0),
    ]:
        est.fit(X, y)
        check_regressor(est, X, **_kwargs(X))
    Xc, yc = dataset("iris", dtype)
    clf = ensemble.GradientBoostingClassifier(n_estimators=5, init="zero", random_state=0).fit(Xc, yc)
    check_classifier(clf, Xc, **_kwargs(Xc))


def test_categorical_hist_gradient_boosting_is_unsupported():
    X, y = dataset("iris")
    X = X.copy()
    X[:, 0] = np.round(X[:, 0])
    est = ensemble.HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(X, y)
    with pytest.raises(UnsupportedOp, match="categorical"):
        sc.from_sklearn(est)


def test_float32_thresholds_are_rounded_down():
    """A threshold between two float32 values becomes the lower one: sklearn sends x = that
    float32 value left, and a rounded-to-nearest threshold could send it right."""
    X = np.array([[0.0], [1.0]], np.float32)
    est = tree.DecisionTreeClassifier().fit(X, [0, 1])
    t = est.tree_.threshold[0]
    lo = np.float32(t)
    if float(lo) > t:
        lo = np.nextafter(lo, np.float32(-1))
    probe = np.array([[lo], [np.nextafter(lo, np.float32(2))], [np.float32(t)]], np.float32)
    check_classifier(est, probe)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_label_values_single_leaf_and_default_sizes(dtype):
    """Classes that are not 0..K-1, a tree that is one leaf, default-sized ensembles."""
    X, y = dataset("iris", dtype)
    labels = np.array([3, 7, 11])[y]
    check_classifier(ensemble.ExtraTreesClassifier(n_estimators=5, random_state=0).fit(X, labels), X, **_kwargs(X))
    binary = np.where(labels == 7, 7, 2)
    check_classifier(ensemble.GradientBoostingClassifier(n_estimators=5).fit(X, binary), X, **_kwargs(X))
    check_classifier(ensemble.HistGradientBoostingClassifier(max_iter=5).fit(X, binary), X, **_kwargs(X))
    check_regressor(tree.DecisionTreeRegressor().fit(X, np.full(len(X), 2.5)), X, **_kwargs(X))
    Xb, yb = dataset("breast_cancer", dtype)
    check_classifier(ensemble.RandomForestClassifier(random_state=0).fit(Xb, yb), Xb, **_kwargs(Xb))
    Xd, yd = dataset("diabetes", dtype)
    check_regressor(ensemble.GradientBoostingRegressor(random_state=0).fit(Xd, yd), Xd, **_kwargs(Xd))


def test_multioutput_classifier_is_unsupported():
    X, y = dataset("iris")
    est = tree.DecisionTreeClassifier(random_state=0).fit(X, np.stack([y, y % 2], axis=1))
    with pytest.raises(UnsupportedOp, match="outputs"):
        sc.from_sklearn(est)
