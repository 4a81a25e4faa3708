import SwiftConvIR
import Testing

@testable import SwiftConvEngine

/// y = x + b with b broadcast over the rows; x is a graph input, b an initializer.
func addModel() -> Model {
    var g = Graph(name: "add")
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: [.symbolic("n"), .known(3)]))]
    g.outputs = [ValueInfo(name: "y", type: .tensor(elementType: .float32, shape: [.symbolic("n"), .known(3)]))]
    g.initializers = [Tensor(name: "b", dtype: .float32, shape: [3], values: [Float(10), 20, 30])]
    g.nodes = [Node(name: "add", opType: "Add", inputs: ["x", "b"], outputs: ["y"])]
    return Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)])
}

@Test func broadcastAddComputesRowWise() throws {
    let session = try InferenceSession(model: addModel())
    let x = Tensor(dtype: .float32, shape: [2, 3], values: [Float(1), 2, 3, 4, 5, 6])
    let out = try session.run(feeds: ["x": .tensor(x)])
    #expect(out[0].tensor?.shape == [2, 3])
    #expect(out[0].tensor?.values(as: Float.self) == [11, 22, 33, 14, 25, 36])
}

@Test func feedsAreCheckedLikeOnnxRuntime() throws {
    let session = try InferenceSession(model: addModel())
    let wrongType = Tensor(dtype: .float64, shape: [1, 3], values: [Double(1), 2, 3])
    #expect(throws: SwiftConvError.self) { try session.run(feeds: ["x": .tensor(wrongType)]) }
    let wrongDim = Tensor(dtype: .float32, shape: [1, 4], values: [Float(1), 2, 3, 4])
    #expect(throws: SwiftConvError.self) { try session.run(feeds: ["x": .tensor(wrongDim)]) }
    #expect(throws: SwiftConvError.self) { try session.run(feeds: [:]) }
    #expect(throws: SwiftConvError.self) { try session.run(feeds: ["nope": .tensor(wrongDim)]) }
}

@Test func unknownOpFailsAtCreationNamingTheNode() throws {
    var m = addModel()
    m.graph.nodes[0].opType = "NoSuchOp"
    do {
        _ = try InferenceSession(model: m)
        Issue.record("expected unsupportedOp")
    } catch let e as SwiftConvError where e.kind == .unsupportedOp {
        #expect(e.description.contains("NoSuchOp") && e.description.contains("'add'") && e.description.contains("opset 17"))
        #expect(e.node == SwiftConvError.NodeContext(name: "add", opType: "NoSuchOp"))
    }
}

@Test func broadcastShapesFollowNumpy() throws {
    #expect(try broadcastShapes([2, 1, 3], [4, 1]) == [2, 4, 3])
    #expect(throws: SwiftConvError.self) { try broadcastShapes([2, 3], [4]) }
}

@Test func misalignedWeightsAreCopiedOnceForKernels() throws {
    // A weight that starts one byte into a buffer, as raw_data inside a model file can.
    let raw = [UInt8](repeating: 0, count: 1) + [Float(10), 20, 30].withUnsafeBytes { Array($0) }
    let holder = TensorStorage(copying: raw.withUnsafeBytes { $0 })
    let shifted = UnsafeRawBufferPointer(rebasing: holder.bytes[1...])
    let weight = Tensor(name: "b", dtype: .float32, shape: [3], storage: TensorStorage(borrowing: shifted, owner: holder))
    #expect(Int(bitPattern: weight.storage.bytes.baseAddress!) % TensorStorage.alignment != 0)
    let aligned = weight.alignedForKernels()
    #expect(Int(bitPattern: aligned.storage.bytes.baseAddress!) % TensorStorage.alignment == 0)
    #expect(aligned.values(as: Float.self) == [10, 20, 30])
    var m = addModel()
    m.graph.initializers = [weight]
    let x = Tensor(dtype: .float32, shape: [1, 3], values: [Float(1), 2, 3])
    let out = try InferenceSession(model: m).run(feeds: ["x": .tensor(x)])
    #expect(out[0].tensor?.values(as: Float.self) == [11, 22, 33])
}

