import SwiftConvIR
import Testing

@testable import SwiftConvEngine

/// y = Relu(x) with x [2, 3] and y declared with the given type.
private func reluModel(declaring output: ValueType?) -> Model {
    var g = Graph(name: "relu")
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: [.known(2), .known(3)]))]
    g.outputs = [ValueInfo(name: "y", type: output)]
    g.nodes = [Node(name: "act", opType: "Relu", inputs: ["x"], outputs: ["y"])]
    return Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)])
}

@Test func outputInfoFillsUnknownDimsAndRanksFromInference() throws {
    let partly = try InferenceSession(model: reluModel(declaring: .tensor(elementType: .float32, shape: [.unknown, .known(3)])))
    #expect(partly.outputInfo[0].type == .tensor(elementType: .float32, shape: [.known(2), .known(3)]))
    let rankless = try InferenceSession(model: reluModel(declaring: .tensor(elementType: .float32, shape: nil)))
    #expect(rankless.outputInfo[0].type == .tensor(elementType: .float32, shape: [.known(2), .known(3)]))
    // A declared symbolic dim stays as the model names it.
    let named = try InferenceSession(model: reluModel(declaring: .tensor(elementType: .float32, shape: [.symbolic("n"), .unknown])))
    #expect(named.outputInfo[0].type == .tensor(elementType: .float32, shape: [.symbolic("n"), .known(3)]))
}

@Test func anEmptySequenceFeedTakesItsElementTypeFromTheDeclaredInput() throws {
    var g = Graph(name: "length")
    let element = ValueType.tensor(elementType: .float32, shape: nil)
    g.inputs = [ValueInfo(name: "s", type: .sequence(element))]
    g.outputs = [ValueInfo(name: "n", type: .tensor(elementType: .int64, shape: []))]
    g.nodes = [Node(name: "len", opType: "SequenceLength", inputs: ["s"], outputs: ["n"])]
    let session = try InferenceSession(model: Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)]))
    let out = try session.run(feeds: ["s": .sequence([], elementType: nil)])
    #expect(out[0].tensor?.int64Values() == [0])
    guard case .sequence(_, let type) = InferenceSession.typed(.sequence([], elementType: nil), as: .sequence(element)) else {
        Issue.record("expected a sequence")
        return
    }
    #expect(type == element)
}

@Test func anEmptyOptionalFeedTakesItsTypeFromTheDeclaredInput() {
    let inner = ValueType.tensor(elementType: .int64, shape: [.known(1)])
    guard case .none(let type) = InferenceSession.typed(.none(nil), as: .optional(inner)) else {
        Issue.record("expected an empty optional")
        return
    }
    #expect(type == inner)
}
