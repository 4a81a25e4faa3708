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

/// `V` (1 to 3) vectors of sixteen output pixels by eight output channels: every input
/// channel and tap, then bias, clamp and store of the first `channels` channels. `x` is the
/// input at the block's first pixel, `masks[v]` the lanes of vector `v` that exist (loads and
/// stores of the others are suppressed, so nothing past the row is touched).
SCV_AVX512 static inline __attribute__((always_inline)) void direct_block(
    const int V, const scv_direct_conv *p, const float *x, const float *w, const __mmask16 masks[3],
    const float *bias, float *y, ptrdiff_t channels) {
    __m512 acc[8][3];
    for (int j = 0; j < 8; j++)
        for (int v = 0; v < V; v++) acc[j][v] = _mm512_setzero_ps();
    const ptrdiff_t taps = p->taps;
    for (ptrdiff_t c = 0; c < p->in_channels; c++) {
        const float *xc = x + c * p->x_plane;
        for (ptrdiff_t t = 0; t < taps; t++) {
            const float *xt = xc + p->tap_offsets[t];
            __m512 in[3];
            for (int v = 0; v < V; v++) in[v] = _mm512_maskz_loadu_ps(masks[v], xt + 16 * v);
            for (int j = 0; j < 8; j++) {
                const __m512 wj = _mm512_set1_ps(w[j]);
                for (int v = 0; v < V; v++) acc[j][v] = _mm512_fmadd_ps(in[v], wj, acc[j][v]);
            }
            w += 8;
        }
    }
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    for (int j = 0; j < 8; j++) {
        if (j >= channels) break;
        const __m512 b = _mm512_set1_ps(bias[j]);
        for (int v = 0; v < V; v++) {
            // max then min with the value second: a NaN passes through both.
            const __m512 r = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(acc[j][v], b)));
            _mm512_mask_storeu_ps(y + j * p->y_plane + 16 * v, masks[v], r);
        }
    }
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

#else

int scv_use_direct_conv(void) { return 0; }

void scv_direct_conv_avx512(const scv_direct_conv *p, ptrdiff_t job_begin, ptrdiff_t job_end) {
    (void)p; (void)job_begin; (void)job_end;
}

#endif
