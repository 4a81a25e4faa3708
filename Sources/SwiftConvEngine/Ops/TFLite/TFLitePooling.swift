import SwiftConvIR
import SwiftConvKernels

/// TFLite's 2-D pools over NHWC, float32: AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D.
enum TFLitePoolingKernels {
    static func register(into r: inout KernelRegistry) {
        for (op, kind) in [("AVERAGE_POOL_2D", TFLitePoolKernel.Kind.average), ("MAX_POOL_2D", .max), ("L2_POOL_2D", .l2)] {
            r.registerTFLite(op) { ctx in
                return try TFLitePoolKernel(ctx, kind: kind)
            }
        }
    }
}

/// A pool with filter_height x filter_width windows. As TFLite, padded positions are left out:
/// the average and L2 divide by the number of input positions inside the window.
struct TFLitePoolKernel: Kernel {
    enum Kind: Sendable { case average, max, l2 }
    let kind: Kind
    let filter: [Int]
    let strides: [Int]
    let autoPad: AutoPad
    let activation: TFLiteActivation

    init(_ ctx: KernelBuildContext, kind: Kind) throws {
        self.kind = kind
        filter = [
            try TFLitePadding.positive(ctx, "filter_height", default: 1),
            try TFLitePadding.positive(ctx, "filter_width", default: 1),
        ]
        strides = [
            try TFLitePadding.positive(ctx, "stride_h", default: 1), try TFLitePadding.positive(ctx, "stride_w", default: 1),
        ]
        autoPad = try TFLitePadding.autoPad(ctx)
        activation = try TFLiteActivation(ctx)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try tfliteFloatInput(inputs, 0, "pooling")
        guard x.rank == 4 else { throw kernelError("a TFLite pool expects a 4-D NHWC input, got \(x.shape)") }
        let n = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
        let geo = try WindowGeometry(
            inSpatial: [h, wd], kernel: filter, strides: strides, dilations: nil, pads: nil, autoPad: autoPad)
        let oh = geo.outSpatial[0], ow = geo.outSpatial[1]
        let out = try Tensor.allocate(.float32, [n, oh, ow, c])
        if out.elementCount == 0 { return [.tensor(out)] }
        let px = x.floatPointer, po = out.mutableFloatPointer
        let fh = filter[0], fw = filter[1], sh = strides[0], sw = strides[1]
        let pt = geo.padBegin[0], pl = geo.padBegin[1]
        let kind = self.kind, act = activation
        context.parallel(n * oh) { range in
            for row in range {
                let img = row / oh, oy = row % oh
                let y0 = oy * sh - pt
                let fy0 = max(0, -y0), fy1 = min(fh, h - y0)
                for ox in 0..<ow {
                    let x0 = ox * sw - pl
                    let fx0 = max(0, -x0), fx1 = min(fw, wd - x0)
                    let dst = po + ((img * oh + oy) * ow + ox) * c
                    dst.update(repeating: kind == .max ? -Float.greatestFiniteMagnitude : 0, count: c)
                    var count = 0
                    if fy0 < fy1 && fx0 < fx1 {
                        for fy in fy0..<fy1 {
                            for fx in fx0..<fx1 {
                                let src = px + ((img * h + y0 + fy) * wd + x0 + fx) * c
                                switch kind {
                                case .average: for ch in 0..<c { dst[ch] += src[ch] }
                                case .max: for ch in 0..<c where src[ch] > dst[ch] || src[ch].isNaN { dst[ch] = src[ch] }
                                case .l2: for ch in 0..<c { dst[ch] += src[ch] * src[ch] }
                                }
                            }
                        }
                        count = (fy1 - fy0) * (fx1 - fx0)
                    }
                    switch kind {
                    case .average:
                        for ch in 0..<c { dst[ch] = count == 0 ? 0 : dst[ch] / Float(count) }
                    case .l2:
                        for ch in 0..<c { dst[ch] = count == 0 ? 0 : (dst[ch] / Float(count)).squareRoot() }
                    case .max: break
                    }
                    act.finish(dst, c, bias: nil)
                }
            }
        }
        return [.tensor(out)]
    }
}
