import SwiftConvIR
import SwiftConvKernels

/// R of one GRU direction packed as GEMM B operands (k = hidden): the update and reset gate
/// rows (`zr`, n = 2 * hidden) and the hidden gate rows (`h`, n = hidden), which the reset
/// gate multiplies before (linear_before_reset 0) or after (1) the product.
struct PackedGRURecurrence {
    let zr: FloatBuffer
    let h: FloatBuffer

    /// Packs `r`, the [3 * hs, hs] R of one direction, row-major.
    init(_ r: UnsafePointer<Float>, hs: Int) {
        zr = FloatBuffer(count: Gemm.packedBSize(k: hs, n: 2 * hs))
        h = FloatBuffer(count: Gemm.packedBSize(k: hs, n: hs))
        Gemm.pack(b: MatrixView(r, rowStride: 1, colStride: hs), k: hs, n: 2 * hs, into: zr.pointer)
        Gemm.pack(b: MatrixView(r + 2 * hs * hs, rowStride: 1, colStride: hs), k: hs, n: hs, into: h.pointer)
    }
}

/// Where one direction of the float32 GRU fast path reads and writes.
struct GRUDirectionBuffers {
    /// X * W^T for every step and batch row, [seq * batch, 3 * hs], without biases.
    let xw: UnsafePointer<Float>
    /// Wb and Rb of the direction, 3 * hs each (zeros when B is omitted).
    let wb: UnsafePointer<Float>
    let rb: UnsafePointer<Float>
    /// R of the direction, [3 * hs, hs] row-major, and the same packed for the GEMM when R is constant.
    let r: UnsafePointer<Float>
    let packedR: PackedGRURecurrence?
    /// The hidden state, [batch, hs]: initial_h on entry, Y_h on return.
    let h: UnsafeMutablePointer<Float>
    /// Y's element (step 0, this direction, batch row 0) and the distance between steps.
    let y: UnsafeMutablePointer<Float>
    let yStride: Int
}

extension RecurrentKernel {
    /// The common GRU (Sigmoid and Tanh, no clip) in float32. Batch 1: per step one
    /// matrix-vector product per gate group with R's rows split across threads when large;
    /// larger batches: GEMMs with R packed (at build time when constant). The gates go
    /// through the vectorizable sigmoid/tanh. Rows past their sequence length are left
    /// alone, so their Y stays zero and their state is the last valid step's.
    func gruFloat(
        seq: Int, batch: Int, hs: Int, reverse: Bool, lens: [Int], _ io: GRUDirectionBuffers, context: ExecutionContext
    ) throws {
        guard seq > 0, batch > 0, hs > 0 else { return }
        // Summed biases where both enter the same sum: z and r always, h only before the reset.
        try withCheckedScratch(5 * hs) { bias in
            for j in 0..<2 * hs { bias[j] = io.wb[j] + io.rb[j] }
            // [2hs, 3hs): the hidden gate's bias outside the reset product; [3hs, 4hs): inside.
            for j in 0..<hs {
                bias[2 * hs + j] = linearBeforeReset ? io.wb[2 * hs + j] : io.wb[2 * hs + j] + io.rb[2 * hs + j]
                bias[3 * hs + j] = linearBeforeReset ? io.rb[2 * hs + j] : 0
                bias[4 * hs + j] = 0
            }
            if batch == 1 {
                try gruSingleRow(seq: seq, hs: hs, reverse: reverse, len: lens[0], io, bias: bias, threads: context.threads)
            } else {
                try gruBatched(seq: seq, batch: batch, hs: hs, reverse: reverse, lens: lens, io, bias: bias, context: context)
            }
        }
    }

