"""sc.verify: run two models on the same inputs and compare them (API.md section 4).

The comparison is done in Swift (``ModelVerifier``, behind ``sc_model_verify``): both models
run on swiftconv's engine, outputs and, with ``per_layer=True``, intermediate values are
paired and measured there. ``backend='reference'`` runs each model on its own reference
runtime instead (onnxruntime for ONNX, LiteRT's ``ai_edge_litert`` for TFLite), which only
Python can do; the same metrics are then computed here with numpy.

Pairing: outputs by the candidate's ``swiftconv.value_map`` metadata when it has one (it
may give a layout permutation: candidate = transpose(reference, perm)), else by name when
both models use the same names, else by position; inputs likewise.

Metrics per value (float64): ``max_abs`` = max |c - r|, ``max_rel`` = max |c - r| / |r| over
r != 0, ``cosine`` similarity; an element passes when |c - r| <= atol + rtol * |r| (numpy's
allclose), widened by ``quantized_steps`` steps of the scale for quantized values (compared
after dequantizing with their scale and zero point). NaN equals NaN; NaN against a number fails.
"""

import json
from collections import namedtuple

import numpy as np

from . import _core
from ._dtypes import array_to_tensor
from .errors import InvalidArgument, SwiftconvError
from .model import Model, load

__all__ = ["verify", "VerifyReport", "VerifyRecord"]

_BACKENDS = ("swiftconv", "reference")

# Random integer inputs are drawn from [0, _INT_HIGH): small non-negative values that are
# valid indices, token ids and counts for most models.
_INT_HIGH = 10

VerifyRecord = namedtuple(
    "VerifyRecord",
    [
        "name",
        "candidate_name",
        "shape",
        "candidate_shape",
        "perm",
        "max_abs",
        "max_rel",
        "cosine",
        "mismatches",
        "nonfinite_mismatches",
        "count",
        "quantized_tolerance",
        "ok",
        "note",
    ],
)
VerifyRecord.__doc__ = """One compared value: ``name`` is the reference's, ``candidate_name`` the
candidate's; ``perm`` (or None) says candidate = transpose(reference, perm); ``mismatches``
counts elements outside tolerance; ``note`` says why a value could not be compared."""


class VerifyReport:
    """What :func:`verify` found: ``ok``, ``outputs`` and ``layers`` (lists of VerifyRecord),
    ``first_divergence`` (the first failing layer in the reference's topological order, or
    None), ``notes``; ``str(report)`` is a table, ``to_dict()`` is JSON-able."""

    def __init__(self, outputs, layers, first_divergence, notes, backend, rtol, atol):
        self.outputs = outputs
        self.layers = layers
        self.first_divergence = first_divergence
        self.notes = notes
        self.backend = backend
        self.rtol = rtol
        self.atol = atol

    @property
    def ok(self):
        """True when every output matched (intermediate values do not decide it)."""
        return all(r.ok for r in self.outputs)

    def to_dict(self):
        return {
            "ok": self.ok,
            "backend": self.backend,
            "rtol": self.rtol,
            "atol": self.atol,
            "outputs": [r._asdict() for r in self.outputs],
            "layers": [r._asdict() for r in self.layers],
            "first_divergence": self.first_divergence,
            "notes": list(self.notes),
        }

    def __str__(self):
        lines = [f"verify ({self.backend}, rtol={self.rtol:g}, atol={self.atol:g}): {'OK' if self.ok else 'FAILED'}"]
        lines += _table("outputs", self.outputs)
        if self.layers:
            lines += _table("layers", self.layers)
            lines.append(f"first divergence: {self.first_divergence or 'none'}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self):
        bad = [r.name for r in self.outputs if not r.ok]
        return f"<swiftconv.VerifyReport ok={self.ok} outputs={len(self.outputs)} failed={bad}>"


def _table(title, records):
    rows = [("", "name", "shape", "max_abs", "max_rel", "cosine", "bad")]
    for r in records:
        shape = "x".join(map(str, r.shape)) or "scalar"
        if r.perm is not None:
            shape += f" perm{list(r.perm)}"
        rows.append(
            (
                "ok" if r.ok else "FAIL",
                r.name if r.name == r.candidate_name else f"{r.name} -> {r.candidate_name}",
                shape,
                f"{r.max_abs:.3g}",
                f"{r.max_rel:.3g}",
                f"{r.cosine:.6f}",
                str(r.mismatches + r.nonfinite_mismatches) + (f"  ({r.note})" if r.note else ""),
            )
        )
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]) - 1)]
    out = [f"{title}:"]
    for row in rows:
        out.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return out


