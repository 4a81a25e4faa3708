import SwiftConvIR
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// TFLite selection/slicing/padding builtins; expected values by index arithmetic, and for
// STRIDED_SLICE the cases of TFLite's own kernel test (strided_slice_test.cc).

private func iota(_ n: Int) -> [Float] { (0..<n).map { Float($0) } }

/// GATHER along axis 1, and with batch_dims 1 (each batch row uses its own indices).
@Test func tfliteGatherAxisAndBatchDims() throws {
    let p = floats(iota(12), [3, 4])
    let g = try runTFLite1("GATHER", [p, int32s([3, 0])], attributes: [attr("axis", 1)])
    #expect(g.shape == [3, 2])
    #expect(g.values(as: Float.self) == [3, 0, 7, 4, 11, 8])
    let b = try runTFLite1("GATHER", [p, int32s([1, 2, 0, 3, 2, 2], [3, 2])], attributes: [attr("axis", 1), attr("batch_dims", 1)])
    #expect(b.shape == [3, 2])
    #expect(b.values(as: Float.self) == [1, 2, 4, 7, 10, 10])
    #expect(throws: SwiftConvError.self) { try runTFLite1("GATHER", [p, int32s([4])]) }
    let nd = try runTFLite1("GATHER_ND", [p, int32s([2, 1, 0, 3], [2, 2])])
    #expect(nd.values(as: Float.self) == [9, 3])
}

private func stridedSlice(
    _ x: Tensor, _ begin: [Int32], _ end: [Int32], _ strides: [Int32], begin_mask: Int64 = 0, end_mask: Int64 = 0,
    ellipsis_mask: Int64 = 0, new_axis_mask: Int64 = 0, shrink_axis_mask: Int64 = 0, offset: Int64 = 0
) throws -> Tensor {
    try runTFLite1(
        "STRIDED_SLICE", [x, int32s(begin), int32s(end), int32s(strides)],
        attributes: [
            attr("begin_mask", begin_mask), attr("end_mask", end_mask), attr("ellipsis_mask", ellipsis_mask),
            attr("new_axis_mask", new_axis_mask), attr("shrink_axis_mask", shrink_axis_mask), attr("offset", offset),
        ])
}

/// Cases from TFLite's strided_slice_test.cc: negative strides, masks, shrink.
@Test func tfliteStridedSliceMatchesTFLiteTests() throws {
    let v4 = floats([1, 2, 3, 4])
    #expect(try stridedSlice(v4, [-3], [5], [1]).values(as: Float.self) == [2, 3, 4])
    #expect(try stridedSlice(v4, [5], [2], [-1]).values(as: Float.self) == [4])
    #expect(try stridedSlice(v4, [-3], [-5], [-1]).values(as: Float.self) == [2, 1])
    #expect(try stridedSlice(v4, [10], [3], [1]).shape == [0])
    #expect(try stridedSlice(v4, [1], [3], [1], end_mask: 1).values(as: Float.self) == [2, 3, 4])
    let one = try stridedSlice(v4, [1], [1], [1], begin_mask: 1, shrink_axis_mask: 1)
    #expect(one.shape == [])
    #expect(one.values(as: Float.self) == [1])
    let m = floats([1, 2, 3, 4, 5, 6], [2, 3])
    #expect(try stridedSlice(m, [1, -1], [2, -4], [2, -1]).values(as: Float.self) == [6, 5, 4])
    #expect(try stridedSlice(m, [1, -2], [2, -4], [1, -1], begin_mask: 2).values(as: Float.self) == [6, 5, 4])
    let col = try stridedSlice(floats([0, 1, 2, 3], [4, 1]), [0, -1], [0, 0], [1, 1], begin_mask: 1, end_mask: 1, shrink_axis_mask: 2)
    #expect(col.shape == [4])
    #expect(col.values(as: Float.self) == [0, 1, 2, 3])
}

