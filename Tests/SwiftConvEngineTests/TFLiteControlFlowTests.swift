import SwiftConvIR
import Testing

@testable import SwiftConvEngine

private func scalarInfo(_ name: String, _ dtype: DType) -> ValueInfo {
    ValueInfo(name: name, type: .tensor(elementType: dtype, shape: []))
}

/// A subgraph of ONNX nodes (the tflite elementwise kernels live in another family).
private func subgraph(_ name: String, _ inputs: [ValueInfo], _ outputs: [ValueInfo], _ nodes: [Node], _ inits: [Tensor] = []) -> Graph {
    var g = Graph(name: name)
    g.inputs = inputs
    g.outputs = outputs
    g.nodes = nodes
    g.initializers = inits
    return g
}

private func controlFlowModel(_ node: Node, inputs: [ValueInfo], outputs: [String]) -> Model {
    var g = Graph(name: "main")
    g.inputs = inputs
    g.outputs = outputs.map { ValueInfo(name: $0, type: nil) }
    g.nodes = [node]
    return Model(
        format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1), OpsetID(domain: "", version: 17)])
}

/// WHILE i < n: i += 1, acc *= 2 — the values after the last iteration come out.
@Test func whileLoopsUntilTheConditionFails() throws {
    let cond = subgraph(
        "cond", [scalarInfo("ci", .int32), scalarInfo("cacc", .float32), scalarInfo("cn", .int32)], [scalarInfo("go", .bool)],
        [Node(opType: "Less", inputs: ["ci", "cn"], outputs: ["go"])])
    let body = subgraph(
        "body", [scalarInfo("bi", .int32), scalarInfo("bacc", .float32), scalarInfo("bn", .int32)],
        [scalarInfo("bi2", .int32), scalarInfo("bacc2", .float32), scalarInfo("bn2", .int32)],
        [
            Node(opType: "Add", inputs: ["bi", "one"], outputs: ["bi2"]),
            Node(opType: "Add", inputs: ["bacc", "bacc"], outputs: ["bacc2"]),
            Node(opType: "Identity", inputs: ["bn"], outputs: ["bn2"]),
        ],
        [Tensor(name: "one", dtype: .int32, shape: [], values: [Int32(1)])])
    let node = Node(
        name: "i_out", opType: "WHILE", domain: OpDomain.tflite, inputs: ["i", "acc", "n"], outputs: ["i_out", "acc_out", "n_out"],
        attributes: [Attribute(name: "cond_subgraph", value: .graph(cond)), Attribute(name: "body_subgraph", value: .graph(body))])
    let model = controlFlowModel(
        node, inputs: [scalarInfo("i", .int32), scalarInfo("acc", .float32), scalarInfo("n", .int32)],
        outputs: ["i_out", "acc_out", "n_out"])
    let session = try InferenceSession(model: model)
    let out = try session.run(feeds: [
        "i": .tensor(Tensor(dtype: .int32, shape: [], values: [Int32(0)])),
        "acc": .tensor(Tensor(dtype: .float32, shape: [], values: [Float(1.5)])),
        "n": .tensor(Tensor(dtype: .int32, shape: [], values: [Int32(5)])),
    ])
    #expect(out[0].tensor?.values(as: Int32.self) == [5])
    #expect(out[1].tensor?.values(as: Float.self) == [48])
    // Zero iterations: the inputs pass through.
    let none = try session.run(feeds: [
        "i": .tensor(Tensor(dtype: .int32, shape: [], values: [Int32(7)])),
        "acc": .tensor(Tensor(dtype: .float32, shape: [], values: [Float(2)])),
        "n": .tensor(Tensor(dtype: .int32, shape: [], values: [Int32(5)])),
    ])
    #expect(none[0].tensor?.values(as: Int32.self) == [7])
    #expect(none[1].tensor?.values(as: Float.self) == [2])
}

/// An endless WHILE in a run whose terminate flag is set ends with an error instead of hanging.
@Test func endlessWhileStopsOnTerminate() throws {
    let cond = subgraph(
        "cond", [scalarInfo("ci", .int32)], [scalarInfo("go", .bool)],
        [Node(opType: "Constant", inputs: [], outputs: ["go"], attributes: [
            Attribute(name: "value", value: .tensor(Tensor(dtype: .bool, shape: [], values: [true])))
        ])])
    let body = subgraph(
        "body", [scalarInfo("bi", .int32)], [scalarInfo("bi2", .int32)], [Node(opType: "Identity", inputs: ["bi"], outputs: ["bi2"])])
    let node = Node(
        name: "i_out", opType: "WHILE", domain: OpDomain.tflite, inputs: ["i"], outputs: ["i_out"],
        attributes: [Attribute(name: "cond_subgraph", value: .graph(cond)), Attribute(name: "body_subgraph", value: .graph(body))])
    let session = try InferenceSession(model: controlFlowModel(node, inputs: [scalarInfo("i", .int32)], outputs: ["i_out"]))
    let control = RunControl()
    control.setTerminate(true)
    #expect(throws: SwiftConvError.self) {
        _ = try session.run(feeds: ["i": .tensor(Tensor(dtype: .int32, shape: [], values: [Int32(0)]))], control: control)
    }
}

/// IF runs the branch the condition picks on the remaining inputs.
@Test func ifRunsTheChosenBranch() throws {
    let then = subgraph(
        "then", [scalarInfo("ta", .float32), scalarInfo("tb", .float32)], [scalarInfo("tr", .float32)],
        [Node(opType: "Add", inputs: ["ta", "tb"], outputs: ["tr"])])
    let els = subgraph(
        "else", [scalarInfo("ea", .float32), scalarInfo("eb", .float32)], [scalarInfo("er", .float32)],
        [Node(opType: "Sub", inputs: ["ea", "eb"], outputs: ["er"])])
    let node = Node(
        name: "r", opType: "IF", domain: OpDomain.tflite, inputs: ["c", "a", "b"], outputs: ["r"],
        attributes: [Attribute(name: "then_subgraph", value: .graph(then)), Attribute(name: "else_subgraph", value: .graph(els))])
    let session = try InferenceSession(
        model: controlFlowModel(
            node, inputs: [scalarInfo("c", .bool), scalarInfo("a", .float32), scalarInfo("b", .float32)], outputs: ["r"]))
    for (c, want) in [(true, Float(7)), (false, Float(3))] {
        let out = try session.run(feeds: [
            "c": .tensor(Tensor(dtype: .bool, shape: [], values: [c])),
            "a": .tensor(Tensor(dtype: .float32, shape: [], values: [Float(5)])),
            "b": .tensor(Tensor(dtype: .float32, shape: [], values: [Float(2)])),
        ])
        #expect(out[0].tensor?.values(as: Float.self) == [want])
    }
}
