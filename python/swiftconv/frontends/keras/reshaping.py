"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, ZeroPadding1D/2D/3D,
Cropping1D/2D/3D and UpSampling1D/2D/3D.

They work on Keras' channels-last layout directly (Flatten flattens in NHWC order), except
UpSampling2D, which is an ONNX Resize on NCHW between Transposes so that it becomes a TFLite
resize. Nearest upsampling in 1-D and 3-D repeats each cell along one axis at a time.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import LayerContext, Tensor, layer
from .convolution import channels_first, ints, spatial_of, spatial_rank, to_channels_first, to_channels_last

_INT64_MAX = 2**63 - 1


def _plain(x: Tensor, value: str, shape) -> Tensor:
    # These layers do not propagate Keras masks (Keras 3 drops them, tf_keras refuses them).
    return Tensor(value, tuple(shape), x.dtype)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _reshape(ctx: LayerContext, value: str, dims) -> str:
    """Reshape keeping the batch, to `dims` (None: the one inferred dim). Sizes are written out
    where known: the TFLite lowering cannot infer a -1 next to an unknown batch."""
    if sum(d is None for d in dims) > 1:
        ctx.fail(f"cannot reshape to {tuple(dims)} with more than one unknown size")
    return ctx.reshape(value, [0, *(-1 if d is None else d for d in dims)])


