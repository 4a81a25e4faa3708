// AVX2+FMA loops for the float32 transcendental functions of the element-wise ops: the same
// formulas as the portable Swift functions of SwiftConvKernels/Transcendental.swift (range
// reduction, then the polynomials fitted there), eight lanes at a time. NaN, infinity and
// -0 come out as they do there; fused multiply-adds change only the last bits. Sigmoid and
// swish, the hottest (EfficientNet's SiLU after every convolution), use a cheaper exponential
// of their own (`exp_table8`) within the same error bounds.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <math.h>

#include "exp_table.h"

#define SCV_AVX2 __attribute__((target("avx2,fma")))
#define SCV_SET(v) _mm256_set1_ps(v)

/// Lanes 0..<remaining (1...7) set, for the masked loads and stores of a tail.
SCV_AVX2 static inline __m256i tail_mask(ptrdiff_t remaining) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)remaining), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

SCV_AVX2 static inline __m256 abs8(__m256 x) { return _mm256_andnot_ps(SCV_SET(-0.0f), x); }

/// exp(x): x clamped to [-87.3, 88] (NaN kept: min/max return their second operand for NaN),
/// x = n ln2 + r with ln2 split in two, e^r by a degree-7 polynomial, 2^n built in the
/// exponent bits. Below -87.3 (and -inf) gives 0, above 88 (and +inf) gives e^88.
SCV_AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 magic = SCV_SET(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
    __m256 xc = _mm256_max_ps(SCV_SET(-87.3f), _mm256_min_ps(SCV_SET(88.0f), x));
    __m256 t = _mm256_fmadd_ps(xc, SCV_SET(1.44269504088896341f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, SCV_SET(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, SCV_SET(-2.12194440e-4f), r);
    __m256 p = SCV_SET(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, SCV_SET(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, SCV_SET(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, SCV_SET(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, SCV_SET(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, SCV_SET(5.0000001201e-1f));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), SCV_SET(1.0f));
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
    __m256 y = _mm256_mul_ps(e, scale);
    return _mm256_andnot_ps(_mm256_cmp_ps(x, SCV_SET(-87.3f), _CMP_LT_OQ), y);
}

SCV_AVX2 static inline __m256 neg8(__m256 x) { return _mm256_xor_ps(x, SCV_SET(-0.0f)); }

/// exp(z) for the logistic functions, z in [SCV_EXP_TABLE_MIN, SCV_EXP_TABLE_MAX] (the
/// caller clamps; NaN stays NaN): z = k ln2/8 + r, k = 8n + j, e^z = 2^n 2^(j/8) e^r. The
/// eight 2^(j/8) come from one permute of a register table (indexed by the low bits of k), so
/// e^r on |r| <= ln2/16 needs only a cubic (constants in exp_table.h; about 1.6e-7 relative
/// error in all). About a third fewer vector operations than `exp8`'s degree-7 polynomial.
SCV_AVX2 static inline __m256 exp_table8(__m256 z) {
    const __m256 magic = SCV_SET(SCV_EXP_TABLE_MAGIC);
    const __m256i table = _mm256_setr_epi32(SCV_EXP_TABLE_WORDS);
    __m256 t = _mm256_fmadd_ps(z, SCV_SET(SCV_EXP_TABLE_8_LOG2E), magic);
    __m256 k = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(k, SCV_SET(SCV_EXP_TABLE_LN2_8_HI), z);
    r = _mm256_fnmadd_ps(k, SCV_SET(SCV_EXP_TABLE_LN2_8_LO), r);
    __m256 p = SCV_SET(SCV_EXP_TABLE_C3);
    p = _mm256_fmadd_ps(p, r, SCV_SET(SCV_EXP_TABLE_C2));
    p = _mm256_fmadd_ps(p, r, SCV_SET(1.0f));
    p = _mm256_fmadd_ps(p, r, SCV_SET(1.0f));
    // (k + 1016) << 20 = (n + 127) << 23 (the exponent of 2^n) + j << 20; the permute reads j
    // from the low three bits of t.
    __m256i tbits = _mm256_castps_si256(t);
    __m256i mantissa = _mm256_permutevar8x32_epi32(table, tbits);
    __m256 scale = _mm256_castsi256_ps(_mm256_add_epi32(mantissa, _mm256_slli_epi32(tbits, 20)));
    return _mm256_mul_ps(p, scale);
}

/// z clamped to exp_table8's range; min and max return their second operand (z) for NaN.
SCV_AVX2 static inline __m256 clamp_exp_table8(__m256 z) {
    return _mm256_max_ps(SCV_SET(SCV_EXP_TABLE_MIN), _mm256_min_ps(SCV_SET(SCV_EXP_TABLE_MAX), z));
}

/// 1 / (1 + e^-x), with a true division (measured faster here than rcp and a Newton step).
SCV_AVX2 static inline __m256 sigmoid8(__m256 x) {
    return _mm256_div_ps(SCV_SET(1.0f), _mm256_add_ps(SCV_SET(1.0f), exp_table8(clamp_exp_table8(neg8(x)))));
}

/// tanh: a rational function of x below 0.625 (where 1 - 2/(e^2|x| + 1) cancels), else that
/// expression with the sign of x.
SCV_AVX2 static inline __m256 tanh8(__m256 x) {
    const __m256 one = SCV_SET(1.0f);
    __m256 a = abs8(x);
    __m256 s = _mm256_blendv_ps(one, x, _mm256_cmp_ps(a, one, _CMP_LT_OQ));
    __m256 x2 = _mm256_mul_ps(s, s);
    __m256 p = SCV_SET(-2.76076847742355e-16f);
    p = _mm256_fmadd_ps(p, x2, SCV_SET(2.00018790482477e-13f));
    p = _mm256_fmadd_ps(p, x2, SCV_SET(-8.60467152213735e-11f));
    p = _mm256_fmadd_ps(p, x2, SCV_SET(5.12229709037114e-08f));
    p = _mm256_fmadd_ps(p, x2, SCV_SET(1.48572235717979e-05f));
    p = _mm256_fmadd_ps(p, x2, SCV_SET(6.37261928875436e-04f));
    p = _mm256_fmadd_ps(p, x2, SCV_SET(4.89352455891786e-03f));
    __m256 q = SCV_SET(1.19825839466702e-06f);
    q = _mm256_fmadd_ps(q, x2, SCV_SET(1.18534705686654e-04f));
    q = _mm256_fmadd_ps(q, x2, SCV_SET(2.26843463243900e-03f));
    q = _mm256_fmadd_ps(q, x2, SCV_SET(4.89352518554385e-03f));
    __m256 small = _mm256_div_ps(_mm256_mul_ps(p, s), q);
    __m256 big = _mm256_sub_ps(one, _mm256_div_ps(SCV_SET(2.0f), _mm256_add_ps(exp8(_mm256_add_ps(a, a)), one)));
    big = _mm256_blendv_ps(big, neg8(big), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, SCV_SET(0.625f), _CMP_LT_OQ));
}

/// erf: an odd polynomial below 0.9, 1 - e^(-x^2) Q(1 / (1 + |x|/2)) above, |x| clamped at
/// 3.95 (where erf rounds to 1), the sign of x copied back (so -0 stays -0, NaN stays NaN).
SCV_AVX2 static inline __m256 erf8(__m256 x) {
    const __m256 sign = SCV_SET(-0.0f);
    __m256 a = _mm256_min_ps(SCV_SET(3.95f), abs8(x));
    __m256 a2 = _mm256_mul_ps(a, a);
    __m256 p = SCV_SET(-6.111437687650323e-4f);
    p = _mm256_fmadd_ps(p, a2, SCV_SET(5.016260780394077e-3f));
    p = _mm256_fmadd_ps(p, a2, SCV_SET(-2.678198367357254e-2f));
    p = _mm256_fmadd_ps(p, a2, SCV_SET(1.1282230913639069e-1f));
    p = _mm256_fmadd_ps(p, a2, SCV_SET(-3.761253356933594e-1f));
    p = _mm256_fmadd_ps(p, a2, SCV_SET(1.1283791065216064f));
    __m256 small = _mm256_mul_ps(p, a);
    __m256 t = _mm256_div_ps(SCV_SET(1.0f), _mm256_fmadd_ps(SCV_SET(0.5f), a, SCV_SET(1.0f)));
    __m256 q = SCV_SET(-2.2857071459293365e-1f);
    q = _mm256_fmadd_ps(q, t, SCV_SET(6.301568150520325e-1f));
    q = _mm256_fmadd_ps(q, t, SCV_SET(-5.6856587529182434e-2f));
    q = _mm256_fmadd_ps(q, t, SCV_SET(3.9238542318344116e-1f));
    q = _mm256_fmadd_ps(q, t, SCV_SET(2.6097866892814636e-1f));
    q = _mm256_fmadd_ps(q, t, SCV_SET(1.6750937793403864e-3f));
    __m256 large = _mm256_fnmadd_ps(q, exp8(neg8(a2)), SCV_SET(1.0f));
    __m256 r = _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, SCV_SET(0.9f), _CMP_LT_OQ));
    return _mm256_or_ps(r, _mm256_and_ps(x, sign));
}

/// x/2 (1 + erf(x / sqrt 2)).
SCV_AVX2 static inline __m256 gelu8(__m256 x) {
    __m256 e = erf8(_mm256_mul_ps(x, SCV_SET(0.707106781186547524f)));
    return _mm256_mul_ps(_mm256_mul_ps(SCV_SET(0.5f), x), _mm256_add_ps(SCV_SET(1.0f), e));
}

/// x / (1 + e^(-2z)), z = sqrt(2/pi) (x + 0.044715 x^3): GELU's tanh form without cancellation.
SCV_AVX2 static inline __m256 gelu_tanh8(__m256 x) {
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    __m256 z = _mm256_fmadd_ps(SCV_SET(0.044715f), x3, x);
    __m256 e = exp8(_mm256_mul_ps(SCV_SET(-1.59576912160573071f), z));
    return _mm256_div_ps(x, _mm256_add_ps(SCV_SET(1.0f), e));
}

/// One loop per function: eight lanes at a time, a masked tail (lanes past `n` read as 0 and
/// are never stored). `x` and `y` may be the same array.
#define SCV_UNARY_LOOP(name, f)                                                   \
    SCV_AVX2 void name(const float *x, float *y, ptrdiff_t n) {                   \
        ptrdiff_t i = 0;                                                          \
        for (; i + 16 <= n; i += 16) {                                            \
            __m256 a = f(_mm256_loadu_ps(x + i)), b = f(_mm256_loadu_ps(x + i + 8)); \
            _mm256_storeu_ps(y + i, a);                                           \
            _mm256_storeu_ps(y + i + 8, b);                                       \
        }                                                                         \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i))); \
        if (i < n) {                                                              \
            __m256i m = tail_mask(n - i);                                         \
            _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(x + i, m)));       \
        }                                                                         \
    }

