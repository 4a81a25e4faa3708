"""Where the time goes, per op type: every node of a model timed alone in swiftconv and in
onnxruntime. For where the time goes inside a whole run, both engines' `enable_profiling`
profiles (`end_profiling()`) give per-node times in the same format.

    python benchmarks/profile_ops.py efficientnet_b0_op17 [--threads 1] [--runs 20] [--top 8] [--by-shape]

For each node of the model (a real model of `tests/real_models.py` or an op-mix model of
`benchmarks/op_mix_models.py`), a one-node ONNX model is cut out with the node's
initializers and fed the node's real inputs (the intermediate values onnxruntime computes
for the bench's batch-1 feeds). Both engines run it `--runs` times, interleaved one run
each, after two warm-up runs; the median is taken and the cost of a run of a trivial
Identity model (the Python call and session overhead, measured the same way) is
subtracted. The table sums those per op type; `--by-shape` adds a second table that
groups the Conv nodes by shape (kernel, stride, group, channels in -> out, input map),
since one Conv op type hides very different kernels (1x1, depthwise, full 3x3).

This is a diagnostic, not a latency: a node alone cannot be fused with its neighbours
(Conv + activation, attention or GELU patterns) or share its thread pool's warm state, so
the sums differ from the whole-model time that `bench_models.py` measures; the
whole-model medians are printed below the table for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import onnxruntime as ort  # noqa: E402
from bench_models import _model  # noqa: E402

import swiftconv as sc  # noqa: E402


def _sessions(model: bytes, threads: int):
    so = sc.SessionOptions()
    so.intra_op_num_threads = threads
    oo = ort.SessionOptions()
    oo.intra_op_num_threads = threads
    oo.inter_op_num_threads = 1
    return sc.InferenceSession(model, so), ort.InferenceSession(model, oo, providers=["CPUExecutionProvider"])


def _median_pair(ours, theirs, feeds: dict, runs: int) -> tuple[float, float]:
    """Median seconds of one run of each engine, alternating run by run."""
    for _ in range(2):
        ours.run(None, feeds)
        theirs.run(None, feeds)
    a, b = [], []
    for _ in range(runs):
        t = time.perf_counter()
        ours.run(None, feeds)
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        theirs.run(None, feeds)
        b.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def _intermediates(model: onnx.ModelProto, feeds: dict) -> dict[str, np.ndarray]:
    """Every value of the graph for `feeds`, by onnxruntime with all node outputs exposed."""
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name for v in inferred.graph.output}
    probe = onnx.ModelProto()
    probe.CopyFrom(inferred)
    for v in inferred.graph.value_info:
        if v.name not in known:
            probe.graph.output.append(v)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(None, feeds)))
    values.update(feeds)
    return values


def _one_node(model: onnx.ModelProto, node: onnx.NodeProto, values: dict) -> tuple[bytes, dict]:
    inits = {i.name: i for i in model.graph.initializer}
    graph_inputs, feeds, used = [], {}, []
    for name in node.input:
        if not name or name in feeds or any(u.name == name for u in used):
            continue
        if name in inits:
            used.append(inits[name])
        else:
            array = values[name]
            feeds[name] = array
            graph_inputs.append(
                helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)
            )
    outputs = [
        helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(values[o].dtype), values[o].shape)
        for o in node.output
        if o
    ]
    graph = helper.make_graph([node], "one_node", graph_inputs, outputs, used)
    one = helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    return one.SerializeToString(), feeds


def _conv_shape(model: onnx.ModelProto, node: onnx.NodeProto, values: dict) -> str:
    """A Conv node's kernel, stride, group, channels and input map, e.g. `dw 3x3/2 96ch 28x28`."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    inits = {i.name: i for i in model.graph.initializer}
    w = inits[node.input[1]].dims if node.input[1] in inits else values[node.input[1]].shape
    x = values[node.input[0]].shape
    group = attrs.get("group", 1)
    kernel = "x".join(str(d) for d in w[2:])
    stride = max(attrs.get("strides", [1]))
    dilated = "d" if max(attrs.get("dilations", [1])) > 1 else ""
    c_in, c_out = x[1], w[0]
    kind = "dw" if group == c_in and group == c_out and group > 1 else ("conv" if group == 1 else f"g{group}")
    return f"{kind} {kernel}/{stride}{dilated} {c_in}->{c_out} {'x'.join(str(d) for d in x[2:])}"


