"""The Keras config walker: Functional and Sequential models (nested ones too) to layer calls.

Both Keras 3 and tf_keras configs list a functional model's layers, each with the calls made
to it (`inbound_nodes`), and name the model's inputs and outputs as (layer, node index,
tensor index). Keras 3 spells a call as {"args": [...], "kwargs": {...}} with tensors as
`__keras_tensor__` objects carrying `keras_history`; tf_keras as a list of
[layer, node, tensor, kwargs] entries. Calls are converted once their input tensors exist,
which also covers shared layers called more than once.
"""

from __future__ import annotations

import numbers

import numpy as np

from ...errors import ConversionError, InvalidArgument, ModelFormatError, SwiftconvError, UnsupportedOp
from . import LayerContext, Tensor
from ._source import LayerRef, snake_case

_MODEL_CLASSES = ("Functional", "Model", "Sequential")
# Bound on a config's nesting (nested models, wrappers): a hostile file must not recurse forever.
_MAX_DEPTH = 64


def converter_key(entry: dict) -> str:
    """The registry key of a config entry: its class name, or 'ops.<class>' for a Keras 3
    operation called on Keras tensors (`x + y`, `keras.ops.mean(x)`), whose class names
    (Add, Multiply, Concatenate ...) would otherwise clash with the layers'."""
    cls = str(entry.get("class_name"))
    module = entry.get("module")
    if isinstance(module, str) and module.startswith("keras.src.ops"):
        return f"ops.{cls}"
    return cls


def _is_model(entry: dict) -> bool:
    return entry.get("class_name") in _MODEL_CLASSES and isinstance(entry.get("config"), dict)


def _layers_of(cfg: dict, where: str) -> list:
    layers = cfg.get("layers")
    if not isinstance(layers, list) or not all(isinstance(e, dict) for e in layers):
        raise ModelFormatError(f"[from_keras] {where}: the config has no list of layers")
    return layers


def _layer_name(entry: dict) -> str:
    name = entry.get("name")
    if not isinstance(name, str):
        name = (entry.get("config") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise ModelFormatError(f"[from_keras] a {entry.get('class_name')} layer has no name")
    return name


def _refs(entries: list, in_sequential: bool) -> list[LayerRef]:
    """Each layer's name and Keras 3 storage key ('dense', 'dense_1', ... by class, in order)."""
    counts: dict[str, int] = {}
    refs = []
    for entry in entries:
        cls = str(entry.get("class_name"))
        key = snake_case(cls)
        if in_sequential and cls == "InputLayer":
            key = ""  # a Sequential's `layers` leaves its InputLayer out
        elif key in counts:
            counts[key] += 1
            key = f"{key}_{counts[key]}"
        else:
            counts[key] = 0
        name = entry.get("name") or (entry.get("config") or {}).get("name") or key
        refs.append(LayerRef(str(name), key, cls))
    return refs


def collect_unsupported(cfg: dict, converters, opaque, depth=0) -> list[str]:
    """Every layer in `cfg` (nested models and wrapped layers included) without a converter."""
    if depth > _MAX_DEPTH:
        raise ModelFormatError("[from_keras] the config nests models or wrappers too deeply")
    found = []
    for entry in _layers_of(cfg, "model"):
        found.extend(_unsupported_entry(entry, converters, opaque, depth))
    return found


def _unsupported_entry(entry, converters, opaque, depth) -> list[str]:
    cls = str(entry.get("class_name"))
    cfg = entry.get("config")
    name = entry.get("name") or (cfg.get("name") if isinstance(cfg, dict) else None) or "?"
    if _is_model(entry):
        return collect_unsupported(entry["config"], converters, opaque, depth + 1)
    module = entry.get("module")
    registered = entry.get("registered_name")
    if cls in opaque:
        return [f"{cls} '{name}' ({opaque[cls]})"]
    if isinstance(module, str) and not module.startswith("keras"):
        return [f"{cls} '{name}' (a custom layer from module {module})"]
    if isinstance(registered, str) and ">" in registered and not registered.startswith("keras"):
        # Keras 3 writes module None for a class registered with register_keras_serializable.
        return [f"{cls} '{name}' (a custom layer registered as {registered})"]
    if converter_key(entry) not in converters and cls != "InputLayer":
        what = "Keras operation" if converter_key(entry) != cls else "layer class"
        return [f"{cls} '{name}' (no converter for this {what})"]
    inner = cfg.get("layer") if isinstance(cfg, dict) else None
    if isinstance(inner, dict) and "class_name" in inner:  # Bidirectional, TimeDistributed
        return _unsupported_entry(inner, converters, opaque, depth + 1)
    return []


def _dtype(spec) -> type:
    """A numpy type from a Keras dtype spelling ('float32', a DTypePolicy dict, ...)."""
    if isinstance(spec, dict):
        spec = (spec.get("config") or {}).get("name", "float32")
    if spec is None:
        return np.float32
    name = str(spec)
    if name.startswith("mixed_"):
        name = "float32"  # mixed policies compute in 16 bits but keep float32 variables and I/O
    try:
        return np.dtype(name).type
    except TypeError:
        raise UnsupportedOp(f"[from_keras] dtype {name!r} is not supported") from None


def _input_shape(cfg: dict) -> list:
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if shape is None and isinstance(cfg.get("shape"), list):
        shape = [None, *cfg["shape"]]
    if not isinstance(shape, list):
        raise ModelFormatError(f"[from_keras] input '{cfg.get('name')}' has no shape")
    if not all(d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0) for d in shape):
        raise ModelFormatError(f"[from_keras] input '{cfg.get('name')}' has a bad shape {shape!r}")
    return [None if d is None else int(d) for d in shape]


