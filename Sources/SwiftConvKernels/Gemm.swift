#if canImport(Glibc)
    import Glibc
#endif

/// Single-precision matrix multiply: cache-blocked, panel-packed, with the register-blocked
/// micro-kernel of `KernelTable.best` (6x16 AVX2+FMA where the CPU has it, 8x32 AVX-512F on
/// request, else a portable 6x8 Swift SIMD one), split over threads through a caller-supplied
/// parallel-for.

/// Runs `body` over disjoint ranges covering `0..<count` (possibly on several threads).
public typealias ParallelFor = (_ count: Int, _ body: (Range<Int>) -> Void) -> Void

/// Runs everything on the calling thread.
public let serialFor: ParallelFor = { count, body in if count > 0 { body(0..<count) } }

/// A strided view of a logical `rows x cols` matrix: element (i, j) is at `base[i*rowStride + j*colStride]`.
/// A transposed operand is the same memory with the strides swapped.
public struct StridedMatrix<Element> {
    public var base: UnsafePointer<Element>
    public var rowStride: Int
    public var colStride: Int
    public init(_ base: UnsafePointer<Element>, rowStride: Int, colStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.colStride = colStride
    }
}

/// A float32 operand of `Gemm.sgemm`.
public typealias MatrixView = StridedMatrix<Float>

/// Finishes a block of C (rows, columns) once its full depth is summed, while the block is
/// still in cache: bias, activation. Called once per block, possibly from several threads
/// on disjoint blocks.
public typealias Epilogue = (_ rows: Range<Int>, _ cols: Range<Int>) -> Void

/// Bias per row of C and a clamp, applied to each block of C as its last depth block is
/// stored (a convolution's bias and Relu/Clip): `clamp(c + rowBias[row], lo, hi)`, NaN
/// staying NaN. Relu is lo 0, hi +inf; no clamp is -inf, +inf.
public struct TileFinish {
    /// Bias per row of C, counted from the block's first row; nil for none.
    public var rowBias: UnsafePointer<Float>?
    public var lo: Float
    public var hi: Float

    public init(rowBias: UnsafePointer<Float>?, lo: Float, hi: Float) {
        self.rowBias = rowBias
        self.lo = lo
        self.hi = hi
    }

    /// The same finish for a tile whose first row is row `i` of the block.
    @inline(__always) func fromRow(_ i: Int) -> TileFinish {
        TileFinish(rowBias: rowBias.map { $0 + i }, lo: lo, hi: hi)
    }
}

/// This CPU's data cache sizes in bytes, for the GEMM's blocking (sysconf; 32 KiB and
/// 512 KiB where it does not say).
enum CacheSizes {
    #if canImport(Glibc)
        static let l1Data = size(Int32(_SC_LEVEL1_DCACHE_SIZE), fallback: 32 << 10)
        static let l2 = size(Int32(_SC_LEVEL2_CACHE_SIZE), fallback: 512 << 10)

        static func size(_ name: Int32, fallback: Int) -> Int {
            let v = sysconf(name)
            return v > 0 ? v : fallback
        }
    #else
        static let l1Data = 32 << 10
        static let l2 = 512 << 10
    #endif
}

public enum Gemm {
    /// The micro-kernel of this process's kernel table.
    static let tile = KernelTable.best.gemmTile
    /// Two stacked micro-tiles sharing a B panel, where this CPU has them (`gemmPairTile`).
    static let pairTile = KernelTable.best.gemmPairTile
    /// Micro-kernel tile: MR rows of A by NR columns of B. Packed B panels are NR wide, so
    /// anything packed in this process matches the micro-kernel chosen here.
    public static let mr = KernelTable.best.gemmTileRows
    public static let nr = KernelTable.best.gemmTileColumns
    /// The vector loop for whole row panels of a row-major A, where the CPU has one.
    static let packAPanel = KernelTable.best.packAPanel
    /// Depth of one packed block: an A panel (`mr x kc`) fills at most half of L1, capped at
    /// 256 (256-1024 measured the same on a 32 KiB L1; docs/PERF.md).
    public static let kc = max(64, min(256, CacheSizes.l1Data / 2 / (mr * 4) / 64 * 64))
    /// Rows and columns one task computes per depth block.
    static let mc = 120
    static let nc = 512
    /// Tasks `compute` cuts a product into at least (where the tiles allow), so that each
    /// thread's share is several equal tasks.
    static let minTasks = 8

