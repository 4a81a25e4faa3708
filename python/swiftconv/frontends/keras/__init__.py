"""Keras -> ONNX: `from_keras` reads a Keras model's architecture (its config) and weights and
builds the ONNX graph through the shared `GraphBuilder`, without TensorFlow or Keras.

The graph keeps Keras' layout: inputs and outputs are channels-last as in Keras. Layers that
ONNX defines channels-first (Conv, pooling) are wrapped in Transposes, which the optimizer
then merges and cancels across layers (`sc.optimize(level='all')`), and which the ONNX ->
TFLite lowering removes entirely, so `sc.convert(keras_model, 'tflite')` is NHWC end to end.

Each layer family has its own module that registers a converter per class name with
`@layer("ClassName", ...)`. A converter gets a `LayerContext` (the layer's config, weights,
call arguments and the builder) and the layer's input `Tensor`s, and returns its output
`Tensor` (or a list of them). Keras 3 operations called on tensors (`x + y`) register as
`@layer("ops.Add")`. The config walker (`_walk.py`) handles Functional and
Sequential models, nested models and shared layers; `_source.py` reads the files.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace

import numpy as np

from ...errors import InvalidArgument, UnsupportedOp
from ..graph import GraphBuilder

DEFAULT_OPSET = 13

_CONVERTERS: dict[str, object] = {}

# Classes whose Python code is not in the config: always unsupported, with this reason.
_OPAQUE = {
    "Lambda": "a Lambda layer's Python function cannot be read from the model",
    "TFOpLambda": "a TensorFlow op called on a Keras tensor is not converted",
}


def layer(*class_names):
    """Registers the decorated function as the converter of these Keras layer classes."""

    def register(fn):
        for name in class_names:
            _CONVERTERS[name] = fn
        return fn

    return register


@dataclass(frozen=True)
class Tensor:
    """A Keras tensor in the ONNX graph: its value name, Keras shape (batch first, None where
    unknown), element type, and the Keras mask it carries (a bool [batch, time] value)."""

    value: str
    shape: tuple
    dtype: type = np.float32
    mask: str | None = None

    @property
    def rank(self) -> int:
        return len(self.shape)

    def like(self, value: str, shape=None, dtype=None) -> Tensor:
        """A tensor computed from this one, keeping its mask (Keras' default mask propagation)."""
        return replace(
            self, value=value, shape=self.shape if shape is None else tuple(shape), dtype=dtype or self.dtype
        )


@dataclass
class LayerContext:
    """What a layer converter works with: the layer's class, name and config, the call's other
    arguments (`kwargs`, tensors already resolved to `Tensor`), its weights and the builder."""

    builder: GraphBuilder
    opset: int
    class_name: str
    name: str
    config: dict
    kwargs: dict
    dialect: str  # 'keras3' or 'tf_keras': whose semantics the config's names have
    # The call's positional arguments as written (tensors as `Tensor`, constants as they are):
    # a Keras 3 operation such as `x * 0.5` has its constant here.
    args: list = field(default_factory=list)
    _weights: object = None
    _cache: dict = field(default_factory=dict)

    def weights(self) -> list[np.ndarray]:
        """The layer's arrays in `layer.get_weights()` order."""
        if "w" not in self._cache:
            self._cache["w"] = list(self._weights())
        return self._cache["w"]

    def weights_count(self, *counts: int) -> list[np.ndarray]:
        """The weights, checked to be one of `counts` arrays long (a malformed file otherwise)."""
        w = self.weights()
        if len(w) not in counts:
            raise InvalidArgument(
                f"[from_keras] layer '{self.name}' ({self.class_name}) has {len(w)} weight arrays, expected "
                + " or ".join(str(c) for c in counts)
            )
        return w

    def fail(self, what: str):
        """UnsupportedOp naming this layer: a configuration we do not convert."""
        raise UnsupportedOp(f"[from_keras] layer '{self.name}' ({self.class_name}): {what}")

    def unique(self, hint: str | None = None) -> str:
        return self.builder.unique(hint or f"{self.name}/out")

    def node(self, op_type, inputs, outputs=1, **attrs):
        if isinstance(outputs, int):
            outputs = [self.builder.unique(f"{self.name}/{op_type}") for _ in range(outputs)]
        return self.builder.node(op_type, inputs, outputs, name=self.builder.unique(f"{self.name}/{op_type}"), **attrs)

    def constant(self, value, hint: str = "const", dtype=np.float32) -> str:
        return self.builder.constant(np.asarray(value, dtype=dtype), f"{self.name}/{hint}")

    def int64(self, value, hint: str = "const") -> str:
        return self.builder.constant(np.asarray(value, dtype=np.int64), f"{self.name}/{hint}")

    def transpose(self, value: str, perm) -> str:
        return self.node("Transpose", [value], perm=list(perm))

    def reshape(self, value: str, shape) -> str:
        """Reshape to `shape` (ONNX rules: 0 copies the input dim, -1 is inferred)."""
        return self.node("Reshape", [value, self.int64(list(shape), "shape")])

    def squeeze(self, value: str, axes) -> str:
        if self.opset >= 13:
            return self.node("Squeeze", [value, self.int64(list(axes), "axes")])
        return self.node("Squeeze", [value], axes=list(axes))

    def unsqueeze(self, value: str, axes) -> str:
        if self.opset >= 13:
            return self.node("Unsqueeze", [value, self.int64(list(axes), "axes")])
        return self.node("Unsqueeze", [value], axes=list(axes))

    def activation(self, value: str, spec) -> str:
        """`value` through the Keras activation `spec` (a name or a serialized function)."""
        from .activations import apply_activation

        return apply_activation(self, value, spec)

    def get(self, key, default=None):
        """A config entry (None entries read as `default`)."""
        v = self.config.get(key, default)
        return default if v is None else v


def static_size(shape) -> int | None:
    """The product of `shape`'s dims, or None if one is unknown."""
    if any(d is None for d in shape):
        return None
    return math.prod(shape)


def as_tuple(value, n: int, what: str, ctx: LayerContext) -> tuple:
    """A Keras int-or-tuple argument (kernel_size, strides, ...) as an n-tuple of ints."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, numbers.Integral) for v in value):
        ctx.fail(f"{what} must be {n} integers, not {value!r}")
    return tuple(int(v) for v in value)


def _load_converters():
    # Imported for their @layer registrations.
    from . import _families  # noqa: F401


def from_keras(model_or_path, *, opset=DEFAULT_OPSET, input_signature=None, output_path=None):
    """An ONNX sc.Model computing what the Keras model computes (API.md section 4).

    `model_or_path`: a live keras.Model (Keras 3 or tf_keras; functional or Sequential, or a
    subclassed model whose get_config() gives a functional graph), a `.keras` file or a
    legacy `.h5` file. Files need neither TensorFlow nor Keras; their weights need h5py
    (`pip install 'swiftconv[keras]'`). The inputs keep the Keras input names, shapes and
    dtypes, in the model's order; `input_signature` (one entry per input: a shape, a
    (shape, dtype) pair, or an object with .shape/.dtype like tf.TensorSpec) overrides them.
    Outputs are named after the layers that produce them. Every layer without a converter
    (Lambda, custom layers) is named in one UnsupportedOp; nothing is written then.
    With `output_path` the model is also saved there.
    """
    from ...model import _fspath
    from ...optimize import optimize
    from ._source import open_source
    from ._walk import build_graph

    _load_converters()
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) or not 13 <= opset <= 21:
        raise InvalidArgument(f"[from_keras] opset must be an int from 13 to 21, not {opset!r}")
    path = None if output_path is None else _fspath(output_path, "from_keras")
    source = open_source(model_or_path)
    try:
        builder = GraphBuilder("keras", {"": int(opset)})
        build_graph(source, builder, int(opset), input_signature, _CONVERTERS, _OPAQUE)
        model = builder.model(producer_name="swiftconv.from_keras")
    finally:
        source.close()
    model = optimize(model, "all")
    if path is not None:
        model.save(path)
    return model
