#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The gate activations of LiteRT's float and hybrid LSTM (`tensor_utils::ApplyActivationToVector`),
/// bit for bit as its x86-64 build computes them. That function maps the vector with Eigen:
/// tanh is Eigen's [9/8] rational approximation everywhere; sigmoid is `e / (1 + e)` with
/// `e = exp(x/2)²` from Eigen's polynomial exp on the 16-byte-aligned groups of four, and with
/// libm's `expf` on the elements before the first aligned group and after the last one. The
/// arithmetic is SSE without fused multiply-adds, which Swift's separate `*` and `+` reproduce.
enum LSTMGateActivation {
    // Eigen's float tanh: x clamped to ±c, then (x + x³·P(x²)) / Q(x²).
    private static let tanhClamp = Float(bitPattern: 0x40FD_0956) // 7.90738964
    private static let tanhP: (Float, Float, Float, Float) = (
        Float(bitPattern: 0x326F_951E), Float(bitPattern: 0x37B0_63DC), Float(bitPattern: 0x3B66_BC7F),
        Float(bitPattern: 0x3E09_3CF6)
    )
    private static let tanhQ: (Float, Float, Float, Float, Float) = (
        Float(bitPattern: 0x3557_2C00), Float(bitPattern: 0x39AE_6D96), Float(bitPattern: 0x3CD4_C460),
        Float(bitPattern: 0x3EEF_4922), 1
    )
    // Eigen's logistic: the upper input clamp, the lower cut-off (0 below) and its exp's
    // Cody-Waite split of ln 2 and polynomial.
    private static let sigmoidHigh = Float(bitPattern: 0x4185_1592) // 16.6355324
    private static let sigmoidLow: Float = -104
    private static let log2e = Float(bitPattern: 0x3FB8_AA3B)
    private static let ln2High = Float(bitPattern: 0xBF31_8000) // -0.693359375
    private static let ln2Low = Float(bitPattern: 0x395E_8083) // 2.12194442e-4
    private static let expP: (Float, Float, Float, Float) = (
        Float(bitPattern: 0x3D2B_9DF0), Float(bitPattern: 0x3EFF_FEE0), Float(bitPattern: 0x3C08_8E52),
        Float(bitPattern: 0x3E2A_AB38)
    )

    /// Eigen's float tanh of one value (the same for its packet and scalar forms).
    @inline(__always)
    static func tanh(_ v: Float) -> Float {
        // SSE min/max order: a NaN input passes through.
        let hi = tanhClamp < v ? tanhClamp : v
        let x = -tanhClamp > hi ? -tanhClamp : hi
        let x2 = x * x, x3 = x * x2
        var p = x2 * tanhP.0 + tanhP.1
        p = p * x2 + tanhP.2
        p = p * x2 + tanhP.3
        p = p * x3 + x
        var q = x2 * tanhQ.0 + tanhQ.1
        q = q * x2 + tanhQ.2
        q = q * x2 + tanhQ.3
        q = q * x2 + tanhQ.4
        return p / q
    }

    /// Eigen's packet logistic of one value: `exp(x/2)` by range reduction and a degree-6
    /// polynomial, squared, over one plus itself; 0 below -104.
    @inline(__always)
    static func sigmoidPacket(_ v: Float) -> Float {
        let h = (sigmoidHigh < v ? sigmoidHigh : v) * 0.5
        let m = floor(h * log2e + 0.5)
        var r = m * ln2High + h
        r = m * ln2Low + r
        let r2 = r * r
        let a = r2 * expP.0 + expP.1
        var b = r2 * expP.2 + expP.3
        b = b * r
        b = b + a
        b = b * r2
        let p = b + (r + 1)
        // 2^m from the exponent bits, m + 127 clamped to [0, 255] (NaN gives 0 bits).
        let biased = m + 127
        let clamped = biased > 0 ? (biased < 255 ? biased : 255) : 0
        let scale = Float(bitPattern: UInt32(clamped) << 23)
        var e = scale * p
        e = e * e
        let s = e / (e + 1)
        return v < sigmoidLow ? 0 : s
    }

    /// `floor` without a libm call (the baseline x86-64 target has no `roundss`): exact, as
    /// every float of magnitude 2²³ or more is an integer.
    @inline(__always)
    private static func floor(_ t: Float) -> Float {
        guard abs(t) < 8_388_608 else { return t }
        let i = Float(Int32(t))
        return i > t ? i - 1 : i
    }

    /// Eigen's scalar logistic (the unaligned elements): libm's `expf`.
    @inline(__always)
    static func sigmoidScalar(_ v: Float) -> Float {
        let e = expf(sigmoidHigh < v ? sigmoidHigh : v)
        return e / (e + 1)
    }

