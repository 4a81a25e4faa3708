"""The op-mix benchmark models: torch exports that stress op families the real models of
`tests/test_real_models.py` do not (issue 12).

They are made by `benchmarks/export_op_mix_models.py` (needs torch + torchvision) into
`benchmarks/.cache/op_mix/` (git-ignored: 1-25 MB each, regenerated, never committed).
This module only knows their names, files and inputs; it needs neither torch nor onnx,
so both the export script and `benchmarks/bench_models.py` use it.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache" / "op_mix"
SEED = 0
HOW_TO_MAKE = (
    "make them with a Python that has torch and torchvision: "
    "`/work/venv-torch/bin/python benchmarks/export_op_mix_models.py` "
    "(or any `python -m venv v && v/bin/pip install torch torchvision onnx`)"
)

# name -> the op mix it stresses and its inputs (batch 1, float32 normal feeds)
MODELS: dict[str, dict] = {
    "efficientnet_b0_op17": {
        "stresses": "SiLU (Sigmoid * Mul), squeeze-excitation (GlobalAveragePool, 1x1 Conv, Sigmoid, broadcast Mul), depthwise 3x3 and 5x5",
        "inputs": [{"name": "image", "shape": [1, 3, 224, 224]}],
    },
    "mobilenet_v3_small_op17": {
        "stresses": "HardSwish, HardSigmoid squeeze-excitation, depthwise 3x3 and 5x5",
        "inputs": [{"name": "image", "shape": [1, 3, 224, 224]}],
    },
    "vit_tiny_op17": {
        "stresses": "ViT: 16x16 patch-embedding Conv, 197 tokens, LayerNormalization, MatMul attention, Softmax, Erf GELU",
        "inputs": [{"name": "image", "shape": [1, 3, 224, 224]}],
    },
    "unet_small_op17": {
        "stresses": "U-Net: Conv+BatchNorm+ReLU, MaxPool, ConvTranspose 2x2 stride 2, bilinear Resize, Concat skips",
        "inputs": [{"name": "image", "shape": [1, 3, 128, 128]}],
    },
    "gru_op17": {
        "stresses": "2-layer GRU (hidden 128) over 50 steps, Linear head",
        "inputs": [{"name": "sequence", "shape": [1, 50, 64]}],
    },
}


def names() -> list[str]:
    return list(MODELS)


def path(name: str) -> Path:
    return CACHE / f"{name}.onnx"


def available() -> list[str]:
    """The op-mix models already exported into the cache."""
    return [n for n in MODELS if path(n).is_file()]


def build(name: str) -> bytes:
    """The exported model `name` as ONNX bytes; FileNotFoundError with how to make it."""
    p = path(name)
    if not p.is_file():
        raise FileNotFoundError(f"op-mix model {name!r} is not in {CACHE}: {HOW_TO_MAKE}")
    return p.read_bytes()


def inputs(name: str, batch: int = 1) -> dict[str, np.ndarray]:
    """Feeds for `name` (fixed seed); `batch` replaces the leading 1 of each shape."""
    feeds = {}
    for spec in MODELS[name]["inputs"]:
        shape = [batch, *spec["shape"][1:]]
        rng = np.random.default_rng([SEED, zlib.crc32(f"{name}/{spec['name']}/{batch}".encode())])
        feeds[spec["name"]] = rng.standard_normal(shape).astype(np.float32)
    return feeds
