"""The parent side of a mutation-fuzzing campaign, shared by the fuzz tests.

A campaign runs N deterministic mutations (index -> files) in child processes,
a chunk at a time, each child under RLIMIT_AS and a timeout. The child prints
one JSON line when it starts a mutation ({"start": i, "kind", "desc"}) and one
when it is done ({"done": i, "results": {how: [status, detail]}, "problems":
[...], "seconds"}), then {"finished": true}. When a child dies (signal, hang,
non-zero exit) the parent names the mutation it was on, saves a reproducer and
restarts the child after it, so one crash does not hide the next.

The test module supplies what differs: its script path (run with --child),
the seed and counts, and a `save_reproducer(index) -> Path` for its files.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class FuzzCampaign:
    script: Path  # the test module; run as `script --child --start S --count N --workdir W`
    seed: int
    n_mutations: int
    n_chunks: int
    chunk_timeout_s: float
    total_budget_s: float  # all chunks of the file together
    save_reproducer: Callable[[int], Path]
    max_restarts: int = 16  # per chunk
    _started_at: list[float] = field(default_factory=list)

    def chunk_bounds(self, chunk: int) -> tuple[int, int]:
        per = -(-self.n_mutations // self.n_chunks)
        start = chunk * per
        return start, max(0, min(per, self.n_mutations - start))

    def spawn(self, start: int, count: int, timeout: float):
        """Run one child; returns (records, stderr, returncode or None, timed_out)."""
        with tempfile.TemporaryDirectory(prefix="sc-fuzz-") as work:
            cmd = [sys.executable, "-X", "faulthandler", str(self.script), "--child"]
            cmd += ["--start", str(start), "--count", str(count), "--workdir", work]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
                stdout, stderr, rc, timed_out = proc.stdout, proc.stderr, proc.returncode, False
            except subprocess.TimeoutExpired as e:

                def _text(x):
                    return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")

                stdout, stderr, rc, timed_out = _text(e.stdout), _text(e.stderr), None, True
        records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        return records, stderr, rc, timed_out

    def run_chunk(self, chunk: int) -> None:
        """Runs one chunk and fails the calling test with every problem found."""
        if not self._started_at:
            self._started_at.append(time.monotonic())
        start, count = self.chunk_bounds(chunk)
        end = start + count
        started: dict = {}
        done: dict = {}
        failures: list[str] = []
        nxt, restarts = start, 0
        while nxt < end:
            remaining = self.total_budget_s - (time.monotonic() - self._started_at[0])
            if remaining <= 1:
                failures.append(
                    f"fuzz time budget ({self.total_budget_s:.0f} s for the file) used up at mutation {nxt}"
                )
                break
            timeout = min(self.chunk_timeout_s, remaining)
            records, stderr, rc, timed_out = self.spawn(nxt, end - nxt, timeout)
            started.update({r["start"]: r for r in records if "start" in r})
            done.update({r["done"]: r for r in records if "done" in r})
            if any(r.get("finished") for r in records):
                break
            pending = sorted(i for i in started if i not in done and i >= nxt)
            if timed_out:
                how = f"hung (> {timeout:.0f} s)"
            elif rc is not None and rc < 0:
                how = f"died of signal {signal.Signals(-rc).name}"
            else:
                how = f"exited with status {rc}"
            if not pending:
                failures.append(
                    f"child {how} before its first mutation ({nxt})\n--- child stderr (tail) ---\n{stderr[-3000:]}"
                )
                break
            i = pending[0]
            try:
                repro = self.save_reproducer(i)
            except Exception as e:  # noqa: BLE001
                repro = f"(could not save: {e})"
            failures.append(
                f"child {how} on seed {self.seed} mutation {i} [{started[i]['kind']}] {started[i]['desc']}\n"
                f"    files: {repro}\n--- child stderr (tail) ---\n{stderr[-2000:]}"
            )
            nxt, restarts = i + 1, restarts + 1
            if restarts > self.max_restarts:
                failures.append(f"gave up after {self.max_restarts} restarts; mutations {nxt}..{end - 1} not run")
                break
        failures += [
            f"seed {self.seed} mutation {i} [{started[i]['kind']}] {started[i]['desc']}\n    "
            + "\n    ".join(r["problems"])
            for i, r in sorted(done.items())
            if r["problems"]
        ]
        counts: dict[str, int] = {}
        for r in done.values():
            for status, _ in r["results"].values():
                counts[status] = counts.get(status, 0) + 1
        slowest = max(done.values(), key=lambda r: r["seconds"], default=None)
        print(
            f"chunk {chunk}: mutations {start}..{end - 1}, {len(done)} reported, outcomes {counts}, "
            f"restarts {restarts}, slowest {slowest and (slowest['done'], slowest['seconds'])}"
        )
        if failures:
            pytest.fail(f"{len(failures)} problem(s):\n" + "\n".join(failures), pytrace=False)
        crashed = count - len(done)
        assert crashed == 0, f"{crashed} of {count} mutations not reported"
