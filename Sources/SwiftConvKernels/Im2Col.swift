/// Convolution lowering: an image unfolded into GEMM columns (im2col) and columns folded
/// back into an image (col2im, the transposed convolution's scatter).

/// The sliding window of a convolution over one image: resolved pads and output extents.
public struct ConvWindow {
    /// Image extents (a convolution's input, a transposed convolution's output).
    public var inSpatial: [Int]
    public var kernel: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    public var padBegin: [Int]
    /// Window positions (a convolution's output, a transposed convolution's input).
    public var outSpatial: [Int]

    public init(inSpatial: [Int], kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], outSpatial: [Int]) {
        self.inSpatial = inSpatial
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.padBegin = padBegin
        self.outSpatial = outSpatial
    }

    public var inCount: Int { inSpatial.reduce(1, *) }
    public var outCount: Int { outSpatial.reduce(1, *) }
    public var kernelCount: Int { kernel.reduce(1, *) }
}

public enum Im2Col {
    /// Unfolds one group of one image (`channels x inSpatial`) into
    /// `channels * kernelCount x outCount` columns (zero where the window is in the padding).
    public static func unfold(
        _ x: UnsafePointer<Float>, channels: Int, _ g: ConvWindow, _ col: UnsafeMutablePointer<Float>,
        parallel: ParallelFor
    ) {
        unfoldElements(x, channels: channels, g, col, parallel: parallel)
    }

    public static func unfold(
        _ x: UnsafePointer<Double>, channels: Int, _ g: ConvWindow, _ col: UnsafeMutablePointer<Double>,
        parallel: ParallelFor
    ) {
        unfoldElements(x, channels: channels, g, col, parallel: parallel)
    }

    /// Scatter-adds `channels * kernelCount x outCount` columns into `y` (`channels x inSpatial`,
    /// already holding the bias or zeros); each task owns whole channels.
    public static func fold(
        _ col: UnsafePointer<Float>, channels: Int, _ g: ConvWindow, _ y: UnsafeMutablePointer<Float>,
        parallel: ParallelFor
    ) {
        foldElements(col, channels: channels, g, y, parallel: parallel)
    }

    public static func fold(
        _ col: UnsafePointer<Double>, channels: Int, _ g: ConvWindow, _ y: UnsafeMutablePointer<Double>,
        parallel: ParallelFor
    ) {
        foldElements(col, channels: channels, g, y, parallel: parallel)
    }

    static func unfoldElements<T: BinaryFloatingPoint>(
        _ x: UnsafePointer<T>, channels: Int, _ g: ConvWindow,
        _ col: UnsafeMutablePointer<T>, parallel: ParallelFor
    ) {
        let kc = g.kernelCount, outCount = g.outCount, inCount = g.inCount
        let rows = channels * kc
        if g.inSpatial.count == 2 {
            let h = g.inSpatial[0], w = g.inSpatial[1]
            let kw = g.kernel[1]
            let oh = g.outSpatial[0], ow = g.outSpatial[1]
            let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
            let pt = g.padBegin[0], pl = g.padBegin[1]
            parallel(rows) { range in
                for r in range {
                    let c = r / kc, ki = (r % kc) / kw, kj = r % kw
                    let src = x + c * inCount
                    let dst = col + r * outCount
                    for y in 0..<oh {
                        let iy = y * sh - pt + ki * dh
                        let drow = dst + y * ow
                        if iy < 0 || iy >= h {
                            for xx in 0..<ow { drow[xx] = 0 }
                            continue
                        }
                        let srow = src + iy * w
                        let off = kj * dw - pl
                        if sw == 1 {
                            // Contiguous run: zeros, a copy, zeros.
                            let lo = min(ow, max(0, -off)), hi = max(lo, min(ow, w - off))
                            for xx in 0..<lo { drow[xx] = 0 }
                            if hi > lo { (drow + lo).update(from: srow + lo + off, count: hi - lo) }
                            for xx in hi..<ow { drow[xx] = 0 }
                        } else {
                            for xx in 0..<ow {
                                let ix = xx * sw + off
                                drow[xx] = ix >= 0 && ix < w ? srow[ix] : 0
                            }
                        }
                    }
                }
            }
            return
        }
        // Any spatial rank: walk output positions with an index odometer.
        let r = g.inSpatial.count
        let inStrides = rowMajorStrides(g.inSpatial)
        parallel(rows) { range in
            var kpos = [Int](repeating: 0, count: r), opos = [Int](repeating: 0, count: r)
            for row in range {
                let c = row / kc
                var rem = row % kc
                for d in stride(from: r - 1, through: 0, by: -1) {
                    kpos[d] = rem % g.kernel[d]
                    rem /= g.kernel[d]
                }
                let src = x + c * inCount
                let dst = col + row * outCount
                for d in 0..<r { opos[d] = 0 }
                for o in 0..<outCount {
                    var off = 0
                    var inside = true
                    for d in 0..<r {
                        let i = opos[d] * g.strides[d] - g.padBegin[d] + kpos[d] * g.dilations[d]
                        if i < 0 || i >= g.inSpatial[d] {
                            inside = false
                            break
                        }
                        off += i * inStrides[d]
                    }
                    dst[o] = inside ? src[off] : 0
                    var d = r - 1
                    while d >= 0 {
                        opos[d] += 1
                        if opos[d] < g.outSpatial[d] { break }
                        opos[d] = 0
                        d -= 1
                    }
                }
            }
        }
    }

