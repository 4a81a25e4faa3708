import SwiftConvIR
import SwiftConvTFLite
import TFLiteSchema
import Testing

/// The exporter on models built in the IR (no importer metadata), read back by the importer.
@Suite struct ExporterTests {
    /// x[?, 3] -> custom "MyOp" (with options) -> y; a string constant s; model metadata.
    static func model() -> SwiftConvIR.Model {
        var g = Graph(name: "main")
        g.inputs = [ValueInfo(name: "x", type: .tensor(elementType: .float32, shape: [.unknown, .known(3)]))]
        g.outputs = [ValueInfo(name: "y", type: .tensor(elementType: .float32, shape: [.unknown, .known(3)]))]
        g.valueInfo = [ValueInfo(name: "s", type: .tensor(elementType: .string, shape: [.known(2)]))]
        g.initializers = [SwiftConvIR.Tensor(name: "s", shape: [2], strings: [Array("ab".utf8), Array("xyz".utf8)])]
        var custom = Node(name: "y", opType: "MyOp", domain: OpDomain.tfliteCustom, inputs: ["x", "s"], outputs: ["y"])
        custom.attributes = [Attribute(name: "custom_options", value: .string([1, 2, 3]))]
        var m = SwiftConvIR.Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tfliteCustom, version: 1)])
        m.graph.nodes = [custom]
        m.docString = "a test model"
        m.metadata = [MetadataEntry("tflite.metadata.min_runtime_version", "MS4xNC4wAAAAAAAA")]
        return m
    }

    @Test func writesWhatTheImporterReadsBack() throws {
        let bytes = try TFLiteExporter.serialize(Self.model())
        #expect(Array(bytes[4..<8]) == Array("TFL3".utf8))
        let m = try TFLiteModelLoading.load(bytes)
        #expect(m.docString == "a test model")
        #expect(m.opsetImports.map(\.domain) == [OpDomain.tflite, OpDomain.tfliteCustom])
        let x = m.graph.inputs[0]
        #expect(x.type?.tensorShape == [.unknown, .known(3)])
        // Unknown dims are written as 1 in `shape` and -1 in `shape_signature`, as TFLite does.
        #expect(x.metadata.first { $0.key == "tflite.shape" }?.value == "1,3")
        #expect(x.metadata.first { $0.key == "tflite.shape_signature" }?.value == "-1,3")
        let node = try #require(m.graph.nodes.first)
        #expect(node.domain == OpDomain.tfliteCustom && node.opType == "MyOp")
        if case .string(let options)? = node.attribute("custom_options")?.value {
            #expect(options == [1, 2, 3])
        } else {
            Issue.record("no custom_options")
        }
        let s = try #require(m.graph.initializer(named: "s"))
        #expect(s.strings == [Array("ab".utf8), Array("xyz".utf8)])
        #expect(m.metadata.map(\.key) == ["tflite.signature_defs", "tflite.metadata.min_runtime_version"])
        #expect(m.metadata[1].value == "MS4xNC4wAAAAAAAA")
    }

    /// TFLite's string layout: count, count+1 offsets from the buffer start, then the bytes.
    @Test func stringBufferLayout() throws {
        let bytes = try TFLiteExporter.serialize(Self.model())
        // 2, offsets 16, 18, 21, "abxyz": found verbatim in the file.
        var want: [UInt8] = []
        for v: Int32 in [2, 16, 18, 21] { withUnsafeBytes(of: v.littleEndian) { want += $0 } }
        want += Array("abxyz".utf8)
        let found = (0...(bytes.count - want.count)).first { Array(bytes[$0..<($0 + want.count)]) == want }
        let at = try #require(found)
        #expect(at % 16 == 0, "constant data is 16-byte aligned")
    }

    @Test func nodesOutsideTheTFLiteDomainsAreAllNamed() throws {
        var m = Self.model()
        m.graph.nodes.append(Node(name: "r", opType: "Relu", inputs: ["y"], outputs: ["z"]))
        m.graph.nodes.append(Node(name: "q", opType: "Gemm", domain: "ai.onnx", inputs: ["z"], outputs: ["w"]))
        #expect {
            _ = try TFLiteExporter.serialize(m)
        } throws: { error in
            guard let e = error as? SwiftConvError, e.kind == .unsupportedOp else { return false }
            return e.message.contains("'r' (ai.onnx::Relu)") && e.message.contains("'q' (ai.onnx::Gemm)")
        }
    }

    @Test func badAttributeIsInvalidArgument() throws {
        var m = Self.model()
        m.graph.nodes = [
            Node(
                name: "y", opType: "ADD", domain: OpDomain.tflite, inputs: ["x", "x"], outputs: ["y"],
                attributes: [Attribute(name: "fused_activation_function", value: .string(Array("NOPE".utf8)))])
        ]
        #expect {
            _ = try TFLiteExporter.serialize(m)
        } throws: { error in
            (error as? SwiftConvError)?.kind == .invalidArgument
        }
    }
}
