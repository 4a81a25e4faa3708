"""Convolution layers: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D and
Conv1D/2D/3DTranspose, as ONNX Conv / ConvTranspose between NHWC <-> NCHW Transposes.

Keras' 'same' padding is TensorFlow's: the total padding a window needs is split with the odd
cell at the end. With a static input size the pads are written out; with an unknown size and a
stride above 1 the node says auto_pad=SAME_UPPER, which is the same rule.
Kernel layouts: Keras (k..., in, out) -> ONNX (out, in, k...); depthwise (k..., in, mult) ->
a convolution with one group per input channel, output channel c * mult + m; transposed
(k..., out, in) -> ONNX ConvTranspose's (in, out, k...).
"""

from __future__ import annotations

import numbers
import re

import numpy as np

from . import LayerContext, Tensor, as_tuple, layer

# ---------------------------------------------------------------- shared with pooling


def spatial_rank(ctx: LayerContext) -> int:
    """1, 2 or 3: the 'nD' in the layer's class name (Conv2D, MaxPooling3D ...)."""
    found = re.search(r"([123])D", ctx.class_name)
    if found is None:
        ctx.fail("the class name does not say how many spatial dims it has")
    return int(found.group(1))


def channels_first(ctx: LayerContext) -> bool:
    fmt = ctx.get("data_format", "channels_last")
    if fmt not in ("channels_last", "channels_first"):
        ctx.fail(f"data_format {fmt!r} is not supported")
    return fmt == "channels_first"


def spatial_of(ctx: LayerContext, x: Tensor, dims: int, first: bool) -> tuple:
    """The spatial dims of `x`, checked to be a (batch, spatial..., channels) tensor."""
    if x.rank != dims + 2:
        ctx.fail(f"expects a rank-{dims + 2} input, got shape {x.shape}")
    return tuple(x.shape[2:]) if first else tuple(x.shape[1:-1])


def to_channels_first(ctx: LayerContext, value: str, rank: int, first: bool) -> str:
    return value if first else ctx.transpose(value, [0, rank - 1, *range(1, rank - 1)])


def to_channels_last(ctx: LayerContext, value: str, rank: int, first: bool) -> str:
    return value if first else ctx.transpose(value, [0, *range(2, rank), 1])


def join_shape(batch, spatial, channels, first: bool) -> tuple:
    return (batch, channels, *spatial) if first else (batch, *spatial, channels)


def padding_mode(ctx: LayerContext, allowed=("valid", "same")) -> str:
    mode = ctx.get("padding", "valid")
    mode = mode.lower() if isinstance(mode, str) else mode
    if mode not in allowed:
        ctx.fail(f"padding {mode!r} is not supported (expected one of {', '.join(allowed)})")
    return mode


