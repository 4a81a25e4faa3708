"""Recurrent layers: SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed, as ONNX RNN, LSTM
and GRU ops (Embedding, Masking and the mask operations are in `embedding.py`).

Keras runs batch-major [N, T, F]; ONNX's recurrent ops at opset 13 take [T, N, F] (the `layout`
attribute only exists from opset 14), so the input goes through a Transpose and Y [T, dirs, N, U]
back. Keras' gate order is LSTM i, f, c, o (ONNX i, o, f, c) and GRU z, r, h (the same in ONNX);
GRU(reset_after=True), Keras' default, is ONNX's linear_before_reset=1 with the bias's two rows
as the input and recurrent biases. A standalone layer with go_backwards returns its sequence in
the reversed order it ran in; Bidirectional turns its backward half's sequence back.

Masks. A mask (tf_keras: carried by the input tensor; Keras 3: the `mask` call argument, computed
by operations written into the config) makes Keras skip the masked steps, carrying the state.
It is read here as a prefix length per row, ONNX's `sequence_lens` = the number of True steps:
exact for right padding (Embedding(mask_zero=True) over post-padded token rows, Masking over
trailing padding), which is how masks come in practice; a mask with holes is converted as if
its True steps came first. At a masked step of a returned sequence Keras gives zeros inside
Bidirectional (zero_output_for_mask) and otherwise the last output again; ONNX gives zeros, so
the carried form adds the last output back at the masked steps. A returned sequence keeps the
input's mask; a last-step output has none.
"""

from __future__ import annotations

import numpy as np

from . import LayerContext, Tensor, layer
from .activations import activation_name

# Keras activation -> (ONNX recurrent activation name, needs alpha/beta).
_ONNX_ACTIVATIONS = {
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "relu": "Relu",
    "softsign": "Softsign",
    "softplus": "Softplus",
    "linear": "Affine",
    "hard_sigmoid": "HardSigmoid",
}
_CELLS = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
# Keras LSTM kernel columns i, f, c, o -> ONNX i, o, f, c.
_LSTM_ORDER = (0, 3, 1, 2)


def _activation(ctx: LayerContext, spec) -> tuple[str, float | None, float | None]:
    """The ONNX recurrent activation (name, alpha, beta) of a Keras activation spec."""
    name = activation_name(spec)
    if name in (None, "identity"):
        name = "linear"
    if name not in _ONNX_ACTIVATIONS:
        ctx.fail(f"activation {name!r} is not supported in a recurrent layer")
    if name == "hard_sigmoid":
        return "HardSigmoid", (0.2 if ctx.dialect == "tf_keras" else 1.0 / 6.0), 0.5
    if name == "linear":
        return "Affine", 1.0, 0.0
    return _ONNX_ACTIVATIONS[name], None, None


