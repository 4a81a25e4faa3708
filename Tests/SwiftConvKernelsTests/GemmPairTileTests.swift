import Testing

@testable import SwiftConvKernels

/// The AVX-512 12x16 pair tile must give two AVX2 6x16 tiles' results bit for bit (same FMA
/// order per element, same finish), and write nothing outside its rows x cols.
@Test(
    .enabled(if: KernelTable.avx512Available),
    arguments: [
        (1, 1.0, 0.0, true), (3, 0.5, 1.0, false), (96, 1.5, 0.0, true), (300, 1.0, 1.0, true), (17, 0.75, 1.0, true),
        (2, 1.0, 0.0, false), (64, 2.0, 1.0, false), (257, 1.0, 1.0, true),
    ])
func pairTileMatchesTwoAVX2Tiles(depth: Int, alpha: Float, beta: Float, finished: Bool) {
    for rows in 7...12 {
        for cols in 1...16 { checkPairTile(rows: rows, cols: cols, depth: depth, alpha: alpha, beta: beta, finished: finished) }
    }
}

func checkPairTile(rows: Int, cols: Int, depth: Int, alpha: Float, beta: Float, finished: Bool) {
    var random = RandomFloats(state: UInt64(rows * 1000 + cols * 10 + depth))
    let a = random.array(12 * depth) // two packed 6-row panels, one after the other
    let b = random.array(16 * depth) // one packed 16-column panel
    let bias = random.array(12)
    let ldc = 21, guardCount = 2 * ldc
    // C with guard rows above and below; beta 0 must ignore the NaNs in C.
    var start = (0..<(guardCount + 12 * ldc + guardCount)).map { _ in beta == 0 ? Float.nan : random.next() }
    for g in 0..<guardCount {
        start[g] = 7
        start[start.count - 1 - g] = 7
    }
    let finish = finished ? TileFinish(rowBias: nil, lo: -0.5, hi: 0.75) : nil
    var pair = start, twice = start
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            bias.withUnsafeBufferPointer { biasp in
                let f = finish.map { TileFinish(rowBias: biasp.baseAddress!, lo: $0.lo, hi: $0.hi) }
                pair.withUnsafeMutableBufferPointer { c in
                    KernelTable.avx512PairTile(
                        GemmTile(
                            depth: depth, a: ap.baseAddress!, b: bp.baseAddress!, c: c.baseAddress! + guardCount, ldc: ldc,
                            rows: rows, cols: cols, alpha: alpha, beta: beta), ap.baseAddress! + 6 * depth, f)
                }
                twice.withUnsafeMutableBufferPointer { c in
                    let tile = KernelTable.avx2FMA.gemmTile
                    tile(
                        GemmTile(
                            depth: depth, a: ap.baseAddress!, b: bp.baseAddress!, c: c.baseAddress! + guardCount, ldc: ldc,
                            rows: 6, cols: cols, alpha: alpha, beta: beta), f)
                    tile(
                        GemmTile(
                            depth: depth, a: ap.baseAddress! + 6 * depth, b: bp.baseAddress!,
                            c: c.baseAddress! + guardCount + 6 * ldc, ldc: ldc, rows: rows - 6, cols: cols, alpha: alpha,
                            beta: beta), f?.fromRow(6))
                }
            }
        }
    }
    var differing = 0, outside = 0
    for i in 0..<start.count {
        let p = i - guardCount
        let inside = p >= 0 && p / ldc < rows && p % ldc < cols
        if pair[i].bitPattern != twice[i].bitPattern { differing += 1 }
        if !inside && pair[i].bitPattern != start[i].bitPattern { outside += 1 }
        if inside && pair[i].isNaN { outside += 1 }
    }
    #expect(differing == 0, "\(rows)x\(cols) depth \(depth): \(differing) floats differ from two AVX2 tiles")
    #expect(outside == 0, "\(rows)x\(cols) depth \(depth): \(outside) floats written outside the tile (or left NaN)")
}
