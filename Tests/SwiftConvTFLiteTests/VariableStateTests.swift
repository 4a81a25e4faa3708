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
