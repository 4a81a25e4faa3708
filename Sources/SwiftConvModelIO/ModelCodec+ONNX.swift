import SwiftConvIR
import SwiftConvONNX

extension ModelCodec {
    /// ONNX protobuf. Protobuf has no magic bytes, so ONNX is what bytes no other format claims are read as.
    public static let onnx = ModelCodec(
        format: .onnx, name: "ONNX", signature: nil, suffixes: [".onnx"],
        read: { bytes, owner, baseDirectory in try ONNXReader.load(bytes: bytes, owner: owner, baseDirectory: baseDirectory) },
        serialize: { try ONNXWriter.serialize($0) },
        save: { try ONNXWriter.save($0, to: $1) })
}
