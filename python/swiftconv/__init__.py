"""swiftconv: model converter and CPU inference engine (see API.md)."""

from ._version import __version__
from .errors import (
    ConversionError,
    InvalidArgument,
    ModelFormatError,
    SwiftconvError,
    SwiftconvIOError,
    UnsupportedOp,
    ValidationError,
)
from .model import Model, TensorInfo, check_model, load, printable_graph

__all__ = [
    "__version__",
    "load",
    "Model",
    "TensorInfo",
    "check_model",
    "printable_graph",
    "SwiftconvError",
    "ValidationError",
    "ConversionError",
    "InvalidArgument",
    "UnsupportedOp",
    "ModelFormatError",
    "SwiftconvIOError",
]
