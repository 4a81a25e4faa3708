import SwiftConvIR

/// The storage types TFLite's full-integer kernels compute on.
func isTFLiteQuantizedStorage(_ t: DType?) -> Bool { t == .int8 || t == .uint8 || t == .int16 }

/// One per-tensor affine quantization as TFLite's kernels use it: a float scale and an int32 zero point.
struct TensorQuant: Sendable {
    var scale: Float
    var zeroPoint: Int32
    var storage: DType

    /// The per-tensor quantization of `q`; a per-axis one is refused (`what` names the tensor).
    init(_ q: QuantParams?, _ what: String, _ ctx: KernelBuildContext) throws {
        guard let q, let s = q.scale.first, let z = q.zeroPoint.first else {
            throw ctx.invalid("\(what) has no quantization parameters")
        }
        guard q.scale.count == 1 else { throw ctx.invalid("\(what) must be quantized per tensor") }
        guard let zp = Int32(exactly: z) else { throw ctx.invalid("\(what) zero point \(z) is out of range") }
        scale = s
        zeroPoint = zp
        storage = q.storageType
    }

    init(scale: Float, zeroPoint: Int32, storage: DType) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.storage = storage
    }

    /// The storage type's integer range.
    var range: ClosedRange<Int32> { storageRange(storage) }
}

/// The integer range of a TFLite activation storage type.
func storageRange(_ t: DType) -> ClosedRange<Int32> {
    switch t {
    case .uint8: return 0...255
    case .int16: return -32768...32767
    case .int32: return Int32.min...Int32.max
    default: return -128...127
    }
}

extension KernelBuildContext {
    /// The quantization of input `i`: the value type's, else the constant tensor's own.
    func quantization(ofInput i: Int) -> QuantParams? { inputQuantization(i) ?? constant(i)?.quantization }

    /// The declared quantization of output `i`.
    func quantization(ofOutput i: Int) -> QuantParams? { i < outputTypes.count ? outputTypes[i]?.quantization : nil }

    /// The declared element type of output `i`.
    func outputElementType(_ i: Int) -> DType? { i < outputTypes.count ? outputTypes[i]?.tensorElementType : nil }

    /// The node's `fused_activation_function` (schema default "NONE").
    var fusedActivation: String { string("fused_activation_function", default: "NONE") }
}

/// TFLite's `CalculateActivationRangeQuantized`: the fused activation's bounds quantized
/// with the output's scale and zero point (`TfLiteRound(f / scale)`), intersected with the storage range.
func quantizedActivationRange(_ activation: String, _ out: TensorQuant, _ ctx: KernelBuildContext) throws -> ClosedRange<Int32> {
    let r = out.range
    func q(_ f: Float) -> Int32 {
        let v = (f / out.scale).rounded(.toNearestOrAwayFromZero)
        guard v.isFinite, abs(v) < 1e9 else { return v < 0 ? Int32.min / 2 : Int32.max / 2 }
        return out.zeroPoint + Int32(v)
    }
    let lo: Int32, hi: Int32
    switch activation {
    case "NONE": return r
    case "RELU": (lo, hi) = (max(r.lowerBound, q(0)), r.upperBound)
    case "RELU6": (lo, hi) = (max(r.lowerBound, q(0)), min(r.upperBound, q(6)))
    case "RELU_N1_TO_1": (lo, hi) = (max(r.lowerBound, q(-1)), min(r.upperBound, q(1)))
    default: throw SwiftConvError.unsupportedOp("fused activation \(activation) on a quantized \(ctx.node.opType)").at(ctx.nodeContext)
    }
    guard lo <= hi else { return lo...lo }
    return lo...hi
}

/// A quantized tensor's stored integers widened to Int32 (int8, uint8, int16).
func widenedIntegers(_ t: Tensor) throws -> [Int32] {
    // One pass over the stored bytes (no intermediate array of the narrow type).
    func widen<T: BinaryInteger>(_: T.Type) -> [Int32] {
        let bytes = t.storage.bytes
        let count = bytes.count / MemoryLayout<T>.stride
        return [Int32](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count { out[i] = Int32(bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: T.self)) }
            initialized = count
        }
    }
    switch t.dtype {
    case .int8: return widen(Int8.self)
    case .uint8: return widen(UInt8.self)
    case .int16: return widen(Int16.self)
    case .int32: return t.values(as: Int32.self)
    default: throw kernelUnsupported("a quantized kernel got a \(t.dtype) tensor")
    }
}

/// Int32 values (already within `dtype`'s range) stored as a tensor of `dtype`.
func narrowedTensor(_ v: [Int32], dtype: DType, shape: [Int]) -> Tensor {
    switch dtype {
    case .uint8: return Tensor(dtype: .uint8, shape: shape, values: v.map { UInt8(truncatingIfNeeded: $0) })
    case .int16: return Tensor(dtype: .int16, shape: shape, values: v.map { Int16(truncatingIfNeeded: $0) })
    case .int32: return Tensor(dtype: .int32, shape: shape, values: v)
    default: return Tensor(dtype: .int8, shape: shape, values: v.map { Int8(truncatingIfNeeded: $0) })
    }
}

/// TFLite's SAME/VALID output size and leading padding (`ComputePaddingHeightWidth`): padding
/// before is half the total, the odd remainder goes after.
func tflitePadding(_ padding: String, input: Int, filter: Int, stride: Int, dilation: Int) throws -> (out: Int, before: Int) {
    guard stride > 0, dilation > 0, filter > 0 else { throw kernelError("stride, dilation and filter size must be positive") }
    let (eff, o1) = (filter - 1).multipliedReportingOverflow(by: dilation)
    guard !o1 else { throw kernelError("filter size overflows") }
    let effective = eff + 1
    let out: Int
    switch padding {
    case "SAME": out = (input + stride - 1) / stride
    case "VALID": out = input >= effective ? (input - effective + stride) / stride : 0
    default: throw kernelUnsupported("padding \(padding)")
    }
    let total = (out - 1) * stride + effective - input
    return (out, max(0, total / 2))
}

/// Rank-4 NHWC dimensions of `t`, or an error naming `what`.
func nhwc(_ t: Tensor, _ what: String) throws -> (n: Int, h: Int, w: Int, c: Int) {
    guard t.shape.count == 4 else { throw kernelError("\(what) must be rank 4 (NHWC), got \(t.shape)") }
    return (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
}
