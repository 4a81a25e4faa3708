"""from_keras on models it cannot convert and on malformed or hostile files: every failure is a
swiftconv error (sc.SwiftconvError) whose message names what is wrong, never another exception
type, and nothing is written. No TensorFlow needed: the files are built here by hand (zipfile,
json, h5py) or are the `err_*` fixtures."""

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from keras_oracle import FIXTURES

import swiftconv as sc

ERR_KERAS3 = FIXTURES / "err_lambda_custom.keras"
ERR_TF = FIXTURES / "err_lambda_tf.h5"
ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ models built by hand


def _tensor(layer, shape):
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, 0, 0]},
    }


def _input(name, features):
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "name": name,
        "config": {"name": name, "batch_shape": [None, features], "dtype": "float32"},
        "inbound_nodes": [],
    }


def _dense(name, units, source, features):
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "name": name,
        "config": {"name": name, "units": units, "activation": "linear", "use_bias": True},
        "inbound_nodes": [{"args": [_tensor(source, [None, features])], "kwargs": {}}],
    }


def _functional(layers, inputs=(("x", 0, 0),), outputs=(("dense", 0, 0),)):
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "model",
            "layers": layers,
            "input_layers": [list(i) for i in inputs],
            "output_layers": [list(o) for o in outputs],
        },
    }


def _dense_model():
    """x (5 features) -> Dense(4) named 'dense'."""
    return _functional([_input("x", 5), _dense("dense", 4, "x", 5)])


def _weights_h5(layers: dict) -> bytes:
    """A Keras 3 model.weights.h5: {storage key: [arrays]} under layers/<key>/vars/<i>."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, arrays in layers.items():
            group = f.create_group(f"layers/{key}/vars")
            for i, a in enumerate(arrays):
                group.create_dataset(str(i), data=a)
    return buffer.getvalue()


RNG = np.random.default_rng(0)
KERNEL = RNG.normal(size=(5, 4)).astype(np.float32)
BIAS = RNG.normal(size=(4,)).astype(np.float32)


def _keras_file(tmp_path, config, weights=None, name="model.keras") -> Path:
    """A .keras zip; `config` a dict (as JSON) or raw bytes; `weights` {key: [arrays]} or None."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        if config is not None:
            z.writestr("config.json", config if isinstance(config, (bytes, str)) else json.dumps(config))
        if weights is not None:
            z.writestr("model.weights.h5", _weights_h5(weights))
    return path


def test_hand_made_model_converts(tmp_path):
    # The baseline the malformed variants below break: it converts and computes x @ W + b.
    path = _keras_file(tmp_path, _dense_model(), {"dense": [KERNEL, BIAS]})
    model = sc.from_keras(str(path))
    x = RNG.normal(size=(3, 5)).astype(np.float32)
    (y,) = sc.InferenceSession(model.to_bytes()).run(None, {"x": x})
    np.testing.assert_allclose(y, x @ KERNEL + BIAS, rtol=1e-5, atol=1e-5)


def _raises(path, cls, *fragments, **kwargs):
    with pytest.raises(sc.SwiftconvError) as info:
        sc.from_keras(str(path), **kwargs)
    assert isinstance(info.value, cls), f"{type(info.value).__name__}: {info.value}"
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return info.value


# ------------------------------------------------------------------ unsupported layers


def test_lambda_and_custom_layer_named_together(tmp_path):
    out = tmp_path / "out.onnx"
    err = _raises(ERR_KERAS3, sc.UnsupportedOp, "Lambda", "'plus_one'", "TimesTwo", "'times_two'", output_path=out)
    assert "2 unsupported" in str(err)
    assert "custom layer" in str(err)
    assert not out.exists()


def test_tf_keras_lambda(tmp_path):
    out = tmp_path / "out.onnx"
    _raises(ERR_TF, sc.UnsupportedOp, "Lambda", "'plus_one'", output_path=out)
    assert not out.exists()


@pytest.mark.parametrize("path", [ERR_KERAS3, ERR_TF], ids=lambda p: p.name)
def test_convert_to_tflite_names_them(tmp_path, path):
    out = tmp_path / "out.tflite"
    with pytest.raises(sc.UnsupportedOp, match="plus_one"):
        sc.convert(str(path), "tflite", output_path=out)
    assert not out.exists()


