import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// Folding is checked against the unfolded model run in the engine: same outputs, fewer nodes.

private let folding = ConstantFolding.engine()

private func floatFeed(_ name: String, _ shape: [Int]) -> Value { .tensor(RealModels.floats(name, shape: shape)) }

private func constant(_ output: String, _ t: Tensor) -> Node {
    Node(name: output, opType: "Constant", inputs: [], outputs: [output], attributes: [Attribute(name: "value", value: .tensor(t))])
}

/// `y = x * (a + b)` with `a` a Constant node and `b` an initializer, and `(a + b)` also negated.
private func arithmeticModel() -> Model {
    makeModel(
        [
            constant("a", RealModels.floats("a", shape: [4])),
            Node(name: "sum", opType: "Add", inputs: ["a", "b"], outputs: ["ab"]),
            Node(name: "neg", opType: "Neg", inputs: ["ab"], outputs: ["nab"]),
            Node(name: "mul", opType: "Mul", inputs: ["x", "nab"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(3), d(4)])], outputs: ["y"],
        initializers: [RealModels.floats("b", shape: [4])])
}

@Test func foldingEvaluatesConstantChainsInOneRun() throws {
    let r = try outputsAround(folding, arithmeticModel(), ["x": floatFeed("x", [3, 4])])
    #expect(r.changed)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["Mul"])
    #expect(r.rewritten.graph.initializer(named: "nab")?.shape == [4])
    #expect(maxDifference(r.before, r.after) == 0)
    // A second run has nothing left to do.
    var again = r.rewritten
    #expect(try !folding.run(on: &again))
}

@Test func foldedGraphOutputBecomesAConstantNode() throws {
    var model = arithmeticModel()
    model.graph.outputs.append(ValueInfo(name: "nab", type: nil))
    let r = try outputsAround(folding, model, ["x": floatFeed("x", [3, 4])])
    #expect(r.rewritten.graph.nodes.map(\.opType).sorted() == ["Constant", "Mul"])
    #expect(r.rewritten.graph.nodes.first { $0.opType == "Constant" }?.outputs == ["nab"])
    #expect(maxDifference(r.before, r.after) == 0)
    var again = r.rewritten
    #expect(try !folding.run(on: &again))
}

/// `x: [batch, 3, 4]` reshaped to `[-1, dim1 * dim2]` and a `[batch, 5]` tensor of ones,
/// with every size read from `Shape(x)`, the way exporters write them.
private func shapeModel() -> Model {
    let i64 = { (name: String, v: [Int64], shape: [Int]?) in int64Tensor(name, v, shape: shape) }
    return makeModel(
        [
            Node(name: "shape", opType: "Shape", inputs: ["x"], outputs: ["s"]),
            Node(name: "g0", opType: "Gather", inputs: ["s", "i0"], outputs: ["batch"], attributes: [attr("axis", 0)]),
            Node(name: "g1", opType: "Gather", inputs: ["s", "i1"], outputs: ["d1"], attributes: [attr("axis", 0)]),
            Node(name: "tail", opType: "Slice", inputs: ["s", "minus1", "big"], outputs: ["d2"]),
            Node(name: "u1", opType: "Unsqueeze", inputs: ["d1", "axes0"], outputs: ["d1v"]),
            Node(name: "prod", opType: "Mul", inputs: ["d1v", "d2"], outputs: ["inner"]),
            Node(name: "target", opType: "Concat", inputs: ["minus1", "inner"], outputs: ["t"], attributes: [attr("axis", 0)]),
            Node(name: "reshape", opType: "Reshape", inputs: ["x", "t"], outputs: ["y"]),
            Node(name: "u0", opType: "Unsqueeze", inputs: ["batch", "axes0"], outputs: ["bv"]),
            Node(name: "ones_shape", opType: "Concat", inputs: ["bv", "five"], outputs: ["os"], attributes: [attr("axis", 0)]),
            Node(name: "ones", opType: "ConstantOfShape", inputs: ["os"], outputs: ["z"]),
        ],
        inputs: [tensorInfo("x", .float32, [s("batch"), d(3), d(4)])], outputs: ["y", "z"],
        initializers: [
            i64("i0", [0], []), i64("i1", [1], []), i64("minus1", [-1], nil), i64("big", [Int64.max], nil),
            i64("axes0", [0], nil), i64("five", [5], nil),
        ])
}

