"""Interleaved timing of several engines on one machine, shared by the benchmark scripts.

Engines run in alternating short blocks (`block` timed runs each) so that all of them see
the same machine state. Each block starts after `pause` seconds idle and `settle`
uncounted runs: an engine's idle worker threads spin for a while after a run
(onnxruntime's and XNNPACK's for tens of milliseconds) and would otherwise take a core
from the next engine's runs.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable


def interleave(
    runners: dict[str, Callable[[], object]],
    runs: int,
    block: int = 10,
    settle: int = 2,
    pause: float = 0.2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds of each timed run, per engine label, by `clock` (wall clock unless given)."""
    times: dict[str, list[float]] = {label: [] for label in runners}
    measured = 0
    while measured < runs:
        n = min(block, runs - measured)
        for label, run in runners.items():
            time.sleep(pause)
            for i in range(settle + n):
                start = clock()
                run()
                if i >= settle:
                    times[label].append(clock() - start)
        measured += n
    return times


def percentile_ms(times: list[float], which: int) -> float:
    """The `which`-th percentile (10, 20, ..., 90) of `times`, in milliseconds."""
    cuts = statistics.quantiles(times, n=10, method="inclusive")
    return cuts[which // 10 - 1] * 1e3


def summary(times: list[float]) -> dict[str, float]:
    """Median, p10 and p90 in milliseconds."""
    return {
        "ms": statistics.median(times) * 1e3,
        "p10_ms": percentile_ms(times, 10),
        "p90_ms": percentile_ms(times, 90),
    }


def cpu_name() -> str:
    """The CPU model and core count of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"
