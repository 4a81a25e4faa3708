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

/// Eight consecutive inputs at stride 2 starting at p (reads p[0..15]).
SCV_AVX2 static inline __m256 load_stride2(const float *p) {
    __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    // [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6] -> [lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6]
    __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

SCV_AVX2 int scv_depthwise3x3_avx2(const float *x, const float *filters, const float *bias, float *y,
                                   ptrdiff_t plane_begin, ptrdiff_t plane_end, ptrdiff_t channels,
                                   ptrdiff_t h, ptrdiff_t w, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t stride,
                                   ptrdiff_t pad_top, ptrdiff_t pad_left, float lo, float hi) {
    if (stride != 1 && stride != 2) return 0;
    // Each plane is copied into a zero-bordered buffer wide enough for whole 8-column
    // vectors, so the loop below needs no bounds checks; the last vector of a row is
    // stored through a mask.
    ptrdiff_t owr = (ow + 7) / 8 * 8;
    ptrdiff_t pw = stride == 1 ? owr + 2 : 2 * owr + 2;
    ptrdiff_t ph = (oh - 1) * stride + 3;
    float *padded = (float *)malloc(sizeof(float) * (size_t)(pw * ph));
    if (!padded) return 0;
    int32_t mask_bits[8];
    for (int i = 0; i < 8; i++) mask_bits[i] = i < ow % 8 ? -1 : 0;
    __m256i tail_mask = _mm256_loadu_si256((const __m256i *)mask_bits);
    ptrdiff_t full = ow / 8 * 8;
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (ptrdiff_t p = plane_begin; p < plane_end; p++) {
        const float *src = x + p * h * w;
        float *dst = y + p * oh * ow;
        const float *filter = filters + (p % channels) * 9;
        memset(padded, 0, sizeof(float) * (size_t)(pw * ph));
        for (ptrdiff_t iy = 0; iy < h; iy++) {
            ptrdiff_t q = iy + pad_top;
            if (q < 0 || q >= ph) continue;
            ptrdiff_t x0 = pad_left < 0 ? -pad_left : 0;   // negative padding crops
            ptrdiff_t n = w - x0;
            if (n > pw - (pad_left + x0)) n = pw - (pad_left + x0);
            if (n > 0) memcpy(padded + q * pw + pad_left + x0, src + iy * w + x0, sizeof(float) * (size_t)n);
        }
        __m256 f0 = _mm256_set1_ps(filter[0]), f1 = _mm256_set1_ps(filter[1]), f2 = _mm256_set1_ps(filter[2]);
        __m256 f3 = _mm256_set1_ps(filter[3]), f4 = _mm256_set1_ps(filter[4]), f5 = _mm256_set1_ps(filter[5]);
        __m256 f6 = _mm256_set1_ps(filter[6]), f7 = _mm256_set1_ps(filter[7]), f8 = _mm256_set1_ps(filter[8]);
        __m256 vbias = _mm256_set1_ps(bias ? bias[p % channels] : 0.0f);
        for (ptrdiff_t oy = 0; oy < oh; oy++) {
            const float *r0 = padded + oy * stride * pw, *r1 = r0 + pw, *r2 = r1 + pw;
            float *out = dst + oy * ow;
            for (ptrdiff_t ox = 0; ox < owr; ox += 8) {
                __m256 s = vbias;
                if (stride == 1) {
                    const float *a = r0 + ox, *b = r1 + ox, *c = r2 + ox;
                    s = _mm256_fmadd_ps(f0, _mm256_loadu_ps(a), s);
                    s = _mm256_fmadd_ps(f1, _mm256_loadu_ps(a + 1), s);
                    s = _mm256_fmadd_ps(f2, _mm256_loadu_ps(a + 2), s);
                    s = _mm256_fmadd_ps(f3, _mm256_loadu_ps(b), s);
                    s = _mm256_fmadd_ps(f4, _mm256_loadu_ps(b + 1), s);
                    s = _mm256_fmadd_ps(f5, _mm256_loadu_ps(b + 2), s);
                    s = _mm256_fmadd_ps(f6, _mm256_loadu_ps(c), s);
                    s = _mm256_fmadd_ps(f7, _mm256_loadu_ps(c + 1), s);
                    s = _mm256_fmadd_ps(f8, _mm256_loadu_ps(c + 2), s);
                } else {
                    const float *a = r0 + 2 * ox, *b = r1 + 2 * ox, *c = r2 + 2 * ox;
                    s = _mm256_fmadd_ps(f0, load_stride2(a), s);
                    s = _mm256_fmadd_ps(f1, load_stride2(a + 1), s);
                    s = _mm256_fmadd_ps(f2, load_stride2(a + 2), s);
                    s = _mm256_fmadd_ps(f3, load_stride2(b), s);
                    s = _mm256_fmadd_ps(f4, load_stride2(b + 1), s);
                    s = _mm256_fmadd_ps(f5, load_stride2(b + 2), s);
                    s = _mm256_fmadd_ps(f6, load_stride2(c), s);
                    s = _mm256_fmadd_ps(f7, load_stride2(c + 1), s);
                    s = _mm256_fmadd_ps(f8, load_stride2(c + 2), s);
                }
                s = _mm256_min_ps(vhi, _mm256_max_ps(vlo, s));  // NaN-preserving operand order
                if (ox < full) _mm256_storeu_ps(out + ox, s);
                else _mm256_maskstore_ps(out + ox, tail_mask, s);
            }
        }
    }
    free(padded);
    return 1;
}

/// Taps a general depthwise filter may have (7x7 and below; larger filters take the portable loop).
#define SCV_DEPTHWISE_MAX_TAPS 64

/// Copies plane `src` (`h` x `w`) into the zeroed-border buffer `padded` (`ph` x `pw`) at
/// (`pad_top`, `pad_left`), with vector loads and stores rather than a libc call per row:
/// the planes of small feature maps are a few hundred floats.
SCV_AVX2 static inline void pad_plane(const float *src, ptrdiff_t h, ptrdiff_t w, float *padded, ptrdiff_t ph,
                                      ptrdiff_t pw, ptrdiff_t pad_top, ptrdiff_t pad_left) {
    __m256 zero = _mm256_setzero_ps();
    ptrdiff_t total = ph * pw, i = 0;
    for (; i + 8 <= total; i += 8) _mm256_storeu_ps(padded + i, zero);
    for (; i < total; i++) padded[i] = 0.0f;
    ptrdiff_t n = w < pw - pad_left ? w : pw - pad_left;
    if (n <= 0) return;
    for (ptrdiff_t iy = 0; iy < h; iy++) {
        ptrdiff_t q = iy + pad_top;
        if (q >= ph) break;
        const float *from = src + iy * w;
        float *to = padded + q * pw + pad_left;
        ptrdiff_t j = 0;
        for (; j + 8 <= n; j += 8) _mm256_storeu_ps(to + j, _mm256_loadu_ps(from + j));
        for (; j < n; j++) to[j] = from[j];
    }
}

/// One plane of the general depthwise loop: two output rows at a time share each filter
/// broadcast. Always inlined, so a constant `kw` (5, 7) unrolls the tap loop.
SCV_AVX2 static inline __attribute__((always_inline)) void depthwise_plane(
    const float *padded, ptrdiff_t pw, const float *filter, __m256 vbias, float *dst, ptrdiff_t oh, ptrdiff_t ow,
    ptrdiff_t owr, ptrdiff_t full, __m256i tail_mask, ptrdiff_t stride, ptrdiff_t kh, const ptrdiff_t kw,
    __m256 vlo, __m256 vhi) {
    ptrdiff_t oy = 0;
    for (; oy + 2 <= oh; oy += 2) {
        float *out0 = dst + oy * ow, *out1 = out0 + ow;
        for (ptrdiff_t ox = 0; ox < owr; ox += 8) {
            __m256 s0 = vbias, s1 = vbias;
            const float *base = padded + oy * stride * pw + (stride == 1 ? ox : 2 * ox);
            for (ptrdiff_t i = 0; i < kh; i++) {
                const float *r0 = base + i * pw, *r1 = r0 + stride * pw;
                const float *f = filter + i * kw;
                for (ptrdiff_t j = 0; j < kw; j++) {
                    __m256 fv = _mm256_broadcast_ss(f + j);
                    if (stride == 1) {
                        s0 = _mm256_fmadd_ps(fv, _mm256_loadu_ps(r0 + j), s0);
                        s1 = _mm256_fmadd_ps(fv, _mm256_loadu_ps(r1 + j), s1);
                    } else {
                        s0 = _mm256_fmadd_ps(fv, load_stride2(r0 + j), s0);
                        s1 = _mm256_fmadd_ps(fv, load_stride2(r1 + j), s1);
                    }
                }
            }
            s0 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, s0));  // NaN-preserving operand order
            s1 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, s1));
            if (ox < full) {
                _mm256_storeu_ps(out0 + ox, s0);
                _mm256_storeu_ps(out1 + ox, s1);
            } else {
                _mm256_maskstore_ps(out0 + ox, tail_mask, s0);
                _mm256_maskstore_ps(out1 + ox, tail_mask, s1);
            }
        }
    }
    for (; oy < oh; oy++) {
        float *out = dst + oy * ow;
        for (ptrdiff_t ox = 0; ox < owr; ox += 8) {
            __m256 acc = vbias;
            const float *base = padded + oy * stride * pw + (stride == 1 ? ox : 2 * ox);
            for (ptrdiff_t i = 0; i < kh; i++) {
                const float *r = base + i * pw;
                const float *f = filter + i * kw;
                for (ptrdiff_t j = 0; j < kw; j++) {
                    __m256 fv = _mm256_broadcast_ss(f + j);
                    acc = _mm256_fmadd_ps(fv, stride == 1 ? _mm256_loadu_ps(r + j) : load_stride2(r + j), acc);
                }
            }
            acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
            if (ox < full) _mm256_storeu_ps(out + ox, acc);
            else _mm256_maskstore_ps(out + ox, tail_mask, acc);
        }
    }
}

