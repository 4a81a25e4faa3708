import RealModule
import SwiftConvIR
import SwiftConvKernels

/// BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, LRN,
/// MeanVarianceNormalization, RMSNormalization, Dropout; onnxruntime's SkipLayerNormalization.
enum NormalizationKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("BatchNormalization", since: [1, 6, 7, 9, 14, 15]) { ctx in BatchNormKernel(ctx) }
        r.register("InstanceNormalization", since: [1, 6, 22]) { ctx in
            GroupNormKernel(epsilon: Double(ctx.float("epsilon", default: 1e-5)), groups: nil, perChannelAffine: true)
        }
        r.register("GroupNormalization", since: [18, 21]) { ctx in
            GroupNormKernel(
                epsilon: Double(ctx.float("epsilon", default: 1e-5)), groups: Int(ctx.int("num_groups", default: 1)),
                perChannelAffine: ctx.sinceVersion >= 21)
        }
        r.register("LayerNormalization", since: [17]) { ctx in LayerNormKernel(ctx, rms: false) }
        r.register("SkipLayerNormalization", domain: OpDomain.microsoft, since: [1]) { ctx in try SkipLayerNormKernel(ctx) }
        r.register("RMSNormalization", since: [23]) { ctx in LayerNormKernel(ctx, rms: true) }
        r.register("LRN", since: [1, 13]) { ctx in
            guard ctx.int("size", default: 1) > 0 else { throw ctx.invalid("size must be positive") }
            return LRNKernel(
                size: Int(ctx.int("size", default: 1)), alpha: Double(ctx.float("alpha", default: 1e-4)),
                beta: Double(ctx.float("beta", default: 0.75)), bias: Double(ctx.float("bias", default: 1)))
        }
        r.register("MeanVarianceNormalization", since: [9, 13]) { ctx in
            MVNKernel(axes: ctx.ints("axes") ?? [0, 2, 3])
        }
        r.register("LpNormalization", since: [1, 22]) { ctx in
            LpNormKernel(axis: ctx.int("axis", default: -1), p: Int(ctx.int("p", default: 2)))
        }
        r.register("Dropout", since: [1, 6, 7, 10, 12, 13, 22]) { ctx in DropoutKernel(ctx) }
    }
}

/// Reads any float tensor into Doubles, for per-channel parameters.
func doubles(_ t: Tensor) throws -> [Double] {
    guard let v = floatValuesAsDouble(t) else { throw kernelError("expected a float tensor, got \(t.dtype)") }
    return v
}

/// Writes Doubles as a tensor of a float dtype.
func floatTensor(_ v: [Double], _ dtype: DType, _ shape: [Int]) -> Tensor {
    switch dtype {
    case .float16: return Tensor.from(v.map { Float16($0) }, shape: shape)
    case .float64: return Tensor.from(v, shape: shape)
    default: return Tensor.from(v.map { Float($0) }, shape: shape)
    }
}

/// `y = x * a[c] + b[c]` over an NC... tensor, channel-wise.
func channelAffine(_ x: Tensor, a: [Double], b: [Double], _ context: ExecutionContext) throws -> Tensor {
    let n = x.shape[0], c = x.shape[1]
    let inner = x.rank > 2 ? x.shape[2...].reduce(1, *) : 1
    if x.dtype == .float32 {
        let out = try Tensor.allocate(.float32, x.shape)
        let px = x.floatPointer, po = out.mutableFloatPointer
        let af = a.map { Float($0) }, bf = b.map { Float($0) }
        context.threads.parallelFor(n * c) { range in
            for p in range {
                let ch = p % c
                let s = af[ch], t = bf[ch]
                let base = p * inner
                for i in 0..<inner { po[base + i] = px[base + i] * s + t }
            }
        }
        return out
    }
    struct V: FloatVisitor {
        let x: Tensor, a: [Double], b: [Double], n: Int, c: Int, inner: Int
        func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
            let out = try Tensor.allocate(x.dtype, x.shape)
            x.withElements(as: T.self) { px in
                out.withMutableElements(as: T.self) { po in
                    for p in 0..<n * c {
                        let s = a[p % c], t = b[p % c]
                        for i in p * inner..<(p + 1) * inner { po[i] = T(fromDouble: px[i].asDouble * s + t) }
                    }
                }
            }
            return out
        }
    }
    guard let out = try dispatchFloat(x.dtype, V(x: x, a: a, b: b, n: n, c: c, inner: inner)) else {
        throw kernelUnsupported("unsupported input type \(x.dtype)")
    }
    return out
}

