"""scikit-learn -> ONNX: `from_sklearn` reads a fitted estimator and builds the ONNX graph
skl2onnx would, with its input and output names and meaning, through the shared
`GraphBuilder` (no skl2onnx needed).

Each estimator family has its own module that registers a converter per class with
`@converter("ClassName", ...)`. A converter gets the `Scope` (the builder, the element type,
the opsets) and its input value and returns an `Outputs`: for a classifier the int64 (or
string) labels [N] and the probabilities [N, C]; for a regressor or transformer one value.
Pipelines and column transformers compose converters.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from ... import helper
from ...errors import InvalidArgument, UnsupportedOp
from ..graph import GraphBuilder

DEFAULT_OPSET = 17
ML_OPSET = 3  # ai.onnx.ml: TreeEnsembleClassifier/Regressor v3 take double thresholds as tensors

_CONVERTERS: dict[str, object] = {}


def converter(*class_names):
    """Registers the decorated function as the converter of these estimator classes."""

    def register(fn):
        for name in class_names:
            _CONVERTERS[name] = fn
        return fn

    return register


@dataclass
class Outputs:
    """What a converter computed: `label` and `probabilities` for a classifier, `value` otherwise."""

    value: str | None = None
    label: str | None = None
    probabilities: str | None = None
    # The value's number of columns when known (a transformer feeding the next step).
    columns: int | None = None


@dataclass
class Scope:
    """What converters share: the builder, the element type of the computation (float32, or
    float64 when initial_types says double) and the opsets."""

    builder: GraphBuilder
    dtype: type
    target_opset: int
    options: dict = field(default_factory=dict)

    def constant(self, value, hint="const"):
        """A float constant in the computation's element type."""
        return self.builder.constant(np.asarray(value, dtype=self.dtype), hint)

    def int64(self, value, hint="const"):
        return self.builder.constant(np.asarray(value, dtype=np.int64), hint)

    def node(self, op_type, inputs, outputs=1, **kw):
        return self.builder.node(op_type, inputs, outputs, **kw)

    def labels_from_scores(self, scores: str, classes) -> str:
        """The label of each row: classes[argmax(scores, axis=1)], first maximum on ties (as numpy)."""
        index = self.node("ArgMax", [scores], axis=1, keepdims=0)
        return self.class_labels(index, classes)

    def class_labels(self, index: str, classes) -> str:
        """classes[index] for an int64 index value: int64 labels, or strings for string classes."""
        classes = np.asarray(classes)
        if classes.dtype.kind in "iub":
            if np.array_equal(classes, np.arange(len(classes))):
                return index
            return self.node("Gather", [self.int64(classes.astype(np.int64), "classes"), index], axis=0)
        if classes.dtype.kind in "US" or classes.dtype == object:
            table = self.builder.constant(np.asarray([str(c) for c in classes], dtype=object), "classes")
            return self.node("Gather", [table, index], axis=0)
        raise UnsupportedOp(f"[from_sklearn] class labels of dtype {classes.dtype} are not supported")


def convert_estimator(scope: Scope, estimator, x: str, columns: int | None) -> Outputs:
    """The converter registered for `estimator`'s class applied to value `x`."""
    name = type(estimator).__name__
    fn = _CONVERTERS.get(name)
    if fn is None:
        raise UnsupportedOp(f"[from_sklearn] no converter for {type(estimator).__module__}.{name}")
    return fn(scope, estimator, x, columns)


def _unknown_estimators(est, where: str) -> list[str]:
    """Every estimator in `est` (the steps of Pipelines, ColumnTransformers and FeatureUnions
    included) whose class has no converter, as 'Class (module) at <where>'."""
    if est is None or isinstance(est, str):  # 'drop', 'passthrough'
        return []
    name = type(est).__name__
    if name not in _CONVERTERS:
        return [f"{type(est).__module__}.{name} at {where}"]
    if name == "Pipeline":
        parts = [(f"step '{n}'", step) for n, step in est.steps]
    elif name == "ColumnTransformer":
        parts = [(f"transformer '{n}'", step) for n, step, _ in getattr(est, "transformers_", est.transformers)]
    elif name == "FeatureUnion":
        parts = [(f"transformer '{n}'", step) for n, step in est.transformer_list]
    else:
        return []
    return [u for label, step in parts for u in _unknown_estimators(step, f"{where} > {name} {label}")]


def _load_converters():
    # Imported for their @converter registrations.
    from . import _families  # noqa: F401


