"""Invalid graphs that onnxruntime refuses are refused by `sc.InferenceSession` at
creation, with a `ValidationError` naming the node; hostile external data (a FIFO) is
refused at once instead of blocking.

Every invalid model is built with onnx.helper and never passed through onnx.checker;
each case first asserts that onnxruntime refuses it, so the test proves parity rather
than our own opinion. A few valid models that onnx.checker would refuse but onnxruntime
runs prove the session checks are not stricter than onnxruntime.

    python -m pytest tests/test_session_checks.py -q
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper


def _vi(name, elem=TP.FLOAT, shape=(2,)):
    return helper.make_tensor_value_info(name, elem, list(shape))


def _model(nodes, inputs, outputs, initializers=(), opset=17, ir_version=8):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version)


def _relu(inputs, outputs, name):
    return helper.make_node("Relu", inputs, outputs, name=name)


def _w():
    return helper.make_tensor("w", TP.FLOAT, [2], [1.0, 2.0])


def _cond():
    return helper.make_tensor("c", TP.BOOL, [], [True])


def _branch(output):
    """An If branch computing Relu(x) of the enclosing graph into `output`."""
    return helper.make_graph([_relu(["x"], [output], "inner")], "branch", [], [_vi(output)])


def _refused_by_onnxruntime(data):
    """Whether onnxruntime refuses the model at session creation or, failing that, at run
    (a graph without outputs is only refused when run)."""
    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        session.run(None, {"x": np.zeros(2, dtype=np.float32)})
    except Exception:  # noqa: BLE001 - onnxruntime raises several classes
        return True
    return False


# (case id, model, text the error must contain)
INVALID_CASES = [
    (
        "two-nodes-one-output",
        _model([_relu(["x"], ["y"], "n1"), _relu(["x"], ["y"], "n2")], [_vi("x")], [_vi("y")]),
        "node 'n2' (Relu): output 'y' is already produced by node 'n1' (Relu)",
    ),
    (
        "node-writes-graph-input",
        _model([_relu(["x"], ["a"], "n1"), _relu(["a"], ["y"], "n2")], [_vi("x"), _vi("a")], [_vi("y")]),
        "node 'n1' (Relu): output 'a' overwrites a graph input",
    ),
    (
        "node-writes-initializer",
        _model(
            [_relu(["x"], ["w"], "n1"), helper.make_node("Add", ["w", "x"], ["y"], name="n2")],
            [_vi("x")],
            [_vi("y")],
            initializers=[_w()],
        ),
        "node 'n1' (Relu): output 'w' overwrites an initializer",
    ),
    (
        "branch-writes-outer-initializer",
        _model(
            [
                helper.make_node("If", ["c"], ["z"], name="if", then_branch=_branch("w"), else_branch=_branch("w")),
                helper.make_node("Add", ["z", "w"], ["y"], name="add"),
            ],
            [_vi("x")],
            [_vi("y")],
            initializers=[_cond(), _w()],
        ),
        "node 'inner' (Relu): output 'w' reuses the name of a value of an enclosing graph",
    ),
    (
        "relu-two-inputs",
        _model([_relu(["x", "x"], ["y"], "n1")], [_vi("x")], [_vi("y")]),
        "node 'n1' (Relu): has 2 inputs, Relu-14 takes 1",
    ),
    (
        "relu-two-outputs",
        _model([_relu(["x"], ["y", "z"], "n1")], [_vi("x")], [_vi("y")]),
        "node 'n1' (Relu): has 2 outputs, Relu-14 gives 1",
    ),
    (
        "opset-that-does-not-exist",
        _model([_relu(["x"], ["y"], "n1")], [_vi("x")], [_vi("y")], opset=10**6),
        "node 'n1' (Relu): opset import 'ai.onnx' version 1000000 does not exist",
    ),
    (
        "two-nodes-one-name",
        _model([_relu(["x"], ["h"], "n1"), _relu(["h"], ["y"], "n1")], [_vi("x")], [_vi("y")]),
        "node 'n1' (Relu): node #0 of the same graph has the same name",
    ),
    (
        "graph-input-listed-twice",
        _model([_relu(["x"], ["y"], "n1")], [_vi("x"), _vi("x")], [_vi("y")]),
        "input 'x' is listed more than once",
    ),
    (
        "no-graph-outputs",
        _model([_relu(["x"], ["y"], "n1")], [_vi("x")], []),
        "graph 'g': has no outputs",
    ),
    (
        "declared-output-type-contradicted",
        _model([_relu(["x"], ["y"], "n1")], [_vi("x")], [_vi("y", TP.INT64)], ir_version=9),
        "node 'n1' (Relu): output 'y' is tensor(float), but the graph declares it as tensor(int64)",
    ),
]


@pytest.mark.parametrize("model,expected", [c[1:] for c in INVALID_CASES], ids=[c[0] for c in INVALID_CASES])
def test_invalid_graph_is_refused_like_onnxruntime(sc, model, expected):
    data = model.SerializeToString()
    assert _refused_by_onnxruntime(data)
    sc.load(data)  # loading stays lenient; only a session needs a runnable graph
    with pytest.raises(sc.ValidationError) as info:
        sc.InferenceSession(data)
    assert expected in str(info.value)


def _branch_reusing_a_later_outer_name():
    """An If whose branch assigns 'h', a name the outer graph assigns after the If
    (onnx.checker refuses it; onnxruntime runs it)."""
    nodes = [
        helper.make_node("If", ["c"], ["z"], name="if", then_branch=_branch("h"), else_branch=_branch("h")),
        _relu(["z"], ["h"], "inner"),  # also shares its node name with the branch's node
        _relu(["h"], ["y"], "last"),
    ]
    return _model(nodes, [_vi("x")], [_vi("y")], initializers=[_cond()])


def _anonymous_graph():
    model = _model([_relu(["x"], ["y"], "")], [_vi("x")], [_vi("y")])
    model.graph.name = ""
    return model


VALID_CASES = [
    ("branch-reuses-a-later-outer-name", _branch_reusing_a_later_outer_name()),
    ("anonymous-graph-and-node", _anonymous_graph()),
]


@pytest.mark.parametrize("model", [c[1] for c in VALID_CASES], ids=[c[0] for c in VALID_CASES])
def test_valid_graph_onnxruntime_runs_is_accepted(sc, model):
    data = model.SerializeToString()
    x = np.array([-1.0, 2.0], dtype=np.float32)
    (expected,) = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    (got,) = sc.InferenceSession(data).run(None, {"x": x})
    np.testing.assert_array_equal(got, expected)


def _external_weight_model(location):
    """y = x + w with w's 8 bytes kept in the external file `location`."""
    w = TP(name="w", data_type=TP.FLOAT, dims=[2], data_location=TP.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    return _model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [_vi("x")], [_vi("y")], initializers=[w])


