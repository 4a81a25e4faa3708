"""Keras 3 operations called on Keras tensors: `x + y`, `x * 0.5`, `-x`, `keras.ops.mean(x)`,
`keras.ops.reshape(x, ...)`... A functional model's config lists each as a layer-like entry
from module keras.src.ops.{numpy,math,nn,core}, whose class is the operation (Add, Mean,
Reshape) and whose config holds its static arguments (axis, keepdims, newshape); constants
written in the call (`x * 0.5`) come as plain values among the call's arguments. They
register as 'ops.<Class>' (see `converter_key`).

Keras 3 operations do not pass masks on (only layers do), so their results carry none.
The mask operations (Equal, NotEqual, Any, All, logical ones) live with the recurrent layers.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..._dtypes import code_of
from . import LayerContext, Tensor, layer
from .activations import axis_of, gelu, hard_sigmoid, relu, softmax


def keras_op(*class_names):
    """Registers a converter of Keras 3 operations ('ops.<class>'); its results drop masks."""

    def register(fn):
        def convert(ctx: LayerContext, inputs: list[Tensor]):
            out = fn(ctx, inputs)
            return Tensor(out.value, out.shape, out.dtype)

        layer(*class_names)(convert)
        return fn

    return register


def reduce(ctx: LayerContext, op: str, value: str, axes, keepdims: bool = True) -> str:
    """An ONNX Reduce* over `axes` (None: all), the axes as an attribute or an input as the
    op's version at ctx.opset wants them."""
    as_input = ctx.opset >= (13 if op == "ReduceSum" else 18)
    keep = 1 if keepdims else 0
    if axes is None:
        return ctx.node(op, [value], keepdims=keep)
    if as_input:
        return ctx.node(op, [value, ctx.int64(list(axes), "axes")], keepdims=keep)
    return ctx.node(op, [value], axes=list(axes), keepdims=keep)


def broadcast_shape(ctx: LayerContext, *shapes) -> tuple:
    """NumPy broadcasting of Keras shapes (None where unknown); UnsupportedOp if they clash."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            ctx.fail(f"shapes {[tuple(s) for s in shapes]} do not broadcast")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def onnx_type(ctx: LayerContext, dtype) -> int:
    code = code_of(np.dtype(dtype))
    if code is None:
        ctx.fail(f"dtype {np.dtype(dtype).name} is not supported")
    return code


def _keras_dtype(ctx: LayerContext, spec):
    if isinstance(spec, dict):
        spec = (spec.get("config") or {}).get("name")
    try:
        return np.dtype(str(spec)).type
    except TypeError:
        ctx.fail(f"dtype {spec!r} is not supported")


def _is_number(v) -> bool:
    return isinstance(v, (numbers.Number, np.number, np.bool_)) or (
        isinstance(v, list) and all(_is_number(e) for e in v)
    )


def _operands(ctx: LayerContext, count: int | None = None) -> list:
    """The call's positional arguments (Tensors and constants), checked to be `count` long."""
    args = list(ctx.args)
    if count is not None and len(args) < count:
        ctx.fail(f"expected {count} arguments, got {len(args)}")
    args = args[:count] if count is not None else args
    for a in args:
        if not isinstance(a, Tensor) and not _is_number(a):
            ctx.fail(f"argument {a!r} is neither a tensor nor a number")
    return args


def _elementwise(ctx: LayerContext, args: list, numeric: bool = True, broadcast: bool = True):
    """ONNX values of tensor-or-constant operands in one dtype (Keras' result type: a float
    constant with an integer tensor gives float32), with the broadcast shape."""
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors:
        ctx.fail("no tensor among the arguments")
    dtypes = {t.dtype for t in tensors}
    dtype = tensors[0].dtype
    if len(dtypes) > 1:
        floats = [d for d in dtypes if np.issubdtype(d, np.floating)]
        if len(floats) != 1:
            ctx.fail(f"operands of dtypes {sorted(np.dtype(d).name for d in dtypes)} are not supported")
        dtype = floats[0]
    if numeric and not np.issubdtype(dtype, np.floating):
        if any(not isinstance(a, Tensor) and np.asarray(a).dtype.kind == "f" for a in args):
            dtype = np.float32
    values, shapes = [], []
    for a in args:
        if isinstance(a, Tensor):
            v = a.value if a.dtype == dtype else ctx.node("Cast", [a.value], to=onnx_type(ctx, dtype))
            values.append(v)
            shapes.append(a.shape)
        else:
            arr = np.asarray(a, dtype=dtype)
            values.append(ctx.constant(arr, "const", dtype=dtype))
            shapes.append(arr.shape)
    return values, broadcast_shape(ctx, *shapes) if broadcast else None, dtype, tensors[0]


