import SwiftConvIR
import SwiftConvKernels

/// Dynamic-range TRANSPOSE_CONV (LiteRT's `EvalHybrid` with `HybridTransposeConv`): each image
/// quantized asymmetrically to int8 on the fly (scale and zero point from its range; symmetric
/// quantization misses LiteRT's outputs by 5e-2, this matches them to 2e-6), every input pixel scattered through the int8
/// weights into int32 output sums, then `acc · imageScale · weightScale[c] + bias` and the
/// float activation. Inputs: output shape, weights `[Cout, KH, KW, Cin]` (int8, per-tensor or
/// per-output-channel scales), float activations, optional float bias.
struct HybridTransposeConvKernel: Kernel {
    let filter: [Int32]
    let oc: Int, kh: Int, kw: Int, ic: Int
    let scales: [Float]
    let strideH: Int, strideW: Int
    let padding: String
    let activation: String

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.dtype == .int8, w.rank == 4 else {
            throw SwiftConvError.unsupportedOp("dynamic-range TRANSPOSE_CONV needs constant int8 [Cout,KH,KW,Cin] weights").at(
                ctx.nodeContext)
        }
        guard let q = ctx.quantization(ofInput: 1) else { throw ctx.invalid("weights have no scale") }
        (oc, kh, kw, ic) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        if q.scale.count == 1, let s = q.scale.first {
            scales = [Float](repeating: s, count: oc)
        } else {
            guard q.scale.count == oc, (q.axis ?? 0) == 0 else {
                throw ctx.invalid("weights have \(q.scale.count) scales for \(oc) output channels")
            }
            scales = q.scale
        }
        filter = w.values(as: Int8.self).map(Int32.init)
        strideH = Int(ctx.int("stride_h", default: 0))
        strideW = Int(ctx.int("stride_w", default: 0))
        guard strideH > 0, strideW > 0, strideH <= Int(Int32.max), strideW <= Int(Int32.max) else {
            throw ctx.invalid("strides must be positive int32 values")
        }
        padding = ctx.string("padding", default: "SAME")
        activation = ctx.fusedActivation
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let sizes = try inputs.tensor(0)
        guard let dims = sizes.int64Values(), dims.count == 4, dims.allSatisfy({ $0 > 0 && $0 <= Int64(Int32.max) }) else {
            throw kernelError("TRANSPOSE_CONV's output shape must be 4 positive sizes")
        }
        let x = try inputs.tensor(2)
        guard x.dtype == .float32 else { throw kernelError("dynamic-range TRANSPOSE_CONV expects float32 input") }
        let (n, h, w, c) = try nhwc(x, "input")
        let (oh, ow) = (Int(dims[1]), Int(dims[2]))
        guard Int(dims[0]) == n, Int(dims[3]) == oc, c == ic else {
            throw kernelError("TRANSPOSE_CONV shapes disagree: input \(x.shape), weights [\(oc),\(kh),\(kw),\(ic)], output \(dims)")
        }
        let count = try checkedElementCount([n, oh, ow, oc])
        try checkTemporary(count, of: Int32.self, "TRANSPOSE_CONV's output")
        var bias: [Float]? = nil
        if let b = inputs.optionalTensor(3) {
            guard b.dtype == .float32, b.elementCount == oc else { throw kernelError("bias must be float32 [\(oc)]") }
            bias = b.values(as: Float.self)
        }
        // Padding as a forward convolution from the output back to the input would use.
        let padT = try tflitePadding(padding, input: oh, filter: kh, stride: strideH, dilation: 1).before
        let padL = try tflitePadding(padding, input: ow, filter: kw, stride: strideW, dilation: 1).before
        let xs = x.values(as: Float.self)
        let image = h * w * c
        var q = [Int8](repeating: 0, count: xs.count)
        var imageScale = [Float](repeating: 1, count: n), imageOffset = [Int32](repeating: 0, count: n)
        xs.withUnsafeBufferPointer { xb in
            q.withUnsafeMutableBufferPointer { qb in
                for b in 0..<n where image > 0 {
                    (imageScale[b], imageOffset[b]) = quantizeRowForHybrid(
                        xb.baseAddress! + b * image, image, asymmetric: true, into: qb.baseAddress! + b * image)
                }
            }
        }
        var acc = [Int32](repeating: 0, count: count)
        for b in 0..<n {
            try context.checkTerminated()
            let zx = imageOffset[b]
            for iy in 0..<h {
                for ix in 0..<w {
                    let src = ((b * h + iy) * w + ix) * c
                    for ky in 0..<kh {
                        let oy = iy * strideH - padT + ky
                        guard oy >= 0, oy < oh else { continue }
                        for kx in 0..<kw {
                            let ox = ix * strideW - padL + kx
                            guard ox >= 0, ox < ow else { continue }
                            let dst = ((b * oh + oy) * ow + ox) * oc
                            for o in 0..<oc {
                                let f = ((o * kh + ky) * kw + kx) * ic
                                var s: Int32 = 0
                                for i in 0..<ic { s &+= (Int32(q[src + i]) &- zx) &* filter[f + i] }
                                acc[dst + o] &+= s
                            }
                        }
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let o = i % oc
            var v = Float(acc[i]) * imageScale[i / (oh * ow * oc)] * scales[o]
            if let bias { v += bias[o] }
            out[i] = v
        }
        try applyFloatActivation(activation, &out)
        return [.tensor(Tensor(dtype: .float32, shape: [n, oh, ow, oc], values: out))]
    }
}