    /// Floats that `pack(a:)` writes for an `m x k` A.
    public static func packedASize(m: Int, k: Int) -> Int { roundUp(m, mr) * k }
    /// Floats that `pack(b:)` writes for a `k x n` B.
    public static func packedBSize(k: Int, n: Int) -> Int { roundUp(n, nr) * k }

    @inline(__always) static func roundUp(_ x: Int, _ m: Int) -> Int { (x + m - 1) / m * m }

    /// Packs A (`m x k`) into MR-row panels per depth block: block `p0` starts at `p0 * roundUp(m, MR)`,
    /// panel `i` of a block of depth `kb` at `i * MR * kb`, holding `MR` values per depth step (zero padded).
    /// One parallel loop over the panels covers every depth block (one wait, not one per block).
    public static func pack(a: MatrixView, m: Int, k: Int, into dst: UnsafeMutablePointer<Float>, parallel: ParallelFor = serialFor) {
        let mp = roundUp(m, mr)
        let panels = mp / mr
        parallel(panels) { range in
            var p0 = 0
            while p0 < k {
                let kb = min(kc, k - p0)
                let block = dst + p0 * mp
                for panel in range {
                    let out = block + panel * mr * kb
                    let r0 = panel * mr
                    let rows = min(mr, m - r0)
                    if rows == mr && a.colStride == 1, let packPanel = packAPanel {
                        packPanel(a.base + r0 * a.rowStride + p0, a.rowStride, kb, out)
                    } else if rows == mr && a.colStride == 1 {
                        for r in 0..<mr {
                            let src = a.base + (r0 + r) * a.rowStride + p0
                            for kk in 0..<kb { out[kk * mr + r] = src[kk] }
                        }
                    } else if rows == mr && a.rowStride == 1 {
                        for kk in 0..<kb {
                            let src = a.base + r0 + (p0 + kk) * a.colStride
                            for r in 0..<mr { out[kk * mr + r] = src[r] }
                        }
                    } else {
                        for kk in 0..<kb {
                            for r in 0..<mr {
                                out[kk * mr + r] = r < rows ? a.base[(r0 + r) * a.rowStride + (p0 + kk) * a.colStride] : 0
                            }
                        }
                    }
                }
                p0 += kb
            }
        }
    }

    /// Packs B (`k x n`) into NR-column panels per depth block, laid out like `pack(a:)`.
    public static func pack(b: MatrixView, k: Int, n: Int, into dst: UnsafeMutablePointer<Float>, parallel: ParallelFor = serialFor) {
        let np = roundUp(n, nr)
        let panels = np / nr
        parallel(panels) { range in
            var p0 = 0
            while p0 < k {
                let kb = min(kc, k - p0)
                packBlock(b: b, p0: p0, kb: kb, panels: range, n: n, into: dst + p0 * np + range.lowerBound * nr * kb)
                p0 += kb
            }
        }
    }

    /// Packs depth rows `p0..<p0+kb` of the NR-column panels `panels` of B (`n` columns in all)
    /// into consecutive `NR x kb` panels at `out` (zero padded past column `n`).
    static func packBlock(b: MatrixView, p0: Int, kb: Int, panels: Range<Int>, n: Int, into out: UnsafeMutablePointer<Float>) {
        var out = out
        for panel in panels {
            let c0 = panel * nr
            let cols = min(nr, n - c0)
            if cols == nr && b.colStride == 1 {
                for kk in 0..<kb {
                    let src = UnsafeRawPointer(b.base + (p0 + kk) * b.rowStride + c0)
                    let dst = UnsafeMutableRawPointer(out + kk * nr)
                    for v in stride(from: 0, to: nr * 4, by: 32) {
                        dst.storeBytes(
                            of: src.loadUnaligned(fromByteOffset: v, as: SIMD8<Float>.self),
                            toByteOffset: v, as: SIMD8<Float>.self)
                    }
                }
            } else if cols == nr && b.rowStride == 1 {
                for c in 0..<nr {
                    let src = b.base + (c0 + c) * b.colStride + p0
                    for kk in 0..<kb { out[kk * nr + c] = src[kk] }
                }
            } else {
                for kk in 0..<kb {
                    for c in 0..<nr {
                        out[kk * nr + c] = c < cols ? b.base[(p0 + kk) * b.rowStride + (c0 + c) * b.colStride] : 0
                    }
                }
            }
            out += nr * kb
        }
    }

