// AVX2+FMA depthwise convolution of NCHW float32 planes (one filter per channel), with bias
// and a clamp (a fused Relu or Clip) applied on the way out. Called only when
// scv_cpu_has_avx2_fma() says so; other architectures get a stub that is never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transpose_avx2.h"

#define SCV_AVX2 __attribute__((target("avx2,fma")))

/// Taps a filter may have (7x7 and below; larger filters take the portable loop).
#define SCV_DEPTHWISE_MAX_TAPS 64
/// Floats the zero-bordered plane copy may take (16 MB); larger planes take the portable loop.
#define SCV_DEPTHWISE_MAX_SCRATCH ((ptrdiff_t)1 << 22)

/// Where each plane is copied before the taps run: a zero-bordered buffer wide enough that
/// every tap of every 8-column output vector reads inside it. At stride 2 each buffer row
/// holds the even columns of the padded row, then (at `odd`) its odd columns, so that every
/// tap reads eight consecutive floats instead of gathering every other one.
typedef struct dw_layout {
    ptrdiff_t stride, kh, kw, oh, ow;
    ptrdiff_t owr;    // ow rounded up to whole vectors
    ptrdiff_t rw;     // floats per buffer row
    ptrdiff_t odd;    // stride 2: where the odd columns of a row start (0 at stride 1)
    ptrdiff_t rows;   // buffer rows
    ptrdiff_t width;  // padded columns the buffer keeps
} dw_layout;

/// Copies plane `src` (`h` x `w`) into the buffer at (`pad_top`, `pad_left`). Only the
/// interior is written: the border stays as the caller zeroed it once for all planes.
SCV_AVX2 static void dw_copy_plane(const dw_layout *g, const float *src, ptrdiff_t h, ptrdiff_t w, float *buf,
                                   ptrdiff_t pad_top, ptrdiff_t pad_left) {
    ptrdiff_t n = w < g->width - pad_left ? w : g->width - pad_left;
    if (n <= 0) return;
    for (ptrdiff_t iy = 0; iy < h; iy++) {
        ptrdiff_t q = iy + pad_top;
        if (q >= g->rows) break;
        const float *from = src + iy * w;
        float *row = buf + q * g->rw;
        ptrdiff_t j = 0;
        if (g->stride == 1) {
            float *to = row + pad_left;
            for (; j + 8 <= n; j += 8) _mm256_storeu_ps(to + j, _mm256_loadu_ps(from + j));
            for (; j < n; j++) to[j] = from[j];
            continue;
        }
        // Stride 2: padded column c goes to row[c / 2] (even c) or row[odd + c / 2] (odd c).
        if (pad_left & 1) {
            row[g->odd + pad_left / 2] = from[0];
            j = 1;
        }
        float *even = row + (pad_left + j) / 2, *odd = row + g->odd + (pad_left + j) / 2;
        ptrdiff_t k = 0;
        for (; j + 16 <= n; j += 16, k += 8) {
            __m256 lo = _mm256_loadu_ps(from + j), hi = _mm256_loadu_ps(from + j + 8);
            __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
            // [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6] -> [lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6]
            e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
            o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
            _mm256_storeu_ps(even + k, e);
            _mm256_storeu_ps(odd + k, o);
        }
        for (; j + 1 < n; j += 2, k++) {
            even[k] = from[j];
            odd[k] = from[j + 1];
        }
        if (j < n) even[k] = from[j];
    }
}

