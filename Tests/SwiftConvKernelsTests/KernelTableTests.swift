import Testing

@testable import SwiftConvKernels

/// Every slot of `KernelTable.best` must compute what the same slot of `KernelTable.generic`
/// computes (up to the rounding of fused multiply-adds) on random inputs.

/// Deterministic pseudo-random floats in [-1, 1).
struct RandomFloats {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int32(truncatingIfNeeded: state >> 32)) / Float(Int32.max)
    }
    mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
}

func expectClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, _ what: String) {
    #expect(a.count == b.count, "\(what): sizes")
    var worst: Float = 0
    for i in 0..<min(a.count, b.count) {
        if a[i].isNaN && b[i].isNaN { continue }
        worst = max(worst, abs(a[i] - b[i]) / max(1, abs(b[i])))
    }
    #expect(worst <= tolerance, "\(what): largest relative difference \(worst)")
}

@Test func tablesAreNamed() {
    #expect(KernelTable.generic.name == "portable")
    #expect(KernelTable.generic.features.isEmpty)
    #expect(KernelTable.best.name == "portable" ? KernelTable.best.features.isEmpty : !KernelTable.best.features.isEmpty)
}

/// The micro-tile of a table over the same operands as the generic tile: the generic tile
/// is run on as many row and column panels as the table's tile is tall and wide.
func checkGemmTile(_ best: KernelTable, rows: Int, cols: Int, alpha: Float, beta: Float, finished: Bool) {
    let generic = KernelTable.generic
    let mrBest = best.gemmTileRows, nrBest = best.gemmTileColumns
    let mrGeneric = generic.gemmTileRows, nrGeneric = generic.gemmTileColumns
    #expect(nrBest % nrGeneric == 0)
    // Cases larger than the table's tile (the portable table under SWIFTCONV_PORTABLE_KERNELS) shrink to it.
    let rows = min(rows, mrBest), cols = min(cols, nrBest)
    var rng = RandomFloats(state: 7)
    let depth = 37
    let a = rng.array(depth * mrBest), bRows = rng.array(depth * nrBest)
    let c0 = rng.array(mrBest * nrBest), bias = rng.array(mrBest)
    // The same B as one wide panel and as narrow panels.
    var bNarrow = [Float](repeating: 0, count: depth * nrBest)
    for panel in 0..<nrBest / nrGeneric {
        for k in 0..<depth {
            for j in 0..<nrGeneric {
                bNarrow[panel * depth * nrGeneric + k * nrGeneric + j] = bRows[k * nrBest + panel * nrGeneric + j]
            }
        }
    }
    var cBest = c0, cGeneric = c0
    bias.withUnsafeBufferPointer { bias in
        let finish = finished ? TileFinish(rowBias: bias.baseAddress, lo: -0.5, hi: 2) : nil
        cBest.withUnsafeMutableBufferPointer { c in
            best.gemmTile(
                GemmTile(
                    depth: depth, a: a, b: bRows, c: c.baseAddress!, ldc: nrBest, rows: rows, cols: cols,
                    alpha: alpha, beta: beta), finish)
        }
        var i = 0
        while i < rows {
            // Rows i..<i+mrGeneric of A as a generic panel (zero past the tile).
            var aNarrow = [Float](repeating: 0, count: depth * mrGeneric)
            for k in 0..<depth {
                for r in 0..<mrGeneric where i + r < mrBest { aNarrow[k * mrGeneric + r] = a[k * mrBest + i + r] }
            }
            let rowFinish = finish?.fromRow(i)
            cGeneric.withUnsafeMutableBufferPointer { c in
                bNarrow.withUnsafeBufferPointer { b in
                    var j = 0
                    while j < cols {
                        generic.gemmTile(
                            GemmTile(
                                depth: depth, a: aNarrow, b: b.baseAddress! + j * depth, c: c.baseAddress! + i * nrBest + j,
                                ldc: nrBest, rows: min(mrGeneric, rows - i), cols: min(nrGeneric, cols - j), alpha: alpha,
                                beta: beta),
                            rowFinish)
                        j += nrGeneric
                    }
                }
            }
            i += mrGeneric
        }
    }
    expectClose(cBest, cGeneric, "\(best.name) gemm tile \(rows)x\(cols)")
}

@Test(arguments: [(6, 16, 1.0, 0.0, true), (4, 11, 0.5, 1.0, false), (6, 13, 1.0, 0.25, true), (1, 3, 2.0, 0.0, false)])
func gemmTileMatchesGeneric(rows: Int, cols: Int, alpha: Float, beta: Float, finished: Bool) {
    checkGemmTile(KernelTable.best, rows: rows, cols: cols, alpha: alpha, beta: beta, finished: finished)
}