    /// `C = alpha * A * B + beta * C` with A `m x k`, B `k x n`, C row-major with row stride `ldc`.
    /// `packedA`/`packedB` are results of `pack` (pass them for constant operands packed once);
    /// otherwise `a`/`b` are packed here. `beta` 0 never reads C (it may hold garbage).
    public static func sgemm(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: MatrixView? = nil, packedA: UnsafePointer<Float>? = nil,
        b: MatrixView? = nil, packedB: UnsafePointer<Float>? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
        parallel: ParallelFor = serialFor, finish: TileFinish? = nil, epilogue: Epilogue? = nil
    ) {
        if m <= 0 || n <= 0 { return }
        if k <= 0 {
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            finishBlock(finish, c, ldc, 0..<m, 0..<n)
            epilogue?(0..<m, 0..<n)
            return
        }
        // Small products: packing costs more than it saves.
        if packedA == nil && packedB == nil, let a = a, let b = b, m * n * k <= 4096 {
            naive(m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c, ldc: ldc)
            finishBlock(finish, c, ldc, 0..<m, 0..<n)
            epilogue?(0..<m, 0..<n)
            return
        }
        if packedA == nil && packedB == nil, let a = a, let b = b, m == 1 || n == 1 {
            gemv(m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c, ldc: ldc, parallel: parallel)
            finishBlock(finish, c, ldc, 0..<m, 0..<n)
            epilogue?(0..<m, 0..<n)
            return
        }
        var ownedA: UnsafeMutablePointer<Float>? = nil
        var ownedB: UnsafeMutablePointer<Float>? = nil
        defer {
            ownedA?.deallocate()
            ownedB?.deallocate()
        }
        let pa: UnsafePointer<Float>
        if let p = packedA {
            pa = p
        } else {
            let buf = UnsafeMutablePointer<Float>.allocate(capacity: packedASize(m: m, k: k))
            pack(a: a!, m: m, k: k, into: buf, parallel: parallel)
            ownedA = buf
            pa = UnsafePointer(buf)
        }
        // Wide B (a convolution's input): each task packs only the column blocks it computes,
        // so packing and multiplying are one parallel pass and packed B stays in cache.
        if packedB == nil, let b = b, n >= 4 * columnBlock {
            computeByColumns(
                m: m, n: n, k: k, alpha: alpha, pa: pa, b: b, beta: beta, c: c, ldc: ldc,
                parallel: parallel, finish: finish, epilogue: epilogue)
            return
        }
        let pb: UnsafePointer<Float>
        if let p = packedB {
            pb = p
        } else {
            let buf = UnsafeMutablePointer<Float>.allocate(capacity: packedBSize(k: k, n: n))
            pack(b: b!, k: k, n: n, into: buf, parallel: parallel)
            ownedB = buf
            pb = UnsafePointer(buf)
        }
        compute(
            m: m, n: n, k: k, alpha: alpha, pa: pa, pb: pb, beta: beta, c: c, ldc: ldc, parallel: parallel,
            finish: finish, epilogue: epilogue)
    }

    /// Columns one task packs and multiplies at a time in `computeByColumns`: the packed
    /// `kc x columnBlock` block of B fills at most half of L2, capped at 192 (a multiple of
    /// every tile width).
    static let columnBlock = max(nr, min(192, CacheSizes.l2 / 2 / (kc * 4) / 32 * 32))

