// Architecture-specific inner loops for SwiftConvKernels, chosen once at start-up from the
// CPU's features. The portable Swift kernels remain the fallback on every machine; these
// replace the few hottest loops where the Swift compiler cannot target a newer ISA per
// function (it builds a whole module for one CPU).
//
// All pointers are borrowed for the duration of the call; nothing is retained or freed.
#ifndef SWIFTCONV_KERNELS_H
#define SWIFTCONV_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU and build can run the AVX2+FMA kernels below, else 0. Also 0 when the
/// environment sets SWIFTCONV_PORTABLE_KERNELS (to anything but "0"), which tests use to
/// check the portable Swift kernels on any machine.
int scv_cpu_has_avx2_fma(void);

/// What a GEMM does to a finished block of C (after the last depth block): add
/// `row_bias[row]` (when not NULL; `row` counts from the tile's first row), then clamp to
/// [`lo`, `hi`] (NaN stays NaN). Relu is lo 0, hi +inf; no clamp is -inf, +inf.
typedef struct scv_tile_finish {
    const float *row_bias;
    float lo;
    float hi;
} scv_tile_finish;

/// One 6x16 tile of C = alpha * A * B + beta * C over depth `kb` (AVX2+FMA), then `finish`
/// when not NULL. `a`: 6 floats per depth step (a packed A panel); `b`: 16 floats per depth
/// step (a packed B panel). Only the top-left `rows` x `cols` of the tile are written;
/// `beta` 0 never reads C.
void scv_sgemm_tile_6x16_avx2(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                              const scv_tile_finish *finish);

/// 1 when this CPU and build can run the AVX-512F kernels below (AVX2+FMA too), else 0;
/// also 0 when the environment sets SWIFTCONV_PORTABLE_KERNELS.
int scv_cpu_has_avx512f(void);
/// Whether the implicit convolution takes its AVX-512F loop: where the CPU has AVX-512F,
/// unless SWIFTCONV_CONV_AVX512=0 (for measuring one against the other).
int scv_use_avx512_conv(void);

/// 1 when the AVX-512 GEMM tile should replace the AVX2 one: the environment opts in with
/// SWIFTCONV_AVX512 (anything but "0") and scv_cpu_has_avx512f(). Not the default: on the
/// AMD Zen 4 it was measured on, 512-bit FMAs run as two 256-bit halves and the tile was no
/// faster than the AVX2 one (docs/PERF.md).
int scv_use_avx512_gemm(void);

/// Whether GEMMs take scv_sgemm_tile_12x16_avx512 for pairs of row panels: where the CPU has
/// AVX-512F, unless SWIFTCONV_GEMM_AVX512=0 (for measuring one against the other).
int scv_use_avx512_gemm_pair(void);

/// Two stacked 6x16 tiles of C = alpha * A * B + beta * C over depth `kb` (AVX-512F,
/// sgemm12_avx512.c), then `finish`: rows 0..<6 from the packed A panel `a0`, rows 6..<`rows`
/// from the packed A panel `a1` (each 6 floats per depth step), one packed B panel `b` (16
/// floats per depth step). `rows` 7..12, `cols` 1..16; `finish->row_bias` counts from the
/// tile's first row. The results of two scv_sgemm_tile_6x16_avx2 calls bit for bit.
void scv_sgemm_tile_12x16_avx512(ptrdiff_t kb, const float *a0, const float *a1, const float *b, float *c,
                                 ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                                 const scv_tile_finish *finish);

/// One 8x32 tile of C = alpha * A * B + beta * C over depth `kb` (AVX-512F), then `finish`:
/// the contract of scv_sgemm_tile_6x16_avx2 with 8 floats of A and 32 of B per depth step.
void scv_sgemm_tile_8x32_avx512(ptrdiff_t kb, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta,
                                const scv_tile_finish *finish);

