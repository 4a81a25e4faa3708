// The implicit-GEMM convolution of conv_avx2.c with sixteen output channels in one zmm register:
// the same packed 16-channel weight panels, tiles of six pixels, and store. A tile takes two
// panels at once where it can (twelve accumulators), so each depth step is two weight loads,
// six broadcasts and twelve multiply-adds, half the instructions of the AVX2 loop for the same
// work. Compiled for every x86-64 CPU (per-function target attributes) and called only when
// scv_cpu_has_avx512f() says so; other architectures get a stub that is never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#include "conv_store_avx2.h"

#define SCV_AVX512 __attribute__((target("avx512f,avx2,fma")))

/// Stores one panel's six zmm accumulators (pixels) as two halves of eight channels.
SCV_AVX512 static inline void store_panel(const __m512 acc[6], const float *bias, __m256 lo, __m256 hi, float *y,
                                          ptrdiff_t plane, ptrdiff_t channels, ptrdiff_t pixels) {
    __m256 h[6];
    for (int j = 0; j < 6; j++) h[j] = _mm512_castps512_ps256(acc[j]);
    scv_conv_store_half(h[0], h[1], h[2], h[3], h[4], h[5], bias, lo, hi, y, plane, channels < 8 ? channels : 8,
                        pixels);
    if (channels > 8) {
        for (int j = 0; j < 6; j++)
            h[j] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[j]), 1));
        scv_conv_store_half(h[0], h[1], h[2], h[3], h[4], h[5], bias + 8, lo, hi, y + 8 * plane, plane, channels - 8,
                            pixels);
    }
}

/// Six pixels by `P` (1 or 2) consecutive 16-channel panels (`w`, the next `depth * 16`
/// floats on), over every input channel and tap; then bias, clamp and store. Named
/// accumulators, not arrays: the compiler kept arrays of them on the stack.
SCV_AVX512 static inline __attribute__((always_inline)) void conv_tile(
    const int P, ptrdiff_t in_channels, ptrdiff_t x_plane, ptrdiff_t taps, const ptrdiff_t *tap_offsets,
    const float *const px[6], const float *w, ptrdiff_t depth, const float *bias, __m256 lo, __m256 hi, float *y,
    ptrdiff_t plane, ptrdiff_t channels, ptrdiff_t pixels) {
    __m512 c00 = _mm512_setzero_ps(), c10 = c00, c20 = c00, c30 = c00, c40 = c00, c50 = c00;
    __m512 c01 = c00, c11 = c00, c21 = c00, c31 = c00, c41 = c00, c51 = c00;
    const float *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3], *p4 = px[4], *p5 = px[5];
    const float *w1 = w + depth * 16;
    for (ptrdiff_t c = 0; c < in_channels; c++) {
        for (ptrdiff_t t = 0; t < taps; t++) {
            const ptrdiff_t o = tap_offsets[t];
            const __m512 b0 = _mm512_loadu_ps(w);
            const __m512 b1 = P > 1 ? _mm512_loadu_ps(w1) : b0;
            __m512 av;
#define SCV_STEP(p, x0, x1)                                 \
    av = _mm512_set1_ps(p[o]);                              \
    x0 = _mm512_fmadd_ps(av, b0, x0);                       \
    if (P > 1) x1 = _mm512_fmadd_ps(av, b1, x1);
            SCV_STEP(p0, c00, c01)
            SCV_STEP(p1, c10, c11)
            SCV_STEP(p2, c20, c21)
            SCV_STEP(p3, c30, c31)
            SCV_STEP(p4, c40, c41)
            SCV_STEP(p5, c50, c51)
#undef SCV_STEP
            w += 16;
            w1 += 16;
        }
        p0 += x_plane; p1 += x_plane; p2 += x_plane; p3 += x_plane; p4 += x_plane; p5 += x_plane;
    }
    const __m512 first[6] = {c00, c10, c20, c30, c40, c50};
    store_panel(first, bias, lo, hi, y, plane, channels < 16 ? channels : 16, pixels);
    if (P > 1) {
        const __m512 second[6] = {c01, c11, c21, c31, c41, c51};
        store_panel(second, bias + 16, lo, hi, y + 16 * plane, plane, channels - 16, pixels);
    }
}

SCV_AVX512 void scv_conv_implicit_avx512(const scv_conv_problem *p, ptrdiff_t tile_begin, ptrdiff_t tile_end,
                                         ptrdiff_t panel_begin, ptrdiff_t panel_end) {
    const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
    // Panels go in pairs, so a block holds an even number (at least two: a pair of the
    // deepest panels still fits the L2 the block size is chosen for).
    const ptrdiff_t block = p->panel_block > 2 ? p->panel_block & ~(ptrdiff_t)1 : 2;
    const ptrdiff_t depth = p->in_channels * p->taps;
    for (ptrdiff_t b0 = panel_begin; b0 < panel_end; b0 += block) {
        const ptrdiff_t b1 = b0 + block < panel_end ? b0 + block : panel_end;
        // The output row and column of the tile's first pixel.
        ptrdiff_t oy = tile_begin * 6 / p->out_width, ox = tile_begin * 6 - oy * p->out_width;
        for (ptrdiff_t t = tile_begin; t < tile_end; t++) {
            const ptrdiff_t first = t * 6;
            const float *px[6];
            const ptrdiff_t pixels = scv_conv_tile_pixels(p, first, &oy, &ox, px);
            ptrdiff_t q = b0;
            for (; q + 2 <= b1; q += 2) {
                const ptrdiff_t c0 = q * 16;
                const ptrdiff_t channels = p->channels - c0 < 32 ? p->channels - c0 : 32;
                conv_tile(2, p->in_channels, p->x_plane, p->taps, p->tap_offsets, px, p->weights + q * depth * 16, depth,
                          p->bias + c0, lo, hi, p->y + c0 * p->y_plane + first, p->y_plane, channels, pixels);
            }
            if (q < b1) {
                const ptrdiff_t c0 = q * 16;
                const ptrdiff_t channels = p->channels - c0 < 16 ? p->channels - c0 : 16;
                conv_tile(1, p->in_channels, p->x_plane, p->taps, p->tap_offsets, px, p->weights + q * depth * 16, depth,
                          p->bias + c0, lo, hi, p->y + c0 * p->y_plane + first, p->y_plane, channels, pixels);
            }
        }
    }
}

#else

void scv_conv_implicit_avx512(const scv_conv_problem *p, ptrdiff_t tile_begin, ptrdiff_t tile_end,
                              ptrdiff_t panel_begin, ptrdiff_t panel_end) {
    (void)p; (void)tile_begin; (void)tile_end; (void)panel_begin; (void)panel_end;
}

#endif