    /// Sigmoid in place of `p[0..<count]`, elements `start..<start + count` of a vector of
    /// `total` (default `count`) that LiteRT maps in one call. `phase` is that vector's offset,
    /// in floats, from a 16-byte boundary of the buffer LiteRT writes it to (its arena aligns
    /// every tensor to 64 bytes).
    static func sigmoid(_ p: UnsafeMutablePointer<Float>, count: Int, phase: Int, start: Int = 0, total: Int? = nil) {
        let total = total ?? count
        let head = min((4 - phase % 4) % 4, total)
        let packedEnd = head + (total - head) / 4 * 4
        let lo = min(max(head - start, 0), count), hi = min(max(packedEnd - start, lo), count)
        for i in 0..<lo { p[i] = sigmoidScalar(p[i]) }
        for i in lo..<hi { p[i] = sigmoidPacket(p[i]) }
        for i in hi..<count { p[i] = sigmoidScalar(p[i]) }
    }

    /// The LSTM's configurable activation (the cell gate's and the cell state's) from `src`
    /// into `dst` (which may be `src`), as `ApplyActivationToVector`.
    static func apply(
        _ activation: TFLiteActivation, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int
    ) {
        switch activation {
        case .tanh: for i in 0..<count { dst[i] = tanh(src[i]) }
        case .none: if UnsafePointer(dst) != src { dst.update(from: src, count: count) }
        default: for i in 0..<count { dst[i] = activation.apply(src[i]) }
        }
    }
}

/// The float matrix products of LiteRT's LSTM (`lstm_eval`'s `MatrixBatchVectorMultiplyAccumulate`:
/// a FULLY_CONNECTED through Eigen's matrix product, SSE, no FMA), in its summation order.
/// One vector per call (time-major batch 1, or any batch-major step) is Eigen's row-major
/// GEMV (`rowDot`); the previous value is added after, and the sum clamped to the finite
/// range. Several vectors per call is Eigen's matrix product, which clamps before adding:
/// under 20 for depth + rows + vectors its coefficient-wise form (`reduxDot`), else its GEMM
/// (`gemmDot`: 8x4 register blocks, the depth split into L1-sized blocks).
enum LSTMFloatProduct {
    /// `out[v * outStride + r] = W[r, :] · x[v * xStride ..< + cols] + add[v * addStride + r]`
    /// for `rows` rows of the row-major `w` and `vectors` vectors; `out` may be `add`.
    static func multiplyAccumulate(
        _ w: UnsafePointer<Float>, rows: Int, cols: Int, _ x: UnsafePointer<Float>, xStride: Int, vectors: Int,
        add: UnsafePointer<Float>, addStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int
    ) {
        let top = Float.greatestFiniteMagnitude
        @inline(__always) func clamp(_ v: Float) -> Float {
            let lo = top < v ? top : v
            return -top > lo ? -top : lo
        }
        if vectors == 1 {
            // Eigen turns a one-row product into a dot product.
            if rows == 1 {
                out[0] = clamp(reduxDot(w, x, cols) + add[0])
                return
            }
            for r in 0..<rows { out[r] = clamp(rowDot(w + r * cols, x, cols) + add[r]) }
            return
        }
        let coefficientWise = cols + rows + vectors < 20
        let kc = coefficientWise ? cols : gemmDepthBlock(depth: cols, rows: rows, columns: vectors)
        for v in 0..<vectors {
            let xv = x + v * xStride, av = add + v * addStride, ov = out + v * outStride
            for r in 0..<rows {
                let wr = w + r * cols
                let s: Float
                if coefficientWise {
                    s = reduxDot(wr, xv, cols)
                } else if rows == 1 {
                    // A one-row GEMM is Eigen's GEMV of the transposed product.
                    s = rowDot(xv, wr, cols)
                } else {
                    s = gemmDot(wr, xv, cols, row: r, rows: rows, column: v, columns: vectors, depthBlock: kc)
                }
                ov[r] = clamp(s) + av[r]
            }
        }
    }

