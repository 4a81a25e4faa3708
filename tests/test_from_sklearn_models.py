"""sc.from_sklearn on SVMs, nearest neighbours, naive Bayes and MLPs: labels identical to
scikit-learn's, probabilities and predictions within 1e-5 (float32) / 1e-9 (float64), in
onnxruntime and sc.InferenceSession (see sklearn_oracle)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn_oracle import check_classifier, check_regressor, dataset

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
