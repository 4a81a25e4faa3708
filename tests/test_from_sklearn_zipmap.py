"""Every classifier family with zipmap=True: 'output_probability' is skl2onnx's sequence of
maps {class: probability}, equal to predict_proba, and the labels stay sklearn's, in
onnxruntime and in sc.InferenceSession (float32 and float64 inputs; ZipMap itself is float)."""

import numpy as np
import pytest
from sklearn_oracle import check_classifier, dataset

pytest.importorskip("sklearn")
from sklearn.ensemble import (  # noqa: E402
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, SGDClassifier  # noqa: E402
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

CLASSIFIERS = {
    "logistic": lambda: LogisticRegression(max_iter=500),
    "sgd_log_loss": lambda: SGDClassifier(loss="log_loss", random_state=0),
    "decision_tree": lambda: DecisionTreeClassifier(max_depth=4, random_state=0),
    "random_forest": lambda: RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0),
    "extra_trees": lambda: ExtraTreesClassifier(n_estimators=8, max_depth=4, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=8, random_state=0),
    "svc_probability": lambda: SVC(probability=True, random_state=0),
    "k_neighbors": lambda: KNeighborsClassifier(n_neighbors=5),
    "gaussian_nb": GaussianNB,
    "multinomial_nb": MultinomialNB,
    "bernoulli_nb": lambda: BernoulliNB(binarize=5.0),
    "mlp": lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
    "scaled_logistic_pipeline": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
@pytest.mark.parametrize("labels", ["int", "str"])
def test_zipmap_probabilities(name, dtype, labels):
    X, y = dataset("iris", dtype)
    if name == "k_neighbors":
        # iris repeats points, so neighbours tie at the k-th distance, which sklearn breaks by
        # no fixed rule (see test_from_sklearn_models.py); a small jitter makes them distinct.
        X = (X + np.random.default_rng(0).normal(0, 1e-3, X.shape)).astype(dtype)
    if labels == "str":
        y = np.array(["setosa", "versicolor", "virginica"])[y]
    estimator = CLASSIFIERS[name]().fit(X, y)
    kwargs = {"initial_types": [("float_input", dtype, [None, X.shape[1]])]}
    check_classifier(estimator, X, zipmap=True, **kwargs)
    check_classifier(estimator, X, zipmap=False, **kwargs)
