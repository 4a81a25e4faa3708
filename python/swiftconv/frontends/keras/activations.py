"""Keras activation functions (the `activation=` argument of most layers, and the Activation
layer) as ONNX ops. Keras 3 and tf_keras differ in one: hard_sigmoid is relu6(x + 3) / 6 in
Keras 3 and clip(0.2 x + 0.5, 0, 1) in tf_keras."""

from __future__ import annotations

import math

from . import LayerContext, Tensor, layer


def activation_name(spec) -> str:
    """The activation's name from its config spelling: a string, or a serialized function."""
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
    if name == "leaky_relu":
        return ctx.node("LeakyRelu", [x], alpha=0.2)
    if name in ("swish", "silu"):
        return ctx.node("Mul", [x, ctx.node("Sigmoid", [x])])
    if name == "gelu":
        # Keras' default is the exact form, x * (1 + erf(x / sqrt 2)) / 2.
        scaled = ctx.node("Mul", [x, ctx.constant(1.0 / math.sqrt(2.0), "inv_sqrt2")])
        one_plus = ctx.node("Add", [ctx.node("Erf", [scaled]), ctx.constant(1.0, "one")])
        return ctx.node("Mul", [ctx.node("Mul", [x, ctx.constant(0.5, "half")]), one_plus])
    if name == "hard_sigmoid":
        alpha = 0.2 if ctx.dialect == "tf_keras" else 1.0 / 6.0
        return ctx.node("HardSigmoid", [x], alpha=alpha, beta=0.5)
    if name in ("hard_silu", "hard_swish"):
        return ctx.node("Mul", [x, ctx.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])
    if name == "softmax":
        return ctx.node("Softmax", [x], axis=-1)
    if name == "log_softmax":
        return ctx.node("LogSoftmax", [x], axis=-1)
    if name == "mish":
        return ctx.node("Mul", [x, ctx.node("Tanh", [ctx.node("Softplus", [x])])])
    ctx.fail(f"activation {name!r} is not supported")


@layer("Activation")
def activation_layer(ctx: LayerContext, inputs: list[Tensor]) -> Tensor:
    (x,) = inputs
    return x.like(ctx.activation(x.value, ctx.config.get("activation")))
