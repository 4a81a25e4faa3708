import SwiftConvIR
import SwiftConvTFLite
import TFLiteSchema
import Testing

/// The importer against small files written field by field (TinyModels.swift).
@Suite struct ImporterTests {
    @Test func importsTheContract() throws {
        let m = try TinyModel.add().load()
        #expect(m.format == .tflite)
        #expect(m.opsetImports.map(\.domain) == [OpDomain.tflite])
        #expect(m.graph.inputs.map(\.name) == ["x"])
        #expect(m.graph.outputs.map(\.name) == ["y"])
        #expect(m.graph.valueInfo.map(\.name) == ["c"])
        let x = m.graph.inputs[0]
        #expect(x.type?.tensorShape == [.unknown, .known(2)])
        #expect(x.metadata.map(\.key) == ["tflite.tensor_index", "tflite.shape", "tflite.shape_signature"])
        #expect(x.metadata.map(\.value) == ["0", "1,2", "-1,2"])
        let c = try #require(m.graph.initializer(named: "c"))
        #expect(c.values(as: Float.self) == [1, 2])
        let node = try #require(m.graph.nodes.first)
        #expect(node.opType == "ADD" && node.domain == "tflite" && node.name == "y")
        #expect(node.inputs == ["x", "c"] && node.outputs == ["y"])
        #expect(node.attribute("fused_activation_function")?.string == "RELU")
        #expect(node.attribute("pot_scale_int16")?.int == 1) // absent: the schema default, true
        #expect(node.metadata.first { $0.key == "tflite.version" }?.value == "1")
        #expect(m.metadata.first { $0.key == "tflite.signature_defs" }?.value == "[]")
    }

    @Test func perAxisQuantization() throws {
        var t = TinyModel.add()
        t.subgraphs[0].tensors[1].scale = [0.5, 0.25]
        t.subgraphs[0].tensors[1].zeroPoint = [0, 1]
        let q = try #require(try t.load().graph.valueInfo[0].type?.quantization)
        #expect(q.scale == [0.5, 0.25] && q.zeroPoint == [0, 1] && q.axis == 0)
        t.subgraphs[0].tensors[1].zeroPoint = [0, 1, 2]
        try expectFormatError(t, "2 scales and 3 zero points")
    }

    @Test func emptyNamesAreMadeUniqueOverTheModel() throws {
        var t = TinyModel.add()
        t.subgraphs[0].tensors[1].name = "x"
        t.subgraphs[0].tensors[2].name = ""
        let m = try t.load()
        #expect(m.graph.valueInfo.map(\.name) == ["x_1"])
        #expect(m.graph.outputs.map(\.name) == ["tensor_2"])
    }

    @Test func rejectsBadIndicesAndSizes() throws {
        var t = TinyModel.add()
        t.subgraphs[0].ops[0].opcode = 5
        try expectFormatError(t, "subgraph 0, operator 0: opcode index 5 of 1")
        t = TinyModel.add()
        t.subgraphs[0].ops[0].inputs = [0, 7]
        try expectFormatError(t, "names tensor 7 of 3")
        t = TinyModel.add()
        t.subgraphs[0].outputs = [-1]
        try expectFormatError(t, "names tensor -1 of 3")
        t = TinyModel.add()
        t.subgraphs[0].tensors[1].buffer = 9
        try expectFormatError(t, "names buffer 9 of 2")
        t = TinyModel.add()
        t.subgraphs[0].tensors[1].shape = [3]
        try expectFormatError(t, "holds 8 bytes")
        t = TinyModel.add()
        t.subgraphs[0].tensors[0].shape = [-2, 2]
        try expectFormatError(t, "dimension -2")
        t = TinyModel.add()
        t.subgraphs[0].tensors[1].shape = [Int32.max, Int32.max, Int32.max]
        try expectFormatError(t, "element count overflows")
        t = TinyModel.add()
        t.version = 2
        try expectFormatError(t, "schema version 2")
    }

