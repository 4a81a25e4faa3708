"""TFLite inference with tf.lite's Python API (API.md section 3).

Code written for ``tf.lite.Interpreter`` (or ``ai_edge_litert.interpreter.Interpreter``)
runs unchanged: the same constructor, detail dicts, ``set_tensor``/``invoke``/``get_tensor``,
``resize_tensor_input`` and signature runners, on swiftconv's engine. Any model works,
ONNX ones too (their tensors are numbered in graph order).

The tensor table (indices, shapes, quantization) comes from the library
(``sc_interpreter_tensors_json``); this module keeps the tensor buffers and the state
machine tf.lite has: ``allocate_tensors()`` before ``set_tensor``/``invoke``, and again
after ``resize_tensor_input``. Errors are swiftconv's classes; those tf.lite raises as
ValueError are ``InvalidArgument`` (a ValueError and, like every swiftconv error, a
RuntimeError), so ``except ValueError`` and ``except RuntimeError`` keep working.

Differences, on purpose: an intermediate tensor can be read only with
``experimental_preserve_all_tensors=True`` (tf.lite returns whatever its arena holds);
``num_threads=None`` runs on one thread, as tf.lite does. As in tf.lite, the session is built
by ``allocate_tensors()``: an op without a kernel (custom, Flex, or a builtin swiftconv lacks)
raises ``UnsupportedOp`` naming every such node there, while the detail dicts work before.
"""

import enum
import json
import os

import numpy as np

from . import _core
from ._dtypes import array_to_tensor, dtype_from_name, tensor_to_numpy
from .errors import InvalidArgument, ModelFormatError, SwiftconvIOError
from .model import load

__all__ = ["Interpreter", "SignatureRunner", "OpResolverType"]


class OpResolverType(enum.Enum):
    """tf.lite's op resolver choice; accepted and unused (swiftconv has one kernel set)."""

    AUTO = 0
    BUILTIN = 1
    BUILTIN_REF = 2
    BUILTIN_WITHOUT_DEFAULT_DELEGATES = 3


class ModelFileError(SwiftconvIOError, ValueError):
    """A model file the interpreter cannot open; tf.lite raises ValueError there."""


class InvalidModelError(ModelFormatError, ValueError):
    """Bytes that are not a readable model; tf.lite raises ValueError there."""


def _numpy_type(name):
    """The numpy scalar type tf.lite reports for a dtype name (np.bytes_ for strings)."""
    if name in (None, "object"):
        return np.bytes_
    dtype = dtype_from_name(name)
    return dtype.type if isinstance(dtype, np.dtype) else dtype


def _tflite_type_name(dtype):
    """TFLite's spelling of a numpy dtype in messages (FLOAT32, INT64, STRING)."""
    dtype = np.dtype(dtype)
    return "STRING" if dtype.kind in "OSU" else dtype.name.upper()


def _index(tensor_index):
    if isinstance(tensor_index, bool) or not isinstance(tensor_index, (int, np.integer)):
        raise InvalidArgument(f"tensor index must be an int, not {type(tensor_index).__name__}")
    return int(tensor_index)


def _returned(array):
    """A copy as tf.lite returns it: a numpy scalar for 0-d tensors."""
    array = np.array(array, copy=True)
    return array[()] if array.ndim == 0 else array