/// The AVX-512 tile, whether or not `best` chose it: full, masked-column and short-row tiles.
@Test(
    .enabled(if: KernelTable.avx512Available),
    arguments: [
        (8, 32, 1.0, 0.0, true), (8, 17, 0.5, 1.0, false), (5, 32, 1.0, 0.25, true), (3, 9, 2.0, 0.0, false), (8, 16, 1.0, 1.0, true),
    ])
func avx512GemmTileMatchesGeneric(rows: Int, cols: Int, alpha: Float, beta: Float, finished: Bool) {
    checkGemmTile(KernelTable.avx512F, rows: rows, cols: cols, alpha: alpha, beta: beta, finished: finished)
}

/// A whole sgemm (packing, blocking, the tile) against a plain double-precision product.
@Test(arguments: [(1, 1, 1), (7, 300, 19), (33, 70, 300), (130, 9, 5)])
func sgemmMatchesPlainProduct(m: Int, n: Int, k: Int) {
    var rng = RandomFloats(state: UInt64(m * 1000 + n))
    let a = rng.array(m * k), b = rng.array(k * n)
    var c = [Float](repeating: .nan, count: m * n)
    c.withUnsafeMutableBufferPointer { c in
        Gemm.sgemm(
            m: m, n: n, k: k, a: MatrixView(a, rowStride: k, colStride: 1), b: MatrixView(b, rowStride: n, colStride: 1),
            c: c.baseAddress!, ldc: n)
    }
    var expected = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
            expected[i * n + j] = Float(s)
        }
    }
    expectClose(c, expected, tolerance: 1e-4, "sgemm \(m)x\(n)x\(k)")
}

@Test func dgemmMatchesPlainProduct() {
    let m = 5, n = 7, k = 9
    var rng = RandomFloats(state: 3)
    let a = rng.array(m * k).map(Double.init), b = rng.array(k * n).map(Double.init)
    var c = [Double](repeating: 1, count: m * n)
    var cT = c
    c.withUnsafeMutableBufferPointer { c in
        Gemm.dgemm(
            m: m, n: n, k: k, alpha: 2, a: StridedMatrix(a, rowStride: k, colStride: 1),
            b: StridedMatrix(b, rowStride: n, colStride: 1), beta: 0.5, c: c.baseAddress!, ldc: n)
    }
    // B read as the transpose of its transpose: the dot-product path.
    var bt = [Double](repeating: 0, count: k * n)
    for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
    cT.withUnsafeMutableBufferPointer { c in
        Gemm.dgemm(
            m: m, n: n, k: k, alpha: 2, a: StridedMatrix(a, rowStride: k, colStride: 1),
            b: StridedMatrix(bt, rowStride: 1, colStride: k), beta: 0.5, c: c.baseAddress!, ldc: n)
    }
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += a[i * k + p] * b[p * n + j] }
            #expect(c[i * n + j] == 2 * s + 0.5)
            #expect(cT[i * n + j] == 2 * s + 0.5)
        }
    }
}

@Test func biasClampMatchesGeneric() {
    var rng = RandomFloats(state: 11)
    var x = rng.array(37)
    x[3] = .nan
    var best = x, generic = x
    KernelTable.best.biasClamp(&best, x.count, 0.1, -0.3, 0.6)
    KernelTable.generic.biasClamp(&generic, x.count, 0.1, -0.3, 0.6)
    #expect(best[3].isNaN && generic[3].isNaN)
    expectClose(best, generic, tolerance: 0, "biasClamp")
}

