import SwiftConvIR
import Testing

@testable import SwiftConvONNX

#if canImport(Glibc)
    import Glibc
#endif

/// A two-node model with one large initializer (kept in place) and one small one (copied).
func sampleModel() -> Model {
    let big = Tensor(name: "W", dtype: .float32, shape: [64, 32], values: (0..<(64 * 32)).map { Float($0) * 0.5 })
    let small = Tensor(name: "b", dtype: .int64, shape: [2], values: [Int64(7), -3])
    var g = Graph(name: "g")
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: [.symbolic("batch"), .known(64)]))]
    g.outputs = [ValueInfo(name: "y", type: .tensor(elementType: .float32, shape: [.symbolic("batch"), .unknown]))]
    g.initializers = [big, small]
    var mm = Node(name: "mm", opType: "MatMul", inputs: ["x", "W"], outputs: ["h"])
    mm.docString = "matmul"
    let relu = Node(
        name: "act", opType: "LeakyRelu", inputs: ["h"], outputs: ["y"],
        attributes: [Attribute(name: "alpha", value: .float(0.25))])
    g.nodes = [mm, relu]
    var m = Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)])
    m.irVersion = 8
    m.producerName = "swiftconv-tests"
    m.metadata = [MetadataEntry("k", "v")]
    return m
}

final class Box {}

@Test func roundTripKeepsGraph() throws {
    let bytes = try ONNXWriter.serialize(sampleModel())
    let m = try bytes.withUnsafeBytes { try ONNXReader.load(bytes: $0, owner: Box(), baseDirectory: nil) }
    #expect(m.irVersion == 8)
    #expect(m.opsetVersion(for: "") == 17)
    #expect(m.graph.nodes.map(\.opType) == ["MatMul", "LeakyRelu"])
    #expect(m.graph.nodes[1].attribute("alpha")?.float == 0.25)
    #expect(m.graph.nodes[0].docString == "matmul")
    #expect(m.graph.inputs[0].type == .tensor(elementType: .float32, shape: [.symbolic("batch"), .known(64)]))
    #expect(m.graph.outputs[0].type?.tensorShape == [.symbolic("batch"), .unknown])
    #expect(m.graph.initializers[0].values(as: Float.self)[5] == 2.5)
    #expect(m.graph.initializers[1].int64Values() == [7, -3])
    #expect(m.metadata == [MetadataEntry("k", "v")])
    // Serializing again gives the same bytes.
    #expect(try ONNXWriter.serialize(m) == bytes)
}

@Test func largeRawDataPointsIntoTheSourceBuffer() throws {
    let bytes = try ONNXWriter.serialize(sampleModel())
    try bytes.withUnsafeBytes { buf in
        let m = try ONNXReader.load(bytes: buf, owner: Box(), baseDirectory: nil)
        let w = m.graph.initializers[0].storage.bytes
        let start = buf.baseAddress!
        #expect(w.baseAddress! >= start && w.baseAddress! + w.count <= start + buf.count)
        // The small initializer is below the in-place threshold and is copied.
        #expect(m.graph.initializers[1].storage.isOwned)
    }
}

@Test func truncatedAndGarbageBytesAreFormatErrors() throws {
    let bytes = try ONNXWriter.serialize(sampleModel())
    for cut in [1, 7, bytes.count / 2, bytes.count - 1] {
        let part = Array(bytes[0..<cut])
        #expect(throws: SwiftConvError.self) {
            try part.withUnsafeBytes { try ONNXReader.load(bytes: $0, owner: Box(), baseDirectory: nil) }
        }
    }
    let text = Array("hello, this is not a model".utf8)
    #expect(throws: SwiftConvError.self) {
        try text.withUnsafeBytes { try ONNXReader.load(bytes: $0, owner: Box(), baseDirectory: nil) }
    }
}

@Test func rawDataOfTheWrongSizeIsRejected() throws {
    var m = sampleModel()
    m.graph.initializers[0].shape = [64, 33]
    let bytes = try ONNXWriter.serialize(m)
    #expect(throws: SwiftConvError.self) {
        try bytes.withUnsafeBytes { try ONNXReader.load(bytes: $0, owner: Box(), baseDirectory: nil) }
    }
}

@Test func typedFieldPackingIsLSBFirst() {
    #expect(TypedFieldData.packBits([0x3F, 0x01], width: 6) == [0x7F, 0x00])
    #expect(TypedFieldData.packBits([1, 2, 3], width: 4) == [0x21, 0x03])
}
