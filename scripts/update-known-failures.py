#!/usr/bin/env python3
"""Reruns the engine backend suite and removes the `engine::` lines of tests/known_failures.txt that pass.

Every case of tests/test_backend_engine.py is run (the same `run_case`) in child
processes, so that a crash or a hang takes down one case, not the run. The script never
adds an entry and never writes a reason: a failing case that is not listed is reported
with its error and makes the script exit 1 (fix it, or find its root cause and list it by
hand; tests/test_known_failures.py allows no entry that main did not have). Listed cases
that now pass are removed. Crashed or hung cases are reported and make the script exit 1.

The same cases are also run on onnxruntime (results cached in tests/.cache/) to report
how many cases onnxruntime passes that swiftconv fails.

    python3 scripts/update-known-failures.py            # remove passing entries, print counts
    python3 scripts/update-known-failures.py --dry-run  # print counts only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
sys.path.insert(0, str(TESTS))

MANIFEST = TESTS / "known_failures.txt"
SUITE = "engine"
CASE_TIMEOUT = 300  # seconds for one case (all its data sets) before it counts as hung


# ---------------------------------------------------------------- child side


def _backend(name):
    if name == "swiftconv":
        import swiftconv

        return swiftconv
    import types

    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    return types.SimpleNamespace(
        InferenceSession=lambda path: ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    )


def child(backend: str, names: list[str]) -> None:
    """Runs cases by name, printing one JSON line per case as soon as it finishes."""
    import warnings

    warnings.simplefilter("ignore")
    from backend_data import engine_cases, first_line
    from test_backend_engine import run_case

    by_name = {c.name: c for c in engine_cases()}
    module = _backend(backend)
    for name in names:
        print(json.dumps({"start": name}), flush=True)
        try:
            run_case(module, by_name[name])
            result = {"case": name, "ok": True}
        except Exception as e:  # noqa: BLE001 - every failure is a result
            result = {"case": name, "ok": False, "reason": first_line(e)}
        print(json.dumps(result), flush=True)


# --------------------------------------------------------------- parent side


def run_all(backend: str, names: list[str], jobs: int) -> dict[str, dict]:
    """{case: {"ok": bool, "reason": str}}; crashes and hangs get "crash"/"hang" set."""
    results: dict[str, dict] = {}
    shards = [names[i::jobs] for i in range(jobs)]

    def spawn():
        return subprocess.Popen(
            [sys.executable, __file__, "--child", backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )

    # Each shard runs in its own child; when a child dies, the case it had started is
    # recorded as a crash and a new child carries on with the rest of the shard.
    import selectors

    sel = selectors.DefaultSelector()
    state = {}

    def start(shard):
        if not shard:
            return
        p = spawn()
        p.stdin.write(json.dumps(shard).encode())
        p.stdin.close()
        state[p] = {"pending": list(shard), "current": None, "since": time.monotonic(), "buf": ""}
        sel.register(p.stdout.fileno(), selectors.EVENT_READ, p)

    for shard in shards:
        start(shard)
    done = 0
    while state:
        for key, _ in sel.select(timeout=5):
            p = key.data
            s = state[p]
            chunk = os.read(p.stdout.fileno(), 1 << 16)
            if chunk:
                s["buf"] += chunk.decode("utf-8", "replace")
                *lines, s["buf"] = s["buf"].split("\n")
                for line in lines:
                    if not line.startswith("{"):
                        continue
                    msg = json.loads(line)
                    if "start" in msg:
                        s["current"], s["since"] = msg["start"], time.monotonic()
                    else:
                        results[msg["case"]] = msg
                        s["pending"].remove(msg["case"])
                        s["current"] = None
                        done += 1
                        if done % 100 == 0:
                            print(f"  {backend}: {done}/{len(names)}", file=sys.stderr, flush=True)
                continue
            # EOF: the child finished or died.
            sel.unregister(p.stdout.fileno())
            p.stdout.close()
            p.wait()
            del state[p]
            rest = s["pending"]
            if s["current"] is not None:
                results[s["current"]] = {
                    "case": s["current"],
                    "ok": False,
                    "crash": True,
                    "reason": f"process died (exit status {p.returncode})",
                }
                rest = [n for n in rest if n != s["current"]]
                done += 1
            start(rest)
        # Hung cases: kill the child; the EOF path above records the crash as a hang.
        for p, s in list(state.items()):
            if s["current"] is not None and time.monotonic() - s["since"] > CASE_TIMEOUT:
                name = s["current"]
                p.kill()
                results[name] = {"case": name, "ok": False, "crash": True, "reason": f"hung for > {CASE_TIMEOUT} s"}
                s["pending"] = [n for n in s["pending"] if n != name]
                s["current"] = None
                done += 1
    return results


def remove_entries(passing: set[str]) -> int:
    """Deletes the `engine::` lines of cases in `passing`; returns how many were removed."""
    lines = MANIFEST.read_text().splitlines()
    kept = [
        ln
        for ln in lines
        if not (ln.strip().startswith(f"{SUITE}::") and ln.split("#")[0].strip()[len(SUITE) + 2 :] in passing)
    ]
    tmp = MANIFEST.with_suffix(".tmp")
    tmp.write_text("\n".join(kept) + "\n")
    os.replace(tmp, MANIFEST)
    return len(lines) - len(kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="print counts, leave the manifest alone")
    parser.add_argument("--jobs", type=int, default=2, help="child processes per backend (default 2)")
    parser.add_argument("--no-ort", action="store_true", help="skip the onnxruntime comparison")
    parser.add_argument("--ort-only", action="store_true", help="only fill the onnxruntime cache")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(sys.stdin.read()))
        return 0

    import onnx
    from backend_data import engine_cases

    cases = engine_cases()
    names = [c.name for c in cases]

    def ort_results():
        import onnxruntime

        cache = TESTS / ".cache" / f"ort-backend-results-{onnx.__version__}-{onnxruntime.__version__}.json"
        theirs = json.loads(cache.read_text()) if cache.exists() else {}
        missing = [n for n in names if n not in theirs]
        if missing:
            print(f"running {len(missing)} cases on onnxruntime ...", file=sys.stderr)
            theirs.update(run_all("onnxruntime", missing, max(1, args.jobs)))
            cache.write_text(json.dumps(theirs, indent=0, sort_keys=True))
        return theirs

    if args.ort_only:
        theirs = ort_results()
        print(f"onnxruntime: {sum(1 for n in names if theirs[n]['ok'])}/{len(names)} passed")
        return 0
    print(f"running {len(names)} cases on swiftconv ...", file=sys.stderr)
    ours = run_all("swiftconv", names, max(1, args.jobs))

    ort_fail_ours = None
    if not args.no_ort:
        theirs = ort_results()
        ort_fail_ours = sorted(n for n in names if theirs[n]["ok"] and not ours[n]["ok"])
        ort_passes = sum(1 for n in names if theirs[n]["ok"])

    from conftest import read_known_failures

    listed = read_known_failures(SUITE)
    crashed = sorted(n for n in names if ours[n].get("crash"))
    failed = sorted(n for n in names if not ours[n]["ok"] and not ours[n].get("crash"))
    unlisted = [n for n in failed if n not in listed]
    now_passing = {n for n in listed if n in ours and ours[n]["ok"]}
    passed = sum(1 for n in names if ours[n]["ok"])
    print(f"swiftconv: {passed}/{len(names)} passed, {len(failed)} failed, {len(crashed)} crashed or hung")
    if ort_fail_ours is not None:
        print(
            f"onnxruntime: {ort_passes}/{len(names)} passed; "
            f"{len(ort_fail_ours)} cases pass on onnxruntime but fail on swiftconv"
        )
    for n in crashed:
        print(f"CRASH {n}: {ours[n]['reason']}")
    for n in unlisted:
        print(f"NEW FAILURE {n} (not listed; fix it or find its root cause): {ours[n]['reason']}")
    for n in sorted(now_passing):
        print(f"PASSES {n}")
    if now_passing and not args.dry_run:
        print(f"removed {remove_entries(now_passing)} passing {SUITE}:: lines from {MANIFEST.relative_to(REPO)}")
    return 1 if crashed or unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
