import SwiftConvIR
import Testing

@testable import SwiftConvPasses

// QDQImport on a hand-made QDQ graph, values worked out by hand (onnxruntime-made QDQ
// models against onnxruntime and LiteRT are in tests/test_onnx_to_tflite_qdq.py).

/// x -> Q/DQ (uint8, 0.5, 128) -> Conv(DQ(w int8, per channel)) -> Q/DQ (uint8, 0.25, 0) -> y
private func qdqConvModel() -> Model {
    var g = Graph(name: "main")
    let image: Shape = [.known(1), .known(1), .known(2), .known(2)]
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: image))]
    g.outputs = [ValueInfo(name: "y", type: .tensor(elementType: .float32, shape: [.known(1), .known(2), .known(2), .known(2)]))]
    g.initializers = [
        Tensor(name: "x_scale", dtype: .float32, shape: [], values: [Float(0.5)]),
        Tensor(name: "x_zp", dtype: .uint8, shape: [], values: [UInt8(128)]),
        Tensor(name: "w_q", dtype: .int8, shape: [2, 1, 1, 1], values: [Int8(3), Int8(-127)]),
        Tensor(name: "w_scale", dtype: .float32, shape: [2], values: [Float(0.1), Float(0.02)]),
        Tensor(name: "w_zp", dtype: .int8, shape: [2], values: [Int8(0), Int8(0)]),
        Tensor(name: "y_scale", dtype: .float32, shape: [1], values: [Float(0.25)]),
        Tensor(name: "y_zp", dtype: .uint8, shape: [], values: [UInt8(0)]),
    ]
    g.nodes = [
        Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "x_scale", "x_zp"], outputs: ["x_q"]),
        Node(name: "dqx", opType: "DequantizeLinear", inputs: ["x_q", "x_scale", "x_zp"], outputs: ["x_dq"]),
        Node(
            name: "dqw", opType: "DequantizeLinear", inputs: ["w_q", "w_scale", "w_zp"], outputs: ["w"],
            attributes: [Attribute(name: "axis", value: .int(0))]),
        Node(name: "conv", opType: "Conv", inputs: ["x_dq", "w"], outputs: ["c"]),
        Node(name: "qy", opType: "QuantizeLinear", inputs: ["c", "y_scale", "y_zp"], outputs: ["y_q"]),
        Node(name: "dqy", opType: "DequantizeLinear", inputs: ["y_q", "y_scale", "y_zp"], outputs: ["y"]),
    ]
    return Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 13)])
}

@Test func qdqImportRemovesPairsAndKeepsTheirParameters() throws {
    let source = qdqConvModel()
    #expect(QDQImport.isQDQ(source))
    let (model, fixed) = try QDQImport.split(source)
    #expect(!QDQImport.isQDQ(model))
    // uint8 parameters move to int8: zero point - 128, same scale.
    #expect(fixed.activations["x"] == QuantParams(scale: 0.5, zeroPoint: 0, storageType: .int8))
    // The output's pair clamps at 0 after a Conv: a Relu comes back and writes the output name.
    let relu = try #require(model.graph.nodes.first { $0.opType == "Relu" })
    #expect(relu.outputs == ["y"])
    #expect(fixed.activations["y"] == QuantParams(scale: 0.25, zeroPoint: -128, storageType: .int8))
    #expect(fixed.activations["c"] == fixed.activations["y"])
    let conv = try #require(model.graph.nodes.first { $0.opType == "Conv" })
    #expect(conv.inputs == ["x", "w"])
    let w = try #require(model.graph.initializers.first { $0.name == "w" })
    #expect(w.dtype == .float32)
    #expect(w.values(as: Float.self) == [Float(3) * 0.1, Float(-127) * 0.02])
}

@Test func qdqWeightsComeBackExactlyAfterALayoutChange() throws {
    let (model, fixed) = try QDQImport.split(qdqConvModel())
    let w = try #require(model.graph.initializers.first { $0.name == "w" })
    // OIHW [2, 1, 1, 1] -> OHWI is the same bytes; the channel axis stays 0.
    let q = try #require(fixed.exactInt8(w, axis: 0, symmetric: true, name: "w_int8"))
    #expect(q.values(as: Int8.self) == [3, -127])
    #expect(q.quantization == QuantParams(scale: [0.1, 0.02], zeroPoint: [0, 0], axis: 0, storageType: .int8))
    // Values that are not those of a source constant get no source parameters.
    let other = Tensor(name: "v", dtype: .float32, shape: [2, 1, 1, 1], values: [Float(0.31), Float(-2.54)])
    #expect(fixed.exactInt8(other, axis: 0, symmetric: true, name: "v_int8") == nil)
}

@Test func qdqPairWithUnusableScaleLeavesTheValueFloat() throws {
    var source = qdqConvModel()
    source.graph.initializers[0] = Tensor(name: "x_scale", dtype: .float32, shape: [], values: [Float.infinity])
    let (model, fixed) = try QDQImport.split(source)
    #expect(fixed.activations["x"] == nil)
    #expect(!model.graph.nodes.contains { $0.opType == "QuantizeLinear" && $0.inputs[0] == "x" })
}