SCV_AVX2 int scv_depthwise_avx2(const float *x, const float *filters, const float *bias, float *y,
                                ptrdiff_t plane_begin, ptrdiff_t plane_end, ptrdiff_t channels,
                                ptrdiff_t h, ptrdiff_t w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t oh, ptrdiff_t ow,
                                ptrdiff_t stride, ptrdiff_t pad_top, ptrdiff_t pad_left, float lo, float hi) {
    if (stride != 1 && stride != 2) return 0;
    if (kh < 1 || kw < 1 || kh * kw > SCV_DEPTHWISE_MAX_TAPS || oh < 1 || ow < 1) return 0;
    if (pad_top < 0 || pad_left < 0) return 0;
    // As in the 3x3 loop: a zero-bordered copy of each plane, wide enough that every tap of
    // every 8-column output vector reads inside it; the last vector is stored through a mask.
    ptrdiff_t owr = (ow + 7) / 8 * 8;
    ptrdiff_t pw = stride == 1 ? owr + kw - 1 : 2 * owr + kw - 1;
    ptrdiff_t ph = (oh - 1) * stride + kh;
    float *padded = (float *)malloc(sizeof(float) * (size_t)(pw * ph));
    if (!padded) return 0;
    int32_t mask_bits[8];
    for (int i = 0; i < 8; i++) mask_bits[i] = i < ow % 8 ? -1 : 0;
    __m256i tail_mask = _mm256_loadu_si256((const __m256i *)mask_bits);
    ptrdiff_t full = ow / 8 * 8;
    ptrdiff_t taps = kh * kw;
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (ptrdiff_t p = plane_begin; p < plane_end; p++) {
        const float *filter = filters + (p % channels) * taps;
        float *dst = y + p * oh * ow;
        pad_plane(x + p * h * w, h, w, padded, ph, pw, pad_top, pad_left);
        __m256 vbias = _mm256_set1_ps(bias ? bias[p % channels] : 0.0f);
        if (kw == 5) {
            depthwise_plane(padded, pw, filter, vbias, dst, oh, ow, owr, full, tail_mask, stride, kh, 5, vlo, vhi);
        } else if (kw == 7) {
            depthwise_plane(padded, pw, filter, vbias, dst, oh, ow, owr, full, tail_mask, stride, kh, 7, vlo, vhi);
        } else {
            depthwise_plane(padded, pw, filter, vbias, dst, oh, ow, owr, full, tail_mask, stride, kh, kw, vlo, vhi);
        }
    }
    free(padded);
    return 1;
}

