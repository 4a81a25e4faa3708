import SwiftConvIR
import SwiftConvKernels

/// TFLite's image resizes over NHWC, float32: RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR, with
/// the `size` input (int32 [2]: new height, width) and align_corners / half_pixel_centers.
enum TFLiteImageKernels {
    static func register(into r: inout KernelRegistry) {
        r.registerTFLite("RESIZE_BILINEAR") { ctx in
            return TFLiteResizeKernel(ctx, bilinear: true)
        }
        r.registerTFLite("RESIZE_NEAREST_NEIGHBOR") { ctx in
            return TFLiteResizeKernel(ctx, bilinear: false)
        }
    }
}

/// One resize; the source coordinates follow TFLite's reference kernels (float scale
/// `in/out`, or `(in-1)/(out-1)` with align_corners; half-pixel offsets; nearest rounds half
/// away from zero under align_corners, else floors).
struct TFLiteResizeKernel: Kernel {
    let bilinear: Bool
    let alignCorners: Bool
    let halfPixelCenters: Bool

    init(_ ctx: KernelBuildContext, bilinear: Bool) {
        self.bilinear = bilinear
        alignCorners = ctx.int("align_corners", default: 0) != 0
        halfPixelCenters = ctx.int("half_pixel_centers", default: 0) != 0
    }

    /// The source coordinate scale of one axis.
    func scale(_ input: Int, _ output: Int) -> Float {
        alignCorners && output > 1 ? Float(input - 1) / Float(output - 1) : Float(input) / Float(output)
    }

    /// Bilinear: the source position and the two neighbours (TFLite's ComputeInterpolationValues).
    func interpolation(_ v: Int, _ scale: Float, _ size: Int) -> (pos: Float, lo: Int, hi: Int) {
        let p = halfPixelCenters ? (Float(v) + 0.5) * scale - 0.5 : Float(v) * scale
        let lo = max(Int(p.rounded(.down)), 0)
        let hi = min(Int(p.rounded(.up)), size - 1)
        return (p, min(lo, size - 1), max(hi, 0))
    }

    /// Nearest: the source index (TFLite's GetNearestNeighbor).
    func nearest(_ v: Int, _ scale: Float, _ size: Int) -> Int {
        let offset: Float = halfPixelCenters ? 0.5 : 0
        let p = (Float(v) + offset) * scale
        var i = min(Int(alignCorners ? p.rounded() : p.rounded(.down)), size - 1)
        if halfPixelCenters { i = max(0, i) }
        return max(0, i)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let op = bilinear ? "RESIZE_BILINEAR" : "RESIZE_NEAREST_NEIGHBOR"
        let x = try tfliteFloatInput(inputs, 0, op)
        let sizeT = try inputs.tensor(1)
        guard x.rank == 4 else { throw kernelError("\(op) expects a 4-D NHWC input, got \(x.shape)") }
        guard let size = sizeT.int64Values(), size.count == 2, size.allSatisfy({ $0 > 0 && $0 <= Int64(Int32.max) }) else {
            throw kernelError("\(op): size must hold two positive values")
        }
        if alignCorners && halfPixelCenters { throw kernelError("\(op): align_corners and half_pixel_centers are exclusive") }
        let n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
        let oh = Int(size[0]), ow = Int(size[1])
        let out = try Tensor.allocate(.float32, [n, oh, ow, c])
        if out.elementCount == 0 { return [.tensor(out)] }
        guard h > 0, w > 0 else { throw kernelError("\(op): the input \(x.shape) is empty") }
        let px = x.floatPointer, po = out.mutableFloatPointer
        let hs = scale(h, oh), ws = scale(w, ow)
        if bilinear {
            let xs = (0..<ow).map { interpolation($0, ws, w) }
            context.parallel(n * oh) { range in
                for row in range {
                    let img = row / oh, oy = row % oh
                    let (iy, y0, y1) = interpolation(oy, hs, h)
                    let dy = iy - Float(y0)
                    let r0 = px + (img * h + y0) * w * c, r1 = px + (img * h + y1) * w * c
                    for ox in 0..<ow {
                        let (ix, x0, x1) = xs[ox]
                        let dx = ix - Float(x0)
                        let w00 = (1 - dy) * (1 - dx), w10 = dy * (1 - dx), w01 = (1 - dy) * dx, w11 = dy * dx
                        let a = r0 + x0 * c, b = r1 + x0 * c, e = r0 + x1 * c, f = r1 + x1 * c
                        let dst = po + ((img * oh + oy) * ow + ox) * c
                        for ch in 0..<c { dst[ch] = a[ch] * w00 + b[ch] * w10 + e[ch] * w01 + f[ch] * w11 }
                    }
                }
            }
        } else {
            let xs = (0..<ow).map { nearest($0, ws, w) }
            context.parallel(n * oh) { range in
                for row in range {
                    let img = row / oh, oy = row % oh
                    let src = px + (img * h + nearest(oy, hs, h)) * w * c
                    for ox in 0..<ow { (po + ((img * oh + oy) * ow + ox) * c).update(from: src + xs[ox] * c, count: c) }
                }
            }
        }
        return [.tensor(out)]
    }
}