# Runs in a child process so that a regression (a blocking open) shows as a timeout
# instead of hanging the whole suite.
_OPEN_IN_CHILD = textwrap.dedent(
    """
    import sys
    import swiftconv as sc
    try:
        getattr(sc, sys.argv[1])(sys.argv[2])
    except sc.SwiftconvError as e:
        print(type(e).__name__ + ": " + str(e))
    else:
        print("no error")
    """
)


def _open_in_child(what, path):
    result = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_CHILD, what, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("what", ["load", "InferenceSession"])
def test_fifo_as_external_data_is_refused_without_blocking(tmp_path, what):
    os.mkfifo(tmp_path / "weights.bin")
    path = tmp_path / "model.onnx"
    path.write_bytes(_external_weight_model("weights.bin").SerializeToString())
    out = _open_in_child(what, path)
    assert out.startswith("ValidationError: initializer 'w': external data 'weights.bin':"), out
    assert "is a FIFO, not a regular file" in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_as_model_file_is_refused_without_blocking(tmp_path):
    path = tmp_path / "model.onnx"
    os.mkfifo(path)
    out = _open_in_child("load", path)
    assert out.startswith("SwiftconvIOError:") and "is a FIFO, not a regular file" in out, out


def test_external_data_shorter_than_declared_is_refused(sc, tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0" * 4)
    path = tmp_path / "model.onnx"
    path.write_bytes(_external_weight_model("weights.bin").SerializeToString())
    with pytest.raises(sc.ValidationError, match="initializer 'w'.*lie past its end"):
        sc.load(str(path))