class _Cell:
    """One recurrent layer's config and weights in ONNX's form (one direction)."""

    def __init__(self, ctx: LayerContext, cls: str, cfg: dict, weights: list, input_size):
        if cls not in _CELLS:
            ctx.fail(f"{cls} is not a recurrent layer that converts")
        self.cls, self.op = cls, _CELLS[cls]
        units = cfg.get("units")
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            ctx.fail(f"units must be a positive int, not {units!r}")
        self.units = u = int(units)
        if cfg.get("stateful"):
            ctx.fail("stateful recurrent layers are not converted (their state lives outside the model)")
        if cfg.get("time_major"):
            ctx.fail("time_major recurrent layers are not converted")
        self.use_bias = bool(cfg.get("use_bias", True))
        self.reset_after = cls == "GRU" and bool(cfg.get("reset_after", True))
        gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[self.op]
        want = 3 if self.use_bias else 2
        if len(weights) != want:
            ctx.fail(f"{cls} has {len(weights)} weight arrays, expected {want}")
        kernel, recurrent = (np.asarray(w, np.float32) for w in weights[:2])
        if kernel.ndim != 2 or kernel.shape[1] != gates * u or recurrent.shape != (u, gates * u):
            ctx.fail(f"weights of shapes {kernel.shape}, {recurrent.shape} do not fit {units} units")
        if input_size is not None and kernel.shape[0] != input_size:
            ctx.fail(f"kernel of shape {kernel.shape} does not fit an input of {input_size} features")
        bias_w = np.zeros(gates * u, np.float32)
        bias_r = np.zeros(gates * u, np.float32)
        if self.use_bias:
            bias = np.asarray(weights[2], np.float32)
            if self.reset_after:
                if bias.shape != (2, gates * u):
                    ctx.fail(f"bias of shape {bias.shape} is not (2, {gates * u})")
                bias_w, bias_r = bias[0], bias[1]
            else:
                if bias.shape != (gates * u,):
                    ctx.fail(f"bias of shape {bias.shape} is not ({gates * u},)")
                bias_w = bias
        order = _LSTM_ORDER if self.op == "LSTM" else tuple(range(gates))

        def reorder(a):  # [..., gates * u] -> ONNX gate order
            return np.concatenate([a[..., g * u : (g + 1) * u] for g in order], axis=-1)

        self.w = reorder(kernel).T  # [gates*u, F]
        self.r = reorder(recurrent).T  # [gates*u, u]
        self.b = np.concatenate([reorder(bias_w), reorder(bias_r)])
        acts = [_activation(ctx, cfg.get("activation", "tanh"))]
        if self.op != "RNN":
            acts.insert(0, _activation(ctx, cfg.get("recurrent_activation", "sigmoid")))
        if self.op == "LSTM":
            acts.append(acts[1])  # the cell state's output activation is `activation` too
        self.activations = acts

    def same_op(self, other: _Cell) -> bool:
        return (
            self.op == other.op
            and self.units == other.units
            and self.reset_after == other.reset_after
            and self.activations == other.activations
            and self.w.shape == other.w.shape
        )


def _sequence_lens(ctx: LayerContext, mask: str | None) -> str:
    """ONNX sequence_lens (int32 [N]) from a bool [N, T] mask: its True count per row."""
    if mask is None:
        return ""
    count = ctx.node("Cast", [mask], to=6)  # INT32
    return ctx.node("ReduceSum", [count, ctx.int64([1], "time_axis")], keepdims=0)


def _run(ctx: LayerContext, cells: list[_Cell], x_tnf: str, direction: str, lens: str, initial: list | None):
    """One ONNX recurrent op over `cells` (one, or two for bidirectional) -> (Y, Y_h, Y_c)."""
    cell = cells[0]
    acts = [a for c in cells for a in c.activations]
    attrs = {"hidden_size": cell.units, "direction": direction, "activations": [a[0] for a in acts]}
    alphas = [a[1] for a in acts if a[1] is not None]
    if alphas:
        attrs["activation_alpha"] = alphas
        attrs["activation_beta"] = [a[2] for a in acts if a[2] is not None]
    if cell.op == "GRU" and cell.reset_after:
        attrs["linear_before_reset"] = 1
    inputs = [
        x_tnf,
        ctx.constant(np.stack([c.w for c in cells]), "W"),
        ctx.constant(np.stack([c.r for c in cells]), "R"),
        ctx.constant(np.stack([c.b for c in cells]), "B"),
        lens,
    ]
    if initial:
        inputs += initial
    while inputs and inputs[-1] == "":
        inputs.pop()
    outs = 3 if cell.op == "LSTM" else 2
    return ctx.node(cell.op, inputs, outputs=outs, **attrs)


