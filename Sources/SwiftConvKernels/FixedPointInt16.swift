/// gemmlowp's 16-bit fixed-point transcendental functions, as TFLite's integer LSTM
/// (`ApplySigmoid`, `ApplyTanh` of portable_tensor_utils) computes its gates: an int16 raw
/// value with `integerBits` integer bits in, a Q0.15 value out, bit for bit.
///
/// gemmlowp writes its constants as Q31 int32 values and rescales them to 16 bits with a
/// rounding shift by 16, so the same constants below are rounded the same way.
public enum FixedPointInt16 {
    /// gemmlowp's 16-bit `SaturatingRoundingDoublingHighMul`.
    @inline(__always)
    public static func srdhm(_ a: Int16, _ b: Int16) -> Int16 {
        if a == Int16.min && b == Int16.min { return Int16.max }
        let ab = Int32(a) * Int32(b)
        let nudge: Int32 = ab >= 0 ? (1 << 14) : (1 - (1 << 14))
        return Int16(truncatingIfNeeded: (ab + nudge) / (1 << 15))
    }

    /// gemmlowp's `RoundingDivideByPOT` on a 16-bit value.
    @inline(__always)
    static func roundingDivideByPOT(_ x: Int16, _ exponent: Int) -> Int16 {
        Int16(truncatingIfNeeded: FixedPoint.roundingDivideByPOT(Int32(x), exponent))
    }

    /// gemmlowp's `SaturatingRoundingMultiplyByPOT` on a 16-bit value.
    @inline(__always)
    static func saturatingMultiplyByPOT(_ x: Int16, _ exponent: Int) -> Int16 {
        if exponent == 0 { return x }
        if exponent < 0 { return roundingDivideByPOT(x, -exponent) }
        let threshold = Int32((1 << (15 - exponent)) - 1)
        if Int32(x) > threshold { return Int16.max }
        if Int32(x) < -threshold { return Int16.min }
        return x &<< Int16(exponent)
    }

    /// A Q31 gemmlowp constant as its 16-bit raw value (`RescaleConstantInitializer`).
    @inline(__always)
    static func constant(_ q31: Int32) -> Int16 {
        Int16(truncatingIfNeeded: FixedPoint.roundingDivideByPOT(q31, 16))
    }

    /// gemmlowp's 16-bit `RoundingHalfSum`.
    @inline(__always)
    static func roundingHalfSum(_ a: Int16, _ b: Int16) -> Int16 {
        let sum = Int32(a) + Int32(b)
        return Int16(truncatingIfNeeded: (sum + (sum >= 0 ? 1 : -1)) / 2)
    }

    /// `exp(a)` for a in [-1/4, 0), Q0.15 in and out (a Taylor expansion around -1/8).
    static func expOnIntervalNegativeQuarterToZero(_ a: Int16) -> Int16 {
        let constantTerm = constant(1_895_147_668) // exp(-1/8)
        let oneThird = constant(715_827_883)
        let x = a &+ (1 << 12) // a + 1/8
        let x2 = srdhm(x, x)
        let x3 = srdhm(x2, x)
        let x4 = srdhm(x2, x2)
        let x4Over4 = saturatingMultiplyByPOT(x4, -2)
        let poly = saturatingMultiplyByPOT(srdhm(x4Over4 &+ x3, oneThird) &+ x2, -1)
        let sum = Int32(constantTerm) + Int32(srdhm(constantTerm, x &+ poly))
        return Int16(min(max(sum, Int32(Int16.min)), Int32(Int16.max)))
    }

    /// `exp(a)` for a <= 0 with `integerBits` integer bits, Q0.15 out (gemmlowp's
    /// `exp_on_negative_values`: the fractional quarter by polynomial, the rest by a barrel
    /// shifter of exp(-2^k) factors).
    public static func expOnNegativeValues(_ a: Int16, integerBits: Int) -> Int16 {
        let fractionalBits = 15 - integerBits
        let oneQuarter: Int16 = 1 << Int16(fractionalBits - 2)
        let mask = oneQuarter &- 1
        let modMinusQuarter = (a & mask) &- oneQuarter
        var result = expOnIntervalNegativeQuarterToZero(saturatingMultiplyByPOT(modMinusQuarter, integerBits))
        let remainder = Int32(modMinusQuarter &- a)
        let multipliers: [(exponent: Int, q31: Int32)] = [
            (-2, 1_672_461_947), (-1, 1_302_514_674), (0, 790_015_084), (1, 290_630_308),
            (2, 39_332_535), (3, 720_401), (4, 242),
        ]
        for (exponent, q31) in multipliers where integerBits > exponent {
            let shift = fractionalBits + exponent
            if remainder & (1 << Int32(shift)) != 0 { result = srdhm(result, constant(q31)) }
        }
        if integerBits > 5 {
            let clamp = constant(-(1 << Int32(36 - integerBits)))
            if a < clamp { result = 0 }
        }
        return a == 0 ? Int16.max : result
    }

    /// Newton-Raphson `1 / (1 + a)` for a in [0, 1], Q0.15 in; returns the Q2.13 estimate of
    /// `2 / (1 + a)`, shared by logistic and tanh.
    static func twoOverOnePlus(_ a: Int16) -> Int16 {
        let halfDenominator = roundingHalfSum(a, Int16.max)
        let c48over17 = constant(1_515_870_810)
        let cNeg32over17 = constant(-1_010_580_540)
        var x = c48over17 &+ srdhm(halfDenominator, cNeg32over17)
        let one: Int16 = 1 << 13 // 1.0 in Q2.13
        for _ in 0..<3 {
            let hx = srdhm(halfDenominator, x)
            let oneMinus = one &- hx
            x = x &+ saturatingMultiplyByPOT(srdhm(x, oneMinus), 2)
        }
        return x
    }

    /// gemmlowp's `logistic` on a 16-bit value with `integerBits` integer bits, Q0.15 out.
    public static func logistic(_ a: Int16, integerBits: Int) -> Int16 {
        if a == 0 { return 1 << 14 }
        let positive = a > 0
        let absolute = positive ? a : 0 &- a
        let e = expOnNegativeValues(0 &- absolute, integerBits: integerBits)
        // 1 / (1 + e): the Q2.13 estimate of 2/(1+e), halved exactly, rescaled to Q0.15.
        let resultPositive = saturatingMultiplyByPOT(twoOverOnePlus(e), 1)
        return positive ? resultPositive : Int16.max &- resultPositive
    }

    /// gemmlowp's `tanh` on a 16-bit value with `integerBits` integer bits, Q0.15 out.
    public static func tanh(_ a: Int16, integerBits: Int) -> Int16 {
        if a == 0 { return 0 }
        let negative = a < 0
        let n = negative ? a : 0 &- a
        // exp(2n): the same raw value read with one more integer bit.
        let e = expOnNegativeValues(n, integerBits: integerBits + 1)
        let t = saturatingMultiplyByPOT(twoOverOnePlus(e) &- (1 << 13), 2)
        return negative ? 0 &- t : t
    }
}