/// Per-channel mean and population variance over every axis but 1.
func channelStats(_ x: Tensor) throws -> (mean: [Double], variance: [Double]) {
    let n = x.shape[0], c = x.shape[1]
    let inner = x.rank > 2 ? x.shape[2...].reduce(1, *) : 1
    let v = try doubles(x)
    var mean = [Double](repeating: 0, count: c), sq = mean
    for p in 0..<n * c {
        let ch = p % c
        for i in p * inner..<(p + 1) * inner { mean[ch] += v[i] }
    }
    let cnt = Double(max(n * inner, 1))
    for ch in 0..<c { mean[ch] /= cnt }
    for p in 0..<n * c {
        let ch = p % c
        for i in p * inner..<(p + 1) * inner {
            let d = v[i] - mean[ch]
            sq[ch] += d * d
        }
    }
    return (mean, sq.map { $0 / cnt })
}

struct BatchNormKernel: Kernel {
    let epsilon: Double
    let momentum: Double
    let training: Bool
    let since: Int64

    init(_ ctx: KernelBuildContext) {
        epsilon = Double(ctx.float("epsilon", default: 1e-5))
        momentum = Double(ctx.float("momentum", default: 0.9))
        training = ctx.int("training_mode", default: 0) != 0 && ctx.sinceVersion >= 14
        since = ctx.sinceVersion
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank >= 2 else { throw kernelError("X must have rank >= 2") }
        let c = x.shape[1]
        let scale = try doubles(inputs.tensor(1)), bias = try doubles(inputs.tensor(2))
        let meanT = try inputs.tensor(3), varT = try inputs.tensor(4)
        var mean = try doubles(meanT), variance = try doubles(varT)
        guard scale.count == c, bias.count == c, mean.count == c, variance.count == c else {
            throw kernelError("scale, B, mean and var must have \(c) values")
        }
        var extra: [Value] = []
        if training {
            let (bm, bv) = try channelStats(x)
            let rm = (0..<c).map { mean[$0] * momentum + bm[$0] * (1 - momentum) }
            let rv = (0..<c).map { variance[$0] * momentum + bv[$0] * (1 - momentum) }
            extra = [.tensor(floatTensor(rm, meanT.dtype, [c])), .tensor(floatTensor(rv, varT.dtype, [c]))]
            mean = bm
            variance = bv
        }
        var a = [Double](repeating: 0, count: c), b = a
        for ch in 0..<c {
            a[ch] = scale[ch] / (variance[ch] + epsilon).squareRoot()
            b[ch] = bias[ch] - mean[ch] * a[ch]
        }
        return [.tensor(try channelAffine(x, a: a, b: b, context))] + extra
    }
}

