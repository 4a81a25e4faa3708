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
    _ nodes: [Node], input: [Int], output: String = "y", initializers: [Tensor] = [], opset: Int64 = 13, transposesLeft: Int = 0
) throws {
    let m = makeModel(nodes, inputs: [tensorInfo("x", .float32, input.map(d))], outputs: [output], initializers: initializers, opset: opset)
    let x = Tensor(dtype: .float32, shape: input, values: ramp(input.reduce(1, *)))
    let (before, after, rewritten, changed) = try outputsAround(TransposeCancellation(), m, ["x": .tensor(x)])
    #expect(changed)
    #expect(count("Transpose", in: rewritten) == transposesLeft)
    #expect(maxDifference(before, after) == 0)
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
        ])
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
