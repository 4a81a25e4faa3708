import Foundation
import SwiftConvIR
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// TFLite arithmetic/compare/select builtins; expected values computed here, element by element.

/// ADD broadcasts [2,3] + [3] and clamps with the fused RELU6.
@Test func tfliteAddBroadcastsAndAppliesRelu6() throws {
    let a: [Float] = [-5, 1, 2, 3, 4, 10], b: [Float] = [1, 2, -3]
    let out = try runTFLite1("ADD", [floats(a, [2, 3]), floats(b)], attributes: [attr("fused_activation_function", "RELU6")])
    let expected = (0..<6).map { min(max(a[$0] + b[$0 % 3], 0), 6) }
    #expect(out.shape == [2, 3])
    #expect(out.values(as: Float.self) == expected)
}

/// SUB with RELU_N1_TO_1, MUL with RELU, DIV with TANH, which TFLite's arithmetic kernels
/// ignore (CalculateActivationRange gives it no bounds).
@Test func tfliteArithmeticFusedActivations() throws {
    let a: [Float] = [-3, -0.5, 0.25, 4], b: [Float] = [1, 0.25, -1, 2]
    let sub = try runTFLite1("SUB", [floats(a), floats(b)], attributes: [attr("fused_activation_function", "RELU_N1_TO_1")])
    #expect(sub.values(as: Float.self) == (0..<4).map { min(max(a[$0] - b[$0], -1), 1) })
    let mul = try runTFLite1("MUL", [floats(a), floats(b)], attributes: [attr("fused_activation_function", "RELU")])
    #expect(mul.values(as: Float.self) == (0..<4).map { max(a[$0] * b[$0], 0) })
    let div = try runTFLite1("DIV", [floats(a), floats(b)], attributes: [attr("fused_activation_function", "TANH")])
    #expect(div.values(as: Float.self) == (0..<4).map { a[$0] / b[$0] })
}

/// int32 ADD clamps with RELU too; int32 MAXIMUM/MINIMUM broadcast a scalar.
@Test func tfliteInt32ArithmeticAndExtremes() throws {
    let a: [Int32] = [-7, 3, 9, -1]
    let add = try runTFLite1("ADD", [int32s(a), int32s([2], [])], attributes: [attr("fused_activation_function", "RELU")])
    #expect(add.values(as: Int32.self) == a.map { max($0 + 2, 0) })
    let mx = try runTFLite1("MAXIMUM", [int32s(a), int32s([0], [])])
    #expect(mx.values(as: Int32.self) == a.map { max($0, 0) })
    let mn = try runTFLite1("MINIMUM", [int32s(a), int32s([0], [])])
    #expect(mn.values(as: Int32.self) == a.map { min($0, 0) })
}

/// FLOOR_DIV and FLOOR_MOD round toward negative infinity (Python's // and %).
@Test func tfliteFloorDivAndModFollowPython() throws {
    let a: [Int32] = [7, -7, 7, -7, 0], b: [Int32] = [2, 2, -2, -2, 3]
    let q = try runTFLite1("FLOOR_DIV", [int32s(a), int32s(b)])
    #expect(q.values(as: Int32.self) == [3, -4, -4, 3, 0])
    let m = try runTFLite1("FLOOR_MOD", [int32s(a), int32s(b)])
    #expect(m.values(as: Int32.self) == [1, 1, -1, -1, 0])
    let fa: [Float] = [7.5, -7.5, 1], fb: [Float] = [2, 2, -0.75]
    let fq = try runTFLite1("FLOOR_DIV", [floats(fa), floats(fb)])
    #expect(fq.values(as: Float.self) == (0..<3).map { (fa[$0] / fb[$0]).rounded(.down) })
    let fm = try runTFLite1("FLOOR_MOD", [floats(fa), floats(fb)])
    #expect(close(fm.values(as: Float.self), (0..<3).map { fa[$0] - (fa[$0] / fb[$0]).rounded(.down) * fb[$0] }))
    #expect(throws: SwiftConvError.self) { try runTFLite1("FLOOR_DIV", [int32s([1]), int32s([0])]) }
}

/// SQUARED_DIFFERENCE, POW, RSQRT, SQUARE and ROUND (half to even).
@Test func tfliteMathOps() throws {
    let a: [Float] = [1, 4, 0.25, 9], b: [Float] = [3, -1, 2, 0.5]
    let sd = try runTFLite1("SQUARED_DIFFERENCE", [floats(a), floats(b)])
    #expect(sd.values(as: Float.self) == (0..<4).map { (a[$0] - b[$0]) * (a[$0] - b[$0]) })
    let p = try runTFLite1("POW", [floats(a), floats(b)])
    #expect(close(p.values(as: Float.self), (0..<4).map { Float(pow(Double(a[$0]), Double(b[$0]))) }))
    let r = try runTFLite1("RSQRT", [floats(a)])
    #expect(close(r.values(as: Float.self), a.map { 1 / $0.squareRoot() }))
    let sq = try runTFLite1("SQUARE", [floats(b)])
    #expect(sq.values(as: Float.self) == b.map { $0 * $0 })
    let round = try runTFLite1("ROUND", [floats([0.5, 1.5, 2.5, -0.5, -1.5, 2.6])])
    #expect(round.values(as: Float.self) == [0, 2, 2, -0, -2, 3])
    let e = try runTFLite1("EXP", [floats(b)])
    #expect(close(e.values(as: Float.self), b.map { Float(exp(Double($0))) }))
    let neg = try runTFLite1("NEG", [int32s([3, -2])])
    #expect(neg.values(as: Int32.self) == [-3, 2])
}

