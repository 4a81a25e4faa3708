"""sc.from_sklearn on SVMs, nearest neighbours, naive Bayes and MLPs: labels identical to
scikit-learn's, probabilities and predictions within 1e-5 (float32) / 1e-9 (float64), in
onnxruntime and sc.InferenceSession (see sklearn_oracle)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn_oracle import check_classifier, check_regressor, dataset, run_both

import swiftconv as sc

DTYPES = [np.float32, np.float64]
CLASSIFICATION = ["iris", "digits", "breast_cancer"]


def _kwargs(X):
    return {"initial_types": [("float_input", X.dtype.type, [None, X.shape[1]])]}


def _split(name, dtype):
    """A training half (float64, as users fit) and a held-out half in `dtype`."""
    X, y = dataset(name, np.float64)
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y if name != "diabetes" else None)
    return Xa, ya, Xb.astype(dtype)


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


# ---------------------------------------------------------------- naive Bayes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("kind", ["GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB"])
def test_naive_bayes(kind, name, dtype):
    from sklearn import naive_bayes

    Xa, ya, X = _split(name, dtype)
    params = {"BernoulliNB": {"binarize": float(np.median(Xa))}}.get(kind, {})  # a Python float
    est = _fit(getattr(naive_bayes, kind)(**params), Xa, ya)
    check_classifier(est, X, **_kwargs(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_nb_numpy_threshold(dtype):
    """A numpy float64 threshold makes numpy compare float32 X in float64."""
    from sklearn.naive_bayes import BernoulliNB

    Xa, ya, X = _split("iris", dtype)
    est = BernoulliNB(binarize=np.median(Xa)).fit(Xa, ya)
    check_classifier(est, X, **_kwargs(X))


# ---------------------------------------------------------------- MLP


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_mlp_classifier(activation, name, dtype):
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    Xa, ya, X = _split(name, np.float64)
    scaler = StandardScaler().fit(Xa)
    est = _fit(
        MLPClassifier(hidden_layer_sizes=(16, 8), activation=activation, max_iter=200, random_state=0),
        scaler.transform(Xa),
        ya,
    )
    X = scaler.transform(X).astype(dtype)
    check_classifier(est, X, **_kwargs(X))


def test_mlp_binary_classes_are_labels():
    from sklearn.neural_network import MLPClassifier

    Xa, ya, X = _split("breast_cancer", np.float64)
    Xa, X = Xa / Xa.max(axis=0), (X / Xa.max(axis=0)).astype(np.float32)
    est = _fit(MLPClassifier(hidden_layer_sizes=(10,), random_state=1), Xa, np.where(ya == 1, 7, -3))
    check_classifier(est, X)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_mlp_regressor(activation, dtype):
    from sklearn.neural_network import MLPRegressor

    Xa, ya, X = _split("diabetes", dtype)
    est = _fit(
        MLPRegressor(hidden_layer_sizes=(20,), activation=activation, max_iter=300, random_state=0), Xa, ya / 100
    )
    check_regressor(est, X, **_kwargs(X))


def test_unknown_estimator_names_its_class():
    from sklearn.neighbors import NearestCentroid

    Xa, ya, _ = _split("iris", np.float32)
    with pytest.raises(sc.UnsupportedOp, match="NearestCentroid"):
        sc.from_sklearn(NearestCentroid().fit(Xa, ya))


# ---------------------------------------------------------------- nearest neighbours


def _boundary_ties(est, X):
    """Rows whose k-th and (k+1)-th nearest training points are at exactly the same distance.
    scikit-learn keeps whichever of them its heap merge kept (it depends on the thread count and
    chunking: on digits it takes index 324 over 11 with 898 training points, 11 with 400),
    while TopK keeps the lower index."""
    d = ((np.asarray(X, np.float64)[:, None, :] - est._fit_X[None, :, :]) ** 2).sum(axis=2)
    d.sort(axis=1)
    k = est.n_neighbors
    return d[:, k - 1] == d[:, k]


def _lowest_index_reference(est, X):
    """(labels, probabilities) of est with ties broken towards the lower training index."""
    d = ((np.asarray(X, np.float64)[:, None, :] - est._fit_X[None, :, :]) ** 2).sum(axis=2)
    index = np.argsort(d, axis=1, kind="stable")[:, : est.n_neighbors]
    dist = np.sqrt(np.take_along_axis(d, index, axis=1))
    if est.weights == "uniform":
        w = np.ones_like(dist)
    else:
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        zero = dist == 0
        w[zero.any(axis=1)] = zero[zero.any(axis=1)]
    proba = np.zeros((len(X), len(est.classes_)))
    for c in range(len(est.classes_)):
        proba[:, c] = (w * (est._y[index] == c)).sum(axis=1)
    proba /= proba.sum(axis=1, keepdims=True)
    return est.classes_[proba.argmax(axis=1)], proba


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("k", [1, 5])
def test_kneighbors_classifier(k, weights, name, dtype):
    from sklearn.neighbors import KNeighborsClassifier

    Xa, ya, X = _split(name, dtype)
    est = KNeighborsClassifier(n_neighbors=k, weights=weights, algorithm="brute").fit(Xa, ya)
    tie = _boundary_ties(est, X)
    assert tie.mean() < 0.05
    # Rows without a tie at the k-th place: identical to scikit-learn.
    check_classifier(est, X[~tie], **_kwargs(X))
    # Rows with one: the lower training index wins (onnxruntime's and swiftconv's TopK).
    if tie.any():
        want_label, want_proba = _lowest_index_reference(est, X[tie])
        for runtime, out in run_both(sc.from_sklearn(est, **_kwargs(X)), X[tie]).items():
            np.testing.assert_array_equal(out["output_label"], want_label, err_msg=runtime)
            np.testing.assert_allclose(out["output_probability"], want_proba, atol=1e-6, err_msg=runtime)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_kneighbors_classifier_on_training_points(weights):
    """Zero distances: sklearn weighs those neighbours 1 and the others 0."""
    from sklearn.neighbors import KNeighborsClassifier

    X, y = dataset("digits", np.float32)
    est = KNeighborsClassifier(n_neighbors=4, weights=weights).fit(X[:600], y[:600])
    check_classifier(est, X[:300])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("k", [1, 7])
def test_kneighbors_regressor(k, weights, dtype):
    from sklearn.neighbors import KNeighborsRegressor

    Xa, ya, X = _split("diabetes", dtype)
    est = KNeighborsRegressor(n_neighbors=k, weights=weights).fit(Xa, ya)
    check_regressor(est, X, **_kwargs(X))


def test_kneighbors_regressor_two_targets():
    from sklearn.neighbors import KNeighborsRegressor

    Xa, ya, X = _split("diabetes", np.float64)
    est = KNeighborsRegressor(n_neighbors=3, weights="distance").fit(Xa, np.stack([ya, np.sqrt(ya)], axis=1))
    check_regressor(est, X, **_kwargs(X))


# ---------------------------------------------------------------- SVM

KERNELS = ["linear", "rbf", "poly", "sigmoid"]


def _scaled_split(name, dtype):
    from sklearn.preprocessing import StandardScaler

    Xa, ya, X = _split(name, np.float64)
    scaler = StandardScaler().fit(Xa)
    return scaler.transform(Xa), ya, scaler.transform(X).astype(dtype)


def _svc(X, y, **params):
    from sklearn.svm import SVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # probability=True is deprecated in 1.9
        est = SVC(random_state=0, **params).fit(X, y)
    return est


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("shape", ["ovr", "ovo"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_svc_decision(kernel, shape, name, dtype):
    """Labels = SVC.predict; output_probability = skl2onnx's scores from decision_function:
    the ovr or ovo values, [d, -d] for two classes."""
    Xa, ya, X = _scaled_split(name, dtype)
    est = _svc(Xa, ya, kernel=kernel, decision_function_shape=shape)
    model = check_classifier(est, X, **_kwargs(X))
    want = est.decision_function(X)
    if want.ndim == 1:
        want = np.stack([want, -want], axis=1)
    tol = 1e-9 if dtype == np.float64 else 1e-5
    for runtime, out in run_both(model, X).items():
        got = out["output_probability"]
        assert np.max(np.abs(got - want) / np.maximum(1, np.abs(want))) <= tol, runtime


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("kernel", KERNELS)
def test_svc_probability(kernel, name, dtype):
    """probability=True: libsvm's Platt scaling and pairwise coupling match predict_proba within
    1e-5 (float32: SVMClassifier) or 1e-9 (float64: in double, a Loop); the label is the vote."""
    Xa, ya, X = _scaled_split(name, dtype)
    est = _svc(Xa, ya, kernel=kernel, probability=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        check_classifier(est, X, **_kwargs(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_svr(kernel, dtype):
    from sklearn.svm import SVR

    Xa, ya, X = _scaled_split("diabetes", dtype)
    est = SVR(kernel=kernel, C=50.0, degree=2).fit(Xa, ya / 100)
    check_regressor(est, X, **_kwargs(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nu_svc_and_nu_svr(dtype):
    from sklearn.svm import NuSVC, NuSVR

    Xa, ya, X = _scaled_split("iris", dtype)
    check_classifier(NuSVC(nu=0.3).fit(Xa, ya), X, **_kwargs(X))
    Xa, ya, X = _scaled_split("diabetes", dtype)
    check_regressor(NuSVR(nu=0.4).fit(Xa, ya / 100), X, **_kwargs(X))


# ---------------------------------------------------------------- what is refused


def test_unsupported_variants_raise():
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    Xa, ya, _ = _scaled_split("iris", np.float32)
    with pytest.raises(sc.UnsupportedOp, match="metric 'manhattan'"):
        sc.from_sklearn(KNeighborsClassifier(metric="manhattan").fit(Xa, ya))
    with pytest.raises(sc.UnsupportedOp, match="precomputed"):
        sc.from_sklearn(
            SVC(kernel="precomputed").fit(Xa @ Xa.T, ya), initial_types=[("x", np.float32, [None, len(Xa)])]
        )
    multilabel = np.stack([ya == 0, ya == 1], axis=1).astype(int)
    with pytest.raises(sc.UnsupportedOp, match="multilabel"):
        sc.from_sklearn(_fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=20), Xa, multilabel))
