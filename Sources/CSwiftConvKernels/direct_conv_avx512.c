// A direct 2-D convolution for few input channels (the 3-channel stem of a CNN), with output
// pixels across the zmm lanes: sixteen consecutive pixels of one output row per register,
// eight output channels at a time. At a depth of 27 (3 channels x 3x3) the implicit GEMM of
// conv_avx512.c spends more on transposing its tiles into NCHW than on multiply-adds; here each
// accumulator is a contiguous piece of an output row and is stored as it is. The input is a
// padded copy whose rows are split by column phase (scv_direct_conv), so a stride-2 row reads
// sixteen consecutive floats too. Compiled for every x86-64 CPU (per-function target
// attributes) and called only when scv_use_direct_conv() says so.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

int scv_use_direct_conv(void) {
    const char *v = getenv("SWIFTCONV_DIRECT_CONV");
    return !(v && strcmp(v, "0") == 0) && scv_cpu_has_avx512f();
}

#define SCV_AVX512 __attribute__((target("avx512f,avx2,fma")))

/// Bias, clamp (NaN passes: the value is the second operand of max and min) and masked store of
/// one accumulator of channel `j`, vector `v`.
SCV_AVX512 static inline __attribute__((always_inline)) void store_vector(__m512 acc, const scv_direct_conv *p,
                                                                          const float *bias, int j, int v,
                                                                          __mmask16 mask, float *y) {
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    const __m512 r = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(acc, _mm512_set1_ps(bias[j]))));
    _mm512_mask_storeu_ps(y + j * p->y_plane + 16 * v, mask, r);
}

/// `V` (1 to 3) vectors of sixteen output pixels by eight output channels: every input
/// channel and tap, then bias, clamp and store of the first `channels` channels. `x` is the
/// input at the block's first pixel, `masks[v]` the lanes of vector `v` that exist (loads and
/// stores of the others are suppressed, so nothing past the row is touched). Named
/// accumulators, not arrays: the release build kept an array of them on the stack.
SCV_AVX512 static inline __attribute__((always_inline)) void direct_block(
    const int V, const scv_direct_conv *p, const float *x, const float *w, const __mmask16 masks[3],
    const float *bias, float *y, ptrdiff_t channels) {
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m512 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    __m512 a40 = a00, a41 = a00, a42 = a00, a50 = a00, a51 = a00, a52 = a00;
    __m512 a60 = a00, a61 = a00, a62 = a00, a70 = a00, a71 = a00, a72 = a00;
    const __mmask16 m0 = masks[0], m1 = masks[1], m2 = masks[2];
    const ptrdiff_t taps = p->taps;
    for (ptrdiff_t c = 0; c < p->in_channels; c++) {
        const float *xc = x + c * p->x_plane;
        for (ptrdiff_t t = 0; t < taps; t++) {
            const float *xt = xc + p->tap_offsets[t];
            const __m512 i0 = _mm512_maskz_loadu_ps(m0, xt);
            const __m512 i1 = V > 1 ? _mm512_maskz_loadu_ps(m1, xt + 16) : i0;
            const __m512 i2 = V > 2 ? _mm512_maskz_loadu_ps(m2, xt + 32) : i0;
            __m512 wj;
#define SCV_STEP(j, x0, x1, x2)                          \
    wj = _mm512_set1_ps(w[j]);                           \
    x0 = _mm512_fmadd_ps(i0, wj, x0);                    \
    if (V > 1) x1 = _mm512_fmadd_ps(i1, wj, x1);         \
    if (V > 2) x2 = _mm512_fmadd_ps(i2, wj, x2);
            SCV_STEP(0, a00, a01, a02)
            SCV_STEP(1, a10, a11, a12)
            SCV_STEP(2, a20, a21, a22)
            SCV_STEP(3, a30, a31, a32)
            SCV_STEP(4, a40, a41, a42)
            SCV_STEP(5, a50, a51, a52)
            SCV_STEP(6, a60, a61, a62)
            SCV_STEP(7, a70, a71, a72)
#undef SCV_STEP
            w += 8;
        }
    }
#define SCV_STORE(j, x0, x1, x2)                                   \
    if (j < channels) {                                            \
        store_vector(x0, p, bias, j, 0, m0, y);                    \
        if (V > 1) store_vector(x1, p, bias, j, 1, m1, y);         \
        if (V > 2) store_vector(x2, p, bias, j, 2, m2, y);         \
    }
    SCV_STORE(0, a00, a01, a02)
    SCV_STORE(1, a10, a11, a12)
    SCV_STORE(2, a20, a21, a22)
    SCV_STORE(3, a30, a31, a32)
    SCV_STORE(4, a40, a41, a42)
    SCV_STORE(5, a50, a51, a52)
    SCV_STORE(6, a60, a61, a62)
    SCV_STORE(7, a70, a71, a72)
#undef SCV_STORE
}

