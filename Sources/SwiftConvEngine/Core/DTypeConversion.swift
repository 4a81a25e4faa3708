import SwiftConvIR

/// Conversions between `Float` and the storage-only ONNX element types (bfloat16, the
/// float8 family, float4e2m1, float8e8m0, int4/uint4, int2/uint2), with ONNX's rounding
/// (round to nearest, ties to even) and `saturate` semantics, as `Cast`, `QuantizeLinear`
/// and `DequantizeLinear` need them.
///
/// Sub-byte types are packed low bits first (two int4 per byte, four int2 per byte), as
/// ONNX `raw_data` stores them; `unpackedBits`/`pack` convert whole buffers.
public enum DTypeConversion {
    // MARK: bfloat16

    /// bfloat16 bits of `x`, rounded to nearest even; NaN stays a (quiet) NaN.
    @inlinable
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The value of bfloat16 bits (exact).
    @inlinable
    public static func float(bfloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    // MARK: float8 and float4

    /// float8e8m0 rounding mode of `Cast` (opset 24): how a value between powers of two is rounded.
    public enum E8M0Rounding: String, Sendable {
        case up, down, nearest
    }

    /// Encodes `x` in the small float `format` (a float8 type or float4e2m1).
    ///
    /// With `saturate`, values beyond the largest finite one (infinities included) become
    /// ±max; without it they become infinity (e5m2) or NaN (types without infinity).
    /// float4e2m1 has neither, so it always saturates. NaN maps to the format's NaN.
    @inlinable
    public static func smallFloatBits<F: BinaryFloatingPoint>(_ x: F, _ format: SmallFloatFormat, saturate: Bool) -> UInt8 {
        let negative = x.sign == .minus
        let signBit: UInt8 = negative ? 0x80 >> (8 - UInt8(format.bitWidth)) : 0
        let maxCode = format.maxFiniteCode
        if x.isNaN {
            switch format.nanStyle {
            case .unsignedZero: return 0x80
            case .allOnes: return signBit | maxCode | format.mantissaMask
            case .e5m2: return signBit | 0x7E
            case .none: return negative ? 0 : 0x08 // float4e2m1: what ml_dtypes (the onnx reference) produces
            }
        }
        let magnitude = x.magnitude
        let overflow: UInt8
        if saturate || format.nanStyle == .none {
            overflow = format.nanStyle == .unsignedZero ? (maxCode | (negative ? 0x80 : 0)) : (signBit | maxCode)
        } else {
            switch format.nanStyle {
            case .unsignedZero: overflow = 0x80
            case .e5m2: overflow = signBit | 0x7C
            default: overflow = signBit | maxCode | format.mantissaMask
            }
        }
        if magnitude.isInfinite { return overflow }
        if magnitude == 0 { return format.nanStyle == .unsignedZero ? 0 : signBit }
        let m = format.mantissaBits
        let minNormalExponent = 1 - format.bias
        let exponent = Int(magnitude.exponent)
        // Spacing of representable values around `magnitude` (fixed in the subnormal range).
        let quantumExponent = max(exponent, minNormalExponent) - m
        let quantum = F(sign: .plus, exponent: F.Exponent(quantumExponent), significand: 1)
        let q = (magnitude / quantum).rounded(.toNearestOrEven)
        let value = q * quantum
        if value > F(format.maxFinite) { return overflow }
        if value == 0 { return format.nanStyle == .unsignedZero ? 0 : signBit }
        let e = Int(value.exponent)
        let code: Int
        if e < minNormalExponent {
            code = Int(q)
        } else {
            let mantissa = Int(value / F(sign: .plus, exponent: F.Exponent(e - m), significand: 1)) - (1 << m)
            code = ((e + format.bias) << m) | mantissa
        }
        let bits = UInt8(truncatingIfNeeded: code)
        return format.nanStyle == .unsignedZero ? (negative ? bits | 0x80 : bits) : (signBit | bits)
    }

    /// The value of small-float bits (exact; a table lookup).
    @inlinable
    public static func float(smallFloat bits: UInt8, _ format: SmallFloatFormat) -> Float {
        format.decodeTable[Int(bits & format.codeMask)]
    }

    /// float8e8m0 bits of `x` (a power of two; the sign is dropped), following the onnx
    /// reference: NaN and infinities become NaN (0xFF); `saturate` keeps rounding from
    /// reaching it.
    @inlinable
    public static func float8E8M0Bits(_ x: Float, saturate: Bool, rounding: E8M0Rounding) -> UInt8 {
        let b = x.bitPattern
        let exponent = (b >> 23) & 0xFF
        if exponent == 0xFF { return 0xFF }
        var roundUp: Bool
        switch rounding {
        case .down: roundUp = false
        case .up: roundUp = (b & 0x7F_FFFF) != 0
        case .nearest:
            let g = (b & 0x40_0000) != 0, r = (b & 0x20_0000) != 0, s = (b & 0x1F_FFFF) != 0
            roundUp = g && (r || s || exponent > 0)
        }
        if saturate && exponent == 0xFE { roundUp = false }
        return UInt8(truncatingIfNeeded: exponent + (roundUp ? 1 : 0))
    }

    /// The value of float8e8m0 bits: 2^(bits - 127), NaN for 0xFF.
    @inlinable
    public static func float(float8E8M0 bits: UInt8) -> Float {
        if bits == 0xFF { return .nan }
        if bits == 0 { return Float(bitPattern: 0x0040_0000) } // 2^-127 is subnormal in float32
        return Float(bitPattern: UInt32(bits) << 23)
    }

    // MARK: Sub-byte integers

    /// Low `bits` bits of the integer part of `x` (truncated toward zero), as the onnx
    /// reference's cast does: out-of-range values wrap; NaN and huge values give 0.
    @inlinable
    public static func wrappedIntegerBits<F: BinaryFloatingPoint>(_ x: F, bits: Int) -> UInt8 {
        let i: Int64 = (x.isNaN || x.magnitude >= 0x1p62) ? 0 : Int64(x)
        return UInt8(truncatingIfNeeded: i) & UInt8((1 << bits) - 1)
    }

    /// Value of a `bits`-wide two's-complement or unsigned field.
    @inlinable
    public static func subByteValue(_ field: UInt8, bits: Int, signed: Bool) -> Int8 {
        if signed {
            let shift = UInt8(8 - bits)
            return Int8(bitPattern: field << shift) >> shift
        }
        return Int8(bitPattern: field)
    }

    /// Unpacks the `count` fields of a packed sub-byte buffer (bitWidth 2 or 4) into bytes
    /// holding one raw field each (not sign-extended).
    public static func unpackedFields(
        _ packed: UnsafeBufferPointer<UInt8>, bitWidth: Int, count: Int,
        into out: UnsafeMutableBufferPointer<UInt8>
    ) {
        let perByte = 8 / bitWidth
        let mask = UInt8((1 << bitWidth) - 1)
        for i in 0..<min(count, out.count, packed.count * perByte) {
            out[i] = (packed[i / perByte] >> UInt8((i % perByte) * bitWidth)) & mask
        }
    }

    /// Packs one field per byte (low `bitWidth` bits used) into a sub-byte buffer, low bits first.
    public static func pack(_ fields: UnsafeBufferPointer<UInt8>, bitWidth: Int, into packed: UnsafeMutableBufferPointer<UInt8>) {
        let perByte = 8 / bitWidth
        let mask = UInt8((1 << bitWidth) - 1)
        for j in 0..<packed.count { packed[j] = 0 }
        for i in 0..<min(fields.count, packed.count * perByte) {
            packed[i / perByte] |= (fields[i] & mask) << UInt8((i % perByte) * bitWidth)
        }
    }

    // MARK: Whole tensors

    /// Whether `dtype` is one of the types this enum converts (storage-only types).
    public static func isStorageOnly(_ dtype: DType) -> Bool {
        switch dtype {
        case .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0, .float4e2m1,
            .int4, .uint4, .int2, .uint2:
            return true
        default: return false
        }
    }

    /// The small-float format of a float8/float4 dtype.
    public static func smallFloatFormat(_ dtype: DType) -> SmallFloatFormat? {
        switch dtype {
        case .float8e4m3fn: return .e4m3fn
        case .float8e4m3fnuz: return .e4m3fnuz
        case .float8e5m2: return .e5m2
        case .float8e5m2fnuz: return .e5m2fnuz
        case .float4e2m1: return .e2m1
        default: return nil
        }
    }

    /// Decodes every element of a storage-only (or float16/32/64, integer, bool) tensor to Float;
    /// nil for strings and complex types.
    public static func floats(_ t: Tensor) -> [Float]? {
        let n = t.elementCount
        var out = [Float](repeating: 0, count: n)
        let ok = out.withUnsafeMutableBufferPointer { decode(t, into: $0) }
        return ok ? out : nil
    }

    /// Decodes `t` into `out` (which holds `t.elementCount` floats); false for unsupported dtypes.
    @discardableResult
    public static func decode(_ t: Tensor, into out: UnsafeMutableBufferPointer<Float>) -> Bool {
        let n = min(out.count, t.elementCount)
        func convert<T>(_: T.Type, _ f: (T) -> Float) {
            t.withElements(as: T.self) { p in for i in 0..<min(n, p.count) { out[i] = f(p[i]) } }
        }
        switch t.dtype {
        case .float32: convert(Float.self) { $0 }
        case .float64: convert(Double.self) { Float($0) }
        case .float16: convert(Float16.self) { Float($0) }
        case .bfloat16: convert(UInt16.self) { float(bfloat16: $0) }
        case .int8: convert(Int8.self) { Float($0) }
        case .int16: convert(Int16.self) { Float($0) }
        case .int32: convert(Int32.self) { Float($0) }
        case .int64: convert(Int64.self) { Float($0) }
        case .uint8: convert(UInt8.self) { Float($0) }
        case .uint16: convert(UInt16.self) { Float($0) }
        case .uint32: convert(UInt32.self) { Float($0) }
        case .uint64: convert(UInt64.self) { Float($0) }
        case .bool: convert(UInt8.self) { $0 != 0 ? 1 : 0 }
        case .float8e8m0: convert(UInt8.self) { float(float8E8M0: $0) }
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
            let format = smallFloatFormat(t.dtype)!
            let table = format.decodeTable
            convert(UInt8.self) { table[Int($0)] }
        case .float4e2m1, .int4, .uint4, .int2, .uint2:
            let bits = t.dtype.bitWidth
            let table: [Float]
            if t.dtype == .float4e2m1 {
                table = SmallFloatFormat.e2m1.decodeTable
            } else {
                let signed = t.dtype.isSigned
                table = (0..<(1 << bits)).map { Float(subByteValue(UInt8($0), bits: bits, signed: signed)) }
            }
            let perByte = 8 / bits
            let mask = (1 << bits) - 1
            t.withElements(as: UInt8.self) { p in
                for i in 0..<min(n, p.count * perByte) {
                    out[i] = table[(Int(p[i / perByte]) >> ((i % perByte) * bits)) & mask]
                }
            }
        default: return false
        }
        return true
    }

    /// A tensor of `dtype` holding `values` converted with ONNX Cast semantics (`saturate`
    /// applies to the float8 types); nil for dtypes this cannot produce (string, complex).
    public static func tensor(
        from values: UnsafeBufferPointer<Float>, dtype: DType, shape: [Int],
        saturate: Bool = true, rounding: E8M0Rounding = .up
    ) throws -> Tensor? {
        let out = try Tensor.allocate(dtype, shape)
        let n = min(values.count, out.elementCount)
        func fill<T>(_: T.Type, _ f: (Float) -> T) {
            out.withMutableElements(as: T.self) { p in for i in 0..<n { p[i] = f(values[i]) } }
        }
        switch dtype {
        case .float32: fill(Float.self) { $0 }
        case .float64: fill(Double.self) { Double($0) }
        case .float16: fill(Float16.self) { Float16($0) }
        case .bfloat16: fill(UInt16.self) { bfloat16Bits($0) }
        case .int8: fill(Int8.self) { Int8(truncatingIfNeeded: castToInt64($0)) }
        case .int16: fill(Int16.self) { Int16(truncatingIfNeeded: castToInt64($0)) }
        case .int32: fill(Int32.self) { Int32(truncatingIfNeeded: castToInt64($0)) }
        case .int64: fill(Int64.self) { castToInt64($0) }
        case .uint8: fill(UInt8.self) { UInt8(truncatingIfNeeded: castToInt64($0)) }
        case .uint16: fill(UInt16.self) { UInt16(truncatingIfNeeded: castToInt64($0)) }
        case .uint32: fill(UInt32.self) { UInt32(truncatingIfNeeded: castToInt64($0)) }
        case .uint64: fill(UInt64.self) { castToUInt64($0) }
        case .bool: fill(UInt8.self) { $0 != 0 ? 1 : 0 }
        case .float8e8m0: fill(UInt8.self) { float8E8M0Bits($0, saturate: saturate, rounding: rounding) }
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
            let format = smallFloatFormat(dtype)!
            fill(UInt8.self) { smallFloatBits($0, format, saturate: saturate) }
        case .float4e2m1, .int4, .uint4, .int2, .uint2:
            let bits = dtype.bitWidth
            let perByte = 8 / bits
            out.withMutableElements(as: UInt8.self) { p in
                for j in 0..<p.count { p[j] = 0 }
                for i in 0..<min(n, p.count * perByte) {
                    let field =
                        dtype == .float4e2m1
                        ? smallFloatBits(values[i], .e2m1, saturate: true) : wrappedIntegerBits(values[i], bits: bits)
                    p[i / perByte] |= field << UInt8((i % perByte) * bits)
                }
            }
        default: return nil
        }
        return out
    }

    /// Float to Int64 truncating toward zero; NaN and out-of-range values give Int64.min
    /// (what x86's conversion instruction produces, so results match onnxruntime's casts).
    @inlinable
    public static func castToInt64<F: BinaryFloatingPoint>(_ x: F) -> Int64 {
        if x.isNaN || x >= 0x1p63 || x < -0x1p63 { return .min }
        return Int64(x)
    }

    /// Float to UInt64 truncating toward zero, for values up to 2^64; others as `castToInt64`.
    @inlinable
    public static func castToUInt64<F: BinaryFloatingPoint>(_ x: F) -> UInt64 {
        if x >= 0x1p63 && x < 0x1p64 { return UInt64(x) }
        return UInt64(bitPattern: castToInt64(x))
    }
}

/// Layout of a float8 or float4 type: field widths, bias, and how it spells NaN and infinity.
public struct SmallFloatFormat: Sendable {
    /// How NaN and infinity are encoded.
    public enum NaNStyle: Sendable {
        /// e4m3fn: S.1111.111 is NaN, no infinity.
        case allOnes
        /// e5m2: IEEE-like, S.11111.00 is infinity, other S.11111.xx are NaN.
        case e5m2
        /// fnuz types: 0x80 (negative zero) is the only NaN, no infinity.
        case unsignedZero
        /// float4e2m1: no NaN, no infinity.
        case none
    }

