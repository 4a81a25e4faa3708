"""sc.quantize: post-training quantization of a float TFLite or ONNX model (API.md section 4).

The rewrite and the calibration run in Swift (sc_quantize, sc_calibrator_*); this module
checks arguments and walks the representative dataset, one sample at a time.
"""

import json

import numpy as np

from . import _core
from ._dtypes import array_to_tensor
from .errors import InvalidArgument
from .model import Model, load

__all__ = ["quantize"]

_MODES = ("dynamic", "float16", "int8")
_INTERFACE_TYPES = ("float32", "int8")


def _samples(representative_dataset):
    """The dataset as an iterable: a callable is called first, as TFLiteConverter does."""
    data = representative_dataset() if callable(representative_dataset) else representative_dataset
    try:
        return iter(data)
    except TypeError:
        raise InvalidArgument(
            f"[quantize] representative_dataset must be an iterable (or a callable returning one) of samples, "
            f"not {type(data).__name__}"
        ) from None


def _feed(sample, inputs, k):
    """One sample as (names, arrays): a list/tuple in input order, a dict by name, or one array."""
    if isinstance(sample, dict):
        unknown = sorted(set(sample) - {i.name for i in inputs})
        if unknown:
            raise InvalidArgument(f"[quantize] sample {k} names unknown inputs {unknown}")
        missing = [i.name for i in inputs if i.name not in sample]
        if missing:
            raise InvalidArgument(f"[quantize] sample {k} lacks inputs {missing}")
        values = [sample[i.name] for i in inputs]
    elif isinstance(sample, (list, tuple)):
        if len(sample) != len(inputs):
            raise InvalidArgument(f"[quantize] sample {k} has {len(sample)} arrays for {len(inputs)} inputs")
        values = list(sample)
    elif len(inputs) == 1:
        values = [sample]
    else:
        raise InvalidArgument(f"[quantize] sample {k} must be a list or dict of {len(inputs)} arrays")
    arrays = []
    for info, value in zip(inputs, values):
        array = np.asarray(value)
        if info.dtype is not None and array.dtype != info.dtype:
            array = array.astype(info.dtype)
        arrays.append(np.ascontiguousarray(array))
    return [i.name for i in inputs], arrays


def quantize(model, mode, representative_dataset=None, *, input_type="float32", output_type="float32"):
    """A quantized copy of a float TFLite or ONNX model (a Model, path or bytes).

    A TFLite model is quantized as TFLiteConverter does it. An ONNX model becomes what
    onnxruntime's quantizers write: 'int8' the QDQ format of quantize_static (int8
    activations through QuantizeLinear/DequantizeLinear pairs, int8 weights per channel
    for Conv, per column for MatMul/Gemm, int32 biases), 'dynamic' int8 weights with
    MatMul/Gemm as DynamicQuantizeLinear + MatMulInteger (other weights behind a
    DequantizeLinear), 'float16' float16 initializers behind a Cast; it keeps its names,
    float32 inputs and outputs, and gets opset 13 at least.

    mode: 'dynamic' (int8 weights, hybrid ops on float activations), 'float16' (float16
    weights behind DEQUANTIZE) or 'int8' (full integer; needs `representative_dataset`: an
    iterable, or a callable returning one, of samples, each a list of input arrays in input
    order, a dict by input name, or one array for a one-input model).
    input_type/output_type ('float32' or 'int8', int8 mode only) are the model interface
    types, as TFLiteConverter's inference_input_type/inference_output_type: 'float32' keeps
    float inputs and outputs with a QUANTIZE/DEQUANTIZE inside.
    """
    if mode not in _MODES:
        raise InvalidArgument(f"[quantize] mode must be one of {_MODES}, not {mode!r}")
    for what, value in (("input_type", input_type), ("output_type", output_type)):
        if value not in _INTERFACE_TYPES:
            raise InvalidArgument(f"[quantize] {what} must be one of {_INTERFACE_TYPES}, not {value!r}")
        if mode != "int8" and value != "float32":
            raise InvalidArgument(f"[quantize] {what} applies to mode='int8' only")
    model = model if isinstance(model, Model) else load(model)
    if model.format == "onnx" and (input_type != "float32" or output_type != "float32"):
        raise InvalidArgument(
            "[quantize] an ONNX model keeps float32 inputs and outputs: input_type/output_type must be 'float32'"
        )
    if mode != "int8":
        if representative_dataset is not None:
            raise InvalidArgument(f"[quantize] representative_dataset is only used with mode='int8', not {mode!r}")
        return Model(model._handle.quantize(json.dumps({"mode": mode})))
    if representative_dataset is None:
        raise InvalidArgument("[quantize] mode='int8' needs a representative_dataset")
    options = json.dumps({"mode": "int8", "input_type": input_type, "output_type": output_type})
    calibrator = _core.Calibrator(model._handle, options)
    inputs = model.inputs
    count = 0
    for k, sample in enumerate(_samples(representative_dataset)):
        names, arrays = _feed(sample, inputs, k)
        calibrator.feed(names, [array_to_tensor(a) for a in arrays])
        count += 1
    if count == 0:
        raise InvalidArgument("[quantize] representative_dataset gave no samples")
    return Model(calibrator.finish())