/// `r` output rows (`r` <= 4) of one 8-column vector: every tap broadcast once and applied
/// to all rows. `in` is the buffer at the vector's first tap; rows are `step` floats apart.
/// Always inlined, so constant `kh`, `kw`, `stride` and `r` unroll the loops.
SCV_AVX2 static inline __attribute__((always_inline)) void dw_vector(
    const float *in, ptrdiff_t rw, ptrdiff_t odd, ptrdiff_t step, const float *filter, const ptrdiff_t kh,
    const ptrdiff_t kw, const int stride, const int r, __m256 acc[4]) {
    for (ptrdiff_t i = 0; i < kh; i++) {
        const float *row = in + i * rw;
        for (ptrdiff_t j = 0; j < kw; j++) {
            __m256 f = _mm256_broadcast_ss(filter + i * kw + j);
            const float *q = stride == 1 ? row + j : row + (j & 1) * odd + (j >> 1);
            for (int k = 0; k < r; k++) acc[k] = _mm256_fmadd_ps(f, _mm256_loadu_ps(q + k * step), acc[k]);
        }
    }
}

/// Stores one output vector. A partial last vector of a row is stored whole when that stays
/// inside the caller's planes (`limit`): the extra lanes fall on outputs written later,
/// since vectors go right to left and rows and planes top to bottom. Only a vector that
/// would pass `limit` is stored through the row's mask.
SCV_AVX2 static inline __attribute__((always_inline)) void dw_store(float *dst, __m256 v, int partial,
                                                                  const float *limit, __m256i mask) {
    if (!partial || dst + 8 <= limit) _mm256_storeu_ps(dst, v);
    else _mm256_maskstore_ps(dst, mask, v);
}

/// One plane from its buffer copy: blocks of four output rows, then the last one to three.
SCV_AVX2 static inline __attribute__((always_inline)) void dw_plane(
    const dw_layout *g, const float *buf, const float *filter, __m256 vbias, __m256 vlo, __m256 vhi, float *dst,
    const float *limit, __m256i mask, const ptrdiff_t kh, const ptrdiff_t kw, const int stride) {
    const ptrdiff_t ow = g->ow, owr = g->owr, rw = g->rw, odd = g->odd, step = stride * rw;
    const int partial_tail = ow % 8 != 0;
    for (ptrdiff_t oy = 0; oy < g->oh;) {
        ptrdiff_t left = g->oh - oy;
        int r = left >= 4 ? 4 : (int)left;
        const float *in = buf + oy * step;
        float *out = dst + oy * ow;
        for (ptrdiff_t ox = owr - 8; ox >= 0; ox -= 8) {
            __m256 acc[4] = {vbias, vbias, vbias, vbias};
            const float *at = in + ox;
            switch (r) {
            case 4: dw_vector(at, rw, odd, step, filter, kh, kw, stride, 4, acc); break;
            case 3: dw_vector(at, rw, odd, step, filter, kh, kw, stride, 3, acc); break;
            case 2: dw_vector(at, rw, odd, step, filter, kh, kw, stride, 2, acc); break;
            default: dw_vector(at, rw, odd, step, filter, kh, kw, stride, 1, acc); break;
            }
            int partial = partial_tail && ox + 8 > ow;
            for (int k = 0; k < r; k++) {
                __m256 v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc[k]));  // NaN-preserving operand order
                dw_store(out + k * ow + ox, v, partial, limit, mask);
            }
        }
        oy += r;
    }
}


