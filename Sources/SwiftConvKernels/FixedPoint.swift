#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// TFLite's fixed-point arithmetic (gemmlowp's conventions), so integer kernels reproduce
/// LiteRT's reference kernels bit for bit: a real multiplier is a Q31 mantissa and a power of
/// two, applied with a rounding doubling high multiply and a rounding right shift.
public enum FixedPoint {
    /// A real multiplier as TFLite's `QuantizeMultiplier` stores it: `mantissa * 2^(shift - 31)`
    /// with the mantissa in [2^30, 2^31) (or 0 for a zero or tiny multiplier).
    public struct Multiplier: Hashable, Sendable {
        public var mantissa: Int32
        /// Positive: shift left before multiplying; negative: rounding shift right after.
        public var shift: Int

        public init(mantissa: Int32, shift: Int) {
            self.mantissa = mantissa
            self.shift = shift
        }

        /// Quantizes `real` as TFLite does: frexp, round half away from zero of the Q31
        /// mantissa, a mantissa of exactly 2^31 halved; shifts below -31 flush to zero and
        /// above 30 saturate (as LiteRT's current `QuantizeMultiplier`).
        public init(_ real: Double) {
            guard real != 0, real.isFinite else {
                self.init(mantissa: 0, shift: 0)
                return
            }
            let f = frexp(real)
            var shift = f.1
            var q = Int64((f.0 * 2_147_483_648.0).rounded(.toNearestOrAwayFromZero))
            if q == 1 << 31 {
                q /= 2
                shift += 1
            }
            if shift < -31 {
                shift = 0
                q = 0
            }
            if shift > 30 {
                shift = 30
                q = (1 << 31) - 1
            }
            self.init(mantissa: Int32(truncatingIfNeeded: q), shift: shift)
        }

        /// `x * real`, rounded as TFLite's `MultiplyByQuantizedMultiplier`.
        @inlinable @inline(__always)
        public func apply(_ x: Int32) -> Int32 {
            FixedPoint.multiplyByQuantizedMultiplier(x, mantissa, shift)
        }
    }

    /// gemmlowp's `SaturatingRoundingDoublingHighMul`: the high 32 bits of `2*a*b`, rounded
    /// half away from zero; the one overflowing case (both Int32.min) saturates.
    @inlinable @inline(__always)
    public static func saturatingRoundingDoublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
        if a == Int32.min && b == Int32.min { return Int32.max }
        let ab = Int64(a) * Int64(b)
        let nudge: Int64 = ab >= 0 ? (1 << 30) : (1 - (1 << 30))
        // Division truncating toward zero, as C++'s.
        return Int32(truncatingIfNeeded: (ab + nudge) / (1 << 31))
    }

    /// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded half away from zero.
    @inlinable @inline(__always)
    public static func roundingDivideByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
        let mask: Int32 = (1 << Int32(exponent)) &- 1
        let remainder = x & mask
        let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
        return (x >> Int32(exponent)) + (remainder > threshold ? 1 : 0)
    }

    /// TFLite's `MultiplyByQuantizedMultiplier` (double rounding): shift left, high-multiply,
    /// rounding shift right. The left shift wraps like the int32 arithmetic it mirrors.
    @inlinable @inline(__always)
    public static func multiplyByQuantizedMultiplier(_ x: Int32, _ mantissa: Int32, _ shift: Int) -> Int32 {
        let left = shift > 0 ? shift : 0
        let right = shift > 0 ? 0 : -shift
        return roundingDivideByPOT(saturatingRoundingDoublingHighMul(x &<< Int32(left), mantissa), right)
    }

    /// The single-rounding variant (`TFLITE_SINGLE_ROUNDING`): one 64-bit product and one
    /// rounding shift. LiteRT's per-channel FULLY_CONNECTED rounds this way.
    @inlinable @inline(__always)
    public static func multiplyByQuantizedMultiplierSingleRounding(_ x: Int32, _ mantissa: Int32, _ shift: Int) -> Int32 {
        let total = Int64(31 - min(max(shift, -31), 30))
        let r = (Int64(x) &* Int64(mantissa) &+ (Int64(1) << (total - 1))) >> total
        return Int32(truncatingIfNeeded: r)
    }

    /// The 64-bit-input variant TFLite uses for int16 activations (`MultiplyByQuantizedMultiplier(int64_t…)`):
    /// the mantissa rounded to 16 bits, then one rounding shift (shift in -31...7).
    @inlinable @inline(__always)
    public static func multiplyByQuantizedMultiplier(_ x: Int64, _ mantissa: Int32, _ shift: Int) -> Int32 {
        let reduced = Int64(mantissa < 0x7FFF_0000 ? (mantissa + (1 << 15)) >> 16 : 0x7FFF)
        let total = Int64(15 - shift)
        let r = (x &* reduced &+ (Int64(1) << (total - 1))) >> total
        return Int32(truncatingIfNeeded: r)
    }

    /// TFLite's `TfLiteRound`: round half away from zero.
    @inlinable @inline(__always)
    public static func round(_ x: Float) -> Float { x.rounded(.toNearestOrAwayFromZero) }
}

extension FixedPoint {
    /// gemmlowp's `SaturatingRoundingMultiplyByPOT`: a saturating left shift for a positive
    /// exponent, a rounding right shift for a negative one.
    @inlinable @inline(__always)
    public static func saturatingRoundingMultiplyByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
        if exponent == 0 { return x }
        if exponent < 0 { return roundingDivideByPOT(x, -exponent) }
        let threshold: Int32 = (1 << Int32(31 - exponent)) - 1
        if x > threshold { return Int32.max }
        if x < -threshold { return Int32.min }
        return x << Int32(exponent)
    }

    /// TFLite's `GetInvSqrtQuantizedMultiplierExp`: `1/sqrt(input)` as a Q31 mantissa and a
    /// shift, by five Newton-Raphson steps in gemmlowp fixed point with 3 integer bits.
    /// `reverseShift` -1 returns the shift as a left shift.
    public static func inverseSqrtMultiplier(_ value: Int32, reverseShift: Int) -> (mantissa: Int32, shift: Int) {
        guard value > 1 else { return (Int32.max, 0) }
        var input = value
        var shift = 11
        while input >= 1 << 29 {
            input /= 4
            shift += 1
        }
        let maxLeftShiftBits = UInt32(bitPattern: input).leadingZeroBitCount - 1
        let pairs = maxLeftShiftBits / 2 - 1
        shift -= pairs
        input <<= Int32(2 * pairs)
        // F3 values: raw / 2^28. Products of Fa and Fb are F(a+b) with raw SRDHM.
        let fInput = input >> 1
        let halfInput = saturatingRoundingMultiplyByPOT(fInput, -1)
        let halfThree: Int32 = (1 << 28) + (1 << 27)
        var x: Int32 = 1 << 28
        for _ in 0..<5 {
            let x2 = saturatingRoundingDoublingHighMul(x, x) // F6
            let x3 = saturatingRoundingMultiplyByPOT(saturatingRoundingDoublingHighMul(x2, x), 6) // F9 -> F3
            let a = saturatingRoundingDoublingHighMul(halfThree, x) // F6
            let b = saturatingRoundingDoublingHighMul(halfInput, x3) // F6
            x = saturatingRoundingMultiplyByPOT(a &- b, 3) // F6 -> F3
        }
        var m = saturatingRoundingDoublingHighMul(x, 1_518_500_250) // times sqrt(2)/2 (F0)
        if shift < 0 {
            m <<= Int32(-shift)
            shift = 0
        }
        return (m, shift * reverseShift)
    }
}
