// AVX2 integer inner loops for the quantized (int8/uint8) TFLite kernels. Integer sums are
// exact, so these give the same int32 accumulators as the portable Swift loops, bit for bit.
// Compiled for every x86-64 CPU (per-function target attributes) and called only when
// scv_cpu_has_avx2_fma() says so; other architectures get stubs that are never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define SCV_AVX2 __attribute__((target("avx2,fma")))

/// The four horizontal sums of a, b, c, d as one vector [Σa, Σb, Σc, Σd].
SCV_AVX2 static inline __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_hadd_epi32(a, b);
    __m256i cd = _mm256_hadd_epi32(c, d);
    __m256i abcd = _mm256_hadd_epi32(ab, cd);
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

SCV_AVX2 static inline int32_t hsum1(__m256i a) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

SCV_AVX2 void scv_i16_gemm_nt_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int16_t *x, ptrdiff_t ldx,
                                   const int16_t *w, ptrdiff_t ldw, int32_t *out, ptrdiff_t ldo) {
    ptrdiff_t i = 0;
    for (; i + 2 <= m; i += 2) {
        const int16_t *x0 = x + i * ldx, *x1 = x0 + ldx;
        int32_t *o0 = out + i * ldo, *o1 = o0 + ldo;
        ptrdiff_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const int16_t *w0 = w + j * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
            __m256i a00 = _mm256_setzero_si256(), a01 = a00, a02 = a00, a03 = a00;
            __m256i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            for (ptrdiff_t t = 0; t < k; t += 16) {
                __m256i xv0 = _mm256_loadu_si256((const __m256i *)(x0 + t));
                __m256i xv1 = _mm256_loadu_si256((const __m256i *)(x1 + t));
                __m256i wv = _mm256_loadu_si256((const __m256i *)(w0 + t));
                a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(xv0, wv));
                a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(xv1, wv));
                wv = _mm256_loadu_si256((const __m256i *)(w1 + t));
                a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(xv0, wv));
                a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(xv1, wv));
                wv = _mm256_loadu_si256((const __m256i *)(w2 + t));
                a02 = _mm256_add_epi32(a02, _mm256_madd_epi16(xv0, wv));
                a12 = _mm256_add_epi32(a12, _mm256_madd_epi16(xv1, wv));
                wv = _mm256_loadu_si256((const __m256i *)(w3 + t));
                a03 = _mm256_add_epi32(a03, _mm256_madd_epi16(xv0, wv));
                a13 = _mm256_add_epi32(a13, _mm256_madd_epi16(xv1, wv));
            }
            _mm_storeu_si128((__m128i *)(o0 + j), hsum4(a00, a01, a02, a03));
            _mm_storeu_si128((__m128i *)(o1 + j), hsum4(a10, a11, a12, a13));
        }
        for (; j < n; j++) {
            const int16_t *w0 = w + j * ldw;
            __m256i a0 = _mm256_setzero_si256(), a1 = a0;
            for (ptrdiff_t t = 0; t < k; t += 16) {
                __m256i wv = _mm256_loadu_si256((const __m256i *)(w0 + t));
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(x0 + t)), wv));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(x1 + t)), wv));
            }
            o0[j] = hsum1(a0);
            o1[j] = hsum1(a1);
        }
    }
    for (; i < m; i++) {
        const int16_t *x0 = x + i * ldx;
        int32_t *o0 = out + i * ldo;
        ptrdiff_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const int16_t *w0 = w + j * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
            for (ptrdiff_t t = 0; t < k; t += 16) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(x0 + t));
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)(w0 + t))));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)(w1 + t))));
                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)(w2 + t))));
                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, _mm256_loadu_si256((const __m256i *)(w3 + t))));
            }
            _mm_storeu_si128((__m128i *)(o0 + j), hsum4(a0, a1, a2, a3));
        }
        for (; j < n; j++) {
            const int16_t *w0 = w + j * ldw;
            __m256i a0 = _mm256_setzero_si256();
            for (ptrdiff_t t = 0; t < k; t += 16) {
                a0 = _mm256_add_epi32(
                    a0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(x0 + t)),
                                          _mm256_loadu_si256((const __m256i *)(w0 + t))));
            }
            o0[j] = hsum1(a0);
        }
    }
}