def _history(ref, where) -> tuple:
    if not (isinstance(ref, (list, tuple)) and len(ref) >= 3 and isinstance(ref[0], str)):
        raise ModelFormatError(f"[from_keras] {where}: bad tensor reference {ref!r}")
    if not all(isinstance(v, numbers.Integral) for v in ref[1:3]):
        raise ModelFormatError(f"[from_keras] {where}: bad tensor reference {ref!r}")
    return (ref[0], int(ref[1]), int(ref[2]))


def _endpoints(value, where) -> list[tuple]:
    """input_layers / output_layers: one [name, node, tensor] or a list (or dict) of them."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [_history(value, where)]
    if not isinstance(value, list):
        raise ModelFormatError(f"[from_keras] {where}: bad input/output list")
    return [_history(v, where) for v in value]


class _Walker:
    def __init__(self, source, builder, opset, converters):
        self.source = source
        self.builder = builder
        self.opset = opset
        self.converters = converters

    # -------------------------------------------------------------- models

    def model(self, entry: dict, inputs: list[Tensor] | None, path: tuple, depth: int = 0) -> list[Tensor]:
        """The outputs of a model config entry applied to `inputs` (None: the graph inputs)."""
        if depth > _MAX_DEPTH:
            raise ModelFormatError("[from_keras] models nest too deeply")
        if entry.get("class_name") == "Sequential":
            return self._sequential(entry["config"], inputs, path, depth)
        return self._functional(entry["config"], inputs, path, depth)

    def _graph_input(self, cfg: dict, signature) -> Tensor:
        name = cfg.get("name")
        shape, dtype = _input_shape(cfg), _dtype(cfg.get("dtype"))
        if signature is not None:
            shape, dtype = signature
        value = self.builder.input(str(name), dtype, shape)
        return Tensor(value, tuple(shape), dtype)

    def _sequential(self, cfg, inputs, path, depth):
        entries = _layers_of(cfg, "Sequential")
        refs = _refs(entries, in_sequential=True)
        dialect = self.source.dialect
        start = 1 if entries and entries[0].get("class_name") == "InputLayer" else 0
        if inputs is None:
            if start:
                first = entries[0].get("config") or {}
            else:
                layer_cfg = (entries[0].get("config") or {}) if entries else {}
                shape = (
                    layer_cfg.get("batch_input_shape") or layer_cfg.get("batch_shape") or cfg.get("build_input_shape")
                )
                if shape is None:
                    raise ConversionError("[from_keras] the Sequential model is not built: it has no input shape")
                name = f"{_layer_name(entries[0])}_input" if entries else "input"
                first = {"name": name, "batch_shape": shape, "dtype": layer_cfg.get("dtype")}
            signature = self.signatures[0] if self.signatures else None
            tensors = [self._graph_input(first, signature)]
            self.model_inputs.extend(tensors)
        else:
            tensors = list(inputs)
        for entry, ref in zip(entries[start:], refs[start:]):
            tensors = self._call(entry, ref, path, tensors, {}, dialect, depth)
        return tensors

    def _functional(self, cfg, inputs, path, depth):
        entries = _layers_of(cfg, "Functional")
        refs = _refs(entries, in_sequential=False)
        dialect = self.source.dialect
        by_name = {_layer_name(e): (e, r) for e, r in zip(entries, refs)}
        tensors: dict[tuple, Tensor] = {}
        input_refs = _endpoints(cfg.get("input_layers", []), "input_layers")
        if inputs is not None and len(inputs) != len(input_refs):
            raise ConversionError(
                f"[from_keras] nested model '{cfg.get('name')}' takes {len(input_refs)} inputs, is given {len(inputs)}"
            )
        for i, key in enumerate(input_refs):
            if key[0] not in by_name:
                raise ModelFormatError(f"[from_keras] input layer '{key[0]}' is not in the model")
            if inputs is not None:
                tensors[key] = inputs[i]
            else:
                signature = self.signatures[i] if self.signatures else None
                input_cfg = by_name[key[0]][0].get("config")
                if not isinstance(input_cfg, dict):
                    raise ModelFormatError(f"[from_keras] input layer '{key[0]}' has no config")
                tensors[key] = self._graph_input(input_cfg, signature)
                self.model_inputs.append(tensors[key])
        # Calls in config order, each once its inputs exist (a shared layer's later calls may
        # read tensors of layers listed after it).
        pending = []
        for entry, ref in zip(entries, refs):
            if entry.get("class_name") == "InputLayer":
                continue
            nodes = entry.get("inbound_nodes") or []
            if not isinstance(nodes, list):
                raise ModelFormatError(f"[from_keras] layer '{ref.name}': bad inbound_nodes")
            for index, node in enumerate(nodes):
                pending.append((entry, ref, index, node))
        while pending:
            progressed = False
            rest = []
            for entry, ref, index, node in pending:
                args, kwargs = self._node_args(node, dialect, ref.name)
                where = f"layer '{ref.name}'"
                needed = _tensor_refs(args, where) + _tensor_refs(kwargs, where)
                if not all(k in tensors for k in needed):
                    rest.append((entry, ref, index, node))
                    continue
                flat = [tensors[k] for k in _tensor_refs(args)]
                kw = _substitute(kwargs, tensors)
                outs = self._call(entry, ref, path, flat, kw, dialect, depth, _substitute(args, tensors))
                first = _first_node(entry, dialect)
                for j, t in enumerate(outs):
                    tensors[(ref.name, index + first, j)] = t
                progressed = True
            if not progressed:
                missing = sorted(
                    {k[0] for _, _, _, n in rest for k in _tensor_refs(self._node_args(n, dialect, "")[0])}
                )
                raise ModelFormatError(
                    f"[from_keras] layers {sorted({r.name for _, r, _, _ in rest})} wait for tensors of {missing}: "
                    "the model's graph is not connected"
                )
            pending = rest
        outs = []
        for key in _endpoints(cfg.get("output_layers", []), "output_layers"):
            entry = by_name.get(key[0], ({}, None))[0]
            if dialect == "keras3" and entry.get("class_name") == "Functional":
                key = (key[0], key[1] - 1, key[2])  # Keras 3 counts a nested model's built-in node here only
            if key not in tensors:
                raise ModelFormatError(f"[from_keras] output {key} is not computed by the model")
            outs.append(tensors[key])
        return outs

    def _node_args(self, node, dialect, where):
        """A call's positional tensor arguments and keyword arguments, references unresolved."""
        if isinstance(node, dict):  # Keras 3
            args = node.get("args", [])
            return args, node.get("kwargs") or {}
        if not isinstance(node, list):
            raise ModelFormatError(f"[from_keras] layer '{where}': bad inbound node {node!r}")
        args, kwargs = [], {}
        for item in node:
            if not isinstance(item, list) or len(item) < 3:
                raise ModelFormatError(f"[from_keras] layer '{where}': bad inbound node entry {item!r}")
            args.append(_LegacyRef(_history(item, where)))
            if len(item) > 3 and isinstance(item[3], dict):
                kwargs.update({k: _legacy_kwarg(v) for k, v in item[3].items()})
        return args, kwargs

    # -------------------------------------------------------------- layers

    def _call(self, entry, ref, path, inputs, kwargs, dialect, depth, args=None) -> list[Tensor]:
        here = path + (ref,)
        self.current = here
        if _is_model(entry):
            return self.model(entry, inputs, here, depth + 1)
        fn = self.converters.get(converter_key(entry))
        if fn is None:  # collect_unsupported has listed these already
            raise UnsupportedOp(f"[from_keras] no converter for layer '{ref.name}' ({ref.class_name})")
        cfg = entry.get("config") or {}
        if not isinstance(cfg, dict):
            raise ModelFormatError(f"[from_keras] layer '{ref.name}' ({ref.class_name}): its config is not an object")
        ctx = LayerContext(
            builder=self.builder,
            opset=self.opset,
            class_name=ref.class_name,
            name=ref.name,
            config=cfg,
            kwargs=kwargs,
            dialect=dialect,
            args=list(inputs) if args is None else args,
            _weights=lambda: self.source.weights(here, ref.class_name),
        )
        ctx.walker = self
        ctx.path = here
        out = fn(ctx, inputs)
        if isinstance(out, Tensor):
            return [out]
        return list(out)


