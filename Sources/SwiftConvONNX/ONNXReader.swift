import ONNXProto
import SwiftConvIR

/// Reads ONNX `ModelProto` bytes into the IR.
public enum ONNXReader {
    /// Loads a model file. The file is memory-mapped and large weights point into it;
    /// external data is resolved relative to the file's folder and may not escape it.
    public static func load(path: String) throws -> Model {
        throw SwiftConvError.internal("ONNXReader.load(path:) not implemented yet")
    }

    /// Loads a model from bytes in memory. `owner` keeps `bytes` alive for as long as
    /// any weight points into them. `baseDirectory` resolves external data (nil: refuse it).
    public static func load(bytes: UnsafeRawBufferPointer, owner: AnyObject, baseDirectory: String?) throws -> Model {
        throw SwiftConvError.internal("ONNXReader.load(bytes:) not implemented yet")
    }
}
