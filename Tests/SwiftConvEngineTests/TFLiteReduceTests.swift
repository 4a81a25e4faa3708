import SwiftConvIR
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// TFLite reductions; expected values summed here by hand-written loops.

private let x: [Float] = (0..<24).map { Float($0 % 7) - 2.5 } // shape [2, 3, 4]

private func at(_ i: Int, _ j: Int, _ k: Int) -> Float { x[(i * 3 + j) * 4 + k] }

/// MEAN over axis 1 with keep_dims; SUM over axes [-1, 0, -1] (a repeat is harmless).
@Test func tfliteMeanAndSumOverAxes() throws {
    let mean = try runTFLite1("MEAN", [floats(x, [2, 3, 4]), int32s([1])], constants: [1], attributes: [attr("keep_dims", 1)])
    #expect(mean.shape == [2, 1, 4])
    var want = [Float]()
    for i in 0..<2 { for k in 0..<4 { want.append((at(i, 0, k) + at(i, 1, k) + at(i, 2, k)) / 3) } }
    #expect(close(mean.values(as: Float.self), want))
    let sum = try runTFLite1("SUM", [floats(x, [2, 3, 4]), int32s([-1, 0, -1])], attributes: [attr("keep_dims", 0)])
    #expect(sum.shape == [3])
    #expect(close(sum.values(as: Float.self), (0..<3).map { j in (0..<2).flatMap { i in (0..<4).map { at(i, j, $0) } }.reduce(0, +) }))
}

/// REDUCE_MAX/MIN/PROD and REDUCE_ANY; an empty axes list reduces nothing.
@Test func tfliteReduceExtremesProductAny() throws {
    let mx = try runTFLite1("REDUCE_MAX", [floats(x, [2, 3, 4]), int32s([2])])
    #expect(mx.values(as: Float.self) == (0..<6).map { r in (0..<4).map { x[r * 4 + $0] }.max()! })
    let mn = try runTFLite1("REDUCE_MIN", [floats(x, [2, 3, 4]), int32s([2])])
    #expect(mn.values(as: Float.self) == (0..<6).map { r in (0..<4).map { x[r * 4 + $0] }.min()! })
    let prod = try runTFLite1("REDUCE_PROD", [floats([1, 2, 3, 4], [2, 2]), int32s([0])])
    #expect(prod.values(as: Float.self) == [3, 8])
    let any = try runTFLite1("REDUCE_ANY", [bools([false, false, true, false], [2, 2]), int32s([1])])
    #expect(any.values(as: Bool.self) == [false, true])
    let none = try runTFLite1("SUM", [floats([1, 2]), Tensor(dtype: .int32, shape: [0], values: [Int32]())])
    #expect(none.values(as: Float.self) == [1, 2])
}

/// ARG_MAX gives int32 when output_type says so and the first of equal maxima; ARG_MIN int64.
@Test func tfliteArgMaxArgMin() throws {
    let v: [Float] = [1, 5, 5, 0, -2, -2]
    let amax = try runTFLite1("ARG_MAX", [floats(v, [2, 3]), int32s([1])], attributes: [attr("output_type", "INT32")])
    #expect(amax.dtype == .int32)
    #expect(amax.values(as: Int32.self) == [1, 0])
    let amin = try runTFLite1("ARG_MIN", [floats(v, [2, 3]), int32s([-1], [])], attributes: [attr("output_type", "INT64")])
    #expect(amin.dtype == .int64)
    #expect(amin.values(as: Int64.self) == [0, 1])
}
