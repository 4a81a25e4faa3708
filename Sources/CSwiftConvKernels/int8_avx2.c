// AVX2 integer inner loops for the quantized (int8/uint8) TFLite kernels. Integer sums are
// exact, so these give the same int32 accumulators as the portable Swift loops, bit for bit.
// Compiled for every x86-64 CPU (per-function target attributes) and called only when
// scv_cpu_has_avx2_fma() says so; other architectures get stubs that are never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

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

#endif
