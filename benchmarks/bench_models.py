"""Inference latency on the real models: swiftconv vs onnxruntime, side by side.

    python benchmarks/bench_models.py              # tables on stdout, 1 and 2 threads
    python benchmarks/bench_models.py --markdown   # markdown tables for docs/PERF.md

The models are the torch exports of `tests/test_real_models.py` (weights refilled from a
fixed seed by `tests/real_models.py`), the op-mix models of `benchmarks/op_mix_models.py`
when `benchmarks/export_op_mix_models.py` has made them, and resnet18 at batch 32 for
throughput (`NAME@BATCH`). For each model and thread count (`--threads`, default 1 and 2),
both engines get a session with that many intra-op threads and full graph optimization;
after warm-up, runs alternate between the two engines in short blocks (10 swiftconv runs,
10 onnxruntime runs, ...) so that both see the same machine state. Each block starts after 0.2 s idle and two uncounted
runs, because each engine's idle worker threads spin for a while after a run
(onnxruntime's for tens of milliseconds) and would take a core from the other's next runs.
Reported: median latency of each with its 10th and 90th percentiles, and the ratio of the
medians swiftconv / onnxruntime (below 1 means swiftconv is faster). Outputs are checked
against each other first: past `--max-error` (the real-model suite's 1e-4) nothing is
timed and the script exits with status 1, so a fast wrong answer cannot pass. See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import onnxruntime as ort  # noqa: E402
import op_mix_models  # noqa: E402
import real_models  # noqa: E402
from interleave import cpu_name, interleave, percentile_ms  # noqa: E402

import swiftconv as sc  # noqa: E402


def _sessions(model: bytes, threads: int):
    sc_options = sc.SessionOptions()
    sc_options.intra_op_num_threads = threads
    ort_options = ort.SessionOptions()
    ort_options.intra_op_num_threads = threads
    ort_options.inter_op_num_threads = 1
    return (
        sc.InferenceSession(model, sc_options),
        ort.InferenceSession(model, ort_options, providers=["CPUExecutionProvider"]),
    )


class WrongOutput(Exception):
    """swiftconv's outputs differ from onnxruntime's by more than the limit."""


THROUGHPUT = "resnet18_op17_dynbatch@32"  # the batch row of the default list


def _parse(entry: str) -> tuple[str, int]:
    """`NAME` (batch 1) or `NAME@BATCH`."""
    name, _, batch = entry.partition("@")
    return name, int(batch) if batch else 1


def _model(name: str, batch: int) -> tuple[bytes, dict]:
    """The model's ONNX bytes and feeds: a real model, else an op-mix model from the cache."""
    if name in real_models.names():
        model, feeds = real_models.build(name), real_models.inputs(name, batch)
    elif name in op_mix_models.MODELS:
        model, feeds = op_mix_models.build(name), op_mix_models.inputs(name, batch)
    else:
        raise KeyError(
            f"unknown model {name!r}: real models {real_models.names()}, op-mix models {op_mix_models.names()}"
        )
    if any(f.shape[0] != batch for f in feeds.values()):
        raise ValueError(f"{name} has a fixed batch size, not {batch}: use a model with a dynamic batch axis")
    return model, feeds


def default_models() -> list[str]:
    """The real models, the op-mix models already exported (a note on stderr for the others)
    and the batch-32 throughput row."""
    missing = [n for n in op_mix_models.names() if n not in op_mix_models.available()]
    if missing:
        print(
            f"note: op-mix models {missing} not found in {op_mix_models.CACHE}; {op_mix_models.HOW_TO_MAKE}",
            file=sys.stderr,
        )
    return real_models.names() + op_mix_models.available() + [THROUGHPUT]


def bench(
    entry: str,
    threads: int,
    runs: int,
    warmup: int,
    block: int = 10,
    settle: int = 2,
    pause: float = 0.2,
    max_error: float = 1e-4,
    clock=time.perf_counter,
) -> dict:
    name, batch = _parse(entry)
    model, feeds = _model(name, batch)
    ours, theirs = _sessions(model, threads)
    got, want = ours.run(None, feeds), theirs.run(None, feeds)
    if len(got) != len(want) or any(g.shape != w.shape or g.dtype != w.dtype for g, w in zip(got, want)):
        raise WrongOutput(
            f"{name}: outputs {[(g.dtype, g.shape) for g in got]} vs {[(w.dtype, w.shape) for w in want]}"
        )
    error = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    if not error <= max_error:
        raise WrongOutput(f"{name}: max |swiftconv - onnxruntime| = {error:.3g}, above the limit {max_error:g}")
    for _ in range(warmup):
        ours.run(None, feeds)
        theirs.run(None, feeds)
    times = interleave(
        {"swiftconv": lambda: ours.run(None, feeds), "onnxruntime": lambda: theirs.run(None, feeds)},
        runs,
        block,
        settle,
        pause,
        clock,
    )
    sc_ms = statistics.median(times["swiftconv"]) * 1e3
    ort_ms = statistics.median(times["onnxruntime"]) * 1e3
    return {
        "model": name,
        "threads": threads,
        "batch": batch,
        "swiftconv_ms": sc_ms,
        "onnxruntime_ms": ort_ms,
        "ratio": sc_ms / ort_ms,
        "swiftconv_per_s": batch / (sc_ms / 1e3),
        "onnxruntime_per_s": batch / (ort_ms / 1e3),
        "max_abs_error": error,
        "swiftconv_p10_ms": percentile_ms(times["swiftconv"], 10),
        "swiftconv_p90_ms": percentile_ms(times["swiftconv"], 90),
        "onnxruntime_p10_ms": percentile_ms(times["onnxruntime"], 10),
        "onnxruntime_p90_ms": percentile_ms(times["onnxruntime"], 90),
    }


