import SwiftConvIR
import TFLiteSchema

/// The TFLite tensor types and the IR's element types, both ways: one table for importer and exporter.
enum TFLiteTypes {
    /// TensorType raw value <-> DType. RESOURCE and VARIANT have no DType (they become opaque values).
    static let table: [(TensorType, DType)] = [
        (.FLOAT32, .float32), (.FLOAT16, .float16), (.INT32, .int32), (.UINT8, .uint8), (.INT64, .int64),
        (.STRING, .string), (.BOOL, .bool), (.INT16, .int16), (.COMPLEX64, .complex64), (.INT8, .int8),
        (.FLOAT64, .float64), (.COMPLEX128, .complex128), (.UINT64, .uint64), (.UINT32, .uint32),
        (.UINT16, .uint16), (.INT4, .int4), (.BFLOAT16, .bfloat16), (.INT2, .int2), (.UINT4, .uint4),
        (.FLOAT8_E4M3FN, .float8e4m3fn), (.FLOAT8_E5M2, .float8e5m2),
    ]

    /// The IR element type of a TFLite tensor type, nil for RESOURCE, VARIANT and unknown values.
    static func dtype(_ t: TensorType) -> DType? { table.first { $0.0 == t }?.1 }

    /// The TFLite tensor type of an IR element type, nil when TFLite has none.
    static func tensorType(_ d: DType) -> TensorType? { table.first { $0.1 == d }?.0 }

    /// The opaque IR type standing for a TFLite RESOURCE or VARIANT tensor.
    static func opaqueType(_ t: TensorType) -> ValueType? {
        guard t == .RESOURCE || t == .VARIANT, let name = t.name else { return nil }
        return .opaque(domain: OpDomain.tflite, name: name)
    }
}

/// Metadata keys the importer writes and the exporter reads (the IR contract in the issue 9 spec).
public enum TFLiteKeys {
    public static let tensorIndex = "tflite.tensor_index"
    public static let shape = "tflite.shape"
    public static let shapeSignature = "tflite.shape_signature"
    public static let sparsity = "tflite.sparsity"
    public static let isVariable = "tflite.is_variable"
    public static let version = "tflite.version"
    public static let intermediates = "tflite.intermediates"
    public static let signatureDefs = "tflite.signature_defs"
    /// On a control-flow graph: the index of the subgraph it was read from.
    public static let subgraphIndex = "tflite.subgraph_index"
    /// Prefix of a TFLite `Model.metadata` entry kept for round trips; the value is base64.
    public static let metadataPrefix = "tflite.metadata."
    public static let customOptions = "custom_options"
}

/// Base64 (RFC 4648, padded), for TFLite metadata buffers, which are binary, in string metadata.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i])
            let b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[((b0 & 3) << 4) | (b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[((b1 & 15) << 2) | (b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[b2 & 63] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text`, or nil when it is not padded base64.
    static func decode(_ text: String) -> [UInt8]? {
        var lookup = [Int](repeating: -1, count: 256)
        for (k, c) in alphabet.enumerated() { lookup[Int(c)] = k }
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            var v = [0, 0, 0, 0]
            var pad = 0
            for k in 0..<4 {
                let c = chars[i + k]
                if c == UInt8(ascii: "=") && i + 4 == chars.count && k >= 2 {
                    pad += 1
                } else {
                    guard pad == 0, lookup[Int(c)] >= 0 else { return nil }
                    v[k] = lookup[Int(c)]
                }
            }
            let n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3]
            out.append(UInt8(n >> 16))
            if pad < 2 { out.append(UInt8((n >> 8) & 255)) }
            if pad < 1 { out.append(UInt8(n & 255)) }
            i += 4
        }
        return out
    }
}

/// The schema's `Model` and `Tensor` tables share names with the IR's types; unqualified, the
/// names in this module mean the IR's (the schema's are written `TFLiteSchema.Model`).
typealias Model = SwiftConvIR.Model
typealias Tensor = SwiftConvIR.Tensor