def _first_node(entry: dict, dialect: str) -> int:
    """The node index of a layer's first call in its config. tf_keras numbers a nested model's
    calls from 1: a model built from inputs has a node of its own first (a Sequential only
    when its config starts with an InputLayer)."""
    if dialect != "tf_keras" or not _is_model(entry):
        return 0
    if entry.get("class_name") != "Sequential":
        return 1
    layers = entry["config"].get("layers")
    return int(bool(layers) and isinstance(layers[0], dict) and layers[0].get("class_name") == "InputLayer")


class _LegacyRef:
    """A tf_keras tensor reference, told apart from a plain list."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key


def _legacy_kwarg(value):
    # tf_keras writes a tensor keyword argument as [layer, node, tensor].
    if (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(v, numbers.Integral) for v in value[1:])
    ):
        return _LegacyRef((value[0], int(value[1]), int(value[2])))
    return value


def _tensor_refs(obj, where="inbound node") -> list[tuple]:
    """The tensor references in a call's (nested) arguments, in order."""
    if isinstance(obj, _LegacyRef):
        return [obj.key]
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            cfg = obj.get("config")
            return [_history(cfg.get("keras_history") if isinstance(cfg, dict) else None, where)]
        return [k for v in obj.values() for k in _tensor_refs(v, where)]
    if isinstance(obj, (list, tuple)):
        return [k for v in obj for k in _tensor_refs(v, where)]
    return []


