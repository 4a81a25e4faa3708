"""Load-time, memory and import-time benchmark: swiftconv vs onnx / onnxruntime.

    python benchmarks/bench_load.py              # table on stdout
    python benchmarks/bench_load.py --markdown   # the same as a markdown table for docs/PERF.md

Builds (once) a ~200 MB ONNX MLP with float32 initializers in raw_data under
benchmarks/.cache/, then, each in a fresh subprocess:
  * sc.load(path) vs onnx.load(path): wall time of the call (median of N runs)
    and peak RSS growth (the child's peak RSS after the load minus its peak
    after the imports; VmHWM on Linux, which unlike ru_maxrss is not inherited
    across exec, else ru_maxrss);
  * the same plus getting every initializer as a numpy array and reading one
    byte of each 4 KiB page (so a lazy, memory-mapped load pays for its reads);
  * `python -c "import swiftconv"` vs `python -c "import onnxruntime"`: wall time
    of the whole process (median of N) minus that of `python -c pass`.
One unmeasured warm-up run precedes each series, so files are in the page cache.
See benchmarks/README.md and docs/PERF.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / ".cache"
MODEL_VERSION = 1  # bump when the generated model changes

# Runs in the child: import the library, note the baseline, time one load.
LOAD_CHILD = r"""
import json, resource, sys, time

def peak_kb():
    # VmHWM is the peak RSS of this process image. ru_maxrss would do, except that
    # Linux carries it over execve from the parent, which may be bigger than us.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

lib, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
import numpy as np
if lib == "swiftconv":
    import swiftconv

    def run():
        m = swiftconv.load(path)
        if mode == "weights":
            return m, [m.get_initializer(n) for n in m.initializer_names]
        return m, []
else:
    import onnx
    from onnx import numpy_helper

    def run():
        m = onnx.load(path)
        if mode == "weights":
            return m, [numpy_helper.to_array(t) for t in m.graph.initializer]
        return m, []
base = peak_kb()
t0 = time.perf_counter()
model, arrays = run()
# Touch one byte per page so lazily mapped weights are really read.
touched = sum(int(a.reshape(-1).view(np.uint8)[::4096].sum()) for a in arrays)
t1 = time.perf_counter()
peak = peak_kb()
print(json.dumps({"seconds": t1 - t0, "base_kb": base, "peak_kb": peak, "arrays": len(arrays), "touched": touched}))
"""


def build_model(path: Path, size_mb: int, layers: int = 4) -> None:
    """An MLP of `layers` square Gemm layers holding ~size_mb MB of float32 weights."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    width = int((size_mb * 1e6 / 4 / layers) ** 0.5)
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "input"
    for i in range(layers):
        w = rng.standard_normal((width, width), dtype=np.float32) * np.float32(width**-0.5)
        inits.append(numpy_helper.from_array(w, f"fc{i}.weight"))
        inits.append(numpy_helper.from_array(np.zeros(width, np.float32), f"fc{i}.bias"))
        y = f"fc{i}" if i < layers - 1 else "output"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [y], name=f"fc{i}"))
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"], name=f"relu{i}"))
            y = f"relu{i}"
        x = y
    graph = helper.make_graph(
        nodes,
        "bench_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", width])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(model.SerializeToString())
    os.replace(tmp, path)


def cached_model(cache: Path, size_mb: int) -> Path:
    path = cache / f"mlp_{size_mb}mb_v{MODEL_VERSION}.onnx"
    if not path.exists():
        print(f"building {path} ...", file=sys.stderr)
        build_model(path, size_mb)
    return path


