import SwiftConvIR
import SwiftConvPasses
import Testing

@testable import SwiftConvEngine

/// x [2] -> Relu -> r -> Add(r, r) -> y, in ONNX: ranges and QDQ parameters worked out by hand.
private func onnxReluDoubleModel() -> Model {
    var g = Graph(name: "main")
    let type = ValueType.tensor(elementType: .float32, shape: [.known(2)])
    g.inputs = [ValueInfo(name: "x", type: type)]
    g.outputs = [ValueInfo(name: "y", type: type)]
    g.nodes = [
        Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["r"]),
        Node(name: "add", opType: "Add", inputs: ["r", "r"], outputs: ["y"]),
    ]
    return Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)])
}

@Test func onnxCalibrationGivesQDQPairsFromTheRanges() throws {
    let calibrator = try ActivationCalibrator(model: onnxReluDoubleModel(), options: TFLiteQuantizationOptions(mode: .int8))
    for sample: [Float] in [[-1, 2], [3, -4]] {
        try calibrator.feed(["x": .tensor(Tensor(name: "x", dtype: .float32, shape: [2], values: sample))])
    }
    #expect(calibrator.ranges["r"]! == (0, 3))
    #expect(calibrator.ranges["y"]! == (0, 6))
    let q = try calibrator.quantizedModel()
    #expect(
        q.graph.nodes.map(\.opType) == [
            "QuantizeLinear", "DequantizeLinear", "Relu", "QuantizeLinear", "DequantizeLinear", "Add", "QuantizeLinear",
            "DequantizeLinear",
        ])
    // The graph output keeps its name: it is the last DequantizeLinear's.
    #expect(q.graph.nodes.last?.outputs == ["y"])
    let scale = try #require(q.graph.initializer(named: q.graph.nodes.last!.inputs[1]))
    let zero = try #require(q.graph.initializer(named: q.graph.nodes.last!.inputs[2]))
    #expect(scale.values(as: Float.self) == [Float(6) / 255] && zero.values(as: Int8.self) == [-128])
    let session = try InferenceSession(model: q)
    let out = try session.run(feeds: ["x": .tensor(Tensor(name: "x", dtype: .float32, shape: [2], values: [Float(1.5), -2]))])
    let y = try #require(out[0].tensor).values(as: Float.self)
    #expect(abs(y[0] - 3) <= Float(6) / 255 && y[1] == 0)
}

@Test func onnxQuantizationRefusesQuantizedModelsAndOtherInterfaceTypes() throws {
    var options = TFLiteQuantizationOptions(mode: .dynamic)
    let once = try PostTrainingQuantizer.quantize(onnxReluDoubleModel(), options: TFLiteQuantizationOptions(mode: .float16), ranges: nil)
    var ranges = ActivationRanges()
    ranges.record("x", min: -1, max: 1)
    let int8 = try PostTrainingQuantizer.quantize(onnxReluDoubleModel(), options: TFLiteQuantizationOptions(mode: .int8), ranges: ranges)
    #expect(throws: SwiftConvError.self) { try PostTrainingQuantizer.quantize(int8, options: options, ranges: nil) }
    #expect(once.opsetImports.first?.version == 17)
    options = TFLiteQuantizationOptions(mode: .int8)
    options.inputType = .int8
    #expect(throws: SwiftConvError.self) { try PostTrainingQuantizer.quantize(onnxReluDoubleModel(), options: options, ranges: ranges) }
}