def _substitute(obj, tensors):
    """`obj` with every tensor reference replaced by its Tensor."""
    if isinstance(obj, _LegacyRef):
        return tensors[obj.key]
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            return tensors[_history(obj["config"]["keras_history"], "inbound node")]
        return {k: _substitute(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, tensors) for v in obj]
    return obj


def _signatures(input_signature, count):
    """input_signature as one (shape, dtype) per model input, or None."""
    if input_signature is None:
        return None
    if not isinstance(input_signature, (list, tuple)):
        input_signature = [input_signature]
    if len(input_signature) != count:
        raise InvalidArgument(
            f"[from_keras] input_signature has {len(input_signature)} entries, the model {count} inputs"
        )
    out = []
    for k, spec in enumerate(input_signature):
        dtype = np.float32
        if hasattr(spec, "shape") and not isinstance(spec, (list, tuple, np.ndarray)):
            shape = spec.shape
            dtype = getattr(spec, "dtype", np.float32)
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], (list, tuple)):
            shape, dtype = spec
        else:
            shape = spec
        as_list = getattr(shape, "as_list", None)  # tf.TensorShape
        shape = as_list() if callable(as_list) else shape
        if not isinstance(shape, (list, tuple)) or not all(
            d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0) for d in shape
        ):
            raise InvalidArgument(
                f"[from_keras] input_signature[{k}]: expected a shape (ints or None), a (shape, dtype) pair or a "
                f"TensorSpec, got {spec!r}"
            )
        dtype = getattr(dtype, "as_numpy_dtype", dtype)
        try:
            dtype = np.dtype(getattr(dtype, "name", dtype)).type
        except TypeError:
            raise InvalidArgument(f"[from_keras] input_signature[{k}]: {dtype!r} is not a dtype") from None
        out.append(([None if d is None else int(d) for d in shape], dtype))
    return out


