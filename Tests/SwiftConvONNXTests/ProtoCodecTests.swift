import ONNXProto
import Testing

// The generated protobuf codec (Sources/ONNXProto). Expected bytes are worked out by hand
// from the protobuf encoding specification; tests/test_onnx_proto_codec.py checks the codec
// against the `onnx` package's protobuf.

/// A model with a field of every kind: scalars, enums, strings, bytes, packed and unpacked
/// repeated scalars, nested and recursive messages, both oneofs, unknown fields.
func everyFieldKindModel() -> Onnx_ModelProto {
    var tensor = Onnx_TensorProto()
    tensor.dims = [2, 3]
    tensor.dataType = 1
    tensor.segment.begin = 0
    tensor.segment.end = 6
    tensor.floatData = [1, -2.5, .infinity, 0, 1e-30, 3]
    tensor.int32Data = [-1, 0, Int32.max]
    tensor.int64Data = [Int64.min, 7]
    tensor.doubleData = [.pi]
    tensor.uint64Data = [UInt64.max]
    tensor.stringData = [[0, 255], Array("h\u{e9}llo".utf8)]
    tensor.rawData = [1, 2, 3]
    tensor.dataLocation = .external
    tensor.name = "w"

    var seq = Onnx_TypeProto()
    var map = Onnx_TypeProto.Map()
    map.keyType = 8
    var tt = Onnx_TypeProto.Tensor()
    tt.elemType = 1
    var dim = Onnx_TensorShapeProto.Dimension()
    dim.dimParam = "N"
    var dim2 = Onnx_TensorShapeProto.Dimension()
    dim2.dimValue = 3
    tt.shape.dim = [dim, dim2]
    map.valueType.tensorType = tt
    var s = Onnx_TypeProto.Sequence()
    s.elemType.mapType = map
    seq.sequenceType = s
    seq.denotation = "SEQ"

    var attr = Onnx_AttributeProto()
    attr.name = "a"
    attr.type = .graphs
    attr.f = 0.5
    attr.i = -3
    attr.s = [0, 1]
    attr.t = tensor
    attr.floats = [1, 2]
    attr.ints = [-1, 1 << 40]
    attr.strings = [[9], []]
    attr.tp = seq
    var sub = Onnx_GraphProto()
    sub.name = "sub"
    attr.graphs = [sub]

    var node = Onnx_NodeProto()
    node.input = ["x", ""]
    node.output = ["y"]
    node.opType = "Op"
    node.attribute = [attr]

    var graph = Onnx_GraphProto()
    graph.node = [node]
    graph.initializer = [tensor]
    var vi = Onnx_ValueInfoProto()
    vi.name = "x"
    vi.type = seq
    graph.input = [vi]

    var m = Onnx_ModelProto()
    m.irVersion = 10
    var opset = Onnx_OperatorSetIdProto()
    opset.domain = ""
    opset.version = 17
    m.opsetImport = [opset]
    m.graph = graph
    m.unknownFields = [0xC2, 0x3E, 3, 0x6E, 0x65, 0x77] // field 1000, length-delimited "new"
    return m
}

@Suite struct ProtoCodecTests {
    @Test func everyFieldKindRoundTrips() throws {
        let m = everyFieldKindModel()
        let bytes = m.serializedBytes()
        let back = try Onnx_ModelProto(serializedBytes: bytes)
        #expect(back == m)
        #expect(back.graph.node[0].attribute[0].tp.sequenceType.elemType.mapType.valueType.tensorType.shape.dim[0].dimParam == "N")
        #expect(back.graph.initializer[0].floatData[2] == .infinity)
        #expect(back.unknownFields == m.unknownFields)
        #expect(back.serializedBytes() == bytes)
        #expect(Array(bytes.suffix(6)) == m.unknownFields) // unknown fields go last
    }

