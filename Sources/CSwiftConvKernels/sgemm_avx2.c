// AVX2+FMA inner loops. Compiled for every x86-64 CPU (per-function target attributes) and
// called only when scv_cpu_has_avx2_fma() says so; other architectures get stubs that are
// never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int scv_cpu_has_avx2_fma(void) {
    // SWIFTCONV_PORTABLE_KERNELS=1 keeps the portable kernels, so tests can check them here.
    const char *portable = getenv("SWIFTCONV_PORTABLE_KERNELS");
    if (portable && portable[0] && strcmp(portable, "0") != 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define SCV_AVX2 __attribute__((target("avx2,fma")))

/// Finishes eight values of a tile row at `c`: alpha, beta * C (only the lanes of `mask` are
/// read), then (on the last depth block) bias and clamp.
SCV_AVX2 static inline __m256 finish_vector(__m256 v, const float *c, __m256i mask, float alpha, float beta,
                                            const scv_tile_finish *finish, ptrdiff_t row) {
    if (alpha != 1.0f) v = _mm256_mul_ps(v, _mm256_set1_ps(alpha));
    if (beta != 0.0f) v = _mm256_fmadd_ps(_mm256_maskload_ps(c, mask), _mm256_set1_ps(beta), v);
    if (finish) {
        if (finish->row_bias) v = _mm256_add_ps(v, _mm256_set1_ps(finish->row_bias[row]));
        // NaN-preserving operand order: max and min return their second operand on NaN.
        v = _mm256_min_ps(_mm256_set1_ps(finish->hi), _mm256_max_ps(_mm256_set1_ps(finish->lo), v));
    }
    return v;
}

/// One tile of `R` rows (1..6) by `V` vectors of eight columns (1 or 2) over depth `kb`: the
/// 6x16 loop without the rows and vectors past the edge of C, so an edge tile costs what it
/// computes (49 columns are three tiles and one column; 16 rows are 6 + 6 + 4). Packed panels
/// keep their strides of 6 rows and 16 columns. `R` and `V` are constants at every call, so
/// the accumulators stay in registers.
SCV_AVX2 static inline __attribute__((always_inline)) void tile_rows_vectors(
    const int R, const int V, ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
    ptrdiff_t cols, float alpha, float beta, const scv_tile_finish *finish) {
    __m256 acc[6][2];
    for (int r = 0; r < R; r++) {
        acc[r][0] = _mm256_setzero_ps();
        acc[r][1] = _mm256_setzero_ps();
    }
    for (ptrdiff_t k = 0; k < kb; k++) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = V > 1 ? _mm256_loadu_ps(b + 8) : b0;
        for (int r = 0; r < R; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            if (V > 1) acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
        a += 6;
        b += 16;
    }
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 2
    for (int v = 0; v < V; v++) {
        const ptrdiff_t left = cols - 8 * v;
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? left : 8)), lanes);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            float *p = c + r * ldc + 8 * v;
            const __m256 value = finish_vector(acc[r][v], p, mask, alpha, beta, finish, r);
            if (left >= 8)
                _mm256_storeu_ps(p, value);
            else
                _mm256_maskstore_ps(p, mask, value);
        }
    }
}

SCV_AVX2 void scv_sgemm_tile_6x16_avx2(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                       ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                                       const scv_tile_finish *finish) {
#define SCV_TILE(R, V) tile_rows_vectors(R, V, kb, a, b, c, ldc, cols, alpha, beta, finish)
    if (cols > 8) {
        switch (rows) {
        case 6: SCV_TILE(6, 2); return;
        case 5: SCV_TILE(5, 2); return;
        case 4: SCV_TILE(4, 2); return;
        case 3: SCV_TILE(3, 2); return;
        case 2: SCV_TILE(2, 2); return;
        default: SCV_TILE(1, 2); return;
        }
    }
    switch (rows) {
    case 6: SCV_TILE(6, 1); return;
    case 5: SCV_TILE(5, 1); return;
    case 4: SCV_TILE(4, 1); return;
    case 3: SCV_TILE(3, 1); return;
    case 2: SCV_TILE(2, 1); return;
    default: SCV_TILE(1, 1); return;
    }
#undef SCV_TILE
}

#else

int scv_cpu_has_avx2_fma(void) { return 0; }

void scv_sgemm_tile_6x16_avx2(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                              const scv_tile_finish *finish) {
    (void)kb; (void)a; (void)b; (void)c; (void)ldc; (void)rows; (void)cols; (void)alpha; (void)beta; (void)finish;
}

#endif
