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

/// The schema's `Model` and `Tensor` tables share names with the IR's types; unqualified, the
/// names in this module mean the IR's (the schema's are written `TFLiteSchema.Model`).
typealias Model = SwiftConvIR.Model
typealias Tensor = SwiftConvIR.Tensor
