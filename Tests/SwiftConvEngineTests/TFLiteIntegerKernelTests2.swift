import Foundation
import SwiftConvIR
import SwiftConvKernels
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// More integer tflite kernels against reference loops and formulas written here.

@Test func int8SoftmaxFromTheExpTable() throws {
    let x = ints(2 * 5, -128...127, seed: 20)
    let (s, so): (Float, Float) = (0.1, 1 / 256)
    let y = try runNode(
        "SOFTMAX", inputs: ["x"], feeds: [("x", int8("x", [2, 5], x), q8(s, 3))], output: (.int8, [2, 5], q8(so, -128)),
        attributes: [attrF("beta", 1)])
    var want: [Int8] = []
    for r in 0..<2 {
        let row = Array(x[(r * 5)..<(r * 5 + 5)])
        let m = row.max()!
        let e = row.map { expf(-s * Float(m - $0)) }
        let sum = e.reduce(0, +)
        want += e.map { Int8(min(127, max(-128, Int32(($0 / (sum * so)).rounded(.toNearestOrAwayFromZero)) - 128))) }
    }
    #expect(y.values(as: Int8.self) == want)
    // Probabilities sum to about one.
    let total = y.values(as: Int8.self).prefix(5).reduce(Float(0)) { $0 + so * Float(Int32($1) + 128) }
    #expect(abs(total - 1) < 0.02)
}

@Test func int8LogisticFromItsTable() throws {
    let x: [Int32] = [-128, -40, 0, 1, 40, 127]
    let y = try runNode(
        "LOGISTIC", inputs: ["x"], feeds: [("x", int8("x", [6], x), q8(0.05, 0))], output: (.int8, [6], q8(1 / 256, -128)))
    let want = x.map { v -> Int8 in
        let p = 1 / (1 + expf(-0.05 * Float(v)))
        return Int8(min(127, max(-128, Int32((p * 256).rounded(.toNearestOrAwayFromZero)) - 128)))
    }
    #expect(y.values(as: Int8.self) == want)
}

@Test func int8MeanFoldsTheCountIntoTheMultiplier() throws {
    let x = ints(2 * 3 * 4, -128...127, seed: 21)
    let y = try runNode(
        "MEAN", inputs: ["x", "axes"], feeds: [("x", int8("x", [2, 3, 4], x), q8(0.02, -4))],
        weights: [(Tensor(name: "axes", dtype: .int32, shape: [1], values: [Int32(1)]), nil)],
        output: (.int8, [2, 4], q8(0.01, 6)))
    let got = y.values(as: Int8.self)
    for b in 0..<2 {
        for c in 0..<4 {
            let real = (0..<3).reduce(Float(0)) { $0 + 0.02 * Float(x[(b * 3 + $1) * 4 + c] + 4) } / 3
            let expected = min(max(real / 0.01 + 6, -128), 127)
            #expect(abs(Float(got[b * 4 + c]) - expected) <= 0.51)
        }
    }
}

@Test func uint8ConcatenationRequantizesOtherScales() throws {
    let a: [UInt8] = [0, 10, 200, 255], b: [UInt8] = [0, 128, 255, 7]
    let y = try runNode(
        "CONCATENATION", inputs: ["a", "b"],
        feeds: [
            ("a", Tensor(name: "a", dtype: .uint8, shape: [2, 2], values: a), q8(0.1, 0, .uint8)),
            ("b", Tensor(name: "b", dtype: .uint8, shape: [2, 2], values: b), q8(0.05, 128, .uint8)),
        ],
        output: (.uint8, [2, 4], q8(0.1, 0, .uint8)), attributes: [attr("axis", 1)])
    // b requantized: round((v - 128) * 0.5) clamped to 0...255.
    #expect(y.values(as: UInt8.self) == [0, 10, 0, 0, 200, 255, 64, 0])
}

@Test func int8BilinearResizeInTenBitFixedPoint() throws {
    let x = ints(1 * 2 * 3 * 1, -128...127, seed: 22)
    let y = try runNode(
        "RESIZE_BILINEAR", inputs: ["x", "size"], feeds: [("x", int8("x", [1, 2, 3, 1], x), q8(0.1, 0))],
        weights: [(Tensor(name: "size", dtype: .int32, shape: [2], values: [Int32(4), 5]), nil)],
        output: (.int8, [1, 4, 5, 1], q8(0.1, 0)), attributes: [attr("half_pixel_centers", 1)])
    // Written from the documented formula: positions (v + 0.5) * in/out - 0.5 in 1/1024 steps.
    let sy = (1024 * 2 + 2) / 4, sx = (1024 * 3 + 2) / 5
    var want: [Int8] = []
    for oy in 0..<4 {
        let py = oy * sy + sy / 2 - 512
        let y0 = max(py >= 0 ? py / 1024 : -(-py / 1024), 0), y1 = min((py + 1023) / 1024, 1)
        for ox in 0..<5 {
            let px = ox * sx + sx / 2 - 512
            let x0 = max(px >= 0 ? px / 1024 : -(-px / 1024), 0), x1 = min((px + 1023) / 1024, 2)
            let fy = Int64(py - 1024 * y0), fx = Int64(px - 1024 * x0)
            func at(_ r: Int, _ c: Int) -> Int64 { Int64(x[r * 3 + c]) }
            let v =
                at(y0, x0) * (1024 - fy) * (1024 - fx) + at(y1, x0) * fy * (1024 - fx) + at(y0, x1) * (1024 - fy) * fx
                + at(y1, x1) * fy * fx
            want.append(Int8((v + (v > 0 ? 1 << 19 : -(1 << 19))) / (1 << 20)))
        }
    }
    #expect(y.values(as: Int8.self) == want)
}