    @Test func unknownBuiltinCodeIsUnsupportedOp() throws {
        var t = TinyModel.add()
        t.opcodes = [(9999, nil)]
        #expect {
            try t.load()
        } throws: { error in
            guard let e = error as? SwiftConvError else { return false }
            return e.kind == .unsupportedOp && e.message.contains("9999")
        }
    }

    @Test func subgraphCyclesAndBadSubgraphIndices() throws {
        var t = TinyModel.add()
        t.opcodes = [(BuiltinOperator.WHILE.rawValue, nil)]
        t.subgraphs[0].ops = [TinyModel.OpSpec(opcode: 0, inputs: [0], outputs: [2], whileSubgraphs: (0, 0))]
        try expectFormatError(t, "cycle 0 -> 0")
        t.subgraphs[0].ops[0].whileSubgraphs = (1, 1)
        let body = TinyModel.SubgraphSpec(
            tensors: [TinyModel.TensorSpec(name: "a", shape: [1, 2])], inputs: [0], outputs: [0],
            ops: [TinyModel.OpSpec(opcode: 0, inputs: [0], outputs: [0], whileSubgraphs: (0, 1))])
        t.subgraphs.append(body)
        try expectFormatError(t, "cycle 0 -> 1 -> 0")
        t.subgraphs[0].ops[0].whileSubgraphs = (4, 1)
        try expectFormatError(t, "subgraph 4 does not exist")
    }

    @Test func whileSubgraphsBecomeGraphAttributes() throws {
        var t = TinyModel.add()
        t.opcodes = [(BuiltinOperator.WHILE.rawValue, nil)]
        t.subgraphs[0].ops = [TinyModel.OpSpec(opcode: 0, inputs: [0], outputs: [2], whileSubgraphs: (1, 2))]
        for name in ["cond_out", "body_out"] {
            t.subgraphs.append(
                TinyModel.SubgraphSpec(
                    tensors: [TinyModel.TensorSpec(name: "y", shape: [1, 2]), TinyModel.TensorSpec(name: name, shape: [1, 2])],
                    inputs: [0], outputs: [1], ops: []))
        }
        let m = try t.load()
        let node = try #require(m.graph.nodes.first)
        #expect(node.opType == "WHILE")
        let cond = try #require(node.attribute("cond_subgraph")?.graph)
        let body = try #require(node.attribute("body_subgraph")?.graph)
        // "y" is taken by the main graph: names are unique over the whole model.
        #expect(cond.inputs.map(\.name) == ["y_1"] && cond.outputs.map(\.name) == ["cond_out"])
        #expect(body.inputs.map(\.name) == ["y_2"] && body.outputs.map(\.name) == ["body_out"])
        let again = try TFLiteModelLoading.load(try TFLiteExporter.serialize(m))
        #expect(ModelDump.text(again) == ModelDump.text(m))
    }

    /// Every prefix of a valid file is refused with a model-format error, never a crash.
    @Test func truncatedFilesAreFormatErrors() throws {
        let full = try TinyModel.add().bytes()
        for length in 0..<full.count {
            #expect {
                _ = try TFLiteModelLoading.load(Array(full[..<length]))
            } throws: { error in
                (error as? SwiftConvError)?.kind == .modelFormat
            }
        }
    }

    /// Flipping any one byte either still loads or is a model-format (or unsupported-op) error.
    @Test func flippedBytesNeverCrash() throws {
        let full = try TinyModel.add().bytes()
        for at in 0..<full.count {
            for mask in [UInt8(0xFF), 0x80, 0x01] {
                var bytes = full
                bytes[at] ^= mask
                do {
                    _ = try TFLiteModelLoading.load(bytes)
                } catch let e as SwiftConvError {
                    #expect(e.kind == .modelFormat || e.kind == .unsupportedOp, "byte \(at): \(e)")
                }
            }
        }
    }

    func expectFormatError(_ t: TinyModel, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(sourceLocation: sourceLocation) {
            try t.load()
        } throws: { error in
            guard let e = error as? SwiftConvError, e.kind == .modelFormat else { return false }
            return e.message.contains(text)
        }
    }
}
