import SwiftConvIR
import SwiftConvKernels

/// `f(a[i], b[i])` over numpy-broadcast Int32 operands.
func broadcastInt32(_ a: [Int32], _ sa: [Int], _ b: [Int32], _ sb: [Int], _ f: (Int32, Int32) -> Int32) throws -> ([Int32], [Int]) {
    let shape = try broadcastShapes(sa, sb)
    let n = shape.reduce(1, *)
    var out = [Int32](repeating: 0, count: n)
    if sa == sb {
        for i in 0..<n { out[i] = f(a[i], b[i]) }
    } else {
        let stA = broadcastStrides(sa, to: shape), stB = broadcastStrides(sb, to: shape)
        forEachBroadcastRun(outShape: shape, inputStrides: [stA, stB]) { o, ins, count, inner in
            var ia = ins[0], ib = ins[1]
            for k in 0..<count {
                out[o + k] = f(a[ia], b[ib])
                ia += inner[0]
                ib += inner[1]
            }
        }
    }
    return (out, shape)
}

/// Quantized ADD and SUB as TFLite's general 8/16-bit path: both inputs shifted left
/// (20 bits for 8-bit, 15 for int16), scaled to twice the larger input scale, summed (SUB
/// negates the second multiplier), then rescaled to the output.
struct IntegerAddSubKernel: Kernel {
    let offset1: Int32, offset2: Int32, outputOffset: Int32
    let leftShift: Int32
    let m1: FixedPoint.Multiplier, m2: FixedPoint.Multiplier, mOut: FixedPoint.Multiplier
    let clamp: ClosedRange<Int32>
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let a = try TensorQuant(ctx.quantization(ofInput: 0), "input 0", ctx)
        let b = try TensorQuant(ctx.quantization(ofInput: 1), "input 1", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard a.storage == o.storage, b.storage == o.storage else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) of \(a.storage) and \(b.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        if o.storage == .int16 {
            // TFLite's power-of-two int16 path (the schema default) differs; only the general one is here.
            let pot = ctx.int("pot_scale_int16", default: 1) != 0
            let allPOT = [a, b, o].allSatisfy { $0.zeroPoint == 0 && $0.scale.significand == 1 }
            if pot && allPOT {
                throw SwiftConvError.unsupportedOp("int16 \(ctx.node.opType) with power-of-two scales").at(ctx.nodeContext)
            }
        }
        offset1 = -a.zeroPoint
        offset2 = -b.zeroPoint
        outputOffset = o.zeroPoint
        leftShift = o.storage == .int16 ? 15 : 20
        let twiceMax = Double(2 * max(a.scale, b.scale))
        m1 = FixedPoint.Multiplier(Double(a.scale) / twiceMax)
        var second = FixedPoint.Multiplier(Double(b.scale) / twiceMax)
        if ctx.node.opType == "SUB" { second.mantissa = -second.mantissa }
        m2 = second
        mOut = FixedPoint.Multiplier(twiceMax / (Double(Float(Int32(1) << leftShift) * o.scale)))
        clamp = try quantizedActivationRange(ctx.fusedActivation, o, ctx)
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), y = try inputs.tensor(1)
        if x.shape == y.shape, x.dtype == outputType, y.dtype == outputType, outputType == .int8 || outputType == .uint8 {
            return [.tensor(sameShape8Bit(x, y, context))]
        }
        let (out, shape) = try broadcastInt32(try widenedIntegers(x), x.shape, try widenedIntegers(y), y.shape) { p, q in
            let s1 = m1.apply((p &+ offset1) &<< leftShift)
            let s2 = m2.apply((q &+ offset2) &<< leftShift)
            let r = mOut.apply(s1 &+ s2) &+ outputOffset
            return min(max(r, clamp.lowerBound), clamp.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: shape))]
    }

    /// The common case (a residual connection): same-shape 8-bit operands read and written as
    /// bytes in place of the widened, broadcasting path; the arithmetic is the same.
    private func sameShape8Bit(_ x: Tensor, _ y: Tensor, _ context: ExecutionContext) -> Tensor {
        let count = min(x.storage.bytes.count, y.storage.bytes.count)
        var out = [UInt8](repeating: 0, count: count)
        let signed = outputType == .int8
        let params = QuantizedAdd(
            offset1: offset1, offset2: offset2, leftShift: leftShift, m1: m1, m2: m2, mOut: mOut, zeroPoint: outputOffset,
            lo: clamp.lowerBound, hi: clamp.upperBound)
        let table = KernelTable.best
        let xb = x.storage.bytes, yb = y.storage.bytes
        out.withUnsafeMutableBufferPointer { ob in
            let op = ob.baseAddress!
            context.threads.parallelFor(count, grain: 16_384) { range in
                table.quantizedAdd(
                    range.count, xb.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound,
                    yb.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound, signed, params,
                    op + range.lowerBound)
            }
        }
        return Tensor(dtype: outputType, shape: x.shape, values: out)
    }
}

