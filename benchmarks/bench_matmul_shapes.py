"""One MatMul or Gemm at a time: swiftconv vs onnxruntime.

    python benchmarks/bench_matmul_shapes.py                 # every shape, 1 thread
    python benchmarks/bench_matmul_shapes.py --shapes "gemm 1x1280 -> 1000"

The shapes are the products of the models `bench_models.py` runs: vit_tiny's token-by-weight
MatMuls (197 tokens; the activation is packed on every run) and the batch-1 classifiers
(Gemm with transB, one row of A: a product per output over the weights' rows). As in
`bench_conv_shapes.py`, one thread is timed by the calling thread's CPU time, the best of
`--blocks` blocks of 5 runs interleaved between the engines. GFLOP/s counts 2 x m x k x n.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper
from op_timing import time_both

# name: (op, m, k, n, transB)
SHAPES = {
    "matmul 197x192 @ 192x576": ("MatMul", 197, 192, 576, False),
    "matmul 197x192 @ 192x768": ("MatMul", 197, 192, 768, False),
    "matmul 197x768 @ 768x192": ("MatMul", 197, 768, 192, False),
    "matmul 197x192 @ 192x192": ("MatMul", 197, 192, 192, False),
    "matmul 1024^3": ("MatMul", 1024, 1024, 1024, False),
    "gemm 1x512 -> 1000": ("Gemm", 1, 512, 1000, True),
    "gemm 1x576 -> 1024": ("Gemm", 1, 576, 1024, True),
    "gemm 1x1024 -> 1000": ("Gemm", 1, 1024, 1000, True),
    "gemm 1x1280 -> 1000": ("Gemm", 1, 1280, 1000, True),
    "gemm 1x576 -> 1024, B not transposed": ("Gemm", 1, 576, 1024, False),
}


def product_model(op: str, m: int, k: int, n: int, trans_b: bool) -> bytes:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n, k) if trans_b else (k, n)) * 0.1).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(w, "W")]
    if op == "Gemm":
        inits.append(onnx.numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "B"))
        node = helper.make_node("Gemm", ["X", "W", "B"], ["Y"], transB=int(trans_b))
    else:
        node = helper.make_node("MatMul", ["X", "W"], ["Y"])
    graph = helper.make_graph(
        [node],
        "product",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        inits,
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
    print("| product | swiftconv ms | GFLOP/s | onnxruntime ms | GFLOP/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.shapes:
        op, m, k, n, trans_b = SHAPES[name]
        data = product_model(op, m, k, n, trans_b)
        x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
        a, b, _ = time_both(data, {"X": x}, args.threads, args.blocks, 5 if m * k * n > 1_000_000 else 50)
        flops = 2 * m * k * n
        print(
            f"| {name} | {a * 1e3:.3f} | {flops / a / 1e9:.1f} | {b * 1e3:.3f} | {flops / b / 1e9:.1f} | {a / b:.2f} |"
        )


if __name__ == "__main__":
    main()
