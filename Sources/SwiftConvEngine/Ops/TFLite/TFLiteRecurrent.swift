import RealModule
import SwiftConvIR
import SwiftConvKernels

/// TFLite's recurrent ops, float32: UNIDIRECTIONAL_SEQUENCE_LSTM.
enum TFLiteRecurrentKernels {
    static func register(into r: inout KernelRegistry) {
        r.registerTFLite("UNIDIRECTIONAL_SEQUENCE_LSTM") { ctx in
            return try TFLiteSequenceLSTMKernel(ctx)
        }
    }
}

/// UNIDIRECTIONAL_SEQUENCE_LSTM with TFLite's 24 inputs: input; input-to-{i,f,c,o} weights
/// `[U, I]` (no input gate: CIFG, i = 1 - f); recurrent-to-{i,f,c,o} `[U, O]` (`[U]` when
/// diagonal_recurrent_tensors); peepholes cell-to-{i,f,o} `[U]`; gate biases `[U]`; projection
/// `[O, U]` and its bias; output and cell state `[B, O]`, `[B, U]`; layer-norm coefficients.
///
/// The input contributions of every step are one GEMM up front; each step then adds the
/// recurrent GEMM and the element-wise cell update (TFLite's lstm_eval order: layer norm on
/// the gate sums, then bias; the output gate's peephole sees the new cell state).
/// The states start from the state inputs (zeros when omitted) on every run.
struct TFLiteSequenceLSTMKernel: Kernel {
    let timeMajor: Bool
    let activation: TFLiteActivation
    let cellClip: Float
    let projClip: Float
    let diagonal: Bool
    /// Pre-packed stacked weights `[4U, K]`ᵀ (input, recurrent), when constant.
    let packedInput: FloatBuffer?
    let packedRecurrent: FloatBuffer?
    let packedProjection: FloatBuffer?

    init(_ ctx: KernelBuildContext) throws {
        timeMajor = ctx.int("time_major", default: 0) != 0
        activation = try TFLiteActivation(ctx)
        if activation == .signBit { throw SwiftConvError.unsupportedOp("LSTM activation SIGN_BIT").at(ctx.nodeContext) }
        cellClip = ctx.float("cell_clip", default: 0)
        projClip = ctx.float("proj_clip", default: 0)
        diagonal = ctx.int("diagonal_recurrent_tensors", default: 0) != 0
        guard ctx.node.inputs.count >= 20 else { throw ctx.invalid("UNIDIRECTIONAL_SEQUENCE_LSTM needs at least 20 inputs") }
        func constants(_ idx: [Int]) -> [Tensor?]? {
            var out: [Tensor?] = []
            for i in idx {
                if !ctx.hasInput(i) {
                    out.append(nil)
                    continue
                }
                guard let t = ctx.constant(i), t.dtype == .float32, t.rank == 2 else { return nil }
                out.append(t)
            }
            return out
        }
        packedInput = try constants([1, 2, 3, 4]).flatMap { try Self.stack($0) }
        packedRecurrent = diagonal ? nil : try constants([5, 6, 7, 8]).flatMap { try Self.stack($0) }
        if ctx.hasInput(16), let p = ctx.constant(16), p.dtype == .float32, p.rank == 2, p.elementCount > 0 {
            packedProjection = packTransposedWeights(p.floatPointer, n: p.shape[0], k: p.shape[1])
        } else {
            packedProjection = nil
        }
    }

