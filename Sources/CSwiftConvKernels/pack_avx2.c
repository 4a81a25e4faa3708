// AVX2 packing of the GEMM's A operand when it is an activation (MatMul's left input): six
// row-major rows become one 6-row panel, six values per depth step. The Swift loop it replaces
// stores one float at a time with a stride of six, which cost a sixth of vit_tiny's products.
// Compiled for every x86-64 CPU (per-function target attributes) and called only when
// scv_cpu_has_avx2_fma() says so; other architectures get a stub that is never called.
#include "swiftconv_kernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include "transpose_avx2.h"

#define SCV_AVX2 __attribute__((target("avx2,fma")))

SCV_AVX2 void scv_pack_a_panel6_avx2(const float *a, ptrdiff_t lda, ptrdiff_t depth, float *out) {
    ptrdiff_t kk = 0;
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    for (; kk + 8 <= depth; kk += 8) {
        __m256 r[8];
        for (int i = 0; i < 6; i++) r[i] = _mm256_loadu_ps(a + i * lda + kk);
        r[6] = _mm256_setzero_ps();
        r[7] = _mm256_setzero_ps();
        scv_transpose8(r);
        float *o = out + kk * 6;
        // Each 8-lane store writes two lanes of the next depth step, which the next store
        // overwrites; the last one is masked so nothing past this block of 8 is touched.
        for (int j = 0; j < 7; j++) _mm256_storeu_ps(o + j * 6, r[j]);
        _mm256_maskstore_ps(o + 42, six, r[7]);
    }
    for (; kk < depth; kk++) {
        for (int i = 0; i < 6; i++) out[kk * 6 + i] = a[i * lda + kk];
    }
}

#else

void scv_pack_a_panel6_avx2(const float *a, ptrdiff_t lda, ptrdiff_t depth, float *out) {
    (void)a; (void)lda; (void)depth; (void)out;
}

#endif
