import ONNXProto
import SwiftConvIR

/// Writes the IR as ONNX `ModelProto` bytes.
public enum ONNXWriter {
    public static func serialize(_ model: Model) throws -> [UInt8] {
        throw SwiftConvError.internal("ONNXWriter.serialize not implemented yet")
    }

    /// Writes atomically (temporary file in the same folder, then rename).
    public static func save(_ model: Model, to path: String) throws {
        try AtomicFile.write(try serialize(model), to: path)
    }
}
