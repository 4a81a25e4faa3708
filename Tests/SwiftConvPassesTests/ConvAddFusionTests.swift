import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// MARK: - Conv + residual Add (+ activation) into FusedConv with a sum input

/// A 3x3 Conv (pads 1, bias) of `x` (1x3x6x5) to 3 channels, output "c", then `tail`; the
/// residual `r` is a second input of the conv output's shape, `rShape` unless given. Types
/// are inferred, as the session's checker records them before its passes run.
private func residualModel(
    _ tail: [Node], outputs: [String], rShape: [Dim] = [d(1), d(3), d(6), d(5)]
) throws -> (
    Model, [String: Value]
) {
    let w = RealModels.floats("w", shape: [3, 3, 3, 3], std: 0.5)
    let bias = RealModels.floats("b", shape: [3])
    let conv = Node(
        name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: [attr("pads", [1, 1, 1, 1])])
    var model = makeModel(
        [conv] + tail, inputs: [tensorInfo("x", .float32, [d(1), d(3), d(6), d(5)]), tensorInfo("r", .float32, rShape)],
        outputs: outputs, initializers: [w, bias])
    try ShapeInference.infer(&model)
    let r = RealModels.floats("r", shape: rShape.map { $0.value ?? 1 }, std: 2)
    return (model, ["x": .tensor(RealModels.floats("x", shape: [1, 3, 6, 5], std: 2)), "r": .tensor(r)])
}

@Test(arguments: [true, false])
func convAddReluBecomesOneFusedConv(convFirst: Bool) throws {
    let add = Node(name: "add", opType: "Add", inputs: convFirst ? ["c", "r"] : ["r", "c"], outputs: ["s"])
    let (model, feeds) = try residualModel(
        [add, Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["y"])], outputs: ["y"])
    let r = try outputsAround(ConvAddFusion(), model, feeds)
    #expect(r.changed)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["FusedConv"])
    let fused = r.rewritten.graph.nodes[0]
    #expect(fused.inputs == ["x", "w", "b", "r"])
    #expect(fused.outputs == ["y"])
    #expect(fused.attribute("activation")?.string == "Relu")
    #expect(!r.rewritten.graph.valueInfo.contains { $0.name == "c" || $0.name == "s" })
    #expect(maxDifference(r.before, r.after) < 1e-5)
}

@Test func convAddWithoutActivationKeepsTheAddOutput() throws {
    let (model, feeds) = try residualModel(
        [
            Node(name: "add", opType: "Add", inputs: ["c", "r"], outputs: ["s"]),
            Node(name: "neg", opType: "Neg", inputs: ["s"], outputs: ["y"]),
        ], outputs: ["y"])
    let r = try outputsAround(ConvAddFusion(), model, feeds)
    #expect(r.changed)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["FusedConv", "Neg"])
    #expect(r.rewritten.graph.nodes[0].outputs == ["s"])
    #expect(r.rewritten.graph.nodes[0].attribute("activation") == nil)
    #expect(maxDifference(r.before, r.after) < 1e-5)
}

@Test func convAddClipFusesTheBounds() throws {
    let (model, feeds) = try residualModel(
        [
            Node(name: "add", opType: "Add", inputs: ["c", "r"], outputs: ["s"]),
            Node(name: "clip", opType: "Clip", inputs: ["s"], outputs: ["y"], attributes: [attrF("min", -1), attrF("max", 2)]),
        ], outputs: ["y"])
    var m = model
    m.opsetImports = [OpsetID(domain: "", version: 6)]
    let r = try outputsAround(ConvAddFusion(), m, feeds)
    #expect(r.changed)
    #expect(r.rewritten.graph.nodes[0].attribute("activation_params")?.floats == [-1, 2])
    #expect(maxDifference(r.before, r.after) < 1e-5)
}

@Test func convAddLeavesBroadcastsSharedOutputsAndGraphOutputs() throws {
    let add = Node(name: "add", opType: "Add", inputs: ["c", "r"], outputs: ["y"])
    // A residual that broadcasts (one value per channel) is not a sum input.
    let (broadcast, _) = try residualModel([add], outputs: ["y"], rShape: [d(1), d(3), d(1), d(1)])
    var m = broadcast
    #expect(try !ConvAddFusion().run(on: &m))
    // The conv output read by another node, or a graph output.
    let (shared, _) = try residualModel([add, Node(name: "neg", opType: "Neg", inputs: ["c"], outputs: ["z"])], outputs: ["y", "z"])
    m = shared
    #expect(try !ConvAddFusion().run(on: &m))
    let (exposed, _) = try residualModel([add], outputs: ["y", "c"])
    m = exposed
    #expect(try !ConvAddFusion().run(on: &m))
    // The Add output read twice: the Add fuses, the activation does not.
    let (twice, feeds) = try residualModel(
        [
            Node(name: "add", opType: "Add", inputs: ["c", "r"], outputs: ["s"]),
            Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["y"]),
            Node(name: "neg", opType: "Neg", inputs: ["s"], outputs: ["z"]),
        ], outputs: ["y", "z"])
    let r = try outputsAround(ConvAddFusion(), twice, feeds)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["FusedConv", "Relu", "Neg"])
    #expect(maxDifference(r.before, r.after) < 1e-5)
}

@Test func convAddFusionFiresOnResNetAndMobileNetV2() throws {
    for (name, adds) in [("resnet18_op13", 8), ("mobilenet_v2_op17", 10)] {
        var model = try RealModels.skeleton(name)
        try ShapeInference.infer(&model)
        #expect(try ConvAddFusion().run(on: &model))
        #expect(count("Add", in: model) == 0, "\(name)")
        #expect(count("FusedConv", in: model) == adds, "\(name)")
    }
    var resnet = try RealModels.skeleton("resnet18_op13")
    try ShapeInference.infer(&resnet)
    let r = try outputsAround(ConvAddFusion(), resnet, try RealModels.feeds("resnet18_op13"))
    #expect(maxDifference(r.before, r.after) < 1e-4)
}

@Test func residualAddsFuseIntoTheirConvInASession() throws {
    // ResNet's Conv -> Add -> Relu: the checker's recorded shapes let ConvAddFusion see that
    // both Add operands have the conv output's shape, so no Add and no Relu is left.
    let session = try InferenceSession(model: RealModels.skeleton("resnet18_op13"))
    let nodes = session.model.graph.nodes
    #expect(!nodes.contains { $0.opType == "Add" || $0.opType == "Relu" })
    #expect(nodes.filter { $0.opType == "FusedConv" && $0.inputs.count == 4 }.count == 8)
}