class Interpreter:
    """Runs a .tflite model (or any model swiftconv loads) with tf.lite's Interpreter API."""

    def __init__(
        self,
        model_path=None,
        model_content=None,
        experimental_delegates=None,
        num_threads=None,
        experimental_op_resolver_type=OpResolverType.AUTO,
        experimental_preserve_all_tensors=False,
        **ignored,
    ):
        if num_threads is not None:
            if isinstance(num_threads, bool) or not isinstance(num_threads, int):
                raise InvalidArgument("type of num_threads should be int")
            if num_threads < 1:
                raise InvalidArgument("num_threads should >= 1")
        if model_path and not model_content:
            self._model = _load(model_path)
        elif model_content and not model_path:
            self._model = _load(bytes(model_content))
        elif not model_content and not model_path:
            raise InvalidArgument("`model_path` or `model_content` must be specified.")
        else:
            raise InvalidArgument("Can't both provide `model_path` and `model_content`")
        self._threads = int(num_threads or 1)
        self._preserve = bool(experimental_preserve_all_tensors)
        table = json.loads(self._model._handle.interpreter_tensors_json())
        self._tensors = {t["index"]: t for t in table["tensors"]}
        self._inputs = list(table["inputs"])
        self._outputs = list(table["outputs"])
        self._index_by_name = {t["name"]: i for i, t in self._tensors.items()}
        self._signatures = json.loads(table["signature_defs"]) if table["signature_defs"] else []
        self._resized = {}
        self._buffers = {}
        self._allocated = False
        self._session = None
        self._built_for = None
        # The session is built now, so a model with an op we cannot run (a custom or Flex op)
        # fails at construction with UnsupportedOp naming it; allocate_tensors reuses it.
        self._build()

    # ------------------------------------------------------------ session

    def _build(self):
        """A session for the current input shapes; refreshes shapes the resize changed."""
        names = [self._tensors[i]["name"] for i in self._resized]
        shapes = [list(s) for s in self._resized.values()]
        handle = self._model._handle
        if names or self._preserve:
            handle = handle.interpreter_model(names, shapes, self._preserve)
        self._session = _core.Session(
            handle, intra_op_threads=self._threads, graph_optimization_level=99, max_tensor_bytes=0, max_run_bytes=0
        )
        info = json.loads(self._session.info_json())
        self._session_inputs = [e["name"] for e in info["inputs"]]
        self._session_outputs = [e["name"] for e in info["outputs"]]
        if names:
            for t in json.loads(handle.interpreter_tensors_json())["tensors"]:
                if t["index"] in self._tensors and not t["constant"]:
                    self._tensors[t["index"]]["shape"] = t["shape"]
        # Shapes the session inferred for the outputs are the ones a run gives.
        for e in info["outputs"]:
            i = self._index_by_name.get(e["name"])
            if i is not None and e["shape"] is not None and all(isinstance(d, int) for d in e["shape"]):
                self._tensors[i]["shape"] = list(e["shape"])
        self._built_for = dict(self._resized)

    def allocate_tensors(self):
        """Prepares the tensors for the current input shapes (after a resize, builds the
        session again); input values already set keep their place when the shape stays."""
        if self._session is None or self._built_for != self._resized:
            self._allocated = False
            self._build()
        for i in self._inputs + self._outputs:
            t = self._tensors[i]
            shape = tuple(t["shape"])
            dtype = np.dtype(_numpy_type(t["dtype"]))
            buffer = self._buffers.get(i)
            if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
                self._buffers[i] = np.zeros(shape, dtype=dtype)
        self._allocated = True

    def invoke(self):
        """Runs the model on the input tensors; the GIL is released while it runs."""
        if not self._allocated:
            raise InvalidArgument("Invoke called on model that is not ready. Call allocate_tensors() first.")
        by_name = {self._tensors[i]["name"]: i for i in self._inputs}
        # np.require, not np.ascontiguousarray: the latter turns a scalar input into shape (1,).
        values = [
            array_to_tensor(np.require(self._buffers[by_name[n]], requirements="C")) for n in self._session_inputs
        ]
        results = self._session.run(self._session_inputs, values, None, None)
        for name, value in zip(self._session_outputs, results):
            i = self._index_by_name.get(name)
            if i is None:
                continue
            array = tensor_to_numpy(value) if isinstance(value, _core.Tensor) else np.asarray(value)
            buffer = self._buffers.get(i)
            if buffer is not None and buffer.shape == array.shape and buffer.dtype == array.dtype:
                np.copyto(buffer, array)  # views from tensor() see the new values
            else:
                self._buffers[i] = np.array(array, copy=True)
                self._tensors[i]["shape"] = list(array.shape)

    # ------------------------------------------------------------ tensors

    def _entry(self, tensor_index):
        i = _index(tensor_index)
        if i not in self._tensors:
            count = max(self._tensors, default=-1) + 1
            raise InvalidArgument(f"Invalid tensor index {i} exceeds max tensor index {count}")
        return i, self._tensors[i]

    def _details(self, i):
        t = self._tensors[i]
        scales = np.array(t["scales"], dtype=np.float32)
        zero_points = np.array(t["zero_points"], dtype=np.int32)
        # tf.lite's deprecated pair holds per-tensor parameters only.
        quantization = (float(scales[0]), int(zero_points[0])) if scales.size == 1 else (0.0, 0)
        return {
            "name": t["name"],
            "index": i,
            "shape": np.array(t["shape"], dtype=np.int32),
            "shape_signature": np.array(t["shape_signature"], dtype=np.int32),
            "dtype": _numpy_type(t["dtype"]),
            "quantization": quantization,
            "quantization_parameters": {
                "scales": scales,
                "zero_points": zero_points,
                "quantized_dimension": int(t["quantized_dimension"]),
                "block_size": 0,
            },
            "sparsity_parameters": _sparsity(t["sparsity"]),
        }

    def get_input_details(self):
        """Detail dicts of the inputs (name, index, shape, shape_signature, dtype,
        quantization, quantization_parameters, sparsity_parameters), as tf.lite."""
        return [self._details(i) for i in self._inputs]

    def get_output_details(self):
        return [self._details(i) for i in self._outputs]

    def get_tensor_details(self, subgraph_index=0):
        """Detail dicts of every tensor of the main graph, by index."""
        _main_subgraph(subgraph_index)
        return [self._details(i) for i in sorted(self._tensors)]

    def num_subgraphs(self):
        """Subgraphs this interpreter addresses: the main graph (others run inside control flow)."""
        return 1

    def set_tensor(self, tensor_index, value):
        """Copies ``value`` into an input (or output) tensor; its dtype and shape must match."""
        i, t = self._entry(tensor_index)
        if not self._allocated:
            raise InvalidArgument("Cannot set tensor: Tensor is unallocated. Try calling allocate_tensors() first")
        if i not in self._buffers:
            raise InvalidArgument(f"Cannot set tensor: tensor {i} ('{t['name']}') is not an input or an output")
        buffer = self._buffers[i]
        value = np.asarray(value)
        expected = buffer.dtype
        if value.dtype != expected and not (value.dtype.kind in "OSU" and expected.kind in "OS"):
            raise InvalidArgument(
                f"Cannot set tensor: Got value of type {_tflite_type_name(value.dtype)} but expected type "
                f"{_tflite_type_name(expected)} for input {i}, name: {t['name']} "
            )
        if value.ndim != buffer.ndim:
            raise InvalidArgument(
                f"Cannot set tensor: Dimension mismatch. Got {value.ndim} but expected {buffer.ndim} for input {i}."
            )
        for k, (got, want) in enumerate(zip(value.shape, buffer.shape)):
            if got != want:
                raise InvalidArgument(
                    f"Cannot set tensor: Dimension mismatch. Got {got} but expected {want} "
                    f"for dimension {k} of input {i}."
                )
        np.copyto(buffer, value)

    def get_tensor(self, tensor_index, subgraph_index=0):
        """A copy of a tensor: an input, an output, a constant, or (with
        experimental_preserve_all_tensors) any intermediate after invoke()."""
        _main_subgraph(subgraph_index)
        return _returned(self._view(tensor_index))

    def tensor(self, tensor_index):
        """A callable giving a numpy view of the tensor's current buffer (writable for
        inputs and outputs, read-only for constants). Call it again after invoke()."""
        self._entry(tensor_index)
        return lambda: self._view(tensor_index)

    def _view(self, tensor_index):
        i, t = self._entry(tensor_index)
        if t["constant"]:
            return self._model.get_initializer(t["name"])
        if i in self._buffers:
            if not self._allocated:
                raise InvalidArgument("Tensor data is null. Run allocate_tensors() first")
            return self._buffers[i]
        if not self._preserve:
            raise InvalidArgument(
                f"tensor {i} ('{t['name']}') is an intermediate tensor; its value is kept only with "
                "Interpreter(..., experimental_preserve_all_tensors=True)"
            )
        if not self._allocated:
            raise InvalidArgument("Tensor data is null. Run allocate_tensors() first")
        raise InvalidArgument(f"tensor {i} ('{t['name']}') has no value yet: call invoke() first")

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        """Gives an input a new shape; allocate_tensors() must follow. With ``strict``, only
        dims that are -1 in shape_signature may change."""
        i, t = self._entry(input_index)
        if i not in self._inputs:
            raise InvalidArgument(f"tensor {i} ('{t['name']}') is not an input; only inputs can be resized")
        try:
            shape = [int(d) for d in np.array(tensor_size, dtype=np.int32).reshape(-1)]
        except (TypeError, ValueError, OverflowError):
            raise InvalidArgument(f"tensor_size must be a list of ints, not {tensor_size!r}") from None
        if any(d < 0 for d in shape):
            raise InvalidArgument(f"tensor_size must not hold negative dims, got {shape}")
        if strict:
            signature = t["shape_signature"]
            if len(shape) != len(signature):
                raise InvalidArgument(
                    f"ResizeInputTensorStrict only allows mutating unknown dimensions identified by -1; "
                    f"tensor {i} has rank {len(signature)}, not {len(shape)}."
                )
            for k, (new, old, sig) in enumerate(zip(shape, t["shape"], signature)):
                if sig != -1 and new != old:
                    raise InvalidArgument(
                        f"Attempting to resize dimension {k} of tensor {i} with value {old} to {new}. "
                        "ResizeInputTensorStrict only allows mutating unknown dimensions identified by -1."
                    )
        if shape == list(t["shape"]):
            return
        self._resized[i] = tuple(shape)
        t["shape"] = shape
        self._allocated = False

    # ---------------------------------------------------------- signatures

    def _get_full_signature_list(self):
        """{key: {'inputs': {name: index}, 'outputs': {name: index}}}, names sorted as tf.lite."""
        return {
            s["signature_key"]: {
                "inputs": {e["name"]: e["tensor_index"] for e in sorted(s["inputs"], key=lambda e: e["name"])},
                "outputs": {e["name"]: e["tensor_index"] for e in sorted(s["outputs"], key=lambda e: e["name"])},
            }
            for s in self._signatures
        }

    def get_signature_list(self):
        """{key: {'inputs': [names], 'outputs': [names]}} of the model's SignatureDefs."""
        return {
            key: {"inputs": list(s["inputs"]), "outputs": list(s["outputs"])}
            for key, s in self._get_full_signature_list().items()
        }

    def get_signature_runner(self, signature_key=None):
        """A callable running one SignatureDef with keyword inputs; None picks the only one."""
        if signature_key is None:
            if len(self._signatures) != 1:
                raise InvalidArgument(
                    f"SignatureDef signature_key is None and model has {len(self._signatures)} Signatures. "
                    "None is only allowed when the model has 1 SignatureDef"
                )
            signature_key = self._signatures[0]["signature_key"]
        return SignatureRunner(self, signature_key)

    def reset_all_variables(self):
        """No-op: swiftconv keeps no variable tensors between invocations."""

    def __repr__(self):
        names = ", ".join(self._tensors[i]["name"] for i in self._inputs)
        return f"<swiftconv.lite.Interpreter inputs=[{names}]>"