SCV_AVX512 void scv_direct_conv_avx512(const scv_direct_conv *p, ptrdiff_t job_begin, ptrdiff_t job_end) {
    const ptrdiff_t blocks = (p->channels + 7) / 8;
    const ptrdiff_t depth = p->in_channels * p->taps;
    const ptrdiff_t vectors = (p->out_width + 15) / 16;
    const ptrdiff_t rest = p->out_width - (vectors - 1) * 16;
    const __mmask16 last = (__mmask16)(rest == 16 ? 0xFFFF : (1u << rest) - 1);
    for (ptrdiff_t job = job_begin; job < job_end; job++) {
        const ptrdiff_t oy = job / blocks, b = job % blocks;
        const ptrdiff_t channels = p->channels - b * 8 < 8 ? p->channels - b * 8 : 8;
        const float *xrow = p->x + oy * p->stride_h * p->x_row;
        const float *w = p->weights + b * depth * 8;
        const float *bias = p->bias + b * 8;
        float *yrow = p->y + b * 8 * p->y_plane + oy * p->out_width;
        ptrdiff_t v0 = 0;
        // Three vectors at a time (24 accumulators); the row's last one or two after.
        for (; v0 < vectors; v0 += 3) {
            const ptrdiff_t n = vectors - v0 < 3 ? vectors - v0 : 3;
            __mmask16 masks[3] = {0xFFFF, 0xFFFF, 0xFFFF};
            masks[n - 1] = v0 + n == vectors ? last : 0xFFFF;
            const float *x = xrow + v0 * 16;
            float *y = yrow + v0 * 16;
            if (n == 3)
                direct_block(3, p, x, w, masks, bias, y, channels);
            else if (n == 2)
                direct_block(2, p, x, w, masks, bias, y, channels);
            else
                direct_block(1, p, x, w, masks, bias, y, channels);
        }
    }
}

SCV_AVX512 void scv_direct_conv_copy_avx512(const float *x, ptrdiff_t height, ptrdiff_t width, ptrdiff_t top,
                                            ptrdiff_t left, ptrdiff_t stride, ptrdiff_t phase_width,
                                            ptrdiff_t rows, float *dst, ptrdiff_t job_begin, ptrdiff_t job_end) {
    const ptrdiff_t row_length = phase_width * stride;
    // Source columns 2i and 2i + 1 of 32 consecutive ones: the even and the odd lanes.
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (ptrdiff_t job = job_begin; job < job_end; job++) {
        const ptrdiff_t c = job / rows, r = job % rows, sr = r - top;
        float *line = dst + job * row_length;
        if (sr < 0 || sr >= height) {
            memset(line, 0, (size_t)row_length * sizeof(float));
            continue;
        }
        const float *s = x + (c * height + sr) * width;
        if (stride == 1) {
            const ptrdiff_t lead = left < row_length ? left : row_length;
            const ptrdiff_t count = width < row_length - lead ? width : row_length - lead;
            memset(line, 0, (size_t)lead * sizeof(float));
            memcpy(line + lead, s, (size_t)count * sizeof(float));
            memset(line + lead + count, 0, (size_t)(row_length - lead - count) * sizeof(float));
            continue;
        }
        // Padded column 2i + q is source column 2i + q - left: the first (left + 1) / 2 of each
        // phase may lie in the left padding; then 32 source columns at a time split into the two
        // phases while they lie in the row; the rest one at a time.
        ptrdiff_t i = (left + 1) / 2;
        if (i > phase_width) i = phase_width;
        for (ptrdiff_t k = 0; k < i; k++) {
            line[k] = 2 * k - left >= 0 && 2 * k - left < width ? s[2 * k - left] : 0.0f;
            line[phase_width + k] = 2 * k + 1 - left >= 0 && 2 * k + 1 - left < width ? s[2 * k + 1 - left] : 0.0f;
        }
        for (; i + 16 <= phase_width && 2 * i + 32 - left <= width; i += 16) {
            const __m512 a = _mm512_loadu_ps(s + 2 * i - left), b = _mm512_loadu_ps(s + 2 * i - left + 16);
            _mm512_storeu_ps(line + i, _mm512_permutex2var_ps(a, even, b));
            _mm512_storeu_ps(line + phase_width + i, _mm512_permutex2var_ps(a, odd, b));
        }
        for (; i < phase_width; i++) {
            line[i] = 2 * i - left < width ? s[2 * i - left] : 0.0f;
            line[phase_width + i] = 2 * i + 1 - left < width ? s[2 * i + 1 - left] : 0.0f;
        }
    }
}

#else

void scv_direct_conv_copy_avx512(const float *x, ptrdiff_t height, ptrdiff_t width, ptrdiff_t top,
                                 ptrdiff_t left, ptrdiff_t stride, ptrdiff_t phase_width,
                                 ptrdiff_t rows, float *dst, ptrdiff_t job_begin, ptrdiff_t job_end) {
    (void)x; (void)height; (void)width; (void)top; (void)left; (void)stride; (void)phase_width; (void)rows;
    (void)dst; (void)job_begin; (void)job_end;
}

int scv_use_direct_conv(void) { return 0; }

void scv_direct_conv_avx512(const scv_direct_conv *p, ptrdiff_t job_begin, ptrdiff_t job_end) {
    (void)p; (void)job_begin; (void)job_end;
}

#endif