def _initial_states(ctx: LayerContext, cell: _Cell, states, dirs: int = 1) -> list[str] | None:
    """initial_h (and initial_c) [dirs, N, U] from Keras initial states ([N, U] each, h then c
    per direction)."""
    if not states:
        return None
    per = 2 if cell.op == "LSTM" else 1
    if len(states) != per * dirs or not all(isinstance(s, Tensor) for s in states):
        ctx.fail(f"initial_state must be {per * dirs} tensors")
    out = []
    for k in range(per):
        parts = [ctx.unsqueeze(states[d * per + k].value, [0]) for d in range(dirs)]
        out.append(parts[0] if dirs == 1 else ctx.node("Concat", parts, axis=0))
    return out


def _reverse_time(ctx: LayerContext, value: str, steps) -> str:
    """[N, T, ...] reversed along T."""
    if steps is not None:
        return ctx.node("Gather", [value, ctx.int64(list(range(steps - 1, -1, -1)), "reversed")], axis=1)
    big = np.iinfo(np.int64).max
    return ctx.node(
        "Slice", [value, ctx.int64([-1], "start"), ctx.int64([-big], "end"), ctx.int64([1], "axis"), ctx.int64([-1])]
    )


def _mask_of(ctx: LayerContext, x: Tensor) -> str | None:
    mask = ctx.kwargs.get("mask")
    if isinstance(mask, list):
        mask = mask[0] if mask else None
    if isinstance(mask, Tensor):
        return mask.value
    return x.mask


def _input(ctx: LayerContext, inputs: list[Tensor]) -> tuple[Tensor, list]:
    """The sequence input and the initial states (call argument or extra inputs)."""
    if not inputs:
        ctx.fail("the layer has no input")
    x, states = inputs[0], list(inputs[1:])
    extra = ctx.kwargs.get("initial_state")
    if extra is not None:
        states = list(extra) if isinstance(extra, (list, tuple)) else [extra]
    if x.rank != 3:
        ctx.fail(f"the input must be [batch, time, features], not of shape {x.shape}")
    return x, states


def _direction_outputs(ctx: LayerContext, y, yh, yc, d: int, dirs: int, units: int):
    """Direction d's [N, T, U] sequence and [N, U] states from Y [T, dirs, N, U], Y_h, Y_c."""

    def pick(v, axis):
        if dirs == 1:
            return ctx.squeeze(v, [axis])
        part = ctx.node("Slice", [v, ctx.int64([d], "start"), ctx.int64([d + 1], "end"), ctx.int64([axis], "axis")])
        return ctx.squeeze(part, [axis])

    seq = ctx.transpose(pick(y, 1), (1, 0, 2))
    states = [pick(yh, 0)] + ([pick(yc, 0)] if yc is not None else [])
    return seq, states


def _last_step(ctx: LayerContext, seq: str, reverse: bool) -> str:
    """The [N, U] output of a direction's last step from its [N, T, U] sequence (in time order):
    Y_h's value, computed apart from it so that returning both the output and the state gives two
    values (an output repeating another of dynamic shape does not go to TFLite)."""
    return ctx.squeeze(ctx.node("Gather", [seq, ctx.int64([0 if reverse else -1], "last")], axis=1), [1])


def _carry_masked(ctx: LayerContext, seq: str, last: str, mask: str) -> str:
    """Keras' output at masked steps without zero_output_for_mask: the last output again."""
    gap = ctx.node("Cast", [ctx.node("Not", [mask])], to=1)
    gap = ctx.unsqueeze(gap, [2])
    return ctx.node("Add", [seq, ctx.node("Mul", [gap, ctx.unsqueeze(last, [1])])])