def _spread(r: dict, engine: str) -> str:
    """ "median (p10-p90)" of one engine, in milliseconds."""
    return f"{r[engine + '_ms']:.2f} ({r[engine + '_p10_ms']:.2f}-{r[engine + '_p90_ms']:.2f})"


def _machine() -> str:
    return f"{cpu_name()}; swiftconv {sc.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}"


def _latency_table(results: list[dict], threads: int, runs: int, block: int) -> list[str]:
    lines = [
        f"<!-- {time.strftime('%Y-%m-%d')}: {_machine()}; {threads} threads, batch 1, median of {runs} runs interleaved in blocks of {block} -->",
        "| model | swiftconv ms, median (p10-p90) | onnxruntime ms, median (p10-p90) | ratio | max abs diff |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {_spread(r, 'swiftconv')} | {_spread(r, 'onnxruntime')} | {r['ratio']:.2f} "
            f"| {r['max_abs_error']:.1e} |"
        )
    return lines


def _throughput_table(results: list[dict], runs: int, block: int) -> list[str]:
    lines = [
        f"<!-- {time.strftime('%Y-%m-%d')}: {_machine()}; median of {runs} runs interleaved in blocks of {block} -->",
        "| model | batch | threads | swiftconv ms, median (p10-p90) | onnxruntime ms, median (p10-p90) "
        "| swiftconv images/s | onnxruntime images/s | ratio | max abs diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['threads']} | {_spread(r, 'swiftconv')} | {_spread(r, 'onnxruntime')} "
            f"| {r['swiftconv_per_s']:.1f} | {r['onnxruntime_per_s']:.1f} | {r['ratio']:.2f} | {r['max_abs_error']:.1e} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="*",
        default=None,
        help="model names, NAME@BATCH for a batch other than 1 "
        f"(default: the real models, the exported op-mix models and {THROUGHPUT})",
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="intra-op thread counts (default: 1 2)")
    parser.add_argument("--runs", type=int, default=50, help="measured runs per engine, model and thread count")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--block", type=int, default=10, help="measured runs per engine before switching")
    parser.add_argument("--settle", type=int, default=2, help="uncounted runs at the start of each block")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds of idle before each block")
    parser.add_argument(
        "--max-error",
        type=float,
        default=1e-4,
        help="largest allowed |swiftconv - onnxruntime| of any output; past it, exit with status 1",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time each run by the calling thread's CPU time (one thread only: both engines then "
        "compute on the calling thread), which other jobs on a shared machine disturb less",
    )
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    if args.cpu_time and args.threads != [1]:
        parser.error("--cpu-time needs --threads 1 (other threads' work would not be counted)")
    clock = time.thread_time if args.cpu_time else time.perf_counter
    if args.runs < 2:
        parser.error("--runs must be at least 2 (the spread needs two runs)")
    entries = args.models or default_models()
    for entry in entries:
        name, batch = _parse(entry)
        if name in op_mix_models.MODELS and name not in op_mix_models.available():
            sys.exit(f"op-mix model {name!r} is not in {op_mix_models.CACHE}: {op_mix_models.HOW_TO_MAKE}")
        if name not in real_models.names() and name not in op_mix_models.MODELS:
            parser.error(f"unknown model {name!r}")
        if batch < 1:
            parser.error(f"{entry}: batch must be at least 1")
    results = []
    for threads in args.threads:
        for entry in entries:
            try:
                results.append(
                    bench(
                        entry,
                        threads,
                        args.runs,
                        args.warmup,
                        args.block,
                        args.settle,
                        args.pause,
                        args.max_error,
                        clock,
                    )
                )
            except WrongOutput as e:
                sys.exit(f"wrong output, not timed: {e}")
            except ValueError as e:
                sys.exit(f"not timed: {e}")
            # one line per row as it comes: on stdout, or on stderr beside --markdown/--json
            r = results[-1]
            label = f"{r['model']}" + (f"@{r['batch']}" if r["batch"] != 1 else "")
            rate = f"   images/s {r['swiftconv_per_s']:.1f} vs {r['onnxruntime_per_s']:.1f}" if r["batch"] != 1 else ""
            print(
                f"{label:28s} {threads}T swiftconv {_spread(r, 'swiftconv'):>24s} ms   onnxruntime {_spread(r, 'onnxruntime'):>24s} ms"
                f"   ratio {r['ratio']:5.2f}   max|diff| {r['max_abs_error']:.1e}{rate}",
                file=sys.stderr if (args.markdown or args.json) else sys.stdout,
                flush=True,
            )
    if args.json:
        print(
            json.dumps(
                {"machine": _machine(), "threads": args.threads, "runs": args.runs, "results": results}, indent=1
            )
        )
    elif args.markdown:
        for threads in args.threads:
            rows = [r for r in results if r["threads"] == threads and r["batch"] == 1]
            if rows:
                print(f"\n{threads} thread{'s' if threads != 1 else ''}, batch 1:\n")
                print("\n".join(_latency_table(rows, threads, args.runs, args.block)))
        rows = [r for r in results if r["batch"] != 1]
        if rows:
            print("\nThroughput:\n")
            print("\n".join(_throughput_table(rows, args.runs, args.block)))
    else:
        print(
            f"# {_machine()}; threads {args.threads}, median of {args.runs} runs interleaved in blocks of {args.block}"
        )


if __name__ == "__main__":
    main()
