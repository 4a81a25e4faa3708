"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum (element-wise, with the
broadcasting Keras allows: inputs of lower rank get axes inserted after the batch axis),
Concatenate and Dot."""

from __future__ import annotations

import numbers

from . import LayerContext, Tensor, layer
from .activations import axis_of
from .normalization import l2_normalize
from .ops import broadcast_shape


def _merged_mask(ctx: LayerContext, inputs: list[Tensor]) -> str | None:
    """Keras' merge mask: the AND of the inputs' masks (None if none has one)."""
    masks = [t.mask for t in inputs if t.mask is not None]
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        out = ctx.node("And", [out, m])
    return out


def _with_mask(t: Tensor, mask) -> Tensor:
    return Tensor(t.value, t.shape, t.dtype, mask)


def _aligned(ctx: LayerContext, inputs: list[Tensor]) -> tuple[list[str], tuple]:
    """The inputs' values brought to one rank (new axes after the batch axis) and the shape
    they broadcast to."""
    if len(inputs) < 2:
        ctx.fail(f"a merge layer needs at least 2 inputs, got {len(inputs)}")
    if len({t.dtype for t in inputs}) > 1:
        ctx.fail("inputs of different dtypes")
    rank = max(t.rank for t in inputs)
    values, shapes = [], []
    for t in inputs:
        extra = rank - t.rank
        if extra and t.rank < 1:
            ctx.fail("a scalar input")
        values.append(ctx.unsqueeze(t.value, list(range(1, 1 + extra))) if extra else t.value)
        shapes.append(t.shape[:1] + (1,) * extra + t.shape[1:])
    return values, broadcast_shape(ctx, *shapes)


def _elementwise(op: str):
    def convert(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
        values, shape = _aligned(ctx, inputs)
        if op == "Sub" and len(values) != 2:
            ctx.fail(f"Subtract takes exactly 2 inputs, got {len(values)}")
        out = values[0]
        for v in values[1:]:
            out = ctx.node(op, [out, v])
        if ctx.class_name == "Average":
            out = ctx.node("Mul", [out, ctx.constant(1.0 / len(values), "inv_count", dtype=inputs[0].dtype)])
        return Tensor(out, shape, inputs[0].dtype, _merged_mask(ctx, inputs))

    return convert


for _cls, _op in {
    "Add": "Add",
    "Subtract": "Sub",
    "Multiply": "Mul",
    "Average": "Add",
    "Maximum": "Max",
    "Minimum": "Min",
}.items():
    layer(_cls)(_elementwise(_op))


@layer("Concatenate")
def concatenate(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    if len(inputs) < 1:
        ctx.fail("no inputs")
    rank = inputs[0].rank
    if any(t.rank != rank for t in inputs) or len({t.dtype for t in inputs}) > 1:
        ctx.fail("inputs of different ranks or dtypes")
    axis = axis_of(ctx, ctx.config.get("axis", -1), rank)
    if axis == 0:
        ctx.fail("concatenating along the batch axis is not supported")
    shape = []
    for i in range(rank):
        dims = [t.shape[i] for t in inputs]
        if i == axis:
            shape.append(None if None in dims else sum(dims))
            continue
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            ctx.fail(f"input shapes {[t.shape for t in inputs]} differ off the concatenation axis")
        shape.append(known.pop() if known else None)
    mask = None
    if any(t.mask is not None for t in inputs):
        if axis == 1:
            ctx.fail("concatenating masked sequences along time is not supported")
        mask = _merged_mask(ctx, inputs)  # Keras: all() over the concatenated masks' last axis
    value = ctx.node("Concat", [t.value for t in inputs], axis=axis)
    return Tensor(value, tuple(shape), inputs[0].dtype, mask)


@layer("Dot")
def dot(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    if len(inputs) != 2:
        ctx.fail(f"Dot takes exactly 2 inputs, got {len(inputs)}")
    x, y = inputs
    if not (2 <= x.rank <= 3 and 2 <= y.rank <= 3):
        ctx.fail(f"inputs of ranks {x.rank} and {y.rank}: only ranks 2 and 3 are supported")
    axes = ctx.config.get("axes")
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = [axes, axes]
    if not isinstance(axes, (list, tuple)) or len(axes) != 2:
        ctx.fail(f"axes={axes!r} must be an int or two ints")
    ax, ay = axis_of(ctx, axes[0], x.rank), axis_of(ctx, axes[1], y.rank)
    if ax == 0 or ay == 0:
        ctx.fail("a dot product over the batch axis is not supported")
    if x.shape[ax] is not None and y.shape[ay] is not None and x.shape[ax] != y.shape[ay]:
        ctx.fail(f"axes {axes} of shapes {x.shape} and {y.shape} differ in size")
    xv, yv = x.value, y.value
    if ctx.config.get("normalize"):
        xv, yv = l2_normalize(ctx, xv, [ax]), l2_normalize(ctx, yv, [ay])
    # x as [N, m, k] (k contracted), y as [N, k, n]; a rank-2 side gets a unit axis.
    if x.rank == 2:
        xv, x_rest = ctx.unsqueeze(xv, [1]), []
    else:
        if ax == 1:
            xv = ctx.transpose(xv, [0, 2, 1])
        x_rest = [x.shape[3 - ax]]
    if y.rank == 2:
        yv, y_rest = ctx.unsqueeze(yv, [2]), []
    else:
        if ay == 2:
            yv = ctx.transpose(yv, [0, 2, 1])
        y_rest = [y.shape[3 - ay]]
    out = ctx.node("MatMul", [xv, yv])  # [N, m, n]
    drop = ([1] if x.rank == 2 else []) + ([2] if y.rank == 2 else [])
    if len(drop) == 2:
        drop = [2]  # Keras keeps a rank-1 result as [N, 1]
        x_rest = [1]
    if drop:
        out = ctx.squeeze(out, drop)
    batch = x.shape[0] if x.shape[0] is not None else y.shape[0]
    return Tensor(out, (batch, *x_rest, *y_rest), x.dtype)