/// Depthwise shapes the AVX2 loops take (3x3, 5x5, 7x7 at stride 1 and 2) and ones they leave
/// to the portable loop (dilation, stride 3, more than 64 taps). The first call's three planes
/// take the row-by-row loop, the second's seventeen the channel-blocked one (two whole groups
/// of eight that straddle images, then one plane alone).
@Test(arguments: [
    (3, 1, 1, 1), (3, 2, 1, 1), (3, 1, 0, 1), (3, 2, 2, 1), (5, 1, 2, 1), (5, 2, 2, 1), (5, 1, 0, 1), (7, 1, 3, 1),
    (7, 2, 1, 1), (3, 1, 2, 2), (5, 3, 2, 1), (9, 1, 4, 1),
])
func depthwiseMatchesGeneric(kernel: Int, stride: Int, pad: Int, dilation: Int) {
    let channels = 5, planes = 20, h = 13, w = 17
    let reach: Int = dilation * (kernel - 1) + 1
    let oh: Int = (h + 2 * pad - reach) / stride + 1
    let ow: Int = (w + 2 * pad - reach) / stride + 1
    var rng = RandomFloats(state: UInt64(kernel * 100 + stride * 10 + pad))
    let x = rng.array(planes * h * w), filters = rng.array(channels * kernel * kernel), bias = rng.array(channels)
    func run(_ table: KernelTable) -> [Float] {
        var y = [Float](repeating: .nan, count: planes * oh * ow)
        y.withUnsafeMutableBufferPointer { y in
            let problem = DepthwiseConv2D(
                x: x, filters: filters, bias: bias, y: y.baseAddress!, channels: channels,
                height: h, width: w, kernelHeight: kernel, kernelWidth: kernel, outHeight: oh,
                outWidth: ow, strideY: stride, strideX: stride, dilationY: dilation,
                dilationX: dilation, padTop: pad, padLeft: pad, lo: 0, hi: 1.5)
            table.depthwiseConv2D(problem, 0..<3)
            table.depthwiseConv2D(problem, 3..<planes)
        }
        return y
    }
    expectClose(run(.best), run(.generic), "depthwise k\(kernel) s\(stride) p\(pad) d\(dilation)")
}

@Test(arguments: [[9, 11], [5, 6, 7]])
func im2colAndCol2imMatchGeneric(spatial: [Int]) {
    let r = spatial.count, channels = 2
    let kernel = [Int](repeating: 3, count: r), strides = [Int](repeating: 2, count: r)
    let dilations = [Int](repeating: 1, count: r), pads = [Int](repeating: 1, count: r)
    let out: [Int] = (0..<r).map { (d: Int) -> Int in
        let padded: Int = spatial[d] + 2 * pads[d]
        return (padded - kernel[d]) / strides[d] + 1
    }
    let window = ConvWindow(
        inSpatial: spatial, kernel: kernel, strides: strides, dilations: dilations, padBegin: pads,
        outSpatial: out)
    var rng = RandomFloats(state: UInt64(r))
    let x = rng.array(channels * window.inCount)
    let rows = channels * window.kernelCount
    func unfold(_ table: KernelTable) -> [Float] {
        var col = [Float](repeating: .nan, count: rows * window.outCount)
        col.withUnsafeMutableBufferPointer { table.im2col(x, channels, window, $0.baseAddress!, serialFor) }
        return col
    }
    let col = unfold(.best)
    expectClose(col, unfold(.generic), tolerance: 0, "im2col \(spatial)")
    // Unfolding copies: each column entry is the input at its window position, or 0 in the padding.
    #expect(col.allSatisfy { v in v == 0 || x.contains(v) })
    func fold(_ table: KernelTable) -> [Float] {
        var y = [Float](repeating: 0.5, count: channels * window.inCount)
        y.withUnsafeMutableBufferPointer { table.col2im(col, channels, window, $0.baseAddress!, serialFor) }
        return y
    }
    let folded = fold(.best)
    expectClose(folded, fold(.generic), tolerance: 0, "col2im \(spatial)")
    // Fold is the adjoint of unfold: <unfold(x), col> == <x, fold(col)>.
    let lhs = zip(col, col).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let rhs = zip(x, folded).reduce(0.0) { $0 + Double($1.0) * Double($1.1 - 0.5) }
    #expect(abs(lhs - rhs) <= 1e-3 * max(1, abs(lhs)))
}

