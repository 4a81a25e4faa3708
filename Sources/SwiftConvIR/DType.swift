/// Element type of a tensor. Raw values follow ONNX `TensorProto.DataType`, which is also
/// the numbering of the C ABI (`sc_dtype`).
///
/// This enum is the one dtype table: the library reports it (`sc_dtypes_json`), the Python
/// package builds its tables from that report, and tests/test_dtype_table.py fails when the
/// header's `sc_dtype` or the extension's numpy mapping disagree with it.
public enum DType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case undefined = 0
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case float64 = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8e4m3fn = 17
    case float8e4m3fnuz = 18
    case float8e5m2 = 19
    case float8e5m2fnuz = 20
    case uint4 = 21
    case int4 = 22
    case float4e2m1 = 23
    case float8e8m0 = 24
    case uint2 = 25
    case int2 = 26
    case float6e2m3 = 27
    case float6e3m2 = 28

    /// Bits one element takes in packed storage; 0 for `undefined` and `string`.
    public var bitWidth: Int {
        switch self {
        case .undefined, .string: return 0
        case .uint2, .int2: return 2
        case .float6e2m3, .float6e3m2: return 6
        case .uint4, .int4, .float4e2m1: return 4
        case .bool, .uint8, .int8, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
            return 8
        case .uint16, .int16, .float16, .bfloat16: return 16
        case .int32, .uint32, .float32: return 32
        case .int64, .uint64, .float64, .complex64: return 64
        case .complex128: return 128
        }
    }

    /// Bytes that `count` elements take when packed (sub-byte types round up).
    /// Returns nil on overflow, so hostile shapes cannot wrap around.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0 else { return nil }
        let (bits, overflow) = count.multipliedReportingOverflow(by: bitWidth)
        if overflow { return nil }
        return (bits + 7) / 8
    }

    /// True for every floating-point type, the 8-, 6- and 4-bit ones included.
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2,
            .float8e5m2fnuz, .float4e2m1, .float8e8m0, .float6e2m3, .float6e3m2:
            return true
        default: return false
        }
    }

    /// True for integer types, the sub-byte ones included (not bool).
    public var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .int32, .int64, .uint32, .uint64, .uint4, .int4, .uint2, .int2:
            return true
        default: return false
        }
    }

    /// True for signed integer and float types.
    public var isSigned: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .int4, .int2: return true
        default: return isFloatingPoint
        }
    }

    /// The name ONNX Runtime prints in `NodeArg.type`, e.g. `tensor(float)`.
    public var onnxTypeName: String {
        switch self {
        case .undefined: return "undefined"
        case .float32: return "float"
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .string: return "string"
        case .bool: return "bool"
        case .float16: return "float16"
        case .float64: return "double"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .complex64: return "complex64"
        case .complex128: return "complex128"
        case .bfloat16: return "bfloat16"
        case .float8e4m3fn: return "float8e4m3fn"
        case .float8e4m3fnuz: return "float8e4m3fnuz"
        case .float8e5m2: return "float8e5m2"
        case .float8e5m2fnuz: return "float8e5m2fnuz"
        case .uint4: return "uint4"
        case .int4: return "int4"
        case .float4e2m1: return "float4e2m1"
        case .float8e8m0: return "float8e8m0"
        case .uint2: return "uint2"
        case .int2: return "int2"
        case .float6e2m3: return "float6e2m3"
        case .float6e3m2: return "float6e3m2"
        }
    }

    /// The case name, which is also the `sc_dtype` enumerator's suffix (`SC_DTYPE_FLOAT32`).
    public var name: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        default: return onnxTypeName
        }
    }

    /// The numpy dtype name (`np.dtype(name)`); ml_dtypes names for the exotic ones.
    public var numpyName: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        case .bool: return "bool"
        case .string: return "object"
        case .float8e4m3fn: return "float8_e4m3fn"
        case .float8e4m3fnuz: return "float8_e4m3fnuz"
        case .float8e5m2: return "float8_e5m2"
        case .float8e5m2fnuz: return "float8_e5m2fnuz"
        case .float4e2m1: return "float4_e2m1fn"
        case .float8e8m0: return "float8_e8m0fnu"
        case .float6e2m3: return "float6_e2m3fn"
        case .float6e3m2: return "float6_e3m2fn"
        default: return onnxTypeName
        }
    }

    /// ONNX Runtime's spelling of the type (`float`, `int64`).
    public var description: String { onnxTypeName }
}