    /// Eigen's row-major GEMV dot product on SSE: four lanes summing every fourth product,
    /// folded `(l0 + l2) + (l1 + l3)`, then the leftover products one by one.
    @inline(__always)
    static func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD4<Float>(repeating: 0)
        let full = n & ~3
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var j = 0
        while j < full {
            let av = ra.loadUnaligned(fromByteOffset: j * 4, as: SIMD4<Float>.self)
            let bv = rb.loadUnaligned(fromByteOffset: j * 4, as: SIMD4<Float>.self)
            acc = acc + av * bv
            j += 4
        }
        var s = (acc[0] + acc[2]) + (acc[1] + acc[3])
        while j < n {
            s = s + a[j] * b[j]
            j += 1
        }
        return s
    }

    /// Eigen's vectorised sum of a coefficient-wise product (its linear redux on SSE): one
    /// packet accumulator, two from eight products on, folded like `rowDot`; under four
    /// products, left to right.
    static func reduxDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        guard n >= 4 else {
            guard n > 0 else { return 0 }
            var s = a[0] * b[0]
            for i in 1..<n { s = s + a[i] * b[i] }
            return s
        }
        @inline(__always) func product(_ i: Int) -> SIMD4<Float> {
            UnsafeRawPointer(a + i).loadUnaligned(as: SIMD4<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD4<Float>.self)
        }
        let packed = n & ~3, packed2 = n & ~7
        var r0 = product(0)
        if packed > 4 {
            var r1 = product(4)
            var i = 8
            while i < packed2 {
                r0 = r0 + product(i)
                r1 = r1 + product(i + 4)
                i += 8
            }
            r0 = r0 + r1
            if packed > packed2 { r0 = r0 + product(packed2) }
        }
        var s = (r0[0] + r0[2]) + (r0[1] + r0[3])
        for i in packed..<n { s = s + a[i] * b[i] }
        return s
    }

    /// One result of Eigen's GEMM (`gebp_kernel` with 8x4 blocks on SSE): the depth in blocks
    /// of `depthBlock`, each block's sum added to the result in turn. Rows in 8-row panels,
    /// and columns past the last 4-column panel, sum left to right; the 4-row panel after
    /// them (in a 4-column panel) sums even and odd products apart up to a multiple of 8; the
    /// last rows sum every fourth product apart, folded `(c0 + c1) + (c2 + c3)`.
    static func gemmDot(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, row: Int, rows: Int, column: Int, columns: Int,
        depthBlock: Int
    ) -> Float {
        let panels8 = rows & ~7
        let panel4End = rows - panels8 >= 4 ? panels8 + 4 : panels8
        let sequential = row < panels8 || column >= columns & ~3
        var result: Float = 0
        var k0 = 0
        while k0 < n {
            let len = min(depthBlock, n - k0)
            let pa = a + k0, pb = b + k0
            var s: Float = 0
            if sequential {
                for k in 0..<len { s = s + pa[k] * pb[k] }
            } else if row < panel4End {
                let peeled = len & ~7
                var even: Float = 0, odd: Float = 0
                var k = 0
                while k < peeled {
                    even = even + pa[k] * pb[k]
                    odd = odd + pa[k + 1] * pb[k + 1]
                    k += 2
                }
                s = even + odd
                while k < len {
                    s = s + pa[k] * pb[k]
                    k += 1
                }
            } else {
                let quads = len & ~3
                var c = SIMD4<Float>(repeating: 0)
                var k = 0
                while k < quads {
                    c = c + SIMD4(pa[k], pa[k + 1], pa[k + 2], pa[k + 3]) * SIMD4(pb[k], pb[k + 1], pb[k + 2], pb[k + 3])
                    k += 4
                }
                s = (c[0] + c[1]) + (c[2] + c[3])
                while k < len {
                    s = s + pa[k] * pb[k]
                    k += 1
                }
            }
            result = result + s
            k0 += len
        }
        return result
    }

    /// Eigen's depth blocking for a `rows` x `depth` by `depth` x `columns` product
    /// (`evaluateProductBlockingSizesHeuristic`): no blocking under 48 in every dimension, else
    /// the largest multiple of 8 whose 8x4 panels fit the L1 data cache, evened out so the
    /// last block is as large as possible.
    static func gemmDepthBlock(depth: Int, rows: Int, columns: Int) -> Int {
        if max(depth, rows, columns) < 48 { return max(depth, 1) }
        let maxBlock = max(((l1DataCacheBytes - 8 * 4 * 4) / (8 * 4 + 4 * 4)) & ~7, 1)
        guard depth > maxBlock else { return max(depth, 1) }
        let rest = depth % maxBlock
        if rest == 0 { return maxBlock }
        return maxBlock - 8 * ((maxBlock - 1 - rest) / (8 * (depth / maxBlock + 1)))
    }

    /// The L1 data cache size Eigen reads from the CPU (32 KiB when unknown).
    static let l1DataCacheBytes: Int = {
        #if canImport(Glibc)
            let size = sysconf(Int32(_SC_LEVEL1_DCACHE_SIZE))
            return size > 0 ? size : 32 * 1024
        #else
            return 32 * 1024
        #endif
    }()
}