    public let bitWidth: Int
    public let exponentBits: Int
    public let mantissaBits: Int
    public let bias: Int
    public let nanStyle: NaNStyle
    /// Largest finite value and its code (without sign).
    public let maxFinite: Float
    public let maxFiniteCode: UInt8
    /// Value of every code, by code.
    public let decodeTable: [Float]

    @inlinable public var mantissaMask: UInt8 { UInt8((1 << mantissaBits) - 1) }
    @inlinable public var codeMask: UInt8 { UInt8(truncatingIfNeeded: (1 << bitWidth) - 1) }

    init(exponentBits: Int, mantissaBits: Int, bias: Int, nanStyle: NaNStyle) {
        self.bitWidth = 1 + exponentBits + mantissaBits
        self.exponentBits = exponentBits
        self.mantissaBits = mantissaBits
        self.bias = bias
        self.nanStyle = nanStyle
        let codes = 1 << bitWidth
        let signMask = codes >> 1
        let manMask = (1 << mantissaBits) - 1
        let expMax = (1 << exponentBits) - 1
        var table = [Float](repeating: 0, count: codes)
        for c in 0..<codes {
            let negative = c & signMask != 0
            let e = (c >> mantissaBits) & expMax
            let m = c & manMask
            var v: Float
            if e == 0 {
                v = Float(m) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
            } else {
                v = (1 + Float(m) / Float(1 << mantissaBits)) * Float(sign: .plus, exponent: e - bias, significand: 1)
            }
            switch nanStyle {
            case .allOnes where e == expMax && m == manMask: v = .nan
            case .e5m2 where e == expMax: v = m == 0 ? .infinity : .nan
            case .unsignedZero where c == signMask: v = .nan
            default: break
            }
            table[c] = negative && !v.isNaN ? -v : v
        }
        self.decodeTable = table
        // Largest finite code: the top code minus the ones spent on NaN/infinity.
        var top = signMask - 1
        while !table[top].isFinite { top -= 1 }
        self.maxFiniteCode = UInt8(top)
        self.maxFinite = table[top]
    }

    public static let e4m3fn = SmallFloatFormat(exponentBits: 4, mantissaBits: 3, bias: 7, nanStyle: .allOnes)
    public static let e4m3fnuz = SmallFloatFormat(exponentBits: 4, mantissaBits: 3, bias: 8, nanStyle: .unsignedZero)
    public static let e5m2 = SmallFloatFormat(exponentBits: 5, mantissaBits: 2, bias: 15, nanStyle: .e5m2)
    public static let e5m2fnuz = SmallFloatFormat(exponentBits: 5, mantissaBits: 2, bias: 16, nanStyle: .unsignedZero)
    public static let e2m1 = SmallFloatFormat(exponentBits: 2, mantissaBits: 1, bias: 1, nanStyle: .none)
}
