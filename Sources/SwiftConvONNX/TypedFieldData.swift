import ONNXProto
import SwiftConvIR

/// Conversion between TensorProto's typed data fields (`float_data`, `int32_data`, ...)
/// and the IR's packed little-endian bytes.
enum TypedFieldData {
    /// Packed bytes for a tensor whose data is in typed fields; sizes are checked first.
    static func storage(_ p: Onnx_TensorProto, dtype: DType, count: Int, nbytes: Int, label: String) throws -> TensorStorage {
        func check(_ have: Int, _ need: Int, _ field: String) throws {
            guard have == need else {
                throw SwiftConvError.validation("\(label) has \(have) values in \(field); shape \(p.dims) of \(dtype) needs \(need)")
            }
        }
        switch dtype {
        case .float32:
            try check(p.floatData.count, count, "float_data")
            return TensorStorage(copyingArray: p.floatData)
        case .complex64:
            try check(p.floatData.count, 2 * count, "float_data")
            return TensorStorage(copyingArray: p.floatData)
        case .float64:
            try check(p.doubleData.count, count, "double_data")
            return TensorStorage(copyingArray: p.doubleData)
        case .complex128:
            try check(p.doubleData.count, 2 * count, "double_data")
            return TensorStorage(copyingArray: p.doubleData)
        case .int64:
            try check(p.int64Data.count, count, "int64_data")
            return TensorStorage(copyingArray: p.int64Data)
        case .uint64:
            try check(p.uint64Data.count, count, "uint64_data")
            return TensorStorage(copyingArray: p.uint64Data)
        case .uint32:
            try check(p.uint64Data.count, count, "uint64_data")
            return TensorStorage(copyingArray: p.uint64Data.map { UInt32(truncatingIfNeeded: $0) })
        case .int32:
            try check(p.int32Data.count, count, "int32_data")
            return TensorStorage(copyingArray: p.int32Data)
        case .int16, .uint16, .float16, .bfloat16:
            try check(p.int32Data.count, count, "int32_data")
            return TensorStorage(copyingArray: p.int32Data.map { UInt16(truncatingIfNeeded: $0) })
        case .int8, .uint8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
            try check(p.int32Data.count, count, "int32_data")
            return TensorStorage(copyingArray: p.int32Data.map { UInt8(truncatingIfNeeded: $0) })
        case .int4, .uint4, .float4e2m1, .int2, .uint2:
            // Already packed: each int32 holds one byte of the packed stream.
            try check(p.int32Data.count, nbytes, "int32_data")
            return TensorStorage(copyingArray: p.int32Data.map { UInt8(truncatingIfNeeded: $0) })
        case .float6e2m3, .float6e3m2:
            try check(p.int32Data.count, count, "int32_data")
            return TensorStorage(copyingArray: packBits(p.int32Data.map { UInt8(truncatingIfNeeded: $0) & 0x3F }, width: 6))
        case .string, .undefined:
            throw SwiftConvError.internal("\(label): \(dtype) has no typed numeric field")
        }
    }

    /// Packs `width`-bit codes into a byte stream, least significant bit first.
    static func packBits(_ codes: [UInt8], width: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (codes.count * width + 7) / 8)
        var bit = 0
        for c in codes {
            for b in 0..<width where c & (1 << b) != 0 {
                out[(bit + b) / 8] |= 1 << ((bit + b) % 8)
            }
            bit += width
        }
        return out
    }
}
