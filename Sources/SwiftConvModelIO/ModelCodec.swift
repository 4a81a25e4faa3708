import SwiftConvIR

/// One model file format as the registry knows it: how to recognise its bytes, which file
/// suffixes it uses, and how to read and write it.
///
/// A format whose reader or writer is not written yet is still registered with its
/// signature, so that its files are named in the error instead of being misread as
/// another format.
public struct ModelCodec: Sendable {
    /// Reads a model from `bytes`, kept alive by `owner` for as long as any weight points
    /// into them; `baseDirectory` resolves external data (nil: refuse it).
    public typealias Reader =
        @Sendable (
            _ bytes: UnsafeRawBufferPointer, _ owner: AnyObject,
            _ baseDirectory: String?
        ) throws -> Model
    /// Serializes a model to the bytes of a file.
    public typealias Serializer = @Sendable (Model) throws -> [UInt8]
    /// Writes a model to a path atomically: a reader of the path sees the old file or the new one.
    public typealias Saver = @Sendable (Model, _ path: String) throws -> Void

    public let format: ModelFormat
    /// The format's written name, for messages ("ONNX").
    public let name: String
    /// How the format's files are recognised; nil for the format tried when no other matches.
    public let signature: MagicBytes?
    /// File suffixes with the dot, most usual first (".onnx").
    public let suffixes: [String]
    public let read: Reader?
    public let serialize: Serializer?
    public let save: Saver?

    /// `save` defaults to writing what `serialize` returns with `AtomicFile`.
    public init(
        format: ModelFormat, name: String, signature: MagicBytes?, suffixes: [String], read: Reader?,
        serialize: Serializer?, save: Saver? = nil
    ) {
        self.format = format
        self.name = name
        self.signature = signature
        self.suffixes = suffixes
        self.read = read
        self.serialize = serialize
        self.save =
            save
            ?? serialize.map { serialize -> Saver in
                { @Sendable model, path in try AtomicFile.write(serialize(model), to: path) }
            }
    }
}

/// Bytes that a format's files carry at a fixed offset (TFLite's "TFL3" at offset 4).
public struct MagicBytes: Sendable, CustomStringConvertible {
    public let offset: Int
    public let bytes: [UInt8]

    public init(offset: Int, _ text: String) {
        self.offset = offset
        bytes = Array(text.utf8)
    }

    /// Whether `data` holds these bytes at `offset`; a buffer too short never matches.
    public func matches(_ data: UnsafeRawBufferPointer) -> Bool {
        let (end, overflow) = offset.addingReportingOverflow(bytes.count)
        guard offset >= 0, !overflow, end <= data.count else { return false }
        return bytes.indices.allSatisfy { data[offset + $0] == bytes[$0] }
    }

    public var description: String { "'\(String(decoding: bytes, as: UTF8.self))' at offset \(offset)" }
}
