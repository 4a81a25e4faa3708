import SwiftConvIR
import Testing

@testable import SwiftConvPasses

// The TFLite quantizer on a hand-made model, with expected numbers worked out by hand
// (LiteRT and TFLiteConverter's files are the oracles in tests/test_quantize_tflite.py).

/// x [1, 40] -> FULLY_CONNECTED(w [32, 40], b [32]) -> y [1, 32]; row r of w is (r + 1) * 0.005
/// at column 0 and -(r + 1) * 0.02 at column 1, zero elsewhere (so row r's max |w| is (r + 1) * 0.02).
private func fullyConnectedModel() -> Model {
    let (units, depth) = (32, 40)
    var w = [Float](repeating: 0, count: units * depth)
    for r in 0..<units {
        w[r * depth] = Float(r + 1) * 0.005
        w[r * depth + 1] = -Float(r + 1) * 0.02
    }
    var g = Graph(name: "main")
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: [.known(1), .known(depth)]))]
    g.outputs = [ValueInfo(name: "y", type: .tensor(elementType: .float32, shape: [.known(1), .known(units)]))]
    g.initializers = [
        Tensor(name: "w", dtype: .float32, shape: [units, depth], values: w),
        Tensor(name: "b", dtype: .float32, shape: [units], values: (0..<units).map { Float($0) * 0.5 }),
    ]
    g.valueInfo = g.initializers.map { ValueInfo(name: $0.name, type: .tensor(elementType: .float32, shape: Shape($0.shape))) }
    var fc = Node(name: "fc", opType: "FULLY_CONNECTED", domain: OpDomain.tflite, inputs: ["x", "w", "b"], outputs: ["y"])
    fc.metadata = [MetadataEntry("tflite.version", "1")]
    g.nodes = [fc]
    return Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
}

private func version(_ n: Node) -> String? { n.metadata.first { $0.key == "tflite.version" }?.value }

@Test func dynamicQuantizesFullyConnectedWeightsPerChannel() throws {
    let q = try TFLiteQuantizer.quantize(fullyConnectedModel(), mode: .dynamic, ranges: nil)
    let w = try #require(q.graph.initializers.first { $0.name == "w" })
    #expect(w.dtype == .int8)
    let params = try #require(w.quantization)
    #expect(params.axis == 0)
    #expect(params.scale[5] == Float(6) * 0.02 / 127)
    // Row 5: 0.03 / (0.12 / 127) = 31.75 rounds to 32; -0.12 to -127.
    #expect(Array(w.values(as: Int8.self)[(5 * 40)..<(5 * 40 + 2)]) == [32, -127])
    #expect(q.graph.initializers.first { $0.name == "b" }?.dtype == .float32)
    let fc = q.graph.nodes[0]
    #expect(fc.attribute("asymmetric_quantize_inputs")?.int == 1)
    #expect(version(fc) == "12")
}

@Test func dynamicKeepsSmallWeightsFloat() throws {
    var model = fullyConnectedModel()
    model.graph.initializers[0] = Tensor(name: "w", dtype: .float32, shape: [32, 31], values: [Float](repeating: 1, count: 32 * 31))
    let q = try TFLiteQuantizer.quantize(model, mode: .dynamic, ranges: nil)
    #expect(q.graph.initializers.first { $0.name == "w" }?.dtype == .float32)
}

@Test func float16PutsConstantsBehindDequantize() throws {
    let q = try TFLiteQuantizer.quantize(fullyConnectedModel(), mode: .float16, ranges: nil)
    let dequantizes = q.graph.nodes.filter { $0.opType == "DEQUANTIZE" }
    #expect(Set(dequantizes.flatMap(\.outputs)) == ["w", "b"])
    #expect(dequantizes.allSatisfy { version($0) == "3" })
    #expect(q.graph.nodes.last?.opType == "FULLY_CONNECTED" && q.graph.nodes.last?.inputs == ["x", "w", "b"])
    let half = try #require(q.graph.initializers.first { $0.name == dequantizes.first { $0.outputs == ["b"] }?.inputs[0] })
    #expect(half.dtype == .float16)
    #expect(half.values(as: UInt16.self)[3] == Float16(1.5).bitPattern)
}

@Test func int8QuantizesActivationsBiasAndBoundary() throws {
    var ranges = ActivationRanges()
    ranges.record("x", min: -1, max: 1)
    ranges.record("y", min: 0, max: 25.5)
    let q = try TFLiteQuantizer.quantize(fullyConnectedModel(), mode: .int8, ranges: ranges)
    #expect(q.graph.nodes.map(\.opType) == ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"])
    // The interface keeps its names and float32 types.
    #expect(q.graph.inputs.map(\.name) == ["x"] && q.graph.outputs.map(\.name) == ["y"])
    #expect(q.graph.outputs[0].type?.tensorElementType == .float32)
    let fc = q.graph.nodes[1]
    #expect(version(fc) == "4")
    func type(_ name: String) -> ValueType? { (q.graph.valueInfo + q.graph.inputs + q.graph.outputs).first { $0.name == name }?.type }
    // x in [-1, 1]: scale 2/255, zero point round(-128 + 127.5) = -0.5 -> away from zero: -1.
    let xq = try #require(type(fc.inputs[0])?.quantization)
    #expect(xq.scale == [2.0 / 255] && xq.zeroPoint == [-1])
    // y in [0, 25.5]: scale 0.1, zero point -128.
    let yq = try #require(type(fc.outputs[0])?.quantization)
    #expect(yq.scale == [Float(25.5) / 255] && yq.zeroPoint == [-128])
    // Bias 3 * 0.5 = 1.5 with scale (2/255) * (4 * 0.02 / 127).
    let bias = try #require(q.graph.initializers.first { $0.name == fc.inputs[2] })
    #expect(bias.dtype == .int32 && bias.quantization?.axis == 0)
    let biasScale = Float(2.0 / 255) * (Float(4) * 0.02 / 127)
    #expect(bias.values(as: Int32.self)[3] == Int32((Double(1.5) / Double(biasScale)).rounded()))
}

@Test func int8LeavesMalformedWeightsFloat() throws {
    var model = fullyConnectedModel()
    // Weights with no channel (a malformed model) leave the op float instead of trapping.
    model.graph.initializers[0] = Tensor(name: "w", dtype: .float32, shape: [0, 40], values: [Float]())
    var ranges = ActivationRanges()
    ranges.record("x", min: -1, max: 1)
    ranges.record("y", min: 0, max: 1)
    let q = try TFLiteQuantizer.quantize(model, mode: .int8, ranges: ranges)
    #expect(q.graph.nodes.map(\.opType) == ["FULLY_CONNECTED"])
}

@Test func quantizingTwiceIsRefused() throws {
    let q = try TFLiteQuantizer.quantize(fullyConnectedModel(), mode: .dynamic, ranges: nil)
    #expect(throws: SwiftConvError.self) { try TFLiteQuantizer.quantize(q, mode: .float16, ranges: nil) }
    #expect(throws: SwiftConvError.self) { try TFLiteQuantizer.quantize(fullyConnectedModel(), mode: .int8, ranges: nil) }
}
