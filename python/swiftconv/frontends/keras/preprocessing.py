"""Preprocessing layers that compute at inference: Rescaling (x * scale + offset) and
Normalization ((x - mean) / max(sqrt(variance), epsilon), or its inverse)."""

from __future__ import annotations

import numbers

import numpy as np

from . import LayerContext, Tensor, layer
from .activations import axis_of
from .ops import onnx_type

# Keras' backend.epsilon(), the floor of Normalization's standard deviation.
KERAS_EPSILON = 1e-7


def _float_input(ctx: LayerContext, x: Tensor) -> Tensor:
    """x cast to float32 when it is not a float (Keras casts to the compute dtype)."""
    if np.issubdtype(x.dtype, np.floating):
        return x
    return x.like(ctx.node("Cast", [x.value], to=onnx_type(ctx, np.float32)), dtype=np.float32)


def _numbers(ctx: LayerContext, key: str, default) -> np.ndarray:
    value = ctx.config.get(key, default)
    if isinstance(value, dict):  # a serialized array
        value = (value.get("config") or {}).get("value", value)
    try:
        array = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        ctx.fail(f"{key}={value!r} must be a number or a list of numbers")
    if array.dtype.kind not in "fiu" or not np.all(np.isfinite(array)):
        ctx.fail(f"{key}={value!r} must be finite numbers")
    return array.astype(np.float32)


@layer("Rescaling")
def rescaling(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    x = _float_input(ctx, x)
    scale, offset = _numbers(ctx, "scale", 1.0), _numbers(ctx, "offset", 0.0)
    for name, a in (("scale", scale), ("offset", offset)):
        if a.ndim > 1 or (a.ndim == 1 and x.shape[-1] is not None and a.shape[0] not in (1, x.shape[-1])):
            ctx.fail(f"{name} of shape {a.shape} does not fit an input of shape {x.shape}")
    y = ctx.node("Mul", [x.value, ctx.constant(scale, "scale")])
    return x.like(ctx.node("Add", [y, ctx.constant(offset, "offset")]))


@layer("Normalization")
def normalization(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    x = _float_input(ctx, x)
    axis = ctx.config.get("axis", -1)
    axes = [] if axis is None else list(axis) if isinstance(axis, (list, tuple)) else [axis]
    keep = sorted({axis_of(ctx, a, x.rank) for a in axes})
    if 0 in keep:
        ctx.fail("statistics per batch entry are not supported")
    if any(x.shape[a] is None for a in keep):
        ctx.fail(f"the axes {keep} of shape {x.shape} must be known")
    broadcast = [x.shape[d] if d in keep else 1 for d in range(x.rank)]
    if ctx.config.get("mean") is not None:
        mean, variance = _numbers(ctx, "mean", 0.0), _numbers(ctx, "variance", 1.0)
    else:  # adapted: mean, variance, count
        w = ctx.weights_count(3)
        mean, variance = np.asarray(w[0], np.float32), np.asarray(w[1], np.float32)
    size = int(np.prod(broadcast))
    try:
        mean = np.broadcast_to(mean.reshape(broadcast) if mean.size == size else mean, broadcast)
        variance = np.broadcast_to(variance.reshape(broadcast) if variance.size == size else variance, broadcast)
    except ValueError:
        ctx.fail(f"mean/variance of shapes {mean.shape}/{variance.shape} do not fit an input of shape {x.shape}")
    if np.any(variance < 0):
        ctx.fail("variance has negative entries")
    std = np.maximum(np.sqrt(variance.astype(np.float32)), np.float32(KERAS_EPSILON))
    m = ctx.constant(np.ascontiguousarray(mean, np.float32), "mean")
    s = ctx.constant(np.ascontiguousarray(std, np.float32), "std")
    if ctx.config.get("invert"):
        return x.like(ctx.node("Add", [ctx.node("Mul", [x.value, s]), m]))
    return x.like(ctx.node("Div", [ctx.node("Sub", [x.value, m]), s]))


@layer("CenterCrop")
def center_crop(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    """The central height x width window of images at least that large (Keras resizes smaller
    images instead: not converted)."""
    x = _float_input(ctx, inputs[0])
    if x.rank != 4:
        ctx.fail(f"an input of rank {x.rank}: only batches of images (rank 4) are supported")
    size = []
    for key in ("height", "width"):
        v = ctx.config.get(key)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            ctx.fail(f"{key}={v!r} must be a positive int")
        size.append(int(v))
    first = ctx.config.get("data_format") == "channels_first"
    axes = [2, 3] if first else [1, 2]
    starts = []
    for axis, target in zip(axes, size):
        have = x.shape[axis]
        if have is None or have < target:
            ctx.fail(f"an input of shape {x.shape} smaller than (or not known to fit) {size[0]}x{size[1]}")
        starts.append((have - target) // 2)
    out = ctx.node(
        "Slice",
        [
            x.value,
            ctx.int64(starts, "starts"),
            ctx.int64([s + t for s, t in zip(starts, size)], "ends"),
            ctx.int64(axes, "axes"),
        ],
    )
    shape = list(x.shape)
    for axis, target in zip(axes, size):
        shape[axis] = target
    return x.like(out, shape)
