import SwiftConvIR
import SwiftConvKernels

/// TFLite QUANTIZE (float → integer, or integer → integer requantization) and DEQUANTIZE
/// (integer or float16 → float32), rounding as LiteRT's reference kernels.
enum TFLiteQuantizeKernels {
    static func register(into r: inout KernelRegistry) {
        r.registerTFLite("QUANTIZE") { ctx in
            return try TFLiteQuantizeKernel(ctx)
        }
        r.registerTFLite("DEQUANTIZE") { ctx in
            return try TFLiteDequantizeKernel(ctx)
        }
    }
}

/// Per-element (scale, zero point) lookup of a per-tensor or per-axis quantization.
struct ChannelQuantization: Sendable {
    let scales: [Float]
    let zeroPoints: [Int32]
    let axis: Int?

    init(_ q: QuantParams, _ what: String, _ ctx: KernelBuildContext) throws {
        guard !q.scale.isEmpty, q.scale.count == q.zeroPoint.count else { throw ctx.invalid("\(what) has malformed quantization") }
        guard q.scale.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw ctx.invalid("\(what) has a non-positive scale") }
        scales = q.scale
        zeroPoints = q.zeroPoint.map { Int32(clamping: $0) }
        axis = q.scale.count == 1 ? nil : q.axis
        if q.scale.count > 1, q.axis == nil { throw ctx.invalid("\(what) has several scales but no axis") }
    }

    /// The channel of each element of a tensor of `shape`, or an error when the axis does not fit.
    func channels(_ shape: [Int]) throws -> (inner: Int, count: Int)? {
        guard let axis else { return nil }
        guard axis < shape.count, shape[axis] == scales.count else {
            throw kernelError("\(scales.count) scales do not fit axis \(axis) of shape \(shape)")
        }
        return (shape[(axis + 1)...].reduce(1, *), scales.count)
    }
}

struct TFLiteQuantizeKernel: Kernel {
    let output: ChannelQuantization
    let outputType: DType
    /// For an integer input: its zero point and the rescaling to the output (per tensor).
    let requantize: (inputZeroPoint: Int32, multiplier: FixedPoint.Multiplier)?

    init(_ ctx: KernelBuildContext) throws {
        guard let q = ctx.quantization(ofOutput: 0), let t = ctx.outputElementType(0), isTFLiteQuantizedStorage(t) else {
            throw SwiftConvError.unsupportedOp("QUANTIZE needs an int8, uint8 or int16 output with quantization").at(ctx.nodeContext)
        }
        output = try ChannelQuantization(q, "output", ctx)
        outputType = t
        let inType = ctx.inputType(0)?.tensorElementType
        if let inType, isTFLiteQuantizedStorage(inType) {
            let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
            guard output.axis == nil else { throw SwiftConvError.unsupportedOp("per-channel requantization").at(ctx.nodeContext) }
            requantize = (i.zeroPoint, FixedPoint.Multiplier(Double(i.scale) / Double(output.scales[0])))
        } else {
            requantize = nil
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let r = storageRange(outputType)
        var out = [Int32](repeating: 0, count: x.elementCount)
        if let (zin, m) = requantize {
            guard isTFLiteQuantizedStorage(x.dtype) else { throw kernelError("QUANTIZE expected an integer input, got \(x.dtype)") }
            let zout = output.zeroPoints[0]
            for (i, v) in try widenedIntegers(x).enumerated() {
                out[i] = min(max(m.apply(v &- zin) &+ zout, r.lowerBound), r.upperBound)
            }
        } else {
            guard let xs = DTypeConversion.floats(x), x.dtype == .float32 || x.dtype == .float16 else {
                throw kernelError("QUANTIZE expects a float input, got \(x.dtype)")
            }
            let lo = Float(r.lowerBound), hi = Float(r.upperBound)
            let layout = try output.channels(x.shape)
            for i in xs.indices {
                let c = layout.map { (i / $0.inner) % $0.count } ?? 0
                // TfLiteRound(x / scale) + zero point, clamped; NaN becomes the zero point.
                var v = (xs[i] / output.scales[c]).rounded(.toNearestOrAwayFromZero)
                if v.isNaN { v = 0 }
                v = min(max(v + Float(output.zeroPoints[c]), lo), hi)
                out[i] = Int32(v)
            }
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }
}

struct TFLiteDequantizeKernel: Kernel {
    let input: ChannelQuantization?

    init(_ ctx: KernelBuildContext) throws {
        let t = ctx.inputType(0)?.tensorElementType ?? ctx.constant(0)?.dtype
        if t == .float16 || t == .float32 {
            input = nil
        } else {
            guard let q = ctx.quantization(ofInput: 0) else { throw ctx.invalid("DEQUANTIZE input has no quantization") }
            input = try ChannelQuantization(q, "input", ctx)
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard let input else {
            guard let xs = DTypeConversion.floats(x), x.dtype == .float16 || x.dtype == .float32 else {
                throw kernelError("DEQUANTIZE without quantization expects float16, got \(x.dtype)")
            }
            return [.tensor(Tensor(dtype: .float32, shape: x.shape, values: xs))]
        }
        guard isTFLiteQuantizedStorage(x.dtype) || x.dtype == .int32 else { throw kernelError("DEQUANTIZE of \(x.dtype)") }
        let xs = try widenedIntegers(x)
        var out = [Float](repeating: 0, count: xs.count)
        if let (inner, count) = try input.channels(x.shape) {
            // PerChannelDequantize: float scale times the int32 difference.
            for i in xs.indices {
                let c = (i / inner) % count
                out[i] = input.scales[c] * Float(xs[i] &- input.zeroPoints[c])
            }
        } else {
            // Dequantize: the scale as double times the difference, then to float.
            let s = Double(input.scales[0]), z = input.zeroPoints[0]
            for i in xs.indices { out[i] = Float(s * Double(xs[i] &- z)) }
        }
        return [.tensor(Tensor(dtype: .float32, shape: x.shape, values: out))]
    }
}
