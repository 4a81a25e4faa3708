import SwiftConvIR
import SwiftConvTFLite

extension ModelCodec {
    /// TFLite FlatBuffers, recognised by the file identifier "TFL3" at offset 4.
    public static let tflite = ModelCodec(
        format: .tflite, name: "TFLite", signature: MagicBytes(offset: 4, "TFL3"), suffixes: [".tflite"],
        read: { bytes, owner, _ in try TFLiteImporter.load(bytes: bytes, owner: owner) },
        serialize: { try TFLiteExporter.serialize($0) })
}
