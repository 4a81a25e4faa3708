"""SVC, NuSVC, SVR and NuSVR.

Decision values and regression outputs are libsvm's sums Σ coef · k(x, sv) + intercept, built
in double with standard ops (MatMul for the dot products, ReduceSum norms and Exp for rbf, Pow,
Tanh), also for a float32 model (cast back at the end), as scikit-learn computes in double:
ai.onnx.ml SVMRegressor / SVMClassifier compute in float, 1e-3 off on an SVR with large dual
coefficients. The label is the one-vs-one vote winner (ties: the first class), as SVC.predict.

'output_probability' without probability=True holds skl2onnx's scores: the ovr values of
decision_function_shape='ovr' (sklearn's _ovr_decision_function in standard ops), the
C(C-1)/2 one-vs-one values for 'ovo', [d, -d] for two classes (d = decision_function).

probability=True: a float32 model uses ai.onnx.ml SVMClassifier with skl2onnx's attributes (a
binary SVC negates dual_coef_ and intercept_ back to libsvm's sign; prob_a/prob_b make the op
compute libsvm's Platt-scaled pairwise probabilities and their coupling in float: measured
within 1e-5 of predict_proba on iris, digits and breast_cancer for the four kernels; labels are
the op's float votes). A float64 model computes them in double (`_coupled_probabilities`: the
Platt sigmoid, then libsvm's multiclass_probability iterations as a Loop), ~1e-14 of sklearn.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ... import helper
from ...errors import UnsupportedOp
from ..graph import GraphBuilder
from . import Outputs, converter
from ._reduce import back, in_double, reduce

_KERNELS = ("linear", "poly", "rbf", "sigmoid")


def _check(estimator):
    kernel = estimator.kernel
    if not isinstance(kernel, str) or kernel not in _KERNELS:
        raise UnsupportedOp(f"[from_sklearn] {type(estimator).__name__} with kernel {kernel!r} is not supported")
    if getattr(estimator, "_sparse", False):
        raise UnsupportedOp(f"[from_sklearn] {type(estimator).__name__} fitted on sparse data is not supported")


def _common_attributes(estimator):
    sv = np.asarray(estimator.support_vectors_, np.float64)
    return {
        "kernel_type": estimator.kernel.upper(),
        "kernel_params": [float(estimator._gamma), float(estimator.coef0), float(estimator.degree)],
        "support_vectors": sv.astype(np.float32).ravel().tolist(),
    }


def _kernel_matrix(scope, estimator, x):
    """k(x, support vector) [N, V] in the scope's type, computed as libsvm does."""
    sv = np.asarray(estimator.support_vectors_, np.float64)
    gamma, coef0, degree = float(estimator._gamma), float(estimator.coef0), estimator.degree
    if estimator.kernel == "rbf":
        x_norms = reduce(scope, "ReduceSum", scope.node("Mul", [x, x]), [1], keepdims=1)
        cross = scope.node("MatMul", [x, scope.constant(-2.0 * sv.T, "support_vectors_t")])
        squared = scope.node(
            "Add", [scope.node("Add", [cross, x_norms]), scope.constant((sv * sv).sum(axis=1), "sv_norms")]
        )
        squared = scope.node("Max", [squared, scope.constant(0.0, "zero")])
        return scope.node("Exp", [scope.node("Mul", [squared, scope.constant(-gamma, "neg_gamma")])])
    dot = scope.node("MatMul", [x, scope.constant(sv.T, "support_vectors_t")])
    if estimator.kernel == "linear":
        return dot
    inner = scope.node(
        "Add", [scope.node("Mul", [dot, scope.constant(gamma, "gamma")]), scope.constant(coef0, "coef0")]
    )
    if estimator.kernel == "sigmoid":
        return scope.node("Tanh", [inner])
    return scope.node("Pow", [inner, scope.constant(float(degree), "degree")])