/// Lanes 0..<n (0...8) set.
SCV_AVX2 static inline __m256i dw_lanes(ptrdiff_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// The channel-blocked layout for small maps: eight planes at a time are interleaved into a
/// zero-bordered buffer of pixels, each pixel the eight planes' values, so that a filter tap
/// is one vector of eight channels' weights and no lane is wasted on a row narrower than a
/// vector; at stride 2 the next pixel is simply the one two along.
typedef struct dw_blocked {
    ptrdiff_t stride, kh, kw, oh, ow;
    ptrdiff_t pw;    // pixels per buffer row
    ptrdiff_t rows;  // buffer rows
} dw_blocked;

/// Interleaves planes `src[0..<8]` (`h` x `w`) into the buffer at (`pad_top`, `pad_left`);
/// only the interior is written.
SCV_AVX2 static void dw_blocked_copy(const dw_blocked *g, const float *const src[8], ptrdiff_t h, ptrdiff_t w,
                                     float *buf, ptrdiff_t pad_top, ptrdiff_t pad_left) {
    ptrdiff_t n = w < g->pw - pad_left ? w : g->pw - pad_left;
    if (n <= 0) return;
    for (ptrdiff_t iy = 0; iy < h; iy++) {
        ptrdiff_t q = iy + pad_top;
        if (q >= g->rows) break;
        float *to = buf + (q * g->pw + pad_left) * 8;
        for (ptrdiff_t ix = 0; ix < n; ix += 8) {
            ptrdiff_t count = n - ix < 8 ? n - ix : 8;
            __m256 r[8];
            if (count == 8) {
                for (int l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(src[l] + iy * w + ix);
            } else {
                __m256i m = dw_lanes(count);
                for (int l = 0; l < 8; l++) r[l] = _mm256_maskload_ps(src[l] + iy * w + ix, m);
            }
            scv_transpose8(r);
            for (ptrdiff_t c = 0; c < count; c++) _mm256_storeu_ps(to + (ix + c) * 8, r[c]);
        }
    }
}

/// Zeroes what dw_blocked_copy never writes (the padding rows and each row's margins), so a
/// call pays for its borders, not for the whole buffer (callers may pass eight planes a call).
SCV_AVX2 static void dw_blocked_zero_margins(const dw_blocked *g, ptrdiff_t h, ptrdiff_t w, float *buf,
                                             ptrdiff_t pad_top, ptrdiff_t pad_left) {
    const ptrdiff_t pw = g->pw, rows = g->rows;
    const ptrdiff_t left = pad_left < pw ? pad_left : pw;
    ptrdiff_t n = w < pw - left ? w : pw - left;
    if (n < 0) n = 0;
    const ptrdiff_t first = pad_top < rows ? pad_top : rows;
    const ptrdiff_t last = pad_top + h < rows ? pad_top + h : rows;
    memset(buf, 0, sizeof(float) * (size_t)(first * pw * 8));
    memset(buf + last * pw * 8, 0, sizeof(float) * (size_t)((rows - last) * pw * 8));
    for (ptrdiff_t q = first; q < last; q++) {
        float *row = buf + q * pw * 8;
        memset(row, 0, sizeof(float) * (size_t)(left * 8));
        memset(row + (left + n) * 8, 0, sizeof(float) * (size_t)((pw - left - n) * 8));
    }
}

/// One group of up to eight planes from the interleaved buffer: eight output pixels of a
/// row at a time (eight accumulators of eight channels), transposed back into the planes'
/// rows in registers. Always inlined, so constant `kh`, `kw` and `stride` unroll the taps.
SCV_AVX2 static inline __attribute__((always_inline)) void dw_blocked_group(
    const dw_blocked *g, const float *buf, const float *packed, __m256 vbias, __m256 vlo, __m256 vhi,
    float *const dst[8], ptrdiff_t planes, const ptrdiff_t kh, const ptrdiff_t kw, const int stride) {
    const ptrdiff_t ow = g->ow, oh = g->oh, pw = g->pw;
    for (ptrdiff_t oy = 0; oy < oh; oy++) {
        for (ptrdiff_t ox = 0; ox < ow; ox += 8) {
            __m256 acc[8];
            for (int c = 0; c < 8; c++) acc[c] = vbias;
            for (ptrdiff_t i = 0; i < kh; i++) {
                const float *row = buf + ((oy * stride + i) * pw + ox * stride) * 8;
                for (ptrdiff_t j = 0; j < kw; j++) {
                    __m256 f = _mm256_loadu_ps(packed + (i * kw + j) * 8);
                    for (int c = 0; c < 8; c++)
                        acc[c] = _mm256_fmadd_ps(f, _mm256_loadu_ps(row + (c * stride + j) * 8), acc[c]);
                }
            }
            for (int c = 0; c < 8; c++) acc[c] = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc[c]));  // NaN kept
            scv_transpose8(acc);
            ptrdiff_t count = ow - ox < 8 ? ow - ox : 8;
            // A partial vector is stored whole while its extra lanes fall on this plane's
            // later rows (written after); at the plane's end only its own lanes are copied.
            int whole = count == 8 || (oy * ow + ox + 8 <= oh * ow);
            for (ptrdiff_t l = 0; l < planes; l++) {
                float *out = dst[l] + oy * ow + ox;
                if (whole) {
                    _mm256_storeu_ps(out, acc[l]);
                } else {
                    float tmp[8];
                    _mm256_storeu_ps(tmp, acc[l]);
                    for (ptrdiff_t c = 0; c < count; c++) out[c] = tmp[c];
                }
            }
        }
    }
}