@layer("SimpleRNN", "LSTM", "GRU")
def recurrent(ctx: LayerContext, inputs: list[Tensor]):
    x, states = _input(ctx, inputs)
    cfg = ctx.config
    cell = _Cell(ctx, ctx.class_name, cfg, ctx.weights(), x.shape[2])
    mask = _mask_of(ctx, x)
    backwards = bool(cfg.get("go_backwards", False))
    xt = ctx.transpose(x.value, (1, 0, 2))
    outs = _run(
        ctx,
        [cell],
        xt,
        "reverse" if backwards else "forward",
        _sequence_lens(ctx, mask),
        _initial_states(ctx, cell, states),
    )
    seq, finals = _direction_outputs(ctx, outs[0], outs[1], outs[2] if len(outs) > 2 else None, 0, 1, cell.units)
    n, t = x.shape[0], x.shape[1]
    if cfg.get("return_sequences", False):
        if backwards:
            seq = _reverse_time(ctx, seq, t)
        elif mask is not None and not cfg.get("zero_output_for_mask", False):
            seq = _carry_masked(ctx, seq, finals[0], mask)
        first = Tensor(seq, (n, t, cell.units), np.float32, mask)
    elif cfg.get("return_state", False) and mask is None:
        first = Tensor(_last_step(ctx, seq, backwards), (n, cell.units), np.float32)
    else:
        first = Tensor(finals[0], (n, cell.units), np.float32)
    if not cfg.get("return_state", False):
        return first
    # Keras returns [output, h] (SimpleRNN, GRU) or [output, h, c] (LSTM).
    return [first] + [Tensor(s, (n, cell.units), np.float32) for s in finals]


_MERGES = {"concat", "sum", "mul", "ave", None}


@layer("Bidirectional")
def bidirectional(ctx: LayerContext, inputs: list[Tensor]):
    x, states = _input(ctx, inputs)
    cfg = ctx.config
    fwd_entry = cfg.get("layer")
    bwd_entry = cfg.get("backward_layer") or fwd_entry
    if not isinstance(fwd_entry, dict) or not isinstance(bwd_entry, dict):
        ctx.fail("the config has no wrapped recurrent layer")
    merge = cfg.get("merge_mode", "concat")
    if merge not in _MERGES:
        ctx.fail(f"merge_mode {merge!r} is not supported")
    fcls, bcls = str(fwd_entry.get("class_name")), str(bwd_entry.get("class_name"))
    fcfg, bcfg = fwd_entry.get("config") or {}, bwd_entry.get("config") or {}
    if fcfg.get("go_backwards"):
        ctx.fail("a forward layer with go_backwards is not supported")
    weights = ctx.weights()
    nf = 3 if fcfg.get("use_bias", True) else 2
    fcell = _Cell(ctx, fcls, fcfg, weights[:nf], x.shape[2])
    bcell = _Cell(ctx, bcls, bcfg, weights[nf:], x.shape[2])
    mask = _mask_of(ctx, x)
    lens = _sequence_lens(ctx, mask)
    xt = ctx.transpose(x.value, (1, 0, 2))
    per_f = 2 if fcell.op == "LSTM" else 1
    if states and len(states) != per_f + (2 if bcell.op == "LSTM" else 1):
        ctx.fail(f"initial_state must be {per_f} forward and then the backward states")
    halves = []  # (sequence [N, T, U], finals) per direction
    if fcell.same_op(bcell):
        outs = _run(ctx, [fcell, bcell], xt, "bidirectional", lens, _initial_states(ctx, fcell, states, 2))
        yc = outs[2] if len(outs) > 2 else None
        halves = [_direction_outputs(ctx, outs[0], outs[1], yc, d, 2, fcell.units) for d in range(2)]
    else:
        for cell, direction, st in (
            (fcell, "forward", states[:per_f]),
            (bcell, "reverse", states[per_f:]),
        ):
            outs = _run(ctx, [cell], xt, direction, lens, _initial_states(ctx, cell, st))
            yc = outs[2] if len(outs) > 2 else None
            halves.append(_direction_outputs(ctx, outs[0], outs[1], yc, 0, 1, cell.units))
    n, t = x.shape[0], x.shape[1]
    sequences = bool(fcfg.get("return_sequences", False))
    if sequences:
        parts = [h[0] for h in halves]
        shapes = [(n, t, c.units) for c in (fcell, bcell)]
    elif fcfg.get("return_state", False) and mask is None:
        parts = [_last_step(ctx, h[0], d == 1) for d, h in enumerate(halves)]
        shapes = [(n, c.units) for c in (fcell, bcell)]
    else:
        parts = [h[1][0] for h in halves]
        shapes = [(n, c.units) for c in (fcell, bcell)]
    out_mask = mask if sequences else None
    if merge is None:
        outputs = [Tensor(p, s, np.float32, out_mask) for p, s in zip(parts, shapes)]
    else:
        if merge != "concat" and fcell.units != bcell.units:
            ctx.fail(f"merge_mode {merge!r} needs both halves to have the same units")
        if merge == "concat":
            value = ctx.node("Concat", parts, axis=-1)
            shape = (*shapes[0][:-1], fcell.units + bcell.units)
        else:
            value = ctx.node({"sum": "Add", "mul": "Mul", "ave": "Add"}[merge], parts)
            if merge == "ave":
                value = ctx.node("Mul", [value, ctx.constant(0.5, "half")])
            shape = shapes[0]
        outputs = [Tensor(value, shape, np.float32, out_mask)]
    if not fcfg.get("return_state", False):
        return outputs[0] if len(outputs) == 1 else outputs
    finals = [Tensor(s, (n, fcell.units), np.float32) for s in halves[0][1]]
    finals += [Tensor(s, (n, bcell.units), np.float32) for s in halves[1][1]]
    return outputs + finals


