import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// The session's LayerNorm fusions and shape folding; values are checked against onnxruntime in
// tests/test_session_fusions.py, here which nodes the session keeps.

private let cols = 8

private func normConstants() -> [Tensor] {
    [
        Tensor(name: "two", dtype: .float32, shape: [], values: [Float(2)]),
        Tensor(name: "eps", dtype: .float32, shape: [], values: [Float(1e-5)]),
        Tensor(name: "gamma", dtype: .float32, shape: [cols], values: (0..<cols).map { 1 + Float($0) / 10 }),
        Tensor(name: "beta", dtype: .float32, shape: [cols], values: (0..<cols).map { Float($0) / 20 }),
    ]
}

/// torch's opset-13 LayerNorm of "x" into "y": mean, centre, square, mean, +eps, sqrt, divide, scale, shift.
private func decomposedNorm(axes: [Int64] = [-1], square: String = "Pow") -> [Node] {
    let sq =
        square == "Pow"
        ? Node(name: "pow", opType: "Pow", inputs: ["d", "two"], outputs: ["p"])
        : Node(name: "pow", opType: "Mul", inputs: ["d", "d"], outputs: ["p"])
    return [
        Node(name: "mean", opType: "ReduceMean", inputs: ["x"], outputs: ["m"], attributes: [Attribute(name: "axes", value: .ints(axes))]),
        Node(name: "sub", opType: "Sub", inputs: ["x", "m"], outputs: ["d"]), sq,
        Node(name: "var", opType: "ReduceMean", inputs: ["p"], outputs: ["v"], attributes: [Attribute(name: "axes", value: .ints(axes))]),
        Node(name: "addeps", opType: "Add", inputs: ["v", "eps"], outputs: ["ve"]),
        Node(name: "sqrt", opType: "Sqrt", inputs: ["ve"], outputs: ["sd"]),
        Node(name: "div", opType: "Div", inputs: ["d", "sd"], outputs: ["n"]),
        Node(name: "scale", opType: "Mul", inputs: ["n", "gamma"], outputs: ["ns"]),
        Node(name: "shift", opType: "Add", inputs: ["ns", "beta"], outputs: ["y"]),
    ]
}

private let residual = Node(name: "res", opType: "Add", inputs: ["a", "b"], outputs: ["x"])

private func inputs(_ dims: [Dim]) -> [ValueInfo] {
    [tensorInfo("a", .float32, dims), tensorInfo("b", .float32, dims)]
}

@Test(arguments: [Int64(13), 17], ["Pow", "Mul"])
func residualNormBecomesOneSkipNode(opset: Int64, square: String) throws {
    let model = makeModel(
        [residual] + decomposedNorm(square: square), inputs: inputs([s("batch"), d(4), d(cols)]), outputs: ["y"],
        initializers: normConstants(), opset: opset)
    let session = try InferenceSession(model: model)
    #expect(session.model.graph.nodes.map(\.opType) == ["SkipLayerNormalization"])
    #expect(session.model.graph.nodes[0].outputs == ["y"])
    #expect(session.model.opsetVersion(for: OpDomain.microsoft) == 1)
}

@Test func residualSumReadElsewhereIsTheSkipNodesFourthOutput() throws {
    let model = makeModel(
        [residual] + decomposedNorm() + [Node(name: "next", opType: "Add", inputs: ["x", "y"], outputs: ["z"])],
        inputs: inputs([d(2), d(4), d(cols)]), outputs: ["z"], initializers: normConstants(), opset: 13)
    let session = try InferenceSession(model: model)
    #expect(session.model.graph.nodes.map(\.opType) == ["SkipLayerNormalization", "Add"])
    #expect(session.model.graph.nodes[0].outputs == ["y", "", "", "x"])
}

@Test func normWithoutResidualIsLayerNormalizationFromOpset17Only() throws {
    let graphInputs = [tensorInfo("x", .float32, [d(2), d(cols)])]
    let at17 = try InferenceSession(
        model: makeModel(decomposedNorm(), inputs: graphInputs, outputs: ["y"], initializers: normConstants(), opset: 17))
    #expect(at17.model.graph.nodes.map(\.opType) == ["LayerNormalization"])
    let at13 = try InferenceSession(
        model: makeModel(decomposedNorm(), inputs: graphInputs, outputs: ["y"], initializers: normConstants(), opset: 13))
    #expect(at13.model.graph.nodes.count == 9)
}

@Test func layerNormalizationAfterAnAddBecomesSkip() throws {
    let nodes = [
        residual,
        Node(
            name: "ln", opType: "LayerNormalization", inputs: ["x", "gamma", "beta"], outputs: ["y"],
            attributes: [Attribute(name: "epsilon", value: .float(1e-5))]),
    ]
    // b repeats over the batch: [4, C] against [batch, 4, C].
    let model = makeModel(
        nodes, inputs: [tensorInfo("a", .float32, [s("batch"), d(4), d(cols)]), tensorInfo("b", .float32, [d(4), d(cols)])],
        outputs: ["y"], initializers: normConstants(), opset: 17)
    let session = try InferenceSession(model: model)
    #expect(session.model.graph.nodes.map(\.opType) == ["SkipLayerNormalization"])
    #expect(session.model.graph.nodes[0].inputs == ["a", "b", "gamma", "beta"])
}