@Test func int8BatchMatMulBroadcastsBatches() throws {
    let a = ints(2 * 2 * 3, -128...127, seed: 23), b = ints(3 * 2, -128...127, seed: 24)
    let y = try runNode(
        "BATCH_MATMUL", inputs: ["a", "b"], feeds: [("a", int8("a", [2, 2, 3], a), q8(0.05, 2))],
        weights: [(int8("b", [3, 2], b), q8(0.02, 0))], output: (.int8, [2, 2, 2], q8(0.3, -1)))
    var want: [Int8] = []
    for p in 0..<2 {
        for i in 0..<2 {
            for j in 0..<2 {
                let acc = (0..<3).reduce(Int32(0)) { $0 + (a[(p * 2 + i) * 3 + $1] - 2) * b[$1 * 2 + j] }
                want.append(Int8(requant(acc, Double(Float(0.05)) * Double(Float(0.02)) / Double(Float(0.3)), -1)))
            }
        }
    }
    #expect(y.values(as: Int8.self) == want)
}

@Test func int8TransposeConvScattersEachPixel() throws {
    let x = ints(1 * 2 * 2 * 2, -128...127, seed: 25), f = ints(3 * 3 * 3 * 2, -127...127, seed: 26)
    let ws: [Float] = [0.01, 0.02, 0.03]
    let y = try runNode(
        "TRANSPOSE_CONV", inputs: ["shape", "f", "x"], feeds: [("x", int8("x", [1, 2, 2, 2], x), q8(0.04, 1))],
        weights: [
            (Tensor(name: "shape", dtype: .int32, shape: [4], values: [Int32(1), 4, 4, 3]), nil),
            (int8("f", [3, 3, 3, 2], f), QuantParams(scale: ws, zeroPoint: [0, 0, 0], axis: 0, storageType: .int8)),
        ],
        output: (.int8, [1, 4, 4, 3], q8(0.2, 0)), attributes: [attr("padding", "SAME"), attr("stride_h", 2), attr("stride_w", 2)])
    // SAME with stride 2 from 2x2 to 4x4 and a 3x3 filter: total padding 1, so 0 before.
    var acc = [Int32](repeating: 0, count: 4 * 4 * 3)
    for iy in 0..<2 {
        for ix in 0..<2 {
            for ky in 0..<3 {
                for kx in 0..<3 {
                    let oy = iy * 2 + ky, ox = ix * 2 + kx
                    guard oy < 4, ox < 4 else { continue }
                    for o in 0..<3 {
                        for i in 0..<2 { acc[(oy * 4 + ox) * 3 + o] += (x[(iy * 2 + ix) * 2 + i] - 1) * f[((o * 3 + ky) * 3 + kx) * 2 + i] }
                    }
                }
            }
        }
    }
    let want = acc.enumerated().map { i, a in Int8(requant(a, Double(Float(0.04)) * Double(ws[i % 3]) / Double(Float(0.2)), 0)) }
    #expect(y.values(as: Int8.self) == want)
}

@Test func int8PadFillsWithTheZeroPoint() throws {
    let y = try runNode(
        "PAD", inputs: ["x", "p"], feeds: [("x", int8("x", [1, 2], [5, -6]), q8(0.1, -7))],
        weights: [(Tensor(name: "p", dtype: .int32, shape: [2, 2], values: [Int32(0), 1, 1, 0]), nil)],
        output: (.int8, [2, 3], q8(0.1, -7)))
    #expect(y.values(as: Int8.self) == [-7, 5, -6, -7, -7, -7])
}

@Test func int8SquaredDifferenceIsCloseToTheRealValue() throws {
    let a = ints(8, -128...127, seed: 27), b = ints(8, -128...127, seed: 28)
    let y = try runNode(
        "SQUARED_DIFFERENCE", inputs: ["a", "b"],
        feeds: [("a", int8("a", [8], a), q8(0.02, 0)), ("b", int8("b", [8], b), q8(0.03, 5))], output: (.int8, [8], q8(0.1, -128)))
    for (i, v) in y.values(as: Int8.self).enumerated() {
        let d = 0.02 * Float(a[i]) - 0.03 * Float(b[i] - 5)
        #expect(abs(Float(v) - min(d * d / 0.1 - 128, 127)) <= 1.5)
    }
}

@Test func hybridConvQuantizesEachImageAsymmetrically() throws {
    let xs: [Float] = (0..<(1 * 3 * 3 * 2)).map { Float($0 % 7) * 0.3 - 0.5 }
    let f = ints(2 * 2 * 2 * 2, -127...127, seed: 29)
    let y = try runNode(
        "CONV_2D", inputs: ["x", "f", ""], feeds: [("x", Tensor(name: "x", dtype: .float32, shape: [1, 3, 3, 2], values: xs), nil)],
        weights: [(int8("f", [2, 2, 2, 2], f), QuantParams(scale: [0.01, 0.02], zeroPoint: [0, 0], axis: 0, storageType: .int8))],
        output: (.float32, [1, 2, 2, 2], nil), attributes: [attr("padding", "VALID")])
    // Against the float convolution of the dequantized weights: within the input quantization error.
    let got = y.values(as: Float.self)
    for oy in 0..<2 {
        for ox in 0..<2 {
            for o in 0..<2 {
                var real: Float = 0
                for ky in 0..<2 {
                    for kx in 0..<2 {
                        for i in 0..<2 {
                            real += xs[((oy + ky) * 3 + ox + kx) * 2 + i] * Float(f[((o * 2 + ky) * 2 + kx) * 2 + i]) * [0.01, 0.02][o]
                        }
                    }
                }
                #expect(abs(got[(oy * 2 + ox) * 2 + o] - real) < 0.05)
            }
        }
    }
}
