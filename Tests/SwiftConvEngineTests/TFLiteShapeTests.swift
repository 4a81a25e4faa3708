import SwiftConvIR
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// TFLite layout builtins; expected values by index arithmetic in the tests.

private func iota(_ n: Int) -> [Float] { (0..<n).map { Float($0) } }

/// RESHAPE from the shape input (with -1), from new_shape when there is no input, and 0 as
/// a real zero-sized dimension.
@Test func tfliteReshapeSources() throws {
    let a = try runTFLite1("RESHAPE", [floats(iota(6), [2, 3]), int32s([3, -1])], constants: [1])
    #expect(a.shape == [3, 2])
    #expect(a.values(as: Float.self) == iota(6))
    let b = try runTFLite1("RESHAPE", [floats(iota(6), [2, 3])], attributes: [attr("new_shape", [Int64(-1)])])
    #expect(b.shape == [6])
    let c = try runTFLite1("RESHAPE", [floats([], [0, 3]), int32s([0, 5])])
    #expect(c.shape == [0, 5])
    #expect(throws: SwiftConvError.self) { try runTFLite1("RESHAPE", [floats(iota(6)), int32s([4, -1])]) }
}

/// TRANSPOSE by a perm input, on int8 bytes too.
@Test func tfliteTransposeKeepsInt8Bytes() throws {
    let x = Tensor(dtype: .int8, shape: [2, 3], values: [Int8(-128), -1, 0, 1, 2, 127])
    let out = try runTFLite1("TRANSPOSE", [x, int32s([1, 0])])
    #expect(out.dtype == .int8)
    #expect(out.shape == [3, 2])
    #expect(out.values(as: Int8.self) == [-128, 1, -1, 2, 0, 127])
}

/// CONCATENATION along a negative axis, with a fused RELU.
@Test func tfliteConcatenationWithRelu() throws {
    let a: [Float] = [-1, 2, 3, -4], b: [Float] = [5, -6]
    let out = try runTFLite1(
        "CONCATENATION", [floats(a, [2, 2]), floats(b, [2, 1])],
        attributes: [attr("axis", -1), attr("fused_activation_function", "RELU")])
    #expect(out.shape == [2, 3])
    #expect(out.values(as: Float.self) == [0, 2, 5, 3, 0, 0])
}

/// SQUEEZE with and without squeeze_dims; EXPAND_DIMS with a negative axis.
@Test func tfliteSqueezeAndExpandDims() throws {
    let x = floats(iota(3), [1, 3, 1])
    #expect(try runTFLite1("SQUEEZE", [x]).shape == [3])
    #expect(try runTFLite1("SQUEEZE", [x], attributes: [attr("squeeze_dims", [Int64(-1)])]).shape == [1, 3])
    #expect(try runTFLite1("EXPAND_DIMS", [x, int32s([-1], [])]).shape == [1, 3, 1, 1])
    #expect(try runTFLite1("EXPAND_DIMS", [x, int32s([1])]).shape == [1, 1, 3, 1])
}

/// PACK along axis 1 interleaves; UNPACK along axis 1 takes columns.
@Test func tflitePackAndUnpack() throws {
    let out = try runTFLite1("PACK", [floats([1, 2]), floats([3, 4]), floats([5, 6])], attributes: [attr("axis", 1)])
    #expect(out.shape == [2, 3])
    #expect(out.values(as: Float.self) == [1, 3, 5, 2, 4, 6])
    let parts = try runTFLite("UNPACK", [floats(iota(6), [2, 3])], attributes: [attr("num", 3), attr("axis", 1)], outputs: 3)
    #expect(parts.map { $0.values(as: Float.self) } == [[0, 3], [1, 4], [2, 5]])
    #expect(parts.allSatisfy { $0.shape == [2] })
}

/// SPLIT takes the axis first; SPLIT_V infers one -1 size.
@Test func tfliteSplitAndSplitV() throws {
    let x = floats(iota(12), [2, 6])
    let parts = try runTFLite("SPLIT", [int32s([1], []), x], attributes: [attr("num_splits", 3)], outputs: 3)
    #expect(parts.map { $0.values(as: Float.self) } == [[0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10, 11]])
    let v = try runTFLite("SPLIT_V", [x, int32s([1, -1, 2]), int32s([-1], [])], attributes: [attr("num_splits", 3)], outputs: 3)
    #expect(v.map(\.shape) == [[2, 1], [2, 3], [2, 2]])
    #expect(v[1].values(as: Float.self) == [1, 2, 3, 7, 8, 9])
    #expect(throws: SwiftConvError.self) { try runTFLite("SPLIT", [int32s([1], []), x], outputs: 4) }
}

/// SHAPE (int32 by default, int64 on request), FILL, ZEROS_LIKE, ONES_LIKE.
@Test func tfliteShapeFillAndLikes() throws {
    let x = floats(iota(6), [2, 3, 1])
    let s = try runTFLite1("SHAPE", [x])
    #expect(s.dtype == .int32)
    #expect(s.values(as: Int32.self) == [2, 3, 1])
    let s64 = try runTFLite1("SHAPE", [x], attributes: [attr("out_type", "INT64")])
    #expect(s64.values(as: Int64.self) == [2, 3, 1])
    let f = try runTFLite1("FILL", [int32s([2, 2]), floats([1.5], [])])
    #expect(f.shape == [2, 2])
    #expect(f.values(as: Float.self) == [1.5, 1.5, 1.5, 1.5])
    #expect(try runTFLite1("ZEROS_LIKE", [int32s([4, 5])]).values(as: Int32.self) == [0, 0])
    #expect(try runTFLite1("ONES_LIKE", [floats([4, 5])]).values(as: Float.self) == [1, 1])
}

/// BROADCAST_TO and TILE repeat; BROADCAST_TO never shrinks to a smaller target.
@Test func tfliteBroadcastToAndTile() throws {
    let b = try runTFLite1("BROADCAST_TO", [floats([1, 2, 3]), int32s([2, 3])])
    #expect(b.values(as: Float.self) == [1, 2, 3, 1, 2, 3])
    #expect(throws: SwiftConvError.self) { try runTFLite1("BROADCAST_TO", [floats([1, 2, 3], [1, 3]), int32s([3])]) }
    let t = try runTFLite1("TILE", [floats([1, 2], [1, 2]), int32s([2, 2])])
    #expect(t.shape == [2, 4])
    #expect(t.values(as: Float.self) == [1, 2, 1, 2, 1, 2, 1, 2])
}

/// RANGE counts up or down by delta.
@Test func tfliteRange() throws {
    let up = try runTFLite1("RANGE", [int32s([1], []), int32s([10], []), int32s([3], [])])
    #expect(up.values(as: Int32.self) == [1, 4, 7])
    let down = try runTFLite1("RANGE", [floats([1], []), floats([-1], []), floats([-0.5], [])])
    #expect(down.values(as: Float.self) == [1, 0.5, 0, -0.5])
}
