import CSwiftConvKernels

/// The numeric inner loops the engine runs hottest, as one table of function entries.
///
/// `generic` holds the portable Swift loops, which run on every machine. `best` starts
/// from `generic` and overwrites the slots this CPU runs faster (today the AVX2+FMA loops
/// of `CSwiftConvKernels`); it is chosen once per process. Callers go through `best`;
/// tests compare each slot of `best` with the same slot of `generic`.
public struct KernelTable: Sendable {
    /// What the table was built for: "portable", or the ISA extensions its slots use.
    public var name: String
    /// CPU features whose loops replaced generic slots (empty for the portable table).
    public var features: [String]

    /// Rows and columns of the GEMM micro-tile; packed operands follow `gemmTileColumns`.
    public var gemmTileRows: Int
    public var gemmTileColumns: Int
    /// One `gemmTileRows x gemmTileColumns` tile of `C = alpha * A * B + beta * C` over one
    /// depth block of packed A and B panels, then the tile finish (when given).
    public var gemmTile: @Sendable (_ tile: GemmTile, _ finish: TileFinish?) -> Void
    /// Two stacked `gemmTile`s sharing one B panel: rows `0..<6` of `tile` from the A panel
    /// `tile.a`, rows `6..<tile.rows` (`tile.rows` 7...12) from the next A panel `secondA`;
    /// the two tiles' results bit for bit. nil where the CPU has none (then `Gemm` calls
    /// `gemmTile` per panel); only in tables of 6-row panels.
    public var gemmPairTile: (@Sendable (_ tile: GemmTile, _ secondA: UnsafePointer<Float>, _ finish: TileFinish?) -> Void)? = nil

    /// `p[0..<count] = clamp(p[i] + bias, lo, hi)`; NaN stays NaN. A convolution's bias
    /// with Relu or Clip.
    public var biasClamp:
        @Sendable (
            _ p: UnsafeMutablePointer<Float>, _ count: Int, _ bias: Float,
            _ lo: Float, _ hi: Float
        ) -> Void

    /// A 2-D depthwise convolution (one filter per channel) of planes `planes`.
    public var depthwiseConv2D: @Sendable (_ problem: DepthwiseConv2D, _ planes: Range<Int>) -> Void

    /// Unfolds one group of one image into GEMM columns (`Im2Col.unfold`).
    public var im2col:
        @Sendable (
            _ x: UnsafePointer<Float>, _ channels: Int, _ window: ConvWindow,
            _ col: UnsafeMutablePointer<Float>, _ parallel: ParallelFor
        ) -> Void
    /// Scatter-adds GEMM columns back into an image (`Im2Col.fold`).
    public var col2im:
        @Sendable (
            _ col: UnsafePointer<Float>, _ channels: Int, _ window: ConvWindow,
            _ y: UnsafeMutablePointer<Float>, _ parallel: ParallelFor
        ) -> Void

    /// Output rows of a 2-D max or average pool (`Pooling2D.outputRows`; AVX2 loops for max pooling).
    public var pool2DRows: @Sendable (_ problem: Pooling2D, _ jobs: Range<Int>, _ scratch: UnsafeMutablePointer<Float>) -> Void

    /// `out[n] = add[n] + bias[n] + dot(m[n * k ..< n * k + k], x)` for `rows` contiguous rows
    /// (`GemvRows.portable`): a recurrent cell's gates at batch 1.
    public var gemvRows:
        @Sendable (
            _ m: UnsafePointer<Float>, _ rows: Int, _ k: Int, _ x: UnsafePointer<Float>, _ add: UnsafePointer<Float>,
            _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>
        ) -> Void = { m, rows, k, x, add, bias, out in
            GemvRows.portable(m, rows: rows, k: k, x: x, add: add, bias: bias, out: out)
        }

    /// Packs `gemmTileRows` full rows of a row-major A (`lda` apart) over `depth` columns into
    /// one GEMM panel (`Gemm.pack(a:)`'s layout); nil where the portable loop does it.
    public var packAPanel: (@Sendable (_ a: UnsafePointer<Float>, _ lda: Int, _ depth: Int, _ out: UnsafeMutablePointer<Float>) -> Void)? =
        nil