def _binary(op: str):
    def convert(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
        values, shape, dtype, first = _elementwise(ctx, _operands(ctx, 2))
        return first.like(ctx.node(op, values), shape, dtype)

    return convert


for _cls, _op in {
    "Add": "Add",
    "Subtract": "Sub",
    "Multiply": "Mul",
    "Maximum": "Max",
    "Minimum": "Min",
}.items():
    keras_op(f"ops.{_cls}")(_binary(_op))


@keras_op("ops.TrueDivide", "ops.Divide")
def true_divide(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    args = _operands(ctx, 2)
    # True division of integers gives floats.
    if all(not isinstance(a, Tensor) or not np.issubdtype(a.dtype, np.floating) for a in args):
        args = [a if not isinstance(a, Tensor) else _cast(ctx, a, np.float32) for a in args]
    values, shape, dtype, first = _elementwise(ctx, args)
    return first.like(ctx.node("Div", values), shape, dtype)


def _cast(ctx: LayerContext, t: Tensor, dtype) -> Tensor:
    if t.dtype == dtype:
        return t
    return t.like(ctx.node("Cast", [t.value], to=onnx_type(ctx, dtype)), dtype=dtype)


@keras_op("ops.Power")
def power(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    args = _operands(ctx, 2)
    values, shape, dtype, first = _elementwise(ctx, args)
    if isinstance(args[0], Tensor) and not isinstance(args[1], Tensor) and np.asarray(args[1]).shape == ():
        if float(args[1]) == 2.0:
            return first.like(ctx.node("Mul", [values[0], values[0]]), shape, dtype)
        if float(args[1]) == 1.0:
            return first.like(values[0], shape, dtype)
    return first.like(ctx.node("Pow", values), shape, dtype)


@keras_op("ops.Greater", "ops.GreaterEqual", "ops.Less", "ops.LessEqual")
def compare(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    op = {"Greater": "Greater", "GreaterEqual": "GreaterOrEqual", "Less": "Less", "LessEqual": "LessOrEqual"}
    values, shape, _, first = _elementwise(ctx, _operands(ctx, 2), numeric=False)
    return first.like(ctx.node(op[ctx.class_name], values), shape, np.bool_)


@keras_op("ops.Where")
def where(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    args = _operands(ctx, 3)
    cond = args[0]
    if not isinstance(cond, Tensor):
        ctx.fail("a constant condition is not supported")
    if cond.dtype is not np.bool_:
        cond = _cast(ctx, cond, np.bool_)
    values, shape, dtype, _ = (
        _elementwise(ctx, args[1:])
        if any(isinstance(a, Tensor) for a in args[1:])
        else (
            None,
            None,
            None,
            None,
        )
    )
    if values is None:
        ctx.fail("where() with two constant branches is not supported")
    shape = broadcast_shape(ctx, cond.shape, shape)
    return cond.like(ctx.node("Where", [cond.value, *values]), shape, dtype)


# Unary operations: class -> (ONNX op, attributes).
_UNARY = {
    "Negative": "Neg",
    "Absolute": "Abs",
    "Abs": "Abs",
    "Sqrt": "Sqrt",
    "Exp": "Exp",
    "Log": "Log",
    "Tanh": "Tanh",
    "Sin": "Sin",
    "Cos": "Cos",
    "Erf": "Erf",
    "Floor": "Floor",
    "Ceil": "Ceil",
    "Sign": "Sign",
    "Reciprocal": "Reciprocal",
    "Sigmoid": "Sigmoid",
    "Relu": "Relu",
    "Softplus": "Softplus",
    "Softsign": "Softsign",
    "Selu": "Selu",
}


def _unary_input(ctx: LayerContext) -> Tensor:
    (x,) = _operands(ctx, 1)
    if not isinstance(x, Tensor):
        ctx.fail("the argument is not a tensor")
    return x


@keras_op(*(f"ops.{c}" for c in _UNARY))
def unary(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    if ctx.class_name not in ("Negative", "Absolute", "Abs", "Sign") and not np.issubdtype(x.dtype, np.floating):
        x = _cast(ctx, x, np.float32)
    return x.like(ctx.node(_UNARY[ctx.class_name], [x.value]))


@keras_op(
    "ops.Square",
    "ops.Rsqrt",
    "ops.Log1p",
    "ops.Expm1",
    "ops.Relu6",
    "ops.Silu",
    "ops.Swish",
    "ops.Gelu",
    "ops.HardSigmoid",
    "ops.HardSilu",
    "ops.HardSwish",
    "ops.Elu",
    "ops.LeakyRelu",
    "ops.Softmax",
    "ops.LogSoftmax",
    "ops.Clip",
)
def composite_unary(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    if not np.issubdtype(x.dtype, np.floating) and ctx.class_name not in ("Square", "Clip"):
        x = _cast(ctx, x, np.float32)
    v, cls, one = x.value, ctx.class_name, None
    if cls in ("Log1p", "Expm1", "Rsqrt"):
        one = ctx.constant(np.asarray(1, x.dtype), "one", dtype=x.dtype)
    if cls == "Square":
        out = ctx.node("Mul", [v, v])
    elif cls == "Rsqrt":
        out = ctx.node("Div", [one, ctx.node("Sqrt", [v])])
    elif cls == "Log1p":
        out = ctx.node("Log", [ctx.node("Add", [v, one])])
    elif cls == "Expm1":
        out = ctx.node("Sub", [ctx.node("Exp", [v]), one])
    elif cls == "Relu6":
        out = relu(ctx, v, max_value=6.0)
    elif cls in ("Silu", "Swish"):
        out = ctx.node("Mul", [v, ctx.node("Sigmoid", [v])])
    elif cls == "Gelu":
        out = gelu(ctx, v, approximate=bool(ctx.config.get("approximate", True)))
    elif cls == "HardSigmoid":
        out = hard_sigmoid(ctx, v)
    elif cls in ("HardSilu", "HardSwish"):
        out = ctx.node("Mul", [v, ctx.node("HardSigmoid", [v], alpha=1.0 / 6.0, beta=0.5)])
    elif cls == "Elu":
        out = ctx.node("Elu", [v], alpha=_float(ctx, "alpha", 1.0))
    elif cls == "LeakyRelu":
        out = ctx.node("LeakyRelu", [v], alpha=_float(ctx, "negative_slope", 0.2))
    elif cls in ("Softmax", "LogSoftmax"):
        axis = ctx.config.get("axis", -1)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        axis = axis_of(ctx, axis, x.rank)
        out = softmax(ctx, v, axis) if cls == "Softmax" else ctx.node("LogSoftmax", [v], axis=axis)
    else:  # Clip
        lo, hi = ctx.config.get("x_min"), ctx.config.get("x_max")
        if not _is_number(lo) or not _is_number(hi) or isinstance(lo, list) or isinstance(hi, list):
            ctx.fail(f"clip bounds {lo!r}, {hi!r} must be numbers")
        dtype = x.dtype
        out = ctx.node(
            "Clip",
            [v, ctx.constant(np.asarray(lo, dtype), "min", dtype), ctx.constant(np.asarray(hi, dtype), "max", dtype)],
        )
    return x.like(out)


def _float(ctx: LayerContext, key: str, default: float) -> float:
    value = ctx.config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        ctx.fail(f"{key}={value!r} must be a number")
    return float(value)


def _axes(ctx: LayerContext, axis, rank: int) -> list[int] | None:
    """A Keras axis argument (None, an int or a list) as sorted non-negative ints, None for all."""
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return sorted({axis_of(ctx, a, rank) for a in axis})
    return [axis_of(ctx, axis, rank)]


@keras_op("ops.Mean", "ops.Sum", "ops.Max", "ops.Min", "ops.Prod")
def reduction(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    if ctx.config.get("initial") is not None:
        ctx.fail("initial= is not supported")
    op = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin", "Prod": "ReduceProd"}
    axes = _axes(ctx, ctx.config.get("axis"), x.rank)
    keepdims = bool(ctx.config.get("keepdims", False))
    if ctx.class_name == "Mean" and not np.issubdtype(x.dtype, np.floating):
        x = _cast(ctx, x, np.float32)
    out = reduce(ctx, op[ctx.class_name], x.value, axes, keepdims)
    every = range(x.rank) if axes is None else axes
    if keepdims:
        shape = tuple(1 if i in every else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i not in every)
    return x.like(out, shape)


@keras_op("ops.Matmul")
def matmul(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    args = _operands(ctx, 2)
    values, _, dtype, first = _elementwise(ctx, args, broadcast=False)
    a, b = (tuple(a.shape) if isinstance(a, Tensor) else np.asarray(a).shape for a in args)
    if len(a) < 1 or len(b) < 1:
        ctx.fail("matmul of a scalar")
    if a[-1] is not None and b[-2 if len(b) > 1 else 0] is not None and a[-1] != b[-2 if len(b) > 1 else 0]:
        ctx.fail(f"matmul of shapes {a} and {b}: inner dimensions differ")
    batch = broadcast_shape(ctx, a[:-2], b[:-2])
    shape = (*batch, *a[-2:-1], *(b[-1:] if len(b) > 1 else ()))
    return first.like(ctx.node("MatMul", values), shape, dtype)


@keras_op("ops.Reshape")
def reshape(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    newshape = ctx.config.get("newshape", ctx.config.get("new_shape"))
    if isinstance(newshape, numbers.Integral):
        newshape = [newshape]
    if not isinstance(newshape, (list, tuple)) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and (d == -1 or d > 0) for d in newshape
    ):
        ctx.fail(f"newshape {newshape!r} must be positive ints and at most one -1")
    if list(newshape).count(-1) > 1:
        ctx.fail(f"newshape {newshape!r} has more than one -1")
    total = None if any(d is None for d in x.shape) else int(np.prod(x.shape))
    known = int(np.prod([d for d in newshape if d != -1]))
    if total is not None and (total % known if -1 in newshape else total != known):
        ctx.fail(f"cannot reshape {x.shape} to {tuple(newshape)}")
    shape = tuple((None if total is None else total // known) if d == -1 else int(d) for d in newshape)
    return x.like(ctx.reshape(x.value, newshape), shape)


@keras_op("ops.Transpose")
def transpose(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    axes = ctx.config.get("axes")
    if axes is not None and not isinstance(axes, (list, tuple)):
        ctx.fail(f"axes={axes!r} must be a list of axes")
    perm = list(range(x.rank))[::-1] if axes is None else [axis_of(ctx, a, x.rank) for a in axes]
    if sorted(perm) != list(range(x.rank)):
        ctx.fail(f"axes {axes!r} are not a permutation of {x.rank} axes")
    return x.like(ctx.transpose(x.value, perm), tuple(x.shape[p] for p in perm))


@keras_op("ops.ExpandDims")
def expand_dims(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    axis = ctx.config.get("axis")
    axis = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    rank = x.rank + len(axis)
    axes = sorted({axis_of(ctx, a, rank) for a in axis})
    if len(axes) != len(axis):
        ctx.fail(f"repeated axis in {axis!r}")
    shape, it = [], iter(x.shape)
    for i in range(rank):
        shape.append(1 if i in axes else next(it))
    return x.like(ctx.unsqueeze(x.value, axes), shape)


@keras_op("ops.Squeeze")
def squeeze(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    axes = _axes(ctx, ctx.config.get("axis"), x.rank)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    for a in axes:
        if x.shape[a] != 1:
            ctx.fail(f"cannot squeeze axis {a} of shape {x.shape}")
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return x.like(ctx.squeeze(x.value, axes), shape)


@keras_op("ops.Concatenate")
def concatenate(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    args = list(ctx.args)
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not items or not all(isinstance(t, Tensor) for t in items):
        ctx.fail("concatenate() of constants is not supported")
    rank = items[0].rank
    if any(t.rank != rank for t in items):
        ctx.fail("concatenate() of tensors of different ranks")
    axis = axis_of(ctx, ctx.config.get("axis", 0), rank)
    values, _, dtype, first = _elementwise(ctx, items, numeric=False, broadcast=False)
    shape = list(broadcast_shape(ctx, *[t.shape[:axis] + (1,) + t.shape[axis + 1 :] for t in items]))
    sizes = [t.shape[axis] for t in items]
    shape[axis] = None if any(s is None for s in sizes) else sum(sizes)
    return Tensor(ctx.node("Concat", values, axis=axis), tuple(shape), dtype)


@keras_op("ops.Cast")
def cast(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    x = _unary_input(ctx)
    return _cast(ctx, x, _keras_dtype(ctx, ctx.config.get("dtype")))
