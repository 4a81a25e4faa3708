import SwiftConvIR
import SwiftConvKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An 8-bit activation computed through a 256-entry table, as LiteRT's `LUTPopulate`:
/// dequantize in float, transform, `round(y / outScale) + outZeroPoint`, clamp.
struct IntegerLookupTableKernel: Kernel {
    let table: [Int32] // indexed by stored value - storage minimum
    let minimum: Int32
    let outputType: DType

    init(_ ctx: KernelBuildContext, _ transform: (Float) -> Float) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage, i.storage != .int16 else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        let r = i.range
        let inverse = 1 / o.scale
        table = (r.lowerBound...r.upperBound).map { v in
            let x = i.scale * Float(v - i.zeroPoint)
            let q = (transform(x) * inverse).rounded(.toNearestOrAwayFromZero) + Float(o.zeroPoint)
            guard q.isFinite else { return q > 0 ? r.upperBound : r.lowerBound }
            return Int32(min(max(q, Float(r.lowerBound)), Float(r.upperBound)))
        }
        minimum = r.lowerBound
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let out = try widenedIntegers(x).map { table[Int($0 - minimum)] }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }

    static func logistic(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
    static func tanh(_ x: Float) -> Float { tanhf(x) }
    static func geluExact(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * Float(0.5.squareRoot()))) }
    static func geluTanh(_ x: Float) -> Float {
        let k = Float((2 / Double.pi).squareRoot())
        return 0.5 * x * (1 + tanhf(k * (x + 0.044715 * x * x * x)))
    }
}

