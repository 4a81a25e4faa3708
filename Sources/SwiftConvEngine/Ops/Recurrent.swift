import RealModule
import SwiftConvIR
import SwiftConvKernels

/// RNN, GRU, LSTM.
enum RecurrentKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("CausalConvWithState", since: [27]) { ctx in
            let activation = ctx.string("activation", default: "none")
            guard ["none", "silu", "swish"].contains(activation) else { throw ctx.invalid("unknown activation '\(activation)'") }
            return CausalConvWithStateKernel(silu: activation != "none")
        }
        r.register("LinearAttention", since: [27]) { ctx in try LinearAttentionKernel(ctx) }
        r.register("RNN", since: [1, 7, 14, 22]) { ctx in try RecurrentKernel(ctx, cell: .rnn) }
        r.register("GRU", since: [1, 3, 7, 14, 22]) { ctx in try RecurrentKernel(ctx, cell: .gru) }
        r.register("LSTM", since: [1, 7, 14, 22]) { ctx in try RecurrentKernel(ctx, cell: .lstm) }
    }
}

/// An activation function of a recurrent cell, with its alpha/beta.
struct RecurrentActivation {
    enum Kind { case relu, tanh, sigmoid, affine, leakyRelu, thresholdedRelu, scaledTanh, hardSigmoid, elu, softsign, softplus }
    let kind: Kind
    let alpha: Float, beta: Float

    @inline(__always) func apply<T: ComputeFloat>(_ x: T) -> T {
        let alpha = T(self.alpha), beta = T(self.beta)
        switch kind {
        case .relu: return max(x, 0)
        case .tanh: return T.tanh(x)
        case .sigmoid: return 1 / (1 + T.exp(-x))
        case .affine: return alpha * x + beta
        case .leakyRelu: return x >= 0 ? x : alpha * x
        case .thresholdedRelu: return x > alpha ? x : 0
        case .scaledTanh: return alpha * T.tanh(beta * x)
        case .hardSigmoid: return max(0, min(1, alpha * x + beta))
        case .elu: return x >= 0 ? x : alpha * (T.exp(x) - 1)
        case .softsign: return x / (1 + abs(x))
        case .softplus: return T.log(1 + T.exp(x))
        }
    }

    /// Parses a list of names, taking alphas/betas in order for the functions that use them.
    static func parse(_ names: [String], alphas: [Float], betas: [Float]) throws -> [RecurrentActivation] {
        var ai = 0, bi = 0
        func a(_ d: Float) -> Float {
            defer { ai += 1 }
            return ai < alphas.count ? alphas[ai] : d
        }
        func b(_ d: Float) -> Float {
            defer { bi += 1 }
            return bi < betas.count ? betas[bi] : d
        }
        return try names.map { name in
            switch name.lowercased() {
            case "relu": return .init(kind: .relu, alpha: 0, beta: 0)
            case "tanh": return .init(kind: .tanh, alpha: 0, beta: 0)
            case "sigmoid": return .init(kind: .sigmoid, alpha: 0, beta: 0)
            case "affine": return .init(kind: .affine, alpha: a(1), beta: b(0))
            case "leakyrelu": return .init(kind: .leakyRelu, alpha: a(0.01), beta: 0)
            case "thresholdedrelu": return .init(kind: .thresholdedRelu, alpha: a(1), beta: 0)
            case "scaledtanh": return .init(kind: .scaledTanh, alpha: a(1), beta: b(1))
            case "hardsigmoid": return .init(kind: .hardSigmoid, alpha: a(0.2), beta: b(0.5))
            case "elu": return .init(kind: .elu, alpha: a(1), beta: 0)
            case "softsign": return .init(kind: .softsign, alpha: 0, beta: 0)
            case "softplus": return .init(kind: .softplus, alpha: 0, beta: 0)
            default: throw SwiftConvError.unsupportedOp("activation '\(name)'")
            }
        }
    }
}