SCV_UNARY_LOOP(scv_exp_avx2, exp8)
SCV_UNARY_LOOP(scv_sigmoid_avx2, sigmoid8)
SCV_UNARY_LOOP(scv_tanh_avx2, tanh8)
SCV_UNARY_LOOP(scv_erf_avx2, erf8)
SCV_UNARY_LOOP(scv_gelu_avx2, gelu8)
SCV_UNARY_LOOP(scv_gelu_tanh_avx2, gelu_tanh8)

/// x * sigmoid(alpha * x) as x / (1 + e^(-alpha x)): one multiply and one rounding fewer.
/// `vna` is -alpha. Below alpha x = -88.72 the denominator is +inf: -0 for finite x, NaN for
/// -inf (onnxruntime's Sigmoid gives 0 there, and -inf * 0 is NaN).
SCV_AVX2 static inline __m256 swish8(__m256 v, __m256 vna) {
    __m256 e = exp_table8(clamp_exp_table8(_mm256_mul_ps(vna, v)));
    return _mm256_div_ps(v, _mm256_add_ps(SCV_SET(1.0f), e));
}

SCV_AVX2 void scv_swish_avx2(const float *x, float *y, ptrdiff_t n, float alpha) {
    __m256 va = SCV_SET(-alpha);
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = swish8(_mm256_loadu_ps(x + i), va), b = swish8(_mm256_loadu_ps(x + i + 8), va);
        _mm256_storeu_ps(y + i, a);
        _mm256_storeu_ps(y + i + 8, b);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, swish8(_mm256_loadu_ps(x + i), va));
    if (i < n) {
        // The last few through a small buffer: masked stores are slow on some CPUs.
        float tail[8] = {0};
        for (ptrdiff_t j = 0; j < n - i; j++) tail[j] = x[i + j];
        _mm256_storeu_ps(tail, swish8(_mm256_loadu_ps(tail), va));
        for (ptrdiff_t j = 0; j < n - i; j++) y[i + j] = tail[j];
    }
}