    /// `c = a * b` for small row-major float32 matrices (`a` m x k, `b` k x n): attention heads,
    /// too small to pay for packing (`SmallMatMul.portable`).
    public var smallMatMul:
        @Sendable (
            _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int, _ n: Int,
            _ k: Int
        ) -> Void = { a, b, c, m, n, k in SmallMatMul.portable(a, b, c, m: m, n: n, k: k) }

    /// Int32 dot products of int16 rows, `IntegerGemm.portableGemmNT`; `k` a multiple of 16.
    public var int16GemmNT:
        @Sendable (
            _ m: Int, _ n: Int, _ k: Int, _ x: UnsafePointer<Int16>, _ ldx: Int, _ w: UnsafePointer<Int16>, _ ldw: Int,
            _ out: UnsafeMutablePointer<Int32>, _ ldo: Int
        ) -> Void = { m, n, k, x, ldx, w, ldw, out, ldo in
            IntegerGemm.portableGemmNT(m: m, n: n, k: k, x: x, ldx: ldx, w: w, ldw: ldw, out: out, ldo: ldo)
        }

    /// One output pixel of a quantized depthwise convolution, `IntegerGemm.portableDepthwisePixel`.
    public var int16DepthwisePixel:
        @Sendable (
            _ channels: Int, _ taps: Int, _ x: UnsafePointer<Int16>, _ xOffsets: UnsafePointer<Int>,
            _ f: UnsafePointer<Int16>, _ fOffsets: UnsafePointer<Int>, _ acc: UnsafeMutablePointer<Int32>
        ) -> Void = { channels, taps, x, xOffsets, f, fOffsets, acc in
            IntegerGemm.portableDepthwisePixel(
                channels: channels, taps: taps, x: x, xOffsets: xOffsets, f: f, fOffsets: fOffsets, acc: acc)
        }

    /// Per-channel requantization into 8-bit outputs, `IntegerGemm.portableRequantize`.
    public var requantize:
        @Sendable (
            _ count: Int, _ acc: UnsafePointer<Int32>, _ bias: UnsafePointer<Int32>?, _ mantissa: UnsafePointer<Int32>,
            _ shift: UnsafePointer<Int32>, _ singleRounding: Bool, _ zeroPoint: Int32, _ lo: Int32, _ hi: Int32,
            _ out: UnsafeMutablePointer<UInt8>
        ) -> Void = { count, acc, bias, mantissa, shift, singleRounding, zeroPoint, lo, hi, out in
            IntegerGemm.portableRequantize(
                count: count, acc: acc, bias: bias, mantissa: mantissa, shift: shift, singleRounding: singleRounding,
                zeroPoint: zeroPoint, lo: lo, hi: hi, out: out)
        }

    /// Quantized same-shape 8-bit ADD/SUB, `QuantizedAdd.portableRun`.
    public var quantizedAdd:
        @Sendable (
            _ count: Int, _ x: UnsafePointer<UInt8>, _ y: UnsafePointer<UInt8>, _ signed: Bool, _ params: QuantizedAdd,
            _ out: UnsafeMutablePointer<UInt8>
        ) -> Void = { count, x, y, signed, params, out in
            params.portableRun(count: count, x: x, y: y, signed: signed, out: out)
        }

    /// Tiles by weight panels of an implicit-GEMM 2-D convolution (`ImplicitConv.run`).
    public typealias ImplicitConvTiles =
        @Sendable (_ problem: UnsafePointer<scv_conv_problem>, _ tiles: Range<Int>, _ panels: Range<Int>) -> Void
    /// The implicit-GEMM convolution, where this CPU has one; nil keeps im2col and the GEMM.
    public var implicitConvTiles: ImplicitConvTiles? = nil

    /// The direct convolution for few input channels (`DirectConv`), where this CPU has one
    /// (AVX-512F); nil leaves those convolutions to the implicit GEMM or im2col.
    public var directConv: DirectConvLoops? = nil

