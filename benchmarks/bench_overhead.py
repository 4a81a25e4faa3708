"""The cost of a run beyond its arithmetic: swiftconv vs onnxruntime on graphs of tiny nodes.

    python benchmarks/bench_overhead.py               # 1 thread
    python benchmarks/bench_overhead.py --threads 2

Models: a single Identity (what one `sess.run` costs from Python with nothing to compute),
a chain of 200 alternating Add and Relu nodes on a [1, 64] tensor (the executor's cost per
node: dispatch, output allocation, value bookkeeping), and the real models made of many
small nodes (lstm_classifier_op13, transformer_encoder_op13). Both engines get the same
thread count and run interleaved (benchmarks/interleave.py); outputs are compared first.
Reported: median microseconds per run, p10-p90, the ratio swiftconv / onnxruntime and,
for the chain, the time per node.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import onnxruntime as ort  # noqa: E402
import real_models  # noqa: E402
from interleave import interleave, percentile_ms  # noqa: E402

import swiftconv as sc  # noqa: E402

CHAIN_NODES = 200


def identity_model() -> tuple[bytes, dict]:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString(), {"x": np.random.default_rng(0).normal(size=(1, 64)).astype(np.float32)}


def chain_model(nodes: int = CHAIN_NODES) -> tuple[bytes, dict]:
    """Add (of a constant) and Relu in turn: neither engine can fuse or fold them away at level 1."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    c = helper.make_tensor("c", TensorProto.FLOAT, [1, 64], np.full(64, 0.01, np.float32))
    body, prev = [], "x"
    for i in range(nodes):
        out = "y" if i == nodes - 1 else f"v{i}"
        if i % 2 == 0:
            body.append(helper.make_node("Add", [prev, "c"], [out]))
        else:
            body.append(helper.make_node("Relu", [prev], [out]))
        prev = out
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    g = helper.make_graph(body, "chain", [x], [y], initializer=[c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString(), {"x": np.random.default_rng(0).normal(size=(1, 64)).astype(np.float32)}


def real_model(name: str) -> tuple[bytes, dict]:
    return real_models.build(name), real_models.inputs(name)


def sessions(model: bytes, threads: int, basic: bool):
    so = sc.SessionOptions()
    so.intra_op_num_threads = threads
    oo = ort.SessionOptions()
    oo.intra_op_num_threads = threads
    oo.inter_op_num_threads = 1
    if basic:  # the chain keeps its nodes (no Add + Relu fusion, no folding of the whole chain)
        so.graph_optimization_level = sc.GraphOptimizationLevel.ORT_ENABLE_BASIC
        oo.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return sc.InferenceSession(model, so), ort.InferenceSession(model, oo, providers=["CPUExecutionProvider"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=300)
    p.add_argument(
        "--models", nargs="*", default=["identity", "chain", "lstm_classifier_op13", "transformer_encoder_op13"]
    )
    args = p.parse_args()
    print(f"{args.runs} runs, {args.threads} thread(s); microseconds per run, median (p10-p90)")
    print(f"{'model':28} {'swiftconv':>22} {'onnxruntime':>22} {'ratio':>6}")
    for name in args.models:
        model, feeds = {"identity": identity_model, "chain": chain_model}.get(name, lambda: real_model(name))()
        ours, theirs = sessions(model, args.threads, basic=name == "chain")
        a, b = ours.run(None, feeds), theirs.run(None, feeds)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
        for _ in range(20):
            ours.run(None, feeds)
            theirs.run(None, feeds)
        t = interleave(
            {"sc": lambda: ours.run(None, feeds), "ort": lambda: theirs.run(None, feeds)},
            args.runs,
            block=50,
            pause=0.05,
        )
        cells = []
        for k in ("sc", "ort"):
            med = statistics.median(t[k]) * 1e6
            cells.append(f"{med:8.1f} ({percentile_ms(t[k], 10) * 1e3:.0f}-{percentile_ms(t[k], 90) * 1e3:.0f})")
        ratio = statistics.median(t["sc"]) / statistics.median(t["ort"])
        extra = ""
        if name == "chain":
            per = (statistics.median(t["sc"]) - statistics.median(t["ort"])) / CHAIN_NODES * 1e9
            extra = f"  ({per:+.0f} ns/node vs onnxruntime)"
        print(f"{name:28} {cells[0]:>22} {cells[1]:>22} {ratio:6.2f}{extra}")


if __name__ == "__main__":
    main()
