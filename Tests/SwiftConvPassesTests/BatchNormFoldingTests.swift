import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// Each fold is checked against the unfolded pair run in the engine.

/// BatchNormalization parameters for `channels` channels: positive variances, scales of
/// both signs, so that every term of the fold matters.
private func bnParameters(_ prefix: String, channels: Int, dtype: DType = .float32) -> [Tensor] {
    let raw = [
        RealModels.floats(prefix + "_scale", shape: [channels], mean: 0.5, std: 1),
        RealModels.floats(prefix + "_bias", shape: [channels]),
        RealModels.floats(prefix + "_mean", shape: [channels]),
        RealModels.floats(prefix + "_var", shape: [channels], mean: 2, std: 0.5),
    ]
    return raw.map { dtype == .float32 ? $0 : widened($0) }
}

private func widened(_ t: Tensor) -> Tensor {
    Tensor(name: t.name, dtype: .float64, shape: t.shape, values: t.values(as: Float.self).map(Double.init))
}

private func batchNorm(_ input: String, _ prefix: String, output: String = "y", epsilon: Float = 1e-3) -> Node {
    Node(
        name: prefix, opType: "BatchNormalization",
        inputs: [input, prefix + "_scale", prefix + "_bias", prefix + "_mean", prefix + "_var"], outputs: [output],
        attributes: [attrF("epsilon", epsilon)])
}

/// The largest difference between outputs relative to their magnitude (float64 outputs too).
private func relativeDifference(_ a: [Value], _ b: [Value]) -> Double {
    var worst = 0.0
    for (x, y) in zip(a, b) {
        guard let s = x.tensor, let t = y.tensor, s.shape == t.shape, s.dtype == t.dtype, let p = s.doubleValues(),
            let q = t.doubleValues()
        else { return .infinity }
        for (u, v) in zip(p, q) { worst = max(worst, abs(u - v) / max(1, abs(u))) }
    }
    return worst
}

private func convModel(opType: String = "Conv", weight: [Int], bias: Bool, group: Int64 = 1, dtype: DType = .float32) -> Model {
    let channels = opType == "Conv" ? weight[0] : weight[1] * Int(group)
    var initializers = [RealModels.floats("w", shape: weight)]
    if bias { initializers.append(RealModels.floats("b", shape: [channels])) }
    initializers += bnParameters("bn", channels: channels)
    if dtype == .float64 { initializers = initializers.map(widened) }
    let inChannels = opType == "Conv" ? weight[1] * Int(group) : weight[0]
    return makeModel(
        [
            Node(
                name: "conv", opType: opType, inputs: ["x", "w"] + (bias ? ["b"] : []), outputs: ["c"],
                attributes: [attr("group", group), attr("pads", [1, 1, 1, 1])]),
            batchNorm("c", "bn"),
        ],
        inputs: [tensorInfo("x", dtype, [d(2), d(inChannels), d(5), d(5)])], outputs: ["y"], initializers: initializers)
}

private func xFeed(_ model: Model) -> [String: Value] {
    let info = model.graph.inputs[0]
    let shape = info.type!.tensorShape!.concrete!
    let x = RealModels.floats("x", shape: shape)
    return ["x": .tensor(info.type?.tensorElementType == .float64 ? widened(x) : x)]
}

@Test(arguments: [
    ("Conv", [4, 3, 3, 3], true, Int64(1)), ("Conv", [6, 2, 3, 3], false, 2), ("ConvTranspose", [4, 3, 3, 3], true, 1),
    ("ConvTranspose", [4, 3, 2, 2], false, 2),
])
func batchNormFoldsIntoConvolutions(op: String, weight: [Int], bias: Bool, group: Int64) throws {
    let model = convModel(opType: op, weight: weight, bias: bias, group: group)
    let r = try outputsAround(BatchNormFolding(), model, xFeed(model))
    #expect(r.changed)
    #expect(r.rewritten.graph.nodes.map(\.opType) == [op])
    #expect(r.rewritten.graph.nodes[0].outputs == ["y"])
    #expect(relativeDifference(r.before, r.after) < 1e-5)
}

@Test func batchNormFoldsInFloat64() throws {
    let model = convModel(weight: [4, 3, 3, 3], bias: true, dtype: .float64)
    let r = try outputsAround(BatchNormFolding(), model, xFeed(model))
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["Conv"])
    #expect(r.rewritten.graph.initializers.filter { $0.name.hasSuffix("_bn_folded") }.allSatisfy { $0.dtype == .float64 })
    #expect(relativeDifference(r.before, r.after) < 1e-12)
}

