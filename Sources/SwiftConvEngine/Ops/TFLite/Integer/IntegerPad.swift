import SwiftConvIR

/// Quantized PAD and PADV2: the padding holds the output zero point (real 0), or PADV2's
/// constant value as stored.
struct IntegerPadKernel: Kernel {
    let padValue: Int32? // nil: read PADV2's constant at run time
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        outputType = o.storage
        padValue = ctx.node.opType == "PADV2" && ctx.hasInput(2) ? nil : o.zeroPoint
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), p = try inputs.tensor(1)
        guard let pads = p.int64Values(), pads.count == 2 * x.shape.count else {
            throw kernelError("paddings of shape \(p.shape) do not fit rank \(x.shape.count)")
        }
        let fill: Int32
        if let padValue {
            fill = padValue
        } else {
            guard let c = try widenedIntegers(try inputs.tensor(2)).first else { throw kernelError("PADV2 constant is empty") }
            fill = c
        }
        let rank = x.shape.count
        var outShape = x.shape
        for d in 0..<rank {
            let (a, b) = (pads[2 * d], pads[2 * d + 1])
            guard a >= 0, b >= 0, a <= Int64(1 << 24), b <= Int64(1 << 24) else { throw kernelError("padding \(a), \(b) is out of range") }
            outShape[d] += Int(a) + Int(b)
        }
        guard let total = elementCount(outShape), total <= 1 << 31 else { throw kernelError("padded shape \(outShape) is too large") }
        let xs = try widenedIntegers(x)
        var out = [Int32](repeating: fill, count: total)
        let inStrides = contiguousStrides(x.shape), outStrides = contiguousStrides(outShape)
        for (i, v) in xs.enumerated() {
            var o = 0
            for d in 0..<rank { o += ((i / inStrides[d]) % x.shape[d] + Int(pads[2 * d])) * outStrides[d] }
            out[o] = v
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: outShape))]
    }
}

/// Quantized MAXIMUM and MINIMUM: TFLite compares the stored values (inputs and output share
/// one quantization), with numpy broadcasting.
struct IntegerMinMaxKernel: Kernel {
    let isMax: Bool
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        isMax = ctx.node.opType == "MAXIMUM"
        outputType = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx).storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        let (out, shape) = try broadcastInt32(try widenedIntegers(a), a.shape, try widenedIntegers(b), b.shape) {
            isMax ? max($0, $1) : min($0, $1)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: shape))]
    }
}
