import Foundation
import SwiftConvIR
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// TFLite activation builtins; expected values from the textbook formulas, computed in Double.

private let xs: [Float] = [-4, -1.5, -0.25, 0, 0.3, 1, 2.5, 7]

private func expected(_ f: (Double) -> Double) -> [Float] { xs.map { Float(f(Double($0))) } }

/// The RELU family are clamps to their ranges.
@Test func tfliteReluFamily() throws {
    for (op, lo, hi) in [("RELU", 0.0, Double.infinity), ("RELU6", 0, 6), ("RELU_N1_TO_1", -1, 1), ("RELU_0_TO_1", 0, 1)] {
        let out = try runTFLite1(op, [floats(xs)])
        #expect(out.values(as: Float.self) == expected { min(max($0, lo), hi) }, "\(op)")
    }
}

/// LOGISTIC, TANH, ELU, HARD_SWISH, LEAKY_RELU (alpha), GELU exact and tanh-approximate.
@Test func tfliteSmoothActivations() throws {
    #expect(close(try runTFLite1("LOGISTIC", [floats(xs)]).values(as: Float.self), expected { 1 / (1 + exp(-$0)) }))
    #expect(close(try runTFLite1("TANH", [floats(xs)]).values(as: Float.self), expected { tanh($0) }))
    #expect(close(try runTFLite1("ELU", [floats(xs)]).values(as: Float.self), expected { $0 < 0 ? exp($0) - 1 : $0 }))
    #expect(
        close(
            try runTFLite1("HARD_SWISH", [floats(xs)]).values(as: Float.self),
            expected { $0 * min(max($0 + 3, 0), 6) / 6 }))
    let leaky = try runTFLite1("LEAKY_RELU", [floats(xs)], attributes: [attrF("alpha", 0.2)])
    #expect(close(leaky.values(as: Float.self), expected { $0 < 0 ? 0.2 * $0 : $0 }))
    let gelu = try runTFLite1("GELU", [floats(xs)], attributes: [attr("approximate", 0)])
    #expect(close(gelu.values(as: Float.self), expected { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }))
    let approx = try runTFLite1("GELU", [floats(xs)], attributes: [attr("approximate", 1)])
    #expect(
        close(
            approx.values(as: Float.self),
            expected { 0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }))
}

/// PRELU broadcasts a per-channel alpha over NHWC.
@Test func tflitePreluPerChannel() throws {
    let x: [Float] = [-1, 2, -3, -4, 5, -6], alpha: [Float] = [0.5, 0.25, 2]
    let out = try runTFLite1("PRELU", [floats(x, [1, 2, 3]), floats(alpha, [1, 1, 3])], constants: [1])
    #expect(out.values(as: Float.self) == (0..<6).map { x[$0] < 0 ? alpha[$0 % 3] * x[$0] : x[$0] })
}

/// SOFTMAX scales by beta before normalizing the last axis; LOG_SOFTMAX is its log.
@Test func tfliteSoftmaxBetaAndLogSoftmax() throws {
    let x: [Float] = [1, 2, 3, -1, 0, 4]
    func softmax(_ row: ArraySlice<Float>, beta: Double) -> [Double] {
        let e = row.map { exp(beta * Double($0)) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
    let out = try runTFLite1("SOFTMAX", [floats(x, [2, 3])], attributes: [attrF("beta", 0.5)])
    let want = (softmax(x[0..<3], beta: 0.5) + softmax(x[3..<6], beta: 0.5)).map { Float($0) }
    #expect(close(out.values(as: Float.self), want))
    let log = try runTFLite1("LOG_SOFTMAX", [floats(x, [2, 3])])
    let wantLog = (softmax(x[0..<3], beta: 1) + softmax(x[3..<6], beta: 1)).map { Float(Foundation.log($0)) }
    #expect(close(log.values(as: Float.self), wantLog))
}

/// The float path refuses int32 input rather than misreading it.
@Test func tfliteActivationRejectsIntegerInput() {
    #expect(throws: SwiftConvError.self) { try runTFLite1("LOGISTIC", [int32s([1, 2])]) }
}