def _baseline(threads: int, runs: int) -> tuple[float, float]:
    x = np.zeros((1,), np.float32)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    ours, theirs = _sessions(model.SerializeToString(), threads)
    return _median_pair(ours, theirs, {"x": x}, max(runs, 50))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=10, help="op types shown (by swiftconv time)")
    parser.add_argument("--by-shape", action="store_true", help="also a table of the Conv nodes by shape")
    args = parser.parse_args()

    data, feeds = _model(args.model, 1)
    model = onnx.load_from_string(data)
    values = _intermediates(model, feeds)
    base_sc, base_ort = _baseline(args.threads, args.runs)
    per_type: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    per_shape: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for node in model.graph.node:
        if node.op_type == "Constant":
            continue
        one, one_feeds = _one_node(model, node, values)
        ours, theirs = _sessions(one, args.threads)
        t_sc, t_ort = _median_pair(ours, theirs, one_feeds, args.runs)
        row = per_type[node.op_type]
        row[0] += max(t_sc - base_sc, 0.0)
        row[1] += max(t_ort - base_ort, 0.0)
        row[2] += 1
        if args.by_shape and node.op_type in ("Conv", "FusedConv"):
            shaped = per_shape[_conv_shape(model, node, values)]
            shaped[0] += max(t_sc - base_sc, 0.0)
            shaped[1] += max(t_ort - base_ort, 0.0)
            shaped[2] += 1
    total_sc = sum(r[0] for r in per_type.values())
    total_ort = sum(r[1] for r in per_type.values())
    print(
        f"# {args.model}: nodes timed alone, {args.threads} thread(s), median of {args.runs} runs, "
        f"minus an Identity run (swiftconv {base_sc * 1e6:.0f} us, onnxruntime {base_ort * 1e6:.0f} us)"
    )
    print(
        "| op type | nodes | swiftconv ms | onnxruntime ms | ratio | share of swiftconv | swiftconv - onnxruntime ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for op, (a, b, n) in sorted(per_type.items(), key=lambda kv: -kv[1][0])[: args.top]:
        ratio = f"{a / b:.2f}" if b > 0 else "-"
        print(f"| {op} | {n} | {a * 1e3:.2f} | {b * 1e3:.2f} | {ratio} | {a / total_sc:.0%} | {(a - b) * 1e3:+.2f} |")
    print(
        f"| all | {sum(r[2] for r in per_type.values())} | {total_sc * 1e3:.2f} | {total_ort * 1e3:.2f} | "
        f"{total_sc / total_ort:.2f} | 100% | {(total_sc - total_ort) * 1e3:+.2f} |"
    )
    if args.by_shape and per_shape:
        conv_sc = sum(r[0] for r in per_shape.values())
        print()
        print(
            "| Conv shape (kind k/stride in->out map) | nodes | swiftconv ms | onnxruntime ms | ratio | share of Conv | gap ms |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for shape, (a, b, n) in sorted(per_shape.items(), key=lambda kv: -(kv[1][0] - kv[1][1])):
            ratio = f"{a / b:.2f}" if b > 0 else "-"
            print(
                f"| {shape} | {n} | {a * 1e3:.3f} | {b * 1e3:.3f} | {ratio} | {a / conv_sc:.0%} | {(a - b) * 1e3:+.3f} |"
            )
    whole = _median_pair(*_sessions(data, args.threads), feeds, args.runs)
    print(f"whole model: swiftconv {whole[0] * 1e3:.2f} ms, onnxruntime {whole[1] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