def _pair_weights(estimator):
    """[V, P] weights and [P] intercepts of libsvm's one-vs-one decision values (positive: class i
    of pair (i, j)), from sklearn's dual_coef_ [C-1, V] and intercept_ (sign flipped back for
    two classes, as sklearn flips them after fitting)."""
    dual = np.asarray(estimator.dual_coef_, np.float64)
    intercept = np.asarray(estimator.intercept_, np.float64)
    counts = np.asarray(estimator.n_support_)
    n = len(counts)
    if n == 2:
        dual, intercept = -dual, -intercept
    starts = np.concatenate([[0], np.cumsum(counts)])
    weights = np.zeros((dual.shape[1], n * (n - 1) // 2))
    k = 0
    for i in range(n):
        for j in range(i + 1, n):
            weights[starts[i] : starts[i + 1], k] = dual[j - 1, starts[i] : starts[i + 1]]
            weights[starts[j] : starts[j + 1], k] = dual[i, starts[j] : starts[j + 1]]
            k += 1
    return weights, intercept


def _pairs(n):
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _ovr(scope, dec, n):
    """sklearn's _ovr_decision_function(dec < 0, -dec, n) of libsvm decision values [N, P]."""
    pairs = _pairs(n)
    first = np.zeros((len(pairs), n))
    second = np.zeros((len(pairs), n))
    for k, (i, j) in enumerate(pairs):
        first[k, i] = 1
        second[k, j] = 1
    to = 11 if scope.dtype == np.float64 else 1
    pred = scope.node("Cast", [scope.node("Less", [dec, scope.constant(0.0, "zero")])], to=to)
    not_pred = scope.node("Sub", [scope.constant(1.0, "one"), pred])
    votes = scope.node(
        "Add",
        [
            scope.node("MatMul", [not_pred, scope.constant(first, "vote_i")]),
            scope.node("MatMul", [pred, scope.constant(second, "vote_j")]),
        ],
    )
    # sum_of_confidences with confidences = -dec: -(-dec) for i, +(-dec) for j.
    conf = scope.node("MatMul", [dec, scope.constant(first - second, "confidence")])
    scaled = scope.node(
        "Div",
        [
            conf,
            scope.node(
                "Mul",
                [
                    scope.node("Add", [scope.node("Abs", [conf]), scope.constant(1.0, "one")]),
                    scope.constant(3.0, "three"),
                ],
            ),
        ],
    )
    return scope.node("Add", [votes, scaled])


def _class_attributes(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return {"classlabels_ints": [int(c) for c in classes]}
    return {"classlabels_strings": [str(c) for c in classes]}


def _platt(estimator):
    """libsvm's Platt coefficients (empty without probability=True); the private attributes
    avoid scikit-learn 1.9's deprecation warning on probA_/probB_."""
    a = getattr(estimator, "_probA", None)
    b = getattr(estimator, "_probB", None)
    if a is None or b is None:
        a, b = estimator.probA_, estimator.probB_
    return np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()


def _svm_classifier_op(scope, estimator, x):
    """(label, Z) of ai.onnx.ml SVMClassifier with skl2onnx's attributes."""
    attrs = _common_attributes(estimator)
    dual = np.asarray(estimator.dual_coef_, np.float64)
    intercept = np.asarray(estimator.intercept_, np.float64)
    if len(estimator.classes_) == 2:
        dual, intercept = -dual, -intercept
    attrs["coefficients"] = dual.astype(np.float32).ravel().tolist()
    attrs["rho"] = intercept.astype(np.float32).tolist()
    prob_a, prob_b = _platt(estimator)
    if len(prob_a) > 0:
        attrs["prob_a"] = np.asarray(prob_a, np.float32).tolist()
        attrs["prob_b"] = np.asarray(prob_b, np.float32).tolist()
    attrs["vectors_per_class"] = [int(c) for c in estimator.n_support_]
    attrs["post_transform"] = "NONE"
    attrs.update(_class_attributes(estimator.classes_))
    if scope.dtype != np.float32:
        x = scope.node("Cast", [x], to=1)
    return scope.node("SVMClassifier", [x], 2, domain="ai.onnx.ml", **attrs)


@converter("SVC", "NuSVC")
def convert_svc(scope, estimator, x, columns):
    _check(estimator)
    classes = np.asarray(estimator.classes_)
    n = len(classes)
    probability = len(_platt(estimator)[0]) > 0
    ovr = getattr(estimator, "decision_function_shape", "ovr") == "ovr" and n > 2
    if probability and scope.dtype == np.float32:
        label, z = _svm_classifier_op(scope, estimator, x)
        return Outputs(label=label, probabilities=z)
    scope, x = in_double(scope, x)
    # Without probabilities: libsvm's decision values and votes in double.
    weights, intercept = _pair_weights(estimator)
    kernel = _kernel_matrix(scope, estimator, x)
    dec = scope.node(
        "Add",
        [
            scope.node("MatMul", [kernel, scope.constant(weights, "pair_weights")]),
            scope.constant(intercept, "intercept"),
        ],
    )
    if n == 2:
        # One pair: libsvm's value (-decision_function) > 0 votes class 0; skl2onnx's scores are
        # [decision_function, -decision_function].
        label_index = scope.node(
            "Cast",
            [
                scope.node(
                    "Squeeze", [scope.node("LessOrEqual", [dec, scope.constant(0.0, "zero")]), scope.int64([1], "axes")]
                )
            ],
            to=7,
        )
        scores = scope.node("Concat", [scope.node("Neg", [dec]), dec], axis=1)
        if probability:
            scores = _coupled_probabilities(scope, dec, estimator)
        return Outputs(label=scope.class_labels(label_index, classes), probabilities=back(scope, scores))
    pairs = _pairs(n)
    first = np.zeros((len(pairs), n))
    second = np.zeros((len(pairs), n))
    for k, (i, j) in enumerate(pairs):
        first[k, i] = 1
        second[k, j] = 1
    win = scope.node("Cast", [scope.node("Greater", [dec, scope.constant(0.0, "zero")])], to=11)
    lose = scope.node("Sub", [scope.constant(1.0, "one"), win])
    votes = scope.node(
        "Add",
        [
            scope.node("MatMul", [win, scope.constant(first, "vote_i")]),
            scope.node("MatMul", [lose, scope.constant(second, "vote_j")]),
        ],
    )
    label = scope.labels_from_scores(votes, classes)
    if probability:
        return Outputs(label=label, probabilities=back(scope, _coupled_probabilities(scope, dec, estimator)))
    return Outputs(label=label, probabilities=back(scope, _ovr(scope, dec, n) if ovr else dec))


@converter("SVR", "NuSVR")
def convert_svr(scope, estimator, x, columns):
    _check(estimator)
    dual = np.asarray(estimator.dual_coef_, np.float64).ravel()
    intercept = np.asarray(estimator.intercept_, np.float64)
    scope, x = in_double(scope, x)
    kernel = _kernel_matrix(scope, estimator, x)
    value = scope.node(
        "Add",
        [
            scope.node("MatMul", [kernel, scope.constant(dual.reshape(-1, 1), "dual_coef")]),
            scope.constant(intercept, "intercept"),
        ],
    )
    return Outputs(value=back(scope, value), columns=1)


def _coupled_probabilities(scope, dec, estimator):
    """libsvm's svm_predict_probability in double: Platt-scaled pairwise probabilities
    r_ij = clip(1 / (1 + exp(A d + B)), 1e-7, 1 - 1e-7) of the decision values `dec` [N, P],
    then multiclass_probability's coordinate iterations (Wu, Lin and Weng's method 2), per row
    until max |Qp - pQp| < 0.005 / n or max(100, n) iterations, as a Loop over the whole batch
    whose finished rows stay frozen."""
    n = len(estimator.classes_)
    prob_a, prob_b = _platt(estimator)
    fapb = scope.node(
        "Add", [scope.node("Mul", [dec, scope.constant(prob_a, "prob_a")]), scope.constant(prob_b, "prob_b")]
    )
    r = scope.node(
        "Div", [scope.constant(1.0, "one"), scope.node("Add", [scope.constant(1.0, "one"), scope.node("Exp", [fapb])])]
    )
    r = scope.node("Clip", [r, scope.constant(1e-7, "min_prob"), scope.constant(1 - 1e-7, "max_prob")])  # [N, P]
    # Q[t][t] = Σ_{j≠t} r_jt², Q[t][j] = -r_jt r_tj with r_ji = 1 - r_ij: linear in r and r².
    pairs = _pairs(n)
    diag_sq = np.zeros((len(pairs), n * n))  # coefficient of r_k² in Q
    diag_lin = np.zeros((len(pairs), n * n))  # of r_k
    diag_const = np.zeros(n * n)
    for k, (i, j) in enumerate(pairs):
        # r_ij = r_k, r_ji = 1 - r_k. Q[j][j] += r_ij²; Q[i][i] += r_ji² = 1 - 2 r_k + r_k².
        diag_sq[k, j * n + j] += 1
        diag_sq[k, i * n + i] += 1
        diag_lin[k, i * n + i] -= 2
        diag_const[i * n + i] += 1
        # Q[i][j] = Q[j][i] = -r_ji r_ij = -(r_k - r_k²)
        for a, b in ((i, j), (j, i)):
            diag_lin[k, a * n + b] -= 1
            diag_sq[k, a * n + b] += 1
    q = scope.node(
        "Add",
        [
            scope.node(
                "Add",
                [
                    scope.node("MatMul", [scope.node("Mul", [r, r]), scope.constant(diag_sq, "q_square")]),
                    scope.node("MatMul", [r, scope.constant(diag_lin, "q_linear")]),
                ],
            ),
            scope.constant(diag_const, "q_const"),
        ],
    )
    q = scope.node("Reshape", [q, scope.int64([-1, n, n], "q_shape")])  # [N, n, n]
    rows = scope.node("Slice", [scope.node("Shape", [dec]), scope.int64([0], "zero_i"), scope.int64([1], "one_i")])
    p0 = scope.node(
        "Expand",
        [scope.constant(np.full((1, n), 1.0 / n), "p0"), scope.node("Concat", [rows, scope.int64([n], "n")], axis=0)],
    )
    done0 = scope.node(
        "Expand",
        [
            scope.builder.constant(np.zeros((1, 1), bool), "done0"),
            scope.node("Concat", [rows, scope.int64([1], "one_i")], axis=0),
        ],
    )
    # Outer-scope constants the body uses.
    eps = scope.constant(0.005 / n, "eps")
    one = scope.constant(1.0, "one")
    two = scope.constant(2.0, "two")
    axes1 = scope.int64([1], "axes")
    axes2 = scope.int64([2], "axes")
    index = [scope.int64([t], f"t{t}") for t in range(n)]
    onehot = [scope.constant(np.eye(n)[t][None, :], f"e{t}") for t in range(n)]
    q_rows = [scope.node("Gather", [q, index[t]], axis=1) for t in range(n)]  # [N, 1, n]
    q_rows = [scope.node("Squeeze", [row, axes1]) for row in q_rows]  # [N, n]
    q_diag = [scope.node("Gather", [q_rows[t], index[t]], axis=1) for t in range(n)]  # [N, 1]

    body = GraphBuilder("multiclass_probability", scope.builder.opsets)
    body._names = scope.builder._names
    b = dataclasses.replace(scope, builder=body)

    def fresh(hint):
        # A model-wide unique name, left free for input()/output() to reserve.
        name = body.unique(hint)
        body._names.discard(name)
        return name

    body.input(fresh("iteration"), np.int64, [])  # Loop's iteration number and condition are scalars
    body.input(fresh("cond_in"), np.bool_, [])
    p_in = body.input(fresh("p_in"), np.float64, [None, n])
    done_in = body.input(fresh("done_in"), np.bool_, [None, 1])

    def qp_of(p):
        return b.node("Squeeze", [b.node("MatMul", [q, b.node("Unsqueeze", [p, axes2])]), axes2])  # [N, n]

    qp = qp_of(p_in)
    pqp = reduce(b, "ReduceSum", b.node("Mul", [p_in, qp]), [1], keepdims=1)  # [N, 1]
    error = reduce(b, "ReduceMax", b.node("Abs", [b.node("Sub", [qp, pqp])]), [1], keepdims=1)
    done = b.node("Or", [done_in, b.node("Less", [error, eps])])
    p = p_in
    for t in range(n):
        qp_t = b.node("Gather", [qp, index[t]], axis=1)  # [N, 1]
        diff = b.node("Div", [b.node("Sub", [pqp, qp_t]), q_diag[t]])
        p = b.node("Add", [p, b.node("Mul", [diff, onehot[t]])])
        grow = b.node("Add", [one, diff])
        pqp = b.node(
            "Div",
            [
                b.node(
                    "Add",
                    [
                        pqp,
                        b.node(
                            "Mul", [diff, b.node("Add", [b.node("Mul", [diff, q_diag[t]]), b.node("Mul", [two, qp_t])])]
                        ),
                    ],
                ),
                b.node("Mul", [grow, grow]),
            ],
        )
        qp = b.node("Div", [b.node("Add", [qp, b.node("Mul", [diff, q_rows[t]])]), grow])
        p = b.node("Div", [p, grow])
    p_out = b.node("Where", [done, p_in, p])
    more = b.node(
        "Not", [b.node("Cast", [reduce(b, "ReduceMin", b.node("Cast", [done], to=6), [0, 1], keepdims=0)], to=9)]
    )
    body.output(more, fresh("cond_out"), np.bool_, [])
    body.output(p_out, fresh("p_out"), np.float64, [None, n])
    body.output(done, fresh("done_out"), np.bool_, [None, 1])
    graph = helper.make_graph(body._nodes, body.name, body._inputs, body._outputs, initializer=body._initializers)
    trips = scope.int64(max(100, n), "max_iter")
    keep_going = scope.builder.constant(np.asarray(True), "keep_going")
    p, _ = scope.node("Loop", [trips, keep_going, p0, done0], 2, body=graph)
    return p