/// Depthwise `kh` x `kw` convolution (AVX2+FMA, dilation 1, stride 1 or 2 in both
/// directions, at most 64 taps; depthwise_avx2.c) of planes `plane_begin..<plane_end` of `x`
/// (NCHW, each plane `h` x `w`) into `y` (planes `oh` x `ow`). Plane `p` uses filter
/// `filters[(p % channels) * kh * kw ..]` and bias `bias[p % channels]` (`bias` may be NULL);
/// outputs are clamped to [`lo`, `hi`] (pass -inf/+inf for none). Zero padding
/// `pad_top`/`pad_left`; the rest follows from the sizes. Writes only the outputs of its planes.
/// Returns 0, having written nothing, for another stride, a larger filter or when scratch
/// memory is short.
int scv_depthwise_avx2(const float *x, const float *filters, const float *bias, float *y,
                       ptrdiff_t plane_begin, ptrdiff_t plane_end, ptrdiff_t channels,
                       ptrdiff_t h, ptrdiff_t w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t oh, ptrdiff_t ow,
                       ptrdiff_t stride, ptrdiff_t pad_top, ptrdiff_t pad_left, float lo, float hi);

/// One image and group of a 2-D float convolution for scv_conv_implicit_avx2.
///
/// `x` is the input already padded: `in_channels` planes `x_plane` apart. An output pixel's
/// first input element, for output row `oy` and column `ox`, is `x + oy * stride_h * x_width +
/// ox * stride_w`; its filter taps are `tap_offsets[0..<taps]` from there, plus `i * x_plane`
/// for input channel `i`. Every element so reached must exist. The depth is `in_channels *
/// taps`, channel-major as in ONNX weights. `weights` holds ceil(channels / 16) panels of depth
/// x 16 floats (output channel `q * 16 + c` at depth `k` is `weights[(q * depth + k) * 16 + c]`,
/// zero past `channels`). `bias` has 16 floats per panel (zeros past `channels`; never NULL).
/// Output channel `c`, pixel `i` (row-major over `pixels` = rows x `out_width`) is written to
/// `y[c * y_plane + i]`, plus bias, clamped to [`lo`, `hi`] (NaN stays NaN).
typedef struct scv_conv_problem {
    const float *x;
    ptrdiff_t x_width;
    ptrdiff_t out_width;
    ptrdiff_t pixels;
    ptrdiff_t stride_h;
    ptrdiff_t stride_w;
    ptrdiff_t in_channels;
    ptrdiff_t x_plane;
    ptrdiff_t taps;
    const ptrdiff_t *tap_offsets;
    const float *weights;
    ptrdiff_t channels;
    const float *bias;
    float *y;
    ptrdiff_t y_plane;
    float lo;
    float hi;
    /// Panels whose weights stay in cache together while tiles pass over them.
    ptrdiff_t panel_block;
} scv_conv_problem;

/// Tiles `tile_begin..<tile_end` (six output pixels each; the last may be short) by weight
/// panels `panel_begin..<panel_end` of `p` (AVX2+FMA). Writes only those outputs.
void scv_conv_implicit_avx2(const scv_conv_problem *p, ptrdiff_t tile_begin, ptrdiff_t tile_end,
                            ptrdiff_t panel_begin, ptrdiff_t panel_end);

/// `scv_conv_implicit_avx2` with sixteen channels per zmm register and two panels per tile
/// where it can (conv_avx512.c); the same problem, results and contract; only where
/// scv_cpu_has_avx512f().
void scv_conv_implicit_avx512(const scv_conv_problem *p, ptrdiff_t tile_begin, ptrdiff_t tile_end,
                              ptrdiff_t panel_begin, ptrdiff_t panel_end);

/// Whether 2-D convolutions of few input channels take scv_direct_conv_avx512: where the CPU
/// has AVX-512F, unless SWIFTCONV_DIRECT_CONV=0 (for measuring against the implicit GEMM).
int scv_use_direct_conv(void);

/// One image of a 2-D float convolution for scv_direct_conv_avx512 (group 1, dilation 1).
///
/// `x` is the input prepared by the caller: `in_channels` planes `x_plane` apart, rows `x_row`
/// apart, zero-padded, each row's columns split by phase for the column stride (stride 2: the
/// even columns, then the odd ones), so that output pixel `ox` of output row `oy` reads tap `t`
/// at `x + oy * stride_h * x_row + tap_offsets[t] + ox`, plus `i * x_plane` for input channel
/// `i`. Every element so reached must exist. `weights` holds ceil(channels / 8) blocks of
/// `in_channels * taps` x 8 floats (output channel `b * 8 + j` at depth `k` is
/// `weights[(b * depth + k) * 8 + j]`, zero past `channels`); `bias` 8 floats per block (zeros
/// past `channels`; never NULL). Output channel `c`, row `oy`, column `ox` goes to
/// `y[c * y_plane + oy * out_width + ox]`, plus bias, clamped to [`lo`, `hi`] (NaN stays NaN).
typedef struct scv_direct_conv {
    const float *x;
    ptrdiff_t x_row;
    ptrdiff_t x_plane;
    ptrdiff_t in_channels;
    ptrdiff_t stride_h;
    ptrdiff_t taps;
    const ptrdiff_t *tap_offsets;
    ptrdiff_t out_width;
    const float *weights;
    ptrdiff_t channels;
    const float *bias;
    float *y;
    ptrdiff_t y_plane;
    float lo;
    float hi;
} scv_direct_conv;

