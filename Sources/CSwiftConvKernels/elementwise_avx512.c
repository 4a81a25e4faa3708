// AVX-512F loops for the logistic functions (sigmoid, swish): exp_table8's formula of
// elementwise_avx2.c sixteen lanes at a time, with the same results bit for bit. Unlike the
// GEMM tile, these were measured faster than AVX2 on the Zen 4 whose 512-bit units are two
// 256-bit halves (about 20%): half the instructions for the same arithmetic, and masked
// tails. Called only where scv_cpu_has_avx512f(); other architectures get stubs.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#include "exp_table.h"

#define SCV_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define SCV_SET16(v) _mm512_set1_ps(v)

/// exp(z), z clamped to [SCV_EXP_TABLE_MIN, SCV_EXP_TABLE_MAX] here (NaN stays NaN): see
/// exp_table8; the eight-word table is repeated so that the permute's index is k mod 8.
SCV_AVX512 static inline __m512 clamped_exp_table16(__m512 z) {
    const __m512 magic = SCV_SET16(SCV_EXP_TABLE_MAGIC);
    const __m512i table = _mm512_broadcast_i64x4(_mm256_setr_epi32(SCV_EXP_TABLE_WORDS));
    z = _mm512_max_ps(SCV_SET16(SCV_EXP_TABLE_MIN), _mm512_min_ps(SCV_SET16(SCV_EXP_TABLE_MAX), z));
    __m512 t = _mm512_fmadd_ps(z, SCV_SET16(SCV_EXP_TABLE_8_LOG2E), magic);
    __m512 k = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_fnmadd_ps(k, SCV_SET16(SCV_EXP_TABLE_LN2_8_HI), z);
    r = _mm512_fnmadd_ps(k, SCV_SET16(SCV_EXP_TABLE_LN2_8_LO), r);
    __m512 p = SCV_SET16(SCV_EXP_TABLE_C3);
    p = _mm512_fmadd_ps(p, r, SCV_SET16(SCV_EXP_TABLE_C2));
    p = _mm512_fmadd_ps(p, r, SCV_SET16(1.0f));
    p = _mm512_fmadd_ps(p, r, SCV_SET16(1.0f));
    __m512i tbits = _mm512_castps_si512(t);
    // k mod 16 picks the same word as k mod 8: the table holds it twice.
    __m512i mantissa = _mm512_permutexvar_epi32(tbits, table);
    __m512 scale = _mm512_castsi512_ps(_mm512_add_epi32(mantissa, _mm512_slli_epi32(tbits, 20)));
    return _mm512_mul_ps(p, scale);
}

/// 1 / (1 + e^-x); the second argument (unused) fits the loop macro below.
SCV_AVX512 static inline __m512 sigmoid16(__m512 x, __m512 unused) {
    (void)unused;
    // -x by flipping the sign bit (an integer xor: _mm512_xor_ps needs AVX-512DQ).
    __m512 neg = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
    __m512 e = clamped_exp_table16(neg);
    return _mm512_div_ps(SCV_SET16(1.0f), _mm512_add_ps(SCV_SET16(1.0f), e));
}

/// x / (1 + e^(-alpha x)); `vna` is -alpha.
SCV_AVX512 static inline __m512 swish16(__m512 v, __m512 vna) {
    return _mm512_div_ps(v, _mm512_add_ps(SCV_SET16(1.0f), clamped_exp_table16(_mm512_mul_ps(vna, v))));
}

/// Two vectors at a time, then one, then the last 1...15 lanes under a mask (masked-off lanes
/// are neither read nor written). `x` and `y` may be the same array.
#define SCV_LOGISTIC_LOOP16(f, x, y, n, c)                                                    \
    do {                                                                                     \
        ptrdiff_t i = 0;                                                                     \
        for (; i + 32 <= n; i += 32) {                                                       \
            __m512 a = f(_mm512_loadu_ps(x + i), c), b = f(_mm512_loadu_ps(x + i + 16), c);    \
            _mm512_storeu_ps(y + i, a);                                                      \
            _mm512_storeu_ps(y + i + 16, b);                                                 \
        }                                                                                    \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i), c));    \
        if (i < n) {                                                                         \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                  \
            _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i), c));          \
        }                                                                                    \
    } while (0)

SCV_AVX512 void scv_sigmoid_avx512(const float *x, float *y, ptrdiff_t n) {
    SCV_LOGISTIC_LOOP16(sigmoid16, x, y, n, _mm512_setzero_ps());
}

SCV_AVX512 void scv_swish_avx512(const float *x, float *y, ptrdiff_t n, float alpha) {
    SCV_LOGISTIC_LOOP16(swish16, x, y, n, SCV_SET16(-alpha));
}

#else

void scv_sigmoid_avx512(const float *x, float *y, ptrdiff_t n) { (void)x; (void)y; (void)n; }
void scv_swish_avx512(const float *x, float *y, ptrdiff_t n, float alpha) { (void)x; (void)y; (void)n; (void)alpha; }

#endif
