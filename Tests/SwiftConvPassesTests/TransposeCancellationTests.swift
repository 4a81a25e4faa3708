import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// TransposeCancellation's axis rules: an NHWC value transposed to NCHW, read by an op with
// axes, then (mostly) transposed back. The pass must leave no Transpose (or the fewest) and
// the model must compute the same values as before it.

private let toNCHW = attr("perm", [0, 3, 1, 2] as [Int64])
private let toNHWC = attr("perm", [0, 2, 3, 1] as [Int64])

private func ramp(_ n: Int) -> [Float] { (0..<n).map { Float(($0 * 37 + 5) % 23) / 11.5 - 1 } }

private func checkRewrite(
    _ nodes: [Node], input: [Int], output: String = "y", initializers: [Tensor] = [], opset: Int64 = 13, transposesLeft: Int = 0,
    tolerance: Float = 0
) throws {
    let m = makeModel(nodes, inputs: [tensorInfo("x", .float32, input.map(d))], outputs: [output], initializers: initializers, opset: opset)
    let x = Tensor(dtype: .float32, shape: input, values: ramp(input.reduce(1, *)))
    let (before, after, rewritten, changed) = try outputsAround(TransposeCancellation(), m, ["x": .tensor(x)])
    #expect(changed)
    #expect(count("Transpose", in: rewritten) == transposesLeft)
    #expect(maxDifference(before, after) <= tolerance)
}

@Test func transposeMovesThroughReductionWithoutKeptDims() throws {
    try checkRewrite(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [toNCHW]),
            Node(
                name: "r", opType: "ReduceMean", inputs: ["a"], outputs: ["y"],
                attributes: [attr("axes", [2, 3] as [Int64]), attr("keepdims", 0)]),
        ], input: [2, 4, 5, 3])
}

@Test func transposeMovesThroughSoftmaxSliceAndPadThenCancels() throws {
    try checkRewrite(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [toNCHW]),
            Node(name: "s", opType: "Softmax", inputs: ["a"], outputs: ["b"], attributes: [attr("axis", 1)]),
            Node(name: "sl", opType: "Slice", inputs: ["b", "starts", "ends", "axes"], outputs: ["c"]),
            Node(name: "p", opType: "Pad", inputs: ["c", "pads"], outputs: ["e"]),
            Node(name: "back", opType: "Transpose", inputs: ["e"], outputs: ["y"], attributes: [toNHWC]),
        ], input: [1, 4, 5, 3],
        initializers: [
            int64Tensor("starts", [1, 0]), int64Tensor("ends", [3, 4]), int64Tensor("axes", [-2, 1]),
            int64Tensor("pads", [0, 1, 0, 2, 0, 0, 1, 0]),
        ],
        // Moved to the last axis, the Softmax takes the vectorized row kernel instead of the
        // strided loop: the same sums in another order, so the last bit may differ.
        tolerance: 1e-6)
}

@Test func transposeMovesThroughSqueezeUnsqueezeAndScalarGather() throws {
    try checkRewrite(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [toNCHW]),
            Node(name: "g", opType: "Gather", inputs: ["a", "i"], outputs: ["b"], attributes: [attr("axis", 2)]),
            Node(name: "u", opType: "Unsqueeze", inputs: ["b", "ax"], outputs: ["c"]),
            Node(name: "q", opType: "Squeeze", inputs: ["c", "ax"], outputs: ["e"]),
            Node(name: "back", opType: "Transpose", inputs: ["e"], outputs: ["y"], attributes: [attr("perm", [0, 2, 1] as [Int64])]),
        ], input: [2, 4, 5, 3], initializers: [int64Tensor("i", [2], shape: []), int64Tensor("ax", [0])])
}