/// Quantized MUL (TFLite's reference `MulElementwise`): the product of the offset inputs,
/// rescaled by `s1 * s2 / so` (computed in float, as TFLite's Prepare does).
struct IntegerMulKernel: Kernel {
    let offset1: Int32, offset2: Int32, outputOffset: Int32
    let multiplier: FixedPoint.Multiplier
    let clamp: ClosedRange<Int32>
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let a = try TensorQuant(ctx.quantization(ofInput: 0), "input 0", ctx)
        let b = try TensorQuant(ctx.quantization(ofInput: 1), "input 1", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard a.storage == o.storage, b.storage == o.storage else {
            throw SwiftConvError.unsupportedOp("MUL of \(a.storage) and \(b.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        offset1 = -a.zeroPoint
        offset2 = -b.zeroPoint
        outputOffset = o.zeroPoint
        multiplier = FixedPoint.Multiplier(Double(a.scale * b.scale / o.scale))
        clamp = try quantizedActivationRange(ctx.fusedActivation, o, ctx)
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), y = try inputs.tensor(1)
        let (out, shape) = try broadcastInt32(try widenedIntegers(x), x.shape, try widenedIntegers(y), y.shape) { p, q in
            let r = multiplier.apply((p &+ offset1) &* (q &+ offset2)) &+ outputOffset
            return min(max(r, clamp.lowerBound), clamp.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: shape))]
    }
}

