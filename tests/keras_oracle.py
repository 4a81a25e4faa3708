"""Checks a Keras fixture (`tests/fixtures/keras/<stem>.keras|.h5` + `<stem>.npz`, made by the
scripts there with Keras) against the outputs Keras computed:

- `check_onnx(path)`: sc.from_keras(file) run in onnxruntime and in sc.InferenceSession;
- `check_tflite(path)`: sc.convert(file, 'tflite') run in LiteRT and in sc.Interpreter;
- `check_live(path)`: the file loaded by Keras (where Keras is installed) and converted live.

"Within 1e-4 of Keras" is |ours - keras| <= tol * (1 + |keras|) for every element.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

import swiftconv as sc

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "keras"
TOL = 1e-4


def fixtures(prefix: str = "") -> list[Path]:
    """The fixture model files whose stem starts with `prefix`, sorted."""
    return sorted(p for p in FIXTURES.iterdir() if p.suffix in (".keras", ".h5") and p.stem.startswith(prefix))


def io(path: Path):
    """(inputs, Keras outputs) stored next to the fixture."""
    data = np.load(path.with_suffix(".npz"))
    inputs = [data[f"input_{k}"] for k in range(sum(1 for n in data.files if n.startswith("input_")))]
    outputs = [data[f"output_{k}"] for k in range(sum(1 for n in data.files if n.startswith("output_")))]
    return inputs, outputs


def assert_close(got, want, tol=TOL, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != Keras' {want.shape}"
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bound = tol * (1.0 + np.abs(want.astype(np.float64)))
    worst = float(np.max(err - bound)) if err.size else 0.0
    assert worst <= 0.0, f"{what}: max abs error {float(err.max()):.3g} past {tol} x (1 + |keras|)"


def run_onnx(model, inputs):
    """Outputs of `model` in onnxruntime and in sc.InferenceSession, fed in input order."""
    names = [i.name for i in model.inputs]
    feeds = dict(zip(names, inputs))
    ort_out = ort.InferenceSession(model.to_bytes(), providers=["CPUExecutionProvider"]).run(None, feeds)
    sc_out = sc.InferenceSession(model.to_bytes()).run(None, feeds)
    return ort_out, sc_out


def check_onnx(path: Path, tol=TOL, model=None):
    """from_keras(path) against Keras' outputs, in onnxruntime and in our engine."""
    inputs, want = io(path)
    model = model if model is not None else sc.from_keras(str(path))
    assert len(model.inputs) == len(inputs) and len(model.outputs) == len(want)
    ort_out, sc_out = run_onnx(model, inputs)
    for k, w in enumerate(want):
        assert_close(ort_out[k], w, tol, f"{path.name} output {k} (onnxruntime)")
        assert_close(sc_out[k], w, tol, f"{path.name} output {k} (swiftconv)")
    return model


def run_tflite(content: bytes, inputs):
    """Outputs of a float TFLite model in LiteRT and in sc.Interpreter, by input order."""
    from ai_edge_litert.interpreter import Interpreter

    results = []
    for make in (lambda: Interpreter(model_content=content), lambda: sc.Interpreter(model_content=content)):
        interp = make()
        # A free batch dim is stored as 1 (shape_signature -1): resize to the stored batch.
        for detail, x in zip(interp.get_input_details(), inputs):
            if tuple(detail["shape"]) != np.shape(x):
                interp.resize_tensor_input(detail["index"], list(np.shape(x)))
        interp.allocate_tensors()
        for detail, x in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], np.asarray(x, detail["dtype"]))
        interp.invoke()
        results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return results


def check_tflite(path: Path, tol=TOL):
    """sc.convert(path, 'tflite') against Keras' outputs, in LiteRT and in sc.Interpreter."""
    inputs, want = io(path)
    model = sc.convert(str(path), "tflite")
    litert, ours = run_tflite(model.to_bytes(), inputs)
    for k, w in enumerate(want):
        assert_close(litert[k], w, tol, f"{path.name} output {k} (LiteRT)")
        assert_close(ours[k], w, tol, f"{path.name} output {k} (sc.Interpreter)")
    return model


def load_live(path: Path):
    """The fixture loaded by Keras itself (Keras 3 for .keras, tf_keras for .h5)."""
    if path.suffix == ".keras":
        import keras

        return keras.saving.load_model(path, compile=False, safe_mode=False)
    import tf_keras

    return tf_keras.models.load_model(path, compile=False)


def check_live(path: Path, tol=TOL):
    """The live Keras model converted (weights read from the model), against Keras' outputs."""
    return check_onnx(path, tol, model=sc.from_keras(load_live(path)))
