"""sc.optimize: rewrites a model for saving, like onnxsim (API.md section 4).

The passes are Swift's (OptimizationPipeline behind sc_model_optimize); this module checks
arguments and maps level names to onnxruntime's level numbers.
"""

from .errors import InvalidArgument
from .model import Model, load

__all__ = ["optimize"]

_LEVELS = {"none": 0, "basic": 1, "extended": 2, "all": 99}


def optimize(model, level="all"):
    """An optimized copy of an ONNX model (a Model, path, bytes or onnx.ModelProto).

    level 'none' changes nothing; 'basic' inlines functions, folds constants (shape
    arithmetic included: only static dims are folded, a dynamic batch stays dynamic),
    removes Identity nodes and dead code, and records inferred types; 'extended' also folds
    BatchNormalization into the Conv, ConvTranspose, Gemm or MatMul before it; 'all' also
    merges and cancels Transposes. Outputs stay the same within float rounding. The result
    uses only default-domain ONNX ops, so any runtime can load it.
    """
    if not isinstance(level, str) or level not in _LEVELS:
        raise InvalidArgument(f"[optimize] level must be one of {tuple(_LEVELS)}, not {level!r}")
    source = model if isinstance(model, Model) else load(model)
    return Model(source._handle.optimize(_LEVELS[level]))