    /// Batch 1: the gate pre-activations by `gemvRows` over R's rows.
    private func gruSingleRow(
        seq: Int, hs: Int, reverse: Bool, len: Int, _ io: GRUDirectionBuffers, bias: UnsafePointer<Float>, threads: ThreadPool
    ) throws {
        let rows = 3 * hs
        let lbr = linearBeforeReset
        try withCheckedScratch(4 * hs) { scratch in
            // gates: z, r, then the hidden gate; rh: r ⊙ h (or R_h h + Rb_h after the reset).
            let gates = scratch, rh = scratch + rows
            let h = io.h, rh0 = io.r + 2 * hs * hs
            let blocks = (rows + 3) / 4
            let grain = max(1, 16384 / max(4 * hs, 1))
            for step in 0..<len {
                let t = reverse ? len - 1 - step : step
                let xo = io.xw + t * rows
                if lbr {
                    // One pass over all of R: z and r with their inputs, R_h h + Rb_h apart.
                    threads.parallelFor(blocks, grain: grain) { range in
                        let lo = range.lowerBound * 4, hi = min(rows, range.upperBound * 4)
                        let zrHi = min(hi, 2 * hs)
                        if lo < zrHi {
                            gemvRows(io.r + lo * hs, rows: zrHi - lo, k: hs, x: h, add: xo + lo, bias: bias + lo, out: gates + lo)
                        }
                        let hLo = max(lo, 2 * hs)
                        if hLo < hi {
                            let o = hLo - 2 * hs
                            gemvRows(
                                rh0 + o * hs, rows: hi - hLo, k: hs, x: h, add: bias + 3 * hs + o, bias: bias + 4 * hs + o, out: rh + o)
                        }
                    }
                    sigmoidInPlace(gates, 2 * hs)
                    for j in 0..<hs { gates[2 * hs + j] = xo[2 * hs + j] + bias[2 * hs + j] + gates[hs + j] * rh[j] }
                } else {
                    let zrBlocks = (2 * hs + 3) / 4
                    threads.parallelFor(zrBlocks, grain: grain) { range in
                        let lo = range.lowerBound * 4, hi = min(2 * hs, range.upperBound * 4)
                        gemvRows(io.r + lo * hs, rows: hi - lo, k: hs, x: h, add: xo + lo, bias: bias + lo, out: gates + lo)
                    }
                    sigmoidInPlace(gates, 2 * hs)
                    for j in 0..<hs { rh[j] = gates[hs + j] * h[j] }
                    let hBlocks = (hs + 3) / 4
                    threads.parallelFor(hBlocks, grain: grain) { range in
                        let lo = range.lowerBound * 4, hi = min(hs, range.upperBound * 4)
                        gemvRows(
                            rh0 + lo * hs, rows: hi - lo, k: hs, x: rh, add: xo + 2 * hs + lo, bias: bias + 2 * hs + lo,
                            out: gates + 2 * hs + lo)
                    }
                }
                tanhInPlace(gates + 2 * hs, hs)
                let yp = io.y + t * io.yStride
                for j in 0..<hs {
                    let z = gates[j], ht = gates[2 * hs + j]
                    let v = (1 - z) * ht + z * h[j]
                    h[j] = v
                    yp[j] = v
                }
            }
        }
    }

    /// Batch > 1: per step H * R_zr^T and (r ⊙ H) * R_h^T (or H * R_h^T) as GEMMs over
    /// the whole batch; rows whose sequence has ended are computed and dropped.
    private func gruBatched(
        seq: Int, batch: Int, hs: Int, reverse: Bool, lens: [Int], _ io: GRUDirectionBuffers, bias: UnsafePointer<Float>,
        context: ExecutionContext
    ) throws {
        let packed = io.packedR ?? PackedGRURecurrence(io.r, hs: hs)
        let rows = 3 * hs
        let lbr = linearBeforeReset
        let par = context.parallel
        let longest = lens.max() ?? 0
        // zr: [batch, 2hs] gates z and r; hn: [batch, hs] the hidden-gate product; rh: [batch, hs] r ⊙ h.
        try withCheckedScratch(try Checked.multiply(batch, 4 * hs, "GRU scratch")) { scratch in
            let zr = scratch, hn = scratch + batch * 2 * hs, rh = hn + batch * hs
            for step in 0..<longest {
                Gemm.sgemm(
                    m: batch, n: 2 * hs, k: hs, a: MatrixView(io.h, rowStride: hs, colStride: 1), packedB: packed.zr.pointer,
                    c: zr, ldc: 2 * hs, parallel: par)
                for bi in 0..<batch {
                    let t = reverse ? lens[bi] - 1 - step : step
                    let g = zr + bi * 2 * hs, hp = io.h + bi * hs
                    guard t >= 0 && t < lens[bi] else {
                        if !lbr { for j in 0..<hs { rh[bi * hs + j] = 0 } }
                        continue
                    }
                    let xo = io.xw + (t * batch + bi) * rows
                    for j in 0..<2 * hs { g[j] += xo[j] + bias[j] }
                    sigmoidInPlace(g, 2 * hs)
                    if !lbr { for j in 0..<hs { rh[bi * hs + j] = g[hs + j] * hp[j] } }
                }
                Gemm.sgemm(
                    m: batch, n: hs, k: hs, a: MatrixView(lbr ? UnsafePointer(io.h) : UnsafePointer(rh), rowStride: hs, colStride: 1),
                    packedB: packed.h.pointer, c: hn, ldc: hs, parallel: par)
                for bi in 0..<batch {
                    let t = reverse ? lens[bi] - 1 - step : step
                    guard t >= 0 && t < lens[bi] else { continue }
                    let xo = io.xw + (t * batch + bi) * rows + 2 * hs
                    let g = zr + bi * 2 * hs, n = hn + bi * hs, hp = io.h + bi * hs
                    if lbr {
                        for j in 0..<hs { n[j] = xo[j] + bias[2 * hs + j] + g[hs + j] * (n[j] + bias[3 * hs + j]) }
                    } else {
                        for j in 0..<hs { n[j] += xo[j] + bias[2 * hs + j] }
                    }
                    tanhInPlace(n, hs)
                    let yp = io.y + t * io.yStride + bi * hs
                    for j in 0..<hs {
                        let z = g[j], ht = n[j]
                        let v = (1 - z) * ht + z * hp[j]
                        hp[j] = v
                        yp[j] = v
                    }
                }
            }
        }
    }
}
