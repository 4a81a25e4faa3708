// Implicit-GEMM convolution (AVX2+FMA): output pixels times output channels, with the
// input read where it lies instead of unfolded into an im2col matrix first. Each depth step
// (input channel, filter tap) is one offset from a pixel's first input element, so a tile
// broadcasts six input values (six output pixels) against sixteen packed weights (sixteen
// output channels). Compiled for every x86-64 CPU (per-function target attributes) and called
// only when scv_cpu_has_avx2_fma() says so; other architectures get a stub never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#include "conv_store_avx2.h"

#define SCV_AVX2 __attribute__((target("avx2,fma")))

/// One tile: six output pixels (`p0`..`p5`, each pointing at its first input element) by
/// sixteen output channels (a weight panel of 16 floats per depth step), over every input
/// channel (`x_plane` apart) and filter tap (`taps` offsets within a channel).
SCV_AVX2 static void conv_tile(ptrdiff_t in_channels, ptrdiff_t x_plane, ptrdiff_t taps, const ptrdiff_t *tap_offsets,
                               const float *p0, const float *p1, const float *p2, const float *p3, const float *p4,
                               const float *p5, const float *w, const float *bias, __m256 lo, __m256 hi, float *y,
                               ptrdiff_t plane, ptrdiff_t channels, ptrdiff_t pixels) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (ptrdiff_t c = 0; c < in_channels; c++) {
        for (ptrdiff_t t = 0; t < taps; t++) {
            const ptrdiff_t o = tap_offsets[t];
            __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
            __m256 av;
            av = _mm256_broadcast_ss(p0 + o); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
            av = _mm256_broadcast_ss(p1 + o); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
            av = _mm256_broadcast_ss(p2 + o); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
            av = _mm256_broadcast_ss(p3 + o); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
            av = _mm256_broadcast_ss(p4 + o); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
            av = _mm256_broadcast_ss(p5 + o); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
            w += 16;
        }
        p0 += x_plane; p1 += x_plane; p2 += x_plane; p3 += x_plane; p4 += x_plane; p5 += x_plane;
    }
    ptrdiff_t first = channels < 8 ? channels : 8;
    scv_conv_store_half(c00, c10, c20, c30, c40, c50, bias, lo, hi, y, plane, first, pixels);
    if (channels > 8)
        scv_conv_store_half(c01, c11, c21, c31, c41, c51, bias + 8, lo, hi, y + 8 * plane, plane, channels - 8, pixels);
}

SCV_AVX2 void scv_conv_implicit_avx2(const scv_conv_problem *p, ptrdiff_t tile_begin, ptrdiff_t tile_end,
                                     ptrdiff_t panel_begin, ptrdiff_t panel_end) {
    const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
    const ptrdiff_t block = p->panel_block > 0 ? p->panel_block : 1;
    const ptrdiff_t depth = p->in_channels * p->taps;
    for (ptrdiff_t b0 = panel_begin; b0 < panel_end; b0 += block) {
        const ptrdiff_t b1 = b0 + block < panel_end ? b0 + block : panel_end;
        // The output row and column of the tile's first pixel.
        ptrdiff_t oy = tile_begin * 6 / p->out_width, ox = tile_begin * 6 - oy * p->out_width;
        for (ptrdiff_t t = tile_begin; t < tile_end; t++) {
            const ptrdiff_t first = t * 6;
            const float *px[6];
            const ptrdiff_t pixels = scv_conv_tile_pixels(p, first, &oy, &ox, px);
            for (ptrdiff_t q = b0; q < b1; q++) {
                const ptrdiff_t c0 = q * 16;
                const ptrdiff_t channels = p->channels - c0 < 16 ? p->channels - c0 : 16;
                conv_tile(p->in_channels, p->x_plane, p->taps, p->tap_offsets, px[0], px[1], px[2], px[3], px[4],
                          px[5], p->weights + q * depth * 16, p->bias + c0, lo, hi, p->y + c0 * p->y_plane + first,
                          p->y_plane, channels, pixels);
            }
        }
    }
}

#else

void scv_conv_implicit_avx2(const scv_conv_problem *p, ptrdiff_t tile_begin, ptrdiff_t tile_end,
                            ptrdiff_t panel_begin, ptrdiff_t panel_end) {
    (void)p; (void)tile_begin; (void)tile_end; (void)panel_begin; (void)panel_end;
}

#endif
