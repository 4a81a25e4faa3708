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
/// Computed as LiteRT's lstm_eval does, operation for operation, so the results are its
/// bit for bit: each gate starts from its bias (0 with layer norm), adds the input product
/// then the recurrent one (`LSTMFloatProduct`'s order), the peephole, layer norm and bias,
/// and its activation (`LSTMGateActivation`); the output gate's peephole sees the new cell
/// state. Time-major, a step covers the whole batch; batch-major, one row at a time, each row
/// through all its steps. The states start from the state inputs (zeros when omitted).
struct TFLiteSequenceLSTMKernel: Kernel {
    let timeMajor: Bool
    let activation: TFLiteActivation
    let cellClip: Float
    let projClip: Float
    let diagonal: Bool

    init(_ ctx: KernelBuildContext) throws {
        timeMajor = ctx.int("time_major", default: 0) != 0
        activation = try TFLiteActivation(ctx)
        if activation == .signBit { throw SwiftConvError.unsupportedOp("LSTM activation SIGN_BIT").at(ctx.nodeContext) }
        cellClip = ctx.float("cell_clip", default: 0)
        projClip = ctx.float("proj_clip", default: 0)
        diagonal = ctx.int("diagonal_recurrent_tensors", default: 0) != 0
        guard ctx.node.inputs.count >= 20 else { throw ctx.invalid("UNIDIRECTIONAL_SEQUENCE_LSTM needs at least 20 inputs") }
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
        let peep = [try vector(9), try vector(10), nil, try vector(11)]
        let bias = [try vector(12), try vector(13), try vector(14), try vector(15)]
        let norm = [try vector(20), try vector(21), try vector(22), try vector(23)]
        let layerNorm = norm[1] != nil
        let inputWeights = [wi, wf, wc, wo].map { $0?.floatPointer }
        let recurrentWeights = [ri, rf, rc, ro].map { $0?.floatPointer }
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
        let po = out.mutableFloatPointer, px = x.floatPointer
        let act = activation, cellClip = self.cellClip, projClip = self.projClip, timeMajor = self.timeMajor
        // LiteRT's scratch block of each gate (input, forget, cell, output): where a gate's
        // values sit decides which sigmoid form each element gets.
        let slots = cifg ? [0, 1, 0, 2] : [0, 2, 1, 3]
        let block = try Checked.multiply(batch, units, "the LSTM gates")
        try withCheckedScratch(Checked.product([6, block + batch * outSize], "the LSTM state")) { scratch in
            let gates = scratch, cell = scratch + 4 * block, state = cell + block
            if let c0 { cell.update(from: c0.floatPointer, count: block) } else { cell.update(repeating: 0, count: block) }
            if let h0 {
                state.update(from: h0.floatPointer, count: batch * outSize)
            } else {
                state.update(repeating: 0, count: batch * outSize)
            }
            // One LiteRT step: `rows` batch rows from `first`, at time t.
            func step(_ t: Int, first: Int, rows: Int) {
                let xs = px + (timeMajor ? t * batch * depth : (first * steps + t) * depth)
                let xStride = timeMajor ? depth : 0
                let cs = cell + first * units, hs = state + first * outSize
                let inputZero = (0..<(rows * depth)).allSatisfy { xs[$0] == 0 }
                @inline(__always) func g(_ k: Int) -> UnsafeMutablePointer<Float> { gates + slots[k] * block + first * units }
                for k in 0..<4 {
                    guard let wIn = inputWeights[k] else { continue }
                    let gk = g(k)
                    for b in 0..<rows {
                        if let bk = bias[k], !layerNorm {
                            (gk + b * units).update(from: bk, count: units)
                        } else {
                            (gk + b * units).update(repeating: 0, count: units)
                        }
                    }
                    if !inputZero {
                        LSTMFloatProduct.multiplyAccumulate(
                            wIn, rows: units, cols: depth, xs, xStride: xStride, vectors: rows, add: gk, addStride: units, out: gk,
                            outStride: units)
                    }
                    if diagonal {
                        if let r = recurrentWeights[k] {
                            for b in 0..<rows { for u in 0..<units { gk[b * units + u] += r[u] * hs[b * outSize + u] } }
                        }
                    } else if let r = recurrentWeights[k] {
                        LSTMFloatProduct.multiplyAccumulate(
                            r, rows: units, cols: outSize, hs, xStride: outSize, vectors: rows, add: gk, addStride: units, out: gk,
                            outStride: units)
                    }
                }
                let n = rows * units
                /// Peephole, layer norm and bias, then the gate's activation.
                func finish(_ k: Int) {
                    let p = g(k)
                    if let pk = peep[k] { for i in 0..<n { p[i] += pk[i % units] * cs[i] } }
                    if layerNorm, let ln = norm[k] {
                        for b in 0..<rows {
                            let r = p + b * units
                            var sum: Float = 0
                            for u in 0..<units { sum += r[u] }
                            let mean = sum / Float(units)
                            var sq: Float = 0
                            for u in 0..<units { sq += (r[u] - mean) * (r[u] - mean) }
                            let inv = 1 / (sq / Float(units) + 1e-8).squareRoot()
                            for u in 0..<units { r[u] = (r[u] - mean) * inv * ln[u] }
                            if let bk = bias[k] { for u in 0..<units { r[u] += bk[u] } }
                        }
                    }
                    if k == 2 {
                        LSTMGateActivation.apply(act, p, p, count: n)
                    } else {
                        LSTMGateActivation.sigmoid(p, count: n, phase: slots[k] * block + first * units)
                    }
                }
                if !cifg { finish(0) }
                finish(1)
                finish(2)
                let ig = g(0), fg = g(1), cg = g(2), og = g(3)
                for i in 0..<n { cs[i] = fg[i] * cs[i] }
                if cifg { for i in 0..<n { fg[i] = 1 - fg[i] } }
                let inputGate = cifg ? fg : ig
                for i in 0..<n { cs[i] += cg[i] * inputGate[i] }
                if cellClip > 0 { for i in 0..<n { cs[i] = min(max(cs[i], -cellClip), cellClip) } }
                finish(3)
                // The hidden state goes to the cell gate's block, as in LiteRT.
                LSTMGateActivation.apply(act, cs, cg, count: n)
                for i in 0..<n { cg[i] = og[i] * cg[i] }
                if let proj {
                    let pb = projBias?.floatPointer
                    for b in 0..<rows {
                        if let pb {
                            (hs + b * outSize).update(from: pb, count: outSize)
                        } else {
                            (hs + b * outSize).update(repeating: 0, count: outSize)
                        }
                    }
                    LSTMFloatProduct.multiplyAccumulate(
                        proj.floatPointer, rows: outSize, cols: units, cg, xStride: units, vectors: rows, add: hs,
                        addStride: outSize, out: hs, outStride: outSize)
                    if projClip > 0 { for i in 0..<(rows * outSize) { hs[i] = min(max(hs[i], -projClip), projClip) } }
                } else {
                    hs.update(from: cg, count: n)
                }
                for b in 0..<rows {
                    let row = timeMajor ? t * batch + first + b : (first + b) * steps + t
                    (po + row * outSize).update(from: hs + b * outSize, count: outSize)
                }
            }
            if timeMajor {
                for t in 0..<steps {
                    try context.checkTerminated()
                    step(t, first: 0, rows: batch)
                }
            } else {
                for b in 0..<batch {
                    for t in 0..<steps {
                        try context.checkTerminated()
                        step(t, first: b, rows: 1)
                    }
                }
            }
        }
        return [.tensor(out)]
    }
}
