import SwiftConvIR
import SwiftConvTFLite
import Testing

/// A variable tensor without data starts as LiteRT's `ResetVariableTensor` leaves it: an int8
/// tensor holds its zero point in every element (real 0), any other type zeros. The int8 LSTM
/// fixture's output state has zero point 16 and its int16 cell state zero point 0 (LiteRT's
/// `get_tensor` after `allocate_tensors` shows [16 × 6] and [0 × 6]).
@Test func variableTensorsStartAtTheirZeroPoint() throws {
    let path = FixtureFiles.repositoryRoot + "/tests/fixtures/tflite/ops/lstm_sequences_int8.tflite"
    let bytes = try FixtureFiles.read(path)
    let model = try bytes.withUnsafeBytes { try TFLiteImporter.load(bytes: $0, owner: Box(bytes)) }
    guard let lstm = model.graph.nodes.first(where: { $0.opType == "UNIDIRECTIONAL_SEQUENCE_LSTM" }), lstm.inputs.count > 19 else {
        Issue.record("no LSTM node in \(path)")
        return
    }
    let states = [lstm.inputs[18], lstm.inputs[19]].map { name in model.graph.initializers.first { $0.name == name } }
    guard let h = states[0], let c = states[1] else {
        Issue.record("the LSTM states have no initial value")
        return
    }
    #expect(h.dtype == .int8 && h.shape == [1, 6])
    #expect(h.values(as: Int8.self) == [Int8](repeating: 16, count: 6))
    #expect(c.dtype == .int16 && c.values(as: Int16.self) == [Int16](repeating: 0, count: 6))
}

/// What a converter hands the exporter for an LSTM: states computed by FILL (zeros of the run's
/// batch) and an initializer marked variable, neither with value_info metadata. LiteRT takes an
/// LSTM's states only as variable tensors, so both are written with is_variable; the importer
/// then gives the FILL-written one no initial value and the other its zeros.
@Test func lstmStateInputsAreWrittenAsVariables() throws {
    func f32(_ name: String, _ shape: [Int]) -> SwiftConvIR.Tensor {
        SwiftConvIR.Tensor(name: name, dtype: .float32, shape: shape, values: [Float](repeating: 0.5, count: shape.reduce(1, *)))
    }
    let units = 2, depth = 3
    var g = Graph(name: "main")
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: [.known(4), .known(1), .known(depth)]))]
    g.outputs = [ValueInfo(name: "y", type: .tensor(elementType: .float32, shape: [.known(4), .known(1), .known(units)]))]
    g.valueInfo = [ValueInfo(name: "h0", type: .tensor(elementType: .float32, shape: [.known(1), .known(units)]))]
    var c0 = SwiftConvIR.Tensor(name: "c0", dtype: .float32, shape: [1, units], values: [Float](repeating: 0, count: units))
    c0.metadata = [MetadataEntry(TFLiteKeys.isVariable, "1")]
    g.initializers = (1...8).map { f32("w\($0)", $0 <= 4 ? [units, depth] : [units, units]) } + (12...15).map { f32("b\($0)", [units]) }
    g.initializers += [
        SwiftConvIR.Tensor(name: "dims", dtype: .int32, shape: [2], values: [Int32(1), Int32(units)]),
        SwiftConvIR.Tensor(name: "zero", dtype: .float32, shape: [], values: [Float(0)]), c0,
    ]
    let inputs =
        ["x"] + (1...8).map { "w\($0)" } + ["", "", ""] + (12...15).map { "b\($0)" } + ["", "", "h0", "c0", "", "", "", ""]
    g.nodes = [
        Node(name: "fill", opType: "FILL", domain: OpDomain.tflite, inputs: ["dims", "zero"], outputs: ["h0"]),
        Node(
            name: "lstm", opType: "UNIDIRECTIONAL_SEQUENCE_LSTM", domain: OpDomain.tflite, inputs: inputs, outputs: ["y"],
            attributes: [Attribute(name: "fused_activation_function", value: .string(Array("TANH".utf8)))]),
    ]
    let model = SwiftConvIR.Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
    let back = try TFLiteModelLoading.load(try TFLiteExporter.serialize(model))
    func isVariable(_ name: String) -> Bool {
        back.graph.valueInfo.contains { v in v.name == name && v.metadata.contains { $0.key == TFLiteKeys.isVariable && $0.value == "1" } }
    }
    #expect(isVariable("h0") && isVariable("c0"))
    #expect(!isVariable("x") && !isVariable("w1") && !isVariable("b12"))
    // Written by FILL: no initial value of its own. Not written: zeros at the start of a run.
    #expect(back.graph.initializer(named: "h0") == nil)
    #expect(back.graph.initializer(named: "c0")?.values(as: Float.self) == [0, 0])
}
