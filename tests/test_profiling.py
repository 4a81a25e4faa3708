"""SessionOptions.enable_profiling and InferenceSession.end_profiling, as onnxruntime has
them: the profile is a JSON list of Chrome trace events with onnxruntime's keys, one
"model_run" per run and one "<node>_kernel_time" per executed node, and the file is named
after profile_file_prefix. Checked against the profile onnxruntime writes for the same model."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import swiftconv as sc

EVENT_KEYS = {"cat", "pid", "tid", "dur", "ts", "ph", "name", "args"}


def _model():
    """Conv -> Relu (fused into one FusedConv by both engines' optimizers), then a named Add
    and an unnamed Neg."""
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Add", ["r", "r"], ["a"], name="add"),
        helper.make_node("Neg", ["a"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "profiled",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString(), {"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)}


def _profile(engine, options, data, feeds, runs):
    session = engine.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    start = session.get_profiling_start_time_ns()
    for _ in range(runs):
        session.run(None, feeds)
    path = session.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    return session, start, path, events


def test_profile_has_onnxruntimes_shape(tmp_path):
    data, feeds = _model()
    ours_options, theirs_options = sc.SessionOptions(), ort.SessionOptions()
    for options, name in ((ours_options, "ours"), (theirs_options, "theirs")):
        options.enable_profiling = True
        options.profile_file_prefix = str(tmp_path / name)
    # Without onnxruntime's layout rewrite (ORT_ENABLE_ALL's NCHWc Conv and Reorder nodes),
    # both engines run the same three nodes.
    theirs_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ours, start, path, events = _profile(sc, ours_options, data, feeds, 3)
    _, their_start, their_path, theirs = _profile(ort, theirs_options, data, feeds, 3)

    assert os.path.basename(path).startswith("ours_") and path.endswith(".json")
    # Epoch nanoseconds of the session's creation, as onnxruntime's.
    assert abs(start - their_start) < 60e9
    for e in events:
        assert set(e) == EVENT_KEYS and e["ph"] == "X" and e["pid"] == os.getpid()
        assert e["dur"] >= 0 and e["ts"] >= 0
    assert set(theirs[0]) == EVENT_KEYS

    def named(evs, cat):
        return [e for e in evs if e["cat"] == cat]

    ours_runs = [e for e in named(events, "Session") if e["name"] == "model_run"]
    theirs_runs = [e for e in named(theirs, "Session") if e["name"] == "model_run"]
    assert len(ours_runs) == len(theirs_runs) == 3
    assert [e["name"] for e in named(events, "Session")][0] == "session_initialization"

    # The executed nodes: Conv + Relu fused into one, then Add and Neg, in both engines.
    ours_nodes = named(events, "Node")
    assert len(ours_nodes) == 3 * 3
    assert [e["args"]["op_name"] for e in ours_nodes[:3]] == ["FusedConv", "Add", "Neg"]
    assert [e["name"] for e in ours_nodes[:3]] == ["conv_kernel_time", "add_kernel_time", "Neg_2_kernel_time"]
    assert {e["args"]["op_name"] for e in named(theirs, "Node")} == {"FusedConv", "Add", "Neg"}
    # Each node lies within its run.
    for run in ours_runs:
        inside = [n for n in ours_nodes if run["ts"] <= n["ts"] and n["ts"] + n["dur"] <= run["ts"] + run["dur"] + 1]
        assert len(inside) == 3


def test_profiling_off_and_after_the_end(tmp_path):
    data, feeds = _model()
    session = sc.InferenceSession(data)
    session.run(None, feeds)
    assert session.end_profiling() == ""
    assert session.get_profiling_start_time_ns() == 0
    options = sc.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "p")
    session = sc.InferenceSession(data, options)
    session.run(None, feeds)
    path = session.end_profiling()
    assert os.path.exists(path)
    # Profiling ended: nothing more is recorded or written, as onnxruntime.
    session.run(None, feeds)
    assert session.end_profiling() == ""
    assert session.get_profiling_start_time_ns() == 0


def test_profiling_concurrent_runs(tmp_path):
    data, feeds = _model()
    options = sc.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "c")
    session = sc.InferenceSession(data, options)
    threads = [threading.Thread(target=lambda: [session.run(None, feeds) for _ in range(5)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(session.end_profiling()) as f:
        events = json.load(f)
    assert sum(e["name"] == "model_run" for e in events) == 20
    assert sum(e["cat"] == "Node" for e in events) == 60


def test_profile_names_are_json_escaped(tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"], name='quote" back\\slash\nnewline')
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = sc.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "e")
    session = sc.InferenceSession(model.SerializeToString(), options)
    session.run(None, {"x": np.ones(2, np.float32)})
    with open(session.end_profiling()) as f:
        events = json.load(f)
    assert [e["name"] for e in events if e["cat"] == "Node"] == ['quote" back\\slash\nnewline_kernel_time']


def test_unwritable_profile_path_is_an_io_error(tmp_path):
    data, feeds = _model()
    options = sc.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "missing-dir" / "p")
    session = sc.InferenceSession(data, options)
    session.run(None, feeds)
    with pytest.raises(sc.SwiftconvIOError):
        session.end_profiling()
