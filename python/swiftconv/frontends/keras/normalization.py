"""Normalization layers: BatchNormalization (inference: the moving statistics, folded into
one scale and shift), LayerNormalization (ONNX LayerNormalization from opset 17 when it
normalizes the trailing axes, else decomposed the way Keras computes it), GroupNormalization
and UnitNormalization."""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import LayerContext, Tensor, layer
from .activations import axis_of
from .ops import reduce


def _axes(ctx: LayerContext, rank: int, default=-1) -> list[int]:
    """The config's `axis` (an int, or a list as tf_keras writes it) as sorted axes > 0."""
    axis = ctx.config.get("axis", default)
    if axis is None:
        axis = default
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if not axes:
        ctx.fail("axis is empty")
    out = sorted({axis_of(ctx, a, rank) for a in axes})
    if 0 in out:
        ctx.fail("normalizing over the batch axis is not supported")
    return out


def _epsilon(ctx: LayerContext, default: float) -> float:
    eps = ctx.config.get("epsilon", default)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not math.isfinite(eps) or eps < 0:
        ctx.fail(f"epsilon={eps!r} must be a non-negative number")
    return float(eps)


def _param_shape(ctx: LayerContext, x: Tensor, axes: list[int]) -> tuple:
    dims = tuple(x.shape[a] for a in axes)
    if any(d is None for d in dims):
        ctx.fail(f"the normalized axes {axes} of shape {x.shape} must be known")
    return dims


def _broadcast(ctx: LayerContext, array, x: Tensor, axes: list[int], what: str) -> np.ndarray:
    """A parameter of the axes' shape reshaped to broadcast against x (1 on the other axes)."""
    array = np.asarray(array, np.float32)
    dims = _param_shape(ctx, x, axes)
    if array.size != math.prod(dims):
        ctx.fail(f"{what} of shape {array.shape} does not fit axes {axes} of an input of shape {x.shape}")
    shape = [1] * x.rank
    for a, d in zip(axes, dims):
        shape[a] = d
    return array.reshape(shape)


@layer("BatchNormalization")
def batch_normalization(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    if ctx.config.get("renorm"):
        ctx.fail("renorm=True is not supported")
    axes = _axes(ctx, x.rank)
    scale, center = bool(ctx.config.get("scale", True)), bool(ctx.config.get("center", True))
    weights = ctx.weights_count(2 + scale + center)
    gamma = weights[0] if scale else 1.0
    beta = weights[int(scale)] if center else 0.0
    mean, variance = weights[-2], weights[-1]
    eps = _epsilon(ctx, 1e-3)
    mul = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(variance, np.float64) + eps)
    add = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * mul
    mul = _broadcast(ctx, mul * np.ones_like(np.asarray(mean, np.float64)), x, axes, "moving_variance")
    add = _broadcast(ctx, add * np.ones_like(np.asarray(mean, np.float64)), x, axes, "moving_mean")
    y = ctx.node("Mul", [x.value, ctx.constant(mul, "scale")])
    return x.like(ctx.node("Add", [y, ctx.constant(add, "shift")]))


def _moments(ctx: LayerContext, value: str, axes: list[int]) -> tuple[str, str]:
    """The deviation from the mean and the variance (the mean of the squared deviation)
    over `axes`, kept."""
    dev = ctx.node("Sub", [value, reduce(ctx, "ReduceMean", value, axes)])
    return dev, reduce(ctx, "ReduceMean", ctx.node("Mul", [dev, dev]), axes)


