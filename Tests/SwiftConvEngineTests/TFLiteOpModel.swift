import SwiftConvIR
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

/// One `tflite`-domain node in a `.tflite` model, every input fed at run time (or given as
/// an initializer when listed in `constants`), run through a session; returns the outputs.
/// `quantization` is by input position, `outputQuantization` by output position (a quantized
/// output takes input 0's element type).
func runTFLite(
    _ op: String, _ inputs: [Tensor], constants: Set<Int> = [], attributes: [Attribute] = [], outputs: Int = 1,
    quantization: [Int: QuantParams] = [:], outputQuantization: [Int: QuantParams] = [:]
) throws -> [Tensor] {
    var g = Graph(name: op)
    var names: [String] = []
    var feeds: [String: Value] = [:]
    for (i, t) in inputs.enumerated() {
        let name = "in\(i)"
        names.append(name)
        if constants.contains(i) {
            var c = t
            c.name = name
            g.initializers.append(c)
        } else {
            let type = ValueType.tensor(elementType: t.dtype, shape: t.shape.map { .known($0) }, quantization: quantization[i])
            g.inputs.append(ValueInfo(name: name, type: type))
            feeds[name] = .tensor(t)
        }
    }
    let outs = (0..<outputs).map { "out\($0)" }
    g.outputs = outs.enumerated().map { k, name in
        guard let q = outputQuantization[k], let first = inputs.first else { return ValueInfo(name: name, type: nil) }
        return ValueInfo(name: name, type: .tensor(elementType: first.dtype, shape: nil, quantization: q))
    }
    g.nodes = [Node(name: outs[0], opType: op, domain: OpDomain.tflite, inputs: names, outputs: outs, attributes: attributes)]
    let model = Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
    let session = try InferenceSession(model: model)
    return try session.run(feeds: feeds).map { v in
        guard let t = v.tensor else { throw SwiftConvError.validation("output is not a tensor") }
        return t
    }
}

/// `runTFLite` for a one-output op.
func runTFLite1(
    _ op: String, _ inputs: [Tensor], constants: Set<Int> = [], attributes: [Attribute] = [],
    quantization: [Int: QuantParams] = [:], outputQuantization: [Int: QuantParams] = [:]
) throws -> Tensor {
    try runTFLite(
        op, inputs, constants: constants, attributes: attributes, quantization: quantization,
        outputQuantization: outputQuantization)[0]
}

func floats(_ v: [Float], _ shape: [Int]? = nil) -> Tensor { Tensor.from(v, shape: shape) }
func int32s(_ v: [Int32], _ shape: [Int]? = nil) -> Tensor { Tensor.from(v, shape: shape) }
func bools(_ v: [Bool], _ shape: [Int]? = nil) -> Tensor { Tensor(dtype: .bool, shape: shape ?? [v.count], values: v) }

/// Whether `a` and `b` agree within `tolerance` element by element.
func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
}