    /// A float32 loop `y[i] = f(x[i])` for `i < count`; `x` and `y` may be the same array.
    public typealias FloatLoop =
        @Sendable (_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) -> Void
    /// `y[i] = x[i] * sigmoid(alpha * x[i])` for `i < count`.
    public typealias SwishLoop =
        @Sendable (_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, _ alpha: Float) -> Void
    /// One softmax row of `count` floats; `log` for LogSoftmax.
    public typealias SoftmaxRowLoop =
        @Sendable (_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, _ log: Bool) -> Void

    /// `exp`, its argument clamped to [-87.3, 88] (below gives 0); NaN stays NaN.
    public var exp: FloatLoop = { x, y, n in Transcendental.exp(x, y, n) }
    /// The logistic function `1 / (1 + e^-x)`.
    public var sigmoid: FloatLoop = { x, y, n in Transcendental.sigmoid(x, y, n) }
    public var tanh: FloatLoop = { x, y, n in Transcendental.tanh(x, y, n) }
    /// `erf`; ±inf gives ±1, the sign of zero is kept.
    public var erf: FloatLoop = { x, y, n in Transcendental.erf(x, y, n) }
    /// Exact GELU `x/2 (1 + erf(x/√2))`.
    public var gelu: FloatLoop = { x, y, n in Transcendental.gelu(x, y, n) }
    /// GELU's tanh approximation.
    public var geluTanh: FloatLoop = { x, y, n in Transcendental.geluTanh(x, y, n) }
    /// Swish `y[i] = x[i] * sigmoid(alpha * x[i])`; `x` and `y` may be the same array.
    public var swish: SwishLoop = { x, y, n, alpha in Transcendental.swish(x, y, n, alpha: alpha) }
    /// One Softmax row `y = exp(x - max) / sum`, or with `log` LogSoftmax's `x - max - log(sum)`;
    /// `x` and `y` must not overlap.
    public var softmaxRow: SoftmaxRowLoop = { x, y, n, log in Transcendental.softmaxRow(x, y, n, log: log) }

    /// The portable Swift loops, on every machine.
    public static let generic = KernelTable(
        name: "portable", features: [],
        gemmTileRows: 6, gemmTileColumns: 8,
        gemmTile: { tile, finish in
            Gemm.portableTile(tile)
            Gemm.finishBlock(finish, tile.c, tile.ldc, 0..<tile.rows, 0..<tile.cols)
        },
        biasClamp: { p, count, bias, lo, hi in BiasActivation.biasClamp(p, count, bias: bias, lo: lo, hi: hi) },
        depthwiseConv2D: { problem, planes in problem.runPortable(planes) },
        im2col: { x, channels, window, col, parallel in Im2Col.unfold(x, channels: channels, window, col, parallel: parallel) },
        col2im: { col, channels, window, y, parallel in Im2Col.fold(col, channels: channels, window, y, parallel: parallel) },
        pool2DRows: { problem, jobs, scratch in problem.outputRows(jobs, scratch: scratch) })

    /// `generic` with the slots this CPU runs faster replaced; chosen once per process.
    /// SWIFTCONV_PORTABLE_KERNELS=1 in the environment keeps `generic` (for tests);
    /// SWIFTCONV_AVX512=1 takes `avx512F` where the CPU has AVX-512F (see
    /// `scv_use_avx512_gemm` for why it is not the default). Either way, a CPU with AVX-512F
    /// runs the sigmoid, swish, implicit- and direct-convolution loops in zmm registers (`withAVX512Loops`).
    public static let best: KernelTable =
        scv_use_avx512_gemm() != 0
        ? avx512F : scv_cpu_has_avx2_fma() != 0 ? (avx512Available ? withAVX512Loops(avx2FMA) : avx2FMA) : generic

    /// Whether this CPU can run `avx512F` (whatever `best` chose); for tests.
    static let avx512Available = scv_cpu_has_avx512f() != 0