/// Ellipsis, new axis and offset, against numpy-style indexing worked out by hand:
/// x[..., 1] on [2, 3, 2]; x[tf.newaxis, 1:] on [3]; offset end = begin + end.
@Test func tfliteStridedSliceEllipsisNewAxisOffset() throws {
    let x = floats(iota(12), [2, 3, 2])
    let e = try stridedSlice(x, [0, 1], [0, 2], [1, 1], ellipsis_mask: 1, shrink_axis_mask: 2)
    #expect(e.shape == [2, 3])
    #expect(e.values(as: Float.self) == [1, 3, 5, 7, 9, 11])
    let n = try stridedSlice(floats([5, 6, 7]), [0, 1], [0, 3], [1, 1], new_axis_mask: 1)
    #expect(n.shape == [1, 2])
    #expect(n.values(as: Float.self) == [6, 7])
    let o = try stridedSlice(floats(iota(8)), [2], [3], [1], offset: 1)
    #expect(o.values(as: Float.self) == [2, 3, 4])
}

/// SLICE with a -1 size; out-of-range begin is refused.
@Test func tfliteSlice() throws {
    let x = floats(iota(12), [3, 4])
    let s = try runTFLite1("SLICE", [x, int32s([1, 1]), int32s([-1, 2])])
    #expect(s.shape == [2, 2])
    #expect(s.values(as: Float.self) == [5, 6, 9, 10])
    #expect(throws: SwiftConvError.self) { try runTFLite1("SLICE", [x, int32s([3, 0]), int32s([1, 1])]) }
}

/// PAD with zeros, PADV2 with a value, PAD of int8 with the zero point, MIRROR_PAD both modes.
@Test func tflitePadVariants() throws {
    let x = floats([1, 2, 3, 4], [2, 2])
    let pads = int32s([1, 0, 0, 2], [2, 2])
    let p = try runTFLite1("PAD", [x, pads])
    #expect(p.shape == [3, 4])
    #expect(p.values(as: Float.self) == [0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0])
    let v2 = try runTFLite1("PADV2", [x, pads, floats([-1], [])])
    #expect(v2.values(as: Float.self) == [-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1])
    let q = Tensor(dtype: .int8, shape: [2], values: [Int8(5), 6])
    let qp = try runTFLite1(
        "PAD", [q, int32s([1, 1], [1, 2])], quantization: [0: QuantParams(scale: 0.5, zeroPoint: -3, storageType: .int8)],
        outputQuantization: [0: QuantParams(scale: 0.5, zeroPoint: -3, storageType: .int8)])
    #expect(qp.values(as: Int8.self) == [-3, 5, 6, -3])
    let row = floats([1, 2, 3])
    let reflect = try runTFLite1("MIRROR_PAD", [row, int32s([2, 2], [1, 2])], attributes: [attr("mode", "REFLECT")])
    #expect(reflect.values(as: Float.self) == [3, 2, 1, 2, 3, 2, 1])
    let symmetric = try runTFLite1("MIRROR_PAD", [row, int32s([3, 1], [1, 2])], attributes: [attr("mode", "SYMMETRIC")])
    #expect(symmetric.values(as: Float.self) == [3, 2, 1, 1, 2, 3, 3])
    #expect(throws: SwiftConvError.self) {
        try runTFLite1("MIRROR_PAD", [row, int32s([3, 0], [1, 2])], attributes: [attr("mode", "REFLECT")])
    }
}

/// REVERSE_V2 along the listed axes; CUMSUM exclusive and reversed.
@Test func tfliteReverseAndCumsum() throws {
    let x = floats(iota(6), [2, 3])
    #expect(try runTFLite1("REVERSE_V2", [x, int32s([1])]).values(as: Float.self) == [2, 1, 0, 5, 4, 3])
    #expect(try runTFLite1("REVERSE_V2", [x, int32s([0, -1])]).values(as: Float.self) == [5, 4, 3, 2, 1, 0])
    let c = try runTFLite1("CUMSUM", [floats([1, 2, 3, 4]), int32s([0], [])], attributes: [attr("exclusive", 1), attr("reverse", 1)])
    #expect(c.values(as: Float.self) == [9, 7, 4, 0])
}

/// TOPK_V2: sorted values and int32 indices along the last axis.
@Test func tfliteTopK() throws {
    let out = try runTFLite("TOPK_V2", [floats([3, 1, 4, 1, 5, 9], [2, 3]), int32s([2], [])], outputs: 2)
    #expect(out[0].values(as: Float.self) == [4, 3, 9, 5])
    #expect(out[1].dtype == .int32)
    #expect(out[1].values(as: Int32.self) == [2, 0, 2, 1])
}