SCV_AVX2 void scv_i16_depthwise_pixel_avx2(ptrdiff_t channels, ptrdiff_t taps, const int16_t *x,
                                           const ptrdiff_t *x_offsets, const int16_t *f,
                                           const ptrdiff_t *f_offsets, int32_t *acc) {
    ptrdiff_t c = 0;
    for (; c + 16 <= channels; c += 16) {
        __m256i lo = _mm256_setzero_si256(), hi = lo;
        for (ptrdiff_t t = 0; t < taps; t++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(x + x_offsets[t] + c));
            __m256i fv = _mm256_loadu_si256((const __m256i *)(f + f_offsets[t] + c));
            // Exact 32-bit products of 16-bit values: the low and high halves, interleaved.
            __m256i pl = _mm256_mullo_epi16(xv, fv), ph = _mm256_mulhi_epi16(xv, fv);
            lo = _mm256_add_epi32(lo, _mm256_unpacklo_epi16(pl, ph));
            hi = _mm256_add_epi32(hi, _mm256_unpackhi_epi16(pl, ph));
        }
        // unpack works per 128-bit lane: lo holds channels 0-3 and 8-11, hi 4-7 and 12-15.
        _mm256_storeu_si256((__m256i *)(acc + c), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(acc + c + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    for (; c < channels; c++) {
        int32_t s = 0;
        for (ptrdiff_t t = 0; t < taps; t++) s += (int32_t)x[x_offsets[t] + c] * (int32_t)f[f_offsets[t] + c];
        acc[c] = s;
    }
}

/// TFLite's requantization of one accumulator (see scv_requantize_avx2), in scalar C.
static inline int32_t requantize_one(int32_t a, int32_t m, int32_t shift, int single_rounding) {
    if (single_rounding) {
        int32_t clamped = shift < -31 ? -31 : (shift > 30 ? 30 : shift);
        int total = 31 - clamped;
        int64_t r = ((int64_t)a * (int64_t)m + ((int64_t)1 << (total - 1))) >> total;
        return (int32_t)r;
    }
    int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    int32_t x = (int32_t)((uint32_t)a << left);
    int32_t high;
    if (x == INT32_MIN && m == INT32_MIN) {
        high = INT32_MAX;
    } else {
        int64_t ab = (int64_t)x * (int64_t)m;
        int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
        high = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    }
    int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    int32_t remainder = high & mask;
    int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
    return (high >> right) + (remainder > threshold ? 1 : 0);
}

/// The high 32 bits of 2*x*m rounded as gemmlowp's SaturatingRoundingDoublingHighMul, for
/// the even 32-bit lanes of x and m (results in the low halves of the 64-bit lanes).
SCV_AVX2 static inline __m256i doubling_high_mul_even(__m256i x, __m256i m) {
    __m256i ab = _mm256_mul_epi32(x, m);
    __m256i negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), ab);
    // nudge: 2^30, or 1 - 2^30 for a negative product; then division by 2^31 truncating
    // toward zero = shift of (s + (negative ? 2^31 - 1 : 0)). Only the low 32 bits of the
    // shifted value are kept, so a logical shift serves.
    __m256i nudge = _mm256_blendv_epi8(_mm256_set1_epi64x(1 << 30), _mm256_set1_epi64x(1 - (1 << 30)), negative);
    __m256i s = _mm256_add_epi64(ab, nudge);
    s = _mm256_add_epi64(s, _mm256_and_si256(negative, _mm256_set1_epi64x(0x7FFFFFFF)));
    return _mm256_srli_epi64(s, 31);
}

/// (a*m + 2^(t-1)) >> t (arithmetic) for the even 32-bit lanes, t per 64-bit lane in 1...62;
/// the low 32 bits of each result in the low half of its 64-bit lane.
SCV_AVX2 static inline __m256i single_round_even(__m256i a, __m256i m, __m256i t) {
    __m256i p = _mm256_mul_epi32(a, m);
    __m256i one = _mm256_set1_epi64x(1);
    p = _mm256_add_epi64(p, _mm256_sllv_epi64(one, _mm256_sub_epi64(t, one)));
    __m256i negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), p);
    __m256i shifted = _mm256_srlv_epi64(p, t);
    // Sign bits shifted in from the left (count 64 - t in 2...63).
    __m256i fill = _mm256_sllv_epi64(negative, _mm256_sub_epi64(_mm256_set1_epi64x(64), t));
    return _mm256_or_si256(shifted, fill);
}