@Test func foldingTakesStaticDimsOfShapesAndKeepsDynamicOnes() throws {
    let feeds = ["x": floatFeed("x", [2, 3, 4])]
    let pipeline = OptimizationPipeline.pipeline(for: .basic)
    let r = try outputsAround(pipeline, shapeModel(), feeds)
    #expect(r.changed)
    // The Reshape target is a constant now; the batch size is still read from the input.
    let reshape = try #require(r.rewritten.graph.nodes.first { $0.opType == "Reshape" })
    #expect(r.rewritten.graph.initializer(named: reshape.inputs[1])?.int64Values() == [-1, 12])
    #expect(
        r.rewritten.graph.nodes.map(\.opType).sorted() == ["Concat", "ConstantOfShape", "Gather", "Reshape", "Shape", "Unsqueeze"])
    #expect(maxDifference(r.before, r.after) == 0)
    #expect(r.after[1].tensor?.shape == [2, 5])
    // Another batch size still works: nothing of the batch was baked in.
    let other = try unoptimizedOutputs(r.rewritten, ["x": floatFeed("x", [7, 3, 4])])
    #expect(other.map { $0.tensor?.shape } == [[7, 12], [7, 5]])
}

@Test func foldingTrustsInferredShapesNotDeclaredValueInfo() throws {
    // value_info claims a static batch of 1 for a value whose batch is dynamic: Shape must stay.
    var model = makeModel(
        [
            Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["r"]),
            Node(name: "shape", opType: "Shape", inputs: ["r"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [s("batch"), d(3)])], outputs: ["y"])
    model.graph.valueInfo = [tensorInfo("r", .float32, [d(1), d(3)])]
    #expect(try !folding.run(on: &model))
    #expect(model.graph.nodes.map(\.opType) == ["Relu", "Shape"])
    // With a static input the same Shape folds (into a Constant: it is a graph output).
    model.graph.inputs = [tensorInfo("x", .float32, [d(2), d(3)])]
    #expect(try folding.run(on: &model))
    let value = try #require(model.graph.nodes.first { $0.outputs == ["y"] }?.attribute("value")?.tensor)
    #expect(value.int64Values() == [2, 3])
}

@Test func foldingLeavesResultsAboveTheLimitAlone() throws {
    let model = makeModel(
        [
            Node(name: "big", opType: "ConstantOfShape", inputs: ["dims"], outputs: ["z"]),
            Node(name: "sum", opType: "Add", inputs: ["x", "z"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(20), d(20)])], outputs: ["y"],
        initializers: [int64Tensor("dims", [20, 20])])
    var small = model
    #expect(try !ConstantFolding.engine(maxElements: 399).run(on: &small))
    #expect(small.graph.nodes.count == 2)
    var enough = model
    #expect(try ConstantFolding.engine(maxElements: 400).run(on: &enough))
    #expect(enough.graph.nodes.map(\.opType) == ["Add"])
    // A size inference cannot see beforehand is refused after evaluation (Expand to a computed shape).
    let expand = makeModel(
        [
            Node(name: "dims", opType: "Mul", inputs: ["ten", "two"], outputs: ["dims"]),
            Node(name: "grow", opType: "Expand", inputs: ["one", "dims"], outputs: ["z"]),
            Node(name: "sum", opType: "Add", inputs: ["x", "z"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(20), d(20)])], outputs: ["y"],
        initializers: [int64Tensor("ten", [10, 10]), int64Tensor("two", [2]), RealModels.floats("one", shape: [1])])
    let r = try outputsAround(ConstantFolding.engine(maxElements: 100), expand, ["x": floatFeed("x", [20, 20])])
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["Expand", "Add"])
    #expect(maxDifference(r.before, r.after) == 0)
}

@Test func foldingLeavesNodesThatFailAlone() throws {
    // Six elements cannot become 4x4: the Reshape stays (and fails at run time as before);
    // the Neg beside it still folds.
    var model = makeModel(
        [
            Node(name: "bad", opType: "Reshape", inputs: ["w", "dims"], outputs: ["r"]),
            Node(name: "neg", opType: "Neg", inputs: ["w"], outputs: ["nw"]),
            Node(name: "add", opType: "Add", inputs: ["x", "r"], outputs: ["y"]),
            Node(name: "sub", opType: "Sub", inputs: ["x", "nw"], outputs: ["z"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(4), d(4)])], outputs: ["y", "z"],
        initializers: [RealModels.floats("w", shape: [6]), int64Tensor("dims", [4, 4])])
    #expect(try folding.run(on: &model))
    #expect(model.graph.nodes.map(\.opType) == ["Reshape", "Add", "Sub"])
    #expect(model.graph.initializer(named: "nw") != nil)
}

