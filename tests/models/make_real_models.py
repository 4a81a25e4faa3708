"""Export the "real model" fixtures with PyTorch (needs torch + torchvision; not a test dependency).

    python -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch torchvision onnx
    /tmp/venv-torch/bin/python tests/models/make_real_models.py

The LSTM classifier and the Transformer encoder are exported at opsets 13 and 17, as the
CNNs are (issue 10 converts all of them at both).

Made with torch 2.15.0, torchvision 0.29.2 and the TorchScript-based exporter
(`torch.onnx.export(..., dynamo=False)`), seed 0.

The full models are 5-45 MB each, so only *skeletons* are committed: every float
initializer with at least `STRIP_MIN` elements is removed from the graph and recorded in
`real_models.json` with its shape and the mean and standard deviation of the values torch
exported. `tests/real_models.py` refills them from a fixed numpy seed with those
statistics, so the tests need neither torch nor large files. Smaller initializers (biases,
shape constants, attention scales) stay in the skeleton unchanged.

Before export each model's parameters are re-drawn with sane scales (BatchNorm statistics
and affine terms away from the identity, Kaiming-scaled weights): torchvision's own
initialisation makes some of these networks output values near 1e-9, which would make a
1e-4 comparison meaningless.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import onnx
import torch
import torchvision
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
STRIP_MIN = 4096
SEED = 0


class LSTMClassifier(torch.nn.Module):
    """Token ids -> embedding -> 2-layer LSTM -> last state -> linear; the classic text
    classifier shape."""

    def __init__(self, vocab=1000, embed=64, hidden=128, classes=5):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embed)
        self.lstm = torch.nn.LSTM(embed, hidden, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(hidden, classes)

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        return self.head(out[:, -1, :])


class TinyTransformerEncoder(torch.nn.Module):
    """Embeddings + learned positions -> 2 pre-norm encoder layers (4 heads, d=64) ->
    mean pool -> linear, with a padding mask input."""

    def __init__(self, vocab=1000, d_model=64, heads=4, layers=2, seq=32, classes=3):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, d_model)
        self.position = torch.nn.Parameter(torch.zeros(1, seq, d_model))
        layer = torch.nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=4 * d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(d_model)
        self.head = torch.nn.Linear(d_model, classes)

    def forward(self, tokens, padding_mask):
        x = self.embedding(tokens) + self.position
        x = self.encoder(x, src_key_padding_mask=padding_mask)
        return self.head(self.norm(x).mean(dim=1))


def _reinit(model: torch.nn.Module) -> None:
    """Draw parameters and BatchNorm statistics with scales that keep activations O(1)."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = module.weight[0].numel()
            torch.nn.init.normal_(module.weight, 0.0, math.sqrt(1.0 / fan_in))
            if module.bias is not None:
                torch.nn.init.normal_(module.bias, 0.0, 0.05)
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.normal_(module.bias, 0.0, 0.1)
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
        elif isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.uniform_(module.weight, 0.8, 1.2)
            torch.nn.init.normal_(module.bias, 0.0, 0.05)
        elif isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, 0.0, 1.0)
    for name, param in model.named_parameters():
        if name == "position":
            torch.nn.init.normal_(param, 0.0, 0.1)


