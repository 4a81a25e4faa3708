import Foundation
import SwiftConvIR
import SwiftConvKernels
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// DIV, EXP, LOG, SQRT, the comparisons, REDUCE_PROD, LOG_SOFTMAX on int8 and dynamic-range
// TRANSPOSE_CONV against real-valued results computed here (the exact LiteRT outputs are
// checked by tests/test_tflite_ops.py against LiteRT's own).

private func real(_ v: Int32, _ s: Float, _ z: Int32) -> Float { s * Float(v - z) }

@Test func fixedPointReciprocalIsOneOverX() {
    for x: Int32 in [1, 2, 3, 7, 100, 255, 1000, 65_537, 1 << 20, Int32.max] {
        let r = FixedPoint.reciprocal(x)
        // mantissa / 2^31 · 2^-bitsOverUnit ≈ 1/x
        let value = Double(r.mantissa) / 2_147_483_648.0 / pow(2, Double(r.bitsOverUnit))
        #expect(abs(value * Double(x) - 1) < 1e-6)
    }
}

@Test func fixedPointExpAndLogMatchTheRealFunctions() {
    for v in stride(from: -31.0, through: 0.0, by: 0.37) {
        let raw = Int32((v * Double(1 << 26)).rounded()) // Q5.26
        let e = Double(FixedPoint.expOnNegativeValues(raw, integerBits: 5)) / 2_147_483_648.0
        #expect(abs(e - exp(Double(raw) / Double(1 << 26))) < 1e-6)
    }
    for v in [1.0, 1.5, 2.0, 3.3, 100.0, 2047.0] {
        let raw = Int32((v * Double(1 << 19)).rounded()) // Q12.19
        let l = Double(FixedPoint.logOfAtLeastOne(raw, inputBits: 12, outputBits: 5)) / Double(1 << 26)
        #expect(abs(l - log(v)) < 1e-5)
    }
}

@Test(arguments: ["NONE", "RELU6"])
func int8DivIsTheQuotientWithinOneStep(activation: String) throws {
    let x = ints(24, -128...127, seed: 40)
    let y = ints(24, -128...127, seed: 41).map { $0 == -60 ? 0 : $0 } // 0 is real 0.3, never zero
    let (sx, zx, sy, zy, so, zo): (Float, Int32, Float, Int32, Float, Int32) = (0.01, 3, 0.005, -60, 0.05, -10)
    let out = try runNode(
        "DIV", inputs: ["x", "d"], feeds: [("x", int8("x", [2, 3, 4], x), q8(sx, 3)), ("d", int8("d", [2, 3, 4], y), q8(sy, -60))],
        output: (.int8, [2, 3, 4], q8(so, Int64(zo))), attributes: [attr("fused_activation_function", activation)])
    let got = out.values(as: Int8.self)
    for i in 0..<24 {
        var q = real(x[i], sx, zx) / real(y[i], sy, zy) / so + Float(zo)
        if activation == "RELU6" { q = min(max(q, Float(zo)), 6 / so + Float(zo)) }
        let want = min(max(q, -128), 127)
        #expect(abs(Float(got[i]) - want) <= 1.01, "element \(i)")
    }
}

@Test func int8ComparisonsRequantizeBothSidesToOneScale() throws {
    // a has twice b's scale's resolution: a = 2k and b = k hold the same real value.
    let k = ints(12, -60...60, seed: 42)
    let a = k.enumerated().map { i, v in i % 3 == 0 ? 2 * v : 2 * v + (i % 3 == 1 ? 1 : -1) }
    let want: [String: (Float, Float) -> Bool] = [
        "EQUAL": (==), "NOT_EQUAL": (!=), "LESS": (<), "LESS_EQUAL": (<=), "GREATER": (>), "GREATER_EQUAL": (>=),
    ]
    for (op, f) in want {
        let out = try runNode(
            op, inputs: ["a", "b"], feeds: [("a", int8("a", [12], a), q8(0.02, 0)), ("b", int8("b", [12], k), q8(0.04, 0))],
            output: (.bool, [12], nil))
        let got = out.values(as: UInt8.self).map { $0 != 0 }
        #expect(got == (0..<12).map { f(real(a[$0], 0.02, 0), real(k[$0], 0.04, 0)) }, "\(op)")
    }
}

@Test func int8ReduceProdIsTheProductWithinTwoSteps() throws {
    let x = ints(2 * 3 * 4, 60...127, seed: 43)
    let (s, z, so, zo): (Float, Int32, Float, Int32) = (0.01, 0, 0.002, -128)
    let out = try runNode(
        "REDUCE_PROD", inputs: ["x", "axes"], feeds: [("x", int8("x", [2, 3, 4], x), q8(s, Int64(z)))],
        weights: [(Tensor(name: "axes", dtype: .int32, shape: [1], values: [Int32(1)]), nil)],
        output: (.int8, [2, 4], q8(so, Int64(zo))))
    let got = out.values(as: Int8.self)
    for b in 0..<2 {
        for c in 0..<4 {
            let p = (0..<3).reduce(Float(1)) { $0 * real(x[(b * 3 + $1) * 4 + c], s, z) }
            let want = min(max(p / so + Float(zo), -128), 127)
            #expect(abs(Float(got[b * 4 + c]) - want) <= 2, "output \(b),\(c)")
        }
    }
}