/// The channel-blocked path (see `dw_blocked`); 0, having written nothing, when scratch
/// memory is short.
SCV_AVX2 static int dw_run_blocked(const float *x, const float *filters, const float *bias, float *y,
                                   ptrdiff_t plane_begin, ptrdiff_t plane_end, ptrdiff_t channels, ptrdiff_t h,
                                   ptrdiff_t w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t oh, ptrdiff_t ow,
                                   ptrdiff_t stride, ptrdiff_t pad_top, ptrdiff_t pad_left, float lo, float hi) {
    dw_blocked g = {.stride = stride, .kh = kh, .kw = kw, .oh = oh, .ow = ow};
    ptrdiff_t owr = (ow + 7) / 8 * 8;
    g.pw = (owr - 1) * stride + kw;
    g.rows = (oh - 1) * stride + kh;
    if (g.rows > SCV_DEPTHWISE_MAX_SCRATCH / 8 / g.pw) return 0;
    size_t floats = (size_t)(g.rows * g.pw * 8);
    float *buf = (float *)aligned_alloc(32, sizeof(float) * (floats + (size_t)kh * (size_t)kw * 8));
    if (!buf) return 0;
    float *packed = buf + floats;
    dw_blocked_zero_margins(&g, h, w, buf, pad_top, pad_left);
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    ptrdiff_t taps = kh * kw;
    for (ptrdiff_t p0 = plane_begin; p0 < plane_end; p0 += 8) {
        ptrdiff_t planes = plane_end - p0 < 8 ? plane_end - p0 : 8;
        const float *src[8];
        float *dst[8];
        float b[8];
        const float *filter[8];
        for (ptrdiff_t l = 0; l < 8; l++) {
            // Lanes past the last plane read the first plane again and are never stored.
            ptrdiff_t p = l < planes ? p0 + l : p0;
            src[l] = x + p * h * w;
            dst[l] = y + p * oh * ow;
            ptrdiff_t ch = p % channels;
            b[l] = bias ? bias[ch] : 0.0f;
            filter[l] = filters + ch * taps;
        }
        // The eight filters side by side, one vector per tap, by 8x8 transposes.
        for (ptrdiff_t t0 = 0; t0 < taps; t0 += 8) {
            ptrdiff_t count = taps - t0 < 8 ? taps - t0 : 8;
            __m256 r[8];
            __m256i m = dw_lanes(count);
            for (int l = 0; l < 8; l++) r[l] = _mm256_maskload_ps(filter[l] + t0, m);
            scv_transpose8(r);
            for (ptrdiff_t c = 0; c < count; c++) _mm256_storeu_ps(packed + (t0 + c) * 8, r[c]);
        }
        dw_blocked_copy(&g, src, h, w, buf, pad_top, pad_left);
        __m256 vbias = _mm256_loadu_ps(b);
        if (kh == 3 && kw == 3) {
            if (stride == 1) dw_blocked_group(&g, buf, packed, vbias, vlo, vhi, dst, planes, 3, 3, 1);
            else dw_blocked_group(&g, buf, packed, vbias, vlo, vhi, dst, planes, 3, 3, 2);
        } else if (kh == 5 && kw == 5) {
            if (stride == 1) dw_blocked_group(&g, buf, packed, vbias, vlo, vhi, dst, planes, 5, 5, 1);
            else dw_blocked_group(&g, buf, packed, vbias, vlo, vhi, dst, planes, 5, 5, 2);
        } else if (stride == 1) {
            dw_blocked_group(&g, buf, packed, vbias, vlo, vhi, dst, planes, kh, kw, 1);
        } else {
            dw_blocked_group(&g, buf, packed, vbias, vlo, vhi, dst, planes, kh, kw, 2);
        }
    }
    free(buf);
    return 1;
}