/// InstanceNormalization (one group per channel) and GroupNormalization.
struct GroupNormKernel: Kernel {
    let epsilon: Double
    /// nil: one group per channel.
    let groups: Int?
    /// Scale and bias per channel (GroupNormalization-21, InstanceNormalization) or per group (-18).
    let perChannelAffine: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank >= 2 else { throw kernelError("X must have rank >= 2") }
        let n = x.shape[0], c = x.shape[1]
        let g = groups ?? c
        guard g > 0, c % g == 0 else { throw kernelError("num_groups \(g) does not divide \(c) channels") }
        let scale = try doubles(inputs.tensor(1)), bias = try doubles(inputs.tensor(2))
        let affineCount = perChannelAffine ? c : g
        guard scale.count == affineCount, bias.count == affineCount else {
            throw kernelError("scale and bias must have \(affineCount) values")
        }
        let inner = x.rank > 2 ? x.shape[2...].reduce(1, *) : 1
        let groupSize = c / g * inner
        struct V: FloatVisitor {
            let k: GroupNormKernel, x: Tensor, n: Int, c: Int, g: Int, inner: Int, groupSize: Int, scale: [Double], bias: [Double]
            let context: ExecutionContext
            func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
                let out = try Tensor.allocate(x.dtype, x.shape)
                x.withElements(as: T.self) { px in
                    out.withMutableElements(as: T.self) { po in
                        guard let bx = px.baseAddress, let bo = po.baseAddress else { return }
                        context.threads.parallelFor(n * g) { range in
                            for p in range {
                                let base = p * groupSize
                                var s = 0.0
                                for i in 0..<groupSize { s += bx[base + i].asDouble }
                                let mean = s / Double(groupSize)
                                var sq = 0.0
                                for i in 0..<groupSize {
                                    let d = bx[base + i].asDouble - mean
                                    sq += d * d
                                }
                                let inv = 1 / (sq / Double(groupSize) + k.epsilon).squareRoot()
                                let gi = p % g
                                let cpg = c / g
                                for cc in 0..<cpg {
                                    let ch = gi * cpg + cc
                                    let ai = k.perChannelAffine ? ch : gi
                                    let a = scale[ai] * inv, b = bias[ai] - mean * a
                                    let off = base + cc * inner
                                    for i in 0..<inner { bo[off + i] = T(fromDouble: bx[off + i].asDouble * a + b) }
                                }
                            }
                        }
                    }
                }
                return out
            }
        }
        guard
            let out = try dispatchFloat(
                x.dtype,
                V(
                    k: self, x: x, n: n, c: c, g: g, inner: inner, groupSize: groupSize,
                    scale: scale, bias: bias, context: context))
        else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}

/// LayerNormalization (with Mean/InvStdDev outputs) and RMSNormalization over the axes from `axis` on.
struct LayerNormKernel: Kernel {
    let axis: Int64
    let epsilon: Double
    let rms: Bool
    let statsType: DType?
    /// Whether the node consumes the Mean / InvStdDev outputs (the float32 path skips them).
    let wantsStats: Bool