@Test func patternsThatMustNotFuse() throws {
    let graphInputs = inputs([d(2), d(4), d(cols)])
    // The mean over another axis is not a LayerNorm.
    var model = makeModel(
        [residual] + decomposedNorm(axes: [1]), inputs: graphInputs, outputs: ["y"], initializers: normConstants(), opset: 17)
    #expect(try !LayerNormFusion().run(on: &model))
    // The centred value is a graph output too: removing its producer would lose it.
    model = makeModel(
        [residual] + decomposedNorm(), inputs: graphInputs, outputs: ["y", "d"], initializers: normConstants(), opset: 17)
    #expect(try !LayerNormFusion().run(on: &model))
    // The variance is read by another node.
    model = makeModel(
        [residual] + decomposedNorm() + [Node(name: "other", opType: "Neg", inputs: ["v"], outputs: ["z"])],
        inputs: graphInputs, outputs: ["y", "z"], initializers: normConstants(), opset: 17)
    #expect(try !LayerNormFusion().run(on: &model))
    // Operands that broadcast each other ([2, 1, C] + [1, 4, C]) are no input and skip.
    model = makeModel(
        [residual] + decomposedNorm(),
        inputs: [tensorInfo("a", .float32, [d(2), d(1), d(cols)]), tensorInfo("b", .float32, [d(1), d(4), d(cols)])],
        outputs: ["y"], initializers: normConstants(), opset: 13)
    #expect(try !LayerNormFusion().run(on: &model))
}

private func options(_ level: GraphOptimizationLevel) -> SessionOptions {
    var options = SessionOptions()
    options.graphOptimizationLevel = level
    return options
}

@Test func sessionFoldsStaticShapeArithmeticOnly() throws {
    // Shape(x)[1] * Shape(x)[2] is static; Shape(x)[0] is the dynamic batch.
    let nodes = [
        Node(name: "shape", opType: "Shape", inputs: ["x"], outputs: ["sh"]),
        Node(name: "g0", opType: "Gather", inputs: ["sh", "i0"], outputs: ["b"]),
        Node(name: "g1", opType: "Gather", inputs: ["sh", "i1"], outputs: ["h"]),
        Node(name: "g2", opType: "Gather", inputs: ["sh", "i2"], outputs: ["w"]),
        Node(name: "hw", opType: "Mul", inputs: ["h", "w"], outputs: ["hw"]),
        Node(name: "ub", opType: "Unsqueeze", inputs: ["b", "zero"], outputs: ["b1"]),
        Node(name: "uhw", opType: "Unsqueeze", inputs: ["hw", "zero"], outputs: ["hw1"]),
        Node(
            name: "cat", opType: "Concat", inputs: ["b1", "hw1"], outputs: ["target"], attributes: [Attribute(name: "axis", value: .int(0))]
        ),
        Node(name: "reshape", opType: "Reshape", inputs: ["x", "target"], outputs: ["y"]),
    ]
    let model = makeModel(
        nodes, inputs: [tensorInfo("x", .float32, [s("batch"), d(3), d(5)])], outputs: ["y"],
        initializers: [
            int64Tensor("i0", [0], shape: []), int64Tensor("i1", [1], shape: []), int64Tensor("i2", [2], shape: []),
            int64Tensor("zero", [0]),
        ], opset: 13)
    let basic = try InferenceSession(model: model, options: options(.basic))
    // The one dynamic dim of the target becomes -1, and the chain that computed it goes.
    #expect(basic.model.graph.nodes.map(\.name) == ["reshape"])
    let target = try #require(basic.model.graph.initializer(named: basic.model.graph.nodes[0].inputs[1]))
    #expect(target.values(as: Int64.self) == [-1, 15])
    let disabled = try InferenceSession(model: model, options: options(.disableAll))
    #expect(disabled.model.graph.nodes.count == nodes.count)
    for batch in [1, 4] {
        let x = Tensor(dtype: .float32, shape: [batch, 3, 5], values: (0..<(batch * 15)).map(Float.init))
        let y = try #require(basic.run(feeds: ["x": .tensor(x)])[0].tensor)
        #expect(y.shape == [batch, 15])
        #expect(y.values(as: Float.self) == x.values(as: Float.self))
    }
}

@Test func reshapeTargetWithTwoDynamicDimsStays() throws {
    let nodes = [
        Node(name: "shape", opType: "Shape", inputs: ["x"], outputs: ["sh"]),
        Node(name: "first", opType: "Slice", inputs: ["sh", "zero", "two"], outputs: ["nb"]),
        Node(
            name: "cat", opType: "Concat", inputs: ["nb", "minus1"], outputs: ["target"],
            attributes: [Attribute(name: "axis", value: .int(0))]),
        Node(name: "reshape", opType: "Reshape", inputs: ["x", "target"], outputs: ["y"]),
    ]
    let model = makeModel(
        nodes, inputs: [tensorInfo("x", .float32, [s("n"), s("m"), d(6)])], outputs: ["y"],
        initializers: [int64Tensor("zero", [0]), int64Tensor("two", [2]), int64Tensor("minus1", [-1])], opset: 13)
    let basic = try InferenceSession(model: model, options: options(.basic))
    #expect(basic.model.graph.nodes.map(\.name) == ["shape", "first", "cat", "reshape"])
}
