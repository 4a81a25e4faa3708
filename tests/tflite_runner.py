"""Running a .tflite on LiteRT (ai_edge_litert) and on sc.Interpreter the same way, for the
ONNX -> TFLite tests: inputs by name (resized when their shape differs from the file's, cast
to the input's type), outputs by name."""

from __future__ import annotations

import swiftconv as sc


def run_interpreter(interpreter, feeds: dict, names: list[str]) -> list:
    """Runs a tf.lite-style interpreter on `feeds` and returns the outputs called `names`."""
    details = {d["name"]: d for d in interpreter.get_input_details()}
    for name, x in feeds.items():
        if tuple(details[name]["shape"]) != x.shape:
            interpreter.resize_tensor_input(details[name]["index"], list(x.shape))
    interpreter.allocate_tensors()
    for name, x in feeds.items():
        interpreter.set_tensor(details[name]["index"], x.astype(details[name]["dtype"], copy=False))
    interpreter.invoke()
    by_name = {d["name"]: d for d in interpreter.get_output_details()}
    return [interpreter.get_tensor(by_name[n]["index"]) for n in names]


def run_litert(content: bytes, feeds: dict, names: list[str], **options) -> list:
    """LiteRT's interpreter (options such as experimental_op_resolver_type passed on)."""
    from ai_edge_litert.interpreter import Interpreter

    return run_interpreter(Interpreter(model_content=content, **options), feeds, names)


def run_ours(content: bytes, feeds: dict, names: list[str]) -> list:
    """swiftconv's sc.Interpreter."""
    return run_interpreter(sc.Interpreter(model_content=content), feeds, names)
