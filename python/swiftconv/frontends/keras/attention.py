"""Attention layers: MultiHeadAttention, Attention (dot-product / concat scores) and
AdditiveAttention, as MatMul / Softmax graphs that the ONNX -> TFLite lowering turns into
BATCH_MATMUL and FULLY_CONNECTED.

Masks (the `attention_mask` argument, a causal or sliding-window band, the inputs' Keras masks)
are combined into one float 0/1 tensor `m` and enter the scores as `scores - 1e9 * (1 - m)`,
which is what Keras' masked softmax computes for every row keeping at least one position.

Attention scores asked for as a second output (`return_attention_scores`) get their own
Softmax rather than sharing the weighted sum's: a graph output that other nodes also read
becomes an alias in the ONNX -> TFLite lowering, which can copy it only with a static shape (a
free batch dim is not). The extra Softmax is small next to the MatMuls.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import LayerContext, Tensor, layer

# Keras' "large negative number" for float32 masked scores.
_MASKED = 1.0e9


def _float_mask(ctx: LayerContext, value: str) -> str:
    return ctx.node("Cast", [value], to=1)  # FLOAT


def _combine(ctx: LayerContext, masks: list[str]) -> str | None:
    """The product (logical and) of float 0/1 masks that broadcast against each other."""
    out = None
    for m in masks:
        out = m if out is None else ctx.node("Mul", [out, m])
    return out


def _band_masks(ctx: LayerContext, tq, tk, causal: bool, window) -> list[str]:
    """Constant [1, Tq, Tk] masks: causal (key j <= query i) and |i - j| < window."""
    if not causal and window is None:
        return []
    if tq is None or tk is None:
        ctx.fail("a causal or sliding-window mask needs static sequence lengths")
    rows = np.arange(tq)[:, None]
    cols = np.arange(tk)[None, :]
    out = []
    if causal:
        out.append(ctx.constant((rows >= cols)[None].astype(np.float32), "causal_mask"))
    if window is not None:
        out.append(ctx.constant((np.abs(rows - cols) < window)[None].astype(np.float32), "window_mask"))
    return out


def _masked_scores(ctx: LayerContext, scores: str, mask: str | None) -> str:
    if mask is None:
        return scores
    # (m - 1) * 1e9 is 0 where kept and -1e9 where masked.
    adder = ctx.node("Mul", [ctx.node("Sub", [mask, ctx.constant(1.0, "one")]), ctx.constant(_MASKED, "large")])
    return ctx.node("Add", [scores, adder])


def _flag(ctx: LayerContext, key: str) -> bool:
    value = ctx.kwargs.get(key, False)
    if value is None:
        return False
    if not isinstance(value, (bool, np.bool_)):
        ctx.fail(f"call argument {key}={value!r} must be a constant bool")
    return bool(value)


def _tensor_kwarg(ctx: LayerContext, key: str) -> Tensor | None:
    value = ctx.kwargs.get(key)
    if value is None:
        return None
    if not isinstance(value, Tensor):
        ctx.fail(f"call argument {key} must be a tensor, not {value!r}")
    return value


_KNOWN_KWARGS = {
    "query",
    "value",
    "key",
    "attention_mask",
    "use_causal_mask",
    "return_attention_scores",
    "training",
    "query_mask",
    "value_mask",
    "key_mask",
    "mask",
}


def _check_kwargs(ctx: LayerContext):
    unknown = sorted(set(ctx.kwargs) - _KNOWN_KWARGS)
    if unknown:
        ctx.fail(f"call arguments {unknown} are not supported")


# ---------------------------------------------------------------- MultiHeadAttention


def _mha_inputs(ctx: LayerContext, inputs: list[Tensor]):
    """query, value, key (key defaults to value): positional first, then keyword arguments."""
    named = dict(zip(("query", "value", "key"), inputs))
    for key in ("query", "value", "key"):
        if key not in named and ctx.kwargs.get(key) is not None:
            named[key] = _tensor_kwarg(ctx, key)
    if "query" not in named or "value" not in named:
        ctx.fail("needs a query and a value tensor")
    if len(inputs) > 3:
        ctx.fail(f"takes at most 3 tensors (query, value, key), got {len(inputs)}")
    return named["query"], named["value"], named.get("key")


def _project(ctx, x: str, kernel, bias, perm, hint) -> str:
    """x [N, T, D] through a (D, heads, dim) kernel to [N, T, heads, dim], then transposed by `perm`."""
    d_in, heads, dim = kernel.shape
    y = ctx.node("MatMul", [x, ctx.constant(kernel.reshape(d_in, heads * dim), f"{hint}_kernel")])
    if bias is not None:
        y = ctx.node("Add", [y, ctx.constant(bias.reshape(heads * dim), f"{hint}_bias")])
    return ctx.transpose(ctx.reshape(y, [0, 0, heads, dim]), perm)


def _flatten_axes(ctx: LayerContext, t: Tensor, what: str) -> tuple[str, tuple]:
    """A [N, d1, ..., dk, C] tensor as [N, d1*...*dk, C] (attention over all the middle axes)."""
    middle = tuple(t.shape[1:-1])
    if len(middle) == 1:
        return t.value, middle
    if any(d is None for d in middle):
        ctx.fail(f"the {what}'s attention axes {middle} must be static to attend over several axes")
    return ctx.reshape(t.value, [0, math.prod(middle), t.shape[-1]]), middle


def _as_int(ctx, value, what) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        ctx.fail(f"{what} must be a positive int, not {value!r}")
    return int(value)


@layer("MultiHeadAttention")
def multi_head_attention(ctx: LayerContext, inputs: list[Tensor]) -> list[Tensor]:
    _check_kwargs(ctx)
    query, value, key = _mha_inputs(ctx, inputs)
    key_given = key is not None
    key = key if key_given else value
    heads = _as_int(ctx, ctx.get("num_heads"), "num_heads")
    key_dim = _as_int(ctx, ctx.get("key_dim"), "key_dim")
    value_dim = _as_int(ctx, ctx.get("value_dim", key_dim), "value_dim")
    if ctx.get("use_gate", False):
        ctx.fail("use_gate=True is not supported")
    rank = query.rank
    if rank < 3 or value.rank != rank or key.rank != rank:
        ctx.fail(f"query, value and key must have the same rank >= 3, not {query.shape}, {value.shape}, {key.shape}")
    axes = ctx.get("attention_axes")
    if axes is not None:
        axes = (axes,) if isinstance(axes, numbers.Integral) else tuple(axes)
        if not all(isinstance(a, numbers.Integral) for a in axes):
            ctx.fail(f"attention_axes {axes!r} must be ints")
        # Keras counts them in the projected [N, ..., heads, dim] tensor, one rank above the input's.
        axes = tuple(sorted(int(a) % (rank + 1) for a in axes))
        if axes != tuple(range(1, rank - 1)):
            ctx.fail(
                f"attention_axes {ctx.get('attention_axes')!r}: only attention over every axis but batch and features"
            )
    window = ctx.get("sliding_window")
    if window is not None:
        window = _as_int(ctx, window, "sliding_window")
    use_bias = bool(ctx.get("use_bias", True))
    w = [np.asarray(a, np.float32) for a in ctx.weights_count(8 if use_bias else 4)]
    if use_bias:
        wq, bq, wk, bk, wv, bv, wo, bo = w
    else:
        (wq, wk, wv, wo), bq, bk, bv, bo = w, None, None, None, None
    d_q, d_k, d_v = query.shape[-1], key.shape[-1], value.shape[-1]
    expected = [
        ("query kernel", wq, (d_q, heads, key_dim)),
        ("key kernel", wk, (d_k, heads, key_dim)),
        ("value kernel", wv, (d_v, heads, value_dim)),
    ]
    if use_bias:
        expected += [
            ("query bias", bq, (heads, key_dim)),
            ("key bias", bk, (heads, key_dim)),
            ("value bias", bv, (heads, value_dim)),
        ]
    for what, array, shape in expected:
        if array.shape != tuple(shape):
            ctx.fail(f"{what} has shape {array.shape}, expected {tuple(shape)}")
    if wo.ndim < 3 or wo.shape[:2] != (heads, value_dim) or (use_bias and bo.shape != wo.shape[2:]):
        ctx.fail(f"output kernel/bias of shapes {wo.shape}/{None if bo is None else bo.shape} do not fit")
    out_dims = tuple(int(d) for d in wo.shape[2:])

    q_value, q_middle = _flatten_axes(ctx, query, "query")
    v_value, k_middle = (q_value, q_middle) if value is query else _flatten_axes(ctx, value, "value")
    k_value = v_value if not key_given else _flatten_axes(ctx, key, "key")[0]
    if key_given and tuple(key.shape[1:-1]) != tuple(value.shape[1:-1]):
        ctx.fail(f"key {key.shape} and value {value.shape} must have the same attention axes")
    tq = math.prod(q_middle) if None not in q_middle else None
    tk = math.prod(k_middle) if None not in k_middle else None

    # Masks, as float [N|1, Tq|1, Tk|1].
    masks = []
    attention_mask = _tensor_kwarg(ctx, "attention_mask")
    causal = _flag(ctx, "use_causal_mask")
    if rank > 3 and (causal or window is not None or attention_mask is not None or query.mask or value.mask):
        ctx.fail("masks are supported for sequences (rank-3 inputs) only")
    if attention_mask is not None:
        if attention_mask.rank != 3:
            ctx.fail(f"attention_mask must be [batch, Tq, Tk], not {attention_mask.shape}")
        masks.append(_float_mask(ctx, attention_mask.value))
    if query.mask is not None:
        masks.append(ctx.unsqueeze(_float_mask(ctx, query.mask), [2]))
    if value.mask is not None:
        masks.append(ctx.unsqueeze(_float_mask(ctx, value.mask), [1]))
    if key_given and key.mask is not None:
        masks.append(ctx.unsqueeze(_float_mask(ctx, key.mask), [1]))
    masks += _band_masks(ctx, tq, tk, causal, window)
    mask = _combine(ctx, masks)
    if mask is not None:
        mask = ctx.unsqueeze(mask, [1])  # over the heads

    # Keras scales the projected query by 1/sqrt(key_dim): folded into its kernel and bias.
    scale = 1.0 / math.sqrt(float(key_dim))
    q = _project(ctx, q_value, wq * scale, None if bq is None else bq * scale, [0, 2, 1, 3], "query")
    k = _project(ctx, k_value, wk, bk, [0, 2, 3, 1], "key")  # [N, H, dim, Tk]
    v = _project(ctx, v_value, wv, bv, [0, 2, 1, 3], "value")
    scores = _masked_scores(ctx, ctx.node("MatMul", [q, k]), mask)
    return_scores = _flag(ctx, "return_attention_scores")

    def softmax():
        probs = ctx.node("Softmax", [scores], axis=-1)
        if mask is not None and ctx.dialect == "keras3" and (return_scores or ctx.get("dropout", 0.0) > 0):
            # Keras 3's unfused path (the one giving scores) zeroes masked positions after the softmax.
            probs = ctx.node("Mul", [probs, mask])
        return probs

    attended = ctx.node("MatMul", [softmax(), v])  # [N, H, Tq, value_dim]
    merged = ctx.reshape(ctx.transpose(attended, [0, 2, 1, 3]), [0, 0, heads * value_dim])
    y = ctx.node("MatMul", [merged, ctx.constant(wo.reshape(heads * value_dim, -1), "output_kernel")])
    if bo is not None:
        y = ctx.node("Add", [y, ctx.constant(bo.reshape(-1), "output_bias")])
    out_shape = (query.shape[0], *q_middle, *out_dims)
    if len(q_middle) != 1 or len(out_dims) != 1:
        y = ctx.reshape(y, [0, *q_middle, *out_dims])
    outs = [Tensor(y, out_shape, np.float32, query.mask)]
    if return_scores:
        probs = softmax()  # its own copy (module docstring)
        if len(q_middle) != 1:
            probs = ctx.reshape(probs, [0, heads, *q_middle, *k_middle])
        outs.append(Tensor(probs, (query.shape[0], heads, *q_middle, *k_middle), np.float32))
    return outs


# ---------------------------------------------------------------- Attention, AdditiveAttention


def _attention_inputs(ctx: LayerContext, inputs: list[Tensor]):
    if len(inputs) not in (2, 3) or any(t.rank != 3 for t in inputs):
        ctx.fail(f"takes [query, value] or [query, value, key] of rank 3, got {[t.shape for t in inputs]}")
    q, v = inputs[0], inputs[1]
    k = inputs[2] if len(inputs) == 3 else v
    q_mask, v_mask = q.mask, v.mask
    explicit = ctx.kwargs.get("mask")
    if explicit is not None:
        if not isinstance(explicit, (list, tuple)) or len(explicit) < 2:
            ctx.fail(f"call argument mask must be [query_mask, value_mask], not {explicit!r}")
        for m in explicit[:2]:
            if m is not None and not isinstance(m, Tensor):
                ctx.fail(f"call argument mask holds {m!r}, not tensors")
        q_mask = explicit[0].value if explicit[0] is not None else None
        v_mask = explicit[1].value if explicit[1] is not None else None
    return q, v, k, q_mask, v_mask


def _score_sum(ctx: LayerContext, values: str) -> str:
    if ctx.opset >= 13:
        return ctx.node("ReduceSum", [values, ctx.int64([-1], "axes")], keepdims=0)
    return ctx.node("ReduceSum", [values], axes=[-1], keepdims=0)


def _finish_attention(ctx, q, v, k, q_mask, v_mask, scores) -> list[Tensor]:
    """Masks, softmax and the weighted sum shared by Attention and AdditiveAttention."""
    causal = _flag(ctx, "use_causal_mask") or bool(ctx.get("causal", False))  # tf_keras' older config flag
    masks = []
    if v_mask is not None:
        masks.append(ctx.unsqueeze(_float_mask(ctx, v_mask), [1]))
    masks += _band_masks(ctx, q.shape[1], k.shape[1], causal, None)
    scores = _masked_scores(ctx, scores, _combine(ctx, masks))
    y = ctx.node("MatMul", [ctx.node("Softmax", [scores], axis=-1), v.value])
    if q_mask is not None:
        y = ctx.node("Mul", [y, ctx.unsqueeze(_float_mask(ctx, q_mask), [2])])
    outs = [Tensor(y, (q.shape[0], q.shape[1], v.shape[-1]), np.float32, q.mask)]
    if _flag(ctx, "return_attention_scores"):
        probs = ctx.node("Softmax", [scores], axis=-1)  # its own copy (module docstring)
        outs.append(Tensor(probs, (q.shape[0], q.shape[1], k.shape[1]), np.float32))
    return outs


@layer("Attention")
def attention(ctx: LayerContext, inputs: list[Tensor]) -> list[Tensor]:
    _check_kwargs(ctx)
    q, v, k, q_mask, v_mask = _attention_inputs(ctx, inputs)
    mode = ctx.get("score_mode", "dot")
    use_scale = bool(ctx.get("use_scale", False))
    count = int(use_scale) + int(mode == "concat")
    w = [np.asarray(a, np.float32).reshape(()) for a in ctx.weights_count(count)] if count else []
    scale = w[0] if use_scale else None
    if mode == "dot":
        if q.shape[-1] != k.shape[-1]:
            ctx.fail(f"query {q.shape} and key {k.shape} must have the same last dim")
        scores = ctx.node("MatMul", [q.value, ctx.transpose(k.value, [0, 2, 1])])
        if scale is not None:
            scores = ctx.node("Mul", [scores, ctx.constant(scale, "scale")])
    elif mode == "concat":
        total = ctx.node("Add", [ctx.unsqueeze(q.value, [2]), ctx.unsqueeze(k.value, [1])])
        if scale is not None:
            total = ctx.node("Mul", [total, ctx.constant(scale, "scale")])
        scores = ctx.node("Mul", [_score_sum(ctx, ctx.node("Tanh", [total])), ctx.constant(w[-1], "concat_weight")])
    else:
        ctx.fail(f"score_mode {mode!r} is not supported")
    return _finish_attention(ctx, q, v, k, q_mask, v_mask, scores)


@layer("AdditiveAttention")
def additive_attention(ctx: LayerContext, inputs: list[Tensor]) -> list[Tensor]:
    _check_kwargs(ctx)
    q, v, k, q_mask, v_mask = _attention_inputs(ctx, inputs)
    use_scale = bool(ctx.get("use_scale", True))
    w = ctx.weights_count(1 if use_scale else 0)
    total = ctx.node("Tanh", [ctx.node("Add", [ctx.unsqueeze(q.value, [2]), ctx.unsqueeze(k.value, [1])])])
    if use_scale:
        scale = np.asarray(w[0], np.float32)
        if scale.shape != (k.shape[-1],):
            ctx.fail(f"scale of shape {scale.shape} does not fit a key of shape {k.shape}")
        total = ctx.node("Mul", [total, ctx.constant(scale, "scale")])
    return _finish_attention(ctx, q, v, k, q_mask, v_mask, _score_sum(ctx, total))