/// gemmlowp's MultiplyByQuantizedMultiplier (double rounding) of 8 lanes, per-lane mantissa
/// and shift (in -31...30).
SCV_AVX2 static inline __m256i multiply_by_quantized_multiplier(__m256i a, __m256i m, __m256i sh) {
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
    __m256i left = _mm256_max_epi32(sh, zero), right = _mm256_max_epi32(_mm256_sub_epi32(zero, sh), zero);
    __m256i x = _mm256_sllv_epi32(a, left);
    __m256i even = doubling_high_mul_even(x, m);
    __m256i odd = doubling_high_mul_even(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32));
    __m256i high = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    __m256i minimum = _mm256_set1_epi32(INT32_MIN);
    __m256i saturate = _mm256_and_si256(_mm256_cmpeq_epi32(x, minimum), _mm256_cmpeq_epi32(m, minimum));
    high = _mm256_blendv_epi8(high, _mm256_set1_epi32(INT32_MAX), saturate);
    // gemmlowp's RoundingDivideByPOT with a per-lane exponent.
    __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
    __m256i remainder = _mm256_and_si256(high, mask);
    __m256i threshold = _mm256_add_epi32(_mm256_srli_epi32(mask, 1), _mm256_srli_epi32(high, 31));
    return _mm256_sub_epi32(_mm256_srav_epi32(high, right), _mm256_cmpgt_epi32(remainder, threshold));
}

/// The low bytes of 8 int32 lanes stored to out[0..<8].
SCV_AVX2 static inline void store_low_bytes(__m256i r, uint8_t *out) {
    const __m256i bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                                           -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    __m256i b = _mm256_shuffle_epi8(r, bytes);
    int32_t w0 = _mm256_extract_epi32(b, 0), w1 = _mm256_extract_epi32(b, 4);
    memcpy(out, &w0, 4);
    memcpy(out + 4, &w1, 4);
}

SCV_AVX2 void scv_quantized_add_avx2(ptrdiff_t count, const uint8_t *x, const uint8_t *y, int is_signed,
                                     const scv_quantized_add *p, uint8_t *out) {
    const __m256i off1 = _mm256_set1_epi32(p->offset1), off2 = _mm256_set1_epi32(p->offset2);
    const __m256i left = _mm256_set1_epi32(p->left_shift);
    const __m256i m1 = _mm256_set1_epi32(p->mantissa1), s1 = _mm256_set1_epi32(p->shift1);
    const __m256i m2 = _mm256_set1_epi32(p->mantissa2), s2 = _mm256_set1_epi32(p->shift2);
    const __m256i mo = _mm256_set1_epi32(p->mantissa_out), so = _mm256_set1_epi32(p->shift_out);
    const __m256i zp = _mm256_set1_epi32(p->zero_point), lo = _mm256_set1_epi32(p->lo), hi = _mm256_set1_epi32(p->hi);
    ptrdiff_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i xb = _mm_loadl_epi64((const __m128i *)(x + i)), yb = _mm_loadl_epi64((const __m128i *)(y + i));
        __m256i a = is_signed ? _mm256_cvtepi8_epi32(xb) : _mm256_cvtepu8_epi32(xb);
        __m256i b = is_signed ? _mm256_cvtepi8_epi32(yb) : _mm256_cvtepu8_epi32(yb);
        a = _mm256_sllv_epi32(_mm256_add_epi32(a, off1), left);
        b = _mm256_sllv_epi32(_mm256_add_epi32(b, off2), left);
        __m256i sum = _mm256_add_epi32(multiply_by_quantized_multiplier(a, m1, s1), multiply_by_quantized_multiplier(b, m2, s2));
        __m256i r = _mm256_add_epi32(multiply_by_quantized_multiplier(sum, mo, so), zp);
        store_low_bytes(_mm256_min_epi32(_mm256_max_epi32(r, lo), hi), out + i);
    }
    for (; i < count; i++) {
        int32_t a = (is_signed ? (int32_t)(int8_t)x[i] : (int32_t)x[i]) + p->offset1;
        int32_t b = (is_signed ? (int32_t)(int8_t)y[i] : (int32_t)y[i]) + p->offset2;
        a = (int32_t)((uint32_t)a << p->left_shift);
        b = (int32_t)((uint32_t)b << p->left_shift);
        int32_t sum = requantize_one(a, p->mantissa1, p->shift1, 0) + requantize_one(b, p->mantissa2, p->shift2, 0);
        int32_t r = requantize_one(sum, p->mantissa_out, p->shift_out, 0) + p->zero_point;
        r = r < p->lo ? p->lo : (r > p->hi ? p->hi : r);
        out[i] = (uint8_t)r;
    }
}