    init(_ ctx: KernelBuildContext, rms: Bool) {
        axis = ctx.int("axis", default: -1)
        epsilon = Double(ctx.float("epsilon", default: 1e-5))
        self.rms = rms
        statsType = ctx.outputTypes.count > 1 ? ctx.outputTypes[1]?.tensorElementType : nil
        wantsStats = ctx.node.outputs.dropFirst().contains { !$0.isEmpty }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), scaleT = try inputs.tensor(1)
        let biasT = rms ? nil : inputs.optionalTensor(2)
        let ax = try normalizeAxis(axis, rank: x.rank)
        let rows = x.shape[..<ax].reduce(1, *), cols = x.shape[ax...].reduce(1, *)
        if x.dtype == .float32, !wantsStats, scaleT.dtype == .float32, scaleT.elementCount == cols,
            biasT.map({ $0.dtype == .float32 && $0.elementCount == cols }) ?? true
        {
            return [.tensor(try normalizeFloat(x, scaleT, biasT, rows: rows, cols: cols, context))]
        }
        let normShape = Array(x.shape[ax...])
        // Scale and bias broadcast to the normalized shape.
        func expand(_ t: Tensor) throws -> [Double] {
            let v = try doubles(t)
            if v.count == cols { return v }
            _ = try broadcastShapes(t.shape, normShape)
            let st = broadcastStrides(t.shape, to: normShape)
            var out = [Double](repeating: 0, count: cols)
            var idx = [Int](repeating: 0, count: normShape.count)
            for i in 0..<cols {
                var rem = i, off = 0
                for d in stride(from: normShape.count - 1, through: 0, by: -1) {
                    idx[d] = rem % normShape[d]
                    rem /= normShape[d]
                    off += idx[d] * st[d]
                }
                out[i] = v[off]
            }
            return out
        }
        let scale = try expand(scaleT)
        let bias = try biasT.map(expand)
        var means = [Double](repeating: 0, count: rows), invs = means
        struct V: FloatVisitor {
            let k: LayerNormKernel, x: Tensor, rows: Int, cols: Int, scale: [Double], bias: [Double]?
            let context: ExecutionContext
            func visit<T: FloatScalar>(_ type: T.Type) throws -> (Tensor, [Double], [Double]) {
                let out = try Tensor.allocate(x.dtype, x.shape)
                var means = [Double](repeating: 0, count: rows), invs = means
                x.withElements(as: T.self) { px in
                    out.withMutableElements(as: T.self) { po in
                        means.withUnsafeMutableBufferPointer { pm in
                            invs.withUnsafeMutableBufferPointer { pi in
                                guard let bx = px.baseAddress, let bo = po.baseAddress, let bm = pm.baseAddress, let bi = pi.baseAddress
                                else { return }
                                context.threads.parallelFor(rows) { range in
                                    for r in range {
                                        let base = r * cols
                                        var mean = 0.0, v = 0.0
                                        if k.rms {
                                            for i in 0..<cols {
                                                let d = bx[base + i].asDouble
                                                v += d * d
                                            }
                                        } else {
                                            for i in 0..<cols { mean += bx[base + i].asDouble }
                                            mean /= Double(cols)
                                            for i in 0..<cols {
                                                let d = bx[base + i].asDouble - mean
                                                v += d * d
                                            }
                                        }
                                        let inv = 1 / (v / Double(cols) + k.epsilon).squareRoot()
                                        bm[r] = mean
                                        bi[r] = inv
                                        for i in 0..<cols {
                                            var y = (bx[base + i].asDouble - mean) * inv * scale[i]
                                            if let b = bias { y += b[i] }
                                            bo[base + i] = T(fromDouble: y)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                return (out, means, invs)
            }
        }
        guard
            let (out, m, iv) = try dispatchFloat(
                x.dtype, V(k: self, x: x, rows: rows, cols: cols, scale: scale, bias: bias, context: context))
        else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        means = m
        invs = iv
        if rms { return [.tensor(out)] }
        let statShape = Array(x.shape[..<ax]) + Array(repeating: 1, count: x.rank - ax)
        let st = statsType ?? .float32
        return [.tensor(out), .tensor(floatTensor(means, st, statShape)), .tensor(floatTensor(invs, st, statShape))]
    }
}

extension LayerNormKernel {
    /// float32 rows with full-size scale and bias, computed in Float: the mean, then the
    /// variance around it, each a pass in SIMD lanes over a row that stays in cache (two
    /// passes, so the variance does not cancel when the mean is large next to the spread),
    /// then one pass that normalizes, scales and shifts. Rows are split across threads when many.
    func normalizeFloat(_ x: Tensor, _ scale: Tensor, _ bias: Tensor?, rows: Int, cols: Int, _ context: ExecutionContext) throws -> Tensor {
        let out = try Tensor.allocate(.float32, x.shape)
        guard rows > 0, cols > 0 else { return out }
        let px = x.floatPointer, po = out.mutableFloatPointer, ps = scale.floatPointer
        let pb = bias?.floatPointer
        let rms = self.rms, eps = Float(epsilon), n = Float(cols)
        context.threads.parallelFor(rows, grain: max(1, 16384 / cols)) { range in
            for r in range {
                let xr = px + r * cols, yr = po + r * cols
                let (mean, inv) = Self.rowStatistics(xr, cols, n: n, eps: eps, rms: rms)
                if let pb {
                    for i in 0..<cols { yr[i] = (xr[i] - mean) * inv * ps[i] + pb[i] }
                } else {
                    for i in 0..<cols { yr[i] = (xr[i] - mean) * inv * ps[i] }
                }
            }
        }
        return out
    }

    /// Mean (0 for RMS) and 1/sqrt(variance + eps) of one row, in eight lanes.
    @inline(__always)
    static func rowStatistics(_ xr: UnsafePointer<Float>, _ cols: Int, n: Float, eps: Float, rms: Bool) -> (Float, Float) {
        let mean = rms ? 0 : sumFloat32(xr, cols) / n
        let c = SIMD8<Float>(repeating: mean)
        var s2 = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= cols {
            let d = UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD8<Float>.self) - c
            s2 += d * d
            i += 8
        }
        var squares = s2.sum()
        while i < cols {
            let d = xr[i] - mean
            squares += d * d
            i += 1
        }
        return (mean, 1 / (squares / n + eps).squareRoot())
    }
}

/// onnxruntime's `com.microsoft` SkipLayerNormalization: LayerNormalization over the last
/// axis of `input + skip (+ bias)`, the residual Add of a transformer joined to the norm that
/// follows it (the session's `LayerNormFusion` writes it). `skip` may repeat over leading
/// dims (`[S, H]` for `[B, S, H]`); output 3, when listed, is the sum itself. float32 only,
/// and without the Mean / InvStdDev outputs, which no fusion asks for.
struct SkipLayerNormKernel: Kernel {
    let epsilon: Float
    let wantsSum: Bool

    init(_ ctx: KernelBuildContext) throws {
        epsilon = ctx.float("epsilon", default: 1e-12)
        let outputs = ctx.node.outputs
        guard !outputs.dropFirst().prefix(2).contains(where: { !$0.isEmpty }) else {
            throw kernelUnsupported("the mean and inv_std_var outputs are not implemented")
        }
        wantsSum = outputs.count > 3 && !outputs[3].isEmpty
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var x = try inputs.tensor(0), skip = try inputs.tensor(1)
        // The sum is symmetric: whichever operand is larger is the one that does not repeat.
        if skip.elementCount > x.elementCount { swap(&x, &skip) }
        let gamma = try inputs.tensor(2)
        let beta = inputs.optionalTensor(3), bias = inputs.optionalTensor(4)
        guard ([x, skip, gamma] + [beta, bias].compactMap { $0 }).allSatisfy({ $0.dtype == .float32 }) else {
            throw kernelUnsupported("only float32 is implemented")
        }
        guard let cols = x.shape.last, cols > 0 else { throw kernelError("input must have a non-empty last axis, got \(x.shape)") }
        guard gamma.elementCount == cols, beta.map({ $0.elementCount == cols }) ?? true,
            bias.map({ $0.elementCount == cols }) ?? true
        else { throw kernelError("gamma, beta and bias must hold \(cols) values (the last axis of input \(x.shape))") }
        // skip repeats over the leading dims of input: its shape, leading ones dropped, ends input's.
        let skipDims = Array(skip.shape.drop(while: { $0 == 1 }))
        guard skipDims.count <= x.rank, Array(x.shape.suffix(skipDims.count)) == skipDims, skipDims.last == cols
        else { throw kernelError("skip of shape \(skip.shape) does not repeat over input of shape \(x.shape)") }
        let out = try Tensor.allocate(.float32, x.shape)
        let sum = wantsSum ? try Tensor.allocate(.float32, x.shape) : nil
        let rows = x.elementCount / cols, skipRows = skip.elementCount / cols
        if rows > 0 {
            let px = x.floatPointer, ps = skip.floatPointer, pg = gamma.floatPointer, po = out.mutableFloatPointer
            let pb = beta?.floatPointer, pbias = bias?.floatPointer, psum = sum?.mutableFloatPointer
            let eps = epsilon, n = Float(cols)
            context.threads.parallelFor(rows, grain: max(1, 16384 / cols)) { range in
                for r in range {
                    let xr = px + r * cols, sr = ps + (r % skipRows) * cols, yr = po + r * cols
                    // The output row holds the sum until it is normalized in place.
                    if let pbias {
                        for i in 0..<cols { yr[i] = xr[i] + sr[i] + pbias[i] }
                    } else {
                        for i in 0..<cols { yr[i] = xr[i] + sr[i] }
                    }
                    if let psum { (psum + r * cols).update(from: yr, count: cols) }
                    let (mean, inv) = LayerNormKernel.rowStatistics(UnsafePointer(yr), cols, n: n, eps: eps, rms: false)
                    if let pb {
                        for i in 0..<cols { yr[i] = (yr[i] - mean) * inv * pg[i] + pb[i] }
                    } else {
                        for i in 0..<cols { yr[i] = (yr[i] - mean) * inv * pg[i] }
                    }
                }
            }
        }
        guard let sum else { return [.tensor(out)] }
        let none = try Tensor.allocate(.float32, [0])
        return [.tensor(out), .tensor(none), .tensor(none), .tensor(sum)]
    }
}

struct LRNKernel: Kernel {
    let size: Int
    let alpha: Double, beta: Double, bias: Double

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank >= 3 else { throw kernelError("LRN expects rank >= 3") }
        let n = x.shape[0], c = x.shape[1], inner = x.shape[2...].reduce(1, *)
        let v = try doubles(x)
        let lo = (size - 1) / 2, hi = (size - 1) - lo
        var out = [Double](repeating: 0, count: v.count)
        for b in 0..<n {
            for ch in 0..<c {
                let c0 = max(0, ch - lo), c1 = min(c - 1, ch + hi)
                for i in 0..<inner {
                    var s = 0.0
                    if c0 <= c1 {
                        for k in c0...c1 {
                            let t = v[(b * c + k) * inner + i]
                            s += t * t
                        }
                    }
                    let idx = (b * c + ch) * inner + i
                    out[idx] = v[idx] / Double.pow(bias + alpha / Double(size) * s, beta)
                }
            }
        }
        return [.tensor(floatTensor(out, x.dtype, x.shape))]
    }
}

struct MVNKernel: Kernel {
    let axes: [Int64]

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let v = try doubles(x)
        let axs = Set(try axes.map { try normalizeAxis($0, rank: x.rank) })
        // Reduced shape: 1 on the normalized axes.
        let redShape = x.shape.enumerated().map { axs.contains($0.offset) ? 1 : $0.element }
        let rs = broadcastStrides(redShape, to: x.shape)
        let redCount = redShape.reduce(1, *)
        var sum = [Double](repeating: 0, count: redCount), sq = sum
        var offs = [Int](repeating: 0, count: v.count)
        var idx = [Int](repeating: 0, count: x.rank)
        for i in 0..<v.count {
            var o = 0
            for d in 0..<x.rank { o += idx[d] * rs[d] }
            offs[i] = o
            sum[o] += v[i]
            sq[o] += v[i] * v[i]
            var d = x.rank - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < x.shape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        let cnt = Double(max(1, v.count / max(redCount, 1)))
        var out = [Double](repeating: 0, count: v.count)
        for i in 0..<v.count {
            let m = sum[offs[i]] / cnt
            let variance = sq[offs[i]] / cnt - m * m
            out[i] = (v[i] - m) / (max(variance, 0).squareRoot() + 1e-9)
        }
        return [.tensor(floatTensor(out, x.dtype, x.shape))]
    }
}

/// Dropout at inference (identity, all-true mask); training mode only with ratio 0.
struct DropoutKernel: Kernel {
    let since: Int64
    let ratioAttr: Float

    init(_ ctx: KernelBuildContext) {
        since = ctx.sinceVersion
        ratioAttr = ctx.float("ratio", default: 0.5)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        if since >= 12, let t = inputs.optionalTensor(2), let training = t.int64Values()?.first, training != 0 {
            let ratio = try inputs.optionalTensor(1).map { try doubles($0).first ?? 0.5 } ?? 0.5
            if ratio != 0 { throw kernelUnsupported("Dropout in training mode with a non-zero ratio is not supported") }
        }
        let mask: Tensor
        if since >= 10 {
            mask = Tensor(dtype: .bool, shape: x.shape, storage: TensorStorage(copyingArray: [UInt8](repeating: 1, count: x.elementCount)))
        } else {
            mask = try convertFromFloat32(Tensor.from([Float](repeating: 1, count: x.elementCount), shape: x.shape), to: x.dtype)
        }
        return [.tensor(x), .tensor(mask)]
    }
}

/// `x / ||x||_p` along one axis (p is 1 or 2).
struct LpNormKernel: Kernel {
    let axis: Int64
    let p: Int

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard p == 1 || p == 2 else { throw kernelError("p must be 1 or 2, got \(p)") }
        let ax = try normalizeAxis(axis, rank: x.rank)
        let v = try doubles(x)
        let dim = x.shape[ax], inner = x.shape[(ax + 1)...].reduce(1, *), outer = x.shape[..<ax].reduce(1, *)
        var out = v
        for o in 0..<outer {
            for i in 0..<inner {
                var s = 0.0
                for a in 0..<dim {
                    let t = v[(o * dim + a) * inner + i]
                    s += p == 1 ? abs(t) : t * t
                }
                let norm = p == 1 ? s : s.squareRoot()
                // A zero slice stays zero (as in onnxruntime and the onnx reference), not 0/0 = NaN.
                for a in 0..<dim {
                    let idx = (o * dim + a) * inner + i
                    out[idx] = norm == 0 ? 0 : v[idx] / norm
                }
            }
        }
        return [.tensor(floatTensor(out, x.dtype, x.shape))]
    }
}
