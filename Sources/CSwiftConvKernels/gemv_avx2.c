// AVX2+FMA matrix-vector rows for the recurrent cells (LSTM, GRU gates at batch 1): the
// Swift loop they replace runs SSE multiplies and adds, as Swift builds for baseline x86-64.
// Compiled for every x86-64 CPU (per-function target attributes) and called only when
// scv_cpu_has_avx2_fma() says so; other architectures get a stub that is never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define SCV_AVX2 __attribute__((target("avx2,fma")))

/// [Σa, Σb, Σc, Σd] of four 8-lane vectors.
SCV_AVX2 static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b);
    __m256 cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

SCV_AVX2 static inline float hsum1(__m256 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SCV_AVX2 void scv_gemv_rows_avx2(const float *m, ptrdiff_t rows, ptrdiff_t k, const float *x, const float *add,
                                 const float *bias, float *out) {
    const ptrdiff_t body = k & ~(ptrdiff_t)7;
    ptrdiff_t n = 0;
    for (; n + 4 <= rows; n += 4) {
        const float *r0 = m + n * k, *r1 = r0 + k, *r2 = r1 + k, *r3 = r2 + k;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        ptrdiff_t i = 0;
        for (; i < body; i += 8) {
            __m256 v = _mm256_loadu_ps(x + i);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + i), v, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + i), v, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + i), v, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + i), v, a3);
        }
        float s[4];
        _mm_storeu_ps(s, hsum4(a0, a1, a2, a3));
        for (; i < k; i++) {
            s[0] += r0[i] * x[i];
            s[1] += r1[i] * x[i];
            s[2] += r2[i] * x[i];
            s[3] += r3[i] * x[i];
        }
        for (int j = 0; j < 4; j++) out[n + j] = add[n + j] + bias[n + j] + s[j];
    }
    for (; n < rows; n++) {
        const float *r = m + n * k;
        __m256 a = _mm256_setzero_ps();
        ptrdiff_t i = 0;
        for (; i < body; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(r + i), _mm256_loadu_ps(x + i), a);
        float s = hsum1(a);
        for (; i < k; i++) s += r[i] * x[i];
        out[n] = add[n] + bias[n] + s;
    }
}

/// One row of C = A * B for small products: 32 columns at a time in four accumulators,
/// each step of the depth a broadcast of A's element against a row of B.
SCV_AVX2 void scv_small_matmul_avx2(const float *a, const float *b, float *c, ptrdiff_t m, ptrdiff_t n,
                                    ptrdiff_t k) {
    for (ptrdiff_t i = 0; i < m; i++) {
        const float *ai = a + i * k;
        float *ci = c + i * n;
        ptrdiff_t j = 0;
        for (; j + 32 <= n; j += 32) {
            __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(),
                   c3 = _mm256_setzero_ps();
            const float *bp = b + j;
            for (ptrdiff_t p = 0; p < k; p++, bp += n) {
                __m256 av = _mm256_broadcast_ss(ai + p);
                c0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp), c0);
                c1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp + 8), c1);
                c2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp + 16), c2);
                c3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp + 24), c3);
            }
            _mm256_storeu_ps(ci + j, c0);
            _mm256_storeu_ps(ci + j + 8, c1);
            _mm256_storeu_ps(ci + j + 16, c2);
            _mm256_storeu_ps(ci + j + 24, c3);
        }
        for (; j + 8 <= n; j += 8) {
            __m256 c0 = _mm256_setzero_ps();
            const float *bp = b + j;
            for (ptrdiff_t p = 0; p < k; p++, bp += n) c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + p), _mm256_loadu_ps(bp), c0);
            _mm256_storeu_ps(ci + j, c0);
        }
        for (; j < n; j++) {
            float s = 0;
            for (ptrdiff_t p = 0; p < k; p++) s += ai[p] * b[p * n + j];
            ci[j] = s;
        }
    }
}

#else

void scv_gemv_rows_avx2(const float *m, ptrdiff_t rows, ptrdiff_t k, const float *x, const float *add,
                        const float *bias, float *out) {
    (void)m; (void)rows; (void)k; (void)x; (void)add; (void)bias; (void)out;
}

void scv_small_matmul_avx2(const float *a, const float *b, float *c, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k) {
    (void)a; (void)b; (void)c; (void)m; (void)n; (void)k;
}

#endif
