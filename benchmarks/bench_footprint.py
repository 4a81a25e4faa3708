"""Footprint benchmark: size of libswiftconv.so and of the wheel, and cold import time,
next to onnxruntime's.

    python benchmarks/bench_footprint.py --package now=python --wheel now=/tmp/w/swiftconv-*.whl

* `--package LABEL=DIR`: DIR holds an importable `swiftconv/` (with its `_core` extension and
  `libswiftconv.so` beside it). Several labels compare builds in one interleaved run.
* Library: file size in bytes and its largest ELF sections (`size -A`), and whether the file
  still has a static symbol table (`nm` finds symbols) — the release build strips it.
* Wheel: file size of each `--wheel`. For onnxruntime, which is installed but not as a wheel
  file, the size of the installed files listed in its RECORD, and those files zipped with
  deflate (what a wheel of them weighs, to within the zip headers).
* Import time: wall time of a fresh `python -c "import X"` for numpy, onnxruntime and every
  package label, interleaved run by run so that machine drift hits every series alike;
  median, min, max of `--runs` runs after one warm-up, and the same minus `python -c pass`.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import statistics
import subprocess
import sys
import time
import zipfile
from importlib import metadata


def run_wall(code: str, pythonpath: str | None) -> float:
    env = dict(os.environ)
    if pythonpath is None:
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = pythonpath
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, stdin=subprocess.DEVNULL)
    t1 = time.perf_counter()
    if proc.returncode != 0:
        raise RuntimeError(f"{code!r} with PYTHONPATH={pythonpath}: {proc.stderr.decode().strip()[-400:]}")
    return t1 - t0


def sections(path: str, top: int = 6) -> list[tuple[str, int]]:
    out = subprocess.run(["size", "-A", path], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith((".", "swift")) and parts[1].isdigit():
            rows.append((parts[0], int(parts[1])))
    return sorted(rows, key=lambda r: -r[1])[:top]


def has_symtab(path: str) -> bool:
    proc = subprocess.run(["nm", path], capture_output=True, text=True)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def onnxruntime_installed() -> dict:
    dist = metadata.distribution("onnxruntime")
    files = [f for f in dist.files or [] if not str(f).endswith(".pyc")]
    total = 0
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            p = f.locate()
            if os.path.isfile(p):
                total += os.path.getsize(p)
                z.write(p, str(f))
    libs = sorted(
        (os.path.basename(p), os.path.getsize(p))
        for p in glob.glob(
            os.path.join(os.path.dirname(str(dist.locate_file("onnxruntime/__init__.py"))), "capi", "*.so*")
        )
    )
    return {"version": dist.version, "installed_bytes": total, "zipped_bytes": buf.tell(), "libs": libs}


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", action="append", default=[], metavar="LABEL=DIR", help="a swiftconv build to measure")
    ap.add_argument("--wheel", action="append", default=[], metavar="LABEL=PATH", help="a wheel file to measure")
    ap.add_argument("--runs", type=int, default=20, help="timed imports per series (default 20)")
    args = ap.parse_args(argv)

    packages = dict(p.split("=", 1) for p in args.package)
    print("## Library\n")
    print("| build | libswiftconv.so | symbol table | largest sections |")
    print("| --- | ---: | --- | --- |")
    for label, root in packages.items():
        lib = os.path.join(root, "swiftconv", "libswiftconv.so")
        secs = ", ".join(f"{name} {mb(size)}" for name, size in sections(lib, 4))
        stripped = "present" if has_symtab(lib) else "stripped"
        print(f"| {label} | {mb(os.path.getsize(lib))} ({os.path.getsize(lib)} B) | {stripped} | {secs} |")
    ort = onnxruntime_installed()
    for name, size in ort["libs"]:
        print(f"| onnxruntime {ort['version']} | {name}: {mb(size)} | | |")

    print("\n## Wheel\n")
    print("| what | size |")
    print("| --- | ---: |")
    for item in args.wheel:
        label, pattern = item.split("=", 1)
        for path in sorted(glob.glob(pattern)):
            print(f"| {label}: {os.path.basename(path)} | {mb(os.path.getsize(path))} |")
    print(f"| onnxruntime {ort['version']} installed files | {mb(ort['installed_bytes'])} |")
    print(f"| onnxruntime {ort['version']} installed files, zipped (deflate) | {mb(ort['zipped_bytes'])} |")

    series = {"bare": ("pass", None), "numpy": ("import numpy", None), "onnxruntime": ("import onnxruntime", None)}
    for label, root in packages.items():
        series[f"swiftconv ({label})"] = ("import swiftconv", os.path.abspath(root))
    times: dict[str, list[float]] = {}
    for name, (code, path) in series.items():
        run_wall(code, path)  # warm-up: page cache, .pyc files
        times[name] = []
    for _ in range(args.runs):
        for name, (code, path) in series.items():
            times[name].append(run_wall(code, path))
    bare = statistics.median(times["bare"])
    numpy_ms = (statistics.median(times["numpy"]) - bare) * 1e3
    print(f"\n## Import time ({args.runs} interleaved runs each)\n")
    print("| python -c | median ms | min ms | max ms | median minus `pass` | minus `import numpy` |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, ts in times.items():
        code = series[name][0]
        med = statistics.median(ts) * 1e3
        over = med - bare * 1e3
        vs_numpy = "" if name in ("bare", "numpy") else f"{over - numpy_ms:+.1f}"
        print(
            f"| `{code}` {name if name.startswith('swiftconv') else ''} | {med:.1f} | {min(ts) * 1e3:.1f} "
            f"| {max(ts) * 1e3:.1f} | {over:.1f} | {vs_numpy} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