def _count_inputs(model_cfg: dict) -> int:
    if model_cfg.get("class_name") == "Sequential":
        return 1
    if "input_layers" not in model_cfg["config"]:
        raise ModelFormatError("[from_keras] the functional model's config has no input_layers")
    return len(_endpoints(model_cfg["config"].get("input_layers", []), "input_layers"))


def build_graph(source, builder, opset, input_signature, converters, opaque):
    """Fills `builder` with the source's model: inputs, layers, outputs."""
    walker = _Walker(source, builder, opset, converters)
    walker.current = ()
    try:
        _build(walker, input_signature, opaque)
    except SwiftconvError:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        # A config or weights file shaped in a way no check foresaw: still a swiftconv error,
        # naming the layer being converted.
        where = "/".join(r.name for r in walker.current)
        raise ModelFormatError(
            f"[from_keras] {source.origin}: malformed model"
            + (f" at layer '{where}'" if where else "")
            + f" ({type(exc).__name__}: {exc})"
        ) from exc


def _build(walker, input_signature, opaque):
    source, builder, converters = walker.source, walker.builder, walker.converters
    entry = source.config
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ModelFormatError(
            f"[from_keras] {source.origin}: the config is not a Keras model's (no class_name/config)"
        )
    if not _is_model(entry):
        cls = entry.get("class_name")
        raise ConversionError(
            f"[from_keras] {source.origin}: a {cls} config has no functional graph: a subclassed model whose "
            "get_config() does not describe its layers cannot be converted; build it with the functional API or "
            "keras.Sequential"
        )
    missing = collect_unsupported(entry["config"], converters, opaque) if "layers" in entry["config"] else []
    if missing:
        raise UnsupportedOp(f"[from_keras] {len(missing)} unsupported layer(s): " + "; ".join(missing))
    walker.signatures = _signatures(input_signature, _count_inputs(entry))
    walker.model_inputs = []
    outputs = walker.model(entry, None, ())
    used: set[str] = set()
    output_layers = (
        _endpoints(entry["config"].get("output_layers", []), "output_layers")
        if entry.get("class_name") != "Sequential"
        else [(_layer_name(entry["config"]["layers"][-1]), 0, 0)]
    )
    for (layer_name, _, index), tensor in zip(output_layers, outputs):
        name = layer_name if index == 0 else f"{layer_name}_{index}"
        while name in used:
            name += "_"
        used.add(name)
        value = tensor.value
        if tensor.value in (t.value for t in walker.model_inputs) or value == name:
            value = builder.node("Identity", [tensor.value])
        builder.output(value, name, tensor.dtype, list(tensor.shape))
