"""One convolution (+ Relu, which both engines fuse) at a time: swiftconv vs onnxruntime.

    python benchmarks/bench_conv_shapes.py                 # every shape, 1 thread
    python benchmarks/bench_conv_shapes.py --threads 2     # wall clock instead of CPU time
    python benchmarks/bench_conv_shapes.py --shapes "3x3 64 56" "1x1 160->960 7"

The shapes are the convolutions that dominate the CNNs of `bench_models.py` (ResNet-18's 3x3
stages and 7x7 stem, MobileNetV2's and EfficientNet-B0's pointwise convolutions, SqueezeNet 1.1's
stem and fire modules). With one thread both engines compute
on the calling thread, so the time is that thread's CPU time (`time.thread_time`), which other
jobs on a shared machine disturb far less than the wall clock; the best of 15 blocks of 5 runs,
interleaved between the engines. GFLOP/s counts 2 x multiply-adds.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper
from op_timing import time_both

# name: (input shape, weight shape, Conv attributes)
SHAPES = {
    "3x3 64 56": ((1, 64, 56, 56), (64, 64, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3 128 28": ((1, 128, 28, 28), (128, 128, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3 256 14": ((1, 256, 14, 14), (256, 256, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3 512 7": ((1, 512, 7, 7), (512, 512, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3/2 64->128 56": ((1, 64, 56, 56), (128, 64, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "7x7/2 3->64 224": ((1, 3, 224, 224), (64, 3, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
    "1x1 96->24 56": ((1, 96, 56, 56), (24, 96, 1, 1), {}),
    "1x1 24->144 56": ((1, 24, 56, 56), (144, 24, 1, 1), {}),
    "1x1 32->16 112": ((1, 32, 112, 112), (16, 32, 1, 1), {}),
    "1x1 576->96 14": ((1, 576, 14, 14), (96, 576, 1, 1), {}),
    "1x1 160->960 7": ((1, 160, 7, 7), (960, 160, 1, 1), {}),
    "1x1 960->160 7": ((1, 960, 7, 7), (160, 960, 1, 1), {}),
    # EfficientNet-B0's pointwise convolutions on 14x14 and 7x7 maps.
    "1x1 112->672 14": ((1, 112, 14, 14), (672, 112, 1, 1), {}),
    "1x1 672->112 14": ((1, 672, 14, 14), (112, 672, 1, 1), {}),
    "1x1 192->1152 7": ((1, 192, 7, 7), (1152, 192, 1, 1), {}),
    "1x1 1152->192 7": ((1, 1152, 7, 7), (192, 1152, 1, 1), {}),
    "1x1 320->1280 7": ((1, 320, 7, 7), (1280, 320, 1, 1), {}),
    # MobileNetV3-small's last stage.
    "1x1 576->96 7": ((1, 576, 7, 7), (96, 576, 1, 1), {}),
    "1x1 96->576 7": ((1, 96, 7, 7), (576, 96, 1, 1), {}),
    # SqueezeNet 1.1: its stem, the fire modules' squeeze (1x1 to few channels) and expand
    # (1x1 and 3x3 from few channels) convolutions, and the classifier.
    "3x3/2 3->64 224": ((1, 3, 224, 224), (64, 3, 3, 3), {"strides": [2, 2]}),
    "1x1 64->16 55": ((1, 64, 55, 55), (16, 64, 1, 1), {}),
    "1x1 128->16 55": ((1, 128, 55, 55), (16, 128, 1, 1), {}),
    "1x1 16->64 55": ((1, 16, 55, 55), (64, 16, 1, 1), {}),
    "3x3 16->64 55": ((1, 16, 55, 55), (64, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    "1x1 256->32 27": ((1, 256, 27, 27), (32, 256, 1, 1), {}),
    "1x1 32->128 27": ((1, 32, 27, 27), (128, 32, 1, 1), {}),
    "3x3 32->128 27": ((1, 32, 27, 27), (128, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "1x1 384->48 13": ((1, 384, 13, 13), (48, 384, 1, 1), {}),
    "1x1 48->192 13": ((1, 48, 13, 13), (192, 48, 1, 1), {}),
    "3x3 48->192 13": ((1, 48, 13, 13), (192, 48, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3 64->256 13": ((1, 64, 13, 13), (256, 64, 3, 3), {"pads": [1, 1, 1, 1]}),
    "1x1 512->1000 13": ((1, 512, 13, 13), (1000, 512, 1, 1), {}),
    # Stems and convolutions of few input channels (DirectConv): MobileNetV2's and EfficientNet-B0's,
    # MobileNetV3's, and UNet-small's first two at its 128x128 input and its last decoder's.
    "3x3/2 3->32 224": ((1, 3, 224, 224), (32, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "3x3/2 3->16 224": ((1, 3, 224, 224), (16, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    "3x3 3->16 128": ((1, 3, 128, 128), (16, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3 16->16 128": ((1, 16, 128, 128), (16, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3 32->16 128": ((1, 32, 128, 128), (16, 32, 3, 3), {"pads": [1, 1, 1, 1]}),
    "3x3 16->32 64": ((1, 16, 64, 64), (32, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    # Squeeze-excitation on a pooled 1x1 map (EfficientNet-B0, MobileNetV3).
    "1x1 1152->48 1": ((1, 1152, 1, 1), (48, 1152, 1, 1), {}),
    "1x1 48->1152 1": ((1, 48, 1, 1), (1152, 48, 1, 1), {}),
    "1x1 576->144 1": ((1, 576, 1, 1), (144, 576, 1, 1), {}),
}


def conv_model(x_shape, w_shape, attrs) -> bytes:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal(w_shape) * 0.1).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["X", "W", "B"], ["Y"], **attrs), helper.make_node("Relu", ["Y"], ["Z"])],
        "conv",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--blocks", type=int, default=15)
    args = parser.parse_args()
    print("| conv | swiftconv ms | GFLOP/s | onnxruntime ms | GFLOP/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.shapes:
        x_shape, w_shape, attrs = SHAPES[name]
        data = conv_model(x_shape, w_shape, attrs)
        x = np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)
        a, b, expected = time_both(data, {"X": x}, args.threads, args.blocks, 5)
        flops = 2 * np.prod(w_shape) * np.prod(expected.shape[2:])
        print(
            f"| {name} | {a * 1e3:.3f} | {flops / a / 1e9:.1f} | {b * 1e3:.3f} | {flops / b / 1e9:.1f} | {a / b:.2f} |"
        )


if __name__ == "__main__":
    main()
