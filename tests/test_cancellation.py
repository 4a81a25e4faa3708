"""Stopping a run and bounding its memory (issue 7).

``RunOptions.terminate`` set from another thread stops a run that would never end (a
Loop whose condition never turns false) within 2 s, with ``RunTerminated``, as
onnxruntime's ``RunOptions.terminate`` does; Ctrl-C (SIGINT) stops a long ``run`` on the
main thread with KeyboardInterrupt; ``SessionOptions.max_tensor_bytes``/``max_run_bytes``
turn a too-large allocation into ``ResourceExhausted`` before it happens.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftconv as sc


def endless_loop_model(trip_count=None):
    """y = a Loop adding 1 to x until its condition (always true) turns false: never."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    inits = [helper.make_tensor("cond", TensorProto.BOOL, [], [True])]
    if trip_count is not None:
        inits.append(helper.make_tensor("M", TensorProto.INT64, [], [trip_count]))
    loop = helper.make_node("Loop", ["M" if trip_count is not None else "", "cond", "x"], ["y"], body=body)
    graph = helper.make_graph(
        [loop],
        "endless",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def constant_of_shape_model(n):
    graph = helper.make_graph(
        [
            helper.make_node(
                "ConstantOfShape", ["shape"], ["y"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])
            )
        ],
        "big",
        [helper.make_tensor_value_info("shape", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


X = {"x": np.zeros(1, np.float32)}


@pytest.mark.parametrize("trip_count", [None, 2**62])
def test_terminate_from_another_thread_stops_an_endless_loop(trip_count):
    sess = sc.InferenceSession(endless_loop_model(trip_count).SerializeToString())
    ro = sc.RunOptions()
    outcome = {}

    def run():
        try:
            sess.run(None, X, ro)
            outcome["result"] = "returned"
        except BaseException as e:  # noqa: BLE001 - the test inspects whatever was raised
            outcome["error"] = e
        outcome["at"] = time.monotonic()

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)
    assert worker.is_alive(), f"the endless loop ended by itself: {outcome}"
    set_at = time.monotonic()
    ro.terminate = True
    worker.join(10)
    assert not worker.is_alive(), "the run did not stop within 10 s of terminate"
    assert isinstance(outcome.get("error"), sc.RunTerminated), outcome
    assert "terminate" in str(outcome["error"])
    assert outcome["at"] - set_at < 2.0
    # Like onnxruntime: the flag stays set (the next run fails at once) until cleared.
    with pytest.raises(sc.RunTerminated):
        sess.run(None, X, ro)


def test_terminate_set_before_run_fails_at_once_and_clearing_it_runs_again():
    sess = sc.InferenceSession(endless_loop_model(5).SerializeToString())
    ro = sc.RunOptions()
    ro.terminate = True
    assert ro.terminate is True
    start = time.monotonic()
    with pytest.raises(sc.RunTerminated):
        sess.run(None, X, ro)
    assert time.monotonic() - start < 1.0
    ro.terminate = False
    (y,) = sess.run(None, X, ro)
    expected = ort.InferenceSession(endless_loop_model(5).SerializeToString()).run(None, X)[0]
    np.testing.assert_array_equal(y, expected)


def test_terminate_stops_only_the_run_that_uses_those_options():
    sess = sc.InferenceSession(endless_loop_model().SerializeToString())
    finite = sc.InferenceSession(endless_loop_model(1000).SerializeToString())
    ro = sc.RunOptions()
    errors = []
    worker = threading.Thread(target=lambda: errors.append(pytest.raises(sc.RunTerminated, sess.run, None, X, ro)))
    worker.start()
    time.sleep(0.2)
    (y,) = finite.run(None, X)  # no options: unaffected by the endless run next to it
    np.testing.assert_array_equal(y, np.full(1, 1000, np.float32))
    ro.terminate = True
    worker.join(10)
    assert not worker.is_alive() and len(errors) == 1


def test_onnxruntime_run_options_are_accepted():
    sess = sc.InferenceSession(endless_loop_model(3).SerializeToString())
    ro = ort.RunOptions()
    np.testing.assert_array_equal(sess.run(None, X, ro)[0], np.full(1, 3, np.float32))
    ro.terminate = True
    with pytest.raises(sc.RunTerminated):
        sess.run(None, X, ro)


CTRL_C_CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import numpy as np
    import swiftconv as sc
    sys.path.insert(0, sys.argv[1])
    from test_cancellation import endless_loop_model
    sess = sc.InferenceSession(endless_loop_model().SerializeToString())
    sent = []
    def interrupt():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)
    threading.Timer(0.5, interrupt).start()
    try:
        sess.run(None, {"x": np.zeros(1, np.float32)})
    except KeyboardInterrupt:
        print("KeyboardInterrupt after %.3f s" % (time.monotonic() - sent[0]))
        sys.exit(0)
    print("run ended without KeyboardInterrupt")
    sys.exit(1)
    """
)


def test_ctrl_c_stops_a_run_on_the_main_thread():
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run(
        [sys.executable, "-c", CTRL_C_CHILD, here], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seconds = float(proc.stdout.split()[2])
    assert seconds < 2.0, proc.stdout


def test_after_ctrl_c_support_sigint_handling_is_restored():
    import signal

    before = signal.getsignal(signal.SIGINT)
    sess = sc.InferenceSession(endless_loop_model(3).SerializeToString())
    sess.run(None, X)
    assert signal.getsignal(signal.SIGINT) is before


def test_max_tensor_bytes_refuses_a_large_tensor_before_allocating():
    model = constant_of_shape_model(0).SerializeToString()
    options = sc.SessionOptions()
    options.max_tensor_bytes = 4000
    sess = sc.InferenceSession(model, options)
    (y,) = sess.run(None, {"shape": np.array([1000], np.int64)})  # 4,000 bytes: allowed
    np.testing.assert_array_equal(y, np.full(1000, 2.0, np.float32))
    with pytest.raises(sc.ResourceExhausted, match=r"ConstantOfShape.*4004 bytes.*4000"):
        sess.run(None, {"shape": np.array([1001], np.int64)})


def test_max_run_bytes_counts_what_a_run_holds_at_once():
    # y = x + x, z = y + y: three 1 MB tensors live at once at most (x is the caller's).
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"]), helper.make_node("Add", ["y", "y"], ["z"])],
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 18])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1 << 18])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    x = {"x": np.ones(1 << 18, np.float32)}
    options = sc.SessionOptions()
    options.max_run_bytes = (2 << 20) + 100
    np.testing.assert_array_equal(
        sc.InferenceSession(model, options).run(None, x)[0], np.full(1 << 18, 4.0, np.float32)
    )
    options.max_run_bytes = (2 << 20) - 100
    with pytest.raises(sc.ResourceExhausted, match="run's limit"):
        sc.InferenceSession(model, options).run(None, x)
    ro = sc.RunOptions()
    ro.max_run_bytes = 1 << 20
    with pytest.raises(sc.ResourceExhausted):
        sc.InferenceSession(model).run(None, x, ro)


def test_limits_are_checked_when_set():
    options = sc.SessionOptions()
    for bad in (-1, 1.5, "1", 1 << 63):
        with pytest.raises(sc.InvalidArgument):
            options.max_run_bytes = bad
    with pytest.raises(sc.InvalidArgument):
        sc.RunOptions().max_run_bytes = -5
