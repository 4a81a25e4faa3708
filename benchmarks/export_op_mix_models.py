"""Export the op-mix benchmark models with PyTorch (needs torch + torchvision; not a test
or package dependency).

    /work/venv-torch/bin/python benchmarks/export_op_mix_models.py [--force]

Writes `benchmarks/.cache/op_mix/<name>.onnx` (git-ignored) for every model of
`benchmarks/op_mix_models.py`, the way `tests/models/make_real_models.py` exports the real
models: TorchScript-based exporter (`dynamo=False`), constant folding, seed 0, parameters
re-drawn with scales that keep activations O(1) (its `_reinit`, plus ConvTranspose2d and
GRU here), so that the bench's 1e-4 output comparison means something. The full models
are kept (no skeleton): they are generated, not committed.

- efficientnet_b0 (torchvision, weights=None): SiLU and squeeze-excitation blocks.
- mobilenet_v3_small (torchvision, weights=None): hard-swish, hard-sigmoid SE.
- vit_tiny: a ViT-style model built here (patch 16 on 224, dim 192, 4 layers, 3 heads).
- unet_small: a small U-Net (ConvTranspose2d, bilinear nn.Upsample, torch.cat skips).
- gru: 2-layer GRU, hidden 128, 50 steps of 64 features, linear head.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

import onnx
import torch
import torchvision

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "models"))

import op_mix_models  # noqa: E402
from make_real_models import _reinit  # noqa: E402

SEED = 0
OPSET = 17


class TinyViT(torch.nn.Module):
    """ViT-style classifier: 16x16 patch-embedding Conv -> class token + learned positions ->
    pre-norm Transformer encoder (GELU MLP) -> LayerNorm -> linear head on the class token."""

    def __init__(self, image=224, patch=16, dim=192, depth=4, heads=3, mlp=768, classes=1000):
        super().__init__()
        self.patch = torch.nn.Conv2d(3, dim, patch, stride=patch)
        tokens = (image // patch) ** 2 + 1
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.position = torch.nn.Parameter(torch.zeros(1, tokens, dim))
        layer = torch.nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=mlp, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, classes)

    def forward(self, image):
        x = self.patch(image).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.position
        x = self.norm(self.encoder(x))
        return self.head(x[:, 0])


def _conv_block(cin: int, cout: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(cout),
        torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(cout),
        torch.nn.ReLU(inplace=True),
    )


class SmallUNet(torch.nn.Module):
    """Three-level U-Net (16-32-64, bottleneck 128): MaxPool down; up by ConvTranspose2d on
    the two deepest levels and by bilinear Upsample + 1x1 Conv on the last; skips by
    concatenation; 1x1 Conv to 2 classes."""

    def __init__(self, widths=(16, 32, 64, 128), classes=2):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.down0, self.down1, self.down2 = _conv_block(3, w0), _conv_block(w0, w1), _conv_block(w1, w2)
        self.bottom = _conv_block(w2, w3)
        self.pool = torch.nn.MaxPool2d(2)
        self.up2 = torch.nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.dec2 = _conv_block(2 * w2, w2)
        self.up1 = torch.nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = _conv_block(2 * w1, w1)
        self.up0 = torch.nn.Sequential(
            torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), torch.nn.Conv2d(w1, w0, 1)
        )
        self.dec0 = _conv_block(2 * w0, w0)
        self.out = torch.nn.Conv2d(w0, classes, 1)

    def forward(self, image):
        s0 = self.down0(image)
        s1 = self.down1(self.pool(s0))
        s2 = self.down2(self.pool(s1))
        x = self.bottom(self.pool(s2))
        x = self.dec2(torch.cat([self.up2(x), s2], dim=1))
        x = self.dec1(torch.cat([self.up1(x), s1], dim=1))
        x = self.dec0(torch.cat([self.up0(x), s0], dim=1))
        return self.out(x)


class GRUClassifier(torch.nn.Module):
    """Float sequence -> 2-layer GRU -> last step -> linear."""

    def __init__(self, features=64, hidden=128, classes=10):
        super().__init__()
        self.gru = torch.nn.GRU(features, hidden, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(hidden, classes)

    def forward(self, sequence):
        out, _ = self.gru(sequence)
        return self.head(out[:, -1, :])


def _reinit_all(model: torch.nn.Module) -> torch.nn.Module:
    """make_real_models' scales, plus ConvTranspose2d (fan-in: in_channels * k*k / stride^2
    inputs reach each output) and GRU (uniform +-1/sqrt(hidden), PyTorch's own scale)."""
    _reinit(model)
    for module in model.modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            kh, kw = module.kernel_size
            sh, sw = module.stride
            fan_in = module.in_channels * max(1, (kh * kw) // (sh * sw))
            torch.nn.init.normal_(module.weight, 0.0, math.sqrt(1.0 / fan_in))
            torch.nn.init.normal_(module.bias, 0.0, 0.05)
        elif isinstance(module, torch.nn.GRU):
            bound = 1.0 / math.sqrt(module.hidden_size)
            for p in module.parameters():
                torch.nn.init.uniform_(p, -bound, bound)
    return model


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(SEED)
    if name == "efficientnet_b0_op17":
        model = torchvision.models.efficientnet_b0(weights=None)
    elif name == "mobilenet_v3_small_op17":
        model = torchvision.models.mobilenet_v3_small(weights=None)
    elif name == "vit_tiny_op17":
        model = TinyViT()
    elif name == "unet_small_op17":
        model = SmallUNet()
    elif name == "gru_op17":
        model = GRUClassifier()
    else:
        raise ValueError(f"no exporter for {name!r}")
    _reinit_all(model)
    if name == "vit_tiny_op17":
        torch.nn.init.normal_(model.cls, 0.0, 0.1)
        torch.nn.init.normal_(model.position, 0.0, 0.1)
    return model.eval()


def export(name: str) -> onnx.ModelProto:
    spec = op_mix_models.MODELS[name]
    model = _model(name)
    args = tuple(torch.randn(*i["shape"]) for i in spec["inputs"])
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            buffer,
            opset_version=OPSET,
            input_names=[i["name"] for i in spec["inputs"]],
            output_names=["output"],
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    proto.producer_name = "pytorch"
    return proto


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None, help="subset (default: all)")
    parser.add_argument("--force", action="store_true", help="re-export models already in the cache")
    args = parser.parse_args()
    op_mix_models.CACHE.mkdir(parents=True, exist_ok=True)
    for name in args.models or op_mix_models.names():
        path = op_mix_models.path(name)
        if path.is_file() and not args.force:
            print(f"{path}: already there (--force to re-export)")
            continue
        proto = export(name)
        path.write_bytes(proto.SerializeToString())
        ops = sorted({n.op_type for n in proto.graph.node})
        print(f"{path}: {path.stat().st_size} bytes, {len(proto.graph.node)} nodes, ops {ops}", flush=True)


if __name__ == "__main__":
    main()
