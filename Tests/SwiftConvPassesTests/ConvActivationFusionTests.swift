import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// MARK: - Conv + SiLU (Swish) and the other activations FusedConv applies

/// A 3x3 Conv (pads 1, bias) on a 1x3x6x5 input, then `tail` reading its output "c".
private func convModel(_ tail: [Node], outputs: [String], weightType: DType = .float32) -> (Model, [String: Value]) {
    let w = RealModels.floats("w", shape: [4, 3, 3, 3], std: 0.5)
    let weights =
        weightType == .float32
        ? w : Tensor(name: "w", dtype: .float64, shape: w.shape, values: w.values(as: Float.self).map(Double.init))
    let bias = RealModels.floats("b", shape: [4])
    let conv = Node(
        name: "conv", opType: "Conv", inputs: ["x", "w", weightType == .float32 ? "b" : ""], outputs: ["c"],
        attributes: [attr("pads", [1, 1, 1, 1])])
    let model = makeModel(
        [conv] + tail, inputs: [tensorInfo("x", weightType, [d(1), d(3), d(6), d(5)])], outputs: outputs,
        initializers: [weights, bias])
    let x = RealModels.floats("x", shape: [1, 3, 6, 5], std: 2)
    let feed =
        weightType == .float32
        ? x : Tensor(name: "x", dtype: .float64, shape: x.shape, values: x.values(as: Float.self).map(Double.init))
    return (model, ["x": .tensor(feed)])
}

private func activationName(_ model: Model) -> String? {
    model.graph.nodes.first { $0.opType == "FusedConv" }?.attribute("activation")?.string
}

@Test(arguments: [true, false])
func convSigmoidMulBecomesOneSwishFusedConv(convFirst: Bool) throws {
    let mul = Node(name: "mul", opType: "Mul", inputs: convFirst ? ["c", "s"] : ["s", "c"], outputs: ["y"])
    let (model, feeds) = convModel(
        [Node(name: "sigmoid", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]), mul], outputs: ["y"])
    let r = try outputsAround(ConvActivationFusion(), model, feeds)
    #expect(r.changed)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["FusedConv"])
    #expect(r.rewritten.graph.nodes[0].outputs == ["y"])
    #expect(activationName(r.rewritten) == "Swish")
    #expect(r.rewritten.opsetVersion(for: "com.microsoft") == 1)
    #expect(maxDifference(r.before, r.after) < 1e-5)
}

@Test func swishFusionLeavesAConvOutputWithAnotherReader() throws {
    let (model, feeds) = convModel(
        [
            Node(name: "sigmoid", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
            Node(name: "mul", opType: "Mul", inputs: ["c", "s"], outputs: ["y"]),
            Node(name: "neg", opType: "Neg", inputs: ["c"], outputs: ["z"]),
        ], outputs: ["y", "z"])
    var rewritten = model
    #expect(try !ConvActivationFusion().run(on: &rewritten))
    #expect(rewritten.graph.nodes.map(\.opType) == ["Conv", "Sigmoid", "Mul", "Neg"])
    // The Sigmoid output read twice, or the Conv output a graph output: no fusion either.
    let (twice, _) = convModel(
        [
            Node(name: "sigmoid", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
            Node(name: "mul", opType: "Mul", inputs: ["c", "s"], outputs: ["y"]),
        ], outputs: ["y", "s"])
    var m = twice
    #expect(try !ConvActivationFusion().run(on: &m))
    let (exposed, _) = convModel(
        [
            Node(name: "sigmoid", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
            Node(name: "mul", opType: "Mul", inputs: ["s", "c"], outputs: ["y"]),
        ], outputs: ["y", "c"])
    m = exposed
    #expect(try !ConvActivationFusion().run(on: &m))
    // Unfused, the model still runs: the pass left it whole.
    #expect(try unoptimizedOutputs(model, feeds).count == 2)
}

@Test(arguments: ["HardSwish", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid"])
func convThenActivationFuses(op: String) throws {
    let attributes = op == "HardSigmoid" ? [attrF("alpha", 0.3), attrF("beta", 0.4)] : op == "LeakyRelu" ? [attrF("alpha", 0.2)] : []
    let (model, feeds) = convModel([Node(name: "act", opType: op, inputs: ["c"], outputs: ["y"], attributes: attributes)], outputs: ["y"])
    let r = try outputsAround(ConvActivationFusion(), model, feeds)
    #expect(r.changed)
    #expect(activationName(r.rewritten) == op)
    #expect(maxDifference(r.before, r.after) < 1e-5, "\(op)")
}

@Test func onlyClampsFuseWhenTheConvIsNotFloat32() throws {
    let (model, _) = convModel(
        [
            Node(name: "sigmoid", opType: "Sigmoid", inputs: ["c"], outputs: ["s"]),
            Node(name: "mul", opType: "Mul", inputs: ["c", "s"], outputs: ["y"]),
        ], outputs: ["y"], weightType: .float64)
    var m = model
    #expect(try !ConvActivationFusion().run(on: &m))
    let (relu, _) = convModel([Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["y"])], outputs: ["y"], weightType: .float64)
    m = relu
    #expect(try ConvActivationFusion().run(on: &m))
}
