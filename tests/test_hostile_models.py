"""Hostile models at session creation and run (issue 7, acceptance item 1).

Every case of tests/hostile_cases.py runs in a child process under a 4 GiB
RLIMIT_AS (no core files, stdin closed, 60 s timeout) through swiftconv
(`InferenceSession` + `run`) and, in a separate child under the same limits,
through onnxruntime (its outcome is cached in tests/.cache/hostile-ort/). Then:

* onnxruntime returns a result -> swiftconv returns an equal one (same number of
  outputs, dtype, shape, values; NaN equal to NaN), unless the case is listed
  with `reject=...` (swiftconv deliberately raises a SwiftconvError);
* onnxruntime raises, runs out of memory, crashes or hangs -> swiftconv raises
  an `sc.SwiftconvError` subclass.

A swiftconv child that dies of a signal, hangs or raises anything that is not
a SwiftconvError fails the case; the message names the case and shows the
child's stderr. Replay one case by hand:

    python tests/hostile_cases.py --child sc CASE_NAME
    python tests/hostile_cases.py --write CASE_NAME /tmp/case   # files for the Swift tools
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_cases as hc  # noqa: E402

ORT_CACHE = HERE / ".cache" / "hostile-ort"
IMPORT_RETRIES = 8
IMPORT_RETRY_PAUSE_S = 15.0


def spawn(engine: str, folder: Path, timeout: float) -> dict:
    """Run one case in a child; returns the child's RESULT record, or a crash/hang record."""
    out = folder / f"out-{engine}.npz"
    cmd = [
        sys.executable,
        "-X",
        "faulthandler",
        str(HERE / "hostile_cases.py"),
        "--child",
        engine,
        str(folder),
        "--out",
        str(out),
    ]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, errors="replace"
        )
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return {"status": "hang", "detail": f"no result after {timeout:.0f} s", "stderr": err[-3000:]}
    records = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if records:
        rec = records[-1]
        rec["stderr"] = proc.stderr[-3000:]
        if rec["status"] == "ok":
            with np.load(out, allow_pickle=False) as z:
                rec["arrays"] = {k: z[k] for k in z.files}
        return rec
    rc = proc.returncode
    how = f"died of signal {signal.Signals(-rc).name}" if rc < 0 else f"exited with status {rc} without a result"
    return {"status": "crash", "detail": how, "stderr": proc.stderr[-3000:]}


def spawn_sc(folder: Path, timeout: float) -> dict:
    """spawn('sc', ...), retried while swiftconv does not import (the library is being rebuilt)."""
    for _ in range(IMPORT_RETRIES):
        rec = spawn("sc", folder, timeout)
        if not (rec["status"] == "raised" and rec["stage"] == "import"):
            return rec
        time.sleep(IMPORT_RETRY_PAUSE_S)
    return rec


def ort_outcome(case: hc.Case, folder: Path) -> dict:
    """onnxruntime's outcome for the case, cached by the case's bytes and onnxruntime's version."""
    import onnxruntime

    h = hashlib.sha256()
    for name in ("model.onnx", "feeds.npz", "case.json"):
        h.update((folder / name).read_bytes())
    h.update(onnxruntime.__version__.encode())
    key = f"{case.name}-{h.hexdigest()[:16]}"
    meta_path, arrays_path = ORT_CACHE / f"{key}.json", ORT_CACHE / f"{key}.npz"
    if meta_path.exists() and (arrays_path.exists() or json.loads(meta_path.read_text())["status"] != "ok"):
        rec = json.loads(meta_path.read_text())
        if rec["status"] == "ok":
            with np.load(arrays_path, allow_pickle=False) as z:
                rec["arrays"] = {k: z[k] for k in z.files}
        return rec
    rec = spawn("ort", folder, case.ort_timeout)
    ORT_CACHE.mkdir(parents=True, exist_ok=True)
    if rec["status"] == "ok":
        np.savez(arrays_path, **rec["arrays"])
    meta_path.write_text(json.dumps({k: v for k, v in rec.items() if k != "arrays"}, indent=1))
    return rec