def run_load(lib: str, path: Path, mode: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, lib, str(path), mode],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_wall(code: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    t1 = time.perf_counter()
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    return t1 - t0


def bench_load(path: Path, repeat: int) -> list[dict]:
    rows = []
    series = (
        ("swiftconv", "load", "sc.load(path)"),
        ("onnx", "load", "onnx.load(path)"),
        ("swiftconv", "weights", "sc.load + get_initializer(all), pages touched"),
        ("onnx", "weights", "onnx.load + numpy_helper.to_array(all), pages touched"),
    )
    for lib, mode, label in series:
        try:
            run_load(lib, path, mode)  # warm-up: page cache, .pyc files
            runs = [run_load(lib, path, mode) for _ in range(repeat)]
        except RuntimeError as e:
            rows.append({"what": label, "error": str(e)})
            continue
        secs = [r["seconds"] for r in runs]
        rss = [(r["peak_kb"] - r["base_kb"]) / 1024 for r in runs]  # KiB -> MiB
        rows.append(
            {
                "what": label,
                "median_ms": statistics.median(secs) * 1e3,
                "min_ms": min(secs) * 1e3,
                "max_ms": max(secs) * 1e3,
                "peak_rss_mib": statistics.median(rss),
            }
        )
    return rows


def bench_import(repeat: int) -> list[dict]:
    # numpy is imported by both libraries: its row shows how much of their time is numpy's.
    codes = {
        "bare": "pass",
        "swiftconv": "import swiftconv",
        "onnxruntime": "import onnxruntime",
        "numpy": "import numpy",
    }
    ok = {}
    for name, code in codes.items():
        try:
            run_wall(code)  # warm-up
            ok[name] = []
        except RuntimeError as e:
            ok[name] = e
    for _ in range(repeat):  # interleaved so drift hits every series alike
        for name, code in codes.items():
            if isinstance(ok[name], list):
                ok[name].append(run_wall(code))
    if isinstance(ok["bare"], Exception):
        raise RuntimeError(f"python -c pass failed: {ok['bare']}")
    bare = statistics.median(ok["bare"])
    rows = []
    for name in ("swiftconv", "onnxruntime", "numpy"):
        label = f"python -c 'import {name}'"
        if isinstance(ok[name], Exception):
            rows.append({"what": label, "error": str(ok[name])})
            continue
        times = [t - bare for t in ok[name]]
        rows.append(
            {
                "what": label,
                "median_ms": statistics.median(times) * 1e3,
                "min_ms": min(times) * 1e3,
                "max_ms": max(times) * 1e3,
            }
        )
    rows.append(
        {
            "what": "python -c pass (subtracted above)",
            "median_ms": bare * 1e3,
            "min_ms": min(ok["bare"]) * 1e3,
            "max_ms": max(ok["bare"]) * 1e3,
        }
    )
    return rows


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for mod in ("swiftconv", "onnx", "onnxruntime", "numpy"):
        try:
            proc = subprocess.run(
                [sys.executable, "-c", f"import {mod}; print({mod}.__version__)"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            out[mod] = proc.stdout.strip() or "not importable"
        except subprocess.TimeoutExpired:
            out[mod] = "timeout"
    return out


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(v, digits=1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def print_table(rows: list[dict], markdown: bool) -> None:
    header = ["what", "median ms", "min ms", "max ms", "peak RSS growth MiB"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["what"], f"unavailable: {r['error'][:80]}", "", "", ""])
        else:
            body.append(
                [r["what"], _fmt(r["median_ms"]), _fmt(r["min_ms"]), _fmt(r["max_ms"]), _fmt(r.get("peak_rss_mib"))]
            )
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|")
        for b in body:
            print("| " + " | ".join(b) + " |")
        return
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(b, widths))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=int, default=200, help="weights in the generated model (default 200)")
    p.add_argument("--repeat", type=int, default=5, help="measured runs per series (default 5)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--markdown", action="store_true", help="print a markdown table for docs/PERF.md")
    p.add_argument("--json", action="store_true", help="print the raw rows as JSON")
    p.add_argument("--no-import", action="store_true", help="skip the import-time series")
    args = p.parse_args(argv)

    path = cached_model(args.cache_dir, args.size_mb)
    rows = bench_load(path, args.repeat)
    if not args.no_import:
        rows += bench_import(args.repeat)
    meta = {
        "model": str(path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path),
        "model_mb": round(path.stat().st_size / 1e6, 1),
        "repeat": args.repeat,
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        **_versions(),
    }
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return 0
    context = ", ".join(f"{k} {v}" for k, v in meta.items())
    print(f"<!-- {context} -->" if args.markdown else context)
    print_table(rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
