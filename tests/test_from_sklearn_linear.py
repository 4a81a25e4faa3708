"""sc.from_sklearn on linear models, scalers, imputers, PCA/TruncatedSVD and OneHotEncoder:
labels identical to scikit-learn's, probabilities / scores / predictions / transforms within
1e-5 (float32) or 1e-9 (float64), in onnxruntime and sc.InferenceSession."""

import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.preprocessing import (
    Binarizer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import LinearSVC, LinearSVR
from sklearn_oracle import _close, check_classifier, check_regressor, check_transformer, dataset, run_both

import swiftconv as sc

DTYPES = [np.float32, np.float64]
CLASSIFICATION = ["iris", "breast_cancer", "digits"]


def _types(X):
    """initial_types for X: None (float32 default) or double."""
    if X.dtype == np.float64:
        return {"initial_types": [("float_input", np.float64, [None, X.shape[1]])]}
    return {}


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _scaled(name, dtype):
    X, y = dataset(name, np.float64)
    X = StandardScaler().fit_transform(X)
    return X.astype(dtype), y


def _check_scores(estimator, X, **kwargs):
    """Labels equal to predict(X); 'output_probability' equal to decision_function(X)
    (the positive column [N, 1] for two classes), as skl2onnx outputs it."""
    model = sc.from_sklearn(estimator, **kwargs)
    tol = 1e-9 if X.dtype == np.float64 else 1e-5
    want = estimator.decision_function(X).reshape(len(X), -1)
    for runtime, out in run_both(model, X).items():
        np.testing.assert_array_equal(out["output_label"], estimator.predict(X), err_msg=runtime)
        assert out["output_probability"].shape == want.shape
        _close(out["output_probability"], want, tol, f"{runtime} scores")
    return model


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_logistic_regression(name, dtype):
    X, y = _scaled(name, dtype)
    est = _fit(LogisticRegression(max_iter=2000), X, y)
    check_classifier(est, X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_regression_ovr(dtype):
    """A one-vs-rest LogisticRegression (multi_class='ovr', as older scikit-learn pickles it;
    1.8+ has no OvR mode): probabilities are expit(scores) normalized per row, which is
    sklearn's own LinearClassifierMixin._predict_proba_lr."""
    X, y = _scaled("iris", dtype)
    est = _fit(LogisticRegression(max_iter=2000), X, y)
    # One binary fit per class, the OvR coefficients.
    rows = [_fit(LogisticRegression(max_iter=2000), X, (y == c).astype(int)) for c in est.classes_]
    est.coef_ = np.vstack([r.coef_ for r in rows])
    est.intercept_ = np.concatenate([r.intercept_ for r in rows])
    est.multi_class = "ovr"
    model = sc.from_sklearn(est, **_types(X))
    tol = 1e-9 if dtype == np.float64 else 1e-5
    want = est._predict_proba_lr(X)
    for runtime, out in run_both(model, X).items():
        np.testing.assert_array_equal(out["output_label"], est.predict(X), err_msg=runtime)
        _close(out["output_probability"], want, tol, f"{runtime} probabilities")


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_regression_string_classes(dtype):
    X, y = _scaled("iris", dtype)
    est = _fit(LogisticRegression(max_iter=2000), X, np.array(["setosa", "versicolor", "virginica"])[y])
    check_classifier(est, X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_regression_no_intercept_binary(dtype):
    X, y = _scaled("breast_cancer", dtype)
    est = _fit(LogisticRegression(fit_intercept=False, max_iter=2000), X, y)
    check_classifier(est, X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_linear_svc_scores(name, dtype):
    X, y = _scaled(name, dtype)
    est = _fit(LinearSVC(), X, y)
    _check_scores(est, X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber"])
def test_sgd_classifier(name, dtype, loss):
    X, y = _scaled(name, dtype)
    est = _fit(SGDClassifier(loss=loss, random_state=0), X, y)
    if loss == "hinge":
        model = sc.from_sklearn(est, **_types(X))
        tol = 1e-9 if dtype == np.float64 else 1e-5
        s = est.decision_function(X).reshape(len(X), -1)
        want = np.hstack([-s, s]) if s.shape[1] == 1 else s
        for runtime, out in run_both(model, X).items():
            np.testing.assert_array_equal(out["output_label"], est.predict(X), err_msg=runtime)
            _close(out["output_probability"], want, tol, f"{runtime} scores")
    else:
        check_classifier(est, X, **_types(X))


REGRESSORS = [
    LinearRegression,
    lambda: Ridge(alpha=0.5),
    lambda: Lasso(alpha=0.1),
    lambda: ElasticNet(alpha=0.05, l1_ratio=0.3),
    lambda: SGDRegressor(random_state=0),
    lambda: LinearSVR(random_state=0, max_iter=10000),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", REGRESSORS)
def test_linear_regressors(make, dtype):
    X, y = _scaled("diabetes", dtype)
    est = _fit(make(), X, y)
    check_regressor(est, X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_regression_two_targets(dtype):
    X, y = dataset("diabetes", dtype)
    Y = np.column_stack([y, np.sqrt(y)])
    est = LinearRegression().fit(X, Y)
    check_regressor(est, X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_sgd_classifier_string_classes(name, dtype):
    X, y = _scaled(name, dtype)
    est = _fit(SGDClassifier(loss="log_loss", random_state=0), X, np.array(["a", "b", "c"])[y])
    check_classifier(est, X, **_types(X))


ALL_DATASETS = ["iris", "digits", "diabetes", "breast_cancer"]
SCALERS = [
    StandardScaler,
    lambda: StandardScaler(with_mean=False),
    lambda: StandardScaler(with_std=False),
    MinMaxScaler,
    lambda: MinMaxScaler(feature_range=(-2, 3), clip=True),
    RobustScaler,
    lambda: RobustScaler(with_centering=False, quantile_range=(10, 90)),
    MaxAbsScaler,
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL_DATASETS)
@pytest.mark.parametrize("make", SCALERS)
def test_scalers(make, name, dtype):
    X, _ = dataset(name, dtype)
    est = make().fit(X)
    check_transformer(est, X, **_types(X))
    # Rows outside the fitted range (clip bites here).
    X2 = (X * 1.5 - 0.25).astype(dtype)
    check_transformer(est, X2, **_types(X2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL_DATASETS)
@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_normalizer(norm, name, dtype):
    X, _ = dataset(name, np.float64)
    # Negative values (max takes the largest absolute value) and a zero row (left as zeros).
    X = (X - X.mean(axis=0)).astype(dtype)
    X[0] = 0
    est = Normalizer(norm=norm).fit(X)
    check_transformer(est, X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threshold", [0.0, 1.3, 5.0])
def test_binarizer(threshold, dtype):
    X, _ = dataset("iris", dtype)
    X = np.vstack([X, np.full((1, 4), threshold, dtype)])  # x == threshold gives 0
    est = Binarizer(threshold=threshold).fit(X)
    check_transformer(est, X, **_types(X))


def _with_nans(name, dtype, seed=0):
    X, _ = dataset(name, dtype)
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < 0.2] = np.nan
    return X


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL_DATASETS)
@pytest.mark.parametrize(
    "make",
    [
        SimpleImputer,
        lambda: SimpleImputer(strategy="median"),
        lambda: SimpleImputer(strategy="most_frequent"),
        lambda: SimpleImputer(strategy="constant", fill_value=-7.5),
    ],
)
def test_simple_imputer(make, name, dtype):
    X = _with_nans(name, dtype)
    est = make().fit(X)
    check_transformer(est, X, **_types(X))
    X2 = _with_nans(name, dtype, seed=1)
    check_transformer(est, X2, **_types(X2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keep", [False, True])
def test_simple_imputer_all_missing_column(keep, dtype):
    X = _with_nans("iris", dtype)
    X[:, 2] = np.nan
    est = SimpleImputer(keep_empty_features=keep).fit(X)
    model = check_transformer(est, X, **_types(X))
    assert run_both(model, X)["swiftconv"]["variable"].shape == (len(X), 4 if keep else 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_simple_imputer_numeric_missing_value(dtype):
    X, _ = dataset("digits", dtype)
    est = SimpleImputer(missing_values=0.0, strategy="mean").fit(X)
    check_transformer(est, X, **_types(X))


def _float32_tolerance(est, X):
    """A projection fitted on float32 data computes in float32 in sklearn too: on
    breast_cancer (features up to ~4000) sklearn's own transform is ~1e-4 from the exact
    float64 value of the same parameters. Allowed: 1e-5, or twice sklearn's own error."""
    if X.dtype != np.float32:
        return None
    X64 = X.astype(np.float64)
    if hasattr(est, "mean_"):
        X64 = X64 - np.asarray(est.mean_, np.float64)
    exact = X64 @ np.asarray(est.components_, np.float64).T
    if getattr(est, "whiten", False):
        exact /= np.sqrt(np.asarray(est.explained_variance_, np.float64))
    own = float(np.max(np.abs(est.transform(X) - exact) / np.maximum(1.0, np.abs(exact))))
    return max(1e-5, 2 * own)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL_DATASETS)
@pytest.mark.parametrize("whiten", [False, True])
def test_pca(whiten, name, dtype):
    X, _ = dataset(name, dtype)
    est = PCA(n_components=3, whiten=whiten, random_state=0).fit(X)
    check_transformer(est, X, tol=_float32_tolerance(est, X), **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL_DATASETS)
def test_truncated_svd(name, dtype):
    X, _ = dataset(name, dtype)
    est = TruncatedSVD(n_components=3, random_state=0).fit(X)
    check_transformer(est, X, tol=_float32_tolerance(est, X), **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("drop", [None, "first", "if_binary"])
def test_one_hot_encoder(drop, dtype):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 4, 60), rng.choice([-1.5, 0.25, 7.0], 60), rng.integers(0, 2, 60)])
    X = X.astype(dtype)
    est = OneHotEncoder(handle_unknown="ignore", sparse_output=False, drop=drop).fit(X)
    check_transformer(est, X, **_types(X))
    # Unknown values (including 2.5 next to integer categories) give all-zero columns.
    X2 = X.copy()
    X2[::3, 0] = 9
    X2[1::3, 0] = 2.5
    X2[::4, 1] = 0.3
    if drop is None:
        check_transformer(est, X2, **_types(X2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_hot_encoder_digits(dtype):
    X, _ = dataset("digits", dtype)
    est = OneHotEncoder(handle_unknown="ignore").fit(X[:, 10:30])
    check_transformer(est, X[:, 10:30].copy(), **_types(X[:, 10:30]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_unscaled_features(name, dtype):
    """The raw datasets (breast_cancer features up to ~4000): labels still identical."""
    X, y = dataset(name, dtype)
    check_classifier(_fit(LogisticRegression(max_iter=60), X, y), X, **_types(X))
    _check_scores(_fit(LinearSVC(), X, y), X, **_types(X))


def test_double_tensor_type_and_float_graph_types():
    """skl2onnx's DoubleTensorType keeps float64 end to end (no ai.onnx.ml op in the graph);
    float32 uses LinearClassifier, as skl2onnx."""
    from skl2onnx.common.data_types import DoubleTensorType

    X, y = _scaled("iris", np.float64)
    est = _fit(LogisticRegression(max_iter=2000), X, y)
    model = check_classifier(est, X, initial_types=[("input", DoubleTensorType([None, 4]))])
    ops = model.to_bytes()
    assert b"LinearClassifier" not in ops and b"MatMul" in ops
    X32 = X.astype(np.float32)
    assert b"LinearClassifier" in check_classifier(est, X32).to_bytes()


@pytest.mark.parametrize("opset", [13, 18, 21])
@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_normalizer_double_target_opsets(norm, opset):
    X, _ = dataset("diabetes", np.float64)
    check_transformer(Normalizer(norm=norm).fit(X), X, target_opset=opset, **_types(X))


def test_regressor_outputs_a_column():
    X, y = dataset("diabetes", np.float32)
    est = LinearRegression().fit(X, y)
    out = run_both(sc.from_sklearn(est), X)
    for runtime in out:
        assert out[runtime]["variable"].shape == (len(X), 1), runtime


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_non_range_integer_classes(name, dtype):
    X, y = _scaled(name, dtype)
    labels = np.array([-1, 1]) if name == "breast_cancer" else np.array([3, 7, 11])
    for est in (LogisticRegression(max_iter=2000), SGDClassifier(loss="log_loss", random_state=0)):
        check_classifier(_fit(est, X, labels[y]), X, **_types(X))
    _check_scores(_fit(LinearSVC(), X, labels[y]), X, **_types(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_ridge_classifier_and_perceptron_scores(name, dtype):
    from sklearn.linear_model import Perceptron, RidgeClassifier

    X, y = _scaled(name, dtype)
    _check_scores(_fit(RidgeClassifier(), X, y), X, **_types(X))
    est = _fit(Perceptron(random_state=0), X, y)
    model = sc.from_sklearn(est, **_types(X))
    s = est.decision_function(X).reshape(len(X), -1)
    want = np.hstack([-s, s]) if s.shape[1] == 1 else s
    for runtime, out in run_both(model, X).items():
        np.testing.assert_array_equal(out["output_label"], est.predict(X), err_msg=runtime)
        _close(out["output_probability"], want, 1e-9 if dtype == np.float64 else 1e-5, f"{runtime} scores")


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_regression_binary_multinomial(dtype):
    """An older pickle's multi_class='multinomial' on two classes: softmax([-s, s])."""
    from scipy.special import softmax

    X, y = _scaled("breast_cancer", dtype)
    est = _fit(LogisticRegression(max_iter=2000), X, y)
    est.multi_class = "multinomial"
    s = est.decision_function(X).reshape(-1, 1)
    want = softmax(np.hstack([-s, s]), axis=1)
    model = sc.from_sklearn(est, **_types(X))
    for runtime, out in run_both(model, X).items():
        np.testing.assert_array_equal(out["output_label"], est.predict(X), err_msg=runtime)
        _close(out["output_probability"], want, 1e-9 if dtype == np.float64 else 1e-5, f"{runtime} probabilities")