struct RecurrentKernel: Kernel {
    enum Cell { case rnn, gru, lstm }
    let cell: Cell
    let hidden: Int?
    let directions: Int
    let reverseOnly: Bool
    let layout: Int
    let clip: Float?
    let linearBeforeReset: Bool
    let inputForget: Bool
    /// Activations per direction (f, g, h as the cell uses them).
    let acts: [[RecurrentActivation]]
    /// A constant float32 W packed once per direction for the input projection, and its shape.
    let packedW: [FloatBuffer]
    let packedWShape: [Int]
    /// A constant float32 GRU R packed once per direction for the batched recurrence, and its shape.
    let packedR: [PackedGRURecurrence]
    let packedRShape: [Int]

    var gates: Int { cell == .rnn ? 1 : cell == .gru ? 3 : 4 }

    init(_ ctx: KernelBuildContext, cell: Cell) throws {
        self.cell = cell
        hidden = ctx.node.attribute("hidden_size")?.int.map { Int($0) }
        if let h = hidden, h <= 0 || h > Int(Int32.max) { throw ctx.invalid("hidden_size \(h) is out of range") }
        let dir = ctx.string("direction", default: "forward")
        switch dir {
        case "forward":
            directions = 1
            reverseOnly = false
        case "reverse":
            directions = 1
            reverseOnly = true
        case "bidirectional":
            directions = 2
            reverseOnly = false
        default: throw ctx.invalid("direction '\(dir)'")
        }
        layout = Int(ctx.int("layout", default: 0))
        clip = ctx.node.attribute("clip")?.float
        linearBeforeReset = ctx.int("linear_before_reset", default: 0) != 0
        inputForget = ctx.int("input_forget", default: 0) != 0
        let perDir: Int
        let defaults: [String]
        switch cell {
        case .rnn:
            perDir = 1
            defaults = ["Tanh"]
        case .gru:
            perDir = 2
            defaults = ["Sigmoid", "Tanh"]
        case .lstm:
            perDir = 3
            defaults = ["Sigmoid", "Tanh", "Tanh"]
        }
        var names = ctx.strings("activations") ?? []
        if names.isEmpty { names = Array(repeating: defaults, count: directions).flatMap { $0 } }
        if names.count == perDir && directions == 2 { names += names }
        guard names.count == perDir * directions else {
            throw ctx.invalid("expected \(perDir * directions) activations, got \(names.count)")
        }
        let all = try RecurrentActivation.parse(
            names, alphas: ctx.floats("activation_alpha") ?? [], betas: ctx.floats("activation_beta") ?? [])
        acts = (0..<directions).map { Array(all[$0 * perDir..<($0 + 1) * perDir]) }
        if let w = ctx.constant(1), w.dtype == .float32, w.rank == 3, w.shape.allSatisfy({ $0 > 0 }) {
            let (n, k) = (w.shape[1], w.shape[2])
            packedW = (0..<w.shape[0]).map { d in
                let buf = FloatBuffer(count: Gemm.packedBSize(k: k, n: n))
                Gemm.pack(b: MatrixView(w.floatPointer + d * n * k, rowStride: 1, colStride: k), k: k, n: n, into: buf.pointer)
                return buf
            }
            packedWShape = w.shape
        } else {
            packedW = []
            packedWShape = []
        }
        if cell == .gru, let r = ctx.constant(2), r.dtype == .float32, r.rank == 3, r.shape.allSatisfy({ $0 > 0 }),
            r.shape[1] == 3 * r.shape[2]
        {
            let hs = r.shape[2]
            packedR = (0..<r.shape[0]).map { PackedGRURecurrence(r.floatPointer + $0 * 3 * hs * hs, hs: hs) }
            packedRShape = r.shape
        } else {
            packedR = []
            packedRShape = []
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let dtype = try inputs.tensor(0).dtype
        guard dtype.isFloatingPoint else { throw kernelUnsupported("unsupported input type \(dtype)") }
        if dtype == .float64 { return try compute(Double.self, inputs, context).map { .tensor($0) } }
        return try compute(Float.self, inputs, context).map { .tensor(try convertFromFloat32($0, to: dtype)) }
    }

    /// The outputs (Y, Y_h and, for LSTM, Y_c) computed in `T`.
    func compute<T: ComputeFloat>(_: T.Type, _ inputs: [Value?], _ context: ExecutionContext) throws -> [Tensor] {
        let x0 = try inputs.tensor(0)
        var x = try T.converted(x0)
        let w = try T.converted(inputs.tensor(1)), r = try T.converted(inputs.tensor(2))
        let b = try inputs.optionalTensor(3).map(T.converted)
        let seqLens = inputs.optionalTensor(4)
        var h0 = try inputs.optionalTensor(5).map(T.converted)
        var c0 = cell == .lstm ? try inputs.optionalTensor(6).map(T.converted) : nil
        let peep = cell == .lstm ? try inputs.optionalTensor(7).map(T.converted) : nil
        guard x.rank == 3, w.rank == 3, r.rank == 3 else { throw kernelError("X, W and R must be 3-D") }
        if layout == 1 {
            x = try transpose01(T.self, x)
            h0 = try h0.map { try transpose01(T.self, $0) }
            c0 = try c0.map { try transpose01(T.self, $0) }
        }
        let seq = x.shape[0], batch = x.shape[1], inputSize = x.shape[2]
        let hs = hidden ?? (r.shape[2])
        let g = gates
        guard w.shape == [directions, g * hs, inputSize], r.shape == [directions, g * hs, hs] else {
            throw kernelError("W \(w.shape) / R \(r.shape) do not fit hidden_size \(hs), \(directions) direction(s)")
        }
        if let b = b, b.shape != [directions, 2 * g * hs] { throw kernelError("B has shape \(b.shape)") }
        if let h = h0, h.shape != [directions, batch, hs] { throw kernelError("initial_h has shape \(h.shape)") }
        if let c = c0, c.shape != [directions, batch, hs] { throw kernelError("initial_c has shape \(c.shape)") }
        if let p = peep, p.shape != [directions, 3 * hs] { throw kernelError("P has shape \(p.shape)") }
        var lens = [Int](repeating: seq, count: batch)
        if let s = seqLens {
            guard let v = s.int64Values(), v.count == batch else { throw kernelError("sequence_lens must have \(batch) values") }
            lens = try v.map {
                guard $0 >= 0 && Int($0) <= seq else { throw kernelError("sequence length \($0) out of range") }
                return Int($0)
            }
        }
        let y = try Tensor.zeros(T.dtype, [seq, directions, batch, hs])
        let yh = try Tensor.allocate(T.dtype, [directions, batch, hs])
        let yc = try Tensor.allocate(T.dtype, [directions, batch, hs])
        let py = y.mutableElementPointer(as: T.self), pyh = yh.mutableElementPointer(as: T.self), pyc = yc.mutableElementPointer(as: T.self)
        let par = context.parallel
        for d in 0..<directions {
            let reverse = reverseOnly || d == 1
            let wd = w.elementPointer(as: T.self) + d * g * hs * inputSize, rd = r.elementPointer(as: T.self) + d * g * hs * hs
            // All input projections at once: (seq*batch x input) * W^T.
            var xw = [T](repeating: 0, count: seq * batch * g * hs)
            let packed = T.self == Float.self && w.shape == packedWShape && d < packedW.count ? UnsafePointer(packedW[d].pointer) : nil
            xw.withUnsafeMutableBufferPointer { p in
                if let packed = packed {
                    // A constant float32 W packed at build time (T is Float here).
                    Gemm.sgemm(
                        m: seq * batch, n: g * hs, k: inputSize,
                        a: MatrixView(x.floatPointer, rowStride: inputSize, colStride: 1), packedB: packed,
                        c: UnsafeMutableRawPointer(p.baseAddress!).assumingMemoryBound(to: Float.self), ldc: g * hs,
                        parallel: par)
                } else {
                    T.gemm(
                        m: seq * batch, n: g * hs, k: inputSize,
                        a: StridedMatrix(x.elementPointer(as: T.self), rowStride: inputSize, colStride: 1),
                        b: StridedMatrix(wd, rowStride: 1, colStride: inputSize), beta: 0, c: p.baseAddress!, ldc: g * hs,
                        parallel: par)
                }
            }
            var wb = [T](repeating: 0, count: g * hs), rb = wb
            if let b = b {
                for i in 0..<g * hs {
                    wb[i] = b.elementPointer(as: T.self)[d * 2 * g * hs + i]
                    rb[i] = b.elementPointer(as: T.self)[d * 2 * g * hs + g * hs + i]
                }
            }
            var p = [T](repeating: 0, count: 3 * hs)
            if let pp = peep { for i in 0..<3 * hs { p[i] = pp.elementPointer(as: T.self)[d * 3 * hs + i] } }
            var h = [T](repeating: 0, count: batch * hs), c = h
            if let h0 = h0 { for i in 0..<batch * hs { h[i] = h0.elementPointer(as: T.self)[d * batch * hs + i] } }
            if let c0 = c0 { for i in 0..<batch * hs { c[i] = c0.elementPointer(as: T.self)[d * batch * hs + i] } }
            var hr = [T](repeating: 0, count: batch * g * hs)
            var rh = [T](repeating: 0, count: batch * hs)
            var hrh = [T](repeating: 0, count: batch * hs)
            let act = acts[d]
            let fast =
                T.self == Float.self && cell == .lstm && clip == nil && !inputForget && peep == nil
                && act.map(\.kind) == [.sigmoid, .tanh, .tanh]
            let gruFast = T.self == Float.self && cell == .gru && clip == nil && act.map(\.kind) == [.sigmoid, .tanh]
            if gruFast {
                // T is Float on this path: the pointers are reinterpreted, nothing is copied.
                func floats(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
                let packed = r.shape == packedRShape && d < packedR.count ? packedR[d] : nil
                try xw.withUnsafeBufferPointer { xwp in
                    try wb.withUnsafeBufferPointer { wbp in
                        try rb.withUnsafeBufferPointer { rbp in
                            try h.withUnsafeMutableBufferPointer { hp in
                                let io = GRUDirectionBuffers(
                                    xw: floats(xwp.baseAddress!), wb: floats(wbp.baseAddress!), rb: floats(rbp.baseAddress!),
                                    r: floats(rd), packedR: packed,
                                    h: UnsafeMutableRawPointer(hp.baseAddress!).assumingMemoryBound(to: Float.self),
                                    y: UnsafeMutableRawPointer(py + d * batch * hs).assumingMemoryBound(to: Float.self),
                                    yStride: directions * batch * hs)
                                try gruFloat(seq: seq, batch: batch, hs: hs, reverse: reverse, lens: lens, io, context: context)
                            }
                        }
                    }
                }
            }
            if fast {
                for i in 0..<g * hs { wb[i] += rb[i] }
                // T is Float on this path, so reinterpreting the arrays is free (`as!` would
                // convert element by element).
                var hf = unsafeBitCast(h, to: [Float].self), cf = unsafeBitCast(c, to: [Float].self)
                lstmFloat(
                    seq: seq, batch: batch, hs: hs, reverse: reverse, lens: lens, xw: unsafeBitCast(xw, to: [Float].self),
                    bias: unsafeBitCast(wb, to: [Float].self),
                    r: UnsafeRawPointer(rd).assumingMemoryBound(to: Float.self), h: &hf, c: &cf,
                    y: UnsafeMutableRawPointer(py).assumingMemoryBound(to: Float.self), yOffset: d * batch * hs,
                    yStride: directions * batch * hs, threads: context.threads)
                h = unsafeBitCast(hf, to: [T].self)
                c = unsafeBitCast(cf, to: [T].self)
            }
            for step in 0..<seq where !fast && !gruFast {
                let t = reverse ? seq - 1 - step : step
                // Recurrent projection H * R^T for every gate.
                h.withUnsafeBufferPointer { hp in
                    hr.withUnsafeMutableBufferPointer { op in
                        T.gemm(
                            m: batch, n: g * hs, k: hs, a: StridedMatrix(hp.baseAddress!, rowStride: hs, colStride: 1),
                            b: StridedMatrix(rd, rowStride: 1, colStride: hs), beta: 0, c: op.baseAddress!, ldc: g * hs,
                            parallel: serialFor)
                    }
                }
                if cell == .gru && !linearBeforeReset {
                    // (r ⊙ H) * Rh^T needs r first.
                    for bi in 0..<batch {
                        let tt = reverse ? (lens[bi] - 1 - step) : t
                        guard tt >= 0 && tt < lens[bi] else { continue }
                        let xo = (tt * batch + bi) * g * hs, ho = bi * g * hs
                        for j in 0..<hs {
                            let rgate = clipped(xw[xo + hs + j] + hr[ho + hs + j] + wb[hs + j] + rb[hs + j])
                            rh[bi * hs + j] = act[0].apply(rgate) * h[bi * hs + j]
                        }
                    }
                    rh.withUnsafeBufferPointer { hp in
                        hrh.withUnsafeMutableBufferPointer { op in
                            T.gemm(
                                m: batch, n: hs, k: hs, a: StridedMatrix(hp.baseAddress!, rowStride: hs, colStride: 1),
                                b: StridedMatrix(rd + 2 * hs * hs, rowStride: 1, colStride: hs), beta: 0,
                                c: op.baseAddress!, ldc: hs, parallel: serialFor)
                        }
                    }
                }
                for bi in 0..<batch {
                    // Sequences shorter than `seq`: a reverse pass starts at their own last step.
                    let tt = reverse ? (lens[bi] - 1 - step) : t
                    guard tt >= 0 && tt < lens[bi] else { continue }
                    let xo = (tt * batch + bi) * g * hs, ho = bi * g * hs
                    for j in 0..<hs {
                        let hPrev = h[bi * hs + j]
                        var hNew: T
                        switch cell {
                        case .rnn:
                            hNew = act[0].apply(clipped(xw[xo + j] + hr[ho + j] + wb[j] + rb[j]))
                        case .gru:
                            let z = act[0].apply(clipped(xw[xo + j] + hr[ho + j] + wb[j] + rb[j]))
                            let rg = act[0].apply(clipped(xw[xo + hs + j] + hr[ho + hs + j] + wb[hs + j] + rb[hs + j]))
                            let pre: T
                            if linearBeforeReset {
                                pre = xw[xo + 2 * hs + j] + wb[2 * hs + j] + rg * (hr[ho + 2 * hs + j] + rb[2 * hs + j])
                            } else {
                                pre = xw[xo + 2 * hs + j] + wb[2 * hs + j] + hrh[bi * hs + j] + rb[2 * hs + j]
                            }
                            let ht = act[1].apply(clipped(pre))
                            hNew = (1 - z) * ht + z * hPrev
                        case .lstm:
                            let cPrev = c[bi * hs + j]
                            func gate(_ k: Int) -> T { xw[xo + k * hs + j] + hr[ho + k * hs + j] + wb[k * hs + j] + rb[k * hs + j] }
                            let i = act[0].apply(clipped(gate(0) + p[j] * cPrev))
                            let f = inputForget ? 1 - i : act[0].apply(clipped(gate(2) + p[2 * hs + j] * cPrev))
                            let cc = act[1].apply(clipped(gate(3)))
                            let cNew = f * cPrev + i * cc
                            let o = act[0].apply(clipped(gate(1) + p[hs + j] * cNew))
                            hNew = o * act[2].apply(cNew)
                            c[bi * hs + j] = cNew
                        }
                        h[bi * hs + j] = hNew
                        py[((tt * directions + d) * batch + bi) * hs + j] = hNew
                    }
                }
            }
            for i in 0..<batch * hs {
                pyh[d * batch * hs + i] = h[i]
                pyc[d * batch * hs + i] = c[i]
            }
        }
        var outs = [y, yh, yc]
        if layout == 1 {
            outs[0] = try transposeSeq(T.self, y)
            outs[1] = try transpose01(T.self, yh)
            outs[2] = try transpose01(T.self, yc)
        }
        return Array(outs.prefix(cell == .lstm ? 3 : 2))
    }

    /// The common LSTM (default activations, no clip, peepholes or coupled gates) in float32:
    /// per step and batch row one matrix-vector product with R (rows split across threads
    /// when large) added to the precomputed input projection and the summed biases, then
    /// the gates through vectorizable sigmoid/tanh.
    func lstmFloat(
        seq: Int, batch: Int, hs: Int, reverse: Bool, lens: [Int], xw: [Float], bias: [Float],
        r: UnsafePointer<Float>, h: inout [Float], c: inout [Float], y: UnsafeMutablePointer<Float>,
        yOffset: Int, yStride: Int, threads: ThreadPool
    ) {
        guard seq > 0, batch > 0, hs > 0 else { return }
        let rows = 4 * hs
        var gates = [Float](repeating: 0, count: rows)
        xw.withUnsafeBufferPointer { xw in
            bias.withUnsafeBufferPointer { bias in
                h.withUnsafeMutableBufferPointer { h in
                    c.withUnsafeMutableBufferPointer { c in
                        gates.withUnsafeMutableBufferPointer { gates in
                            let px = xw.baseAddress!, pb = bias.baseAddress!, pg = gates.baseAddress!
                            let blocks = (rows + 3) / 4
                            let grain = max(1, 16384 / max(4 * hs, 1))
                            for step in 0..<seq {
                                for bi in 0..<batch {
                                    let t = reverse ? lens[bi] - 1 - step : step
                                    guard t >= 0 && t < lens[bi] else { continue }
                                    let hp = h.baseAddress! + bi * hs, cp = c.baseAddress! + bi * hs
                                    let xo = px + (t * batch + bi) * rows
                                    threads.parallelFor(blocks, grain: grain) { range in
                                        let lo = range.lowerBound * 4, hi = min(rows, range.upperBound * 4)
                                        gemvRows(r + lo * hs, rows: hi - lo, k: hs, x: hp, add: xo + lo, bias: pb + lo, out: pg + lo)
                                    }
                                    // Gates i, o, f through sigmoid and c through tanh in place,
                                    // then the state update; each loop vectorizes on its own.
                                    sigmoidInPlace(pg, 3 * hs)
                                    tanhInPlace(pg + 3 * hs, hs)
                                    for j in 0..<hs { cp[j] = pg[2 * hs + j] * cp[j] + pg[j] * pg[3 * hs + j] }
                                    let yp = y + t * yStride + yOffset + bi * hs
                                    yp.update(from: cp, count: hs)
                                    tanhInPlace(yp, hs)
                                    for j in 0..<hs { yp[j] *= pg[hs + j] }
                                    hp.update(from: yp, count: hs)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always) func clipped<T: ComputeFloat>(_ v: T) -> T {
        guard let c = clip.map({ T($0) }) else { return v }
        return min(max(v, -c), c)
    }
}

/// `out[n] = add[n] + bias[n] + dot(m[n, 0..<k], x)` for `rows` contiguous rows of length
/// `k`, through this CPU's kernel table (AVX2+FMA where it has them).
@inline(__always)
func gemvRows(
    _ m: UnsafePointer<Float>, rows: Int, k: Int, x: UnsafePointer<Float>, add: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
) {
    KernelTable.best.gemvRows(m, rows, k, x, add, bias, out)
}

/// Swaps the first two axes of a 3-D tensor of `T`.
func transpose01<T: ComputeFloat>(_: T.Type, _ t: Tensor) throws -> Tensor {
    let a = t.shape[0], b = t.shape[1], c = t.shape[2]
    let out = try Tensor.allocate(T.dtype, [b, a, c])
    let s = t.elementPointer(as: T.self), o = out.mutableElementPointer(as: T.self)
    for i in 0..<a { for j in 0..<b { for k in 0..<c { o[(j * a + i) * c + k] = s[(i * b + j) * c + k] } } }
    return out
}

/// Y [seq, dirs, batch, hidden] to layout 1 [batch, seq, dirs, hidden].
func transposeSeq<T: ComputeFloat>(_: T.Type, _ t: Tensor) throws -> Tensor {
    let s0 = t.shape[0], d = t.shape[1], b = t.shape[2], h = t.shape[3]
    let out = try Tensor.allocate(T.dtype, [b, s0, d, h])
    let s = t.elementPointer(as: T.self), o = out.mutableElementPointer(as: T.self)
    for i in 0..<s0 {
        for j in 0..<d { for k in 0..<b { for l in 0..<h { o[((k * s0 + i) * d + j) * h + l] = s[((i * d + j) * b + k) * h + l] } } }
    }
    return out
}

/// Float views of a float16/32/64 tensor and back, for the stateful sequence ops below
/// (they compute in Float, as ONNX's reference does).
private func floats(_ t: Tensor) throws -> [Float] {
    guard t.dtype.isFloatingPoint, let v = DTypeConversion.floats(t) else { throw kernelError("expected a float tensor, got \(t.dtype)") }
    return v
}

private func tensor(_ v: [Float], _ dtype: DType, _ shape: [Int]) throws -> Tensor {
    guard let t = try v.withUnsafeBufferPointer({ try DTypeConversion.tensor(from: $0, dtype: dtype, shape: shape) }) else {
        throw kernelError("cannot produce \(dtype)")
    }
    return t
}

/// Rounds a Float through `dtype` (what a cast to float16 and back does).
private func rounded(_ x: Float, _ dtype: DType) -> Float {
    switch dtype {
    case .float16: return Float(Float16(x))
    case .bfloat16: return DTypeConversion.float(bfloat16: DTypeConversion.bfloat16Bits(x))
    default: return x
    }
}

/// Depthwise causal 1-D convolution over [B, C, L] that carries the last K-1 inputs as
/// state between calls (streaming decoders); optional SiLU on the output.
struct CausalConvWithStateKernel: Kernel {
    let silu: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), w = try inputs.tensor(1)
        guard x.rank == 3, w.rank == 3, w.shape[0] == x.shape[1], w.shape[1] == 1, w.shape[2] >= 1 else {
            throw kernelError("input must be [B, C, L] and weight [C, 1, K]; got \(x.shape) and \(w.shape)")
        }
        let (b, c, l, k) = (x.shape[0], x.shape[1], x.shape[2], w.shape[2])
        let xv = try floats(x), wv = try floats(w)
        let bias = try inputs.optionalTensor(2).map(floats) ?? [Float](repeating: 0, count: c)
        guard bias.count == c else { throw kernelError("bias must have \(c) elements") }
        var past = [Float](repeating: 0, count: b * c * (k - 1))
        if let p = inputs.optionalTensor(3) {
            guard p.shape == [b, c, k - 1] else { throw kernelError("past_state must be \([b, c, k - 1]), got \(p.shape)") }
            past = try floats(p)
        }
        let width = k - 1 + l
        var out = [Float](repeating: 0, count: b * c * l)
        var state = [Float](repeating: 0, count: b * c * (k - 1))
        var padded = [Float](repeating: 0, count: width)
        for n in 0..<b {
            for ch in 0..<c {
                let row = n * c + ch
                for j in 0..<(k - 1) { padded[j] = past[row * (k - 1) + j] }
                for t in 0..<l { padded[k - 1 + t] = xv[row * l + t] }
                for t in 0..<l {
                    var acc = bias[ch]
                    for j in 0..<k { acc += wv[ch * k + j] * padded[t + j] }
                    var y = rounded(acc, x.dtype)
                    if silu { y = y / (1 + Float.exp(-y)) }
                    out[row * l + t] = y
                }
                for j in 0..<(k - 1) { state[row * (k - 1) + j] = padded[width - (k - 1) + j] }
            }
        }
        return [.tensor(try tensor(out, x.dtype, [b, c, l])), .tensor(try tensor(state, x.dtype, [b, c, k - 1]))]
    }
}

/// Recurrent linear attention over [B, T, H*D] inputs with a [B, H_kv, D_k, D_v] state:
/// per step the state decays (gated rules), takes a delta-rule correction (delta rules),
/// adds k v^T, and is read by q (grouped-query heads share kv heads).
struct LinearAttentionKernel: Kernel {
    let qHeads: Int, kvHeads: Int
    let scale: Float
    let gating: Bool, delta: Bool

    init(_ ctx: KernelBuildContext) throws {
        let rule = ctx.string("update_rule", default: "gated_delta")
        guard ["linear", "gated", "delta", "gated_delta"].contains(rule) else { throw ctx.invalid("unknown update_rule '\(rule)'") }
        qHeads = Int(try ctx.int("q_num_heads"))
        kvHeads = Int(try ctx.int("kv_num_heads"))
        guard qHeads > 0, kvHeads > 0, qHeads % kvHeads == 0 else {
            throw ctx.invalid("q_num_heads (\(qHeads)) must be a positive multiple of kv_num_heads (\(kvHeads))")
        }
        scale = ctx.float("scale", default: 0)
        gating = rule == "gated" || rule == "gated_delta"
        delta = rule == "delta" || rule == "gated_delta"
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let q = try inputs.tensor(0), k = try inputs.tensor(1), v = try inputs.tensor(2)
        guard q.rank == 3, k.rank == 3, v.rank == 3, q.shape[0] == k.shape[0], q.shape[1] == k.shape[1],
            v.shape[0] == q.shape[0], v.shape[1] == q.shape[1],
            q.shape[2] % qHeads == 0, k.shape[2] % kvHeads == 0, v.shape[2] % kvHeads == 0
        else {
            throw kernelError("query, key and value must be [B, T, heads * D]; got \(q.shape), \(k.shape), \(v.shape)")
        }
        let (b, t) = (q.shape[0], q.shape[1])
        let dk = q.shape[2] / qHeads, dv = v.shape[2] / kvHeads
        guard k.shape[2] == kvHeads * dk else { throw kernelError("key must be [B, T, \(kvHeads * dk)]") }
        let group = qHeads / kvHeads
        let qv = try floats(q), kv = try floats(k), vv = try floats(v)
        let decay = inputs.optionalTensor(4)
        let beta = inputs.optionalTensor(5)
        guard gating == (decay != nil), delta == (beta != nil) else {
            throw kernelError("the update rule needs decay \(gating ? "given" : "omitted") and beta \(delta ? "given" : "omitted")")
        }
        let dvals = try decay.map(floats) ?? []
        let decayPerKey = decay.map { $0.shape.last == kvHeads * dk } ?? false
        if let d = decay, d.rank != 3 || !(d.shape[2] == kvHeads || d.shape[2] == kvHeads * dk) || d.shape[0] != b || d.shape[1] != t {
            throw kernelError("decay must be [B, T, kv_num_heads] or [B, T, kv_num_heads * d_k]; got \(d.shape)")
        }
        let bvals = try beta.map(floats) ?? []
        let betaWidth = beta?.shape.last ?? 1
        if let bt = beta, bt.rank != 3 || !(betaWidth == kvHeads || betaWidth == 1) || bt.shape[0] != b || bt.shape[1] != t {
            throw kernelError("beta must be [B, T, kv_num_heads] or [B, T, 1]; got \(bt.shape)")
        }
        var stateType = q.dtype
        var state = [Float](repeating: 0, count: b * kvHeads * dk * dv)
        if let p = inputs.optionalTensor(3) {
            guard p.shape == [b, kvHeads, dk, dv] else { throw kernelError("past_state must be \([b, kvHeads, dk, dv]), got \(p.shape)") }
            state = try floats(p)
            stateType = p.dtype
        }
        let s = scale == 0 ? 1 / Float(dk).squareRoot() : scale
        var out = [Float](repeating: 0, count: b * t * qHeads * dv)
        var vt = [Float](repeating: 0, count: dv)
        for n in 0..<b {
            for step in 0..<t {
                for h in 0..<kvHeads {
                    let st = (n * kvHeads + h) * dk * dv
                    let kBase = (n * t + step) * kvHeads * dk + h * dk
                    if gating {
                        for i in 0..<dk {
                            let g = decayPerKey ? dvals[(n * t + step) * kvHeads * dk + h * dk + i] : dvals[(n * t + step) * kvHeads + h]
                            let e = Float.exp(g)
                            for m in 0..<dv { state[st + i * dv + m] *= e }
                        }
                    }
                    for m in 0..<dv { vt[m] = vv[(n * t + step) * kvHeads * dv + h * dv + m] }
                    if delta {
                        let bt = bvals[(n * t + step) * betaWidth + (betaWidth == 1 ? 0 : h)]
                        for m in 0..<dv {
                            var r: Float = 0
                            for i in 0..<dk { r += state[st + i * dv + m] * kv[kBase + i] }
                            vt[m] = bt * (vt[m] - r)
                        }
                    }
                    for i in 0..<dk {
                        let ki = kv[kBase + i]
                        for m in 0..<dv { state[st + i * dv + m] += ki * vt[m] }
                    }
                    for g in 0..<group {
                        let hq = h * group + g
                        let qBase = (n * t + step) * qHeads * dk + hq * dk
                        let oBase = (n * t + step) * qHeads * dv + hq * dv
                        for m in 0..<dv {
                            var acc: Float = 0
                            for i in 0..<dk { acc += qv[qBase + i] * state[st + i * dv + m] }
                            out[oBase + m] = s * acc
                        }
                    }
                }
            }
        }
        return [
            .tensor(try tensor(out, q.dtype, [b, t, qHeads * dv])),
            .tensor(try tensor(state, stateType, [b, kvHeads, dk, dv])),
        ]
    }
}
