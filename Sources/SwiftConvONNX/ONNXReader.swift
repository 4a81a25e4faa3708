import ONNXProto
import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#endif

/// Reads ONNX `ModelProto` bytes into the IR.
///
/// Large initializers are not decoded by the generated codec (which would copy them): the
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
    /// GraphProto nests in AttributeProto; deeper than this is refused rather than recursed into.
    static let messageDepthLimit = 100

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
            proto = try decode(Onnx_ModelProto.self, bytes)
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
            return (try decode(Onnx_GraphProto.self, UnsafeRawBufferPointer(rebasing: bytes[range])), [:])
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
        let whole = { UnsafeRawBufferPointer(rebasing: self.bytes[range]) }
        guard let fields = WireScanner.fields(bytes, in: range),
            let raw = fields.last(where: { $0.number == 9 && $0.wireType == 2 }),
            raw.payload.count >= ONNXReader.inPlaceThreshold
        else {
            return (try decode(Onnx_TensorProto.self, whole()), nil)
        }
        let tensor = try decode(Onnx_TensorProto.self, WireScanner.concatenate(bytes, fields.filter { $0.number != 9 }))
        return (tensor, raw.payload)
    }

    func decode<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) throws -> M {
        try bytes.withUnsafeBytes { try decode(type, $0) }
    }

    func decode<M: ProtoMessage>(_ type: M.Type, _ bytes: UnsafeRawBufferPointer) throws -> M {
        do {
            return try M(serializedBytes: bytes, depthLimit: Decoder.messageDepthLimit)
        } catch let error as ProtoDecodingError {
            throw SwiftConvError.modelFormat("not a valid ONNX model: \(error) while decoding \(M.protoMessageName)")
        }
    }
}

extension ONNXReader {
    /// Decodes one serialized `TensorProto` (the `.pb` files of ONNX test data).
    public static func tensor(serialized bytes: UnsafeRawBufferPointer) throws -> Tensor {
        final class Holder {}
        let decoder = Decoder(bytes: bytes, owner: Holder(), externalData: ExternalDataResolver(baseDirectory: nil))
        let proto = try decoder.decode(Onnx_TensorProto.self, bytes)
        return try ProtoToIR(decoder: decoder).tensor(proto, rawRange: nil, context: "tensor")
    }
}
