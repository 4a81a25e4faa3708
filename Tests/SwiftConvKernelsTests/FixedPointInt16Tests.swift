import Foundation
import Testing

@testable import SwiftConvKernels

/// gemmlowp's 16-bit sigmoid on Q3.12 inputs (the integer LSTM's gates) against Double math,
/// for every input. Its Newton-Raphson division runs in Q2.13, so the Q0.15 result has an even
/// raw value for positive inputs and is only accurate to a few 2^-14 steps (not monotone).
@Test func int16LogisticOfQ3_12TracksTheSigmoid() {
    var worst = 0.0
    for raw in Int32(Int16.min)...Int32(Int16.max) {
        let x = Double(raw) / 4096
        let got = FixedPointInt16.logistic(Int16(raw), integerBits: 3)
        worst = max(worst, abs(Double(got) / 32768 - 1 / (1 + exp(-x))))
        if raw > 0 { #expect(got & 1 == 0 || got == Int16.max) }
    }
    #expect(worst < 8.0 / 32768)
    #expect(FixedPointInt16.logistic(0, integerBits: 3) == 1 << 14)
    #expect(FixedPointInt16.logistic(Int16.max, integerBits: 3) > 32_750)
    #expect(FixedPointInt16.logistic(Int16.min, integerBits: 3) < 20)
}

/// The 16-bit tanh for every integer-bit count the LSTM uses (3 for the cell gate, 0...6 for
/// the cell state), against Double tanh, odd-symmetric, 0 at 0; its result is a Q2.13 value
/// times 4, so a multiple of 4 and accurate to a few 2^-13 steps.
@Test(arguments: 0...6)
func int16TanhTracksTanh(_ bits: Int) {
    var worst = 0.0
    for raw in stride(from: Int32(Int16.min), through: Int32(Int16.max), by: 7) {
        let x = Double(raw) / Double(1 << (15 - bits))
        let got = FixedPointInt16.tanh(Int16(raw), integerBits: bits)
        worst = max(worst, abs(Double(got) / 32768 - Foundation.tanh(x)))
        if raw > Int32(Int16.min) { #expect(FixedPointInt16.tanh(Int16(-raw), integerBits: bits) == 0 &- got) }
        #expect(got & 3 == 0 || abs(got) == Int16.max)
    }
    #expect(worst < 16.0 / 32768)
    #expect(FixedPointInt16.tanh(0, integerBits: bits) == 0)
}

/// exp on [-1/4, 0) and the barrel shifter's factors exp(-2^k), against Double exp.
@Test func int16ExpOnNegativeValuesTracksExp() {
    for bits in [1, 4] {
        for raw in stride(from: Int32(Int16.min), through: 0, by: 13) {
            let x = Double(raw) / Double(1 << (15 - bits))
            let got = Double(FixedPointInt16.expOnNegativeValues(Int16(raw), integerBits: bits)) / 32768
            #expect(abs(got - exp(x)) < 4.0 / 32768, "exp(\(x)) = \(got)")
        }
    }
}