SCV_AVX2 int scv_depthwise_avx2(const float *x, const float *filters, const float *bias, float *y,
                                ptrdiff_t plane_begin, ptrdiff_t plane_end, ptrdiff_t channels,
                                ptrdiff_t h, ptrdiff_t w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t oh, ptrdiff_t ow,
                                ptrdiff_t stride, ptrdiff_t pad_top, ptrdiff_t pad_left, float lo, float hi) {
    if (stride != 1 && stride != 2) return 0;
    if (kh < 1 || kw < 1 || kh * kw > SCV_DEPTHWISE_MAX_TAPS || oh < 1 || ow < 1 || h < 1 || w < 1) return 0;
    if (pad_top < 0 || pad_left < 0 || channels < 1) return 0;
    if (plane_begin >= plane_end) return 1;
    if (oh > SCV_DEPTHWISE_MAX_SCRATCH || ow > SCV_DEPTHWISE_MAX_SCRATCH) return 0;
    // Eight planes or more take the channel-blocked path; fewer would leave its lanes idle.
    if (plane_end - plane_begin >= 8 &&
        dw_run_blocked(x, filters, bias, y, plane_begin, plane_end, channels, h, w, kh, kw, oh, ow, stride, pad_top,
                       pad_left, lo, hi))
        return 1;
    dw_layout g = {.stride = stride, .kh = kh, .kw = kw, .oh = oh, .ow = ow};
    g.owr = (ow + 7) / 8 * 8;
    g.rows = (oh - 1) * stride + kh;
    if (stride == 1) {
        g.rw = g.owr + kw - 1;
        g.odd = 0;
        g.width = g.rw;
    } else {
        g.odd = g.owr + (kw - 1) / 2;
        g.rw = 2 * g.odd;
        g.width = g.rw;
    }
    if (g.rows > SCV_DEPTHWISE_MAX_SCRATCH / g.rw) return 0;
    size_t floats = (size_t)(g.rows * g.rw);
    float *buf = (float *)malloc(sizeof(float) * floats);
    if (!buf) return 0;
    memset(buf, 0, sizeof(float) * floats);
    int32_t mask_bits[8];
    for (int i = 0; i < 8; i++) mask_bits[i] = i < (ow % 8 ? ow % 8 : 8) ? -1 : 0;
    __m256i mask = _mm256_loadu_si256((const __m256i *)mask_bits);
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const float *limit = y + plane_end * oh * ow;
    for (ptrdiff_t p = plane_begin; p < plane_end; p++) {
        ptrdiff_t ch = p % channels;
        const float *filter = filters + ch * kh * kw;
        float *dst = y + p * oh * ow;
        dw_copy_plane(&g, x + p * h * w, h, w, buf, pad_top, pad_left);
        __m256 vbias = _mm256_set1_ps(bias ? bias[ch] : 0.0f);
        if (kh == 3 && kw == 3) {
            if (stride == 1) dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, 3, 3, 1);
            else dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, 3, 3, 2);
        } else if (kh == 5 && kw == 5) {
            if (stride == 1) dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, 5, 5, 1);
            else dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, 5, 5, 2);
        } else if (kh == 7 && kw == 7) {
            if (stride == 1) dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, 7, 7, 1);
            else dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, 7, 7, 2);
        } else if (stride == 1) {
            dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, kh, kw, 1);
        } else {
            dw_plane(&g, buf, filter, vbias, vlo, vhi, dst, limit, mask, kh, kw, 2);
        }
    }
    free(buf);
    return 1;
}

#else

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
