// AVX2 loops of 2-D max pooling (SwiftConvKernels/Pooling.swift): the reduction of a
// window's input rows into one row, and the windows along that row. Every max keeps the
// tap-by-tap order of the portable loop (`v > m ? v : m`, which `_mm256_max_ps(v, m)` is),
// so NaN wins exactly when the portable loop lets it.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define SCV_AVX2 __attribute__((target("avx2,fma")))

SCV_AVX2 void scv_max_rows_avx2(const float *src, ptrdiff_t rows, ptrdiff_t step, ptrdiff_t count, float *row) {
    ptrdiff_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m256 m0 = _mm256_loadu_ps(src + i), m1 = _mm256_loadu_ps(src + i + 8);
        __m256 m2 = _mm256_loadu_ps(src + i + 16), m3 = _mm256_loadu_ps(src + i + 24);
        for (ptrdiff_t r = 1; r < rows; r++) {
            const float *p = src + r * step + i;
            m0 = _mm256_max_ps(_mm256_loadu_ps(p), m0);
            m1 = _mm256_max_ps(_mm256_loadu_ps(p + 8), m1);
            m2 = _mm256_max_ps(_mm256_loadu_ps(p + 16), m2);
            m3 = _mm256_max_ps(_mm256_loadu_ps(p + 24), m3);
        }
        _mm256_storeu_ps(row + i, m0);
        _mm256_storeu_ps(row + i + 8, m1);
        _mm256_storeu_ps(row + i + 16, m2);
        _mm256_storeu_ps(row + i + 24, m3);
    }
    for (; i + 8 <= count; i += 8) {
        __m256 m = _mm256_loadu_ps(src + i);
        for (ptrdiff_t r = 1; r < rows; r++) m = _mm256_max_ps(_mm256_loadu_ps(src + r * step + i), m);
        _mm256_storeu_ps(row + i, m);
    }
    if (i < count && count >= 8) {
        // The last partial vector again as a whole one ending at `count` (its outputs overlap
        // ones already written, with the same values).
        i = count - 8;
        __m256 m = _mm256_loadu_ps(src + i);
        for (ptrdiff_t r = 1; r < rows; r++) m = _mm256_max_ps(_mm256_loadu_ps(src + r * step + i), m);
        _mm256_storeu_ps(row + i, m);
        return;
    }
    for (; i < count; i++) {
        float m = src[i];
        for (ptrdiff_t r = 1; r < rows; r++) {
            float v = src[r * step + i];
            m = v > m ? v : m;
        }
        row[i] = m;
    }
}

/// Eight consecutive values at stride 2 starting at p (reads p[0..15]).
SCV_AVX2 static inline __m256 pool_load_stride2(const float *p) {
    __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// The same eight values read as the odd lanes of p[-1..14], for the end of a row.
SCV_AVX2 static inline __m256 pool_load_stride2_back(const float *p) {
    __m256 lo = _mm256_loadu_ps(p - 1), hi = _mm256_loadu_ps(p + 7);
    __m256 odd = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odd), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// The max over `taps` of eight windows starting at `p` (`stride` 1 or 2), tap by tap as
/// `v > m ? v : m`; at stride 2, `backward` loads the pairs without reading past the last window.
SCV_AVX2 static inline __m256 window_max8(const float *p, ptrdiff_t stride, ptrdiff_t taps, int backward) {
    if (stride == 1) {
        __m256 m = _mm256_loadu_ps(p);
        for (ptrdiff_t t = 1; t < taps; t++) m = _mm256_max_ps(_mm256_loadu_ps(p + t), m);
        return m;
    }
    __m256 m = backward ? pool_load_stride2_back(p) : pool_load_stride2(p);
    for (ptrdiff_t t = 1; t < taps; t++)
        m = _mm256_max_ps(backward ? pool_load_stride2_back(p + t) : pool_load_stride2(p + t), m);
    return m;
}

SCV_AVX2 void scv_max_windows_avx2(const float *row, ptrdiff_t available, ptrdiff_t count, ptrdiff_t stride,
                                   ptrdiff_t taps, float *out) {
    ptrdiff_t j = 0;
    if (taps >= 1 && (stride == 1 || stride == 2)) {
        // A vector of outputs j..j+7 reads up to row[(j + 7) * stride + taps - 1], one more at stride 2.
        ptrdiff_t reach = 7 * stride + taps - 1 + (stride == 2);
        for (; j + 8 <= count && j * stride + reach < available; j += 8) {
            _mm256_storeu_ps(out + j, window_max8(row + j * stride, stride, taps, 0));
        }
        if (j < count && count > 8) {
            // The rest as one whole vector ending at `count`, overlapping outputs already
            // written (with the same values); every read lies in the windows or just before.
            j = count - 8;
            _mm256_storeu_ps(out + j, window_max8(row + j * stride, stride, taps, 1));
            return;
        }
    }
    for (; j < count; j++) {
        const float *p = row + j * stride;
        float m = p[0];
        for (ptrdiff_t t = 1; t < taps; t++) m = p[t] > m ? p[t] : m;
        out[j] = m;
    }
}

#else

void scv_max_rows_avx2(const float *src, ptrdiff_t rows, ptrdiff_t step, ptrdiff_t count, float *row) {
    (void)src; (void)rows; (void)step; (void)count; (void)row;
}

void scv_max_windows_avx2(const float *row, ptrdiff_t available, ptrdiff_t count, ptrdiff_t stride,
                          ptrdiff_t taps, float *out) {
    (void)row; (void)available; (void)count; (void)stride; (void)taps; (void)out;
}

#endif