/// Jobs `job_begin..<job_end` of `p` (AVX-512F; direct_conv_avx512.c): job `j` is output row
/// `j / blocks` of channel block `j % blocks`, blocks = ceil(channels / 8). Writes only those
/// outputs; only where scv_cpu_has_avx512f().
void scv_direct_conv_avx512(const scv_direct_conv *p, ptrdiff_t job_begin, ptrdiff_t job_end);

/// The input scv_direct_conv_avx512 reads (AVX-512F): rows `job_begin..<job_end` of `dst`, row `j`
/// being padded row `j % rows` of channel `j / rows`, `stride * phase_width` floats each. `x` holds
/// planes of `height` x `width`; padded row `r`, column `k` is `x[r - top][k - left]` (zero outside
/// it) and goes to position `(k % stride) * phase_width + k / stride` of its row. `stride` 1 or 2;
/// `phase_width * stride` at least `left + width`.
void scv_direct_conv_copy_avx512(const float *x, ptrdiff_t height, ptrdiff_t width, ptrdiff_t top,
                                 ptrdiff_t left, ptrdiff_t stride, ptrdiff_t phase_width,
                                 ptrdiff_t rows, float *dst, ptrdiff_t job_begin, ptrdiff_t job_end);

/// Max pooling's row reduction (AVX2; pooling_avx2.c): `row[i]` = the max of
/// `src[r * step + i]` over `r < rows` (`rows` >= 1), for `i < count`, taken tap by tap as
/// `v > m ? v : m` (a NaN wins only as the first row).
void scv_max_rows_avx2(const float *src, ptrdiff_t rows, ptrdiff_t step, ptrdiff_t count, float *row);

/// Max pooling's windows along one reduced row (AVX2): `out[j]` = the max of
/// `row[j * stride + t]` over `t < taps` (`taps` >= 1), tap by tap as above, for `j < count`.
/// Reads no further than `row[available - 1]`, which must hold every window's last tap.
void scv_max_windows_avx2(const float *row, ptrdiff_t available, ptrdiff_t count, ptrdiff_t stride,
                          ptrdiff_t taps, float *out);

/// Packs six full rows of a row-major A (`lda` apart) over `depth` columns into one GEMM
/// panel: `out[k * 6 + i] = a[i * lda + k]` (AVX2; pack_avx2.c).
void scv_pack_a_panel6_avx2(const float *a, ptrdiff_t lda, ptrdiff_t depth, float *out);

/// `c = a * b` for small row-major float32 matrices (AVX2+FMA; gemv_avx2.c): `a` is `m` x `k`,
/// `b` `k` x `n`, `c` `m` x `n`. Each element is summed over the depth in order, one FMA a step.
void scv_small_matmul_avx2(const float *a, const float *b, float *c, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k);

/// Int32 dot products of int16 rows (AVX2): `out[i * ldo + j] = Σ_t x[i * ldx + t] * w[j * ldw + t]`
/// for i < m, j < n, t < k. `k` must be a multiple of 16 (callers zero-pad rows). The quantized
/// kernels pass values already offset by their zero points (|v| <= 255), so no pair sum overflows.
void scv_i16_gemm_nt_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int16_t *x, ptrdiff_t ldx,
                          const int16_t *w, ptrdiff_t ldw, int32_t *out, ptrdiff_t ldo);

/// One output pixel of a quantized depthwise convolution (AVX2):
/// `acc[c] = Σ_t x[x_offsets[t] + c] * f[f_offsets[t] + c]` for c < channels, over the `taps`
/// window taps inside the image (int16 values already offset by their zero points).
void scv_i16_depthwise_pixel_avx2(ptrdiff_t channels, ptrdiff_t taps, const int16_t *x,
                                  const ptrdiff_t *x_offsets, const int16_t *f,
                                  const ptrdiff_t *f_offsets, int32_t *acc);

