import Foundation
import SwiftConvIR

@testable import SwiftConvEngine

/// Deterministic values in [-1, 1) (a linear congruential generator), so every test sees the
/// same data without a random seed.
func tfliteTestValues(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return (0..<count).map { _ in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(s >> 40) - (1 << 23)) / Float(1 << 23)
    }
}

/// A float32 tensor of `shape` filled with `tfliteTestValues`.
func tfliteRandom(_ shape: [Int], seed: UInt64, name: String = "") -> Tensor {
    Tensor(name: name, dtype: .float32, shape: shape, values: tfliteTestValues(shape.reduce(1, *), seed: seed))
}

/// A one-node `tflite` model: `inputs` are fed, `constants` become initializers.
func tfliteModel(
    _ op: String, inputs: [(String, Tensor)], constants: [Tensor] = [], nodeInputs: [String], outputs: [String] = ["y"],
    attributes: [Attribute] = []
) -> Model {
    var g = Graph(name: "g")
    g.inputs = inputs.map { ValueInfo(name: $0.0, type: .tensor(elementType: $0.1.dtype, shape: $0.1.shape.map { .known($0) })) }
    g.outputs = outputs.map { ValueInfo(name: $0, type: nil) }
    g.initializers = constants
    g.nodes = [Node(name: outputs[0], opType: op, domain: OpDomain.tflite, inputs: nodeInputs, outputs: outputs, attributes: attributes)]
    return Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
}

/// Runs a `tflite` model on `feeds` and returns its first output as a float32 tensor.
func runTFLite(_ model: Model, _ feeds: [(String, Tensor)]) throws -> Tensor {
    let session = try InferenceSession(model: model)
    var f: [String: Value] = [:]
    for (k, v) in feeds { f[k] = .tensor(v) }
    guard let t = try session.run(feeds: f)[0].tensor else { throw SwiftConvError.validation("no tensor output") }
    return t
}

/// Largest |a - b| relative to max(1, |b|), and whether the shapes agree.
func tfliteMaxError(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var e: Float = 0
    for (x, y) in zip(a, b) { e = max(e, abs(x - y) / max(1, abs(y))) }
    return e
}

/// String / int / float attributes in the importer's representation.
func tfl(_ name: String, _ v: String) -> Attribute { Attribute(name: name, value: .string(Array(v.utf8))) }
func tfl(_ name: String, _ v: Int) -> Attribute { Attribute(name: name, value: .int(Int64(v))) }
func tfl(_ name: String, _ v: Float) -> Attribute { Attribute(name: name, value: .float(v)) }

/// TFLite's fused activation, written out for the references.
func tfliteActivate(_ v: Float, _ act: String) -> Float {
    switch act {
    case "RELU": return max(0, v)
    case "RELU6": return min(max(0, v), 6)
    case "RELU_N1_TO_1": return min(max(-1, v), 1)
    case "TANH": return tanhf(v)
    default: return v
    }
}
