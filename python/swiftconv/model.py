"""Loading and inspecting models (API.md section 1)."""

import html
import json
import os
from collections import namedtuple

from . import _core
from ._dtypes import dtype_from_name, tensor_to_numpy
from .errors import ConversionError, InvalidArgument

__all__ = ["Model", "TensorInfo", "load", "check_model", "printable_graph"]

TensorInfo = namedtuple("TensorInfo", ["name", "shape", "dtype"])
TensorInfo.__doc__ = """A graph input or output: shape is a list (int, str for a symbolic dim,
None for an unknown one) or None when the rank is unknown; dtype is a numpy dtype."""


def _tensor_infos(entries):
    return [
        TensorInfo(e["name"], None if e["shape"] is None else list(e["shape"]), dtype_from_name(e["dtype"]))
        for e in entries
    ]


class Model:
    """A loaded model. Create it with :func:`swiftconv.load`."""

    __slots__ = ("_handle", "_info", "__weakref__")

    def __init__(self, handle):
        if not isinstance(handle, _core.Model):
            raise InvalidArgument("[Model] use swiftconv.load() to create a Model")
        self._handle = handle
        self._info = None

    def _facts(self):
        if self._info is None:
            self._info = json.loads(self._handle.info_json())
        return self._info

    @property
    def format(self):
        """'onnx' or 'tflite'."""
        return self._handle.format

    @property
    def inputs(self):
        """Graph inputs the caller feeds (initializers excluded), as TensorInfo."""
        return _tensor_infos(self._facts()["inputs"])

    @property
    def outputs(self):
        return _tensor_infos(self._facts()["outputs"])

    @property
    def opset(self):
        """{domain: version} with '' for the default ONNX domain; None for TFLite."""
        if self.format != "onnx":
            return None
        return dict(self._facts()["opset"])

    @property
    def metadata(self):
        """The model's metadata_props as a dict."""
        return dict(self._facts()["metadata"])

    @property
    def initializer_names(self):
        return list(self._facts()["initializers"])

    def get_initializer(self, name):
        """A weight as a read-only numpy array sharing the model's memory (valid after the model is gone)."""
        if not isinstance(name, str):
            raise InvalidArgument(f"[get_initializer] name must be a str, not {type(name).__name__}")
        return tensor_to_numpy(self._handle.initializer(name))

    def save(self, path):
        """Writes the model atomically (temporary file in the same folder, then rename)."""
        self._handle.save(_fspath(path, "save"))

    def to_bytes(self):
        """The serialized model in its own format."""
        return self._handle.serialize()

    def SerializeToString(self):  # noqa: N802 (onnx.ModelProto's name)
        """Same as to_bytes(), so code written for onnx.ModelProto keeps working."""
        return self.to_bytes()

    def to_onnx(self):
        """An onnx.ModelProto of this model (needs the optional onnx package)."""
        try:
            import onnx
        except ImportError:
            raise ImportError("Model.to_onnx() needs the onnx package: pip install 'swiftconv[onnx]'") from None
        if self.format != "onnx":
            raise ConversionError(
                "[to_onnx] this is a TFLite model; convert it first with swiftconv.convert(m, 'onnx')"
            )
        return onnx.load_model_from_string(self.to_bytes())

    def check(self):
        """Raises ValidationError naming the node and the reason when the model breaks the rules."""
        self._handle.check()

    def infer_shapes(self):
        """Fills in intermediate value types in place; returns self."""
        self._handle.infer_shapes()
        self._info = None
        return self

    def summary(self):
        """Inputs, outputs, op histogram, parameter count and bytes."""
        return self._handle.summary()

    def printable_graph(self):
        return self._handle.printable_graph()

    def _repr_html_(self):
        def rows(infos):
            return "".join(
                f"<tr><td>{html.escape(i.name)}</td><td>{html.escape(str(i.shape))}</td><td>{html.escape(str(i.dtype))}</td></tr>"
                for i in infos
            )

        head = "<tr><th>name</th><th>shape</th><th>dtype</th></tr>"
        opset = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in (self.opset or {}).items())
        return (
            f"<div><b>swiftconv.Model</b> ({html.escape(self.format)}"
            + (f", opset {html.escape(opset)}" if opset else "")
            + ")"
            + f"<table><caption>inputs</caption>{head}{rows(self.inputs)}</table>"
            + f"<table><caption>outputs</caption>{head}{rows(self.outputs)}</table>"
            + f"<pre>{html.escape(self.summary())}</pre></div>"
        )

    def __repr__(self):
        names = ", ".join(i.name for i in self.inputs)
        return f"<swiftconv.Model format={self.format!r} inputs=[{names}]>"


def _fspath(path, what):
    if isinstance(path, (str, os.PathLike)):
        path = os.fspath(path)
        if path in ("", b""):
            raise InvalidArgument(f"[{what}] path must not be empty")
        return path
    raise InvalidArgument(f"[{what}] expected a path (str or os.PathLike), got {type(path).__name__}")


def load(src):
    """Loads a model from a path (.onnx/.tflite, found by magic bytes), bytes, or an onnx.ModelProto."""
    if isinstance(src, Model):
        return src
    if isinstance(src, (str, os.PathLike)):
        return Model(_core.load_file(_fspath(src, "load")))
    if isinstance(src, bytes):
        return Model(_core.load_bytes(src))
    if isinstance(src, (bytearray, memoryview)):
        # A private copy: weights point into the bytes, which the caller could change later.
        return Model(_core.load_bytes(bytes(src)))
    serialize = getattr(src, "SerializeToString", None)
    if callable(serialize):  # onnx.ModelProto, without importing onnx
        return Model(_core.load_bytes(serialize()))
    raise InvalidArgument(f"[load] expected a path, bytes or onnx.ModelProto, got {type(src).__name__}")


def check_model(m_or_src):
    """Raises ValidationError with the node name and the reason when the model is invalid."""
    load(m_or_src).check()


def printable_graph(m_or_src):
    """The graph as text, like onnx.helper.printable_graph."""
    return load(m_or_src).printable_graph()