    /// The product of packed A and unpacked B, split over column blocks of B and C: each task
    /// packs a `kc x columnBlock` block of B at a time into its own buffer and multiplies it
    /// with every row panel of A.
    static func computeByColumns(
        m: Int, n: Int, k: Int, alpha: Float, pa: UnsafePointer<Float>, b: MatrixView,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: ParallelFor,
        finish: TileFinish?, epilogue: Epilogue?
    ) {
        let mp = roundUp(m, mr)
        // At least 16 blocks where the columns allow (a 28x28 map is 784 columns, 5 blocks of
        // 192): threads take equal counts of blocks, so few blocks leave one thread idle.
        let width = max(2 * nr, min(columnBlock, roundUp((n + 15) / 16, nr)))
        let blocks = (n + width - 1) / width
        parallel(blocks) { range in
            let local = UnsafeMutablePointer<Float>.allocate(capacity: min(kc, k) * width)
            defer { local.deallocate() }
            for blk in range {
                let j0 = blk * width, j1 = min(n, j0 + width)
                let firstPanel = j0 / nr, panelCount = (j1 - j0 + nr - 1) / nr
                var p0 = 0
                while p0 < k {
                    let kb = min(kc, k - p0)
                    packBlock(b: b, p0: p0, kb: kb, panels: firstPanel..<firstPanel + panelCount, n: n, into: local)
                    let blockA = pa + p0 * mp
                    let bt = p0 == 0 ? beta : 1
                    let last = p0 + kb == k
                    var i = 0
                    while i < m {
                        let ap = blockA + (i / mr) * mr * kb
                        // Two row panels at a time where the pair tile exists and 7+ rows remain.
                        let pair = pairTile != nil && m - i > mr
                        let rows = min(pair ? 2 * mr : mr, m - i)
                        var tileFinish = last ? finish?.fromRow(i) : nil
                        var j = j0
                        var bp = UnsafePointer(local)
                        while j < j1 {
                            if pair, let pairTile {
                                twoPanels(pairTile, kb, ap, bp, c + i * ldc + j, ldc, rows, min(nr, j1 - j), alpha, bt, tileFinish)
                            } else {
                                micro(kb, ap, bp, c + i * ldc + j, ldc, rows, min(nr, j1 - j), alpha, bt, &tileFinish)
                            }
                            j += nr
                            bp += nr * kb
                        }
                        i += rows
                    }
                    p0 += kb
                }
                epilogue?(0..<m, j0..<j1)
            }
        }
    }

    /// The blocked product of two packed operands.
    static func compute(
        m: Int, n: Int, k: Int, alpha: Float, pa: UnsafePointer<Float>, pb: UnsafePointer<Float>,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: ParallelFor,
        finish: TileFinish? = nil, epilogue: Epilogue? = nil
    ) {
        let mp = roundUp(m, mr), np = roundUp(n, nr)
        let rowTiles = mp / mr, colTiles = np / nr
        // Tasks of up to MC x NC, cut further while there are fewer than `minTasks` (the
        // larger side first). Each axis is cut into near-equal parts of whole micro-tiles: a
        // 384-row product is 4 parts of 96 rows, not 3 of 120 and a sliver of 24, so the
        // threads' shares are equal (with 2 threads the old cut gave one 240 rows, the other 144).
        var tm = (mp + mc - 1) / mc, tn = (np + nc - 1) / nc
        while tm * tn < minTasks && (tm < rowTiles || tn < colTiles) {
            if tn < colTiles && (np / tn >= mp / tm || tm >= rowTiles) { tn += 1 } else { tm += 1 }
        }
        // The whole depth is done inside one task, so each C tile is written by one thread only.
        parallel(tm * tn) { range in
            for t in range {
                let ti = t / tn, tj = t % tn
                let i0 = rowTiles * ti / tm * mr, i1 = min(m, rowTiles * (ti + 1) / tm * mr)
                let j0 = colTiles * tj / tn * nr, j1 = min(n, colTiles * (tj + 1) / tn * nr)
                var p0 = 0
                while p0 < k {
                    let kb = min(kc, k - p0)
                    let blockA = pa + p0 * mp, blockB = pb + p0 * np
                    let bt = p0 == 0 ? beta : 1
                    let last = p0 + kb == k
                    var j = j0
                    while j < j1 {
                        let bp = blockB + (j / nr) * nr * kb
                        let cols = min(nr, j1 - j)
                        var i = i0
                        while i < i1 {
                            let ap = blockA + (i / mr) * mr * kb
                            var tileFinish = last ? finish?.fromRow(i) : nil
                            // Two row panels at a time where the pair tile exists and 7+ rows of
                            // this task remain (a pair never crosses the task's last row, i1).
                            if let pairTile, i1 - i > mr {
                                let rows = min(2 * mr, i1 - i)
                                twoPanels(pairTile, kb, ap, bp, c + i * ldc + j, ldc, rows, cols, alpha, bt, tileFinish)
                                i += rows
                            } else {
                                micro(kb, ap, bp, c + i * ldc + j, ldc, min(mr, i1 - i), cols, alpha, bt, &tileFinish)
                                i += mr
                            }
                        }
                        j += nr
                    }
                    p0 += kb
                }
                epilogue?(i0..<i1, j0..<j1)
            }
        }
    }