@Test(arguments: [(true, 3, 2, 1), (false, 3, 1, 1), (true, 2, 2, 0), (false, 4, 3, 2)])
func poolRowMatchesGeneric(isMax: Bool, k: Int, s: Int, pad: Int) {
    // Rows wide enough for the vector loops, with tails; NaN as a first and as a later tap.
    let planes = 3, h = 10, w = 45
    let outH: Int = (h + 2 * pad - k) / s + 1, outW: Int = (w + 2 * pad - k) / s + 1
    let hAxis = PoolAxis(size: h, k: k, s: s, d: 1, pb: pad, pe: pad, out: outH)
    let wAxis = PoolAxis(size: w, k: k, s: s, d: 1, pb: pad, pe: pad, out: outW)
    var rng = RandomFloats(state: UInt64(k * 10 + s))
    var x = rng.array(planes * h * w)
    for i in [0, 7, 2 * w + 20, 3 * w + 21, h * w + 5 * w + 30, 2 * h * w + 9 * w + 44] { x[i] = .nan }
    func run(_ table: KernelTable) -> [Float] {
        var y = [Float](repeating: -1, count: planes * hAxis.out * wAxis.out)
        var scratch = [Float](repeating: 0, count: w)
        y.withUnsafeMutableBufferPointer { y in
            let problem = Pooling2D(
                src: x, dst: y.baseAddress!, rows: hAxis.taps(), cols: wAxis.taps(), isMax: isMax,
                countPad: !isMax, inWidth: w, inPlane: h * w, outWidth: wAxis.out,
                outPlane: hAxis.out * wAxis.out, dilationY: 1, dilationX: 1, kernelWidth: k, strideX: s)
            // Two calls, the first ending inside a plane.
            let split = hAxis.out + 3
            table.pool2DRows(problem, 0..<split, &scratch)
            table.pool2DRows(problem, split..<planes * hAxis.out, &scratch)
        }
        return y
    }
    let best = run(.best), generic = run(.generic)
    #expect(best.map(\.isNaN) == generic.map(\.isNaN), "pool row: NaN positions")
    #expect(best.contains { $0.isNaN })
    expectClose(best, generic, tolerance: 0, "pool row")
    // Spot-check against the window's definition at output (0, 0) of plane 1.
    var window: [Float] = []
    for i in 0..<k { for j in 0..<k where i - pad >= 0 && j - pad >= 0 { window.append(x[h * w + (i - pad) * w + (j - pad)]) } }
    let expected = isMax ? window.max()! : window.reduce(0, +) / Float(k * k)
    #expect(abs(best[hAxis.out * wAxis.out] - expected) <= 1e-6)
}

/// The table's gate GEMV against the portable loop: row counts around the four-row block,
/// depths around the eight-lane body.
@Test(arguments: [[1, 1], [3, 7], [4, 8], [5, 9], [9, 13], [16, 64], [37, 130]])
func gemvRowsMatchesGeneric(_ shape: [Int]) {
    let rows = shape[0], k = shape[1]
    var rng = RandomFloats(state: UInt64(rows * 1000 + k))
    let m = rng.array(rows * k), x = rng.array(k), add = rng.array(rows), bias = rng.array(rows)
    var best = [Float](repeating: .nan, count: rows), generic = best
    KernelTable.best.gemvRows(m, rows, k, x, add, bias, &best)
    KernelTable.generic.gemvRows(m, rows, k, x, add, bias, &generic)
    expectClose(best, generic, "gemvRows \(rows)x\(k)")
}

/// The table's small product against the portable loop: column counts around the 32- and
/// 8-column blocks and the scalar tail, depths from 1.
@Test(arguments: [[1, 1, 1], [3, 8, 5], [4, 31, 16], [7, 32, 9], [5, 45, 64], [16, 77, 3]])
func smallMatMulMatchesGeneric(_ shape: [Int]) {
    let m = shape[0], n = shape[1], k = shape[2]
    var rng = RandomFloats(state: UInt64(m * 10000 + n * 100 + k))
    let a = rng.array(m * k), b = rng.array(k * n)
    var best = [Float](repeating: .nan, count: m * n), generic = best
    KernelTable.best.smallMatMul(a, b, &best, m, n, k)
    KernelTable.generic.smallMatMul(a, b, &generic, m, n, k)
    expectClose(best, generic, "smallMatMul \(m)x\(n)x\(k)")
}

/// The table's A-panel packing, where it has one, against the layout `Gemm.pack(a:)` defines:
/// depths around the eight-column body and its scalar tail, row strides wider than the depth.
/// Values past the panel must stay untouched (the body's stores overlap and the last is masked).
@Test(arguments: [[1, 1], [7, 7], [8, 8], [9, 12], [16, 16], [23, 40], [256, 259]])
func packAPanelMatchesLayout(_ shape: [Int]) throws {
    guard let pack = KernelTable.best.packAPanel else { return }
    let rows = KernelTable.best.gemmTileRows, depth = shape[0], lda = shape[1]
    var rng = RandomFloats(state: UInt64(depth * 1000 + lda))
    let a = rng.array(rows * lda)
    var out = [Float](repeating: -7, count: rows * depth + 16)
    pack(a, lda, depth, &out)
    for k in 0..<depth {
        for i in 0..<rows { #expect(out[k * rows + i] == a[i * lda + k], "panel \(depth)x\(lda) [\(k), \(i)]") }
    }
    #expect(out[(rows * depth)...].allSatisfy { $0 == -7 }, "nothing written past the panel")
}
