extension ModelFormat {
    /// The format of serialized model bytes, by magic bytes: TFLite FlatBuffers carry the
    /// identifier "TFL3" at offset 4; anything else is tried as ONNX protobuf.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> ModelFormat {
        if bytes.count >= 8, bytes[4] == 0x54, bytes[5] == 0x46, bytes[6] == 0x4C, bytes[7] == 0x33 {
            return .tflite
        }
        return .onnx
    }
}
