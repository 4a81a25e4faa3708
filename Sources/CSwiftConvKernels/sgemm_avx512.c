// AVX-512F inner loops. Compiled for every x86-64 CPU (per-function target attributes) and
// called only when scv_use_avx512_gemm() says so; other architectures get stubs that are
// never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/// True when the environment variable `name` is set to anything but "" or "0".
static int env_flag(const char *name) {
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0;
}

int scv_cpu_has_avx512f(void) {
    // SWIFTCONV_PORTABLE_KERNELS=1 keeps the portable kernels (tests check them here).
    if (env_flag("SWIFTCONV_PORTABLE_KERNELS")) return 0;
    __builtin_cpu_init();
    // The compiler runtime reports avx512f only when the OS also saves the zmm state.
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int scv_use_avx512_gemm(void) { return env_flag("SWIFTCONV_AVX512") && scv_cpu_has_avx512f(); }

int scv_use_avx512_conv(void) {
    const char *v = getenv("SWIFTCONV_CONV_AVX512");
    return !(v && strcmp(v, "0") == 0) && scv_cpu_has_avx512f();
}

#define SCV_AVX512 __attribute__((target("avx512f,avx2,fma")))

/// Finishes one row of a tile (the first `mask` columns): alpha, beta * C, then (on the
/// last depth block) bias and clamp.
SCV_AVX512 static inline void store_row(float *c, __m512 lo, __m512 hi, __mmask16 mlo, __mmask16 mhi,
                                        float alpha, float beta, const scv_tile_finish *finish, ptrdiff_t row) {
    if (alpha != 1.0f) {
        __m512 valpha = _mm512_set1_ps(alpha);
        lo = _mm512_mul_ps(lo, valpha);
        hi = _mm512_mul_ps(hi, valpha);
    }
    if (beta != 0.0f) {
        __m512 vbeta = _mm512_set1_ps(beta);
        lo = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mlo, c), vbeta, lo);
        hi = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mhi, c + 16), vbeta, hi);
    }
    if (finish) {
        if (finish->row_bias) {
            __m512 vb = _mm512_set1_ps(finish->row_bias[row]);
            lo = _mm512_add_ps(lo, vb);
            hi = _mm512_add_ps(hi, vb);
        }
        __m512 vlo = _mm512_set1_ps(finish->lo), vhi = _mm512_set1_ps(finish->hi);
        lo = _mm512_min_ps(vhi, _mm512_max_ps(vlo, lo));  // NaN-preserving operand order
        hi = _mm512_min_ps(vhi, _mm512_max_ps(vlo, hi));
    }
    _mm512_mask_storeu_ps(c, mlo, lo);
    _mm512_mask_storeu_ps(c + 16, mhi, hi);
}

/// Rows of the tile: 8 x 2 zmm accumulators. Eight divides the channel counts of common
/// CNNs (the rows of a convolution's GEMM), so edge tiles are rare; 12 rows measured no
/// faster on 1024^3 and slower on MobileNet here (docs/PERF.md).
#define TILE_ROWS 8

SCV_AVX512 void scv_sgemm_tile_8x32_avx512(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                           ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                                           const scv_tile_finish *finish) {
    __m512 acc[TILE_ROWS][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < TILE_ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (ptrdiff_t k = 0; k < kb; k++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma clang loop unroll(full)
        for (int r = 0; r < TILE_ROWS; r++) {
            __m512 av = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
        a += TILE_ROWS;
        b += 32;
    }
    // Edge tiles store through column masks; rows past `rows` are dropped.
    __mmask16 mlo = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 mhi = cols >= 32 ? (__mmask16)0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    if (rows == TILE_ROWS) {
#pragma clang loop unroll(full)
        for (int r = 0; r < TILE_ROWS; r++) store_row(c + r * ldc, acc[r][0], acc[r][1], mlo, mhi, alpha, beta, finish, r);
        return;
    }
    for (ptrdiff_t r = 0; r < rows; r++) store_row(c + r * ldc, acc[r][0], acc[r][1], mlo, mhi, alpha, beta, finish, r);
}

#else

int scv_cpu_has_avx512f(void) { return 0; }

int scv_use_avx512_gemm(void) { return 0; }

int scv_use_avx512_conv(void) { return 0; }

void scv_sgemm_tile_8x32_avx512(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                                const scv_tile_finish *finish) {
    (void)kb; (void)a; (void)b; (void)c; (void)ldc; (void)rows; (void)cols; (void)alpha; (void)beta; (void)finish;
}

#endif
