"""The command line (API.md section 6): `inspect` and `check`.

python -m pytest tests/test_cli.py -q
"""

import json
import os
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

TIMEOUT = 60


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "swiftconv", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _flatten(obj):
    """Every key and scalar value anywhere in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _flatten(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _flatten(v)
    else:
        yield obj


@pytest.fixture(scope="module")
def broken_model_path(tmp_path_factory) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="bad_add")],
        "broken",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    p = tmp_path_factory.mktemp("cli") / "broken.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(p))
    return p


def test_inspect_text(tiny_cnn_path):
    proc = _run("inspect", str(tiny_cnn_path))
    assert proc.returncode == 0, proc.stderr
    model = onnx.load(str(tiny_cnn_path))
    for node in model.graph.node:
        assert node.op_type in proc.stdout
    assert "input" in proc.stdout and "probabilities" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_inspect_json_matches_onnx(tiny_cnn_path):
    proc = _run("inspect", str(tiny_cnn_path), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is exactly one JSON document
    assert isinstance(doc, dict)
    model = onnx.load(str(tiny_cnn_path))
    items = list(_flatten(doc))
    # The schema is the CLI's own; check it carries the facts onnx reads.
    for vi in (*model.graph.input, *model.graph.output):
        assert vi.name in items, vi.name
    for op in Counter(n.op_type for n in model.graph.node):
        assert op in items, op
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert params in items, f"parameter count {params} not found in {doc}"
    assert "batch" in items  # the symbolic batch dim survives
    assert 17 in items  # the default-domain opset


def test_inspect_json_is_valid_for_mlp(mnist_mlp_path):
    proc = _run("inspect", str(mnist_mlp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    items = list(_flatten(json.loads(proc.stdout)))
    assert "input" in items and "probabilities" in items and "Gemm" in items


def test_check_good_model(tiny_cnn_path):
    proc = _run("check", str(tiny_cnn_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_broken_model(broken_model_path):
    proc = _run("check", str(broken_model_path))
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "bad_add" in out
    assert "Traceback" not in proc.stderr


def test_check_unparsable_file(tmp_path):
    p = tmp_path / "garbage.onnx"
    p.write_bytes(b"\x0a\xff\xff\xff\xff\x0f" + b"\x00" * 10)
    proc = _run("check", str(p))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


def test_missing_file_fails_cleanly(tmp_path):
    proc = _run("inspect", str(tmp_path / "nope.onnx"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


def test_console_script(tiny_cnn_path, broken_model_path):
    # `pip install` puts a `swiftconv` entry point next to the interpreter.
    exe = Path(sysconfig.get_path("scripts")) / "swiftconv"
    assert exe.exists(), f"{exe} not installed (console_scripts entry point missing?)"
    good = subprocess.run([str(exe), "check", str(tiny_cnn_path)], capture_output=True, text=True, timeout=TIMEOUT)
    assert good.returncode == 0, good.stderr
    bad = subprocess.run([str(exe), "check", str(broken_model_path)], capture_output=True, text=True, timeout=TIMEOUT)
    assert bad.returncode != 0


def _small_cnn(tmp_path, channels=4):
    """A Conv + Relu + GlobalAveragePool + Gemm model with a dynamic batch, and one input."""
    rng = np.random.default_rng(0)
    w = helper.make_tensor(
        "w", TensorProto.FLOAT, [channels, 3, 3, 3], rng.standard_normal(channels * 27).astype(np.float32).tolist()
    )
    fc = helper.make_tensor(
        "fc", TensorProto.FLOAT, [channels, 2], rng.standard_normal(channels * 2).astype(np.float32).tolist()
    )
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("GlobalAveragePool", ["r"], ["g"]),
            helper.make_node("Flatten", ["g"], ["f"]),
            helper.make_node("Gemm", ["f", "fc"], ["y"]),
        ],
        "small_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [w, fc],
    )
    path = tmp_path / "small.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_convert_run_and_bench(tmp_path):
    source = _small_cnn(tmp_path)
    out = tmp_path / "small.tflite"
    proc = _run("convert", str(source), str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and out.read_bytes()[4:8] == b"TFL3"
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    results = tmp_path / "results"
    proc = _run("run", str(out), "--input", f"x={tmp_path / 'x.npy'}", "--output", str(results))
    assert proc.returncode == 0, proc.stderr
    ort = pytest.importorskip("onnxruntime")
    want = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(np.load(results / "y.npy"), want, atol=1e-5)
    assert "y: float32 [1, 2]" in proc.stdout
    proc = _run("bench", str(out), "--runs", "3", "--warmup", "1", "--compare", "litert")
    assert proc.returncode == 0, proc.stderr
    assert "swiftconv / litert median" in proc.stdout


def test_convert_usage_errors(tmp_path):
    source = _small_cnn(tmp_path)
    proc = _run("convert", str(source), str(tmp_path / "out.txt"))
    assert proc.returncode == 2 and "cannot tell the target format" in proc.stderr
    proc = _run("convert", str(source), str(tmp_path / "out.tflite"), "--quantize", "int8")
    assert proc.returncode == 2 and "--calib" in proc.stderr
    proc = _run("run", str(source), "--input", "nope=x.npy")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.tflite").exists()


def test_convert_failure_leaves_no_file(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Det", ["x"], ["y"], name="the_det")],
        "det",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    source = tmp_path / "det.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(source))
    out = tmp_path / "det.tflite"
    proc = _run("convert", str(source), str(out))
    assert proc.returncode == 1
    assert "ConversionError" in proc.stderr and "the_det" in proc.stderr
    assert not out.exists()


def test_convert_verify_reports_and_fails_with_status_2(tmp_path):
    # 64 filters: 1728 weights, past the 1024 below which 'dynamic' leaves weights float.
    source = _small_cnn(tmp_path, channels=64)
    proc = _run("convert", str(source), str(tmp_path / "float.tflite"), "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "y" in proc.stdout and "cosine" in proc.stdout.lower()
    # int8 weights under float activations (hybrid ops) move the outputs past verify's float
    # tolerance, and nothing in the file says by how much they may (no quantized outputs).
    out = tmp_path / "dynamic.tflite"
    proc = _run("convert", str(source), str(out), "--quantize", "dynamic", "--verify")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "y" in proc.stdout and "FAIL" in proc.stdout.upper()
    assert out.exists()  # the conversion itself succeeded; only the check failed
