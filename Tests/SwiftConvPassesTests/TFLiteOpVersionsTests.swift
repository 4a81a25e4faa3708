import SwiftConvIR
import Testing

@testable import SwiftConvPasses

// Operator versions against the rules of TFLite's tools/versioning/op_version.cc (the
// expected numbers are that file's, for the types and options each case sets up).

private func tflite(_ op: String, _ inputs: [String], _ outputs: [String] = ["y"], _ attributes: [Attribute] = []) -> Node {
    Node(name: outputs[0], opType: op, domain: OpDomain.tflite, inputs: inputs, outputs: outputs, attributes: attributes)
}

private func info(_ name: String, _ t: DType, _ shape: [Int], _ q: QuantParams? = nil) -> ValueInfo {
    ValueInfo(name: name, type: .tensor(elementType: t, shape: Shape(shape), quantization: q))
}

private func version(_ n: Node) -> Int? { n.metadata.first { $0.key == "tflite.version" }.flatMap { Int($0.value) } }

/// The version `update` gives `node` in a graph declaring `values`.
private func versioned(_ node: Node, _ values: [ValueInfo]) -> Int? {
    var g = Graph(name: "main", nodes: [node])
    g.valueInfo = values
    TFLiteOpVersions.update(&g)
    return version(g.nodes[0])
}

@Test func floatOpsGetTheVersionsTheirOptionsNeed() {
    let f = [
        info("x", .float32, [1, 4, 4, 2]), info("w", .float32, [2, 2, 2, 2]), info("b", .float32, [2]), info("y", .float32, [1, 8, 8, 2]),
    ]
    // TRANSPOSE_CONV: a bias needs 3, a fused activation 4; neither, 1.
    #expect(versioned(tflite("TRANSPOSE_CONV", ["s", "w", "x", "b"]), f) == 3)
    #expect(versioned(tflite("TRANSPOSE_CONV", ["s", "w", "x", ""]), f) == 1)
    #expect(versioned(tflite("TRANSPOSE_CONV", ["s", "w", "x"], ["y"], [.string("fused_activation_function", "RELU")]), f) == 4)
    // BROADCAST_TO has no version 1.
    #expect(versioned(tflite("BROADCAST_TO", ["x", "s"]), f) == 2)
    #expect(versioned(tflite("CONV_2D", ["x", "w", "b"]), f) == 1)
    #expect(versioned(tflite("DEPTHWISE_CONV_2D", ["x", "w", "b"], ["y"], [.int("dilation_h_factor", 2)]), f) == 2)
    #expect(versioned(tflite("RESIZE_BILINEAR", ["x", "s"], ["y"], [.int("half_pixel_centers", 1)]), f) == 3)
    #expect(versioned(tflite("RESIZE_NEAREST_NEIGHBOR", ["x", "s"], ["y"], [.int("align_corners", 1)]), f) == 3)
    #expect(versioned(tflite("FULLY_CONNECTED", ["x", "w", ""], ["y"], [.int("keep_num_dims", 1)]), f) == 5)
    #expect(versioned(tflite("FULLY_CONNECTED", ["x", "w"]), f) == 6)
}

@Test func ranksAndTypesRaiseVersions() {
    let five = [info("x", .float32, [1, 2, 3, 4, 5]), info("z", .float32, [1, 1, 3, 4, 5]), info("y", .float32, [1, 2, 3, 4, 5])]
    #expect(versioned(tflite("TRANSPOSE", ["x", "p"]), five) == 4)
    #expect(versioned(tflite("SLICE", ["x", "b", "s"]), five) == 5)
    #expect(versioned(tflite("STRIDED_SLICE", ["x", "b", "e", "s"]), five) == 4)
    #expect(versioned(tflite("PAD", ["x", "p"]), five) == 4)
    // A broadcast of rank above 4 needs 3 for SUB, MAXIMUM, MINIMUM and 2 for DIV; same shapes, 1.
    #expect(versioned(tflite("SUB", ["x", "z"]), five) == 3)
    #expect(versioned(tflite("MAXIMUM", ["x", "z"]), five) == 3)
    #expect(versioned(tflite("DIV", ["x", "z"]), five) == 2)
    #expect(versioned(tflite("SUB", ["x", "x"]), five) == 1)
    let ints = [info("i", .int32, [4]), info("l", .int64, [4]), info("f", .float32, [4]), info("y", .float32, [4])]
    #expect(versioned(tflite("ABS", ["i"]), ints) == 5)
    #expect(versioned(tflite("SIGN", ["i"]), ints) == 2)
    #expect(versioned(tflite("ADD", ["l", "l"]), ints) == 4)
    #expect(versioned(tflite("MUL", ["l", "l"]), ints) == 5)
    #expect(versioned(tflite("RANGE", ["l", "l", "l"]), ints) == 2)
    #expect(versioned(tflite("SPLIT", ["a", "i"]), ints) == 3)
    #expect(versioned(tflite("CAST", ["i"], ["f"]), ints) == 1)
    let b = [info("x", .bool, [4]), info("y", .bool, [4])]
    #expect(versioned(tflite("GATHER", ["x", "i"]), b) == 3)
    #expect(versioned(tflite("TRANSPOSE", ["x", "p"]), b) == 3)
    #expect(versioned(tflite("FILL", ["s", "x"]), b) == 2)
}

