// The machine's single-precision FMA peak, for `swiftconv-bench-gemm` only (never linked
// into libswiftconv).
#ifndef SWIFTCONV_BENCH_H
#define SWIFTCONV_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Runs `iterations` rounds of independent FMA chains (12 on ymm, 16 on zmm) on ymm (`width` 8) or zmm
/// (`width` 16) registers and returns the float operations done (2 per lane per FMA), or 0
/// when this CPU or build lacks that width (AVX2+FMA, AVX-512F). `sink` receives a value
/// that depends on every chain, so the loop cannot be removed.
int64_t scv_bench_fma_chains(int width, int64_t iterations, float *sink);

#ifdef __cplusplus
}
#endif

#endif
