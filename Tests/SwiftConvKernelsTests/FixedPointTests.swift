import Foundation
import Testing

@testable import SwiftConvKernels

/// Values derived by hand from TFLite's documented formulas (frexp + Q31 rounding, gemmlowp's
/// nudged high multiply and rounding shift).
@Test func quantizeMultiplierSplitsMantissaAndExponent() {
    #expect(FixedPoint.Multiplier(0.5) == .init(mantissa: 1 << 30, shift: 0))
    #expect(FixedPoint.Multiplier(1.0) == .init(mantissa: 1 << 30, shift: 1))
    #expect(FixedPoint.Multiplier(0.75) == .init(mantissa: 1_610_612_736, shift: 0))
    #expect(FixedPoint.Multiplier(3.0) == .init(mantissa: 1_610_612_736, shift: 2))
    // A mantissa that rounds up to 2^31 is halved and the exponent bumped.
    #expect(FixedPoint.Multiplier(1 - 0x1p-40) == .init(mantissa: 1 << 30, shift: 1))
    // Below 2^-32 the multiplier flushes to zero; zero stays zero.
    #expect(FixedPoint.Multiplier(0x1p-40) == .init(mantissa: 0, shift: 0))
    #expect(FixedPoint.Multiplier(0) == .init(mantissa: 0, shift: 0))
    // Above 2^30 it saturates.
    #expect(FixedPoint.Multiplier(0x1p40) == .init(mantissa: Int32.max, shift: 30))
}

@Test func saturatingRoundingDoublingHighMulRoundsLikeGemmlowp() {
    #expect(FixedPoint.saturatingRoundingDoublingHighMul(Int32.min, Int32.min) == Int32.max)
    #expect(FixedPoint.saturatingRoundingDoublingHighMul(1 << 30, 1 << 30) == 1 << 29)
    // 3 * 0.5 = 1.5 rounds up; -1.5 truncates toward zero after the negative nudge.
    #expect(FixedPoint.saturatingRoundingDoublingHighMul(3, 1 << 30) == 2)
    #expect(FixedPoint.saturatingRoundingDoublingHighMul(-3, 1 << 30) == -1)
    #expect(FixedPoint.saturatingRoundingDoublingHighMul(-5, 1 << 30) == -2)
}

@Test func roundingDivideByPOTRoundsHalfAwayFromZero() {
    #expect(FixedPoint.roundingDivideByPOT(5, 1) == 3)
    #expect(FixedPoint.roundingDivideByPOT(-5, 1) == -3)
    #expect(FixedPoint.roundingDivideByPOT(-3, 1) == -2)
    #expect(FixedPoint.roundingDivideByPOT(7, 2) == 2)
    #expect(FixedPoint.roundingDivideByPOT(-6, 2) == -2)
    #expect(FixedPoint.roundingDivideByPOT(1234, 0) == 1234)
}

@Test func multiplyByQuantizedMultiplierRoundsTwice() {
    #expect(FixedPoint.Multiplier(0.5).apply(100) == 50)
    // 5 * 0.25: the high multiply gives 3 (2.5 up), the shift 2 (1.5 up): double rounding.
    #expect(FixedPoint.Multiplier(0.25).apply(5) == 2)
    #expect(FixedPoint.Multiplier(3.0).apply(10) == 30)
    #expect(FixedPoint.Multiplier(3.0).apply(-7) == -21)
    // The int32 left shift wraps as the C++ does rather than trapping.
    _ = FixedPoint.Multiplier(0x1p20).apply(Int32.max)
}

@Test func sixtyFourBitMultiplyUsesA16BitMantissa() {
    // 0.5: mantissa 2^30 reduces to 2^14; (x * 2^14 + 2^14) >> 15.
    #expect(FixedPoint.multiplyByQuantizedMultiplier(Int64(1000), 1 << 30, 0) == 500)
    #expect(FixedPoint.multiplyByQuantizedMultiplier(Int64(3), 1 << 30, 0) == 2)
    #expect(FixedPoint.multiplyByQuantizedMultiplier(Int64(-3), 1 << 30, 0) == -1)
}

@Test func singleRoundingMultipliesOnce() {
    // 5 * 0.25 = 1.25 rounds to 1 with one rounding (2 with gemmlowp's two).
    let q = FixedPoint.Multiplier(0.25)
    #expect(FixedPoint.multiplyByQuantizedMultiplierSingleRounding(5, q.mantissa, q.shift) == 1)
    #expect(FixedPoint.multiplyByQuantizedMultiplierSingleRounding(6, q.mantissa, q.shift) == 2)
    #expect(FixedPoint.multiplyByQuantizedMultiplierSingleRounding(-6, q.mantissa, q.shift) == -1)
}

@Test func inverseSqrtMultiplierMatchesOneOverRoot() {
    for v: Int32 in [2, 3, 16, 1000, 123_456, 1 << 30] {
        let (m, s) = FixedPoint.inverseSqrtMultiplier(v, reverseShift: -1)
        let real = Double(m) / 2_147_483_648.0 * pow(2.0, Double(s))
        // Q28 Newton-Raphson: a few parts per million.
        #expect(abs(real * Double(v).squareRoot() - 1) < 1e-5)
    }
    #expect(FixedPoint.inverseSqrtMultiplier(1, reverseShift: -1) == (Int32.max, 0))
}
