"""Keras normalization, activation, merging and preprocessing layers and Keras 3 operations
(`x + y`, keras.ops.*) converted by sc.from_keras, against the outputs Keras computed
(fixtures made by tests/fixtures/keras/make_{norm,act,merge,ops}.py), in onnxruntime and our
engine, and through sc.convert(..., 'tflite') in LiteRT and our interpreter."""

import json
import zipfile

import onnx
import pytest
from keras_oracle import FIXTURES as FIXTURE_DIR
from keras_oracle import check_onnx, check_tflite, fixtures

import swiftconv as sc

FIXTURES = fixtures("norm_") + fixtures("act_") + fixtures("merge_") + fixtures("ops_")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_onnx(path):
    check_onnx(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_tflite(path):
    check_tflite(path)


@pytest.mark.parametrize("stem", ["norm_ln_last", "norm_ln_two", "norm_ln_mid_tf"])
@pytest.mark.parametrize("opset", [13, 17, 18])
def test_layer_normalization_opsets(stem, opset):
    """Decomposed below opset 17 and for non-trailing axes, ONNX LayerNormalization else."""
    path = next(p for p in fixtures(stem) if p.stem == stem)
    model = sc.from_keras(str(path), opset=opset)
    check_onnx(path, model=model)
    ops = {n.op_type for n in onnx.load_from_string(model.to_bytes()).graph.node}
    # norm_ln_mid normalizes axis 1 of 3: not the trailing axes, so always decomposed.
    assert ("LayerNormalization" in ops) == (opset >= 17 and stem != "norm_ln_mid_tf")


# ---------------------------------------------------------------- errors


def _edited(tmp_path, stem, edit):
    """The Keras 3 fixture `stem` with its config changed by `edit(layers)`, as a new .keras."""
    src = FIXTURE_DIR / f"{stem}.keras"
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config["config"]["layers"])
    members["config.json"] = json.dumps(config).encode()
    out = tmp_path / f"{stem}_edited.keras"
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out


def _set(class_name, **changes):
    def edit(layers):
        hits = [e for e in layers if e["class_name"] == class_name]
        assert hits, class_name
        hits[0]["config"].update(changes)

    return edit


@pytest.mark.parametrize(
    "stem, edit, match",
    [
        ("norm_gn", _set("GroupNormalization", groups=4), "groups=4 must divide the 6 channels"),
        ("norm_gn", _set("GroupNormalization", axis=1), "only the last axis"),
        ("norm_bn_last", _set("BatchNormalization", renorm=True), "renorm"),
        ("norm_bn_last", _set("BatchNormalization", axis=0), "batch axis"),
        ("norm_ln_last", _set("LayerNormalization", axis=5), "axis 5 is out of range"),
        ("norm_ln_last", _set("LayerNormalization", epsilon="tiny"), "epsilon"),
        ("norm_rescale", _set("Rescaling", scale=[1.0, 2.0]), "scale of shape"),
        ("norm_normalize", _set("Normalization", mean=[1.0, 2.0]), "do not fit"),
        ("norm_normalize", _set("Normalization", variance=[1.0, -2.0, 1.0]), "negative"),
        ("norm_center_crop", _set("CenterCrop", height=9), "smaller than"),
        ("norm_rms", _set("RMSNormalization", axis=1), "scale of shape"),
        ("act_layers", _set("ReLU", max_value="six"), "max_value"),
        ("act_layers", _set("Softmax", axis=3), "out of range"),
        ("act_layers", _set("LeakyReLU", negative_slope=None), "negative_slope"),
        ("act_strings", _set("Activation", activation="no_such_fn"), "activation 'no_such_fn'"),
        ("merge_dot", _set("Dot", axes=[1]), "must be an int or two ints"),
        ("merge_dot", _set("Dot", axes=0), "batch axis"),
        ("merge_elementwise", _set("Concatenate", axis=0), "batch axis"),
        ("ops_reduce", _set("Mean", axis=[7]), "out of range"),
        ("ops_shapes", _set("Reshape", newshape=[0, 12]), "newshape"),
        ("ops_shapes", _set("Reshape", newshape=[-1, -1]), "newshape"),
        ("ops_shapes", _set("Transpose", axes=[0, 0, 1]), "not a permutation"),
        ("ops_shapes", _set("Cast", dtype="complex_thing"), "dtype"),
        ("ops_unary", _set("Clip", x_min="low"), "clip bounds"),
    ],
)
def test_unsupported_configs(tmp_path, stem, edit, match):
    with pytest.raises(sc.UnsupportedOp, match=match):
        sc.from_keras(str(_edited(tmp_path, stem, edit)))


def test_wrong_weight_count(tmp_path):
    # BatchNormalization without scale expects 3 arrays; the file holds 4.
    path = _edited(tmp_path, "norm_bn_last", _set("BatchNormalization", scale=False))
    with pytest.raises(sc.InvalidArgument, match="has 4 weight arrays, expected 3"):
        sc.from_keras(str(path))


HOSTILE = [None, "x", -7, 10**9, 2.5, [1, 2, 3], [], {"a": 1}, True]


@pytest.mark.parametrize("stem", ["norm_bn_axis1", "norm_ln_two", "norm_gn_2d", "norm_unit", "norm_rescale_ch",
                                  "norm_normalize", "norm_center_crop", "norm_rms_two", "act_layers", "act_prelu_shared", "merge_dot",
                                  "merge_elementwise", "ops_shapes", "ops_reduce", "ops_unary"])  # fmt: skip
def test_hostile_config_values(tmp_path, stem):
    """Every config entry of every layer replaced by odd values: a result or a swiftconv error,
    never a Python crash."""
    with zipfile.ZipFile(FIXTURE_DIR / f"{stem}.keras") as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
    cases, crashes = 0, []
    for i, entry in enumerate(layers):
        if entry["class_name"] == "InputLayer":
            continue
        for key in entry["config"]:
            if key in ("name", "dtype", "trainable"):
                continue
            for value in HOSTILE:

                def edit(ls, i=i, key=key, value=value):
                    ls[i]["config"][key] = value

                try:
                    sc.from_keras(str(_edited(tmp_path, stem, edit)))
                except sc.SwiftconvError:
                    pass
                except Exception as exc:  # noqa: BLE001 - the failure this test looks for
                    crashes.append(f"{entry['class_name']}.{key}={value!r}: {type(exc).__name__}: {exc}")
                cases += 1
    assert cases > 0 and not crashes, "\n".join(crashes)


@pytest.mark.parametrize("opset", [18, 21])
@pytest.mark.parametrize("path", fixtures("norm_") + fixtures("ops_") + fixtures("act_layers"), ids=lambda p: p.name)
def test_newer_opsets(path, opset):
    """ReduceMean/ReduceMax take their axes as an input from opset 18."""
    check_onnx(path, model=sc.from_keras(str(path), opset=opset))