@Test(arguments: ["EXP", "LOG", "SQRT"])
func int8UnaryMathFromItsTable(op: String) throws {
    let x = Array(Int32(-128)...127)
    let (s, z, so, zo): (Float, Int32, Float, Int32) = (0.02, -128, 0.05, -100)
    let out = try runNode(
        op, inputs: ["x"], feeds: [("x", int8("x", [256], x), q8(s, Int64(z)))], output: (.int8, [256], q8(so, Int64(zo))))
    let f: (Float) -> Float = op == "EXP" ? { expf($0) } : op == "LOG" ? { logf($0) } : { $0.squareRoot() }
    let want = x.map { v -> Int8 in
        let y = f(real(v, s, z))
        guard y.isFinite else { return -128 } // log(0): LiteRT's conversion gives the minimum
        // LiteRT's SQRT truncates the scaled value; EXP and LOG round it.
        let scaled = (y * (1 / so)).rounded(op == "SQRT" ? .towardZero : .toNearestOrAwayFromZero)
        return Int8(min(max(scaled + Float(zo), -128), 127))
    }
    #expect(out.values(as: Int8.self) == want)
}

@Test func int8LogSoftmaxIsTheRealLogSoftmaxWithinOneStep() throws {
    let x = ints(3 * 8, -128...127, seed: 44)
    let s: Float = 0.05
    let out = try runNode(
        "LOG_SOFTMAX", inputs: ["x"], feeds: [("x", int8("x", [3, 8], x), q8(s, -1))], output: (.int8, [3, 8], q8(16.0 / 256, 127)))
    let got = out.values(as: Int8.self)
    for r in 0..<3 {
        let row = (0..<8).map { real(x[r * 8 + $0], s, -1) }
        let m = row.max()!
        let logSum = log(row.reduce(Float(0)) { $0 + expf($1 - m) }) + m
        for j in 0..<8 {
            let want = min(max((row[j] - logSum) * 16 + 127, -128), 127)
            #expect(abs(Float(got[r * 8 + j]) - want) <= 1.01, "row \(r) column \(j)")
        }
    }
}

@Test func hybridTransposeConvIsCloseToTheFloatResult() throws {
    let xs: [Float] = (0..<(1 * 2 * 2 * 2)).map { Float($0 % 5) * 0.4 - 0.7 }
    let f = ints(3 * 3 * 3 * 2, -127...127, seed: 45)
    let ws: [Float] = [0.01, 0.02, 0.03], bias: [Float] = [0.5, -0.25, 0]
    let y = try runNode(
        "TRANSPOSE_CONV", inputs: ["shape", "f", "x", "b"],
        feeds: [("x", Tensor(name: "x", dtype: .float32, shape: [1, 2, 2, 2], values: xs), nil)],
        weights: [
            (Tensor(name: "shape", dtype: .int32, shape: [4], values: [Int32(1), 4, 4, 3]), nil),
            (int8("f", [3, 3, 3, 2], f), QuantParams(scale: ws, zeroPoint: [0, 0, 0], axis: 0, storageType: .int8)),
            (Tensor(name: "b", dtype: .float32, shape: [3], values: bias), nil),
        ],
        output: (.float32, [1, 4, 4, 3], nil), attributes: [attr("padding", "SAME"), attr("stride_h", 2), attr("stride_w", 2)])
    // SAME, stride 2, 2x2 -> 4x4 with a 3x3 filter: no padding before.
    var want = (0..<(4 * 4 * 3)).map { bias[$0 % 3] }
    for iy in 0..<2 {
        for ix in 0..<2 {
            for ky in 0..<3 {
                for kx in 0..<3 {
                    let oy = iy * 2 + ky, ox = ix * 2 + kx
                    guard oy < 4, ox < 4 else { continue }
                    for o in 0..<3 {
                        for i in 0..<2 {
                            want[(oy * 4 + ox) * 3 + o] += xs[(iy * 2 + ix) * 2 + i] * Float(f[((o * 3 + ky) * 3 + kx) * 2 + i]) * ws[o]
                        }
                    }
                }
            }
        }
    }
    let got = y.values(as: Float.self)
    // The input is quantized to int8 on the fly: within its rounding error.
    for i in want.indices { #expect(abs(got[i] - want[i]) < 0.05, "element \(i)") }
}
