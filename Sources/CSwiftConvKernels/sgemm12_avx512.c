// The AVX-512F GEMM tile over the AVX2 tile's packing: two 6-row A panels against one
// 16-column B panel, one zmm accumulator per row. Per depth step it issues one zmm load of B
// and twelve FMAs with embedded broadcasts of A (`vfmadd231ps zmm, zmm, [a]{1to16}`), 384
// flops in 13 instructions where the 6x16 AVX2 tile needs 20 for 192. Compiled for every
// x86-64 CPU (per-function target attributes) and called only when scv_use_avx512_gemm_pair()
// says so; other architectures get stubs that are never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

int scv_use_avx512_gemm_pair(void) {
    const char *v = getenv("SWIFTCONV_GEMM_AVX512");
    return !(v && strcmp(v, "0") == 0) && scv_cpu_has_avx512f();
}

#define SCV_AVX512 __attribute__((target("avx512f,avx2,fma")))

/// Finishes one row of the tile exactly as the AVX2 tile's finish_vector does (same
/// operations in the same order, so the results are bit for bit the same): alpha, beta * C
/// (only the lanes of `mask` are read), then (on the last depth block) bias and clamp.
SCV_AVX512 static inline __m512 finish_row(__m512 v, const float *c, __mmask16 mask, float alpha, float beta,
                                           const scv_tile_finish *finish, ptrdiff_t row) {
    if (alpha != 1.0f) v = _mm512_mul_ps(v, _mm512_set1_ps(alpha));
    if (beta != 0.0f) v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, c), _mm512_set1_ps(beta), v);
    if (finish) {
        if (finish->row_bias) v = _mm512_add_ps(v, _mm512_set1_ps(finish->row_bias[row]));
        // NaN-preserving operand order: max and min return their second operand on NaN.
        v = _mm512_min_ps(_mm512_set1_ps(finish->hi), _mm512_max_ps(_mm512_set1_ps(finish->lo), v));
    }
    return v;
}

/// Six rows of `a0` and `R` (1..6) rows of `a1` by 16 columns over depth `kb`. `R` is a
/// constant at every call, so the twelve accumulators stay in registers.
SCV_AVX512 static inline __attribute__((always_inline)) void tile_pair(
    const int R, ptrdiff_t kb, const float *a0, const float *a1, const float *b, float *c, ptrdiff_t ldc,
    ptrdiff_t cols, float alpha, float beta, const scv_tile_finish *finish) {
    __m512 acc[12];
    for (int r = 0; r < 12; r++) acc[r] = _mm512_setzero_ps();
    for (ptrdiff_t k = 0; k < kb; k++) {
        const __m512 bv = _mm512_loadu_ps(b);
        // Same operand order as the AVX2 tile: acc = a * b + acc.
        for (int r = 0; r < 6; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a0[r]), bv, acc[r]);
        for (int r = 0; r < R; r++) acc[6 + r] = _mm512_fmadd_ps(_mm512_set1_ps(a1[r]), bv, acc[6 + r]);
        a0 += 6;
        a1 += 6;
        b += 16;
    }
    const __mmask16 mask = (__mmask16)((1u << cols) - 1u);
#pragma GCC unroll 12
    for (int r = 0; r < 6 + R; r++) {
        float *p = c + r * ldc;
        _mm512_mask_storeu_ps(p, mask, finish_row(acc[r], p, mask, alpha, beta, finish, r));
    }
}

SCV_AVX512 void scv_sgemm_tile_12x16_avx512(ptrdiff_t kb, const float *a0, const float *a1, const float *b,
                                            float *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, float alpha,
                                            float beta, const scv_tile_finish *finish) {
#define SCV_PAIR(R) tile_pair(R, kb, a0, a1, b, c, ldc, cols, alpha, beta, finish)
    switch (rows) {
    case 12: SCV_PAIR(6); return;
    case 11: SCV_PAIR(5); return;
    case 10: SCV_PAIR(4); return;
    case 9: SCV_PAIR(3); return;
    case 8: SCV_PAIR(2); return;
    default: SCV_PAIR(1); return;
    }
#undef SCV_PAIR
}

#else

int scv_use_avx512_gemm_pair(void) { return 0; }

void scv_sgemm_tile_12x16_avx512(ptrdiff_t kb, const float *a0, const float *a1, const float *b, float *c,
                                 ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                                 const scv_tile_finish *finish) {
    (void)kb; (void)a0; (void)a1; (void)b; (void)c; (void)ldc; (void)rows; (void)cols; (void)alpha; (void)beta;
    (void)finish;
}

#endif
