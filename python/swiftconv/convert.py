"""sc.convert: conversion between model formats (API.md section 4).

TFLite -> ONNX and ONNX -> TFLite. The work is done by the Swift pass pipelines behind
sc_model_convert; this module checks arguments. With `quantize`, the float model in the target
format (the source itself when it already is in it) is quantized by sc.quantize, so every
route to a format shares one quantizer.
"""

import json
import os

from .errors import InvalidArgument
from .model import Model, _fspath, load
from .quantize import quantize as _quantize

__all__ = ["convert"]

_TARGETS = ("onnx", "tflite")
_QUANTIZE_MODES = ("dynamic", "float16", "int8")


def convert(
    src,
    to,
    output_path=None,
    *,
    opset=None,
    quantize=None,
    representative_dataset=None,
    keep_layout=None,
):
    """Converts a model (a Model, path, bytes, onnx.ModelProto, or a Keras model or
    .keras/.h5 file) to format `to`.

    A Keras source is read by sc.from_keras (Keras' NHWC layout kept) and then converted like
    an ONNX model: `sc.convert(keras_model, 'tflite', quantize='dynamic')` replaces
    TFLiteConverter.from_keras_model with optimizations=[tf.lite.Optimize.DEFAULT].

    TFLite -> ONNX gives a default-domain ONNX model (opset 13, or `opset` >= 13) with the
    TFLite input/output names, order and NHWC layout; quantized tensors become
    QuantizeLinear/DequantizeLinear pairs around float ops. In this direction the layout
    is always kept, whatever `keep_layout` says.

    ONNX -> TFLite gives a TFLite model that runs NHWC inside. By default (`keep_layout`
    None or True) its inputs and outputs keep the ONNX names, order and layouts, so the
    same arrays feed both; `keep_layout=False` exposes channels-last inputs and outputs
    instead (summary() names them). Nodes that cannot be converted raise
    ConversionError naming every one of them; nothing partial is returned or written.
    With `to='tflite'`, `quantize` ('dynamic', 'float16', 'int8' with
    `representative_dataset`) quantizes the float TFLite model as sc.quantize does; a
    TFLite source is quantized directly. With `to='onnx'`, `quantize` quantizes the float
    ONNX model (a converted float TFLite model, or an ONNX source itself) into the forms
    onnxruntime runs (QDQ for 'int8'), as sc.quantize does.
    A quantized ONNX source in QDQ form
    (QuantizeLinear/DequantizeLinear pairs, e.g. from onnxruntime's quantize_static) needs no
    `quantize`: it becomes an int8 TFLite model with the pairs' own scales, zero points and
    int8 weights (float32 inputs and outputs behind QUANTIZE/DEQUANTIZE, ops the source left
    float stay float); `quantize` with such a source raises InvalidArgument.
    With `output_path` the result is also written there atomically. The result's metadata
    `swiftconv.value_map` says which TFLite value each kept value holds (and in which
    layout), so that `sc.verify(source, result, per_layer=True)` compares them layer by layer.
    """
    if not isinstance(to, str) or to not in _TARGETS:
        raise InvalidArgument(f"[convert] to must be one of {_TARGETS}, not {to!r}")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 13):
        raise InvalidArgument(f"[convert] opset must be an int >= 13 or None, not {opset!r}")
    if quantize is not None and quantize not in _QUANTIZE_MODES:
        raise InvalidArgument(f"[convert] quantize must be None or one of {_QUANTIZE_MODES}, not {quantize!r}")
    if representative_dataset is not None and quantize != "int8":
        raise InvalidArgument("[convert] representative_dataset is only used with quantize='int8'")
    if keep_layout is not None and not isinstance(keep_layout, bool):
        raise InvalidArgument(f"[convert] keep_layout must be a bool, not {type(keep_layout).__name__}")
    path = None if output_path is None else _fspath(output_path, "convert")
    if _is_keras(src):
        # Keras -> ONNX first (NHWC kept), then the ONNX route: the lowering cancels the
        # Transposes around convolutions, so a Keras model becomes NHWC TFLite end to end.
        from .frontends.keras import from_keras

        model = from_keras(src, **({} if opset is None else {"opset": opset}))
        if to == "onnx" and quantize is None:
            if path is not None:
                model.save(path)
            return model
    else:
        model = src if isinstance(src, Model) else load(src)
    if quantize is not None:
        if model.format != to:
            options = json.dumps({"opset": opset, "quantize": None, "keep_layout": keep_layout})
            model = Model(model._handle.convert(to, options))
        result = _quantize(model, quantize, representative_dataset)
    else:
        options = json.dumps({"opset": opset, "quantize": None, "keep_layout": keep_layout})
        result = Model(model._handle.convert(to, options))
    if path is not None:
        result.save(path)
    return result


def _is_keras(src) -> bool:
    """A live Keras model, or a path to a .keras / .h5 file."""
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src).lower().endswith((".keras", ".h5", ".hdf5"))
    return not isinstance(src, Model) and hasattr(src, "to_json") and hasattr(src, "get_layer")
