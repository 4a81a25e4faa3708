import CSwiftConvKernels

/// Max and average pooling of float32 planes over one or two spatial dimensions, separably:
/// each output row first reduces its valid input rows into a contiguous scratch row (a
/// vectorizable pass), then each output reduces its valid columns of that row. Window bounds
/// are resolved per row and column up front, so no loop tests bounds per tap. NaN handling
/// matches a tap-by-tap max: a NaN wins only when it is the first tap.
public struct Pooling2D {
    public var src: UnsafePointer<Float>
    public var dst: UnsafeMutablePointer<Float>
    /// Valid input rows of each output row, and valid input columns of each output column.
    public let rows: [PoolTaps]
    public let cols: [PoolTaps]
    public var isMax: Bool
    /// Whether an average counts the padding taps.
    public var countPad: Bool
    public var inWidth: Int, inPlane: Int
    public var outWidth: Int, outPlane: Int
    public var dilationY: Int
    public let dilationX: Int
    public let kernelWidth: Int
    public var strideX: Int
    /// The output columns whose window lies wholly inside the row (dilation 1), one run;
    /// resolved once rather than per row.
    public let wholeColumns: Range<Int>

    public init(
        src: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>, rows: [PoolTaps], cols: [PoolTaps], isMax: Bool,
        countPad: Bool, inWidth: Int, inPlane: Int, outWidth: Int, outPlane: Int, dilationY: Int, dilationX: Int,
        kernelWidth: Int, strideX: Int
    ) {
        self.src = src
        self.dst = dst
        self.rows = rows
        self.cols = cols
        self.isMax = isMax
        self.countPad = countPad
        self.inWidth = inWidth
        self.inPlane = inPlane
        self.outWidth = outWidth
        self.outPlane = outPlane
        self.dilationY = dilationY
        self.dilationX = dilationX
        self.kernelWidth = kernelWidth
        self.strideX = strideX
        var first = cols.count
        if dilationX == 1 && kernelWidth >= 1 { first = cols.firstIndex { $0.n == kernelWidth } ?? cols.count }
        var end = first
        while end < cols.count && cols[end].n == kernelWidth { end += 1 }
        wholeColumns = first..<end
    }

    /// Output rows `jobs` of all planes, job `plane * rows.count + row`; `scratch` holds
    /// `inWidth` floats.
    public func outputRows(_ jobs: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let outH = rows.count
        for job in jobs { row(plane: job / outH, outRow: job % outH, scratch: scratch) }
    }

    /// `outputRows` through `rowAVX2`.
    func outputRowsAVX2(_ jobs: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let outH = rows.count
        for job in jobs { rowAVX2(plane: job / outH, outRow: job % outH, scratch: scratch) }
    }

    /// Output row `outRow` of plane `plane`; `scratch` holds `inWidth` floats.
    public func row(plane: Int, outRow oy: Int, scratch row: UnsafeMutablePointer<Float>) {
        let inW = inWidth, outW = outWidth, dh = dilationY, dw = dilationX
        let r = rows[oy]
        let o = dst + plane * outPlane + oy * outW
        if r.n == 0 {
            for ox in 0..<outW { o[ox] = 0 }
            return
        }
        var p = src + plane * inPlane + r.lo * inW
        row.update(from: p, count: inW)
        for _ in 1..<r.n {
            p += dh * inW
            if isMax {
                for i in 0..<inW {
                    let v = p[i], m = row[i]
                    row[i] = v > m ? v : m
                }
            } else {
                for i in 0..<inW { row[i] += p[i] }
            }
        }
        if isMax {
            maxWindows(UnsafePointer(row), o) { q, count, out in
                let s = strideX, k = kernelWidth
                for j in 0..<count {
                    let w = q + j * s
                    var acc = w[0]
                    for t in 1..<k where w[t] > acc { acc = w[t] }
                    out[j] = acc
                }
            }
            return
        }
        for ox in 0..<outW {
            let c = cols[ox]
            guard c.n > 0 else {
                o[ox] = 0
                continue
            }
            var q = row + c.lo
            var acc = q[0]
            for _ in 1..<max(c.n, 1) {
                q += dw
                acc += q[0]
            }
            let n = countPad ? r.padded * c.padded : r.n * c.n
            o[ox] = acc / Float(n)
        }
    }