    static func foldElements<T: BinaryFloatingPoint>(
        _ col: UnsafePointer<T>, channels: Int, _ g: ConvWindow,
        _ y: UnsafeMutablePointer<T>, parallel: ParallelFor
    ) {
        let r = g.inSpatial.count
        let kernel = g.kernel, strides = g.strides, dil = g.dilations, padBegin = g.padBegin
        let imageSp = g.inSpatial, colSp = g.outSpatial
        let kc = g.kernelCount, colCount = g.outCount, imageCount = g.inCount
        let imageStrides = rowMajorStrides(imageSp)
        parallel(channels) { range in
            var kpos = [Int](repeating: 0, count: r), ipos = [Int](repeating: 0, count: r)
            for ch in range {
                let dst = y + ch * imageCount
                for k in 0..<kc {
                    var rem = k
                    for d in stride(from: r - 1, through: 0, by: -1) {
                        kpos[d] = rem % kernel[d]
                        rem /= kernel[d]
                    }
                    let src = col + (ch * kc + k) * colCount
                    if r == 2 {
                        let oh = imageSp[0], ow = imageSp[1], ih = colSp[0], iw = colSp[1]
                        for iy in 0..<ih {
                            let oy = iy * strides[0] - padBegin[0] + kpos[0] * dil[0]
                            if oy < 0 || oy >= oh { continue }
                            let drow = dst + oy * ow, srow = src + iy * iw
                            let off = kpos[1] * dil[1] - padBegin[1]
                            for ix in 0..<iw {
                                let ox = ix * strides[1] + off
                                if ox >= 0 && ox < ow { drow[ox] += srow[ix] }
                            }
                        }
                        continue
                    }
                    for d in 0..<r { ipos[d] = 0 }
                    for i in 0..<colCount {
                        var off = 0
                        var inside = true
                        for d in 0..<r {
                            let o = ipos[d] * strides[d] - padBegin[d] + kpos[d] * dil[d]
                            if o < 0 || o >= imageSp[d] {
                                inside = false
                                break
                            }
                            off += o * imageStrides[d]
                        }
                        if inside { dst[off] += src[i] }
                        var d = r - 1
                        while d >= 0 {
                            ipos[d] += 1
                            if ipos[d] < colSp[d] { break }
                            ipos[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }

    /// Element strides of a row-major array of the given extents.
    public static func rowMajorStrides(_ extents: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: extents.count)
        var acc = 1
        for d in stride(from: extents.count - 1, through: 0, by: -1) {
            s[d] = acc
            acc *= extents[d]
        }
        return s
    }
}