/// TFLite's per-channel requantization of int32 accumulators into 8-bit outputs (AVX2):
/// `out[i] = clamp(M(acc[i] + bias[i]) + zero_point, lo, hi)` stored as a byte, where M is
/// gemmlowp's MultiplyByQuantizedMultiplier with `mantissa[i]`, `shift[i]` (double rounding),
/// or with `single_rounding` TFLite's single-rounding variant. `bias` may be NULL.
void scv_requantize_avx2(ptrdiff_t count, const int32_t *acc, const int32_t *bias, const int32_t *mantissa,
                         const int32_t *shift, int single_rounding, int32_t zero_point, int32_t lo, int32_t hi,
                         uint8_t *out);

/// The parameters of TFLite's quantized 8-bit ADD/SUB (reference `AddElementwise`).
typedef struct scv_quantized_add {
    int32_t offset1, offset2, left_shift;
    int32_t mantissa1, shift1, mantissa2, shift2, mantissa_out, shift_out;
    int32_t zero_point, lo, hi;
} scv_quantized_add;

/// Quantized same-shape ADD/SUB of 8-bit operands (AVX2), TFLite's arithmetic:
/// `clamp(M_out(M1((x + offset1) << left_shift) + M2((y + offset2) << left_shift)) + zero_point, lo, hi)`
/// with gemmlowp's double-rounding multipliers; bytes read as int8 when `is_signed`, else uint8.
void scv_quantized_add_avx2(ptrdiff_t count, const uint8_t *x, const uint8_t *y, int is_signed,
                            const scv_quantized_add *p, uint8_t *out);

/// `out[n] = add[n] + bias[n] + dot(m[n * k ..< n * k + k], x)` for `rows` contiguous rows of
/// length `k` (AVX2+FMA): a recurrent cell's gate pre-activations at batch 1.
void scv_gemv_rows_avx2(const float *m, ptrdiff_t rows, ptrdiff_t k, const float *x, const float *add,
                        const float *bias, float *out);

/// Float32 transcendental functions over `n` elements (AVX2+FMA): `y[i] = f(x[i])`, the
/// formulas of the portable Swift loops (SwiftConvKernels/Transcendental.swift) with the same
/// NaN, infinity and -0 results. `x` and `y` may be the same array (in place), else must not
/// overlap. exp clamps its argument to [-87.3, 88] (below gives 0); gelu is the erf form,
/// gelu_tanh the tanh form. sigmoid uses a shorter exponential of its own (absolute error below
/// 1.2e-7, relative below 2.5e-7 where the result is a normal float) and gives 0 below -88.72.
void scv_exp_avx2(const float *x, float *y, ptrdiff_t n);
void scv_sigmoid_avx2(const float *x, float *y, ptrdiff_t n);
void scv_tanh_avx2(const float *x, float *y, ptrdiff_t n);
void scv_erf_avx2(const float *x, float *y, ptrdiff_t n);
void scv_gelu_avx2(const float *x, float *y, ptrdiff_t n);
void scv_gelu_tanh_avx2(const float *x, float *y, ptrdiff_t n);

/// Swish `y[i] = x[i] * sigmoid(alpha * x[i])` (AVX2+FMA), error below 1.8e-7 max(1, |x|);
/// -0 below alpha x = -88.72, NaN for x = -inf (as onnxruntime's Sigmoid then Mul); `x` and
/// `y` as above.
void scv_swish_avx2(const float *x, float *y, ptrdiff_t n, float alpha);

/// scv_sigmoid_avx2 and scv_swish_avx2 sixteen lanes at a time (AVX-512F), the same results;
/// only where scv_cpu_has_avx512f().
void scv_sigmoid_avx512(const float *x, float *y, ptrdiff_t n);
void scv_swish_avx512(const float *x, float *y, ptrdiff_t n, float alpha);

/// One softmax row of `n` floats (AVX2+FMA): `y = exp(x - max) / sum`, or with `log_softmax`
/// `y = x - max - log(sum)`. `x` and `y` must not overlap.
void scv_softmax_row_avx2(const float *x, float *y, ptrdiff_t n, int log_softmax);

#ifdef __cplusplus
}
#endif

#endif