def test_cli_convert_names_them(tmp_path):
    out = tmp_path / "y.onnx"
    # The swiftconv the tests import (installed, or the source tree on PYTHONPATH) runs the CLI.
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "swiftconv", "convert", str(ERR_KERAS3), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode != 0
    assert "UnsupportedOp" in run.stderr and "plus_one" in run.stderr and "times_two" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()


# ------------------------------------------------------------------ malformed files


def test_not_a_zip(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"hello, not a model")
    _raises(path, sc.ModelFormatError, "neither a .keras zip nor an HDF5")


def test_broken_zip(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    _raises(path, sc.ModelFormatError, "not a .keras archive")


def test_missing_file(tmp_path):
    _raises(tmp_path / "nothing.keras", sc.SwiftconvIOError, "no such file")


def test_zip_without_config(tmp_path):
    _raises(_keras_file(tmp_path, None, {"dense": [KERNEL, BIAS]}), sc.ModelFormatError, "no config.json")


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00garbage", b""], ids=["syntax", "not-utf8", "empty"])
def test_config_not_json(tmp_path, raw):
    _raises(_keras_file(tmp_path, raw), sc.ModelFormatError, "not JSON")


@pytest.mark.parametrize("config", [[], 42, "text", {"class_name": "Functional"}], ids=repr)
def test_config_not_a_model(tmp_path, config):
    _raises(_keras_file(tmp_path, json.dumps(config)), sc.ModelFormatError, "not a Keras model")


def test_config_of_a_layer(tmp_path):
    config = {"class_name": "Dense", "config": {"name": "d", "units": 3}}
    _raises(_keras_file(tmp_path, config), sc.ConversionError, "Dense", "no functional graph")


@pytest.mark.parametrize("layers", [5, "abc", {"x": 1}, [1, 2]], ids=repr)
def test_layers_not_a_list(tmp_path, layers):
    config = _dense_model()
    config["config"]["layers"] = layers
    _raises(_keras_file(tmp_path, config), sc.ModelFormatError, "no list of layers")


def test_missing_inbound_tensor(tmp_path):
    config = _functional([_input("x", 5), _dense("dense", 4, "ghost", 5)])
    _raises(_keras_file(tmp_path, config, {"dense": [KERNEL, BIAS]}), sc.ModelFormatError, "ghost", "not connected")


def test_cycle_between_layers(tmp_path):
    layers = [_input("x", 5), _dense("a", 5, "b", 5), _dense("b", 5, "a", 5)]
    config = _functional(layers, outputs=[("b", 0, 0)])
    _raises(_keras_file(tmp_path, config), sc.ModelFormatError, "'a'", "'b'", "not connected")


def test_output_not_computed(tmp_path):
    config = _functional([_input("x", 5), _dense("dense", 4, "x", 5)], outputs=[("dense", 3, 0)])
    _raises(_keras_file(tmp_path, config, {"dense": [KERNEL, BIAS]}), sc.ModelFormatError, "not computed")


@pytest.mark.parametrize(
    "field,value",
    [
        ("inbound_nodes", 7),
        ("inbound_nodes", [[["x", "zero", 0]]]),
        ("inbound_nodes", [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": 3}}]}]),
        ("config", "not an object"),
    ],
    ids=["nodes-int", "legacy-ref-str", "history-int", "config-str"],
)
def test_bad_layer_entries(tmp_path, field, value):
    config = _dense_model()
    config["config"]["layers"][1][field] = value
    _raises(_keras_file(tmp_path, config, {"dense": [KERNEL, BIAS]}), sc.ModelFormatError, "dense")


@pytest.mark.parametrize("shape", ["abc", [None, "5"], [None, -1], [None, 2.5], 5], ids=repr)
def test_bad_input_shape(tmp_path, shape):
    config = _dense_model()
    config["config"]["layers"][0]["config"]["batch_shape"] = shape
    _raises(_keras_file(tmp_path, config, {"dense": [KERNEL, BIAS]}), sc.ModelFormatError, "input 'x'")


def test_nesting_10000_deep(tmp_path):
    # Deeper than Python's recursion limit: JSON that nests 10,000 lists.
    raw = b'{"class_name": "Functional", "config": {"layers": ' + b"[" * 10000 + b"]" * 10000 + b"}}"
    _raises(_keras_file(tmp_path, raw), sc.ModelFormatError, "nests too deeply")


def test_nesting_parseable_but_deep(tmp_path):
    # Shallow enough for the JSON parser, too deep for a walk over the config.
    config = _dense_model()
    deep = []
    for _ in range(800):
        deep = [deep]
    config["config"]["layers"][1]["inbound_nodes"][0]["kwargs"] = {"deep": deep}
    _raises(_keras_file(tmp_path, config, {"dense": [KERNEL, BIAS]}), sc.ModelFormatError, "nests past")


def test_models_nested_too_deeply(tmp_path):
    inner = _dense_model()
    for k in range(100):
        inner = _functional(
            [
                _input(f"x{k}", 5),
                {**inner, "name": f"m{k}", "inbound_nodes": [{"args": [_tensor(f"x{k}", [None, 5])]}]},
            ],
            inputs=[(f"x{k}", 0, 0)],
            outputs=[(f"m{k}", 0, 0)],
        )
    _raises(_keras_file(tmp_path, inner), sc.ModelFormatError, "too deeply")


# ------------------------------------------------------------------ weights


def test_kernel_of_the_wrong_shape(tmp_path):
    weights = {"dense": [np.zeros((3, 4), np.float32), BIAS]}
    _raises(_keras_file(tmp_path, _dense_model(), weights), sc.SwiftconvError, "'dense'", "(3, 4)")


def test_wrong_number_of_arrays(tmp_path):
    weights = {"dense": [KERNEL, BIAS, BIAS]}
    _raises(_keras_file(tmp_path, _dense_model(), weights), sc.SwiftconvError, "'dense'", "3 weight arrays")


def test_missing_weights_file(tmp_path):
    _raises(_keras_file(tmp_path, _dense_model()), sc.ModelFormatError, "no model.weights.h5")


def test_weights_not_hdf5(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(_dense_model()))
        z.writestr("model.weights.h5", b"not hdf5 at all")
    _raises(path, sc.ModelFormatError, "model.weights.h5")


def test_variable_that_is_a_group(tmp_path):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("layers/dense/vars/0")
        f.create_dataset("layers/dense/vars/1", data=BIAS)
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(_dense_model()))
        z.writestr("model.weights.h5", buffer.getvalue())
    _raises(path, sc.ModelFormatError, "/layers/dense/vars/0", "not an array")


def test_variable_of_strings(tmp_path):
    weights = {"dense": [np.array([b"a", b"b"]), BIAS]}
    _raises(_keras_file(tmp_path, _dense_model(), weights), sc.ModelFormatError, "vars/0", "not numbers")


def test_h5_without_model_config(tmp_path):
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("model_weights/dense/dense/kernel:0", data=KERNEL)
    _raises(path, sc.ModelFormatError, "no model_config")


def test_h5_model_config_not_json(tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = "{oops"
    _raises(path, sc.ModelFormatError, "not JSON")


@pytest.mark.parametrize("path", [ERR_TF, FIXTURES / "attn_mha_self.keras"], ids=lambda p: p.suffix)
def test_h5py_missing(monkeypatch, path):
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` raises ImportError
    with pytest.raises(sc.SwiftconvError, match=r"swiftconv\[keras\]"):
        sc.from_keras(str(path))


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    "signature,fragment",
    [
        ([(None, 5), (None, 5)], "2 entries"),
        ([], "0 entries"),
        (5, "input_signature[0]"),
        ("abc", "input_signature[0]"),
        ([None], "input_signature[0]"),
        ([[None, -1]], "input_signature[0]"),
        ([[None, 2.5]], "input_signature[0]"),
        ([[None, True]], "input_signature[0]"),
        ([([None, 5], "no-such-dtype")], "not a dtype"),
        ([{"shape": [None, 5]}], "input_signature[0]"),
    ],
    ids=repr,
)
def test_bad_input_signature(tmp_path, signature, fragment):
    path = _keras_file(tmp_path, _dense_model(), {"dense": [KERNEL, BIAS]})
    _raises(path, sc.InvalidArgument, fragment, input_signature=signature)


def test_input_signature_accepted(tmp_path):
    # The same model with a fixed batch from its signature.
    path = _keras_file(tmp_path, _dense_model(), {"dense": [KERNEL, BIAS]})
    model = sc.from_keras(str(path), input_signature=[([2, 5], np.float32)])
    assert list(model.inputs[0].shape) == [2, 5]


@pytest.mark.parametrize("source", [42, None, b"bytes", object()], ids=repr)
def test_not_a_model(source):
    with pytest.raises(sc.InvalidArgument, match="expected a keras.Model or a path"):
        sc.from_keras(source)