    /// `avx2FMA` with the AVX-512F GEMM tile (8x32: two zmm accumulators per row, column
    /// masks for edge tiles); only valid where the CPU has AVX-512F, AVX2 and FMA.
    static var avx512F: KernelTable {
        var t = withAVX512Loops(avx2FMA)
        t.name = "avx512f"
        t.features = ["avx512f", "avx2", "fma"]
        t.gemmTileRows = 8
        t.gemmTileColumns = 32
        t.packAPanel = nil // its panels are 8 rows
        t.gemmPairTile = nil // its panels are 8 rows
        t.gemmTile = { tile, finish in
            if var f = finish.map({ scv_tile_finish(row_bias: $0.rowBias, lo: $0.lo, hi: $0.hi) }) {
                withUnsafePointer(to: &f) {
                    scv_sgemm_tile_8x32_avx512(
                        tile.depth, tile.a, tile.b, tile.c, tile.ldc, tile.rows, tile.cols,
                        tile.alpha, tile.beta, $0)
                }
            } else {
                scv_sgemm_tile_8x32_avx512(
                    tile.depth, tile.a, tile.b, tile.c, tile.ldc, tile.rows, tile.cols,
                    tile.alpha, tile.beta, nil)
            }
        }
        return t
    }

    /// The AVX-512F 12x16 pair tile over the AVX2 tile's packing (6-row A panels, 16-column
    /// B panels), whatever SWIFTCONV_GEMM_AVX512 says; for `withAVX512Loops` and tests. Only
    /// valid where the CPU has AVX-512F.
    static let avx512PairTile: @Sendable (_ tile: GemmTile, _ secondA: UnsafePointer<Float>, _ finish: TileFinish?) -> Void = {
        tile, secondA, finish in
        if var f = finish.map({ scv_tile_finish(row_bias: $0.rowBias, lo: $0.lo, hi: $0.hi) }) {
            withUnsafePointer(to: &f) {
                scv_sgemm_tile_12x16_avx512(
                    tile.depth, tile.a, secondA, tile.b, tile.c, tile.ldc, tile.rows, tile.cols, tile.alpha, tile.beta, $0)
            }
        } else {
            scv_sgemm_tile_12x16_avx512(
                tile.depth, tile.a, secondA, tile.b, tile.c, tile.ldc, tile.rows, tile.cols, tile.alpha, tile.beta, nil)
        }
    }

    /// `t` with the AVX-512F sigmoid and swish loops, (unless SWIFTCONV_GEMM_AVX512=0) the
    /// 12x16 GEMM pair tile and (unless SWIFTCONV_CONV_AVX512=0) the implicit convolution: the
    /// AVX2 results bit for bit, faster on Zen 4 (where the 8x32 GEMM tile was not); and, unless
    /// SWIFTCONV_DIRECT_CONV=0, the direct convolution for few input channels (`DirectConv`, its
    /// own summation order). Keeps `t`'s name, the ISA the C API reports; only valid where the
    /// CPU has AVX-512F.
    static func withAVX512Loops(_ t: KernelTable) -> KernelTable {
        var t = t
        t.sigmoid = { x, y, n in scv_sigmoid_avx512(x, y, n) }
        t.swish = { x, y, n, alpha in scv_swish_avx512(x, y, n, alpha) }
        if scv_use_avx512_gemm_pair() != 0 { t.gemmPairTile = avx512PairTile }
        if scv_use_avx512_conv() != 0 {
            t.implicitConvTiles = { p, tiles, panels in
                scv_conv_implicit_avx512(p, tiles.lowerBound, tiles.upperBound, panels.lowerBound, panels.upperBound)
            }
        }
        if scv_use_direct_conv() != 0 {
            t.directConv = DirectConvLoops(
                copy: { x, layout, dst, jobs in
                    scv_direct_conv_copy_avx512(
                        x, layout.sourceHeight, layout.sourceWidth, layout.top, layout.left, layout.stride,
                        layout.phaseWidth, layout.height, dst, jobs.lowerBound, jobs.upperBound)
                },
                rows: { p, jobs in scv_direct_conv_avx512(p, jobs.lowerBound, jobs.upperBound) })
        }
        return t
    }