    @Test func encodingFollowsTheSpecification() {
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 5
        opset.domain = "a"
        // Field-number order: domain (1, length-delimited) then version (2, varint).
        #expect(opset.serializedBytes() == [0x0A, 1, 0x61, 0x10, 5])
        var t = Onnx_TensorProto()
        t.dims = [1, 2] // not packed in onnx-ml.proto: one tag per value
        t.dataType = -1 // negative int32: sign-extended to ten bytes
        t.floatData = [1] // packed
        #expect(
            t.serializedBytes() == [0x08, 1, 0x08, 2, 0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01]
                + [0x22, 4, 0x00, 0x00, 0x80, 0x3F])
        #expect(Onnx_TensorProto().serializedBytes() == [])
    }

    @Test func packedAndUnpackedRunsAreBothAccepted() throws {
        // dims (1) sent packed, float_data (4) sent unpacked: readers must take either.
        let bytes: [UInt8] = [0x0A, 2, 3, 4, 0x25, 0, 0, 0x80, 0x3F, 0x25, 0, 0, 0, 0x40]
        let t = try Onnx_TensorProto(serializedBytes: bytes)
        #expect(t.dims == [3, 4])
        #expect(t.floatData == [1, 2])
    }

    @Test func unknownEnumValuesAreKeptAsUnknownFields() throws {
        let bytes: [UInt8] = [0x70, 7] // data_location (14) = 7, not a DataLocation
        let t = try Onnx_TensorProto(serializedBytes: bytes)
        #expect(!t.hasDataLocation)
        #expect(t.unknownFields == bytes)
        #expect(t.serializedBytes() == bytes)
    }

    @Test func aRepeatedSingularMessageMerges() throws {
        // Two `segment` fields: protobuf merges them (begin from the first, end from the second).
        let bytes: [UInt8] = [0x1A, 2, 0x08, 1, 0x1A, 2, 0x10, 9]
        let t = try Onnx_TensorProto(serializedBytes: bytes)
        #expect(t.segment.begin == 1 && t.segment.end == 9)
    }

    static let hostile: [(String, [UInt8])] = [
        ("truncated varint", [0x08, 0x80]),
        ("truncated tag", [0x80]),
        ("length past the end", [0x42, 5, 0x61]),
        ("length 2^63", [0x42] + [UInt8](repeating: 0x80, count: 9) + [0x01]),
        ("length 2^64 - 1", [0x42] + [UInt8](repeating: 0xFF, count: 9) + [0x01]),
        ("varint of 11 bytes", [0x08] + [UInt8](repeating: 0x80, count: 10) + [0x00]),
        ("varint over 64 bits", [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x02]),
        ("wrong wire type for an int64", [0x0A, 1, 0]),
        ("wrong wire type for a message", [0x38, 1]),
        ("wrong wire type for a string", [0x15, 0, 0, 0, 0]),
        ("start group", [0x0B]),
        ("end group", [0x0C]),
        ("wire type 6", [0x0E]),
        ("field number 0", [0x00, 0x00]),
        ("field number past 2^29", [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0]),
        ("invalid UTF-8 in a string", [0x12, 1, 0xFF]),
        ("packed floats not a multiple of 4 bytes", [0x3A, 7, 0x2A, 5, 0x22, 3, 0, 0, 0x80]),
        ("truncated fixed32", [0x3A, 3, 0x25, 0, 0]),
        ("nested length past its parent", [0x3A, 2, 0x0A, 5, 0, 0, 0, 0, 0]),
    ]

    @Test(arguments: hostile) func hostileBytesThrow(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: ProtoDecodingError.self, "\(name)") { try Onnx_ModelProto(serializedBytes: bytes) }
    }

    @Test func deepNestingIsRefused() throws {
        var t = Onnx_TypeProto()
        t.tensorType.elemType = 1
        for _ in 0..<150 {
            var s = Onnx_TypeProto.Sequence()
            s.elemType = t
            t = Onnx_TypeProto()
            t.sequenceType = s
        }
        let bytes = t.serializedBytes()
        let error = #expect(throws: ProtoDecodingError.self) { try Onnx_TypeProto(serializedBytes: bytes) }
        #expect(error?.description.contains("nested more than 100 deep") == true)
        #expect(try Onnx_TypeProto(serializedBytes: bytes, depthLimit: 400) == t)
    }

    @Test func everyTruncationAndByteFlipThrowsOrDecodes() throws {
        let bytes = everyFieldKindModel().serializedBytes()
        for n in 0..<bytes.count {
            _ = try? Onnx_ModelProto(serializedBytes: Array(bytes[0..<n]))
        }
        var rng = SplitMix(seed: 12)
        for _ in 0..<3000 {
            var b = bytes
            for _ in 0..<1 + Int(rng.next() % 4) {
                b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if let m = try? Onnx_ModelProto(serializedBytes: b) {
                // Whatever decodes re-encodes to bytes that decode and encode to the same bytes
                // (compared as bytes: a flipped float may be a NaN, which is not == itself).
                let again = m.serializedBytes()
                #expect(try Onnx_ModelProto(serializedBytes: again).serializedBytes() == again)
            }
        }
    }
}

/// A small deterministic generator for the mutation loop.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