def _math_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **_):
    """scaled_dot_product_attention written out, for opset 13: the exporter maps the fused
    operator only from opset 14. Same arithmetic, so the same model."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = torch.matmul(query, key.transpose(-2, -1)) * scale
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    return torch.matmul(torch.softmax(scores, dim=-1), value)


def _export(model, args, opset, input_names, output_names, dynamic_axes=None) -> onnx.ModelProto:
    buffer = io.BytesIO()
    fused = torch.nn.functional.scaled_dot_product_attention
    if opset < 14:
        torch.nn.functional.scaled_dot_product_attention = _math_attention
    try:
        _export_to(buffer, model, args, opset, input_names, output_names, dynamic_axes)
    finally:
        torch.nn.functional.scaled_dot_product_attention = fused
    return onnx.load_from_string(buffer.getvalue())


def _export_to(buffer, model, args, opset, input_names, output_names, dynamic_axes) -> None:
    torch.onnx.export(
        model.eval(),
        args,
        buffer,
        opset_version=opset,
        input_names=input_names,
        output_names=output_names,
        dynamic_axes=dynamic_axes,
        do_constant_folding=True,
        dynamo=False,
    )


def _strip(model: onnx.ModelProto) -> list[dict]:
    """Remove large float initializers; return what `tests/real_models.py` needs to refill them."""
    kept, stripped = [], []
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and math.prod(init.dims) >= STRIP_MIN:
            values = numpy_helper.to_array(init).astype(np.float64)
            stripped.append(
                {"name": init.name, "dims": list(init.dims), "mean": float(values.mean()), "std": float(values.std())}
            )
        else:
            kept.append(init)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return stripped


def _torchvision(name: str):
    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None)
    _reinit(model)
    return model


def _specs():
    image = torch.randn(1, 3, 224, 224)
    for arch in ("mobilenet_v2", "resnet18", "squeezenet1_1"):
        for opset in (13, 17):
            dynamic = arch == "resnet18" and opset == 17
            yield {
                "name": f"{arch}_op{opset}" + ("_dynbatch" if dynamic else ""),
                "build": lambda arch=arch: _torchvision(arch),
                "args": (image,),
                "opset": opset,
                "inputs": [{"name": "image", "shape": ["batch" if dynamic else 1, 3, 224, 224], "kind": "normal"}],
                "outputs": ["logits"],
                "dynamic_axes": {"image": {0: "batch"}, "logits": {0: "batch"}} if dynamic else None,
            }

    def lstm():
        torch.manual_seed(SEED)
        model = LSTMClassifier()
        _reinit(model)
        return model

    for opset in (13, 17):
        yield {
            "name": f"lstm_classifier_op{opset}",
            "build": lstm,
            "args": (torch.randint(0, 1000, (1, 24)),),
            "opset": opset,
            "inputs": [{"name": "tokens", "shape": ["batch", "sequence"], "kind": "tokens", "high": 1000}],
            "outputs": ["logits"],
            "dynamic_axes": {"tokens": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
        }

    def transformer():
        torch.manual_seed(SEED)
        model = TinyTransformerEncoder()
        _reinit(model)
        return model

    mask = torch.zeros(1, 32, dtype=torch.bool)
    mask[:, 28:] = True
    for opset in (13, 17):
        yield {
            "name": f"transformer_encoder_op{opset}",
            "build": transformer,
            "args": (torch.randint(0, 1000, (1, 32)), mask),
            "opset": opset,
            "inputs": [
                {"name": "tokens", "shape": ["batch", 32], "kind": "tokens", "high": 1000},
                {"name": "padding_mask", "shape": ["batch", 32], "kind": "padding"},
            ],
            "outputs": ["logits"],
            "dynamic_axes": {"tokens": {0: "batch"}, "padding_mask": {0: "batch"}, "logits": {0: "batch"}},
        }


def main() -> None:
    manifest = {}
    for spec in _specs():
        model = _export(
            spec["build"](),
            spec["args"],
            spec["opset"],
            [i["name"] for i in spec["inputs"]],
            spec["outputs"],
            spec["dynamic_axes"],
        )
        model.producer_name = "pytorch"
        stripped = _strip(model)
        path = HERE / f"{spec['name']}.skel.onnx"
        path.write_bytes(model.SerializeToString())
        manifest[spec["name"]] = {
            "file": path.name,
            "opset": spec["opset"],
            "inputs": spec["inputs"],
            "stripped": stripped,
        }
        ops = sorted({n.op_type for n in model.graph.node})
        print(f"{path.name}: {path.stat().st_size} bytes, {len(stripped)} stripped, ops {ops}")
    (HERE / "real_models.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