/// CAST truncates floats toward zero, to the type the attribute (or the declared output) names.
@Test func tfliteCastTruncates() throws {
    let out = try runTFLite1(
        "CAST", [floats([1.9, -1.9, 0.4, 7])], attributes: [attr("in_data_type", "FLOAT32"), attr("out_data_type", "INT32")])
    #expect(out.dtype == .int32)
    #expect(out.values(as: Int32.self) == [1, -1, 0, 7])
    let b = try runTFLite1("CAST", [int32s([0, 3, -1])], attributes: [attr("out_data_type", "BOOL")])
    #expect(b.values(as: Bool.self) == [false, true, true])
}

/// Comparisons give bool, NOT_EQUAL included; logical ops on bool.
@Test func tfliteComparisonsAndLogic() throws {
    let a: [Int32] = [1, 2, 3], b: [Int32] = [3, 2, 1]
    #expect(try runTFLite1("NOT_EQUAL", [int32s(a), int32s(b)]).values(as: Bool.self) == [true, false, true])
    #expect(try runTFLite1("LESS", [int32s(a), int32s(b)]).values(as: Bool.self) == [true, false, false])
    #expect(try runTFLite1("GREATER_EQUAL", [int32s(a), int32s(b)]).values(as: Bool.self) == [false, true, true])
    let p = bools([true, true, false]), q = bools([true, false, false])
    #expect(try runTFLite1("LOGICAL_AND", [p, q]).values(as: Bool.self) == [true, false, false])
    #expect(try runTFLite1("LOGICAL_OR", [p, q]).values(as: Bool.self) == [true, true, false])
    #expect(try runTFLite1("LOGICAL_NOT", [q]).values(as: Bool.self) == [false, true, true])
}

/// SELECT (v1) with a 1-D condition picks rows; SELECT_V2 broadcasts all three inputs.
@Test func tfliteSelectVariants() throws {
    let x = floats([1, 2, 3, 4], [2, 2]), y = floats([-1, -2, -3, -4], [2, 2])
    let v1 = try runTFLite1("SELECT", [bools([false, true]), x, y])
    #expect(v1.values(as: Float.self) == [-1, -2, 3, 4])
    let v2 = try runTFLite1("SELECT_V2", [bools([true, false]), x, floats([0], [])])
    #expect(v2.values(as: Float.self) == [1, 0, 3, 0])
}

/// ADD_N sums any number of same-shaped inputs.
@Test func tfliteAddN() throws {
    let out = try runTFLite1("ADD_N", [floats([1, 2]), floats([10, 20]), floats([100, 200])])
    #expect(out.values(as: Float.self) == [111, 222])
    #expect(throws: SwiftConvError.self) { try runTFLite1("ADD_N", [floats([1, 2]), floats([1])]) }
}

/// An unknown fused activation is refused when the session is built.
@Test func tfliteUnknownFusedActivationIsRefused() {
    #expect(throws: SwiftConvError.self) {
        try runTFLite1("ADD", [floats([1]), floats([2])], attributes: [attr("fused_activation_function", "SWISH")])
    }
}

/// Quantized int8 arithmetic runs on the integer kernels (the real values added, not the raw
/// integers); an op they do not take is refused as unsupported; int8 data movement with one
/// shared scale copies the bytes.
@Test func tfliteQuantizedArithmeticIsNotComputedOnRawIntegers() throws {
    let q = QuantParams(scale: 0.5, zeroPoint: 1, storageType: .int8)
    let a = Tensor(dtype: .int8, shape: [2], values: [Int8(3), 4])
    // Real values 1 and 1.5; their sums 2 and 3 are 5 and 7 at scale 0.5, zero point 1.
    let sum = try runTFLite1("ADD", [a, a], quantization: [0: q, 1: q], outputQuantization: [0: q])
    #expect(sum.values(as: Int8.self) == [5, 7])
    do {
        _ = try runTFLite1("POW", [a, a], quantization: [0: q, 1: q], outputQuantization: [0: q])
        Issue.record("a quantized POW ran on the float path")
    } catch let e as SwiftConvError {
        #expect(e.kind == .unsupportedOp)
    }
    // An input of another scale is requantized to the output's: raw 3, 4 at scale 0.25 are
    // 0.5, 0.75, i.e. 1 + 1 and 1 + round(1.5) at scale 0.5 (TFLite rounds half away from zero).
    let requantized = try runTFLite1(
        "CONCATENATION", [a, a], quantization: [0: q, 1: QuantParams(scale: 0.25, zeroPoint: 1, storageType: .int8)],
        outputQuantization: [0: q])
    #expect(requantized.values(as: Int8.self) == [3, 4, 2, 3])
    let joined = try runTFLite1("CONCATENATION", [a, a], quantization: [0: q, 1: q], outputQuantization: [0: q])
    #expect(joined.values(as: Int8.self) == [3, 4, 3, 4])
}