class SignatureRunner:
    """Runs one SignatureDef: ``runner(**inputs)`` returns ``{output_name: array}``."""

    def __init__(self, interpreter=None, signature_key=None):
        if not interpreter:
            raise InvalidArgument("None interpreter provided.")
        if not signature_key:
            raise InvalidArgument("None signature_key provided.")
        signatures = {s["signature_key"]: s for s in interpreter._signatures}
        if signature_key not in signatures:
            raise InvalidArgument(f'Invalid signature_key provided: "{signature_key}".')
        if signatures[signature_key].get("subgraph_index", 0) != 0:
            raise InvalidArgument(
                f"SignatureDef '{signature_key}' runs subgraph {signatures[signature_key]['subgraph_index']}; "
                "swiftconv's Interpreter runs the main subgraph (0) only"
            )
        self._interpreter = interpreter
        self._signature_key = signature_key
        full = interpreter._get_full_signature_list()[signature_key]
        self._inputs = full["inputs"]
        self._outputs = full["outputs"]

    def __call__(self, **kwargs):
        it = self._interpreter
        if len(kwargs) != len(self._inputs):
            raise InvalidArgument(
                "Invalid number of inputs provided for running a SignatureDef, "
                f"expected {len(self._inputs)} vs provided {len(kwargs)}"
            )
        values = {}
        for name, value in kwargs.items():
            if name not in self._inputs:
                raise InvalidArgument(f"Invalid Input name ({name}) for SignatureDef")
            values[name] = np.asarray(value)
            it.resize_tensor_input(self._inputs[name], values[name].shape)
        it.allocate_tensors()
        for name, value in values.items():
            it.set_tensor(self._inputs[name], value)
        it.invoke()
        return {name: it.get_tensor(index) for name, index in self._outputs.items()}

    def get_input_details(self):
        return {name: self._interpreter._details(i) for name, i in self._inputs.items()}

    def get_output_details(self):
        return {name: self._interpreter._details(i) for name, i in self._outputs.items()}


def _load(src):
    """swiftconv.load, with tf.lite's ValueError family for files it cannot open or read."""
    try:
        return load(os.fspath(src) if isinstance(src, os.PathLike) else src)
    except SwiftconvIOError as e:
        raise ModelFileError(str(e)) from None
    except ModelFormatError as e:
        raise InvalidModelError(str(e)) from None


def _main_subgraph(subgraph_index):
    if subgraph_index != 0:
        raise InvalidArgument(
            f"subgraph_index {subgraph_index}: swiftconv's Interpreter addresses the main subgraph (0) only"
        )


def _sparsity(description):
    """tf.lite's sparsity_parameters: {} for a dense tensor; the importer's description
    (a JSON object when it writes one) otherwise."""
    if not description:
        return {}
    try:
        parsed = json.loads(description)
    except ValueError:
        return {"description": description}
    return parsed if isinstance(parsed, dict) else {"description": description}