def window_attrs(mode: str, spatial, kernel, strides, dilations) -> tuple[dict, tuple]:
    """ONNX pads (or auto_pad) for a Keras window op, and the output's spatial size."""
    begins, ends, out = [], [], []
    for size, k, s, d in zip(spatial, kernel, strides, dilations):
        span = (k - 1) * d + 1
        if mode == "valid":
            begins.append(0)
            ends.append(0)
            out.append(None if size is None else max((size - span) // s + 1, 0))
            continue
        if mode == "causal":
            begins.append(span - 1)
            ends.append(0)
        elif size is None and s > 1:
            # The pads depend on the size: TensorFlow's SAME is ONNX's SAME_UPPER.
            return {"auto_pad": "SAME_UPPER"}, tuple(
                None if n is None else -(-n // t) for n, t in zip(spatial, strides)
            )
        else:
            total = span - 1 if size is None else max((-(-size // s) - 1) * s + span - size, 0)
            begins.append(total // 2)
            ends.append(total - total // 2)
        out.append(None if size is None else -(-size // s))
    return {"pads": begins + ends}, tuple(out)


def ints(ctx: LayerContext, value, n: int, what: str) -> tuple:
    """as_tuple, also refusing values that are neither an int nor a list of them."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, list, tuple)):
        ctx.fail(f"{what} must be an integer or {n} integers, not {value!r}")
    if not isinstance(value, numbers.Integral) and any(isinstance(v, bool) for v in value):
        ctx.fail(f"{what} must be {n} integers, not {value!r}")
    return as_tuple(value, n, what, ctx)


def check_output(ctx: LayerContext, x: Tensor, out_spatial) -> None:
    if any(n is not None and n < 1 for n in out_spatial):
        ctx.fail(f"the window does not fit an input of shape {x.shape} (output size {out_spatial})")


def window_args(ctx: LayerContext, dims: int, size_key: str, default_strides=None):
    """(kernel, strides, dilations) from the config, validated; strides default to
    `default_strides`, else to the window (as pooling's do)."""
    if ctx.config.get(size_key) is None:
        ctx.fail(f"{size_key} is missing")
    kernel = ints(ctx, ctx.config[size_key], dims, size_key)
    strides = ctx.config.get("strides")
    strides = ints(ctx, strides, dims, "strides") if strides is not None else (default_strides or kernel)
    dilations = ints(ctx, ctx.get("dilation_rate", 1), dims, "dilation_rate")
    if min(kernel + strides + dilations) < 1:
        ctx.fail(f"{size_key} {kernel}, strides {strides} and dilation_rate {dilations} must be positive")
    if max(strides) > 1 and max(dilations) > 1:
        ctx.fail("strides and dilation_rate both above 1 are not supported (Keras refuses them too)")
    return kernel, strides, dilations


def _out(x: Tensor, value: str, shape) -> Tensor:
    # Convolution and pooling layers do not propagate Keras masks.
    return Tensor(value, tuple(shape), x.dtype)


def _weights(ctx: LayerContext, count: int) -> list[np.ndarray]:
    use_bias = bool(ctx.get("use_bias", True))
    w = ctx.weights_count(count + 1 if use_bias else count)
    return [np.asarray(a, np.float32) for a in w] + ([] if use_bias else [None])


def _check(ctx: LayerContext, array, shape, what):
    if array.shape != tuple(shape):
        ctx.fail(f"{what} has shape {array.shape}, expected {tuple(shape)}")


def _in_channels(ctx: LayerContext, x: Tensor, first: bool) -> int:
    c = x.shape[1] if first else x.shape[-1]
    if c is None:
        ctx.fail(f"the input's channel count is unknown (shape {x.shape})")
    return int(c)


def _bias_attr(ctx, bias):
    return [] if bias is None else [ctx.constant(bias, "bias")]


# ---------------------------------------------------------------- Conv


@layer("Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D")
def conv(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims = spatial_rank(ctx)
    first = channels_first(ctx)
    spatial = spatial_of(ctx, x, dims, first)
    mode = padding_mode(ctx, ("valid", "same", "causal") if dims == 1 else ("valid", "same"))
    kernel, strides, dilations = window_args(ctx, dims, "kernel_size", (1,) * dims)
    groups = ctx.get("groups", 1)
    filters = ctx.get("filters")
    cin = _in_channels(ctx, x, first)
    if not isinstance(groups, int) or groups < 1 or cin % groups or not isinstance(filters, int) or filters % groups:
        ctx.fail(f"groups {groups!r} must divide the {cin} input channels and the {filters!r} filters")
    w, bias = _weights(ctx, 1)
    _check(ctx, w, (*kernel, cin // groups, filters), "the kernel")
    if bias is not None:
        _check(ctx, bias, (filters,), "the bias")
    if mode == "causal" and first:
        ctx.fail("causal padding with channels_first is not supported")
    pads, out_spatial = window_attrs(mode, spatial, kernel, strides, dilations)
    check_output(ctx, x, out_spatial)
    onnx_w = np.ascontiguousarray(np.transpose(w, (dims + 1, dims, *range(dims))))
    y = to_channels_first(ctx, x.value, dims + 2, first)
    y = ctx.node(
        "Conv",
        [y, ctx.constant(onnx_w, "kernel"), *_bias_attr(ctx, bias)],
        kernel_shape=list(kernel),
        strides=list(strides),
        dilations=list(dilations),
        group=groups,
        **pads,
    )
    y = to_channels_last(ctx, y, dims + 2, first)
    y = ctx.activation(y, ctx.config.get("activation"))
    return _out(x, y, join_shape(x.shape[0], out_spatial, filters, first))


# ---------------------------------------------------------------- depthwise and separable


def _depthwise_weight(ctx, w, kernel, cin, mult) -> np.ndarray:
    """Keras' (k..., in, mult) as ONNX's grouped (in * mult, 1, k...)."""
    _check(ctx, w, (*kernel, cin, mult), "the depthwise kernel")
    dims = len(kernel)
    w = w.reshape(*kernel, cin * mult)
    return np.ascontiguousarray(np.transpose(w, (dims, *range(dims))).reshape(cin * mult, 1, *kernel))


@layer("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
       "SeparableConvolution2D")  # fmt: skip
def depthwise_conv(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims = spatial_rank(ctx)
    separable = ctx.class_name.startswith("Separable")
    first = channels_first(ctx)
    spatial = spatial_of(ctx, x, dims, first)
    mode = padding_mode(ctx, ("valid", "same", "causal") if dims == 1 and not first else ("valid", "same"))
    kernel, strides, dilations = window_args(ctx, dims, "kernel_size", (1,) * dims)
    mult = ctx.get("depth_multiplier", 1)
    cin = _in_channels(ctx, x, first)
    if not isinstance(mult, int) or mult < 1:
        ctx.fail(f"depth_multiplier {mult!r} must be a positive integer")
    weights = _weights(ctx, 2 if separable else 1)
    dw = _depthwise_weight(ctx, weights[0], kernel, cin, mult)
    pads, out_spatial = window_attrs(mode, spatial, kernel, strides, dilations)
    check_output(ctx, x, out_spatial)
    y = to_channels_first(ctx, x.value, dims + 2, first)
    bias = weights[-1]
    channels = cin * mult
    y = ctx.node(
        "Conv",
        [y, ctx.constant(dw, "depthwise_kernel"), *([] if separable else _bias_attr(ctx, bias))],
        kernel_shape=list(kernel),
        strides=list(strides),
        dilations=list(dilations),
        group=cin,
        **pads,
    )
    if separable:
        pw = weights[1]
        filters = ctx.get("filters")
        _check(ctx, pw, (*(1,) * dims, channels, filters), "the pointwise kernel")
        pw = np.ascontiguousarray(
            np.transpose(pw.reshape(channels, filters), (1, 0)).reshape(filters, channels, *(1,) * dims)
        )
        y = ctx.node("Conv", [y, ctx.constant(pw, "pointwise_kernel"), *_bias_attr(ctx, bias)], kernel_shape=[1] * dims)
        channels = filters
    if bias is not None:
        _check(ctx, bias, (channels,), "the bias")
    y = to_channels_last(ctx, y, dims + 2, first)
    y = ctx.activation(y, ctx.config.get("activation"))
    return _out(x, y, join_shape(x.shape[0], out_spatial, channels, first))


# ---------------------------------------------------------------- transposed


def _transpose_pads(ctx, mode, spatial, kernel, strides, dilations, output_padding):
    """ONNX (pads, output_padding) giving Keras' output size, and that size.

    TensorFlow computes a transposed convolution as the gradient of the forward one whose
    input has Keras' output size: the full result ((n - 1) s + span) loses the forward pads,
    TF SAME's begin half at the start; a result larger than the full one ends in bias alone."""
    begins, ends, extra, out = [], [], [], []
    for i, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilations)):
        span = (k - 1) * d + 1
        op = None if output_padding is None else output_padding[i]
        if op is None:
            # Keras' deconv_output_length; full - size does not depend on n.
            size_minus_full = s - span if mode == "same" else max(span - s, 0) + s - span
        else:
            pad = span // 2 if mode == "same" else 0
            size_minus_full = op - 2 * pad
        total = -size_minus_full
        if total >= 0:
            begins.append(total // 2)
            ends.append(total - total // 2)
            extra.append(0)
        else:
            begins.append(0)
            ends.append(0)
            extra.append(-total)
        out.append(None if n is None else (n - 1) * s + span + size_minus_full)
    if any(e >= s for e, s in zip(extra, strides)):
        ctx.fail(f"output_padding {output_padding} must be smaller than the strides {strides}")
    return begins + ends, extra, tuple(out)


@layer("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution1DTranspose",
       "Convolution2DTranspose", "Convolution3DTranspose", "Deconvolution2D", "Deconvolution3D")  # fmt: skip
def conv_transpose(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    dims = spatial_rank(ctx)
    first = channels_first(ctx)
    spatial = spatial_of(ctx, x, dims, first)
    mode = padding_mode(ctx)
    kernel, strides, dilations = window_args(ctx, dims, "kernel_size", (1,) * dims)
    output_padding = ctx.config.get("output_padding")
    if output_padding is not None:
        output_padding = ints(ctx, output_padding, dims, "output_padding")
        if any(not 0 <= p < s for p, s in zip(output_padding, strides)):
            ctx.fail(f"output_padding {output_padding} must be below the strides {strides}")
    if ctx.get("groups", 1) != 1:
        ctx.fail("groups other than 1 are not supported for transposed convolutions")
    filters = ctx.get("filters")
    cin = _in_channels(ctx, x, first)
    w, bias = _weights(ctx, 1)
    _check(ctx, w, (*kernel, filters, cin), "the kernel")
    if bias is not None:
        _check(ctx, bias, (filters,), "the bias")
    pads, extra, out_spatial = _transpose_pads(ctx, mode, spatial, kernel, strides, dilations, output_padding)
    check_output(ctx, x, out_spatial)
    onnx_w = np.transpose(w, (dims + 1, dims, *range(dims)))
    y = to_channels_first(ctx, x.value, dims + 2, first)
    # A 1-D transposed convolution runs as a 2-D one of height 1 (TFLite has only the 2-D one).
    lift = dims == 1
    if lift:
        y = ctx.unsqueeze(y, [2])
        onnx_w = onnx_w[:, :, None, :]
        kernel, strides, dilations = (1, *kernel), (1, *strides), (1, *dilations)
        pads, extra = [0, pads[0], 0, pads[1]], [0, *extra]
    y = ctx.node(
        "ConvTranspose",
        [y, ctx.constant(np.ascontiguousarray(onnx_w), "kernel"), *_bias_attr(ctx, bias)],
        kernel_shape=list(kernel),
        strides=list(strides),
        dilations=list(dilations),
        pads=pads,
        output_padding=extra if any(extra) else None,
    )
    if lift:
        y = ctx.squeeze(y, [2])
    y = to_channels_last(ctx, y, dims + 2, first)
    y = ctx.activation(y, ctx.config.get("activation"))
    return _out(x, y, join_shape(x.shape[0], out_spatial, filters, first))
