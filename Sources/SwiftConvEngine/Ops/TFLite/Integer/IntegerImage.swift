import SwiftConvIR

/// The constant or fed output size of a tflite resize (input 1, int32 [height, width]).
private func resizeSize(_ inputs: [Value?]) throws -> (Int, Int) {
    let s = try inputs.tensor(1)
    guard let v = s.int64Values(), v.count == 2, v[0] > 0, v[1] > 0, v[0] <= 1 << 20, v[1] <= 1 << 20 else {
        throw kernelError("resize size must hold two positive values")
    }
    return (Int(v[0]), Int(v[1]))
}

/// Quantized RESIZE_BILINEAR (TFLite's `ResizeBilinearInteger`): source positions in 10-bit
/// fixed point, the four taps weighted in 20-bit fixed point, rounded half away from zero;
/// the output keeps the input's quantization.
struct IntegerResizeBilinearKernel: Kernel {
    let alignCorners: Bool, halfPixel: Bool
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        alignCorners = ctx.int("align_corners", default: 0) != 0
        halfPixel = ctx.int("half_pixel_centers", default: 0) != 0
        outputType = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx).storage
    }

    /// `ComputeInterpolationValuesInteger`: the 10-bit source position and its two neighbours.
    static func source(_ v: Int, _ scale10: Int, _ halfPixel: Bool, _ size: Int) -> (pos: Int, lo: Int, hi: Int) {
        let pos = halfPixel ? v * scale10 + scale10 / 2 - (1 << 9) : v * scale10
        // C++ division truncates toward zero.
        let lo = max(pos >= 0 ? pos / 1024 : -((-pos) / 1024), 0)
        let up = pos + 1023
        let hi = min(up >= 0 ? up / 1024 : -((-up) / 1024), size - 1)
        return (pos, lo, hi)
    }

    static func scale10(_ input: Int, _ output: Int, _ align: Bool) -> Int {
        if align && output > 1 { return ((1 << 10) * (input - 1) + (output - 1) / 2) / (output - 1) }
        return ((1 << 10) * input + output / 2) / output
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (n, h, w, c) = try nhwc(x, "input")
        let (oh, ow) = try resizeSize(inputs)
        let xs = try widenedIntegers(x)
        let sy = Self.scale10(h, oh, alignCorners), sx = Self.scale10(w, ow, alignCorners)
        var out = [Int32](repeating: 0, count: n * oh * ow * c)
        guard h > 0, w > 0 else { return [.tensor(narrowedTensor(out, dtype: outputType, shape: [n, oh, ow, c]))] }
        for b in 0..<n {
            for oy in 0..<oh {
                let (iy, y0, y1) = Self.source(oy, sy, halfPixel, h)
                let fy = Int64(iy - 1024 * y0)
                for ox in 0..<ow {
                    let (ix, x0, x1) = Self.source(ox, sx, halfPixel, w)
                    let fx = Int64(ix - 1024 * x0)
                    for ch in 0..<c {
                        func at(_ y: Int, _ x: Int) -> Int64 { Int64(xs[((b * h + y) * w + x) * c + ch]) }
                        let v =
                            at(y0, x0) * (1024 - fy) * (1024 - fx) + at(y1, x0) * fy * (1024 - fx)
                            + at(y0, x1) * (1024 - fy) * fx + at(y1, x1) * fy * fx
                        let round: Int64 = v > 0 ? 1 << 19 : -(1 << 19)
                        out[((b * oh + oy) * ow + ox) * c + ch] = Int32(truncatingIfNeeded: (v + round) / (1 << 20))
                    }
                }
            }
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: [n, oh, ow, c]))]
    }
}

/// Quantized RESIZE_NEAREST_NEIGHBOR: TFLite's float index arithmetic, values copied as stored.
struct IntegerResizeNearestKernel: Kernel {
    let alignCorners: Bool, halfPixel: Bool
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        alignCorners = ctx.int("align_corners", default: 0) != 0
        halfPixel = ctx.int("half_pixel_centers", default: 0) != 0
        outputType = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx).storage
    }

    /// `GetNearestNeighbor`.
    func nearest(_ v: Int, _ input: Int, _ output: Int) -> Int {
        let scale = alignCorners && output > 1 ? Float(input - 1) / Float(output - 1) : Float(input) / Float(output)
        let offset: Float = halfPixel ? 0.5 : 0
        let p = (Float(v) + offset) * scale
        var r = min(Int(alignCorners ? p.rounded(.toNearestOrAwayFromZero) : p.rounded(.down)), input - 1)
        if halfPixel { r = max(0, r) }
        return r
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (n, h, w, c) = try nhwc(x, "input")
        let (oh, ow) = try resizeSize(inputs)
        let xs = try widenedIntegers(x)
        var out = [Int32](repeating: 0, count: n * oh * ow * c)
        guard h > 0, w > 0 else { return [.tensor(narrowedTensor(out, dtype: outputType, shape: [n, oh, ow, c]))] }
        for b in 0..<n {
            for oy in 0..<oh {
                let iy = nearest(oy, h, oh)
                for ox in 0..<ow {
                    let ix = nearest(ox, w, ow)
                    for ch in 0..<c { out[((b * oh + oy) * ow + ox) * c + ch] = xs[((b * h + iy) * w + ix) * c + ch] }
                }
            }
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: [n, oh, ow, c]))]
    }
}
