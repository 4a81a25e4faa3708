"""The TFLite fixtures' known-failures manifest, shared by the fixture suites.

tests/tflite_known_failures.txt holds one line per fixture a suite cannot pass yet:
`<suite> <fixture stem> <root cause>`, suite `interpreter` (tests/test_tflite_ops.py,
sc.Interpreter vs LiteRT) or `onnx` (tests/test_tflite_to_onnx.py, sc.convert to ONNX vs
LiteRT). The suites run those fixtures as xfail(strict=True), so fixing one fails until its
line is deleted, and tests/test_tflite_ops.py checks the list does not grow past its size.
"""

from __future__ import annotations

from pathlib import Path

KNOWN_FAILURES = Path(__file__).resolve().parent / "tflite_known_failures.txt"
SUITES = ("interpreter", "onnx")


def known_failures(suite: str) -> dict[str, str]:
    """{fixture stem: root cause} for `suite`."""
    assert suite in SUITES, suite
    known = {}
    for line in KNOWN_FAILURES.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        which, name, reason = (line.split(" ", 2) + ["", ""])[:3]
        assert which in SUITES, f"{KNOWN_FAILURES.name}: unknown suite in {line!r}"
        assert reason.strip(), f"{KNOWN_FAILURES.name}: {name} needs its root cause"
        if which == suite:
            known[name] = reason.strip()
    return known