/// Quantized SOFTMAX over the last axis (LiteRT's 8-bit table path): `exp(-s·β·d)` for each
/// difference d to the row maximum from a 256-entry float table, summed in float, each
/// probability `round(e / (sum · outScale)) + outZeroPoint`.
struct IntegerSoftmaxKernel: Kernel {
    let table: [Float] // table[d] = exp(-inputScale * beta * d), d in 0...255
    let outputScale: Float
    let outputZeroPoint: Int32
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == .int8 || i.storage == .uint8, o.storage == i.storage else {
            throw SwiftConvError.unsupportedOp("SOFTMAX of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        let scale = -i.scale * ctx.float("beta", default: 1)
        table = (0...255).map { expf(scale * Float($0)) }
        outputScale = o.scale
        outputZeroPoint = o.zeroPoint
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard let depth = x.shape.last, depth > 0 else { return [.tensor(narrowedTensor([], dtype: outputType, shape: x.shape))] }
        let xs = try widenedIntegers(x)
        let r = storageRange(outputType)
        var out = [Int32](repeating: 0, count: xs.count)
        for row in stride(from: 0, to: xs.count, by: depth) {
            var m = Int32.min
            for j in 0..<depth { m = max(m, xs[row + j]) }
            var sum: Float = 0
            for j in 0..<depth { sum += table[Int(m - xs[row + j])] }
            let inv = 1 / (sum * outputScale)
            for j in 0..<depth {
                let p = (table[Int(m - xs[row + j])] * inv).rounded(.toNearestOrAwayFromZero)
                out[row + j] = min(max(Int32(p) + outputZeroPoint, r.lowerBound), r.upperBound)
            }
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }
}

/// Quantized LEAKY_RELU (TFLite's `QuantizeLeakyRelu`): `x - zin` rescaled by `sin/sout` when
/// non-negative, by `sin·alpha/sout` when negative (multipliers computed in float as Prepare does).
struct IntegerLeakyReluKernel: Kernel {
    let inputZeroPoint: Int32, outputZeroPoint: Int32
    let identity: FixedPoint.Multiplier, alpha: FixedPoint.Multiplier
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage, i.storage != .int16 else {
            throw SwiftConvError.unsupportedOp("LEAKY_RELU of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        inputZeroPoint = i.zeroPoint
        outputZeroPoint = o.zeroPoint
        identity = FixedPoint.Multiplier(Double(i.scale / o.scale))
        alpha = FixedPoint.Multiplier(Double(i.scale * ctx.float("alpha", default: 0) / o.scale))
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let r = storageRange(outputType)
        let out = try widenedIntegers(x).map { v -> Int32 in
            let d = v - inputZeroPoint
            let y = (d >= 0 ? identity : alpha).apply(d) &+ outputZeroPoint
            return min(max(y, r.lowerBound), r.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }
}

/// Quantized HARD_SWISH (TFLite's reference int8 `HardSwish`): int16 fixed point, the input
/// on a 2^7-finer scale, a "reluish" factor `relu6(x+3)/6` in Q15 and the output rescale,
/// both with 16-bit multipliers.
struct IntegerHardSwishKernel: Kernel {
    let inputZeroPoint: Int32, outputZeroPoint: Int32
    let outputMultiplier: Int16, outputExponent: Int
    let reluishMultiplier: Int16, reluishExponent: Int
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage, i.storage != .int16 else {
            throw SwiftConvError.unsupportedOp("HARD_SWISH of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        inputZeroPoint = i.zeroPoint
        outputZeroPoint = o.zeroPoint
        let hires = (1 / Float(128)) * i.scale
        let om = FixedPoint.Multiplier(Double(hires / o.scale))
        let rm = FixedPoint.Multiplier(Double(hires / (3 / Float(32768))))
        guard om.shift <= 0 else { throw SwiftConvError.unsupportedOp("HARD_SWISH output rescale above 1").at(ctx.nodeContext) }
        outputMultiplier = Self.downscale(om.mantissa)
        outputExponent = om.shift
        reluishMultiplier = Self.downscale(rm.mantissa)
        reluishExponent = rm.shift
        outputType = o.storage
    }

    /// `DownScaleInt32ToInt16Multiplier`: the Q31 mantissa rounded to Q15, saturating.
    static func downscale(_ m: Int32) -> Int16 {
        if m >= Int32.max - (1 << 15) { return Int16.max }
        return Int16(truncatingIfNeeded: (m + (1 << 15)) >> 16)
    }

    static func srdhm16(_ a: Int16, _ b: Int16) -> Int16 {
        if a == b && a == Int16.min { return Int16.max }
        let ab = Int32(a) * Int32(b)
        let nudge: Int32 = ab >= 0 ? (1 << 14) : (1 - (1 << 14))
        return Int16(truncatingIfNeeded: (ab + nudge) / (1 << 15))
    }

    static func sdhm16(_ a: Int16, _ b: Int16) -> Int16 {
        if a == b && a == Int16.min { return Int16.max }
        return Int16(truncatingIfNeeded: (Int32(a) * Int32(b)) / (1 << 15))
    }

    static func rdbpot16(_ x: Int16, _ e: Int) -> Int16 {
        let mask: Int16 = Int16(truncatingIfNeeded: (1 << e) - 1)
        let remainder = x & mask
        let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
        return (x >> Int16(e)) + (remainder > threshold ? 1 : 0)
    }

    static func saturatingLeftShift(_ x: Int16, _ n: Int) -> Int16 { Int16(clamping: Int32(x) << Int32(n)) }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let r = storageRange(outputType)
        let out = try widenedIntegers(x).map { v -> Int32 in
            let input = Int16(truncatingIfNeeded: v - inputZeroPoint)
            let hires = input &* (1 << 7)
            let preshift = Self.srdhm16(hires, outputMultiplier)
            var reluish = hires
            if reluishExponent > 0 { reluish = Self.saturatingLeftShift(reluish, reluishExponent - 1) }
            reluish = Self.srdhm16(reluish, reluishMultiplier)
            if reluishExponent > 0 { reluish = Self.saturatingLeftShift(reluish, 1) }
            if reluishExponent < 0 { reluish = Self.rdbpot16(reluish, -reluishExponent) }
            reluish = Int16(truncatingIfNeeded: (Int32(reluish) + (1 << 15)) >> 1)
            let pre = Self.sdhm16(reluish, preshift)
            let y = Int32(Self.rdbpot16(pre, -outputExponent)) + outputZeroPoint
            return min(max(y, r.lowerBound), r.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }
}

/// Quantized PRELU (TFLite's `BroadcastPrelu4DSlow`): `x - zin` rescaled by `sin/sout` when
/// non-negative, else `(x - zin)(a - za)` rescaled by `sin·sa/sout`; alpha broadcasts.
struct IntegerPreluKernel: Kernel {
    let inputZeroPoint: Int32, alphaZeroPoint: Int32, outputZeroPoint: Int32
    let identity: FixedPoint.Multiplier, negative: FixedPoint.Multiplier
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let a = try TensorQuant(ctx.quantization(ofInput: 1), "alpha", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage, a.storage == o.storage, o.storage != .int16 else {
            throw SwiftConvError.unsupportedOp("PRELU of \(i.storage) and \(a.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        inputZeroPoint = i.zeroPoint
        alphaZeroPoint = a.zeroPoint
        outputZeroPoint = o.zeroPoint
        identity = FixedPoint.Multiplier(Double(i.scale / o.scale))
        negative = FixedPoint.Multiplier(Double(i.scale * a.scale / o.scale))
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), alpha = try inputs.tensor(1)
        let r = storageRange(outputType)
        let (out, shape) = try broadcastInt32(try widenedIntegers(x), x.shape, try widenedIntegers(alpha), alpha.shape) { v, a in
            let d = v - inputZeroPoint
            let y = (d >= 0 ? identity.apply(d) : negative.apply(d &* (a - alphaZeroPoint))) &+ outputZeroPoint
            return min(max(y, r.lowerBound), r.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: shape))]
    }
}
