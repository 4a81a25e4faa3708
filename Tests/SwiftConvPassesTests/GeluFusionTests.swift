import Foundation
import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// The session's Erf GELU fusion; values against the exact GELU computed in Double with libm's erf.

private let geluConstants = [
    Tensor(name: "sqrt2", dtype: .float32, shape: [], values: [Float(1.4142135)]),
    Tensor(name: "inv_sqrt2", dtype: .float32, shape: [], values: [Float(0.70710678)]),
    Tensor(name: "one", dtype: .float32, shape: [], values: [Float(1)]),
    Tensor(name: "half", dtype: .float32, shape: [], values: [Float(0.5)]),
]

/// The Erf GELU of "x" into "y" in the forms exporters write.
private func erfGelu(_ form: String) -> [Node] {
    let scaled =
        form == "mul"
        ? Node(name: "s", opType: "Mul", inputs: ["inv_sqrt2", "x"], outputs: ["s"])
        : Node(name: "s", opType: "Div", inputs: ["x", "sqrt2"], outputs: ["s"])
    var nodes = [
        scaled, Node(name: "erf", opType: "Erf", inputs: ["s"], outputs: ["e"]),
        Node(name: "add", opType: "Add", inputs: ["one", "e"], outputs: ["a"]),
    ]
    switch form {
    case "half_last": // torch: x * (1 + erf(x / sqrt2)) * 0.5
        nodes += [
            Node(name: "m", opType: "Mul", inputs: ["x", "a"], outputs: ["m"]),
            Node(name: "out", opType: "Mul", inputs: ["m", "half"], outputs: ["y"]),
        ]
    case "mul":
        nodes += [
            Node(name: "m", opType: "Mul", inputs: ["a", "half"], outputs: ["m"]),
            Node(name: "out", opType: "Mul", inputs: ["x", "m"], outputs: ["y"]),
        ]
    default: // (x * 0.5) * (1 + erf(x / sqrt2))
        nodes += [
            Node(name: "h", opType: "Mul", inputs: ["x", "half"], outputs: ["h"]),
            Node(name: "out", opType: "Mul", inputs: ["a", "h"], outputs: ["y"]),
        ]
    }
    return nodes
}

private let xs: [Float] = (0..<64).map { Float($0) / 5 - 6.4 }

@Test(arguments: ["half_last", "mul", "half_first"])
func geluFusionMakesOneNode(form: String) throws {
    let model = makeModel(
        erfGelu(form), inputs: [tensorInfo("x", .float32, [d(64)])], outputs: ["y"], initializers: geluConstants, opset: 13)
    var fused = model
    #expect(try GeluFusion().run(on: &fused))
    _ = try DeadCodeElimination().run(on: &fused)
    #expect(fused.graph.nodes.map(\.opType) == ["Gelu"])
    #expect(fused.graph.nodes[0].canonicalDomain == OpDomain.microsoft && fused.graph.nodes[0].inputs == ["x"])
    #expect(fused.opsetVersion(for: OpDomain.microsoft) == 1)
    // The session at its default level runs the fusion; the value is the exact GELU.
    let session = try InferenceSession(model: model)
    #expect(session.model.graph.nodes.map(\.opType) == ["Gelu"])
    let y = try #require(session.run(feeds: ["x": .tensor(Tensor(dtype: .float32, shape: [64], values: xs))])[0].tensor)
    for (v, got) in zip(xs, y.values(as: Float.self)) {
        let want = 0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot()))
        #expect(abs(Double(got) - want) <= 4e-7 * max(1, abs(want)), "x = \(v)")
    }
}

@Test func geluFusionKeepsSharedIntermediates() throws {
    // 1 + erf is read again: removing its producer would lose it.
    var nodes = erfGelu("half_last")
    nodes.append(Node(name: "other", opType: "Neg", inputs: ["a"], outputs: ["z"]))
    var model = makeModel(
        nodes, inputs: [tensorInfo("x", .float32, [d(8)])], outputs: ["y", "z"], initializers: geluConstants)
    #expect(try !GeluFusion().run(on: &model))
    #expect(count("Erf", in: model) == 1)
}

@Test func geluFusionChecksTheConstants() throws {
    for (name, value) in [("sqrt2", Float(1.5)), ("one", 1.001), ("half", 0.49)] {
        let constants = geluConstants.map { $0.name == name ? Tensor(name: name, dtype: .float32, shape: [], values: [value]) : $0 }
        var model = makeModel(
            erfGelu("half_last"), inputs: [tensorInfo("x", .float32, [d(8)])], outputs: ["y"], initializers: constants)
        #expect(try !GeluFusion().run(on: &model), "\(name) = \(value)")
    }
}