    /// Four gate weights `[U, K]` (nil for a missing input gate) stacked as `[4U, K]` and packed
    /// as GEMM B; nil when none is present or their shapes differ.
    static func stack(_ ws: [Tensor?]) throws -> FloatBuffer? {
        guard let first = ws.compactMap({ $0 }).first, first.rank == 2 else { return nil }
        let u = first.shape[0], k = first.shape[1]
        guard ws.allSatisfy({ $0 == nil || $0!.shape == [u, k] }), u > 0, k > 0 else { return nil }
        let per = try Checked.multiply(u, k, "the LSTM weights")
        return try withCheckedScratch(Checked.multiply(4, per, "the LSTM weights")) { m in
            for (g, w) in ws.enumerated() {
                if let w, w.dtype == .float32 {
                    (m + g * per).update(from: w.floatPointer, count: per)
                } else {
                    (m + g * per).update(repeating: 0, count: per)
                }
            }
            return packTransposedWeights(m, n: 4 * u, k: k)
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let op = "UNIDIRECTIONAL_SEQUENCE_LSTM"
        func opt(_ i: Int) throws -> Tensor? {
            guard i < inputs.count, let t = inputs.optionalTensor(i) else { return nil }
            guard t.dtype == .float32 else { throw kernelUnsupported("\(op) with a \(t.dtype) input \(i)") }
            return t
        }
        func req(_ i: Int) throws -> Tensor {
            guard let t = try opt(i) else { throw kernelError("\(op): input \(i) is required") }
            return t
        }
        let x = try req(0)
        guard x.rank == 3 else { throw kernelError("\(op) expects a 3-D input, got \(x.shape)") }
        let steps = timeMajor ? x.shape[0] : x.shape[1], batch = timeMajor ? x.shape[1] : x.shape[0], depth = x.shape[2]
        let wi = try opt(1), wf = try req(2), wc = try req(3), wo = try req(4)
        let ri = try opt(5), rf = try req(6), rc = try req(7), ro = try req(8)
        let units = wf.shape.first ?? 0
        for w in [wi, wf, wc, wo] {
            if let w, w.shape != [units, depth] { throw kernelError("\(op): input weights \(w.shape), expected [\(units), \(depth)]") }
        }
        let cifg = wi == nil
        let proj = try opt(16), projBias = try opt(17)
        let outSize = proj?.shape.first ?? units
        if let proj, proj.shape != [outSize, units] {
            throw kernelError("\(op): projection weights \(proj.shape) do not fit \(units) units")
        }
        if let projBias, projBias.shape != [outSize] {
            throw kernelError("\(op): projection bias \(projBias.shape) does not fit \(outSize)")
        }
        for r in [ri, rf, rc, ro] {
            guard let r else { continue }
            if diagonal ? r.shape != [units] : r.shape != [units, outSize] {
                throw kernelError("\(op): recurrent weights \(r.shape) do not fit \(units) units and output \(outSize)")
            }
        }
        if diagonal && outSize != units { throw kernelError("\(op): diagonal recurrent weights need no projection") }
        if cifg != (ri == nil) { throw kernelError("\(op): input-gate weights must be given together") }
        func vector(_ i: Int) throws -> UnsafePointer<Float>? {
            guard let t = try opt(i) else { return nil }
            guard t.shape == [units] else { throw kernelError("\(op): input \(i) has shape \(t.shape), expected [\(units)]") }
            return t.floatPointer
        }
        let peep = [try vector(9), try vector(10), try vector(11)]
        let bias = [try vector(12), try vector(13), try vector(14), try vector(15)]
        let norm = [try vector(20), try vector(21), try vector(22), try vector(23)]
        let layerNorm = norm[1] != nil
        // Keep the inputs alive while raw pointers into them are used.
        let held: [Tensor?] = (0..<inputs.count).map { inputs.optionalTensor($0) }
        defer { withExtendedLifetime(held) {} }
        let h0 = try opt(18), c0 = try opt(19)
        if let h0, h0.elementCount != batch * outSize {
            throw kernelError("\(op): output state \(h0.shape) does not fit [\(batch), \(outSize)]")
        }
        if let c0, c0.elementCount != batch * units { throw kernelError("\(op): cell state \(c0.shape) does not fit [\(batch), \(units)]") }

        let outShape = timeMajor ? [steps, batch, outSize] : [batch, steps, outSize]
        let out = try Tensor.allocate(.float32, outShape)
        if steps == 0 || batch == 0 || outSize == 0 { return [.tensor(out)] }
        let g4 = try Checked.multiply(4, units, "the LSTM gates")
        let rows = steps * batch
        let par = context.parallel
        guard let pIn = try packedInput ?? Self.stack([wi, wf, wc, wo]) else { throw kernelError("\(op): empty input weights") }
        let pRec = diagonal ? nil : try packedRecurrent ?? Self.stack([ri, rf, rc, ro])
        let pProj = proj.map { p in packedProjection ?? packTransposedWeights(p.floatPointer, n: outSize, k: units) }
        let hasPeep = peep[0] != nil || peep[1] != nil || peep[2] != nil
        let act = activation, cellClip = self.cellClip, projClip = self.projClip, timeMajor = self.timeMajor
        let po = out.mutableFloatPointer
        // LiteRT's scratch block of each gate (input, forget, cell, output).
        let slots = cifg ? [0, 1, 0, 2] : [0, 2, 1, 3]

        try withCheckedScratch(Checked.multiply(rows, g4, "the LSTM input contributions")) { pre in
            // Every step's input contributions, rows in the input's own order.
            Gemm.sgemm(
                m: rows, n: g4, k: depth, a: MatrixView(x.floatPointer, rowStride: depth, colStride: 1),
                packedB: UnsafePointer(pIn.pointer), c: pre, ldc: g4, parallel: par)
            try withCheckedScratch(Checked.product([batch, g4 + 2 * units + outSize], "the LSTM state")) { scratch in
                let gates = scratch, cell = scratch + batch * g4, hidden = cell + batch * units
                let h = hidden + batch * units // [batch, outSize]: the output state
                if let c0 {
                    cell.update(from: c0.floatPointer, count: batch * units)
                } else {
                    cell.update(repeating: 0, count: batch * units)
                }
                if let h0 {
                    h.update(from: h0.floatPointer, count: batch * outSize)
                } else {
                    h.update(repeating: 0, count: batch * outSize)
                }
                for t in 0..<steps {
                    try context.checkTerminated()
                    for b in 0..<batch {
                        let row = timeMajor ? t * batch + b : b * steps + t
                        (gates + b * g4).update(from: pre + row * g4, count: g4)
                    }
                    if let pRec {
                        Gemm.sgemm(
                            m: batch, n: g4, k: outSize, a: MatrixView(h, rowStride: outSize, colStride: 1),
                            packedB: UnsafePointer(pRec.pointer), beta: 1, c: gates, ldc: g4, parallel: par)
                    } else {
                        for (g, r) in [ri, rf, rc, ro].enumerated() {
                            guard let r else { continue }
                            let pr = r.floatPointer
                            for b in 0..<batch {
                                let gp = gates + b * g4 + g * units, hp = h + b * outSize
                                for u in 0..<units { gp[u] += pr[u] * hp[u] }
                            }
                        }
                    }
                    for b in 0..<batch {
                        let gp = gates + b * g4, cp = cell + b * units, hp = hidden + b * units
                        let ig = gp, fg = gp + units, cg = gp + 2 * units, og = gp + 3 * units
                        /// Peephole, layer norm, bias, then the gate's activation (LiteRT's: which
                        /// sigmoid form an element gets depends on where its scratch puts it).
                        func finishGate(_ p: UnsafeMutablePointer<Float>, _ g: Int, peephole: UnsafePointer<Float>?, sigmoid: Bool) {
                            if let peephole { for u in 0..<units { p[u] += peephole[u] * cp[u] } }
                            if layerNorm, let ln = norm[g] {
                                var mean: Float = 0
                                for u in 0..<units { mean += p[u] }
                                mean /= Float(units)
                                var variance: Float = 0
                                for u in 0..<units { variance += (p[u] - mean) * (p[u] - mean) }
                                variance /= Float(units)
                                let inv = 1 / (variance + 1e-8).squareRoot()
                                for u in 0..<units { p[u] = (p[u] - mean) * inv * ln[u] }
                            }
                            if let bg = bias[g] { for u in 0..<units { p[u] += bg[u] } }
                            if sigmoid {
                                let block = slots[g] * batch * units
                                if timeMajor {
                                    LSTMGateActivation.sigmoid(p, count: units, phase: block, start: b * units, total: batch * units)
                                } else {
                                    LSTMGateActivation.sigmoid(p, count: units, phase: block + b * units)
                                }
                            } else {
                                LSTMGateActivation.apply(act, p, p, count: units)
                            }
                        }
                        if !cifg { finishGate(ig, 0, peephole: hasPeep ? peep[0] : nil, sigmoid: true) }
                        finishGate(fg, 1, peephole: hasPeep ? peep[1] : nil, sigmoid: true)
                        if cifg { for u in 0..<units { ig[u] = 1 - fg[u] } }
                        finishGate(cg, 2, peephole: nil, sigmoid: false)
                        for u in 0..<units {
                            var c = fg[u] * cp[u] + ig[u] * cg[u]
                            if cellClip > 0 { c = min(max(c, -cellClip), cellClip) }
                            cp[u] = c
                        }
                        finishGate(og, 3, peephole: hasPeep ? peep[2] : nil, sigmoid: true)
                        LSTMGateActivation.apply(act, cp, hp, count: units)
                        for u in 0..<units { hp[u] = og[u] * hp[u] }
                    }
                    if let pProj {
                        Gemm.sgemm(
                            m: batch, n: outSize, k: units, a: MatrixView(hidden, rowStride: units, colStride: 1),
                            packedB: UnsafePointer(pProj.pointer), c: h, ldc: outSize, parallel: par)
                        for b in 0..<batch {
                            let hp = h + b * outSize
                            if let pb = projBias?.floatPointer { for o in 0..<outSize { hp[o] += pb[o] } }
                            if projClip > 0 { for o in 0..<outSize { hp[o] = min(max(hp[o], -projClip), projClip) } }
                        }
                    } else {
                        h.update(from: hidden, count: batch * units)
                    }
                    for b in 0..<batch {
                        let row = timeMajor ? t * batch + b : b * steps + t
                        (po + row * outSize).update(from: h + b * outSize, count: outSize)
                    }
                }
            }
        }
        return [.tensor(out)]
    }
}