/// Quantized RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1 (TFLite's `ReluX`): requantize from the
/// input to the output scale (`MultiplyByQuantizedMultiplier` of `x - zin` by `sin / sout`),
/// then clamp to the quantized activation bounds.
struct IntegerReluKernel: Kernel {
    let inputZeroPoint: Int32, outputZeroPoint: Int32
    let multiplier: FixedPoint.Multiplier
    let clamp: ClosedRange<Int32>
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage, i.storage != .int16 else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        inputZeroPoint = i.zeroPoint
        outputZeroPoint = o.zeroPoint
        multiplier = FixedPoint.Multiplier(Double(i.scale) / Double(o.scale))
        let bounds: (Float, Float?) =
            switch ctx.node.opType {
            case "RELU": (0, nil)
            case "RELU6": (0, 6)
            case "RELU_N1_TO_1": (-1, 1)
            default: (0, 1)
            }
        func q(_ f: Float) -> Int32 {
            let v = (f / o.scale).rounded(.toNearestOrAwayFromZero)
            return v.isFinite && abs(v) < 1e9 ? o.zeroPoint + Int32(v) : (v < 0 ? Int32.min / 2 : Int32.max / 2)
        }
        let r = o.range
        let lo = max(r.lowerBound, q(bounds.0))
        let hi = bounds.1.map { min(r.upperBound, q($0)) } ?? r.upperBound
        clamp = lo...max(lo, hi)
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let out = try widenedIntegers(x).map { v in
            let r = multiplier.apply(v &- inputZeroPoint) &+ outputZeroPoint
            return min(max(r, clamp.lowerBound), clamp.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }
}

/// Quantized MAX_POOL_2D and AVERAGE_POOL_2D (TFLite's reference integer pooling): windows
/// over valid taps only; the average rounds half away from zero; same scale in and out.
struct IntegerPoolKernel: Kernel {
    let isMax: Bool
    let kh: Int, kw: Int, strideH: Int, strideW: Int
    let padding: String
    let clamp: ClosedRange<Int32>
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        isMax = ctx.node.opType == "MAX_POOL_2D"
        kh = Int(ctx.int("filter_height", default: 0))
        kw = Int(ctx.int("filter_width", default: 0))
        strideH = Int(ctx.int("stride_h", default: 0))
        strideW = Int(ctx.int("stride_w", default: 0))
        guard kh > 0, kw > 0, strideH > 0, strideW > 0 else { throw ctx.invalid("filter and stride sizes must be positive") }
        padding = ctx.string("padding", default: "SAME")
        clamp = try quantizedActivationRange(ctx.fusedActivation, o, ctx)
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (n, h, w, c) = try nhwc(x, "input")
        let (oh, padT) = try tflitePadding(padding, input: h, filter: kh, stride: strideH, dilation: 1)
        let (ow, padL) = try tflitePadding(padding, input: w, filter: kw, stride: strideW, dilation: 1)
        let xs = try widenedIntegers(x)
        var out = [Int32](repeating: 0, count: n * oh * ow * c)
        // Channels innermost (contiguous in NHWC): one window walk per output pixel, not per channel.
        var acc = [Int32](repeating: 0, count: c)
        try xs.withUnsafeBufferPointer { xb in
            try out.withUnsafeMutableBufferPointer { ob in
                try acc.withUnsafeMutableBufferPointer { ab in
                    guard let xp = xb.baseAddress, let op = ob.baseAddress, let ap = ab.baseAddress else { return }
                    for b in 0..<n {
                        for oy in 0..<oh {
                            let y0 = max(0, oy * strideH - padT), y1 = min(h, oy * strideH - padT + kh)
                            for ox in 0..<ow {
                                let x0 = max(0, ox * strideW - padL), x1 = min(w, ox * strideW - padL + kw)
                                let count = Int32(max(0, y1 - y0) * max(0, x1 - x0))
                                if !isMax, count == 0 { throw kernelError("a pooling window covers no input") }
                                ap.update(repeating: isMax ? Int32.min : 0, count: c)
                                for iy in y0..<max(y0, y1) {
                                    for ix in x0..<max(x0, x1) {
                                        let row = xp + ((b * h + iy) * w + ix) * c
                                        if isMax {
                                            for ch in 0..<c { ap[ch] = max(ap[ch], row[ch]) }
                                        } else {
                                            for ch in 0..<c { ap[ch] &+= row[ch] }
                                        }
                                    }
                                }
                                let o = op + ((b * oh + oy) * ow + ox) * c
                                for ch in 0..<c {
                                    var v = ap[ch]
                                    if !isMax { v = v > 0 ? (v + count / 2) / count : (v - count / 2) / count }
                                    o[ch] = min(max(v, clamp.lowerBound), clamp.upperBound)
                                }
                            }
                        }
                    }
                }
            }
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: [n, oh, ow, c]))]
    }
}