def _initial_type(initial_types, estimator):
    """(input name, numpy dtype, shape) from skl2onnx-style initial_types or the estimator."""
    if initial_types is None:
        n = getattr(estimator, "n_features_in_", None)
        if not isinstance(n, numbers.Integral):
            raise InvalidArgument("[from_sklearn] initial_types is needed: the estimator has no n_features_in_")
        return "float_input", np.float32, [None, int(n)]
    if not isinstance(initial_types, (list, tuple)) or len(initial_types) != 1:
        raise InvalidArgument("[from_sklearn] initial_types must be a list with one (name, type) entry")
    entry = initial_types[0]
    if not isinstance(entry, (list, tuple)) or len(entry) not in (2, 3) or not isinstance(entry[0], str):
        raise InvalidArgument("[from_sklearn] initial_types entries are (name, TensorType) or (name, dtype, shape)")
    if len(entry) == 3:
        name, dtype, shape = entry
        dtype = np.dtype(dtype).type
    else:
        name, tensor_type = entry
        kind = type(tensor_type).__name__
        dtype = {"FloatTensorType": np.float32, "DoubleTensorType": np.float64}.get(kind)
        if dtype is None:
            raise InvalidArgument(
                f"[from_sklearn] initial type {kind} is not supported (FloatTensorType, DoubleTensorType)"
            )
        shape = list(getattr(tensor_type, "shape", None) or [None, None])
    if dtype not in (np.float32, np.float64):
        raise InvalidArgument(f"[from_sklearn] input dtype must be float32 or float64, not {np.dtype(dtype).name}")
    shape = [d if isinstance(d, numbers.Integral) else None for d in shape]
    if len(shape) != 2:
        raise InvalidArgument(f"[from_sklearn] the input must have rank 2, not shape {shape}")
    if shape[1] is None:
        n = getattr(estimator, "n_features_in_", None)
        shape[1] = int(n) if isinstance(n, numbers.Integral) else None
    return name, dtype, shape


def _check_fitted(estimator):
    """InvalidArgument unless `estimator` is fitted, by scikit-learn's own rule (check_is_fitted):
    its __sklearn_is_fitted__() when it has one, else an attribute ending in '_' set by fit."""
    probe = getattr(estimator, "__sklearn_is_fitted__", None)
    if callable(probe):
        fitted = bool(probe())
    else:
        fitted = any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))
    if not fitted:
        raise InvalidArgument(f"[from_sklearn] this {type(estimator).__name__} is not fitted: call fit() first")


def from_sklearn(estimator, *, initial_types=None, target_opset=None, zipmap=False):
    """An ONNX sc.Model computing what the fitted scikit-learn `estimator` predicts.

    Outputs as skl2onnx names them: a classifier gives 'output_label' (int64, or string for
    string classes, [N]) and 'output_probability' (float [N, C]; with zipmap=True a sequence
    of maps {class: probability} as skl2onnx's ZipMap, whose values are float even for a
    double input); a regressor or transformer gives 'variable'. The input is 'float_input'
    [N, n_features_in_] unless initial_types says otherwise: skl2onnx's
    [('name', FloatTensorType([None, 4]))] (DoubleTensorType keeps float64 end to end) or
    [('name', np.float32, [None, 4])]. An estimator class without a converter raises
    UnsupportedOp naming it; an unfitted estimator InvalidArgument.
    """
    _load_converters()
    if not isinstance(zipmap, bool):
        raise InvalidArgument(f"[from_sklearn] zipmap must be a bool, not {type(zipmap).__name__}")
    if target_opset is None:
        target_opset = DEFAULT_OPSET
    if isinstance(target_opset, bool) or not isinstance(target_opset, numbers.Integral) or target_opset < 13:
        raise InvalidArgument(f"[from_sklearn] target_opset must be an int >= 13, not {target_opset!r}")
    _check_fitted(estimator)
    unknown = _unknown_estimators(estimator, "the top")
    if unknown:
        raise UnsupportedOp(f"[from_sklearn] no converter for {len(unknown)} estimator(s): " + "; ".join(unknown))
    name, dtype, shape = _initial_type(initial_types, estimator)
    n = getattr(estimator, "n_features_in_", None)
    if isinstance(n, numbers.Integral) and shape[1] is not None and shape[1] != n:
        raise InvalidArgument(f"[from_sklearn] initial_types gives {shape[1]} features, the estimator expects {n}")
    builder = GraphBuilder(type(estimator).__name__, {"": int(target_opset), "ai.onnx.ml": ML_OPSET})
    scope = Scope(builder, dtype, int(target_opset))
    x = builder.input(name, dtype, shape)
    out = convert_estimator(scope, estimator, x, shape[1])
    if out.label is not None:
        classes = np.asarray(estimator.classes_)
        label_dtype = object if classes.dtype.kind in "USO" else np.int64
        builder.output(out.label, "output_label", label_dtype, [None])
        if out.probabilities is None:
            raise UnsupportedOp(f"[from_sklearn] {type(estimator).__name__} has no probabilities to output")
        if zipmap:
            if classes.dtype.kind in "iub":
                attrs, key = {"classlabels_int64s": [int(c) for c in classes]}, "int64"
            else:
                attrs, key = {"classlabels_strings": [str(c) for c in classes]}, "string"
            proba = out.probabilities
            if dtype != np.float32:  # ZipMap takes float only (skl2onnx casts the same way)
                proba = scope.node("Cast", [proba], to=1)
            builder.reserve("output_probability")
            scope.node("ZipMap", [proba], ["output_probability"], domain="ai.onnx.ml", **attrs)
            builder._outputs.append(_sequence_of_maps_info("output_probability", key))
        else:
            builder.output(out.probabilities, "output_probability", dtype, [None, None])
    else:
        if zipmap:
            raise InvalidArgument(f"[from_sklearn] zipmap=True needs a classifier, not {type(estimator).__name__}")
        builder.output(out.value, "variable", dtype, [None, None])
    return builder.model(producer_name="swiftconv.from_sklearn")


def _sequence_of_maps_info(name, key):
    """ZipMap's output type: a sequence of maps from `key` ('int64' or 'string') to float."""
    return helper.make_typed_value_info(name, f"seq(map({key},tensor(float)))")
