// What the implicit-GEMM convolution's AVX2 and AVX-512 loops (conv_avx2.c, conv_avx512.c)
// share: the walk over a tile's six output pixels and the store of six pixels of eight
// channels into NCHW rows. Included only
// from x86-64 sources built with clang or gcc, inside their vector sections.
#ifndef SWIFTCONV_CONV_STORE_AVX2_H
#define SWIFTCONV_CONV_STORE_AVX2_H

#include <immintrin.h>

#include "swiftconv_kernels.h"
#include "transpose_avx2.h"

/// Points `px` at the first input element of the tile's pixels, starting at output pixel
/// (`*oy`, `*ox`) and advancing it past them one pixel at a time (a division per pixel costs
/// as much as the multiply-adds of a tile at small depth, a stem's 27). Missing pixels of the
/// last tile repeat its first one; their results are dropped. Returns the tile's pixel count.
static inline ptrdiff_t scv_conv_tile_pixels(const scv_conv_problem *p, ptrdiff_t first, ptrdiff_t *oy, ptrdiff_t *ox,
                                             const float *px[6]) {
    const ptrdiff_t pixels = p->pixels - first < 6 ? p->pixels - first : 6;
    const ptrdiff_t row_step = p->stride_h * p->x_width;
    for (ptrdiff_t j = 0; j < pixels; j++) {
        px[j] = p->x + *oy * row_step + *ox * p->stride_w;
        if (++*ox == p->out_width) {
            *ox = 0;
            ++*oy;
        }
    }
    for (ptrdiff_t j = pixels; j < 6; j++) px[j] = px[0];
    return pixels;
}

/// Adds the channel bias, clamps (NaN stays NaN), transposes six pixel rows of eight channels
/// into eight channel rows of six pixels, and stores the first `channels` rows, `pixels` values
/// each, `plane` apart.
__attribute__((target("avx2,fma"))) static inline void scv_conv_store_half(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4, __m256 r5,
                                                                           const float *bias, __m256 lo, __m256 hi, float *y, ptrdiff_t plane,
                                                                           ptrdiff_t channels, ptrdiff_t pixels) {
    __m256 vb = _mm256_loadu_ps(bias);
    r0 = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(r0, vb)));
    r1 = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(r1, vb)));
    r2 = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(r2, vb)));
    r3 = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(r3, vb)));
    r4 = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(r4, vb)));
    r5 = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(r5, vb)));
    __m256 col[8] = {r0, r1, r2, r3, r4, r5, _mm256_setzero_ps(), _mm256_setzero_ps()};
    scv_transpose8(col);
    if (pixels == 6) {
        for (ptrdiff_t c = 0; c < channels; c++) {
            float *row = y + c * plane;
            __m128 low = _mm256_castps256_ps128(col[c]);
            _mm_storeu_ps(row, low);
            _mm_storel_pi((__m64 *)(row + 4), _mm256_extractf128_ps(col[c], 1));
        }
    } else {
        float values[8];
        for (ptrdiff_t c = 0; c < channels; c++) {
            _mm256_storeu_ps(values, col[c]);
            for (ptrdiff_t j = 0; j < pixels; j++) y[c * plane + j] = values[j];
        }
    }
}

#endif
