"""Pooling layers: Max/AveragePooling1D/2D/3D as ONNX MaxPool / AveragePool between NHWC <->
NCHW Transposes, and the global poolings as reductions over the spatial axes (no Transpose).

Keras' 'same' average pooling divides by the number of real cells under the window, which is
ONNX's count_include_pad=0 with the TensorFlow SAME pads. GlobalAveragePooling1D given a
mask averages the unmasked steps only.
"""

from __future__ import annotations

import numpy as np

from . import LayerContext, Tensor, layer
from .convolution import (
    channels_first,
    check_output,
    join_shape,
    padding_mode,
    spatial_of,
    spatial_rank,
    to_channels_first,
    to_channels_last,
    window_args,
    window_attrs,
)

_MAX = [f"{n}{d}D" for n in ("MaxPooling", "MaxPool") for d in (1, 2, 3)]
_AVG = [f"{n}{d}D" for n in ("AveragePooling", "AvgPool") for d in (1, 2, 3)]
_GLOBAL_MAX = [f"{n}{d}D" for n in ("GlobalMaxPooling", "GlobalMaxPool") for d in (1, 2, 3)]
_GLOBAL_AVG = [f"{n}{d}D" for n in ("GlobalAveragePooling", "GlobalAvgPool") for d in (1, 2, 3)]


@layer(*_MAX, *_AVG)
def pool(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims = spatial_rank(ctx)
    first = channels_first(ctx)
    spatial = spatial_of(ctx, x, dims, first)
    mode = padding_mode(ctx)
    kernel, strides, _ = window_args(ctx, dims, "pool_size")
    attrs, out_spatial = window_attrs(mode, spatial, kernel, strides, (1,) * dims)
    check_output(ctx, x, out_spatial)
    op = "MaxPool" if "Max" in ctx.class_name else "AveragePool"
    scale = None
    if op == "AveragePool":
        attrs["count_include_pad"] = 0
        if dims == 3 and any(attrs.get("pads", ())) and None not in spatial:
            # TFLite has no 3-D pooling that leaves pads out of the count; padded zeros
            # counted, then each output scaled by window size / real cells, is the same.
            attrs["count_include_pad"] = 1
            scale = _real_cell_scale(spatial, kernel, strides, attrs["pads"], out_spatial)
    y = to_channels_first(ctx, x.value, dims + 2, first)
    y = ctx.node(op, [y], kernel_shape=list(kernel), strides=list(strides), **attrs)
    y = to_channels_last(ctx, y, dims + 2, first)
    if scale is not None:
        scale = scale[None, None] if first else scale[None, ..., None]
        y = ctx.node("Mul", [y, ctx.constant(scale.astype(x.dtype), "count_scale", x.dtype)])
    channels = x.shape[1] if first else x.shape[-1]
    return Tensor(y, join_shape(x.shape[0], out_spatial, channels, first), x.dtype)


def _real_cell_scale(spatial, kernel, strides, pads, out_spatial) -> np.ndarray:
    """window size / number of input cells under each output's window, [out spatial...]."""
    dims = len(kernel)
    scale = np.ones((), np.float64)
    for i in range(dims):
        start = np.arange(out_spatial[i]) * strides[i] - pads[i]
        real = np.minimum(start + kernel[i], spatial[i]) - np.maximum(start, 0)
        scale = np.multiply.outer(scale, kernel[i] / real)
    return scale


def _reduce(ctx: LayerContext, op: str, value: str, axes: list[int], keepdims: bool) -> str:
    # ReduceSum takes its axes as an input from opset 13, the other reductions from 18.
    if op == "ReduceSum" or ctx.opset >= 18:
        return ctx.node(op, [value, ctx.int64(axes, "axes")], keepdims=int(keepdims))
    return ctx.node(op, [value], axes=axes, keepdims=int(keepdims))


@layer(*_GLOBAL_MAX, *_GLOBAL_AVG)
def global_pool(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims = spatial_rank(ctx)
    first = channels_first(ctx)
    spatial_of(ctx, x, dims, first)
    keepdims = bool(ctx.get("keepdims", False))
    axes = list(range(2, dims + 2)) if first else list(range(1, dims + 1))
    channels = x.shape[1] if first else x.shape[-1]
    shape = join_shape(x.shape[0], (1,) * dims, channels, first) if keepdims else (x.shape[0], channels)
    if "Max" in ctx.class_name:
        return Tensor(_reduce(ctx, "ReduceMax", x.value, axes, keepdims), shape, x.dtype)
    # The mask: passed to the call (Keras 3, or tf_keras' mask=...), or carried by the input.
    mask = ctx.kwargs.get("mask")
    mask = mask.value if isinstance(mask, Tensor) else x.mask
    if mask is None or dims != 1:
        return Tensor(_reduce(ctx, "ReduceMean", x.value, axes, keepdims), shape, x.dtype)
    # Keras: sum(x * mask) / sum(mask) over the steps.
    mask = ctx.node("Cast", [mask], to=_onnx_float(ctx, x.dtype))
    mask = ctx.unsqueeze(mask, [1 if first else 2])
    total = _reduce(ctx, "ReduceSum", ctx.node("Mul", [x.value, mask]), axes, keepdims)
    count = _reduce(ctx, "ReduceSum", mask, axes, keepdims)
    return Tensor(ctx.node("Div", [total, count]), shape, x.dtype)


def _onnx_float(ctx: LayerContext, dtype) -> int:
    from ..._dtypes import code_of

    if np.dtype(dtype).kind != "f":
        ctx.fail(f"a masked average of {np.dtype(dtype).name} values is not supported")
    return code_of(dtype)