#else

int scv_cpu_has_avx2_fma(void) { return 0; }

void scv_sgemm_tile_6x16_avx2(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                              const scv_tile_finish *finish) {
    (void)kb; (void)a; (void)b; (void)c; (void)ldc; (void)rows; (void)cols; (void)alpha; (void)beta; (void)finish;
}

int scv_depthwise3x3_avx2(const float *x, const float *filters, const float *bias, float *y,
                          ptrdiff_t plane_begin, ptrdiff_t plane_end, ptrdiff_t channels,
                          ptrdiff_t h, ptrdiff_t w, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t stride,
                          ptrdiff_t pad_top, ptrdiff_t pad_left, float lo, float hi) {
    (void)x; (void)filters; (void)bias; (void)y; (void)plane_begin; (void)plane_end; (void)channels;
    (void)h; (void)w; (void)oh; (void)ow; (void)stride; (void)pad_top; (void)pad_left; (void)lo; (void)hi;
    return 0;
}

int scv_depthwise_avx2(const float *x, const float *filters, const float *bias, float *y,
                       ptrdiff_t plane_begin, ptrdiff_t plane_end, ptrdiff_t channels,
                       ptrdiff_t h, ptrdiff_t w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t oh, ptrdiff_t ow,
                       ptrdiff_t stride, ptrdiff_t pad_top, ptrdiff_t pad_left, float lo, float hi) {
    (void)x; (void)filters; (void)bias; (void)y; (void)plane_begin; (void)plane_end; (void)channels;
    (void)h; (void)w; (void)kh; (void)kw; (void)oh; (void)ow; (void)stride; (void)pad_top; (void)pad_left;
    (void)lo; (void)hi;
    return 0;
}

#endif
