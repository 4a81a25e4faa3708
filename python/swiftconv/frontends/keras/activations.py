"""Keras activation functions (the `activation=` argument of most layers, and the Activation
layer) and the activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax, ThresholdedReLU) as
ONNX ops. Keras 3 and tf_keras differ in one function: hard_sigmoid is relu6(x + 3) / 6 in
Keras 3 and clip(0.2 x + 0.5, 0, 1) in tf_keras."""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import LayerContext, Tensor, layer

# Keras' large negative for masked softmax entries (float32).
LARGE_NEGATIVE = -1e9


# Names a live tf_keras model serializes for activations that are TensorFlow functions.
_ALIASES = {"log_softmax_v2": "log_softmax", "softmax_v2": "softmax"}


def activation_name(spec) -> str:
    """The activation's name from its config spelling: a string, or a serialized function."""
    name = _spelled_name(spec)
    return _ALIASES.get(name, name)


def _spelled_name(spec) -> str:
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec.rsplit(">", 1)[-1]  # 'keras>relu' style registered names
    if isinstance(spec, dict):
        cfg = spec.get("config")
        if isinstance(cfg, str):
            return cfg
        if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
            return cfg["name"]
        name = spec.get("class_name")
        if isinstance(name, str) and name != "function":
            return name
    return repr(spec)


def gelu(ctx: LayerContext, x: str, approximate: bool = False) -> str:
    """Keras' gelu: exact x (1 + erf(x / sqrt 2)) / 2, or the tanh approximation."""
    half_x = ctx.node("Mul", [x, ctx.constant(0.5, "half")])
    if approximate:
        cube = ctx.node("Mul", [ctx.node("Mul", [x, x]), x])
        inner = ctx.node("Add", [x, ctx.node("Mul", [cube, ctx.constant(0.044715, "c")])])
        inner = ctx.node("Mul", [inner, ctx.constant(math.sqrt(2.0 / math.pi), "sqrt_2_pi")])
        one_plus = ctx.node("Add", [ctx.node("Tanh", [inner]), ctx.constant(1.0, "one")])
    else:
        scaled = ctx.node("Mul", [x, ctx.constant(1.0 / math.sqrt(2.0), "inv_sqrt2")])
        one_plus = ctx.node("Add", [ctx.node("Erf", [scaled]), ctx.constant(1.0, "one")])
    return ctx.node("Mul", [half_x, one_plus])


def hard_sigmoid(ctx: LayerContext, x: str) -> str:
    alpha = 0.2 if ctx.dialect == "tf_keras" else 1.0 / 6.0
    return ctx.node("HardSigmoid", [x], alpha=alpha, beta=0.5)


def softmax(ctx: LayerContext, x: str, axis: int) -> str:
    """Softmax over one axis (opset >= 13: the axis alone, not the flattened trailing ones)."""
    return ctx.node("Softmax", [x], axis=int(axis))


def relu(ctx: LayerContext, x: str, negative_slope=0.0, max_value=None, threshold=0.0) -> str:
    """Keras' relu(x, negative_slope, max_value, threshold) (the same in Keras 3 and tf_keras):
    x where x > threshold (else 0), clipped to [0, max_value] if given, minus
    negative_slope * relu(threshold - x)."""
    slope = float(negative_slope or 0.0)
    threshold = float(threshold or 0.0)
    if slope != 0.0 and max_value is None and threshold == 0.0:
        return ctx.node("LeakyRelu", [x], alpha=slope)
    if threshold == 0.0:
        pos = ctx.node("Relu", [x])
    else:
        keep = ctx.node("Greater", [x, ctx.constant(threshold, "threshold")])
        pos = ctx.node("Where", [keep, x, ctx.constant(0.0, "zero")])
    if max_value is not None:
        pos = ctx.node("Clip", [pos, ctx.constant(0.0, "zero"), ctx.constant(float(max_value), "max_value")])
    if slope == 0.0:
        return pos
    neg = ctx.node("Relu", [ctx.node("Sub", [ctx.constant(threshold, "threshold"), x])])
    return ctx.node("Sub", [pos, ctx.node("Mul", [neg, ctx.constant(slope, "slope")])])


