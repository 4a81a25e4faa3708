"""Formats generated Swift source with the toolchain's swift-format, so that what the
generators write (scripts/generate-onnx-proto.py, scripts/generate-tflite-schema.py) is what
scripts/check-format.sh accepts."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def swift_format(text: str) -> str:
    """`text` as swift-format formats it with the repository's configuration."""
    try:
        r = subprocess.run(["swift-format", "format"], input=text, capture_output=True, text=True, cwd=ROOT)
    except FileNotFoundError:
        raise SystemExit("swift-format not found (it ships with the Swift toolchain)") from None
    if r.returncode != 0:
        raise SystemExit(f"swift-format failed:\n{r.stderr}")
    return r.stdout
