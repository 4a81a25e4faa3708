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