    /// Rows 0..<`rows` (7...12: two packed row panels, the second `mr * kb` after `a`) of one
    /// column panel: the pair tile, or two MR x NR tiles for an edge of at most 8 columns (the
    /// AVX2 tile's 8-column loop does half the work of the pair's masked 16-lane FMAs).
    @inline(__always)
    static func twoPanels(
        _ pairTile: @Sendable (_ tile: GemmTile, _ secondA: UnsafePointer<Float>, _ finish: TileFinish?) -> Void,
        _ kb: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
        _ rows: Int, _ cols: Int, _ alpha: Float, _ beta: Float, _ finish: TileFinish?
    ) {
        if cols > narrowPairEdge {
            pairTile(
                GemmTile(depth: kb, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, alpha: alpha, beta: beta),
                a + mr * kb, finish)
        } else {
            var first = finish, second = finish?.fromRow(mr)
            micro(kb, a, b, c, ldc, mr, cols, alpha, beta, &first)
            micro(kb, a + mr * kb, b, c + mr * ldc, ldc, rows - mr, cols, alpha, beta, &second)
        }
    }
    /// Widest column edge that takes two tiles instead of the pair (measured equal or faster:
    /// docs/PERF.md).
    static let narrowPairEdge = 8

    /// One MR x NR tile over depth `kb`: accumulators stay in registers.
    @inline(__always)
    static func micro(
        _ kb: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ rows: Int, _ cols: Int,
        _ alpha: Float, _ beta: Float, _ finish: inout TileFinish?
    ) {
        tile(GemmTile(depth: kb, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, alpha: alpha, beta: beta), finish)
    }

    /// Applies `finish` (row bias, clamp) to a block of C in place; the portable kernels' way.
    static func finishBlock(
        _ finish: TileFinish?, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
        _ rows: Range<Int>, _ cols: Range<Int>
    ) {
        guard let f = finish else { return }
        for r in rows {
            let bias = f.rowBias?[r] ?? 0
            let row = c + r * ldc
            for j in cols {
                let v = row[j] + bias
                row[j] = v < f.lo ? f.lo : (v > f.hi ? f.hi : v) // NaN compares false and stays NaN
            }
        }
    }

    /// The portable 6x8 tile (Swift SIMD; whatever vector width the build targets).
    @inline(__always)
    static func portableTile(_ tile: GemmTile) {
        let (kb, a, b, c, ldc, rows, cols, alpha, beta) =
            (tile.depth, tile.a, tile.b, tile.c, tile.ldc, tile.rows, tile.cols, tile.alpha, tile.beta)
        typealias V = SIMD8<Float>
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
        var ap = a
        let braw = UnsafeRawPointer(b)
        for kk in 0..<kb {
            let bv = braw.loadUnaligned(fromByteOffset: kk * 32, as: V.self)
            c0 += V(repeating: ap[0]) * bv
            c1 += V(repeating: ap[1]) * bv
            c2 += V(repeating: ap[2]) * bv
            c3 += V(repeating: ap[3]) * bv
            c4 += V(repeating: ap[4]) * bv
            c5 += V(repeating: ap[5]) * bv
            ap += 6
        }
        if rows == 6 && cols == 8 {
            store(c0, c, alpha, beta)
            store(c1, c + ldc, alpha, beta)
            store(c2, c + 2 * ldc, alpha, beta)
            store(c3, c + 3 * ldc, alpha, beta)
            store(c4, c + 4 * ldc, alpha, beta)
            store(c5, c + 5 * ldc, alpha, beta)
            return
        }
        var acc = (c0, c1, c2, c3, c4, c5)
        withUnsafeBytes(of: &acc) { raw in
            let t = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for r in 0..<rows {
                let row = c + r * ldc
                for j in 0..<cols {
                    let v = alpha * t[r * 8 + j]
                    row[j] = beta == 0 ? v : v + beta * row[j]
                }
            }
        }
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ alpha: Float, _ beta: Float) {
        let raw = UnsafeMutableRawPointer(p)
        var r = alpha == 1 ? v : v * alpha
        if beta != 0 {
            let old = UnsafeRawPointer(raw).loadUnaligned(as: SIMD8<Float>.self)
            r += beta == 1 ? old : old * beta
        }
        raw.storeBytes(of: r, as: SIMD8<Float>.self)
    }

