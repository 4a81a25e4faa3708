import SwiftConvIR

extension ModelCodec {
    /// TFLite FlatBuffers, recognised by the file identifier "TFL3" at offset 4. Only the
    /// signature is registered until the TFLite reader and writer exist.
    public static let tflite = ModelCodec(
        format: .tflite, name: "TFLite", signature: MagicBytes(offset: 4, "TFL3"), suffixes: [".tflite"],
        read: nil, serialize: nil)
}