@layer("TimeDistributed")
def time_distributed(ctx: LayerContext, inputs: list[Tensor]):
    from . import LayerContext as Context

    if len(inputs) != 1:
        ctx.fail("TimeDistributed takes one input")
    (x,) = inputs
    inner = ctx.config.get("layer")
    if not isinstance(inner, dict) or not isinstance(inner.get("config"), dict):
        ctx.fail("the config has no wrapped layer")
    if x.rank < 3:
        ctx.fail(f"the input must be [batch, time, ...], not of shape {x.shape}")
    from ._walk import converter_key

    walker = getattr(ctx, "walker", None)
    fn = walker.converters.get(converter_key(inner)) if walker is not None else None
    if fn is None:
        ctx.fail(f"the wrapped {inner.get('class_name')} has no converter")
    n, t, rest = x.shape[0], x.shape[1], tuple(x.shape[2:])
    if any(d is None for d in rest):
        ctx.fail(f"the per-step shape {rest} must be static")
    flat = ctx.reshape(x.value, [-1, *rest])
    flat_n = None if n is None or t is None else n * t
    weights = ctx.weights()
    inner_ctx = Context(
        builder=ctx.builder,
        opset=ctx.opset,
        class_name=str(inner.get("class_name")),
        name=f"{ctx.name}/{inner['config'].get('name', 'inner')}",
        config=inner["config"],
        kwargs={},
        dialect=ctx.dialect,
        args=[],
        _weights=lambda: weights,
    )
    inner_ctx.walker = walker
    inner_ctx.path = getattr(ctx, "path", ())
    inner_x = Tensor(flat, (flat_n, *rest), x.dtype)
    inner_ctx.args = [inner_x]
    out = fn(inner_ctx, [inner_x])
    if not isinstance(out, Tensor):
        if isinstance(out, (list, tuple)) and len(out) == 1:
            out = out[0]
        else:
            ctx.fail("the wrapped layer must have one output")
    out_rest = tuple(out.shape[1:])
    if any(d is None for d in out_rest):
        ctx.fail(f"the wrapped layer's per-step output shape {out_rest} must be static")
    if t is not None:
        value = ctx.reshape(out.value, [-1, t, *out_rest])
    else:
        dims = ctx.node("Shape", [x.value])
        nt = ctx.node("Slice", [dims, ctx.int64([0], "start"), ctx.int64([2], "end")])
        value = ctx.node("Reshape", [out.value, ctx.node("Concat", [nt, ctx.int64(list(out_rest), "rest")], axis=0)])
    return Tensor(value, (n, t, *out_rest), out.dtype, x.mask)
