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

/// Finishes one row of a tile: alpha, beta * C, then (on the last depth block) bias and clamp.
SCV_AVX2 static inline void store_row(float *c, __m256 lo, __m256 hi, float alpha, float beta,
                                      const scv_tile_finish *finish, ptrdiff_t row) {
    if (alpha != 1.0f) {
        __m256 valpha = _mm256_set1_ps(alpha);
        lo = _mm256_mul_ps(lo, valpha);
        hi = _mm256_mul_ps(hi, valpha);
    }
    if (beta != 0.0f) {
        __m256 vbeta = _mm256_set1_ps(beta);
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(c), vbeta, lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(c + 8), vbeta, hi);
    }
    if (finish) {
        if (finish->row_bias) {
            __m256 vb = _mm256_set1_ps(finish->row_bias[row]);
            lo = _mm256_add_ps(lo, vb);
            hi = _mm256_add_ps(hi, vb);
        }
        __m256 vlo = _mm256_set1_ps(finish->lo), vhi = _mm256_set1_ps(finish->hi);
        lo = _mm256_min_ps(vhi, _mm256_max_ps(vlo, lo));  // NaN-preserving operand order
        hi = _mm256_min_ps(vhi, _mm256_max_ps(vlo, hi));
    }
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
}

SCV_AVX2 void scv_sgemm_tile_6x16_avx2(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                       ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                                       const scv_tile_finish *finish) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (ptrdiff_t k = 0; k < kb; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 av;
        av = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
        a += 6;
        b += 16;
    }
    if (rows == 6 && cols == 16) {
        store_row(c, c00, c01, alpha, beta, finish, 0);
        store_row(c + ldc, c10, c11, alpha, beta, finish, 1);
        store_row(c + 2 * ldc, c20, c21, alpha, beta, finish, 2);
        store_row(c + 3 * ldc, c30, c31, alpha, beta, finish, 3);
        store_row(c + 4 * ldc, c40, c41, alpha, beta, finish, 4);
        store_row(c + 5 * ldc, c50, c51, alpha, beta, finish, 5);
        return;
    }
    // Edge tile: finish the rows into a full-width scratch tile, then copy what exists.
    float tile[6][16];
    __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (ptrdiff_t r = 0; r < rows; r++) {
        if (beta != 0.0f) {
            for (ptrdiff_t j = 0; j < 16; j++) tile[r][j] = j < cols ? c[r * ldc + j] : 0.0f;
        }
        store_row(tile[r], acc[r][0], acc[r][1], alpha, beta, finish, r);
        for (ptrdiff_t j = 0; j < cols; j++) c[r * ldc + j] = tile[r][j];
    }
}

#else

int scv_cpu_has_avx2_fma(void) { return 0; }

void scv_sgemm_tile_6x16_avx2(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                              const scv_tile_finish *finish) {
    (void)kb; (void)a; (void)b; (void)c; (void)ldc; (void)rows; (void)cols; (void)alpha; (void)beta; (void)finish;
}

#endif
