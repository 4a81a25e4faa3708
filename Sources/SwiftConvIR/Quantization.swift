/// Affine quantization of a tensor: `real = scale * (q - zeroPoint)`, where `q` is a stored
/// integer of `storageType`, with one (scale, zero point) pair for the whole tensor or one per
/// index along `axis` (per-channel quantization, as used for convolution weights).
///
/// It rides on a value's type (`ValueType.tensor(..., quantization:)`) and on a constant
/// tensor (`Tensor.quantization`, TFLite weights). In both places `storageType` equals the
/// element type of the tensor that carries it (`ModelChecker` enforces this): the type says
/// what is stored, the parameters say what it means. It is kept here as well so that the
/// parameters can be range-checked and handed to a kernel on their own.
public struct QuantParams: Hashable, Sendable {
    /// One entry per tensor, or one per index along `axis`; each finite and > 0.
    public var scale: [Float]
    /// Same count as `scale`; each within `storageType`'s integer range.
    public var zeroPoint: [Int64]
    /// nil for per-tensor quantization; the (non-negative) channel axis otherwise.
    public var axis: Int?
    /// The integer type the quantized values are stored in (int8, uint8, int16, int32, int4, ...).
    public var storageType: DType

    /// Quantization with `scale` and `zeroPoint` per tensor (`axis` nil) or per index along `axis`, stored as `storageType`.
    public init(scale: [Float], zeroPoint: [Int64], axis: Int? = nil, storageType: DType) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.axis = axis
        self.storageType = storageType
    }

    /// Per-tensor quantization with one scale and one zero point.
    public init(scale: Float, zeroPoint: Int64, storageType: DType) {
        self.init(scale: [scale], zeroPoint: [zeroPoint], axis: nil, storageType: storageType)
    }

    /// True when one (scale, zero point) pair covers the whole tensor.
    public var isPerTensor: Bool { axis == nil }

    /// How many (scale, zero point) pairs there are: 1 per tensor, else the channel count.
    public var channelCount: Int { scale.count }

    /// The scale of channel `c` (the only scale when per-tensor); nil when out of range.
    public func scale(forChannel c: Int) -> Float? {
        if isPerTensor { return scale.first }
        return c >= 0 && c < scale.count ? scale[c] : nil
    }

    /// The zero point of channel `c` (the only one when per-tensor); nil when out of range.
    public func zeroPoint(forChannel c: Int) -> Int64? {
        if isPerTensor { return zeroPoint.first }
        return c >= 0 && c < zeroPoint.count ? zeroPoint[c] : nil
    }

    /// The integer range `storageType` can hold; nil when it is not an integer type.
    public static func storageRange(_ dtype: DType) -> ClosedRange<Int64>? {
        switch dtype {
        case .uint2: return 0...3
        case .int2: return -2...1
        case .uint4: return 0...15
        case .int4: return -8...7
        case .uint8: return 0...255
        case .int8: return -128...127
        case .uint16: return 0...65535
        case .int16: return -32768...32767
        case .uint32: return 0...4_294_967_295
        case .int32: return -2_147_483_648...2_147_483_647
        case .int64: return Int64.min...Int64.max
        default: return nil
        }
    }

    /// The problem with these parameters for a tensor of `elementType` and `shape`, or nil
    /// when they are consistent (the rules `ModelChecker` applies to every value's type).
    public func violation(elementType: DType, shape: Shape?) -> String? {
        guard let range = Self.storageRange(storageType) else {
            return "quantization storage type \(storageType) is not an integer type"
        }
        guard storageType == elementType else {
            return "quantization storage type \(storageType) differs from the element type \(elementType)"
        }
        guard !scale.isEmpty else { return "quantization has no scale" }
        guard zeroPoint.count == scale.count else {
            return "quantization has \(scale.count) scales but \(zeroPoint.count) zero points"
        }
        if let bad = scale.first(where: { !($0.isFinite && $0 > 0) }) {
            return "quantization scale \(bad) is not finite and positive"
        }
        if let bad = zeroPoint.first(where: { !range.contains($0) }) {
            return "quantization zero point \(bad) is outside the \(storageType) range \(range.lowerBound)...\(range.upperBound)"
        }
        guard let axis else {
            return scale.count == 1 ? nil : "per-tensor quantization has \(scale.count) scales"
        }
        guard axis >= 0 else { return "quantization axis \(axis) is negative" }
        guard let shape else { return nil }
        guard axis < shape.count else { return "quantization axis \(axis) is out of range for rank \(shape.count)" }
        if case .known(let n) = shape[axis], n != scale.count {
            return "quantization has \(scale.count) scales for \(n) channels along axis \(axis)"
        }
        return nil
    }

    /// Reads parameters from constant tensors, as Q/DQ ops and ONNX annotations give them:
    /// a float scale (float32, float16, bfloat16) and an integer zero point of `storageType`
    /// (absent means 0). `axis` applies when the scale has more than one element. Returns nil when the constants cannot be expressed
    /// (block quantization, float8 storage, mismatched counts or types, per-axis without an axis).
    public static func fromConstants(scale: Tensor, zeroPoint: Tensor?, storageType: DType, axis: Int?) -> QuantParams? {
        guard storageRange(storageType) != nil, scale.shape.count <= 1, let scales = floatValues(scale), !scales.isEmpty
        else { return nil }
        var zeroPoints = [Int64](repeating: 0, count: scales.count)
        if let zeroPoint {
            guard zeroPoint.dtype == storageType, zeroPoint.shape == scale.shape, let z = integerValues(zeroPoint),
                z.count == scales.count
            else { return nil }
            zeroPoints = z
        }
        // A single scale is per-tensor whatever the axis (kernels treat it so too).
        let perAxis = scales.count != 1
        if perAxis, axis == nil { return nil }
        return QuantParams(scale: scales, zeroPoint: zeroPoints, axis: perAxis ? axis : nil, storageType: storageType)
    }

    /// A float scale tensor's values as Float; nil for other dtypes.
    static func floatValues(_ t: Tensor) -> [Float]? {
        guard t.byteCount * 8 == t.elementCount * t.dtype.bitWidth else { return nil }
        switch t.dtype {
        case .float32: return t.values(as: Float.self)
        case .float16: return t.values(as: UInt16.self).map { Float(Float16(bitPattern: $0)) }
        case .bfloat16: return t.values(as: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
        default: return nil
        }
    }

    /// An integer tensor's values, sub-byte types unpacked (low bits first) and sign-extended.
    static func integerValues(_ t: Tensor) -> [Int64]? {
        let bits = t.dtype.bitWidth
        guard bits < 8 else { return t.int64Values() }
        guard t.dtype.isInteger, t.dtype.byteCount(elements: t.elementCount) == t.byteCount else { return nil }
        let bytes = t.values(as: UInt8.self)
        return (0..<t.elementCount).map { i in
            let raw = Int64((bytes[i * bits / 8] >> UInt8((i * bits) % 8)) & UInt8((1 << bits) - 1))
            return t.dtype.isSigned && raw >= Int64(1) << (bits - 1) ? raw - (Int64(1) << bits) : raw
        }
    }

    /// The scales as a float32 tensor: a scalar when per-tensor, 1-D when per-axis.
    public func scaleTensor(name: String) -> Tensor {
        Tensor(name: name, dtype: .float32, shape: isPerTensor ? [] : [scale.count], values: scale)
    }

    /// The zero points as a tensor of `storageType` (sub-byte types packed low bits first);
    /// nil when `storageType` is not an integer type or a zero point does not fit it.
    public func zeroPointTensor(name: String) -> Tensor? {
        guard let range = Self.storageRange(storageType), zeroPoint.allSatisfy(range.contains) else { return nil }
        let shape = isPerTensor ? [] : [zeroPoint.count]
        let bits = storageType.bitWidth
        guard let byteCount = storageType.byteCount(elements: zeroPoint.count) else { return nil }
        var bytes = [UInt8](repeating: 0, count: byteCount)
        for (i, z) in zeroPoint.enumerated() {
            let u = UInt64(bitPattern: z)
            if bits >= 8 {
                for b in 0..<(bits / 8) { bytes[i * bits / 8 + b] = UInt8(truncatingIfNeeded: u >> (8 * b)) }
            } else {
                let mask = UInt8((1 << bits) - 1)
                let shift = (i * bits) % 8
                bytes[i * bits / 8] |= (UInt8(truncatingIfNeeded: u) & mask) << shift
            }
        }
        return Tensor(name: name, dtype: storageType, shape: shape, storage: TensorStorage(copyingArray: bytes))
    }
}

extension QuantParams: CustomStringConvertible {
    /// `uint8 scale 0.5 zero point 3`, or `int8 axis 0 scales [...] zero points [...]`.
    public var description: String {
        if let axis {
            return "\(storageType) axis \(axis) scales \(scale) zero points \(zeroPoint)"
        }
        return "\(storageType) scale \(scale.first ?? 0) zero point \(zeroPoint.first ?? 0)"
    }
}
