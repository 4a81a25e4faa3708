"""Shared by bench_conv_shapes.py and bench_matmul_shapes.py: one single-node model in both
engines, timed in interleaved blocks (the calling thread's CPU time with one thread)."""

from __future__ import annotations

import time

import numpy as np
import onnxruntime as ort

import swiftconv as sc


def time_both(data: bytes, feeds: dict, threads: int, blocks: int, repeat: int) -> tuple[float, float, np.ndarray]:
    """Best seconds per run of swiftconv and onnxruntime over `blocks` blocks of `repeat` runs,
    alternating block by block, and onnxruntime's output (checked against swiftconv's first)."""
    clock = time.thread_time if threads == 1 else time.perf_counter
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    theirs = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    sso = sc.SessionOptions()
    sso.intra_op_num_threads = threads
    ours = sc.InferenceSession(data, sso)
    expected = theirs.run(None, feeds)[0]
    np.testing.assert_allclose(ours.run(None, feeds)[0], expected, rtol=1e-4, atol=1e-3)
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    for _ in range(blocks):
        for key, session in (("ours", ours), ("theirs", theirs)):
            t0 = clock()
            for _ in range(repeat):
                session.run(None, feeds)
            times[key].append((clock() - t0) / repeat)
    return min(times["ours"]), min(times["theirs"]), expected