    /// `row` with the AVX2 loops for max pooling (`scv_max_rows_avx2`, `scv_max_windows_avx2`):
    /// the same taps in the same order, so the same results, NaN included. A window of one
    /// input row reads that row in place.
    func rowAVX2(plane: Int, outRow oy: Int, scratch: UnsafeMutablePointer<Float>) {
        guard isMax else { return row(plane: plane, outRow: oy, scratch: scratch) }
        let r = rows[oy]
        let o = dst + plane * outPlane + oy * outWidth
        if r.n == 0 {
            o.update(repeating: 0, count: outWidth)
            return
        }
        let first = src + plane * inPlane + r.lo * inWidth
        var reduced = first
        if r.n > 1 {
            scv_max_rows_avx2(first, r.n, dilationY * inWidth, inWidth, scratch)
            reduced = UnsafePointer(scratch)
        }
        let inW = inWidth, s = strideX, k = kernelWidth
        maxWindows(reduced, o) { q, count, out in
            scv_max_windows_avx2(q, inW - (q - reduced), count, s, k, out)
        }
    }

    /// The max of each output's window along a reduced row: the run of whole windows (every
    /// tap inside the row, dilation 1) through `wholeWindows(first tap, count, out)`, the clipped
    /// ones at either end tap by tap.
    @inline(__always)
    func maxWindows(
        _ row: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>,
        wholeWindows: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        let outW = outWidth, dw = dilationX, whole = wholeColumns
        if !whole.isEmpty { wholeWindows(row + cols[whole.lowerBound].lo, whole.count, o + whole.lowerBound) }
        for j in 0..<whole.lowerBound { o[j] = maxTaps(row, cols[j], dw) }
        for j in whole.upperBound..<outW { o[j] = maxTaps(row, cols[j], dw) }
    }
}

/// Max of a window's valid taps along one reduced row (0 when it has none).
@inline(__always)
private func maxTaps(_ row: UnsafePointer<Float>, _ c: PoolTaps, _ step: Int) -> Float {
    guard c.n > 0 else { return 0 }
    var q = row + c.lo
    var acc = q[0]
    for _ in 1..<c.n {
        q += step
        let v = q[0]
        if v > acc { acc = v }
    }
    return acc
}

/// The taps of one pooling window along one axis: the first valid input index, how many
/// taps are inside the input, and how many including padding.
public typealias PoolTaps = (lo: Int, n: Int, padded: Int)

/// One spatial axis of a pooling window.
public struct PoolAxis {
    public let size: Int, k: Int, s: Int, d: Int, pb: Int, pe: Int, out: Int

    public init(size: Int, k: Int, s: Int, d: Int, pb: Int, pe: Int, out: Int) {
        self.size = size
        self.k = k
        self.s = s
        self.d = d
        self.pb = pb
        self.pe = pe
        self.out = out
    }

    /// Per output position: first valid input index, valid tap count, and the tap count
    /// including padding (taps past the end padding, possible with ceil_mode, never count).
    public func taps() -> [PoolTaps] {
        (0..<out).map { o in PoolAxis.taps(start: o * s - pb, k: k, d: d, size: size, pe: pe) }
    }

    /// The taps `start + a * d` (a in 0..<k) of one window, counted arithmetically so that a
    /// huge kernel costs nothing: the first inside [0, size), how many are inside, and how
    /// many lie before `size + pe`.
    @inlinable
    public static func taps(start: Int, k: Int, d: Int, size: Int, pe: Int) -> PoolTaps {
        /// Taps at positions below `bound`.
        func below(_ bound: Int) -> Int { bound <= start ? 0 : Swift.min(k, (bound - start - 1) / d + 1) }
        let skipped = start >= 0 ? 0 : Swift.min(k, (-start - 1) / d + 1)
        let n = Swift.max(0, below(size) - skipped)
        return (n > 0 ? start + skipped * d : 0, n, below(size + pe))
    }
}
