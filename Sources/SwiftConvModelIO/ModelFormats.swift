import SwiftConvIR

/// The registry of model file formats: each format's signature, reader and writer,
/// registered once. The C ABI, the CLI and the tools ask it instead of switching on the format.
public enum ModelFormats {
    /// Every format, in the order signatures are tried; a new format adds its codec here.
    public static let registered: [ModelCodec] = [.tflite, .onnx]

    /// The codec of `format`.
    public static func codec(for format: ModelFormat) throws -> ModelCodec {
        guard let codec = registered.first(where: { $0.format == format }) else {
            throw SwiftConvError.modelFormat("no codec is registered for the \(format.rawValue) format")
        }
        return codec
    }

    /// The codec whose signature `bytes` carry, else the one without a signature (ONNX).
    public static func detect(_ bytes: UnsafeRawBufferPointer) throws -> ModelCodec {
        if let codec = registered.first(where: { $0.signature?.matches(bytes) ?? false }) { return codec }
        guard let fallback = registered.first(where: { $0.signature == nil }) else {
            throw SwiftConvError.modelFormat("the bytes carry no known format's signature")
        }
        return fallback
    }

    /// The codec whose suffix `path` ends with (case-insensitive), or nil.
    public static func codec(forPath path: String) -> ModelCodec? {
        let lower = path.lowercased()
        return registered.first { codec in codec.suffixes.contains { lower.hasSuffix($0) } }
    }

    /// Reads a model file once; large weights point into that buffer and external data is
    /// resolved relative to the file's folder.
    public static func load(path: String) throws -> Model {
        try load(file: FileBuffer(path: path))
    }

    /// Reads a model from a file already in memory, with external data beside the file.
    public static func load(file: FileBuffer) throws -> Model {
        try load(bytes: file.bytes, owner: file, baseDirectory: file.directory)
    }

    /// Reads a model from bytes kept alive by `owner`; `baseDirectory` resolves external data (nil: refuse it).
    public static func load(bytes: UnsafeRawBufferPointer, owner: AnyObject, baseDirectory: String?) throws -> Model {
        let codec = try detect(bytes)
        guard let read = codec.read else {
            throw SwiftConvError.modelFormat(unsupported(codec, "reading"))
        }
        return try read(bytes, owner, baseDirectory)
    }

    /// The model serialized in its own format.
    public static func serialize(_ model: Model) throws -> [UInt8] {
        let codec = try codec(for: model.format)
        guard let serialize = codec.serialize else { throw SwiftConvError.modelFormat(unsupported(codec, "writing")) }
        return try serialize(model)
    }

    /// Writes the model in its own format to `path` atomically.
    public static func save(_ model: Model, to path: String) throws {
        let codec = try codec(for: model.format)
        guard let save = codec.save else { throw SwiftConvError.modelFormat(unsupported(codec, "writing")) }
        try save(model, path)
    }

    private static func unsupported(_ codec: ModelCodec, _ what: String) -> String {
        let found = codec.signature.map { " (found by \($0))" } ?? ""
        return "this is a \(codec.name) model\(found); \(what) \(codec.name) models is not supported yet"
    }
}