@Test func quantizedOpsKeepTheirVersions() {
    let q = QuantParams(scale: 0.5, zeroPoint: 0, storageType: .int8)
    let perChannel = QuantParams(scale: [0.1, 0.2], zeroPoint: [0, 0], axis: 0, storageType: .int8)
    let int8 = [info("x", .int8, [1, 4, 4, 2], q), info("w", .int8, [2, 2, 2, 2], perChannel), info("y", .int8, [1, 4, 4, 2], q)]
    #expect(versioned(tflite("CONV_2D", ["x", "w", "b"]), int8) == 3)
    #expect(versioned(tflite("FULLY_CONNECTED", ["x", "w", "b"]), int8) == 4)
    #expect(versioned(tflite("DEQUANTIZE", ["w"], ["f"]), int8) == 5)
    // MUL with s1 * s2 / s_out >= 1: 0.5 * 0.5 / 0.25 = 1.
    let small = QuantParams(scale: 0.25, zeroPoint: 0, storageType: .int8)
    #expect(versioned(tflite("MUL", ["x", "x"], ["m"]), int8 + [info("m", .int8, [1, 4, 4, 2], small)]) == 3)
    #expect(versioned(tflite("MUL", ["x", "x"]), int8) == 2)
    let hybrid = [info("x", .float32, [1, 4]), info("w", .int8, [2, 4], perChannel), info("y", .float32, [1, 2])]
    #expect(versioned(tflite("FULLY_CONNECTED", ["x", "w", "b"]), hybrid) == 12)
}

@Test func oneOperatorCodePerOpAndNeverBelowTheFilesVersion() {
    var g = Graph(name: "main")
    var old = tflite("RESHAPE", ["x", "s"], ["r"])
    old.metadata = [MetadataEntry("tflite.version", "7")] // a version no rule here gives: kept
    g.nodes = [
        tflite("TRANSPOSE", ["x", "p"], ["t1"]), tflite("TRANSPOSE", ["v", "p"], ["t2"]), old,
    ]
    g.valueInfo = [info("x", .float32, [1, 2, 3, 4]), info("v", .float32, [1, 2, 3, 4, 5])]
    #expect(TFLiteOpVersions.update(&g))
    #expect(g.nodes.map(version) == [4, 4, 7])
    #expect(!TFLiteOpVersions.update(&g))
}

@Test func onnxToTFLiteWritesVersionsFromTheOneTable() throws {
    // ConvTranspose with a bias (TRANSPOSE_CONV 3) and an Expand (BROADCAST_TO 2).
    var g = Graph(name: "g")
    g.inputs = [info("x", .float32, [1, 2, 3, 3])]
    g.outputs = [ValueInfo(name: "y", type: nil), ValueInfo(name: "e", type: nil)]
    g.initializers = [
        Tensor(name: "w", dtype: .float32, shape: [2, 3, 2, 2], values: (0..<24).map { Float($0) / 24 }),
        Tensor(name: "b", dtype: .float32, shape: [3], values: [Float(0.1), 0.2, 0.3]),
        Tensor(name: "shape", dtype: .int64, shape: [4], values: [Int64(2), 2, 3, 3]),
    ]
    g.nodes = [
        Node(name: "deconv", opType: "ConvTranspose", inputs: ["x", "w", "b"], outputs: ["y"], attributes: [.ints("strides", [2, 2])]),
        Node(name: "expand", opType: "Expand", inputs: ["x", "shape"], outputs: ["e"]),
    ]
    var m = Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)])
    _ = try ONNXToTFLite.pipeline().run(on: &m)
    let versions = Dictionary(m.graph.nodes.map { ($0.opType, version($0)) }, uniquingKeysWith: { a, _ in a })
    #expect(versions["TRANSPOSE_CONV"] == 3)
    #expect(versions["BROADCAST_TO"] == 2)
    #expect(m.graph.nodes.allSatisfy { version($0) != nil })
}