SCV_AVX2 void scv_requantize_avx2(ptrdiff_t count, const int32_t *acc, const int32_t *bias, const int32_t *mantissa,
                                  const int32_t *shift, int single_rounding, int32_t zero_point, int32_t lo,
                                  int32_t hi, uint8_t *out) {
    const __m256i vzp = _mm256_set1_epi32(zero_point), vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    const __m256i bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                                           -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    ptrdiff_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(acc + i));
        if (bias) a = _mm256_add_epi32(a, _mm256_loadu_si256((const __m256i *)(bias + i)));
        __m256i m = _mm256_loadu_si256((const __m256i *)(mantissa + i));
        __m256i sh = _mm256_loadu_si256((const __m256i *)(shift + i));
        __m256i r;
        if (single_rounding) {
            __m256i clamped = _mm256_min_epi32(_mm256_max_epi32(sh, _mm256_set1_epi32(-31)), _mm256_set1_epi32(30));
            __m256i total = _mm256_sub_epi32(_mm256_set1_epi32(31), clamped);
            __m256i t_even = _mm256_and_si256(total, _mm256_set1_epi64x(0xFFFFFFFF));
            __m256i t_odd = _mm256_srli_epi64(total, 32);
            __m256i even = single_round_even(a, m, t_even);
            __m256i odd = single_round_even(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(m, 32), t_odd);
            r = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
        } else {
            r = multiply_by_quantized_multiplier(a, m, sh);
        }
        r = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, vzp), vlo), vhi);
        __m256i b = _mm256_shuffle_epi8(r, bytes);
        int32_t w0 = _mm256_extract_epi32(b, 0), w1 = _mm256_extract_epi32(b, 4);
        memcpy(out + i, &w0, 4);
        memcpy(out + i + 4, &w1, 4);
    }
    for (; i < count; i++) {
        int32_t a = acc[i] + (bias ? bias[i] : 0);
        int32_t v = requantize_one(a, mantissa[i], shift[i], single_rounding) + zero_point;
        v = v < lo ? lo : (v > hi ? hi : v);
        out[i] = (uint8_t)v;
    }
}

#else

void scv_i16_gemm_nt_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int16_t *x, ptrdiff_t ldx,
                          const int16_t *w, ptrdiff_t ldw, int32_t *out, ptrdiff_t ldo) {
    (void)m; (void)n; (void)k; (void)x; (void)ldx; (void)w; (void)ldw; (void)out; (void)ldo;
}

void scv_i16_depthwise_pixel_avx2(ptrdiff_t channels, ptrdiff_t taps, const int16_t *x,
                                  const ptrdiff_t *x_offsets, const int16_t *f,
                                  const ptrdiff_t *f_offsets, int32_t *acc) {
    (void)channels; (void)taps; (void)x; (void)x_offsets; (void)f; (void)f_offsets; (void)acc;
}

void scv_requantize_avx2(ptrdiff_t count, const int32_t *acc, const int32_t *bias, const int32_t *mantissa,
                         const int32_t *shift, int single_rounding, int32_t zero_point, int32_t lo, int32_t hi,
                         uint8_t *out) {
    (void)count; (void)acc; (void)bias; (void)mantissa; (void)shift; (void)single_rounding; (void)zero_point;
    (void)lo; (void)hi; (void)out;
}

void scv_quantized_add_avx2(ptrdiff_t count, const uint8_t *x, const uint8_t *y, int is_signed,
                            const scv_quantized_add *p, uint8_t *out) {
    (void)count; (void)x; (void)y; (void)is_signed; (void)p; (void)out;
}

#endif