/// Quantized ABS (TFLite's `AbsEvalQuantized`): `|x - zin|` rescaled by `sin/sout`.
struct IntegerAbsKernel: Kernel {
    let inputZeroPoint: Int32, outputZeroPoint: Int32
    let multiplier: FixedPoint.Multiplier
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage else {
            throw SwiftConvError.unsupportedOp("ABS of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        inputZeroPoint = i.zeroPoint
        outputZeroPoint = o.zeroPoint
        multiplier = FixedPoint.Multiplier(Double(i.scale / o.scale))
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let r = storageRange(outputType)
        let out = try widenedIntegers(x).map { v in
            min(max(multiplier.apply(abs(v - inputZeroPoint)) &+ outputZeroPoint, r.lowerBound), r.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }
}

/// Quantized SQUARED_DIFFERENCE (TFLite's int8 path): both inputs shifted left 7 bits and
/// scaled to twice the larger input scale, the difference squared, rescaled by
/// `(2·max s)² / (2^14 · so)`.
struct IntegerSquaredDifferenceKernel: Kernel {
    let offset1: Int32, offset2: Int32, outputOffset: Int32
    let m1: FixedPoint.Multiplier, m2: FixedPoint.Multiplier, mOut: FixedPoint.Multiplier
    let clamp: ClosedRange<Int32>

    init(_ ctx: KernelBuildContext) throws {
        let a = try TensorQuant(ctx.quantization(ofInput: 0), "input 0", ctx)
        let b = try TensorQuant(ctx.quantization(ofInput: 1), "input 1", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard a.storage == .int8, b.storage == .int8, o.storage == .int8 else {
            throw SwiftConvError.unsupportedOp("SQUARED_DIFFERENCE of \(a.storage) and \(b.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        offset1 = -a.zeroPoint
        offset2 = -b.zeroPoint
        outputOffset = o.zeroPoint
        let twiceMax = 2.0 * Double(max(a.scale, b.scale))
        m1 = FixedPoint.Multiplier(Double(a.scale) / twiceMax)
        m2 = FixedPoint.Multiplier(Double(b.scale) / twiceMax)
        mOut = FixedPoint.Multiplier(twiceMax * twiceMax / (Double(1 << 14) * Double(o.scale)))
        clamp = try quantizedActivationRange(ctx.fusedActivation, o, ctx)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), y = try inputs.tensor(1)
        let (out, shape) = try broadcastInt32(try widenedIntegers(x), x.shape, try widenedIntegers(y), y.shape) { p, q in
            let d = m1.apply((p &+ offset1) &<< 7) &- m2.apply((q &+ offset2) &<< 7)
            let r = mOut.apply(d &* d) &+ outputOffset
            return min(max(r, clamp.lowerBound), clamp.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: .int8, shape: shape))]
    }
}

/// Quantized RSQRT (TFLite's int8 path): `1/sqrt(x - zin)` from the fixed-point inverse square
/// root, kept 20 bits up, then rescaled by `1/(sqrt(sin)·sout)`; 0 maps to the maximum.
struct IntegerRsqrtKernel: Kernel {
    let inputZeroPoint: Int32, outputZeroPoint: Int32
    let multiplier: FixedPoint.Multiplier

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == .int8, o.storage == .int8 else {
            throw SwiftConvError.unsupportedOp("RSQRT of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        inputZeroPoint = i.zeroPoint
        outputZeroPoint = o.zeroPoint
        multiplier = FixedPoint.Multiplier(1.0 / Double(i.scale.squareRoot() * o.scale))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let out = try widenedIntegers(x).map { v -> Int32 in
            let d = v - inputZeroPoint
            guard d >= 0 else { return Int32.min }
            if d == 0 { return 127 }
            let (m, s) = FixedPoint.inverseSqrtMultiplier(d, reverseShift: -1)
            let data = FixedPoint.multiplyByQuantizedMultiplier(Int32(1), m, s + 20)
            let y = FixedPoint.multiplyByQuantizedMultiplier(data, multiplier.mantissa, multiplier.shift - 20) &+ outputZeroPoint
            return min(max(y, -128), 127)
        }
        if out.contains(Int32.min) { throw kernelError("RSQRT is only defined for non-negative values") }
        return [.tensor(narrowedTensor(out, dtype: .int8, shape: x.shape))]
    }
}
