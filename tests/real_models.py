"""The "real model" fixtures: torchvision CNNs, an LSTM classifier and a Transformer encoder
exported by `torch.onnx.export` (see `tests/models/make_real_models.py`).

Only skeletons are committed; `build(name)` puts the large weights back, drawn from a
fixed numpy seed with the per-tensor mean and standard deviation recorded at export, and
returns the serialized model. `inputs(name, batch)` makes matching feeds. Used by
`tests/test_real_models.py` and `benchmarks/bench_models.py`.
"""

from __future__ import annotations

import json
import zlib
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

MODELS = Path(__file__).resolve().parent / "models"
SEED = 0


@cache
def manifest() -> dict:
    return json.loads((MODELS / "real_models.json").read_text())


def names() -> list[str]:
    return list(manifest())


def _rng(*parts: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32("/".join(parts).encode())])


@lru_cache(maxsize=4)
def build(name: str) -> bytes:
    """The full model `name` as ONNX bytes (needs the `onnx` package)."""
    import onnx
    from onnx import numpy_helper

    entry = manifest()[name]
    model = onnx.load_from_string((MODELS / entry["file"]).read_bytes())
    for spec in entry["stripped"]:
        values = _rng(name, spec["name"]).normal(spec["mean"], spec["std"], spec["dims"]).astype(np.float32)
        model.graph.initializer.append(numpy_helper.from_array(values, spec["name"]))
    return model.SerializeToString()


def inputs(name: str, batch: int = 1) -> dict[str, np.ndarray]:
    """Feeds for `name` with the given batch size (fixed seed)."""
    feeds = {}
    for spec in manifest()[name]["inputs"]:
        shape = [batch if d == "batch" else (24 if d == "sequence" else d) for d in spec["shape"]]
        rng = _rng(name, spec["name"], str(batch))
        if spec["kind"] == "normal":
            feeds[spec["name"]] = rng.standard_normal(shape).astype(np.float32)
        elif spec["kind"] == "tokens":
            feeds[spec["name"]] = rng.integers(0, spec["high"], shape, dtype=np.int64)
        elif spec["kind"] == "padding":
            mask = np.zeros(shape, dtype=bool)
            mask[:, -4:] = True  # the last four positions of every sequence are padding
            feeds[spec["name"]] = mask
        else:
            raise ValueError(f"unknown input kind {spec['kind']!r}")
    return feeds


def samples(name: str, count: int, seed: int) -> list[dict]:
    """`count` batch-1 feeds like inputs(name), drawn from other seeds (dynamic sequence: 24),
    for calibration and quantized-model checks."""
    feeds = []
    for k in range(count):
        f = {}
        for spec in manifest()[name]["inputs"]:
            shape = [1 if d == "batch" else (24 if d == "sequence" else d) for d in spec["shape"]]
            rng = np.random.default_rng([seed, k])
            if spec["kind"] == "normal":
                f[spec["name"]] = rng.standard_normal(shape).astype(np.float32)
            elif spec["kind"] == "tokens":
                f[spec["name"]] = rng.integers(0, spec["high"], shape, dtype=np.int64)
            else:
                mask = np.zeros(shape, dtype=bool)
                mask[:, -4:] = True
                f[spec["name"]] = mask
        feeds.append(f)
    return feeds
