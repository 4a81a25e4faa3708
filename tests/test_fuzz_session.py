"""Hostile models at session creation and run: the structural fuzzer (issue 7, item 2).

(a) every saved case in tests/fuzz_corpus/ (failures found by campaigns of
    tests/fuzz_session.py) must now give ok or a SwiftconvError;
(b) FRESH_CASES new mutations from a fixed seed must too.

Both run InferenceSession(bytes) + one run in child processes under a 4 GiB
RLIMIT_AS with a per-case watchdog; a crash (signal, abort), a hang or a
non-SwiftconvError exception fails the test, naming the case. Failures of (b)
are written to tests/.cache/fuzz-session/ci-failures/<id>/ (same layout as the
corpus) for replay:

    python tests/fuzz_session.py --replay tests/fuzz_corpus            # the whole corpus
    python tests/fuzz_session.py --describe INDEX --seed 2024          # one fresh case
    python tests/fuzz_session.py --count 20000 --start 0 --jobs 2      # a long campaign
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_session as fz  # noqa: E402

CI_SEED = 2024
FRESH_CASES = 2000
JOBS = 2
CASE_LIMIT_S = 20.0
CI_BUDGET_S = 150.0  # fresh cases, both jobs together
CI_FAILURE_DIR = fz.CACHE_DIR / "ci-failures"


def _corpus_dirs() -> list[Path]:
    if not fz.CORPUS_DIR.is_dir():
        return []
    return sorted(d for d in fz.CORPUS_DIR.iterdir() if (d / "model.onnx").is_file())


def _explain(r: fz.Result, what: str) -> str:
    line = fz.first_crash_line(r.stderr) if r.outcome in ("crash", "hang") else ""
    return f"{what}: {r.outcome}: {r.detail[:300]}" + (f"\n    stderr: {line}" if line else "")


def test_corpus_replays_cleanly():
    dirs = _corpus_dirs()
    if not dirs:
        pytest.skip("tests/fuzz_corpus is empty")
    results: list[fz.Result] = []
    lock = threading.Lock()
    chunks = [dirs[j::JOBS] for j in range(JOBS)]

    def worker(chunk):
        if chunk:
            rs = fz.replay_dirs(chunk, CASE_LIMIT_S)
            with lock:
                results.extend(rs)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_key = {r.key: r for r in results}
    missing = [str(d) for d in dirs if str(d) not in by_key]
    bad = []
    for d in dirs:
        r = by_key.get(str(d))
        if r is None or r.outcome not in fz.FAILURES:
            continue
        meta = json.loads((d / "case.json").read_text()) if (d / "case.json").exists() else {}
        bad.append(
            _explain(r, f"{d.name} [{meta.get('op')} / {meta.get('kind')}] {'; '.join(meta.get('mutation', []))[:200]}")
        )
    counts = {k: sum(r.outcome == k for r in results) for k in ("ok", "clean", "crash", "hang", "other")}
    print(f"corpus: {len(dirs)} cases, outcomes {counts}")
    assert not missing, f"{len(missing)} corpus case(s) not reported: {missing[:5]}"
    if bad:
        pytest.fail(f"{len(bad)} of {len(dirs)} corpus case(s) still fail:\n" + "\n".join(bad), pytrace=False)


def test_fresh_mutations():
    t0 = time.monotonic()
    s = fz.campaign(CI_SEED, 0, FRESH_CASES, JOBS, CASE_LIMIT_S, save=False, budget=CI_BUDGET_S, quiet=True)
    print(fz.summary_line(s) + f" in {time.monotonic() - t0:.0f} s")
    lines = []
    shutil.rmtree(CI_FAILURE_DIR, ignore_errors=True)
    for f in s["failures"]:
        case = fz.make_case(CI_SEED, f["index"])
        folder = CI_FAILURE_DIR / fz.case_id(case)
        fz.write_case_dir(case, folder, {"seed": CI_SEED, **f})
        lines.append(
            f"seed {CI_SEED} case {f['index']} ({f['seed_model']}) [{f['op']} / {f['kind']}] "
            f"{f['outcome']}: {f['line'][:200]}\n    {'; '.join(f['desc'])[:300]}\n    files: {folder}"
        )
    if lines:
        pytest.fail(f"{len(lines)} of {s['run']} fresh case(s) failed:\n" + "\n".join(lines), pytrace=False)
    assert s["run"] == FRESH_CASES, f"only {s['run']} of {FRESH_CASES} cases ran within {CI_BUDGET_S:.0f} s"


def test_generator_is_deterministic():
    picks = [0, 1, 17, 299]
    a = [fz.make_case(CI_SEED, i) for i in picks]
    b = [fz.make_case(CI_SEED, i) for i in picks]
    assert [(c.model, c.desc, sorted(c.feeds)) for c in a] == [(c.model, c.desc, sorted(c.feeds)) for c in b]
    for x, y in zip(a, b):
        for k in x.feeds:
            assert x.feeds[k].tobytes() == y.feeds[k].tobytes()
