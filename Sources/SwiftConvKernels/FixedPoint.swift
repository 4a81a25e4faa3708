import Foundation

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
        @inline(__always)
        public func apply(_ x: Int32) -> Int32 {
            FixedPoint.multiplyByQuantizedMultiplier(x, mantissa, shift)
        }
    }

    /// gemmlowp's `SaturatingRoundingDoublingHighMul`: the high 32 bits of `2*a*b`, rounded
    /// half away from zero; the one overflowing case (both Int32.min) saturates.
    @inline(__always)
    public static func saturatingRoundingDoublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
        if a == Int32.min && b == Int32.min { return Int32.max }
        let ab = Int64(a) * Int64(b)
        let nudge: Int64 = ab >= 0 ? (1 << 30) : (1 - (1 << 30))
        // Division truncating toward zero, as C++'s.
        return Int32(truncatingIfNeeded: (ab + nudge) / (1 << 31))
    }

    /// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded half away from zero.
    @inline(__always)
    public static func roundingDivideByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
        let mask: Int32 = (1 << Int32(exponent)) &- 1
        let remainder = x & mask
        let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
        return (x >> Int32(exponent)) + (remainder > threshold ? 1 : 0)
    }

    /// TFLite's `MultiplyByQuantizedMultiplier` (double rounding): shift left, high-multiply,
    /// rounding shift right. The left shift wraps like the int32 arithmetic it mirrors.
    @inline(__always)
    public static func multiplyByQuantizedMultiplier(_ x: Int32, _ mantissa: Int32, _ shift: Int) -> Int32 {
        let left = shift > 0 ? shift : 0
        let right = shift > 0 ? 0 : -shift
        return roundingDivideByPOT(saturatingRoundingDoublingHighMul(x &<< Int32(left), mantissa), right)
    }

    /// The 64-bit-input variant TFLite uses for int16 activations (`MultiplyByQuantizedMultiplier(int64_t…)`):
    /// the mantissa rounded to 16 bits, then one rounding shift (shift in -31...7).
    @inline(__always)
    public static func multiplyByQuantizedMultiplier(_ x: Int64, _ mantissa: Int32, _ shift: Int) -> Int32 {
        let reduced = Int64(mantissa < 0x7FFF_0000 ? (mantissa + (1 << 15)) >> 16 : 0x7FFF)
        let total = Int64(15 - shift)
        let r = (x &* reduced &+ (Int64(1) << (total - 1))) >> total
        return Int32(truncatingIfNeeded: r)
    }

    /// TFLite's `TfLiteRound`: round half away from zero.
    @inline(__always)
    public static func round(_ x: Float) -> Float { x.rounded(.toNearestOrAwayFromZero) }
}