def _record(entry):
    fields = dict(entry)
    fields["perm"] = None if fields["perm"] is None else tuple(fields["perm"])
    fields["shape"] = tuple(fields["shape"])
    fields["candidate_shape"] = tuple(fields["candidate_shape"])
    return VerifyRecord(**{k: fields[k] for k in VerifyRecord._fields})


def _as_model(src):
    """A Model from what verify accepts; a Keras model or .keras/.h5 file through from_keras."""
    if isinstance(src, Model):
        return src
    from .convert import _is_keras

    if _is_keras(src):
        from .frontends.keras import from_keras

        return from_keras(src)
    return load(src)


def verify(
    reference,
    candidate,
    inputs=None,
    *,
    rtol=1e-4,
    atol=1e-5,
    backend="swiftconv",
    per_layer=False,
    seed=0,
    quantized_steps=1.0,
    intra_op_num_threads=0,
):
    """Runs ``reference`` and ``candidate`` (each a Model, path, bytes or onnx.ModelProto,
    ONNX or TFLite; or a Keras model or .keras/.h5 file, run as sc.from_keras converts it)
    on the same inputs and compares what they compute.

    ``inputs``: a dict {reference input name: array}, a list in the reference's input order,
    or None for random inputs drawn with ``numpy.random.default_rng(seed)``: floats from
    N(0, 1), integers from [0, 10), bools uniform; a dynamic dimension is 1. Arrays are cast
    to the reference input's dtype. ``per_layer=True`` (swiftconv backend) also compares every
    intermediate value both models have and names the first that diverges. A quantized
    value may differ by ``quantized_steps`` steps of its scale. Raises InvalidArgument for
    unknown or missing input names and bad shapes.
    """
    if backend not in _BACKENDS:
        raise InvalidArgument(f"[verify] backend must be one of {_BACKENDS}, not {backend!r}")
    for name, value in (("rtol", rtol), ("atol", atol), ("quantized_steps", quantized_steps)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InvalidArgument(f"[verify] {name} must be a number >= 0, not {value!r}")
    if not isinstance(per_layer, bool):
        raise InvalidArgument(f"[verify] per_layer must be a bool, not {type(per_layer).__name__}")
    if per_layer and backend != "swiftconv":
        raise InvalidArgument(
            "[verify] per_layer=True needs backend='swiftconv' (the reference runtimes expose no intermediates)"
        )
    ref = _as_model(reference)
    cand = _as_model(candidate)
    feeds = _feeds(ref, inputs, seed)
    if backend == "reference":
        return _verify_on_reference_runtimes(ref, cand, feeds, float(rtol), float(atol), float(quantized_steps))
    names = list(feeds)
    tensors = [array_to_tensor(a) for a in feeds.values()]
    text = _core.verify(
        ref._handle,
        cand._handle,
        names,
        tensors,
        rtol=float(rtol),
        atol=float(atol),
        quantized_steps=float(quantized_steps),
        per_layer=per_layer,
        intra_op_threads=int(intra_op_num_threads),
    )
    result = json.loads(text)
    return VerifyReport(
        [_record(e) for e in result["outputs"]],
        [_record(e) for e in result["layers"]],
        result["first_divergence"],
        result["notes"],
        backend,
        float(rtol),
        float(atol),
    )


def _concrete_shape(shape):
    if shape is None:
        raise InvalidArgument("[verify] an input of unknown rank needs an explicit value in `inputs`")
    return [d if isinstance(d, int) and d >= 0 else 1 for d in shape]


def _feeds(model, inputs, seed):
    """{name: array} for every input of ``model``, in its order."""
    infos = model.inputs
    if inputs is None:
        rng = np.random.default_rng(seed)
        feeds = {}
        for info in infos:
            shape = _concrete_shape(info.shape)
            dtype = info.dtype
            if not isinstance(dtype, np.dtype):
                raise InvalidArgument(
                    f"[verify] no random values for input '{info.name}' of type {dtype}; pass `inputs`"
                )
            if dtype == np.bool_:
                feeds[info.name] = rng.integers(0, 2, size=shape).astype(np.bool_)
            elif np.issubdtype(dtype, np.integer):
                feeds[info.name] = rng.integers(0, _INT_HIGH, size=shape).astype(dtype)
            elif np.issubdtype(dtype, np.floating):
                feeds[info.name] = rng.standard_normal(size=shape).astype(dtype)
            else:
                raise InvalidArgument(
                    f"[verify] no random values for input '{info.name}' of type {dtype}; pass `inputs`"
                )
        return feeds
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if isinstance(inputs, dict):
        items = list(inputs.items())
        for name, _ in items:
            if not isinstance(name, str):
                raise InvalidArgument(f"[verify] input names must be str, not {type(name).__name__}")
    elif isinstance(inputs, (list, tuple)):
        if len(inputs) != len(infos):
            raise InvalidArgument(
                f"[verify] {len(inputs)} inputs given by position; the reference has {len(infos)}: {[i.name for i in infos]}"
            )
        items = [(info.name, value) for info, value in zip(infos, inputs)]
    else:
        raise InvalidArgument(f"[verify] inputs must be a dict, a list or None, not {type(inputs).__name__}")
    dtypes = {info.name: info.dtype for info in infos}
    feeds = {}
    for name, value in items:
        dtype = dtypes.get(name)
        array = np.asarray(value)
        if isinstance(dtype, np.dtype) and array.dtype != dtype:
            array = array.astype(dtype)
        feeds[name] = array
    return feeds


# ----------------------------------------------------------- reference runtimes


def _run_reference(model, feeds):
    """The model's outputs on its own runtime: [(name, array, (scale, zero_point) or None)]."""
    if model.format == "onnx":
        try:
            import onnxruntime
        except ImportError:
            raise SwiftconvError("[verify] backend='reference' needs the onnxruntime package for ONNX models") from None
        sess = onnxruntime.InferenceSession(model.to_bytes(), providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        return [(n, v, None) for n, v in zip(names, sess.run(names, feeds))]
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise SwiftconvError(
            "[verify] backend='reference' needs the ai_edge_litert package for TFLite models"
        ) from None
    it = Interpreter(model_content=model.to_bytes())
    details = {d["name"]: d for d in it.get_input_details()}
    for name, array in feeds.items():
        if name not in details:
            raise InvalidArgument(f"[verify] '{name}' is not an input of the TFLite model {list(details)}")
        if list(details[name]["shape"]) != list(array.shape):
            it.resize_tensor_input(details[name]["index"], array.shape)
    it.allocate_tensors()
    for name, array in feeds.items():
        it.set_tensor(details[name]["index"], array)
    it.invoke()
    out = []
    for d in it.get_output_details():
        scale, zero = d["quantization"]
        out.append((d["name"], it.get_tensor(d["index"]).copy(), (scale, zero) if scale else None))
    return out


def _value_map(model):
    meta = model.metadata
    if "swiftconv.value_map" in meta:
        return json.loads(meta["swiftconv.value_map"])
    if "tflite.metadata.swiftconv.value_map" in meta:
        import base64

        return json.loads(base64.b64decode(meta["tflite.metadata.swiftconv.value_map"]))
    return None


def _verify_on_reference_runtimes(ref, cand, feeds, rtol, atol, steps):
    notes = []
    ref_names = [i.name for i in ref.inputs]
    cand_names = [i.name for i in cand.inputs]
    for name in feeds:
        if name not in ref_names:
            raise InvalidArgument(f"'{name}' is not an input of the reference model (its inputs are {ref_names})")
    if len(ref_names) != len(cand_names):
        raise InvalidArgument(f"the reference model has inputs {ref_names} and the candidate {cand_names}")
    vmap = _value_map(cand)
    by_name = set(ref_names) == set(cand_names)
    cand_feeds = {}
    for name, array in feeds.items():
        target = name if by_name else cand_names[ref_names.index(name)]
        perm = None
        for c in cand_names:
            if vmap and vmap.get(c, {}).get("source") == name:
                target, perm = c, vmap[c].get("perm")
        cand_feeds[target] = np.ascontiguousarray(np.transpose(array, perm)) if perm else array
    if not by_name:
        notes.append(f"inputs paired by position: {list(zip(ref_names, cand_names))}")
    ref_out = _run_reference(ref, feeds)
    cand_out = _run_reference(cand, cand_feeds)
    ref_index = {n: k for k, (n, _, _) in enumerate(ref_out)}
    cand_index = {n: k for k, (n, _, _) in enumerate(cand_out)}
    pairs = []
    if vmap:
        for c, (cn, _, _) in enumerate(cand_out):
            entry = vmap.get(cn)
            if entry and entry.get("source") in ref_index:
                pairs.append((ref_index[entry["source"]], c, entry.get("perm")))
    if len(pairs) != len(ref_out):
        if set(ref_index) == set(cand_index):
            pairs = [(k, cand_index[n], None) for n, k in ref_index.items()]
        elif len(ref_out) == len(cand_out):
            pairs = [(k, k, None) for k in range(len(ref_out))]
            notes.append("outputs paired by position")
        else:
            raise InvalidArgument(f"the reference has {len(ref_out)} outputs and the candidate {len(cand_out)}")
    records = []
    for r, c, perm in sorted(pairs):
        rn, rv, rq = ref_out[r]
        cn, cv, cq = cand_out[c]
        # An ONNX QuantizeLinear output carries no parameters here: it is read like the
        # quantized TFLite output of the same type it is paired with.
        if cq is None and rq is not None and cv.dtype == rv.dtype:
            cq = rq
        if rq is None and cq is not None and cv.dtype == rv.dtype:
            rq = cq
        records.append(_compare(rn, rv, rq, cn, cv, cq, perm, rtol, atol, steps))
    return VerifyReport(records, [], None, notes, "reference", rtol, atol)


def _real(array, quantization):
    values = np.asarray(array).astype(np.float64)
    if quantization is not None:
        scale, zero = quantization
        values = (values - zero) * scale
    return values


def _compare(rn, rv, rq, cn, cv, cq, perm, rtol, atol, steps):
    """The metrics of ModelVerifier (Swift), for outputs of the reference runtimes."""
    base = dict(name=rn, candidate_name=cn, shape=tuple(rv.shape), candidate_shape=tuple(cv.shape))
    base["perm"] = tuple(perm) if perm else None
    r = _real(rv, rq)
    if perm:
        r = np.transpose(r, perm)
    c = _real(cv, cq)
    empty = dict(max_abs=0.0, max_rel=0.0, cosine=1.0, mismatches=0, nonfinite_mismatches=0, count=0)
    if r.shape != c.shape:
        if [d for d in r.shape if d != 1] != [d for d in c.shape if d != 1]:
            return VerifyRecord(
                **base,
                **empty,
                quantized_tolerance=0.0,
                ok=False,
                note=f"not compared: shapes {rv.shape} and {cv.shape} differ",
            )
        r = r.reshape(c.shape)
    r, c = r.ravel(), c.ravel()
    finite = np.isfinite(r) & np.isfinite(c)
    same = (np.isnan(r) & np.isnan(c)) | (r == c)
    nonfinite = int(np.count_nonzero(~finite & ~same))
    r, c = r[finite], c[finite]
    d = np.abs(c - r)
    q = cq or rq
    qtol = steps * q[0] if q else 0.0
    nz = r != 0
    rr, cc = float(np.dot(r, r)), float(np.dot(c, c))
    if rr == 0 or cc == 0:
        cosine = 1.0 if rr == cc else 0.0
    else:
        norms = (rr * cc) ** 0.5 if np.isfinite(rr * cc) else rr**0.5 * cc**0.5
        cosine = min(1.0, max(-1.0, float(np.dot(r, c)) / norms))
    mismatches = int(np.count_nonzero(d > atol + rtol * np.abs(r) + qtol))
    return VerifyRecord(
        **base,
        max_abs=float(d.max()) if d.size else 0.0,
        max_rel=float((d[nz] / np.abs(r[nz])).max()) if np.any(nz) else 0.0,
        cosine=cosine,
        mismatches=mismatches,
        nonfinite_mismatches=nonfinite,
        count=int(finite.size),
        quantized_tolerance=float(qtol),
        ok=mismatches == 0 and nonfinite == 0,
        note=None,
    )
