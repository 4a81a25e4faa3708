"""swiftconv: model converter and CPU inference engine (see API.md)."""

from . import _core, helper, lite
from ._version import __version__, require_library_version
from .convert import convert
from .errors import (
    ConversionError,
    InvalidArgument,
    ModelFormatError,
    ResourceExhausted,
    RunTerminated,
    SwiftconvError,
    SwiftconvIOError,
    UnsupportedOp,
    ValidationError,
)
from .frontends.keras import from_keras
from .frontends.sklearn import from_sklearn
from .lite import Interpreter
from .model import Model, TensorInfo, check_model, load, printable_graph
from .optimize import optimize
from .quantize import quantize
from .session import (
    ExecutionMode,
    ExecutionOrder,
    GraphOptimizationLevel,
    InferenceSession,
    KernelDef,
    ModelMetadata,
    NodeArg,
    RunOptions,
    SessionOptions,
    get_all_providers,
    get_available_providers,
    get_device,
    get_registered_kernels,
)
from .verify import VerifyRecord, VerifyReport, verify

# The package and its library ship together; a mismatch fails here rather than later.
require_library_version(_core.version())

__all__ = [
    "from_keras",
    "from_sklearn",
    "__version__",
    "load",
    "Model",
    "TensorInfo",
    "check_model",
    "printable_graph",
    "helper",
    "InferenceSession",
    "SessionOptions",
    "RunOptions",
    "GraphOptimizationLevel",
    "ExecutionMode",
    "ExecutionOrder",
    "NodeArg",
    "ModelMetadata",
    "get_available_providers",
    "get_all_providers",
    "get_device",
    "get_registered_kernels",
    "KernelDef",
    "SwiftconvError",
    "ValidationError",
    "ConversionError",
    "InvalidArgument",
    "UnsupportedOp",
    "ModelFormatError",
    "SwiftconvIOError",
    "ResourceExhausted",
    "RunTerminated",
    "lite",
    "Interpreter",
    "convert",
    "optimize",
    "quantize",
    "verify",
    "VerifyReport",
    "VerifyRecord",
]
