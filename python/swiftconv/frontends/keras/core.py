"""Core layers: Dense (on inputs of any rank) and the layers that do nothing at inference
(Dropout and its relatives, noise layers)."""

from __future__ import annotations

import numpy as np

from . import LayerContext, Tensor, layer


@layer("Dense")
def dense(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    use_bias = ctx.config.get("use_bias", True)
    weights = ctx.weights_count(2 if use_bias else 1)
    kernel = np.asarray(weights[0], np.float32)
    if kernel.ndim != 2 or (x.shape[-1] is not None and kernel.shape[0] != x.shape[-1]):
        ctx.fail(f"kernel of shape {kernel.shape} does not fit an input of shape {x.shape}")
    if use_bias and x.rank == 2:
        # Gemm carries the bias: TFLite's FULLY_CONNECTED takes it, with no separate ADD.
        bias = ctx.constant(np.asarray(weights[1], np.float32), "bias")
        y = ctx.node("Gemm", [x.value, ctx.constant(kernel, "kernel"), bias])
    else:
        y = ctx.node("MatMul", [x.value, ctx.constant(kernel, "kernel")])
        if use_bias:
            y = ctx.node("Add", [y, ctx.constant(np.asarray(weights[1], np.float32), "bias")])
    y = ctx.activation(y, ctx.config.get("activation"))
    return x.like(y, (*x.shape[:-1], kernel.shape[1]))


@layer(
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
)
def inference_identity(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    """Active only in training: the input itself at inference."""
    (x,) = inputs
    return x
