// FMA peak microbenchmark: independent chains, so throughput (not latency) bounds the loop.
// Twelve chains (the most that fit in 16 ymm registers beside the two operands) and sixteen
// on zmm cover 2 FMA pipes x 4-5 cycles of latency on current x86-64 cores.
#include "swiftconv_bench.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define CHAINS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define CHAINS(X) CHAINS12(X) X(12) X(13) X(14) X(15)

__attribute__((target("avx2,fma"))) static float chains_ymm(int64_t iterations) {
#define DECL(i) __m256 c##i = _mm256_set1_ps((float)(i) * 0.001f);
    CHAINS12(DECL)
#undef DECL
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int64_t it = 0; it < iterations; it++) {
#define STEP(i) c##i = _mm256_fmadd_ps(c##i, x, y);
        CHAINS12(STEP)
#undef STEP
    }
    __m256 s = _mm256_setzero_ps();
#define SUM(i) s = _mm256_add_ps(s, c##i);
    CHAINS12(SUM)
#undef SUM
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

__attribute__((target("avx512f"))) static float chains_zmm(int64_t iterations) {
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)(i) * 0.001f);
    CHAINS(DECL)
#undef DECL
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int64_t it = 0; it < iterations; it++) {
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, x, y);
        CHAINS(STEP)
#undef STEP
    }
    __m512 s = _mm512_setzero_ps();
#define SUM(i) s = _mm512_add_ps(s, c##i);
    CHAINS(SUM)
#undef SUM
    return _mm512_reduce_add_ps(s);
}

int64_t scv_bench_fma_chains(int width, int64_t iterations, float *sink) {
    __builtin_cpu_init();
    if (width == 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *sink = chains_ymm(iterations);
        return iterations * 12 * 8 * 2;
    }
    if (width == 16 && __builtin_cpu_supports("avx512f")) {
        *sink = chains_zmm(iterations);
        return iterations * 16 * 16 * 2;
    }
    return 0;
}

#else

int64_t scv_bench_fma_chains(int width, int64_t iterations, float *sink) {
    (void)width; (void)iterations; *sink = 0;
    return 0;
}

#endif
