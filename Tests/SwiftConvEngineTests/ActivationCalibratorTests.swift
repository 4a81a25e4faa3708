import SwiftConvIR
import SwiftConvPasses
import Testing

@testable import SwiftConvEngine

/// x [2] -> RELU -> r -> ADD(r, r) -> y: ranges worked out by hand from the fed samples.
private func reluDoubleModel() -> Model {
    var g = Graph(name: "main")
    let type = ValueType.tensor(elementType: .float32, shape: [.known(2)])
    g.inputs = [ValueInfo(name: "x", type: type)]
    g.outputs = [ValueInfo(name: "y", type: type)]
    g.valueInfo = [ValueInfo(name: "r", type: type)]
    g.nodes = [
        Node(name: "r", opType: "RELU", domain: OpDomain.tflite, inputs: ["x"], outputs: ["r"]),
        Node(name: "y", opType: "ADD", domain: OpDomain.tflite, inputs: ["r", "r"], outputs: ["y"]),
    ]
    return Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
}

@Test func calibratorRecordsEveryActivationRange() throws {
    let calibrator = try ActivationCalibrator(model: reluDoubleModel(), options: TFLiteQuantizationOptions(mode: .int8))
    for sample: [Float] in [[-1, 2], [3, -4]] {
        try calibrator.feed(["x": .tensor(Tensor(name: "x", dtype: .float32, shape: [2], values: sample))])
    }
    #expect(calibrator.sampleCount == 2)
    #expect(calibrator.ranges["x"]! == (-4, 3))
    #expect(calibrator.ranges["r"]! == (0, 3))
    #expect(calibrator.ranges["y"]! == (0, 6))
    let q = try calibrator.quantizedModel()
    #expect(q.graph.nodes.map(\.opType) == ["QUANTIZE", "RELU", "ADD", "DEQUANTIZE"])
    let y = try #require((q.graph.valueInfo + q.graph.outputs).first { $0.name == q.graph.nodes[2].outputs[0] }?.type?.quantization)
    #expect(y.scale == [Float(6) / 255] && y.zeroPoint == [-128])
}

@Test func calibratorNeedsSamplesAndEveryInput() throws {
    let calibrator = try ActivationCalibrator(model: reluDoubleModel(), options: TFLiteQuantizationOptions(mode: .int8))
    #expect(throws: SwiftConvError.self) { try calibrator.quantizedModel() }
    #expect(throws: SwiftConvError.self) { try calibrator.feed([:]) }
    #expect(throws: SwiftConvError.self) {
        try ActivationCalibrator(model: reluDoubleModel(), options: TFLiteQuantizationOptions(mode: .dynamic))
    }
}