    /// The AVX2+FMA slots over `generic`; only valid where the CPU has both.
    static var avx2FMA: KernelTable {
        var t = generic
        t.name = "avx2-fma"
        t.features = ["avx2", "fma"]
        t.gemmTileColumns = 16
        t.gemmTile = { tile, finish in
            if var f = finish.map({ scv_tile_finish(row_bias: $0.rowBias, lo: $0.lo, hi: $0.hi) }) {
                withUnsafePointer(to: &f) {
                    scv_sgemm_tile_6x16_avx2(
                        tile.depth, tile.a, tile.b, tile.c, tile.ldc, tile.rows, tile.cols,
                        tile.alpha, tile.beta, $0)
                }
            } else {
                scv_sgemm_tile_6x16_avx2(
                    tile.depth, tile.a, tile.b, tile.c, tile.ldc, tile.rows, tile.cols,
                    tile.alpha, tile.beta, nil)
            }
        }
        t.depthwiseConv2D = { problem, planes in
            // Each call decides for its own planes: no state is shared between parallel chunks.
            if !problem.runAVX2(planes) { problem.runPortable(planes) }
        }
        t.pool2DRows = { problem, jobs, scratch in problem.outputRowsAVX2(jobs, scratch: scratch) }
        t.int16GemmNT = { m, n, k, x, ldx, w, ldw, out, ldo in scv_i16_gemm_nt_avx2(m, n, k, x, ldx, w, ldw, out, ldo) }
        t.gemvRows = { m, rows, k, x, add, bias, out in scv_gemv_rows_avx2(m, rows, k, x, add, bias, out) }
        t.smallMatMul = { a, b, c, m, n, k in scv_small_matmul_avx2(a, b, c, m, n, k) }
        t.packAPanel = { a, lda, depth, out in scv_pack_a_panel6_avx2(a, lda, depth, out) }
        t.requantize = { count, acc, bias, mantissa, shift, singleRounding, zeroPoint, lo, hi, out in
            scv_requantize_avx2(count, acc, bias, mantissa, shift, singleRounding ? 1 : 0, zeroPoint, lo, hi, out)
        }
        t.quantizedAdd = { count, x, y, signed, p, out in
            var c = scv_quantized_add(
                offset1: p.offset1, offset2: p.offset2, left_shift: p.leftShift, mantissa1: p.m1.mantissa,
                shift1: Int32(p.m1.shift), mantissa2: p.m2.mantissa, shift2: Int32(p.m2.shift), mantissa_out: p.mOut.mantissa,
                shift_out: Int32(p.mOut.shift), zero_point: p.zeroPoint, lo: p.lo, hi: p.hi)
            scv_quantized_add_avx2(count, x, y, signed ? 1 : 0, &c, out)
        }
        t.int16DepthwisePixel = { channels, taps, x, xOffsets, f, fOffsets, acc in
            scv_i16_depthwise_pixel_avx2(channels, taps, x, xOffsets, f, fOffsets, acc)
        }
        t.implicitConvTiles = { p, tiles, panels in
            scv_conv_implicit_avx2(p, tiles.lowerBound, tiles.upperBound, panels.lowerBound, panels.upperBound)
        }
        t.exp = { x, y, n in scv_exp_avx2(x, y, n) }
        t.sigmoid = { x, y, n in scv_sigmoid_avx2(x, y, n) }
        t.tanh = { x, y, n in scv_tanh_avx2(x, y, n) }
        t.erf = { x, y, n in scv_erf_avx2(x, y, n) }
        t.gelu = { x, y, n in scv_gelu_avx2(x, y, n) }
        t.geluTanh = { x, y, n in scv_gelu_tanh_avx2(x, y, n) }
        t.swish = { x, y, n, alpha in scv_swish_avx2(x, y, n, alpha) }
        t.softmaxRow = { x, y, n, log in scv_softmax_row_avx2(x, y, n, log ? 1 : 0) }
        return t
    }
}

/// One GEMM micro-tile: `rows x cols` (at most the table's tile) of C at `c` (row stride
/// `ldc`) from packed panels `a` and `b` of depth `depth`.
public struct GemmTile {
    public var depth: Int
    public var a: UnsafePointer<Float>
    public var b: UnsafePointer<Float>
    public var c: UnsafeMutablePointer<Float>
    public var ldc: Int
    public var rows: Int
    public var cols: Int
    public var alpha: Float
    public var beta: Float

    public init(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        rows: Int, cols: Int, alpha: Float, beta: Float
    ) {
        self.depth = depth
        self.a = a
        self.b = b
        self.c = c
        self.ldc = ldc
        self.rows = rows
        self.cols = cols
        self.alpha = alpha
        self.beta = beta
    }
}
