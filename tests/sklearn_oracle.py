"""Shared checks of sc.from_sklearn against scikit-learn, run in onnxruntime and sc.InferenceSession.

Labels must equal sklearn's exactly; probabilities, decision values, regression and
transform outputs within `tol` (1e-5 for float32 inputs, 1e-9 for float64 by default,
relative to max(1, |expected|)).
"""

import numpy as np
import onnxruntime as ort
from sklearn import datasets

import swiftconv as sc

_DATASETS = {
    "iris": datasets.load_iris,
    "digits": datasets.load_digits,
    "breast_cancer": datasets.load_breast_cancer,
    "diabetes": datasets.load_diabetes,
}


def dataset(name, dtype=np.float32):
    """(X, y) of a scikit-learn toy dataset, X in `dtype`."""
    X, y = _DATASETS[name](return_X_y=True)
    return X.astype(dtype), y


def run_both(model, X):
    """{output name: array} from onnxruntime and from sc.InferenceSession on input X."""
    content = model.to_bytes()
    ours = sc.InferenceSession(content)
    theirs = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    name = theirs.get_inputs()[0].name
    names = [o.name for o in theirs.get_outputs()]
    return {
        "onnxruntime": dict(zip(names, theirs.run(None, {name: X}))),
        "swiftconv": dict(zip(names, ours.run(None, {name: X}))),
    }


def _tol(X, tol):
    return tol if tol is not None else (1e-9 if X.dtype == np.float64 else 1e-5)


def _close(got, want, tol, what):
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64).reshape(want.shape)
    scale = np.maximum(1.0, np.abs(want))
    worst = float(np.max(np.abs(got - want) / scale)) if want.size else 0.0
    assert worst <= tol, f"{what}: {worst:.3g} > {tol:.3g}"


def check_classifier(estimator, X, *, tol=None, zipmap=False, **kwargs):
    """Labels identical to estimator.predict(X), probabilities to predict_proba(X)."""
    model = sc.from_sklearn(estimator, zipmap=zipmap, **kwargs)
    tol = _tol(X, tol)
    want_label = estimator.predict(X)
    want_proba = estimator.predict_proba(X) if hasattr(estimator, "predict_proba") else None
    for runtime, out in run_both(model, X).items():
        label = out["output_label"]
        np.testing.assert_array_equal(label, want_label, err_msg=f"{runtime} labels")
        if want_proba is not None:
            proba = out["output_probability"]
            if zipmap:  # ZipMap's values are float (ONNX's ZipMap takes float only): float32 tolerance
                assert isinstance(proba, list) and all(isinstance(row, dict) for row in proba), type(proba)
                proba = np.array([[row[c] for c in estimator.classes_] for row in proba])
                _close(proba, want_proba, max(tol, 1e-5), f"{runtime} probabilities")
            else:
                _close(proba, want_proba, tol, f"{runtime} probabilities")
    return model


def check_regressor(estimator, X, *, tol=None, **kwargs):
    """'variable' equal to estimator.predict(X) as a column (or [N, targets])."""
    model = sc.from_sklearn(estimator, **kwargs)
    tol = _tol(X, tol)
    want = np.asarray(estimator.predict(X))
    want = want.reshape(len(X), -1)
    for runtime, out in run_both(model, X).items():
        _close(out["variable"], want, tol, f"{runtime} predictions")
    return model


def check_transformer(estimator, X, *, tol=None, **kwargs):
    """'variable' equal to estimator.transform(X)."""
    model = sc.from_sklearn(estimator, **kwargs)
    tol = _tol(X, tol)
    want = estimator.transform(X)
    want = want.toarray() if hasattr(want, "toarray") else np.asarray(want)
    for runtime, out in run_both(model, X).items():
        _close(out["variable"], want, tol, f"{runtime} transform")
    return model
