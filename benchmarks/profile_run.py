"""Where the time of a whole run goes, per op type, in swiftconv and in onnxruntime side by side:
both engines' own profilers (`enable_profiling`), on the same model and feeds, in one process.

    python benchmarks/profile_run.py mobilenet_v2_op17 [--threads 1] [--runs 50] [--top 12]

Unlike `profile_ops.py` (each node alone), this is the nodes the engines execute in a real
run: after their graph rewrites (fused Conv + activation, onnxruntime's NCHWc Conv with its
Reorder nodes at ORT_ENABLE_ALL), with the caches and the other nodes of a run around them.
Node times are each engine's own per-node wall clock, summed per op type and divided by the
number of runs; the model_run medians are printed below the table. Both profilers add a few
microseconds per node, so the sums of small-node models read high for both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import onnxruntime as ort  # noqa: E402
from bench_models import _model  # noqa: E402

import swiftconv as sc  # noqa: E402


def profile(engine, model: bytes, feeds: dict, threads: int, runs: int, prefix: str) -> tuple[dict, list[float]]:
    """Per op type, microseconds per run; and the model_run durations in microseconds."""
    options = engine.SessionOptions()
    options.intra_op_num_threads = threads
    if engine is ort:
        options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = prefix
    session = engine.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    for _ in range(runs):
        session.run(None, feeds)
    path = session.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    per_op: dict[str, float] = defaultdict(float)
    run_times = [e["dur"] for e in events if e["cat"] == "Session" and e["name"] == "model_run"]
    for e in events:
        if e["cat"] == "Node":
            per_op[e["args"].get("op_name", "?")] += e["dur"] / max(1, len(run_times))
    return per_op, run_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    model, feeds = _model(args.model, 1)
    with tempfile.TemporaryDirectory() as tmp:
        # Warm both engines the same way: one profiled pass each, thrown away, then the measured ones.
        profile(sc, model, feeds, args.threads, 3, f"{tmp}/sc")
        profile(ort, model, feeds, args.threads, 3, f"{tmp}/ort")
        ours, our_runs = profile(sc, model, feeds, args.threads, args.runs, f"{tmp}/sc")
        theirs, their_runs = profile(ort, model, feeds, args.threads, args.runs, f"{tmp}/ort")
    ops = sorted(set(ours) | set(theirs), key=lambda op: -max(ours.get(op, 0), theirs.get(op, 0)))
    print(f"# {args.model}: per-node time of whole runs, {args.threads} thread(s), {args.runs} runs per engine")
    print("| op type | swiftconv us/run | onnxruntime us/run |")
    print("|---|---:|---:|")
    for op in ops[: args.top]:
        print(f"| {op} | {ours.get(op, 0):.0f} | {theirs.get(op, 0):.0f} |")
    print(f"| all nodes | {sum(ours.values()):.0f} | {sum(theirs.values()):.0f} |")
    print(
        f"model_run median: swiftconv {statistics.median(our_runs) / 1e3:.2f} ms, "
        f"onnxruntime {statistics.median(their_runs) / 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
