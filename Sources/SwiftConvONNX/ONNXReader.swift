import ONNXProto
import SwiftConvIR
import SwiftProtobuf

#if canImport(FoundationEssentials)
    import FoundationEssentials
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Reads ONNX `ModelProto` bytes into the IR.
///
/// Large initializers are not decoded by SwiftProtobuf (which would copy them): the
/// reader locates each initializer's `raw_data` with `WireScanner` and points the IR
/// tensor at those bytes in the caller's buffer (the file read once).
public enum ONNXReader {
    /// Initializers whose `raw_data` is at least this large are kept in place; smaller ones are copied.
    static let inPlaceThreshold = 1024

    /// Loads a model file. The file is read once and large weights point into that buffer;
    /// external data is resolved relative to the file's folder and may not escape it.
    public static func load(path: String) throws -> Model {
        try load(file: FileBuffer(path: path))
    }

    /// Loads a model file already read into memory; external data is resolved relative
    /// to the file's folder.
    public static func load(file: FileBuffer) throws -> Model {
        try load(bytes: file.bytes, owner: file, baseDirectory: file.directory)
    }

    /// Loads a model from bytes in memory. `owner` keeps `bytes` alive for as long as
    /// any weight points into them. `baseDirectory` resolves external data (nil: refuse it).
    public static func load(bytes: UnsafeRawBufferPointer, owner: AnyObject, baseDirectory: String?) throws -> Model {
        guard bytes.count > 0 else { throw SwiftConvError.modelFormat("the model is empty (0 bytes)") }
        let decoder = Decoder(bytes: bytes, owner: owner, externalData: ExternalDataResolver(baseDirectory: baseDirectory))
        return try decoder.decodeModel()
    }
}

/// Decoding state of one load: the source buffer and the raw_data ranges found in it.
struct Decoder {
    let bytes: UnsafeRawBufferPointer
    let owner: AnyObject
    let externalData: ExternalDataResolver
    static let options: BinaryDecodingOptions = {
        var o = BinaryDecodingOptions()
        o.messageDepthLimit = 64
        return o
    }()

    init(bytes: UnsafeRawBufferPointer, owner: AnyObject, externalData: ExternalDataResolver) {
        self.bytes = bytes
        self.owner = owner
        self.externalData = externalData
    }

    func decodeModel() throws -> Model {
        let all = 0..<bytes.count
        var proto: Onnx_ModelProto
        // raw_data ranges of main-graph initializers, by initializer index.
        var inPlace: [Int: Range<Int>] = [:]
        if let fields = WireScanner.fields(bytes, in: all),
            fields.filter({ $0.number == 7 }).count == 1,
            let graphField = fields.first(where: { $0.number == 7 && $0.wireType == 2 })
        {
            proto = try decode(Onnx_ModelProto.self, WireScanner.concatenate(bytes, fields.filter { $0.number != 7 }))
            let (graph, ranges) = try decodeGraphKeepingRawData(graphField.payload)
            proto.graph = graph
            inPlace = ranges
        } else {
            proto = try decode(Onnx_ModelProto.self, Array(bytes))
        }
        guard proto.hasGraph else {
            throw SwiftConvError.modelFormat("not an ONNX model: no graph found (ModelProto.graph is missing)")
        }
        return try ProtoToIR(decoder: self).model(proto, inPlace: inPlace)
    }

    /// Decodes a GraphProto whose initializers' large raw_data fields are skipped and
    /// returned as ranges into `bytes` instead.
    func decodeGraphKeepingRawData(_ range: Range<Int>) throws -> (Onnx_GraphProto, [Int: Range<Int>]) {
        guard let fields = WireScanner.fields(bytes, in: range) else {
            return (try decode(Onnx_GraphProto.self, Array(UnsafeRawBufferPointer(rebasing: bytes[range]))), [:])
        }
        var graph = try decode(Onnx_GraphProto.self, WireScanner.concatenate(bytes, fields.filter { $0.number != 5 }))
        var ranges: [Int: Range<Int>] = [:]
        var initializers = [Onnx_TensorProto]()
        for field in fields where field.number == 5 {
            guard field.wireType == 2 else {
                throw SwiftConvError.modelFormat("malformed ONNX graph: initializer field has wire type \(field.wireType)")
            }
            let raw = try decodeTensorKeepingRawData(field.payload)
            if let r = raw.1 { ranges[initializers.count] = r }
            initializers.append(raw.0)
        }
        graph.initializer = initializers
        return (graph, ranges)
    }

    func decodeTensorKeepingRawData(_ range: Range<Int>) throws -> (Onnx_TensorProto, Range<Int>?) {
        let whole = { Array(UnsafeRawBufferPointer(rebasing: self.bytes[range])) }
        guard let fields = WireScanner.fields(bytes, in: range),
            let raw = fields.last(where: { $0.number == 9 && $0.wireType == 2 }),
            raw.payload.count >= ONNXReader.inPlaceThreshold
        else {
            return (try decode(Onnx_TensorProto.self, whole()), nil)
        }
        let tensor = try decode(Onnx_TensorProto.self, WireScanner.concatenate(bytes, fields.filter { $0.number != 9 }))
        return (tensor, raw.payload)
    }

    func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ bytes: [UInt8]) throws -> M {
        do {
            return try M(serializedBytes: bytes, extensions: nil, partial: true, options: Decoder.options)
        } catch let error as BinaryDecodingError {
            throw SwiftConvError.modelFormat("not a valid ONNX model: \(Decoder.describe(error)) while decoding \(M.protoMessageName)")
        } catch {
            throw SwiftConvError.modelFormat("not a valid ONNX model: \(error) while decoding \(M.protoMessageName)")
        }
    }

    static func describe(_ error: BinaryDecodingError) -> String {
        switch error {
        case .truncated: return "the data is truncated"
        case .malformedProtobuf: return "malformed protobuf"
        case .invalidUTF8: return "a string is not valid UTF-8"
        case .messageDepthLimit: return "messages are nested too deeply"
        default: return "\(error)"
        }
    }
}

extension ONNXReader {
    /// Decodes one serialized `TensorProto` (the `.pb` files of ONNX test data).
    public static func tensor(serialized bytes: UnsafeRawBufferPointer) throws -> Tensor {
        final class Holder {}
        let decoder = Decoder(bytes: bytes, owner: Holder(), externalData: ExternalDataResolver(baseDirectory: nil))
        let proto = try decoder.decode(Onnx_TensorProto.self, Array(bytes))
        return try ProtoToIR(decoder: decoder).tensor(proto, rawRange: nil, context: "tensor")
    }
}