/// ONE_HOT: a negative index gives a row of off values, unlike ONNX's wrap-around.
@Test func tfliteOneHot() throws {
    let out = try runTFLite1("ONE_HOT", [int32s([0, 2, -1]), int32s([3], []), floats([5], []), floats([-1], [])])
    #expect(out.shape == [3, 3])
    #expect(out.values(as: Float.self) == [5, -1, -1, -1, -1, 5, -1, -1, -1])
}

/// SPACE_TO_DEPTH packs each 2x2 patch into channels (row, column, channel); DEPTH_TO_SPACE
/// undoes it.
@Test func tfliteSpaceToDepthRoundTrip() throws {
    // NHWC [1, 2, 2, 2]: element (h, w, c) = 100h + 10w + c.
    var v = [Float]()
    for h in 0..<2 { for w in 0..<2 { for c in 0..<2 { v.append(Float(100 * h + 10 * w + c)) } } }
    let s = try runTFLite1("SPACE_TO_DEPTH", [floats(v, [1, 2, 2, 2])], attributes: [attr("block_size", 2)])
    #expect(s.shape == [1, 1, 1, 8])
    #expect(s.values(as: Float.self) == [0, 1, 10, 11, 100, 101, 110, 111])
    let d = try runTFLite1("DEPTH_TO_SPACE", [s], attributes: [attr("block_size", 2)])
    #expect(d.shape == [1, 2, 2, 2])
    #expect(d.values(as: Float.self) == v)
}

/// Hostile arguments are errors, never traps: extreme strides and ends, huge block sizes,
/// negative paddings and sizes, indices out of range.
@Test func tfliteIndexingHostileArgumentsThrowOrClamp() throws {
    let v = floats(iota(4))
    let big = try stridedSlice(v, [0], [Int32.max], [Int32.max])
    #expect(big.values(as: Float.self) == [0])
    let back = try stridedSlice(v, [Int32.max], [Int32.min], [Int32.min])
    #expect(back.values(as: Float.self) == [3])
    let offset = try stridedSlice(v, [1], [Int32.max], [1], offset: 1)
    #expect(offset.values(as: Float.self) == [1, 2, 3])
    #expect(throws: SwiftConvError.self) { try stridedSlice(v, [0], [4], [0]) }
    #expect(throws: SwiftConvError.self) { try stridedSlice(v, [9], [4], [1], shrink_axis_mask: 1) }
    let x = floats(iota(4), [1, 2, 2, 1])
    #expect(throws: SwiftConvError.self) {
        try runTFLite1("DEPTH_TO_SPACE", [x], attributes: [attr("block_size", Int64(1) << 40)])
    }
    #expect(throws: SwiftConvError.self) {
        try runTFLite1("SPACE_TO_DEPTH", [floats([], [1, 0, 0, 1])], attributes: [attr("block_size", Int64(1) << 40)])
    }
    #expect(throws: SwiftConvError.self) { try runTFLite1("PAD", [v, int32s([-1, 0], [1, 2])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("SLICE", [v, int32s([1]), int32s([-2])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("GATHER", [v, int32s([-1])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("TOPK_V2", [v, int32s([5], [])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("FILL", [int32s([-2]), floats([1], [])]) }
}

/// DYNAMIC_UPDATE_SLICE: the update written where the start says, each start clamped so the
/// update fits (hostile starts included); mismatched ranks, types and sizes throw.
@Test func tfliteDynamicUpdateSliceClampsAndChecks() throws {
    let x = floats(iota(6), [2, 3])
    let u = floats([10, 11], [1, 2])
    let placed = try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, u, int32s([1, 0])])
    #expect(placed.shape == [2, 3])
    #expect(placed.values(as: Float.self) == [0, 1, 2, 10, 11, 5])
    let clamped = try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, u, int32s([Int32.max, Int32.min])])
    #expect(clamped.values(as: Float.self) == [0, 1, 2, 10, 11, 5])
    let right = try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, u, int32s([-7, 2])])
    #expect(right.values(as: Float.self) == [0, 10, 11, 3, 4, 5])
    #expect(throws: SwiftConvError.self) { try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, floats(iota(8), [2, 4]), int32s([0, 0])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, floats([1, 2], [2]), int32s([0])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, u, int32s([0])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, u, floats([0, 0])]) }
    #expect(throws: SwiftConvError.self) { try runTFLite1("DYNAMIC_UPDATE_SLICE", [x, int32s([1, 2], [1, 2]), int32s([0, 0])]) }
}