@Test func foldingSkipsRandomOpsOtherDomainsAndSubgraphs() throws {
    let branch = Graph(
        name: "then", nodes: [Node(opType: "Identity", inputs: ["c"], outputs: ["t"])], outputs: [ValueInfo(name: "t", type: nil)])
    var model = makeModel(
        [
            Node(
                name: "rand", opType: "RandomNormal", inputs: [], outputs: ["r"],
                attributes: [attr("shape", [2]), attr("dtype", 1)]),
            Node(name: "ms", opType: "Gelu", domain: "com.microsoft", inputs: ["c"], outputs: ["g"]),
            Node(
                name: "if", opType: "If", inputs: ["flag"], outputs: ["i"],
                attributes: [Attribute(name: "then_branch", value: .graph(branch)), Attribute(name: "else_branch", value: .graph(branch))]),
        ],
        inputs: [], outputs: ["r", "g", "i"],
        initializers: [RealModels.floats("c", shape: [2]), Tensor(name: "flag", dtype: .bool, shape: [], values: [UInt8(1)])],
        extraOpsets: [OpsetID(domain: "com.microsoft", version: 1)])
    #expect(try !folding.run(on: &model))
    #expect(model.graph.nodes.map(\.opType) == ["RandomNormal", "Gelu", "If"])
}

@Test func foldingKeepsDequantizeLinearUnlessAsked() throws {
    let model = makeModel(
        [
            Node(name: "dq", opType: "DequantizeLinear", inputs: ["q", "scale", "zp"], outputs: ["w"]),
            Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(1), d(4)])], outputs: ["y"],
        initializers: [
            Tensor(name: "q", dtype: .int8, shape: [4, 2], values: [Int8](arrayLiteral: 1, -2, 3, -4, 5, -6, 7, -8)),
            Tensor(name: "scale", dtype: .float32, shape: [], values: [Float(0.5)]),
            Tensor(name: "zp", dtype: .int8, shape: [], values: [Int8(1)]),
        ])
    var kept = model
    #expect(try !folding.run(on: &kept))
    let r = try outputsAround(ConstantFolding.engine(foldsDequantizeLinear: true), model, ["x": floatFeed("x", [1, 4])])
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["MatMul"])
    #expect(r.rewritten.graph.initializer(named: "w")?.values(as: Float.self) == [0, -1.5, 1, -2.5, 2, -3.5, 3, -4.5])
    #expect(maxDifference(r.before, r.after) == 0)
}

@Test func engineEvaluatorRunsOneNodeAndReportsFailures() throws {
    let evaluator = EngineConstantEvaluator()
    let node = Node(name: "range", opType: "Range", inputs: ["a", "b", "c"], outputs: ["r"])
    let scalar = { (v: Int64) in Tensor(dtype: .int64, shape: [], values: [v]) }
    let out = try evaluator.evaluate(node, inputs: [scalar(1), scalar(10), scalar(3)], opset: 17)
    #expect(out.map { $0.int64Values() } == [[1, 4, 7]])
    let bad = Node(name: "bad", opType: "Reshape", inputs: ["x", "s"], outputs: ["y"])
    let error = #expect(throws: SwiftConvError.self) {
        try evaluator.evaluate(bad, inputs: [scalar(1), int64Tensor("s", [2, 2])], opset: 17)
    }
    #expect(error?.node?.name == "bad")
    #expect(throws: SwiftConvError.self) {
        try evaluator.evaluate(Node(opType: "NoSuchOp", inputs: [], outputs: ["y"]), inputs: [], opset: 17)
    }
}

@Test func optimizationPipelineKeepsRealModelsResults() throws {
    for (name, model, feeds) in try RealModels.runnable() {
        let r = try outputsAround(OptimizationPipeline.pipeline(for: .all), model, feeds)
        #expect(maxDifference(r.before, r.after) <= 1e-5, "\(name)")
        #expect(r.rewritten.graph.nodes.count <= model.graph.nodes.count, "\(name)")
        try ModelChecker.check(r.rewritten)
        #expect(count("Constant", in: r.rewritten) == 0, "\(name)")
        if name == "transformer_encoder_op17" {
            // Most of its shape arithmetic reads the static sequence and model dims.
            #expect(r.rewritten.graph.nodes.count < model.graph.nodes.count / 2)
            #expect(count("Shape", in: r.rewritten) < count("Shape", in: model))
        }
    }
}

@Test func foldingBeforeIRVersion4MakesConstantNodes() throws {
    // There an initializer must be a graph input too, which a caller may override.
    var model = makeModel(
        [
            constant("a", RealModels.floats("a", shape: [4])),
            Node(name: "neg", opType: "Neg", inputs: ["a"], outputs: ["na"]),
            Node(name: "mul", opType: "Mul", inputs: ["x", "na"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(3), d(4)])], outputs: ["y"])
    model.irVersion = 3
    let r = try outputsAround(folding, model, ["x": floatFeed("x", [3, 4])])
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["Constant", "Constant", "Mul"])
    #expect(r.rewritten.graph.initializers.isEmpty)
    #expect(maxDifference(r.before, r.after) == 0)
    var again = r.rewritten
    #expect(try !folding.run(on: &again))
}