@layer("Flatten")
def flatten(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    if x.rank < 1:
        ctx.fail(f"expects an input with a batch axis, got shape {x.shape}")
    if x.rank == 1:
        return _plain(x, ctx.unsqueeze(x.value, [1]), (x.shape[0], 1))
    value = x.value
    if ctx.get("data_format", "channels_last") == "channels_first" and x.rank > 2:
        # Keras moves the channels last before flattening.
        value = ctx.transpose(value, [0, *range(2, x.rank), 1])
    size = None if any(d is None for d in x.shape[1:]) else math.prod(x.shape[1:])
    return _plain(x, _reshape(ctx, value, [-1 if size is None else size]), (x.shape[0], size))


@layer("Reshape")
def reshape(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    target = ctx.config.get("target_shape")
    if not isinstance(target, (list, tuple)) or not all(_is_int(d) for d in target):
        ctx.fail(f"target_shape must be a list of integers, not {target!r}")
    target = [int(d) for d in target]
    if any(d == 0 or d < -1 for d in target) or target.count(-1) > 1:
        ctx.fail(f"target_shape {target} must be positive sizes and at most one -1")
    shape = [None if d == -1 else d for d in target]
    known = None if any(d is None for d in x.shape[1:]) else math.prod(x.shape[1:])
    if known is not None:
        rest = math.prod(d for d in target if d != -1)
        if (-1 in target and (rest == 0 or known % rest)) or (-1 not in target and rest != known):
            ctx.fail(f"cannot reshape {x.shape[1:]} to {tuple(target)}")
        shape = [known // rest if d == -1 else d for d in target]
    return _plain(x, _reshape(ctx, x.value, shape), (x.shape[0], *shape))


@layer("Permute")
def permute(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims = ctx.config.get("dims")
    if (
        not isinstance(dims, (list, tuple))
        or not all(_is_int(d) for d in dims)
        or sorted(dims) != list(range(1, x.rank))
    ):
        ctx.fail(f"dims {dims!r} must be a permutation of 1..{x.rank - 1}")
    perm = [0, *(int(d) for d in dims)]
    return _plain(x, ctx.transpose(x.value, perm), [x.shape[p] for p in perm])


@layer("RepeatVector")
def repeat_vector(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    n = ctx.config.get("n")
    if not _is_int(n) or n < 1:
        ctx.fail(f"n must be a positive integer, not {n!r}")
    if x.rank != 2:
        ctx.fail(f"expects a rank-2 input, got shape {x.shape}")
    y = ctx.node("Tile", [ctx.unsqueeze(x.value, [1]), ctx.int64([1, n, 1], "repeats")])
    return _plain(x, y, (x.shape[0], n, x.shape[1]))


# ---------------------------------------------------------------- padding and cropping


def _pairs(ctx: LayerContext, key: str, dims: int) -> list[tuple[int, int]]:
    """A Keras padding/cropping argument as one (begin, end) pair per spatial axis: an int, one
    int per axis, a pair per axis, or (for 1-D) one pair."""
    value = ctx.config.get(key)
    if _is_int(value):
        pairs = [(value, value)] * dims
    elif isinstance(value, (list, tuple)) and dims == 1 and len(value) == 2 and all(_is_int(v) for v in value):
        pairs = [tuple(value)]
    elif isinstance(value, (list, tuple)) and len(value) == dims:
        pairs = []
        for v in value:
            if _is_int(v):
                pairs.append((v, v))
            elif isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(e) for e in v):
                pairs.append(tuple(v))
            else:
                ctx.fail(f"{key} {value!r} is not {dims} integers or pairs of integers")
    else:
        ctx.fail(f"{key} {value!r} is not {dims} integers or pairs of integers")
    if any(v < 0 for p in pairs for v in p):
        ctx.fail(f"{key} {value!r} must not be negative")
    return [(int(a), int(b)) for a, b in pairs]


def _spatial_axes(x: Tensor, dims: int, first: bool) -> list[int]:
    return list(range(2, dims + 2)) if first else list(range(1, dims + 1))


def _axes_setup(ctx: LayerContext, x: Tensor):
    dims = spatial_rank(ctx)
    first = dims > 1 and channels_first(ctx)  # the 1-D layers have no data_format
    spatial_of(ctx, x, dims, first)
    return dims, _spatial_axes(x, dims, first)


@layer("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def zero_padding(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims, axes = _axes_setup(ctx, x)
    pairs = _pairs(ctx, "padding", dims)
    begins, ends = [0] * x.rank, [0] * x.rank
    shape = list(x.shape)
    for axis, (a, b) in zip(axes, pairs):
        begins[axis], ends[axis] = a, b
        shape[axis] = None if shape[axis] is None else shape[axis] + a + b
    y = ctx.node("Pad", [x.value, ctx.int64(begins + ends, "pads")], mode="constant")
    return _plain(x, y, shape)


@layer("Cropping1D", "Cropping2D", "Cropping3D")
def cropping(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims, axes = _axes_setup(ctx, x)
    pairs = _pairs(ctx, "cropping", dims)
    starts, ends = [], []
    shape = list(x.shape)
    for axis, (a, b) in zip(axes, pairs):
        n = shape[axis]
        if n is not None and a + b >= n:
            ctx.fail(f"cropping {pairs} leaves nothing of an input of shape {x.shape}")
        starts.append(a)
        ends.append(-b if b else _INT64_MAX)
        shape[axis] = None if n is None else n - a - b
    y = ctx.node("Slice", [x.value, ctx.int64(starts, "starts"), ctx.int64(ends, "ends"), ctx.int64(axes, "axes")])
    return _plain(x, y, shape)


# ---------------------------------------------------------------- upsampling


def _repeat_axis(ctx: LayerContext, value: str, shape: list, axis: int, times: int) -> tuple[str, list]:
    """Each cell of `value` repeated `times` along `axis` (Keras' repeat_elements), as an
    Unsqueeze after the axis, a Tile and a Reshape that merges the two axes back."""
    if times == 1:
        return value, shape
    after = shape[axis + 1 :]
    if any(d is None for d in after):
        ctx.fail(f"upsampling axis {axis} needs the sizes after it to be known, got shape {tuple(shape)}")
    y = ctx.unsqueeze(value, [axis + 1])
    repeats = [1] * (len(shape) + 1)
    repeats[axis + 1] = times
    y = ctx.node("Tile", [y, ctx.int64(repeats, "repeats")])
    shape = list(shape)
    shape[axis] = None if shape[axis] is None else shape[axis] * times
    if axis == 1:
        return _reshape(ctx, y, shape[1:]), shape
    return ctx.reshape(y, [0] * axis + [-1 if shape[axis] is None else shape[axis]] + list(after)), shape


@layer("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims, axes = _axes_setup(ctx, x)
    first = axes[0] == 2
    size = ints(ctx, ctx.get("size", 2), dims, "size")
    if min(size) < 1:
        ctx.fail(f"size {size} must be positive")
    interpolation = ctx.get("interpolation", "nearest") if dims == 2 else "nearest"
    if interpolation not in ("nearest", "bilinear"):
        ctx.fail(f"interpolation {interpolation!r} is not supported (nearest and bilinear are)")
    static = all(d is not None for d in x.shape)
    shape = list(x.shape)
    for axis, times in zip(axes, size):
        shape[axis] = None if shape[axis] is None else shape[axis] * times
    # Resize where TFLite can lower it (a static shape); otherwise, where the sizes they need
    # are known, a repeat per axis (nearest) or a constant matrix per axis (bilinear).
    repeatable = all(d is not None for d in x.shape[axes[0] + 1 :])
    if interpolation == "nearest" and (dims != 2 or (not static and repeatable)):
        value = x.value
        out_shape = list(x.shape)
        for axis, times in zip(axes, size):
            value, out_shape = _repeat_axis(ctx, value, out_shape, axis, times)
        return _plain(x, value, out_shape)
    if interpolation == "bilinear" and not static and not first and all(d is not None for d in x.shape[1:]):
        return _plain(x, _bilinear_matmul(ctx, x, size), shape)
    # TensorFlow's resize with half-pixel centres; nearest at a whole scale is floor(i / s).
    attrs = (
        {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        if interpolation == "nearest"
        else {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    )
    y = to_channels_first(ctx, x.value, 4, first)
    scales = ctx.constant([1.0, 1.0, float(size[0]), float(size[1])], "scales")
    y = ctx.node("Resize", [y, "", scales], **attrs)
    return _plain(x, to_channels_last(ctx, y, 4, first), shape)


def _bilinear_weights(n: int, times: int) -> np.ndarray:
    """[n * times, n]: TensorFlow's half-pixel bilinear resize of one axis, as a matrix."""
    out = n * times
    m = np.zeros((out, n), np.float64)
    for i in range(out):
        src = (i + 0.5) * n / out - 0.5
        low = math.floor(src)
        frac = src - low
        m[i, min(max(low, 0), n - 1)] += 1.0 - frac
        m[i, min(max(low + 1, 0), n - 1)] += frac
    return m.astype(np.float32)


def _bilinear_matmul(ctx: LayerContext, x: Tensor, size) -> str:
    """Bilinear upsampling of an NHWC tensor with known H, W and C: MatMul by the columns'
    matrix over W, then (W and C merged) by the rows' matrix over H. TFLite resizes only
    static shapes; this needs no batch size."""
    _, h, w, c = x.shape
    sh, sw = size
    y = ctx.node("MatMul", [ctx.constant(_bilinear_weights(w, sw), "columns"), x.value])  # [N, H, W', C]
    y = _reshape(ctx, y, [h, w * sw * c])
    y = ctx.node("MatMul", [ctx.constant(_bilinear_weights(h, sh), "rows"), y])  # [N, H', W' C]
    return _reshape(ctx, y, [h * sh, w * sw, c])
