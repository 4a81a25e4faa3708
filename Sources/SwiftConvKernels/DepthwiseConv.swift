import CSwiftConvKernels

/// A 2-D depthwise convolution (one filter per channel) over NCHW planes, with bias and a
/// clamp (a fused Relu or Clip) applied on the way out.
public struct DepthwiseConv2D {
    /// Input planes, each `height x width`; plane `p` is channel `p % channels`.
    public var x: UnsafePointer<Float>
    /// Filters, `channels x kernelHeight x kernelWidth`.
    public var filters: UnsafePointer<Float>
    /// Bias per channel; nil for none.
    public var bias: UnsafePointer<Float>?
    /// Output planes, each `outHeight x outWidth`.
    public var y: UnsafeMutablePointer<Float>
    public var channels: Int
    public var height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var outHeight: Int, outWidth: Int
    public var strideY: Int, strideX: Int
    public var dilationY: Int, dilationX: Int
    public var padTop: Int, padLeft: Int
    /// Output clamp; -inf, +inf for none.
    public var lo: Float, hi: Float

    public init(
        x: UnsafePointer<Float>, filters: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
        channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, outHeight: Int, outWidth: Int,
        strideY: Int, strideX: Int, dilationY: Int, dilationX: Int, padTop: Int, padLeft: Int, lo: Float, hi: Float
    ) {
        self.x = x
        self.filters = filters
        self.bias = bias
        self.y = y
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.outHeight = outHeight
        self.outWidth = outWidth
        self.strideY = strideY
        self.strideX = strideX
        self.dilationY = dilationY
        self.dilationX = dilationX
        self.padTop = padTop
        self.padLeft = padLeft
        self.lo = lo
        self.hi = hi
    }

    /// The portable loop: per output row, each filter tap adds a shifted input row.
    func runPortable(_ planes: Range<Int>) {
        let h = height, wd = width, kh = kernelHeight, kw = kernelWidth
        let oh = outHeight, ow = outWidth, sh = strideY, sw = strideX, dh = dilationY, dw = dilationX
        let pt = padTop, pl = padLeft
        let clamps = lo != -.infinity || hi != .infinity
        for p in planes {
            let ch = p % channels
            let src = x + p * h * wd, dst = y + p * oh * ow, flt = filters + ch * kh * kw
            let b0: Float = bias?[ch] ?? 0
            for yy in 0..<oh {
                let drow = dst + yy * ow
                for xx in 0..<ow { drow[xx] = b0 }
                for i in 0..<kh {
                    let iy = yy * sh - pt + i * dh
                    if iy < 0 || iy >= h { continue }
                    let srow = src + iy * wd
                    for j in 0..<kw {
                        let wv = flt[i * kw + j]
                        let off = j * dw - pl
                        // Output columns whose input column is inside the row.
                        var lo = 0
                        if off < 0 { lo = (-off + sw - 1) / sw }
                        var hi = ow
                        if wd - off <= 0 { hi = 0 } else { hi = min(ow, (wd - off - 1) / sw + 1) }
                        if lo >= hi { continue }
                        if sw == 1 {
                            for xx in lo..<hi { drow[xx] += wv * srow[xx + off] }
                        } else {
                            for xx in lo..<hi { drow[xx] += wv * srow[xx * sw + off] }
                        }
                    }
                }
            }
            if clamps { BiasActivation.biasClamp(dst, oh * ow, bias: 0, lo: lo, hi: hi) }
        }
    }

    /// The AVX2+FMA loops (`scv_depthwise_avx2`) for stride 1 or 2 and dilation 1, filters up
    /// to 64 taps: eight planes at a time interleaved by channel, fewer planes row by row;
    /// false, having written nothing, for any other shape.
    func runAVX2(_ planes: Range<Int>) -> Bool {
        guard
            dilationY == 1 && dilationX == 1 && strideY == strideX && (strideY == 1 || strideY == 2)
                && padTop >= 0 && padLeft >= 0 && outHeight > 0 && outWidth > 0
        else { return false }
        return scv_depthwise_avx2(
            x, filters, bias, y, planes.lowerBound, planes.upperBound, channels, height, width,
            kernelHeight, kernelWidth, outHeight, outWidth, strideY, padTop, padLeft, lo, hi) != 0
    }
}