@Test func sizeOneTransposeBeforeFlattenGoesAndOtherwiseBecomesAReshape() throws {
    // [N, 1, 1, C] -> [N, C, 1, 1]: the same data order.
    try checkRewrite(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [toNCHW]),
            Node(name: "f", opType: "Flatten", inputs: ["a"], outputs: ["y"], attributes: [attr("axis", 1)]),
        ], input: [2, 1, 1, 6])
    let m = makeModel(
        [Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["y"], attributes: [toNCHW])],
        inputs: [tensorInfo("x", .float32, [s("n"), d(1), d(1), d(6)])], outputs: ["y"], opset: 13)
    let x = Tensor(dtype: .float32, shape: [3, 1, 1, 6], values: ramp(18))
    let (before, after, rewritten, _) = try outputsAround(TransposeCancellation(), m, ["x": .tensor(x)])
    #expect(count("Transpose", in: rewritten) == 0)
    #expect(count("Reshape", in: rewritten) == 1)
    #expect(maxDifference(before, after) == 0)
}

@Test func transposeMovingRealDimsStaysBeforeFlatten() throws {
    let m = makeModel(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [toNCHW]),
            Node(name: "f", opType: "Flatten", inputs: ["a"], outputs: ["y"], attributes: [attr("axis", 1)]),
        ], inputs: [tensorInfo("x", .float32, [d(1), d(2), d(2), d(3)])], outputs: ["y"], opset: 13)
    var rewritten = m
    _ = try TransposeCancellation().run(on: &rewritten)
    #expect(count("Transpose", in: rewritten) == 1)
}

// Reshapes: a split lets the Transpose through; a Transpose after a Reshape that splits and
// merges is pulled back into the one before it (attention heads); a Gemm on flattened rows
// becomes a MatMul on the rows' own shape.

@Test func transposeMovesThroughSplittingReshapeThenCancels() throws {
    try checkRewrite(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [attr("perm", [1, 0, 2] as [Int64])]),
            Node(name: "r", opType: "Reshape", inputs: ["a", "shape"], outputs: ["b"]),
            Node(name: "back", opType: "Transpose", inputs: ["b"], outputs: ["y"], attributes: [attr("perm", [1, 0, 2, 3] as [Int64])]),
        ], input: [2, 3, 8], initializers: [int64Tensor("shape", [3, 2, 2, 4])])
}

@Test func transposeAfterHeadSplitMergesWithTheOneBefore() throws {
    // [B, S, E] -> [S, B, E] -> [S, B*H, D] -> [B*H, S, D]: one Transpose of [B, S, H, D].
    try checkRewrite(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [attr("perm", [1, 0, 2] as [Int64])]),
            Node(name: "r", opType: "Reshape", inputs: ["a", "shape"], outputs: ["b"]),
            Node(name: "t2", opType: "Transpose", inputs: ["b"], outputs: ["y"], attributes: [attr("perm", [1, 0, 2] as [Int64])]),
        ], input: [2, 3, 8], initializers: [int64Tensor("shape", [3, 4, 4])], transposesLeft: 1)
}

@Test func gemmOnFlattenedRowsLetsTransposesCancel() throws {
    let w = Tensor(name: "w", dtype: .float32, shape: [5, 4], values: ramp(20))
    let c = Tensor(name: "c", dtype: .float32, shape: [5], values: ramp(5))
    try checkRewrite(
        [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [attr("perm", [1, 0, 2] as [Int64])]),
            Node(name: "flat", opType: "Reshape", inputs: ["a", "rows"], outputs: ["b"]),
            Node(name: "g", opType: "Gemm", inputs: ["b", "w", "c"], outputs: ["e"], attributes: [attr("transB", 1)]),
            Node(name: "unflat", opType: "Reshape", inputs: ["e", "back"], outputs: ["f"]),
            Node(name: "t2", opType: "Transpose", inputs: ["f"], outputs: ["y"], attributes: [attr("perm", [1, 0, 2] as [Int64])]),
        ], input: [2, 3, 4], initializers: [int64Tensor("rows", [-1, 4]), int64Tensor("back", [3, 2, 5]), w, c])
}