SCV_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SCV_AVX2 static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SCV_AVX2 void scv_softmax_row_avx2(const float *x, float *y, ptrdiff_t n, int log_softmax) {
    if (n <= 0) return;
    ptrdiff_t i = 0;
    float best = x[0];
    if (n >= 8) {
        __m256 acc = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8) acc = _mm256_max_ps(acc, _mm256_loadu_ps(x + i));
        best = hmax8(acc);
    }
    for (; i < n; i++)
        if (x[i] > best) best = x[i];
    __m256 vbest = SCV_SET(best);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m256 a = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vbest));
        __m256 b = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vbest));
        _mm256_storeu_ps(y + i, a);
        _mm256_storeu_ps(y + i + 8, b);
        s0 = _mm256_add_ps(s0, a);
        s1 = _mm256_add_ps(s1, b);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vbest));
        _mm256_storeu_ps(y + i, a);
        s0 = _mm256_add_ps(s0, a);
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 a = _mm256_and_ps(_mm256_castsi256_ps(m), exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vbest)));
        _mm256_maskstore_ps(y + i, m, a);
        s0 = _mm256_add_ps(s0, a);
    }
    float sum = hsum8(_mm256_add_ps(s0, s1));
    if (log_softmax) {
        float log_sum = logf(sum);
        __m256 vlog = SCV_SET(log_sum);
        for (i = 0; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vbest), vlog));
        for (; i < n; i++) y[i] = x[i] - best - log_sum;
    } else {
        float scale = 1.0f / sum;
        __m256 vscale = SCV_SET(scale);
        for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vscale));
        for (; i < n; i++) y[i] *= scale;
    }
}

#else

#define SCV_UNARY_STUB(name) \
    void name(const float *x, float *y, ptrdiff_t n) { (void)x; (void)y; (void)n; }
SCV_UNARY_STUB(scv_exp_avx2)
SCV_UNARY_STUB(scv_sigmoid_avx2)
SCV_UNARY_STUB(scv_tanh_avx2)
SCV_UNARY_STUB(scv_erf_avx2)
SCV_UNARY_STUB(scv_gelu_avx2)
SCV_UNARY_STUB(scv_gelu_tanh_avx2)
void scv_swish_avx2(const float *x, float *y, ptrdiff_t n, float alpha) { (void)x; (void)y; (void)n; (void)alpha; }
void scv_softmax_row_avx2(const float *x, float *y, ptrdiff_t n, int log_softmax) {
    (void)x; (void)y; (void)n; (void)log_softmax;
}

#endif