@Test func batchNormFoldsIntoGemmAndMatMul() throws {
    // Gemm with transB, alpha, beta and a [1, N] bias; MatMul of a 2-D input.
    let gemm = makeModel(
        [
            Node(
                name: "gemm", opType: "Gemm", inputs: ["x", "w", "c"], outputs: ["g"],
                attributes: [attr("transB", 1), attrF("alpha", 0.5), attrF("beta", 2)]),
            batchNorm("g", "bn"),
        ],
        inputs: [tensorInfo("x", .float32, [d(3), d(4)])], outputs: ["y"],
        initializers: [RealModels.floats("w", shape: [5, 4]), RealModels.floats("c", shape: [1, 5])] + bnParameters("bn", channels: 5))
    let feeds: [String: Value] = ["x": .tensor(RealModels.floats("x", shape: [3, 4]))]
    var r = try outputsAround(BatchNormFolding(), gemm, feeds)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["Gemm"])
    #expect(relativeDifference(r.before, r.after) < 1e-5)

    var matMul = makeModel(
        [Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["m"]), batchNorm("m", "bn")],
        inputs: [tensorInfo("x", .float32, [d(3), d(4)])], outputs: ["y"],
        initializers: [RealModels.floats("w", shape: [4, 5])] + bnParameters("bn", channels: 5))
    r = try outputsAround(BatchNormFolding(), matMul, feeds)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["Gemm"])
    #expect(relativeDifference(r.before, r.after) < 1e-5)
    // A 3-D input broadcasts in MatMul, which Gemm cannot: left alone.
    matMul.graph.inputs = [tensorInfo("x", .float32, [d(2), d(3), d(4)])]
    #expect(try !BatchNormFolding().run(on: &matMul))
}

@Test func batchNormStaysWhenTheFoldWouldChangeSomething() throws {
    // The Conv result is read by another node too.
    var shared = convModel(weight: [4, 3, 3, 3], bias: true)
    shared.graph.nodes.append(Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"]))
    shared.graph.outputs.append(ValueInfo(name: "r", type: nil))
    #expect(try !BatchNormFolding().run(on: &shared))
    // A parameter is a graph input, not a constant.
    var fed = convModel(weight: [4, 3, 3, 3], bias: true)
    fed.graph.inputs.append(tensorInfo("bn_mean", .float32, [d(4)]))
    #expect(try !BatchNormFolding().run(on: &fed))
    // The weights are computed at run time.
    var dynamic = convModel(weight: [4, 3, 3, 3], bias: false)
    dynamic.graph.initializers.removeAll { $0.name == "w" }
    dynamic.graph.inputs.append(tensorInfo("w", .float32, [d(4), d(3), d(3), d(3)]))
    #expect(try !BatchNormFolding().run(on: &dynamic))
    // Training mode (running statistics as outputs).
    var training = convModel(weight: [4, 3, 3, 3], bias: true)
    training.graph.nodes[1].attributes.append(attr("training_mode", 1))
    training.graph.nodes[1].outputs += ["running_mean", "running_var"]
    #expect(try !BatchNormFolding().run(on: &training))
    // A BatchNormalization with no producer to fold into stays.
    var alone = makeModel(
        [batchNorm("x", "bn")], inputs: [tensorInfo("x", .float32, [d(1), d(4), d(2), d(2)])], outputs: ["y"],
        initializers: bnParameters("bn", channels: 4))
    #expect(try !BatchNormFolding().run(on: &alone))
}

@Test func extendedOptimizationFoldsBatchNormAfterFoldingItsParameters() throws {
    // The BN scale is computed from constants (a Mul), as some exporters write it: folding
    // makes it a constant, then the BatchNormalization folds into the Conv.
    var model = convModel(weight: [4, 3, 3, 3], bias: true)
    model.graph.initializers = model.graph.initializers.map { t in
        var t = t
        if t.name == "bn_scale" { t.name = "half_scale" }
        return t
    }
    model.graph.initializers.append(Tensor(name: "two", dtype: .float32, shape: [], values: [Float(2)]))
    model.graph.nodes.insert(Node(name: "scale", opType: "Mul", inputs: ["half_scale", "two"], outputs: ["bn_scale"]), at: 0)
    let basic = try outputsAround(OptimizationPipeline.pipeline(for: .basic), model, xFeed(model))
    #expect(basic.rewritten.graph.nodes.map(\.opType) == ["Conv", "BatchNormalization"])
    let extended = try outputsAround(OptimizationPipeline.pipeline(for: .extended), model, xFeed(model))
    #expect(extended.rewritten.graph.nodes.map(\.opType) == ["Conv"])
    #expect(extended.rewritten.graph.initializers.count == 2) // the folded weight and bias only
    #expect(relativeDifference(extended.before, extended.after) < 1e-5)
}
