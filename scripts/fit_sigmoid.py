#!/usr/bin/env python3
"""Fits the exponential that the AVX2 sigmoid and swish loops use (elementwise_avx2.c, `exp_table8`).

e^z = 2^n * 2^(j/8) * e^r with z = (8n + j) ln2/8 + r, |r| <= ln2/16: the eight 2^(j/8) come
from one in-register table (a permute), so e^r only needs a cubic on that short interval.
This script fits the cubic 1 + c1 r + c2 r^2 + c3 r^3 for the least maximum relative error
(Lawson's iteratively reweighted least squares on a dense grid), rounds it to float32, prints
the C constants and the table words, then emulates the float32 kernel (one rounding per
fused multiply-add) and reports its error against float64 for sigmoid over [-100, 100].

Usage: scripts/fit_sigmoid.py
"""

import numpy as np

LN2 = np.log(2.0)
HALF_STEP = LN2 / 16
# ln2/8 split in two: the high part has few enough bits that k * high is exact for |k| < 2^11.
LN2_8_HI = np.float32(0.0866699219)
LN2_8_LO = np.float32(LN2 / 8 - float(LN2_8_HI))


def fit_cubic() -> np.ndarray:
    """c1, c2, c3 minimizing max |(1 + c1 r + c2 r^2 + c3 r^3) / e^r - 1| on |r| <= ln2/16."""
    # A little past ln2/16: the reduced argument is rounded.
    r = np.linspace(-HALF_STEP * 1.002, HALF_STEP * 1.002, 8001)
    a = np.stack([r, r**2, r**3], axis=1) / np.exp(r)[:, None]
    b = 1 - 1 / np.exp(r)
    w = np.full(r.size, 1.0 / r.size)
    for _ in range(2000):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
        err = np.abs(a @ c - b)
        w = w * err
        w /= w.sum()
    return c


def table_words() -> list[int]:
    """T[j] = mantissa bits of 2^(j/8) minus j << 20 (int32), see `exp_table8`."""
    words = []
    for j in range(8):
        bits = int(np.float32(2.0 ** (j / 8)).view(np.uint32))
        words.append(((bits - 0x3F800000 - (j << 20)) + 2**31) % 2**32 - 2**31)
    return words


def fma32(a, b, c):
    """float32 fused multiply-add: the float64 product of two float32 is exact."""
    return (a.astype(np.float64) * b + c).astype(np.float32)


def exp_kernel(z: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The float32 steps of `exp_table8` for z in [-87.3, 128 ln2]."""
    z = z.astype(np.float32)
    k = np.rint(fma32(z, np.float32(8 / LN2), np.float32(0))).astype(np.float32)
    r = fma32(-k, LN2_8_HI, z)
    r = fma32(-k, LN2_8_LO, r)
    c1, c2, c3 = (np.float32(v) for v in c)
    p = fma32(np.full_like(r, c3), r, c2)
    p = fma32(p, r, c1)
    p = fma32(p, r, np.float32(1))
    ki = k.astype(np.int64)
    scale = (2.0 ** (ki // 8)) * np.float32(2.0 ** ((ki % 8) / 8)).astype(np.float64)
    with np.errstate(over="ignore"):  # 2^128 at the clamp: +inf, as in the kernel
        return (p.astype(np.float64) * scale).astype(np.float32)


def main() -> None:
    c = fit_cubic().astype(np.float32)
    r = np.linspace(-HALF_STEP, HALF_STEP, 200001)
    rel = np.abs((1 + r * (c[0] + r * (c[1] + r * c[2].astype(np.float64)))) / np.exp(r) - 1)
    print(f"cubic: c1 = {c[0]:.9e}f, c2 = {c[1]:.9e}f, c3 = {c[2]:.9e}f")
    print(f"  max relative error of the float32-rounded cubic (float64 arithmetic): {rel.max():.3e}")
    print("table words:", ", ".join(f"{w}" for w in table_words()))
    print(f"ln2/8 = {float(LN2_8_HI):.10f}f + {float(LN2_8_LO):.9e}f")

    x = np.linspace(-100, 100, 2_000_001).astype(np.float32)
    # The kernel's clamp; its upper end, float32(128 ln2), builds +inf (sigmoid 0).
    z = np.clip(-x, np.float32(-87.3), np.float32(88.72283935546875)).astype(np.float32)
    e = exp_kernel(z, c)
    s = (np.float32(1) / (np.float32(1) + e)).astype(np.float32)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    normal = exact >= np.finfo(np.float32).tiny
    print(
        f"sigmoid over [-100, 100] (float32 emulation): max abs error {np.abs(s - exact).max():.3e}, "
        f"max relative error where sigmoid(x) is a normal float {np.abs(s / exact - 1)[normal].max():.3e}"
    )
    zz = np.linspace(-87.3, 88, 2_000_001).astype(np.float32)
    print(
        f"exp over [-87.3, 88]: max relative error {np.abs(exp_kernel(zz, c) / np.exp(zz.astype(np.float64)) - 1).max():.3e}"
    )


if __name__ == "__main__":
    main()
