"""Embedding and Masking, and the Keras 3 operations that compute masks.

tf_keras passes masks implicitly: Embedding(mask_zero=True) and Masking give their output
Tensor a `mask` (bool [N, T]) that later layers read. Keras 3 writes the mask's computation into
the config as operations (`ops.NotEqual` of the token ids and 0, `ops.Any` over the features for
Masking) and hands the result to the consuming layer as its `mask` call argument; those
operations convert here too (elementwise comparisons and reductions over bool tensors).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import LayerContext, Tensor, layer

_ONNX_INT64 = 7
_ONNX_FLOAT = 1
_ONNX_BOOL = 9


@layer("Embedding")
def embedding(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    (table,) = ctx.weights_count(1)
    table = np.asarray(table, np.float32)
    input_dim, output_dim = ctx.config.get("input_dim"), ctx.config.get("output_dim")
    if table.ndim != 2 or (isinstance(input_dim, int) and table.shape != (input_dim, output_dim)):
        ctx.fail(f"embeddings of shape {table.shape} do not fit input_dim {input_dim}, output_dim {output_dim}")
    ids = x.value
    if x.dtype != np.int64:
        ids = ctx.node("Cast", [ids], to=_ONNX_INT64)
    out = ctx.node("Gather", [ctx.constant(table, "embeddings"), ids], axis=0)
    mask = None
    if ctx.config.get("mask_zero", False):
        mask = ctx.node("Not", [ctx.node("Equal", [ids, ctx.int64(0, "zero")])])
    return Tensor(out, (*x.shape, table.shape[1]), np.float32, mask)


@layer("Masking")
def masking(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    value = ctx.config.get("mask_value", 0.0)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        ctx.fail(f"mask_value must be a number, not {value!r}")
    differs = ctx.node("Not", [ctx.node("Equal", [x.value, ctx.constant(value, "mask_value", x.dtype)])])
    # any(x != mask_value, axis=-1): the max over the features of the 0/1 comparison.
    any_step = reduce_node(ctx, "ReduceMax", ctx.node("Cast", [differs], to=_ONNX_FLOAT), [-1], True)
    out = ctx.node("Mul", [x.value, ctx.node("Cast", [any_step], to=_onnx_type(x.dtype))])
    mask = ctx.node("Cast", [ctx.squeeze(any_step, [-1])], to=_ONNX_BOOL)
    return Tensor(out, x.shape, x.dtype, mask)


def reduce_node(ctx: LayerContext, op: str, value: str, axes, keepdims: bool) -> str:
    """ReduceMax/ReduceMin over `axes` (an attribute before opset 18, an input from it)."""
    if ctx.opset >= 18:
        return ctx.node(op, [value, ctx.int64(list(axes), "axes")], keepdims=int(keepdims))
    return ctx.node(op, [value], axes=list(axes), keepdims=int(keepdims))


def _onnx_type(dtype) -> int:
    return {np.float32: 1, np.float64: 11, np.int32: 6, np.int64: 7, np.float16: 10}.get(dtype, 1)


def _operand(ctx: LayerContext, arg, like: Tensor) -> str:
    if isinstance(arg, Tensor):
        return arg.value
    if isinstance(arg, bool) or not isinstance(arg, numbers.Real):
        ctx.fail(f"operand {arg!r} is not a tensor or a number")
    return ctx.constant(arg, "operand", like.dtype)


def _two(ctx: LayerContext, inputs: list[Tensor]):
    args = [a for a in ctx.args] if ctx.args else list(inputs)
    if len(args) != 2:
        ctx.fail(f"takes two operands, got {len(args)}")
    like = next((a for a in args if isinstance(a, Tensor)), None)
    if like is None:
        ctx.fail("has no tensor operand")
    return [_operand(ctx, a, like) for a in args], like


def _compare(op: str, negate: bool = False):
    def convert(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
        (a, b), like = _two(ctx, inputs)
        out = ctx.node(op, [a, b])
        if negate:
            out = ctx.node("Not", [out])
        shapes = [t.shape for t in (ctx.args or inputs) if isinstance(t, Tensor)]
        shape = max(shapes, key=len)
        return Tensor(out, shape, np.bool_)

    return convert


layer("ops.NotEqual")(_compare("Equal", negate=True))
layer("ops.Equal")(_compare("Equal"))


def _logical(op: str):
    def convert(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
        (a, b), like = _two(ctx, inputs)
        a, b = (ctx.node("Cast", [v], to=_ONNX_BOOL) for v in (a, b))
        shapes = [t.shape for t in (ctx.args or inputs) if isinstance(t, Tensor)]
        return Tensor(ctx.node(op, [a, b]), max(shapes, key=len), np.bool_)

    return convert


layer("ops.LogicalAnd")(_logical("And"))
layer("ops.LogicalOr")(_logical("Or"))


@layer("ops.LogicalNot")
def logical_not(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    return Tensor(ctx.node("Not", [ctx.node("Cast", [x.value], to=_ONNX_BOOL)]), x.shape, np.bool_)


def _reduce(kind: str):
    def convert(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
        (x,) = inputs
        axis = ctx.config.get("axis", ctx.kwargs.get("axis"))
        keepdims = bool(ctx.config.get("keepdims", ctx.kwargs.get("keepdims", False)))
        rank = x.rank
        if axis is None:
            axes = list(range(rank))
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axes = [int(axis)]
        elif isinstance(axis, (list, tuple)) and all(isinstance(a, numbers.Integral) for a in axis):
            axes = [int(a) for a in axis]
        else:
            ctx.fail(f"axis {axis!r} is not an int or a list of ints")
        if not all(-rank <= a < rank for a in axes):
            ctx.fail(f"axis {axis!r} is out of range for rank {rank}")
        axes = sorted({a % rank for a in axes})
        as_float = ctx.node("Cast", [ctx.node("Cast", [x.value], to=_ONNX_BOOL)], to=_ONNX_FLOAT)
        reduced = reduce_node(ctx, "ReduceMax" if kind == "any" else "ReduceMin", as_float, axes, keepdims)
        shape = (
            [1 if i in axes else d for i, d in enumerate(x.shape)]
            if keepdims
            else [d for i, d in enumerate(x.shape) if i not in axes]
        )
        return Tensor(ctx.node("Cast", [reduced], to=_ONNX_BOOL), tuple(shape), np.bool_)

    return convert


layer("ops.Any")(_reduce("any"))
layer("ops.All")(_reduce("all"))