/// x -> Conv(w, b) -> Clip(0, 6) -> y, with Clip's bounds from Constant nodes (as torch exports).
func convClipModel(extraReader: Bool = false) -> Model {
    var g = Graph(name: "conv_clip")
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: [.known(1), .known(2), .known(4), .known(4)]))]
    g.outputs = [ValueInfo(name: "y", type: nil)]
    g.initializers = [
        Tensor(name: "w", dtype: .float32, shape: [3, 2, 1, 1], values: [Float(1), -1, 2, 0.5, -3, 1]),
        Tensor(name: "b", dtype: .float32, shape: [3], values: [Float(0.5), -0.5, 1]),
    ]
    g.nodes = [
        Node(
            name: "lo", opType: "Constant", inputs: [], outputs: ["lo"],
            attributes: [Attribute(name: "value", value: .tensor(Tensor(name: "", dtype: .float32, shape: [], values: [Float(0)])))]),
        Node(
            name: "hi", opType: "Constant", inputs: [], outputs: ["hi"],
            attributes: [Attribute(name: "value", value: .tensor(Tensor(name: "", dtype: .float32, shape: [], values: [Float(6)])))]),
        Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"]),
        Node(name: "clip", opType: "Clip", inputs: ["c", "lo", "hi"], outputs: ["y"]),
    ]
    if extraReader {
        g.nodes.append(Node(name: "neg", opType: "Neg", inputs: ["c"], outputs: ["z"]))
        g.outputs.append(ValueInfo(name: "z", type: nil))
    }
    return Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)])
}

@Test func convClipIsFusedAtExtendedOptimization() throws {
    let x = Tensor(dtype: .float32, shape: [1, 2, 4, 4], values: (0..<32).map { Float($0 % 7) - 3 })
    var results: [[Float]] = []
    for level in [GraphOptimizationLevel.disableAll, .basic, .extended, .all] {
        var options = SessionOptions()
        options.graphOptimizationLevel = level
        let session = try InferenceSession(model: convClipModel(), options: options)
        let ops = session.model.graph.nodes.map(\.opType)
        if level.rawValue >= GraphOptimizationLevel.extended.rawValue {
            // The Clip and its now unread Constant bounds are gone.
            #expect(ops == ["FusedConv"])
        } else if level == .basic {
            // Basic folds the Constant bounds into initializers (the session's shape folding).
            #expect(ops == ["Conv", "Clip"])
        } else {
            #expect(ops == ["Constant", "Constant", "Conv", "Clip"])
        }
        let out = try session.run(feeds: ["x": .tensor(x)])
        results.append(try #require(out[0].tensor?.values(as: Float.self)))
    }
    #expect(results.allSatisfy { $0 == results[0] })
    #expect(results[0].contains(0) && results[0].contains(6))
}

@Test func convWithAnotherReaderIsNotFused() throws {
    let session = try InferenceSession(model: convClipModel(extraReader: true))
    #expect(session.model.graph.nodes.map(\.opType).contains("Conv"))
    #expect(!session.model.graph.nodes.map(\.opType).contains("FusedConv"))
}

@Test func invalidGraphFailsAtCreationNamingTheNode() throws {
    var m = addModel()
    m.graph.nodes.append(Node(name: "again", opType: "Relu", inputs: ["x"], outputs: ["y"]))
    do {
        _ = try InferenceSession(model: m)
        Issue.record("expected validation")
    } catch let e as SwiftConvError where e.kind == .validation {
        #expect(e.description.hasPrefix("node 'again' (Relu): output 'y' is already produced by node 'add' (Add)"))
        #expect(e.node?.name == "again" && e.node?.opType == "Relu")
    }
}

@Test func kernelFailureNamesItsNodeAndKind() throws {
    // A Pad of strings with a constant has no implementation: unsupportedOp, not invalidArgument.
    var g = Graph(name: "pad")
    g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .string, shape: [.known(2)]))]
    g.outputs = [ValueInfo(name: "y", type: .tensor(elementType: .string, shape: [.known(4)]))]
    g.initializers = [Tensor(name: "pads", dtype: .int64, shape: [2], values: [Int64(1), 1])]
    g.nodes = [Node(name: "pad", opType: "Pad", inputs: ["x", "pads"], outputs: ["y"])]
    let session = try InferenceSession(model: Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: 17)]))
    let x = Tensor(shape: [2], strings: [Array("a".utf8), Array("b".utf8)])
    do {
        _ = try session.run(feeds: ["x": .tensor(x)])
        Issue.record("expected unsupportedOp")
    } catch let e as SwiftConvError {
        #expect(e.kind == .unsupportedOp)
        #expect(e.node == SwiftConvError.NodeContext(name: "pad", opType: "Pad"))
        #expect(e.description == "node 'pad' (Pad): \(e.message)" && e.message.contains("strings"))
    }
}