def describe(rec: dict) -> str:
    if rec["status"] == "raised":
        return f"raised {rec['type']} at {rec['stage']}: {rec['message'][:300]}"
    if rec["status"] == "ok":
        return f"returned {len(rec['outputs'])} output(s) " + ", ".join(
            f"{o.get('dtype')}{o.get('shape')}" for o in rec["outputs"]
        )
    return rec["detail"]


def assert_same_outputs(case: hc.Case, ort: dict, sc: dict) -> None:
    if len(sc["outputs"]) != len(ort["outputs"]):
        pytest.fail(
            f"[{case.name}] swiftconv returned {len(sc['outputs'])} outputs, onnxruntime {len(ort['outputs'])}",
            pytrace=False,
        )
    for i, (want, got) in enumerate(zip(ort["outputs"], sc["outputs"])):
        where = f"[{case.name}] output {i}"
        assert got["kind"] == want["kind"], f"{where}: {got} vs onnxruntime {want}"
        if want["kind"] == "digest":
            assert (got["dtype"], got["shape"], got["sha256"]) == (want["dtype"], want["shape"], want["sha256"]), (
                f"{where}: {got} vs onnxruntime {want}"
            )
            continue
        if want["kind"] != "array":
            assert got == want, f"{where}: {got} vs onnxruntime {want}"
            continue
        g, w = sc["arrays"][f"o{i}"], ort["arrays"][f"o{i}"]
        assert g.dtype == w.dtype, f"{where}: dtype {g.dtype} vs onnxruntime {w.dtype}"
        assert g.shape == w.shape, f"{where}: shape {g.shape} vs onnxruntime {w.shape}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(g, w, err_msg=where)


@pytest.mark.parametrize("case", hc.CASES, ids=[c.name for c in hc.CASES])
def test_hostile_model(case: hc.Case):
    pytest.importorskip("onnxruntime")
    folder = Path(tempfile.mkdtemp(prefix=f"sc-hostile-{case.name}-"))
    try:
        hc.write_case(case, folder)
        ort = ort_outcome(case, folder)
        sc = spawn_sc(folder, case.timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ctx = (
        f"\n  onnxruntime: {describe(ort)}\n  swiftconv:   {describe(sc)}"
        f"\n--- swiftconv child stderr (tail) ---\n{sc.get('stderr', '')[-2000:]}"
    )
    if sc["status"] in ("crash", "hang"):
        pytest.fail(f"[{case.name}] swiftconv child {sc['detail']}{ctx}", pytrace=False)
    if sc["status"] == "raised" and sc["stage"] == "import":
        pytest.fail(f"[{case.name}] swiftconv did not import{ctx}", pytrace=False)
    if sc["status"] == "raised" and not sc["clean"]:
        pytest.fail(
            f"[{case.name}] swiftconv raised {sc['type']}, not a SwiftconvError{ctx}\n{sc.get('traceback', '')}",
            pytrace=False,
        )
    if ort["status"] == "ok" and not case.reject:
        if sc["status"] != "ok":
            pytest.fail(f"[{case.name}] onnxruntime returns a result, swiftconv raised{ctx}", pytrace=False)
        assert_same_outputs(case, ort, sc)
    elif sc["status"] == "ok":
        why = f"listed as rejected: {case.reject}" if case.reject else "onnxruntime refuses it"
        pytest.fail(
            f"[{case.name}] swiftconv returned a result; it must raise a SwiftconvError ({why}){ctx}", pytrace=False
        )


def test_case_catalogue_is_deterministic():
    """The same bytes every time (the onnxruntime cache depends on it)."""
    for case in hc.CASES:
        a, b = case.build(), case.build()
        assert a.model.SerializeToString() == b.model.SerializeToString(), case.name
        assert list(a.feeds) == list(b.feeds), case.name
