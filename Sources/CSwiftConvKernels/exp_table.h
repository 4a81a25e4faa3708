// The constants of the table-driven exponential of the logistic loops (exp_table8 in
// elementwise_avx2.c, exp_table16 in elementwise_avx512.c), fitted by scripts/fit_sigmoid.py:
// e^z = 2^n 2^(j/8) e^r with z = (8n + j) ln2/8 + r, |r| <= ln2/16, e^r by a cubic.
#ifndef SWIFTCONV_EXP_TABLE_H
#define SWIFTCONV_EXP_TABLE_H

/// The argument range: -87.3 keeps 2^n normal; float32(128 ln2) rounds to k = 1024, which
/// builds +inf (so sigmoid(x) = 0 and swish(-inf) = NaN below -88.72, as onnxruntime gives).
#define SCV_EXP_TABLE_MIN (-87.3f)
#define SCV_EXP_TABLE_MAX 88.72283935546875f
/// 1.5 * 2^23 + 127 * 8: adding it to z 8/ln2 rounds to k, held as k + 1016 in the low bits.
#define SCV_EXP_TABLE_MAGIC 12583928.0f
#define SCV_EXP_TABLE_8_LOG2E 11.5415603271117073f
/// ln2/8 in two parts; k times the first is exact for |k| < 2^11.
#define SCV_EXP_TABLE_LN2_8_HI 0.086669921875f
#define SCV_EXP_TABLE_LN2_8_LO (-2.652430521e-5f)
/// e^r ~ 1 + r + C2 r^2 + C3 r^3 (2.7e-8 relative).
#define SCV_EXP_TABLE_C2 5.000650287e-1f
#define SCV_EXP_TABLE_C3 1.666428894e-1f
/// T[j]: the mantissa bits of float32(2^(j/8)) minus j << 20, which the shift of k + 1016 by
/// 20 bits brings in next to the exponent (n + 127) << 23.
#define SCV_EXP_TABLE_WORDS 0, -289342, -509968, -655657, -719629, -694486, -572163, -343865

#endif
