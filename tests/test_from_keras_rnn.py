"""Recurrent Keras layers (SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed) with Embedding,
Masking and masks: each fixture of tests/fixtures/keras/make_rnn.py converted from its file, run in
onnxruntime and our engine (check_onnx) and as TFLite in LiteRT and sc.Interpreter (check_tflite),
against the outputs Keras computed."""

import numpy as np
import onnx
import pytest
from keras_oracle import check_onnx, check_tflite, fixtures

import swiftconv as sc

FIXTURES = fixtures("rnn_")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_tflite(path):
    check_tflite(path)


def _fixture(stem):
    return next(p for p in FIXTURES if p.stem == stem)


def _tflite_ops(model):
    from ai_edge_litert.interpreter import Interpreter

    return [op["op_name"] for op in Interpreter(model_content=model.to_bytes())._get_ops_details()]


@pytest.mark.parametrize("stem", ["rnn_lstm_seq", "rnn_lstm_last_tf"])
def test_lstm_becomes_unidirectional_sequence_lstm(stem):
    ops = _tflite_ops(check_tflite(_fixture(stem)))
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1, ops


def test_bidirectional_lstm_is_one_onnx_op_and_two_sequence_lstms():
    model = check_onnx(_fixture("rnn_bidir_lstm_sum"))
    nodes = onnx.load_from_string(model.to_bytes()).graph.node
    lstms = [n for n in nodes if n.op_type == "LSTM"]
    assert len(lstms) == 1
    assert any(a.name == "direction" and a.s == b"bidirectional" for a in lstms[0].attribute)
    assert _tflite_ops(check_tflite(_fixture("rnn_bidir_lstm_sum"))).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2


@pytest.mark.parametrize("stem", ["rnn_embed_bigru_mask", "rnn_embed_bigru_mask_tf", "rnn_embed_bigru_dyn_mask"])
def test_masked_bidirectional_gru_reads_sequence_lens(stem):
    """Embedding(mask_zero=True) over right-padded rows: the GRUs get sequence_lens, and the
    TFLite model (unrolled, or WHILE loops over a dynamic length) matches Keras."""
    model = check_onnx(_fixture(stem))
    grus = [n for n in onnx.load_from_string(model.to_bytes()).graph.node if n.op_type == "GRU"]
    assert len(grus) == 2 and all(len(n.input) > 4 and n.input[4] for n in grus)
    ops = _tflite_ops(check_tflite(_fixture(stem)))
    assert ("WHILE" in ops) == stem.endswith("dyn_mask"), ops


def test_mixed_bidirectional_halves_are_two_onnx_ops():
    model = check_onnx(_fixture("rnn_bidir_mixed"))
    types = [n.op_type for n in onnx.load_from_string(model.to_bytes()).graph.node]
    assert types.count("LSTM") == 1 and types.count("GRU") == 1


# Errors name the layer


def _rnn_model(layer_cfg, weights, seq=(None, 4, 3)):
    """A one-layer Keras 3 functional config, converted from a live-model-like source."""
    from swiftconv.frontends.keras import from_keras  # noqa: F401

    class Source:
        dialect = "keras3"
        origin = "test"
        config = {
            "class_name": "Functional",
            "config": {
                "name": "m",
                "layers": [
                    {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": list(seq)}},
                    {
                        **layer_cfg,
                        "name": "rnn",
                        "inbound_nodes": [
                            {
                                "args": [
                                    {
                                        "class_name": "__keras_tensor__",
                                        "config": {"keras_history": ["x", 0, 0]},
                                    }
                                ],
                                "kwargs": {},
                            }
                        ],
                    },
                ],
                "input_layers": [["x", 0, 0]],
                "output_layers": [["rnn", 0, 0]],
            },
        }

        def weights(self, path, class_name):
            return weights

        def close(self):
            pass

    return Source()


def _convert(source):
    from swiftconv.frontends.keras import _source

    real = _source.open_source
    _source.open_source = lambda m: m
    try:
        return sc.from_keras(source)
    finally:
        _source.open_source = real


def _lstm(units=2, **cfg):
    return {"class_name": "LSTM", "module": "keras.layers", "config": {"name": "rnn", "units": units, **cfg}}


def _lstm_weights(units=2, features=3):
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(features, 4 * units)).astype(np.float32),
        rng.normal(size=(units, 4 * units)).astype(np.float32),
        np.zeros(4 * units, np.float32),
    ]


@pytest.mark.parametrize(
    "layer_cfg, weights, message",
    [
        (_lstm(activation="gelu"), _lstm_weights(), "activation 'gelu'"),
        (_lstm(stateful=True), _lstm_weights(), "stateful"),
        (_lstm(units=0), _lstm_weights(), "units"),
        (_lstm(), _lstm_weights()[:2], "weight arrays"),
        (_lstm(), _lstm_weights(features=5), "does not fit"),
        (
            {
                "class_name": "Bidirectional",
                "module": "keras.layers",
                "config": {"name": "rnn", "merge_mode": "max", "layer": _lstm()},
            },
            _lstm_weights() * 2,
            "merge_mode 'max'",
        ),
        (
            {"class_name": "Bidirectional", "module": "keras.layers", "config": {"name": "rnn", "layer": "LSTM"}},
            [],
            "no wrapped recurrent layer",
        ),
    ],
)
def test_unsupported_configs_name_the_layer(layer_cfg, weights, message):
    with pytest.raises(sc.UnsupportedOp) as e:
        _convert(_rnn_model(layer_cfg, weights))
    assert "'rnn'" in str(e.value) and message in str(e.value)
