"""TFLite inference latency: sc.Interpreter vs LiteRT on the committed fixtures, side by side.

    python benchmarks/bench_tflite.py               # table on stdout (1 and 2 threads)
    python benchmarks/bench_tflite.py --markdown    # markdown table for docs/PERF.md

The models are the fixtures of tests/fixtures/tflite/ (made by TensorFlow's TFLiteConverter,
see its README) in their float32 and int8 variants. For each model and thread count both
interpreters are created in this process with the same `num_threads`: swiftconv's
`sc.Interpreter` and `ai_edge_litert.interpreter.Interpreter` with its default kernels
(XNNPACK for float) — plus, with `--reference`, LiteRT's reference kernels (BUILTIN_REF),
the ones our integer kernels match bit for bit. After warm-up, batch-1 invokes alternate
between the engines in short blocks (benchmarks/interleave.py). Reported: the median latency
with p10/p90 of each, the ratio swiftconv / LiteRT default (below 1: swiftconv faster), and
the largest output difference (in quantization steps for int8 outputs). Outputs are checked
first; past `--max-error` (float) or `--max-steps` (int8) nothing is timed and the script
exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from ai_edge_litert import interpreter as litert  # noqa: E402
from interleave import cpu_name, interleave, summary  # noqa: E402

import swiftconv as sc  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "tflite"
DEFAULT_MODELS = ("cnn", "mobilenetv2", "lstm_tfkeras", "lstm_keras3", "transformer")
VARIANTS = ("float32", "int8")


class WrongOutput(Exception):
    """swiftconv's outputs differ from LiteRT's by more than the limit."""


def _inputs(path: Path) -> list[np.ndarray]:
    data = np.load(path.with_suffix(".npz"))
    count = sum(1 for key in data.files if key.startswith("input_") and key[6:].isdigit())  # not input_names
    return [data[f"input_{k}"] for k in range(count)]


class _Runner:
    """One interpreter with its inputs set, ready to invoke; `outputs()` after a run."""

    def __init__(self, it, inputs: list[np.ndarray]):
        self.it = it
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), inputs):
            it.set_tensor(d["index"], x)
        self.invoke = it.invoke

    def outputs(self) -> list[np.ndarray]:
        return [self.it.get_tensor(d["index"]) for d in self.it.get_output_details()]


def _difference(got: np.ndarray, want: np.ndarray) -> float:
    """Max abs difference (float) or in quantization steps (integer outputs)."""
    if got.shape != want.shape or got.dtype != want.dtype:
        raise WrongOutput(f"output {got.dtype}{got.shape} vs LiteRT's {want.dtype}{want.shape}")
    return float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0.0))


def bench(path: Path, threads: int, args) -> dict:
    inputs = _inputs(path)
    content = path.read_bytes()
    runners = {
        "swiftconv": _Runner(sc.Interpreter(model_content=content, num_threads=threads), inputs),
        "litert": _Runner(litert.Interpreter(model_content=content, num_threads=threads), inputs),
    }
    if args.reference:
        ref = litert.Interpreter(
            model_content=content,
            num_threads=threads,
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
        )
        runners["litert_ref"] = _Runner(ref, inputs)
    for r in runners.values():
        r.invoke()
    got, want = runners["swiftconv"].outputs(), runners["litert"].outputs()
    integer = all(w.dtype.kind in "iu" for w in want)
    diff = max(_difference(g, w) for g, w in zip(got, want))
    limit = args.max_steps if integer else args.max_error
    if not diff <= limit:
        raise WrongOutput(f"{path.name}: max |swiftconv - LiteRT| = {diff:.3g}, above the limit {limit:g}")
    for _ in range(args.warmup):
        for r in runners.values():
            r.invoke()
    times = interleave({k: r.invoke for k, r in runners.items()}, args.runs, args.block, args.settle, args.pause)
    result = {"model": path.stem, "threads": threads, "max_diff": diff, "integer": integer}
    for label, t in times.items():
        for key, value in summary(t).items():
            result[f"{label}_{key}"] = value
    result["ratio"] = result["swiftconv_ms"] / result["litert_ms"]
    return result


def _spread(r: dict, engine: str) -> str:
    return f"{r[engine + '_ms']:.2f} ({r[engine + '_p10_ms']:.2f}-{r[engine + '_p90_ms']:.2f})"


def _machine() -> str:
    import ai_edge_litert

    version = getattr(ai_edge_litert, "__version__", "?")
    return f"{cpu_name()}; swiftconv {sc.__version__}, ai-edge-litert {version}, numpy {np.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS), help="fixture model names")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--runs", type=int, default=30, help="measured runs per engine, model and thread count")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--settle", type=int, default=2)
    parser.add_argument("--pause", type=float, default=0.2)
    parser.add_argument("--reference", action="store_true", help="also time LiteRT's reference kernels")
    parser.add_argument("--max-error", type=float, default=1e-4, help="float outputs: largest abs difference")
    parser.add_argument("--max-steps", type=float, default=8, help="int8 outputs: largest difference in steps")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2")

    results = []
    for name in args.models:
        for variant in args.variants:
            path = FIXTURES / f"{name}_{variant}.tflite"
            if not path.exists():
                # Not every model has every variant (lstm_keras3 has no int8 fixture).
                print(f"{name}_{variant}: no fixture, skipped", file=sys.stderr)
                continue
            for threads in args.threads:
                try:
                    r = bench(path, threads, args)
                except WrongOutput as e:
                    sys.exit(f"wrong output, not timed: {e}")
                except sc.UnsupportedOp as e:
                    # Reported, not fatal: the other models are still measured.
                    print(f"{name}_{variant}: unsupported by swiftconv, skipped: {e}", file=sys.stderr)
                    break
                results.append(r)
                if not (args.markdown or args.json):
                    ref = f"   LiteRT ref {_spread(r, 'litert_ref'):>22s}" if args.reference else ""
                    print(
                        f"{r['model']:24s} {threads}t  swiftconv {_spread(r, 'swiftconv'):>22s} ms"
                        f"   LiteRT {_spread(r, 'litert'):>22s} ms{ref}   ratio {r['ratio']:5.2f}"
                        f"   max diff {r['max_diff']:.1e}",
                        flush=True,
                    )
    if args.json:
        print(json.dumps({"machine": _machine(), "runs": args.runs, "results": results}, indent=1))
    elif args.markdown:
        print(
            f"<!-- {time.strftime('%Y-%m-%d')}: {_machine()}; batch 1, median of {args.runs} runs "
            f"interleaved in blocks of {args.block} -->"
        )
        ref_head = " LiteRT reference ms |" if args.reference else ""
        print(
            f"| model | threads | swiftconv ms, median (p10-p90) | LiteRT ms (XNNPACK) |{ref_head} ratio | max diff |"
        )
        print("|---|---:|---:|---:|" + ("---:|" if args.reference else "") + "---:|---:|")
        for r in results:
            ref = f" {_spread(r, 'litert_ref')} |" if args.reference else ""
            unit = " steps" if r["integer"] else ""
            print(
                f"| {r['model']} | {r['threads']} | {_spread(r, 'swiftconv')} | {_spread(r, 'litert')} |{ref} "
                f"{r['ratio']:.2f} | {r['max_diff']:.1e}{unit} |"
            )
    else:
        print(f"# {_machine()}; batch 1, median of {args.runs} runs interleaved in blocks of {args.block}")


if __name__ == "__main__":
    main()
