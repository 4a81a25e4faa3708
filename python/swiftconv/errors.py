"""Exception classes; each C status code (swiftconv.h, ``sc_code``) maps to one."""

__all__ = [
    "SwiftconvError",
    "ValidationError",
    "ConversionError",
    "InvalidArgument",
    "UnsupportedOp",
    "ModelFormatError",
    "SwiftconvIOError",
    "ResourceExhausted",
    "RunTerminated",
]


class SwiftconvError(RuntimeError):
    """Base class of every error swiftconv raises.

    When the error concerns one node (a kernel that failed while running, a node the checker
    or session creation refused), ``node_name``, ``op_type`` and ``node_domain`` ("" for the
    default ONNX domain) name it; otherwise they are None.
    """

    node_name: "str | None" = None
    op_type: "str | None" = None
    node_domain: "str | None" = None


class ValidationError(SwiftconvError):
    """A readable model that breaks the format's rules; the message names the node."""


class ConversionError(SwiftconvError):
    """A model that cannot be converted; the message names every unsupported node."""


class InvalidArgument(SwiftconvError, ValueError):
    """A bad argument from the caller."""


class UnsupportedOp(SwiftconvError):
    """An operator swiftconv cannot run or convert, or an input type a kernel has no
    implementation for (onnxruntime's NOT_IMPLEMENTED)."""


class ModelFormatError(SwiftconvError):
    """Bytes that are not a readable model (truncated, corrupt, unknown format)."""


class SwiftconvIOError(SwiftconvError, OSError):
    """A file-system failure (missing file, permission, disk full)."""


class ResourceExhausted(SwiftconvError, MemoryError):
    """A size past a limit (``SessionOptions.max_tensor_bytes``/``max_run_bytes``), a size
    that overflows, or memory the system refused; onnxruntime's "Failed to allocate memory"."""


class RunTerminated(SwiftconvError):
    """A run stopped because ``RunOptions.terminate`` was set (or Ctrl-C, which raises
    KeyboardInterrupt instead)."""


# Status code -> class; read by the C extension (swiftconv._core) when it raises.
_BY_CODE = {
    1: InvalidArgument,
    2: ModelFormatError,
    3: ValidationError,
    4: UnsupportedOp,
    5: ConversionError,
    6: SwiftconvIOError,
    7: SwiftconvError,
    8: ResourceExhausted,
    9: RunTerminated,
}