def apply_activation(ctx: LayerContext, x: str, spec) -> str:
    """`x` through the Keras activation `spec`; UnsupportedOp for one we do not know."""
    name = activation_name(spec)
    if name in ("linear", "identity", None):
        return x
    simple = {
        "relu": "Relu",
        "sigmoid": "Sigmoid",
        "tanh": "Tanh",
        "elu": "Elu",
        "selu": "Selu",
        "softplus": "Softplus",
        "softsign": "Softsign",
        "exponential": "Exp",
    }
    if name in simple:
        return ctx.node(simple[name], [x])
    if name == "relu6":
        return ctx.node("Clip", [x, ctx.constant(0.0, "zero"), ctx.constant(6.0, "six")])
    if name == "leaky_relu":  # negative_slope (Keras 3) / alpha (tf_keras) 0.2 by default
        return ctx.node("LeakyRelu", [x], alpha=0.2)
    if name in ("swish", "silu"):
        return ctx.node("Mul", [x, ctx.node("Sigmoid", [x])])
    if name == "gelu":
        return gelu(ctx, x, approximate=False)
    if name == "hard_sigmoid":
        return hard_sigmoid(ctx, x)
    if name in ("hard_silu", "hard_swish"):
        return ctx.node("Mul", [x, ctx.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])
    if name == "softmax":
        return softmax(ctx, x, -1)
    if name == "log_softmax":
        return ctx.node("LogSoftmax", [x], axis=-1)
    if name == "mish":
        return ctx.node("Mul", [x, ctx.node("Tanh", [ctx.node("Softplus", [x])])])
    if name == "celu":
        return ctx.node("Celu", [x], alpha=1.0)
    if name == "hard_tanh":
        return ctx.node("Clip", [x, ctx.constant(-1.0, "minus_one"), ctx.constant(1.0, "one")])
    if name == "tanh_shrink":
        return ctx.node("Sub", [x, ctx.node("Tanh", [x])])
    if name == "log_sigmoid":  # -softplus(-x)
        return ctx.node("Neg", [ctx.node("Softplus", [ctx.node("Neg", [x])])])
    if name == "squareplus":  # (x + sqrt(x^2 + 4)) / 2
        root = ctx.node("Sqrt", [ctx.node("Add", [ctx.node("Mul", [x, x]), ctx.constant(4.0, "b")])])
        return ctx.node("Mul", [ctx.node("Add", [x, root]), ctx.constant(0.5, "half")])
    if name in ("soft_shrink", "hard_shrink"):
        outside = ctx.node("Greater", [ctx.node("Abs", [x]), ctx.constant(0.5, "threshold")])
        value = x
        if name == "soft_shrink":
            value = ctx.node("Sub", [x, ctx.node("Mul", [ctx.node("Sign", [x]), ctx.constant(0.5, "threshold")])])
        return ctx.node("Where", [outside, value, ctx.constant(0.0, "zero")])
    ctx.fail(f"activation {name!r} is not supported")


def _number(ctx: LayerContext, key: str, default, allow_none: bool = False):
    value = ctx.config.get(key, default)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        ctx.fail(f"{key}={value!r} must be a finite number")
    return float(value)


def axis_of(ctx: LayerContext, axis, rank: int) -> int:
    """A Keras axis (negative counts from the end) as a non-negative int below `rank`."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -rank <= axis < rank:
        ctx.fail(f"axis {axis!r} is out of range for a rank-{rank} input")
    return int(axis) % rank


@layer("Activation")
def activation_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    return x.like(ctx.activation(x.value, ctx.config.get("activation")))


@layer("ReLU")
def relu_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    slope = _number(ctx, "negative_slope", 0.0)
    max_value = _number(ctx, "max_value", None, allow_none=True)
    threshold = _number(ctx, "threshold", 0.0)
    return x.like(relu(ctx, x.value, slope, max_value, threshold))


@layer("LeakyReLU")
def leaky_relu_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    # Keras 3 names the slope negative_slope, tf_keras alpha; 0.3 by default in both.
    key = "negative_slope" if "negative_slope" in ctx.config else "alpha"
    return x.like(ctx.node("LeakyRelu", [x.value], alpha=_number(ctx, key, 0.3)))


@layer("ELU")
def elu_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    return x.like(ctx.node("Elu", [x.value], alpha=_number(ctx, "alpha", 1.0)))


@layer("ThresholdedReLU")
def thresholded_relu_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    theta = _number(ctx, "theta", 1.0)
    keep = ctx.node("Greater", [x.value, ctx.constant(theta, "theta")])
    return x.like(ctx.node("Where", [keep, x.value, ctx.constant(0.0, "zero")]))


@layer("PReLU")
def prelu_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    (alpha,) = ctx.weights_count(1)
    alpha = np.asarray(alpha, np.float32)
    if alpha.ndim != x.rank - 1 or any(d is not None and a not in (1, d) for a, d in zip(alpha.shape, x.shape[1:])):
        ctx.fail(f"alpha of shape {alpha.shape} does not fit an input of shape {x.shape}")
    # relu(x) - alpha * relu(-x): PRelu with the slope broadcast over the batch.
    return x.like(ctx.node("PRelu", [x.value, ctx.constant(alpha, "alpha")]))


@layer("Softmax")
def softmax_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = inputs[0]
    axis = ctx.config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        axes = sorted({axis_of(ctx, a, x.rank) for a in axis})
    else:
        axes = [axis_of(ctx, axis, x.rank)]
    mask = ctx.kwargs.get("mask")
    if mask is not None and not isinstance(mask, Tensor):
        ctx.fail("a mask that is not a tensor is not supported")
    value = x.value
    keep = None
    if mask is not None:
        if mask.rank > x.rank:
            ctx.fail(f"a mask of rank {mask.rank} does not broadcast to an input of rank {x.rank}")
        keep = mask.value
        if mask.dtype is not np.bool_:
            keep = ctx.node("Greater", [mask.value, ctx.constant(0.5, "half", dtype=mask.dtype)])
        if ctx.dialect == "tf_keras":  # x + (1 - mask) * -1e9
            adder = ctx.node("Where", [keep, ctx.constant(0.0, "zero"), ctx.constant(LARGE_NEGATIVE, "large_neg")])
            value = ctx.node("Add", [value, adder])
        else:  # where(mask, x, -1e9)
            value = ctx.node("Where", [keep, value, ctx.constant(LARGE_NEGATIVE, "large_neg")])
    if len(axes) == 1:
        out = softmax(ctx, value, axes[0])
    else:  # exp(x - logsumexp(x, axes))
        from .ops import reduce

        shifted = ctx.node("Exp", [ctx.node("Sub", [value, reduce(ctx, "ReduceMax", value, axes)])])
        out = ctx.node("Div", [shifted, reduce(ctx, "ReduceSum", shifted, axes)])
    if keep is not None and ctx.dialect != "tf_keras":  # Keras 3 zeroes the masked entries
        out = ctx.node("Where", [keep, out, ctx.constant(0.0, "zero")])
    return x.like(out)
