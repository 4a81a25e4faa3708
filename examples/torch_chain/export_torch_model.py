"""Step 1 of the classic chain: a PyTorch model exported to ONNX (needs torch; not run in CI).

    python -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch onnx
    /tmp/venv-torch/bin/python examples/torch_chain/export_torch_model.py

Writes, next to this file:
- `small_convnet.onnx`: a small MobileNet-style network (Conv + BatchNorm + ReLU6, a
  depthwise-separable block with a residual Add, global pooling, a Linear head), exported by
  `torch.onnx.export(..., opset_version=17, dynamo=False)` with a dynamic batch axis;
- `torch_reference.npz`: `inputs` (8 images, seed 0) and `outputs`, what PyTorch computed
  for them, so the chain can be checked against the source framework without torch.

Made with torch 2.15.0 and onnx 1.23.2.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


class SmallConvNet(torch.nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU6()
        )
        self.depthwise = torch.nn.Sequential(
            torch.nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU6()
        )
        self.pointwise = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 1, bias=False), torch.nn.BatchNorm2d(16))
        self.expand = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU())
        self.head = torch.nn.Linear(32, classes)

    def forward(self, image):
        x = self.stem(image)
        x = x + self.pointwise(self.depthwise(x))
        x = self.expand(x)
        return self.head(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def main() -> None:
    torch.manual_seed(0)
    model = SmallConvNet()
    # BatchNorm statistics away from the identity, so that folding them is exercised.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.normal_(m.bias, 0.0, 0.1)
            m.running_mean.normal_(0.0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    inputs = np.random.default_rng(0).standard_normal((8, 3, 32, 32)).astype(np.float32)
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        (torch.from_numpy(inputs[:1]),),
        buffer,
        opset_version=17,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True,
        dynamo=False,
    )
    (HERE / "small_convnet.onnx").write_bytes(buffer.getvalue())
    with torch.no_grad():
        outputs = model(torch.from_numpy(inputs)).numpy()
    np.savez_compressed(HERE / "torch_reference.npz", inputs=inputs, outputs=outputs)
    print(f"small_convnet.onnx: {len(buffer.getvalue())} bytes; outputs {outputs.shape}")


if __name__ == "__main__":
    main()