@layer("LayerNormalization")
def layer_normalization(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    axes = _axes(ctx, x.rank)
    rms = bool(ctx.config.get("rms_scaling", False))
    scale, center = bool(ctx.config.get("scale", True)), bool(ctx.config.get("center", True))
    center = center and not rms  # Keras 3 has no beta with rms_scaling
    weights = ctx.weights_count(scale + center)
    eps = _epsilon(ctx, 1e-3)
    gamma = _broadcast(ctx, weights[0], x, axes, "gamma") if scale else None
    beta = _broadcast(ctx, weights[int(scale)], x, axes, "beta") if center else None
    trailing = axes == list(range(axes[0], x.rank))
    if ctx.opset >= 17 and trailing and not rms:
        dims = _param_shape(ctx, x, axes)
        g = gamma.reshape(dims) if gamma is not None else np.ones(dims, np.float32)
        ins = [x.value, ctx.constant(g, "gamma")]
        if beta is not None:
            ins.append(ctx.constant(beta.reshape(dims), "beta"))
        return x.like(ctx.node("LayerNormalization", ins, axis=axes[0], epsilon=eps))
    dev, var = _moments(ctx, x.value, axes)
    inv = ctx.node(
        "Div", [ctx.constant(1.0, "one"), ctx.node("Sqrt", [ctx.node("Add", [var, ctx.constant(eps, "eps")])])]
    )
    if rms:  # x * rsqrt(var + eps) * gamma: no centering
        y = ctx.node("Mul", [x.value, inv])
    else:
        y = ctx.node("Mul", [dev, inv])
    if gamma is not None:
        y = ctx.node("Mul", [y, ctx.constant(gamma, "gamma")])
    if beta is not None:
        y = ctx.node("Add", [y, ctx.constant(beta, "beta")])
    return x.like(y)


@layer("GroupNormalization")
def group_normalization(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    if x.rank < 2:
        ctx.fail("an input of rank below 2")
    axis = ctx.config.get("axis", -1)
    if axis_of(ctx, axis, x.rank) != x.rank - 1:
        ctx.fail(f"axis={axis!r}: only the last axis (channels-last) is supported")
    groups = ctx.config.get("groups", 32)
    channels = x.shape[-1]
    if channels is None:
        ctx.fail("the channel count must be known")
    if groups == -1:
        groups = channels
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or channels % groups:
        ctx.fail(f"groups={groups!r} must divide the {channels} channels")
    groups = int(groups)
    scale, center = bool(ctx.config.get("scale", True)), bool(ctx.config.get("center", True))
    weights = ctx.weights_count(scale + center)
    eps = _epsilon(ctx, 1e-3)
    # [N, ..., C] -> [N, ..., G, C/G]; statistics over every axis but the batch and the group.
    grouped = ctx.reshape(x.value, [0] * (x.rank - 1) + [groups, channels // groups])
    axes = [a for a in range(1, x.rank + 1) if a != x.rank - 1]
    dev, var = _moments(ctx, grouped, axes)
    inv = ctx.node(
        "Div", [ctx.constant(1.0, "one"), ctx.node("Sqrt", [ctx.node("Add", [var, ctx.constant(eps, "eps")])])]
    )
    y = ctx.node("Mul", [dev, inv])
    y = ctx.reshape(y, [0] * (x.rank - 1) + [channels])
    if scale:
        y = ctx.node("Mul", [y, ctx.constant(_broadcast(ctx, weights[0], x, [x.rank - 1], "gamma"), "gamma")])
    if center:
        y = ctx.node("Add", [y, ctx.constant(_broadcast(ctx, weights[int(scale)], x, [x.rank - 1], "beta"), "beta")])
    return x.like(y)


def l2_normalize(ctx: LayerContext, value: str, axes: list[int], epsilon: float = 1e-12) -> str:
    """x * rsqrt(max(sum(x^2), epsilon)) over `axes`."""
    square_sum = reduce(ctx, "ReduceSum", ctx.node("Mul", [value, value]), axes)
    bounded = ctx.node("Max", [square_sum, ctx.constant(epsilon, "eps")])
    return ctx.node("Div", [value, ctx.node("Sqrt", [bounded])])


@layer("UnitNormalization")
def unit_normalization(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    axes = _axes(ctx, x.rank)
    # Keras 3: x * min(rsqrt(sum x^2), 1e12); tf_keras: l2_normalize with epsilon 1e-12.
    eps = 1e-12 if ctx.dialect == "tf_keras" else 1e-24
    return x.like(l2_normalize(ctx, x.value, axes, eps))


@layer("RMSNormalization")
def rms_normalization(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    """Keras 3: x * rsqrt(mean(x^2, axes) + epsilon) * scale."""
    (x,) = inputs
    axes = _axes(ctx, x.rank)
    (scale,) = ctx.weights_count(1)
    scale = np.asarray(scale, np.float32)
    dims = _param_shape(ctx, x, axes)
    if scale.size != math.prod(dims) or scale.ndim > x.rank:
        ctx.fail(f"scale of shape {scale.shape} does not fit axes {axes} of an input of shape {x.shape}")
    mean_square = reduce(ctx, "ReduceMean", ctx.node("Mul", [x.value, x.value]), axes)
    root = ctx.node("Sqrt", [ctx.node("Add", [mean_square, ctx.constant(_epsilon(ctx, 1e-6), "eps")])])
    y = ctx.node("Div", [x.value, root])
    # Keras multiplies by the scale as stored (NumPy broadcasting from the right).
    return x.like(ctx.node("Mul", [y, ctx.constant(scale, "scale")]))