    /// Matrix-vector products (one row or one column of output): dot products or row sweeps.
    static func gemv(
        m: Int, n: Int, k: Int, alpha: Float, a: MatrixView, b: MatrixView,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: ParallelFor
    ) {
        @inline(__always) func finish(_ p: UnsafeMutablePointer<Float>, _ s: Float) {
            p.pointee = beta == 0 ? alpha * s : alpha * s + beta * p.pointee
        }
        if n == 1 {
            // c[i] = A(i,:) . B(:,0)
            let count = m
            parallel(count) { range in
                for i in range {
                    finish(c + i * ldc, dot(a.base + i * a.rowStride, a.colStride, b.base, b.rowStride, k))
                }
            }
        } else if b.rowStride == 1 {
            // B columns contiguous (B transposed): c[j] = A(0,:) . B(:,j)
            parallel(n) { range in
                for j in range { finish(c + j, dot(a.base, a.colStride, b.base + j * b.colStride, 1, k)) }
            }
        } else {
            // c[:] = sum_p A(0,p) * B(p,:), swept in column chunks.
            let chunk = 256
            parallel((n + chunk - 1) / chunk) { range in
                var acc = [Float](repeating: 0, count: chunk)
                for blk in range {
                    let j0 = blk * chunk, cnt = min(chunk, n - j0)
                    acc.withUnsafeMutableBufferPointer { t in
                        let tp = t.baseAddress!
                        for j in 0..<cnt { tp[j] = 0 }
                        for p in 0..<k {
                            let av = a.base[p * a.colStride]
                            let row = b.base + p * b.rowStride + j0 * b.colStride
                            if b.colStride == 1 {
                                var j = 0
                                let vv = SIMD8<Float>(repeating: av)
                                while j + 8 <= cnt {
                                    let x = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
                                    let y = UnsafeRawPointer(tp + j).loadUnaligned(as: SIMD8<Float>.self)
                                    UnsafeMutableRawPointer(tp + j).storeBytes(of: y + vv * x, as: SIMD8<Float>.self)
                                    j += 8
                                }
                                while j < cnt {
                                    tp[j] += av * row[j]
                                    j += 1
                                }
                            } else {
                                for j in 0..<cnt { tp[j] += av * row[j * b.colStride] }
                            }
                        }
                        for j in 0..<cnt { finish(c + j0 + j, tp[j]) }
                    }
                }
            }
        }
    }

    /// Dot product of two strided vectors; SIMD when both are contiguous.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ sx: Int, _ y: UnsafePointer<Float>, _ sy: Int, _ k: Int) -> Float {
        if sx == 1 && sy == 1 {
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
            var p = 0
            let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
            while p + 16 <= k {
                s0 +=
                    rx.loadUnaligned(fromByteOffset: p * 4, as: SIMD8<Float>.self)
                    * ry.loadUnaligned(fromByteOffset: p * 4, as: SIMD8<Float>.self)
                s1 +=
                    rx.loadUnaligned(fromByteOffset: p * 4 + 32, as: SIMD8<Float>.self)
                    * ry.loadUnaligned(fromByteOffset: p * 4 + 32, as: SIMD8<Float>.self)
                p += 16
            }
            var s = (s0 + s1).sum()
            while p < k {
                s += x[p] * y[p]
                p += 1
            }
            return s
        }
        var s: Float = 0
        for p in 0..<k { s += x[p * sx] * y[p * sy] }
        return s
    }

    /// Plain triple loop for tiny products.
    static func naive(
        m: Int, n: Int, k: Int, alpha: Float, a: MatrixView, b: MatrixView,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k { s += a.base[i * a.rowStride + p * a.colStride] * b.base[p * b.rowStride + j * b.colStride] }
                let v = alpha * s
                c[i * ldc + j] = beta == 0 ? v : v + beta * c[i * ldc + j]
            }
        }
    }
}
