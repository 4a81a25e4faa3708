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


def make_onnx(nodes, inputs, outputs, initializers=(), opset=17) -> bytes:
    """ONNX bytes of `nodes`; `inputs`/`outputs` are (name, elem_type, shape) triples (a str
    dim is dynamic), `initializers` maps names to arrays."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset <= 18 else 9
    return m.SerializeToString()


def check_conversion(model: bytes, *feed_sets, tol=1e-5) -> bytes:
    """Converts ONNX `model` to TFLite once, then for each feed set runs LiteRT and
    sc.Interpreter (fresh interpreters, resized to the feeds) and compares every output with
    onnxruntime on `model` (floats within `tol`, others exactly). Returns the TFLite bytes."""
    import numpy as np
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    content = sc.convert(model, "tflite").to_bytes()
    for feeds in feed_sets:
        want = session.run(None, feeds)
        for runner in ("litert", "swiftconv"):
            it = Interpreter(model_content=content) if runner == "litert" else sc.Interpreter(model_content=content)
            got = run_interpreter(it, feeds, names)
            for g, w, n in zip(got, want, names):
                where = f"{runner} {n} {[f.shape for f in feeds.values()]}"
                assert g.shape == w.shape, (where, g.shape, w.shape)
                assert g.dtype == w.dtype, (where, g.dtype, w.dtype)
                if w.dtype.kind == "f":
                    np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=where)
                else:
                    np.testing.assert_array_equal(g, w, err_msg=where)
    return content
