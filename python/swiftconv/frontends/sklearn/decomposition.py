"""PCA, IncrementalPCA and TruncatedSVD: MatMul by components_.T, as skl2onnx.

PCA centres by mean_ first; whiten=True divides by sqrt(explained_variance_) (computed here
in float64, then stored in the computation's type).
"""

from __future__ import annotations

import numpy as np

from . import Outputs, Scope, converter


@converter("PCA", "IncrementalPCA")
def convert_pca(scope: Scope, est, x: str, columns):
    components = np.asarray(est.components_, np.float64)
    mean = getattr(est, "mean_", None)
    if mean is not None:
        x = scope.node("Sub", [x, scope.constant(np.asarray(mean, np.float64), "mean")])
    value = scope.node("MatMul", [x, scope.constant(components.T, "components")])
    if est.whiten:
        root = np.sqrt(np.asarray(est.explained_variance_, np.float64))
        value = scope.node("Div", [value, scope.constant(root, "explained_std")])
    return Outputs(value=value, columns=components.shape[0])


@converter("TruncatedSVD")
def convert_truncated_svd(scope: Scope, est, x: str, columns):
    components = np.asarray(est.components_, np.float64)
    value = scope.node("MatMul", [x, scope.constant(components.T, "components")])
    return Outputs(value=value, columns=components.shape[0])
