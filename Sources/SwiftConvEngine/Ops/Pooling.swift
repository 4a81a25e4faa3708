import RealModule
import SwiftConvIR
import SwiftConvKernels

/// MaxPool, AveragePool, LpPool, global pools, MaxUnpool, MaxRoiPool.
enum PoolingKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("MaxPool", since: [1, 8, 10, 11, 12, 22]) { ctx in try PoolKernel(ctx, kind: .max) }
        r.register("AveragePool", since: [1, 7, 10, 11, 19, 22]) { ctx in try PoolKernel(ctx, kind: .average) }
        r.register("LpPool", since: [1, 2, 11, 18, 22]) { ctx in try PoolKernel(ctx, kind: .lp) }
        r.register("GlobalMaxPool", since: [1, 22]) { _ in GlobalPoolKernel(kind: .max, p: 2) }
        r.register("GlobalAveragePool", since: [1, 22]) { _ in GlobalPoolKernel(kind: .average, p: 2) }
        r.register("GlobalLpPool", since: [1, 2, 22]) { ctx in GlobalPoolKernel(kind: .lp, p: Double(ctx.int("p", default: 2))) }
        r.register("MaxUnpool", since: [9, 11, 22]) { ctx in try MaxUnpoolKernel(ctx) }
        r.register("MaxRoiPool", since: [1, 22]) { ctx in try MaxRoiPoolKernel(ctx) }
    }
}

enum PoolKind { case max, average, lp }

/// Windowed pooling over 1-3 spatial dimensions (lifted to 3-D so one loop serves all).
struct PoolKernel: Kernel {
    let kind: PoolKind
    let kernelShape: [Int]
    let strides: [Int]?
    let dilations: [Int]?
    let pads: [Int]?
    let autoPad: AutoPad
    let ceilMode: Bool
    let countIncludePad: Bool
    let storageOrder: Int
    let p: Double
    /// Whether the node consumes MaxPool's Indices output; computing it costs a second
    /// full-size buffer and defeats the fast float32 path, so it is skipped when unused.
    let wantsIndices: Bool

    init(_ ctx: KernelBuildContext, kind: PoolKind) throws {
        self.kind = kind
        wantsIndices = kind == .max && ctx.node.outputs.count > 1 && !ctx.node.outputs[1].isEmpty
        guard let ks = ints(ctx.ints("kernel_shape")) else { throw ctx.missing("kernel_shape") }
        kernelShape = ks
        strides = ints(ctx.ints("strides"))
        dilations = ints(ctx.ints("dilations"))
        pads = ints(ctx.ints("pads"))
        autoPad = try AutoPad(ctx.string("auto_pad", default: "NOTSET"))
        ceilMode = ctx.int("ceil_mode", default: 0) != 0
        countIncludePad = ctx.int("count_include_pad", default: 0) != 0
        storageOrder = Int(ctx.int("storage_order", default: 0))
        if kind == .lp {
            p = ctx.sinceVersion == 1 ? Double(ctx.float("p", default: 2)) : Double(ctx.int("p", default: 2))
        } else {
            p = 2
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank >= 3, x.rank <= 5 else { throw kernelError("pooling supports 1 to 3 spatial dimensions, got shape \(x.shape)") }
        let geo = try WindowGeometry(
            inSpatial: Array(x.shape[2...]), kernel: kernelShape, strides: strides,
            dilations: dilations, pads: pads, autoPad: autoPad, ceilMode: ceilMode)
        if autoPad == .notSet { try geo.requirePadsSmallerThanKernel() }
        // onnxruntime never finishes a window of 2^62 taps (auto_pad makes its padding fit); a window
        // past 2^31 taps per axis that is also larger than the input serves no model and is refused.
        for i in 0..<geo.kernel.count where geo.kernel[i] > Int(Int32.max) && geo.kernel[i] > geo.inSpatial[i] {
            throw SwiftConvError.resourceExhausted("kernel_shape \(geo.kernel) is far larger than the input \(geo.inSpatial)")
        }
        struct V: NumericVisitor {
            let k: PoolKernel, x: Tensor, geo: WindowGeometry, context: ExecutionContext
            func visit<T: NumericScalar>(_ type: T.Type) throws -> [Value] { try k.pool(x, geo, T.self, context) }
        }
        if kind != .max && !x.dtype.isFloatingPoint { throw kernelUnsupported("unsupported input type \(x.dtype)") }
        if x.dtype == .float32, kind != .lp, !wantsIndices, geo.inSpatial.count <= 2 {
            return [.tensor(try pool2DFloat(x, geo, context))]
        }
        guard let out = try dispatchNumeric(x.dtype, V(k: self, x: x, geo: geo, context: context)) else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        return out
    }

    func pool<T: NumericScalar>(_ x: Tensor, _ geo: WindowGeometry, _: T.Type, _ context: ExecutionContext) throws -> [Value] {
        let planes = x.shape[0] * x.shape[1]
        let out = try Tensor.allocate(x.dtype, Array(x.shape[0..<2]) + geo.outSpatial)
        let indices = try Tensor.allocate(.int64, wantsIndices ? out.shape : [0])
        let lift = 3 - geo.inSpatial.count
        func l(_ a: [Int], _ fill: Int) -> [Int] { Array(repeating: fill, count: lift) + a }
        let ins = l(geo.inSpatial, 1), ks = l(geo.kernel, 1), ss = l(geo.strides, 1), ds = l(geo.dilations, 1)
        let pb = l(geo.padBegin, 0), pe = l(geo.padEnd, 0), os = l(geo.outSpatial, 1)
        let inCount = geo.inCount, outCount = geo.outCount
        let kind = self.kind, countPad = countIncludePad, p = self.p
        let colMajor = storageOrder == 1
        let rank = geo.inSpatial.count
        x.withElements(as: T.self) { px in
            out.withMutableElements(as: T.self) { po in
                indices.withMutableElements(as: Int64.self) { pi in
                    guard let bx = px.baseAddress, let bo = po.baseAddress else { return }
                    let bi = wantsIndices ? pi.baseAddress : nil
                    context.threads.parallelFor(planes) { range in
                        for plane in range {
                            let src = bx + plane * inCount
                            var o = plane * outCount
                            for z in 0..<os[0] {
                                let z0 = z * ss[0] - pb[0]
                                for y in 0..<os[1] {
                                    let y0 = y * ss[1] - pb[1]
                                    for xx in 0..<os[2] {
                                        let x0 = xx * ss[2] - pb[2]
                                        var best: T? = nil
                                        var bestIndex = 0
                                        var sum = 0.0
                                        // Only the taps inside the input are visited: a kernel far larger than
                                        // the input costs no more than the input.
                                        let tz = PoolAxis.taps(start: z0, k: ks[0], d: ds[0], size: ins[0], pe: pe[0])
                                        let ty = PoolAxis.taps(start: y0, k: ks[1], d: ds[1], size: ins[1], pe: pe[1])
                                        let tx = PoolAxis.taps(start: x0, k: ks[2], d: ds[2], size: ins[2], pe: pe[2])
                                        let valid = tz.n * ty.n * tx.n, padded = tz.padded * ty.padded * tx.padded
                                        for a in 0..<tz.n {
                                            let iz = tz.lo + a * ds[0]
                                            for b in 0..<ty.n {
                                                let iy = ty.lo + b * ds[1]
                                                for c in 0..<tx.n {
                                                    let ix = tx.lo + c * ds[2]
                                                    let idx = (iz * ins[1] + iy) * ins[2] + ix
                                                    let v = src[idx]
                                                    switch kind {
                                                    case .max:
                                                        if best == nil || v > best! {
                                                            best = v
                                                            bestIndex = idx
                                                        }
                                                    case .average: sum += v.asDouble
                                                    case .lp: sum += Double.pow(abs(v.asDouble), p)
                                                    }
                                                }
                                            }
                                        }
                                        switch kind {
                                        case .max:
                                            bo[o] = best ?? T.zero
                                            var flat = bestIndex
                                            if colMajor && rank == 2 {
                                                let h = bestIndex / ins[2], w = bestIndex % ins[2]
                                                flat = h + w * ins[1]
                                            }
                                            bi?[o] = Int64(plane * inCount + flat)
                                        case .average:
                                            let n = countPad ? padded : valid
                                            bo[o] = T(fromDouble: n > 0 ? sum / Double(n) : 0)
                                        case .lp:
                                            bo[o] = T(fromDouble: Double.pow(sum, 1 / p))
                                        }
                                        o += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return kind == .max && wantsIndices ? [.tensor(out), .tensor(indices)] : [.tensor(out)]
    }

    /// Max/average pooling of float32 over one or two spatial dimensions, one output row
    /// per job, each thread's rows in one call of the kernel table (see `Pooling2D`).
    func pool2DFloat(_ x: Tensor, _ geo: WindowGeometry, _ context: ExecutionContext) throws -> Tensor {
        let twoD = geo.inSpatial.count == 2
        func axis(_ i: Int) -> PoolAxis {
            PoolAxis(
                size: geo.inSpatial[i], k: geo.kernel[i], s: geo.strides[i], d: geo.dilations[i],
                pb: geo.padBegin[i], pe: geo.padEnd[i], out: geo.outSpatial[i])
        }
        let h = twoD ? axis(0) : PoolAxis(size: 1, k: 1, s: 1, d: 1, pb: 0, pe: 0, out: 1)
        let w = axis(twoD ? 1 : 0)
        let planes = x.shape[0] * x.shape[1]
        let out = try Tensor.allocate(.float32, Array(x.shape[0..<2]) + geo.outSpatial)
        guard planes > 0, h.out > 0, w.out > 0 else { return out }
        let rows = h.taps(), cols = w.taps()
        let isMax = kind == .max, countPad = countIncludePad
        let inW = w.size, inPlane = h.size * w.size, outW = w.out, outPlane = h.out * w.out
        let dh = h.d, dw = w.d
        let src = x.floatPointer, dst = out.mutableFloatPointer
        let problem = Pooling2D(
            src: src, dst: dst, rows: rows, cols: cols, isMax: isMax, countPad: countPad,
            inWidth: inW, inPlane: inPlane, outWidth: outW, outPlane: outPlane, dilationY: dh,
            dilationX: dw, kernelWidth: w.k, strideX: w.s)
        let poolRows = KernelTable.best.pool2DRows
        // One job is one output row: about k_h input rows plus k_w taps per output.
        // Taps beyond the input cost nothing (and a huge kernel must not overflow the estimate).
        let rowWork = max(1, min(h.k, h.size) * inW + outW * min(w.k, w.size))
        context.threads.parallelFor(planes * h.out, grain: max(1, 32768 / rowWork)) { range in
            withScratch(inW) { row in
                poolRows(problem, range, row)
            }
        }
        return out
    }
}

/// Pooling over all spatial dimensions at once.
struct GlobalPoolKernel: Kernel {
    let kind: PoolKind
    let p: Double

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank >= 2 else { throw kernelError("input must have rank >= 2, got \(x.shape)") }
        if x.dtype == .float32 && kind != .lp { return [.tensor(try globalFloat(x, context))] }
        struct V: FloatVisitor {
            let k: GlobalPoolKernel, x: Tensor
            func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
                let planes = x.shape[0] * x.shape[1]
                let size = x.shape[2...].reduce(1, *)
                let out = try Tensor.allocate(x.dtype, Array(x.shape[0..<2]) + Array(repeating: 1, count: x.rank - 2))
                x.withElements(as: T.self) { px in
                    out.withMutableElements(as: T.self) { po in
                        for plane in 0..<planes {
                            let base = plane * size
                            switch k.kind {
                            case .max:
                                var m = size > 0 ? px[base] : T.zero
                                for i in 0..<size where px[base + i] > m { m = px[base + i] }
                                po[plane] = m
                            case .average:
                                var s = 0.0
                                for i in 0..<size { s += px[base + i].asDouble }
                                po[plane] = T(fromDouble: s / Double(max(size, 1)))
                            case .lp:
                                var s = 0.0
                                for i in 0..<size { s += Double.pow(abs(px[base + i].asDouble), k.p) }
                                po[plane] = T(fromDouble: Double.pow(s, 1 / k.p))
                            }
                        }
                    }
                }
                return out
            }
        }
        guard let out = try dispatchFloat(x.dtype, V(k: self, x: x)) else { throw kernelUnsupported("unsupported input type \(x.dtype)") }
        return [.tensor(out)]
    }

    /// float32 max/average over each contiguous plane, with eight independent accumulators
    /// so the loop vectorizes; planes are split across threads when there are many.
    func globalFloat(_ x: Tensor, _ context: ExecutionContext) throws -> Tensor {
        let planes = x.shape[0] * x.shape[1]
        let size = x.shape[2...].reduce(1, *)
        let out = try Tensor.allocate(.float32, Array(x.shape[0..<2]) + Array(repeating: 1, count: x.rank - 2))
        guard planes > 0 else { return out }
        let src = x.floatPointer, dst = out.mutableFloatPointer
        let isMax = kind == .max
        context.threads.parallelFor(planes, grain: max(1, 32768 / max(size, 1))) { range in
            for plane in range {
                let p = src + plane * size
                guard size > 0 else {
                    dst[plane] = 0
                    continue
                }
                let body = size & ~7
                if isMax {
                    var m = SIMD8<Float>(repeating: p[0])
                    var i = 0
                    while i < body {
                        let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
                        m = m.replacing(with: v, where: v .> m)
                        i += 8
                    }
                    var r = m.max()
                    while i < size {
                        if p[i] > r { r = p[i] }
                        i += 1
                    }
                    dst[plane] = r
                } else {
                    var acc = SIMD8<Float>()
                    var i = 0
                    while i < body {
                        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
                        i += 8
                    }
                    var r = acc.sum()
                    while i < size {
                        r += p[i]
                        i += 1
                    }
                    dst[plane] = r / Float(size)
                }
            }
        }
        return out
    }
}

struct MaxUnpoolKernel: Kernel {
    let kernelShape: [Int]
    let strides: [Int]?
    let pads: [Int]?

    init(_ ctx: KernelBuildContext) throws {
        guard let ks = ints(ctx.ints("kernel_shape")) else { throw ctx.missing("kernel_shape") }
        kernelShape = ks
        strides = ints(ctx.ints("strides"))
        pads = ints(ctx.ints("pads"))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), ind = try inputs.tensor(1)
        let r = kernelShape.count
        guard x.rank == r + 2, ind.shape == x.shape, ind.dtype == .int64 else {
            throw kernelError("X \(x.shape) and I \(ind.shape) do not fit kernel_shape")
        }
        let st = strides ?? Array(repeating: 1, count: r)
        let pd = pads ?? Array(repeating: 0, count: 2 * r)
        guard st.count == r, pd.count == 2 * r else { throw kernelError("strides/pads rank mismatch") }
        var inferred = Array(x.shape[0..<2])
        for d in 0..<r {
            let stretched = try Checked.multiply(max(x.shape[d + 2] - 1, 0), st[d], "the unpooled size")
            let pads = try Checked.add(pd[d], pd[r + d], "the unpooled size")
            inferred.append(try Checked.add(Checked.subtract(stretched, pads, "the unpooled size"), kernelShape[d], "the unpooled size"))
        }
        var shape = inferred
        if let os = inputs.optionalTensor(2) {
            guard let v = os.int64Values(), v.count == x.rank else { throw kernelError("output_shape must list \(x.rank) sizes") }
            shape = v.map { Int($0) }
        }
        guard shape.allSatisfy({ $0 >= 0 }), inferred.allSatisfy({ $0 >= 0 }) else {
            throw kernelError("negative output shape \(shape)")
        }
        let out = try Tensor.zeros(x.dtype, shape)
        let total = try checkedElementCount(inferred)
        let idx = ind.values(as: Int64.self)
        // Indices address the inferred shape; it is then placed at the origin of the requested one.
        let inferredStrides = contiguousStrides(inferred), outStrides = contiguousStrides(shape)
        var mapping = [Int](repeating: -1, count: idx.count)
        for (i, v) in idx.enumerated() {
            guard v >= 0, Int(v) < total else { throw kernelError("index \(v) out of range") }
            var rem = Int(v), off = 0
            var inside = true
            for d in 0..<inferred.count {
                let c = rem / inferredStrides[d]
                rem %= inferredStrides[d]
                if c >= shape[d] { inside = false }
                off += c * outStrides[d]
            }
            if inside { mapping[i] = off }
        }
        let bytes = x.dtype.bitWidth / 8
        guard bytes > 0 else { throw kernelUnsupported("unsupported input type \(x.dtype)") }
        let src = x.storage.bytes, dst = out.storage.mutableBytes
        for (i, o) in mapping.enumerated() where o >= 0 {
            for b in 0..<bytes { dst[o * bytes + b] = src[i * bytes + b] }
        }
        return [.tensor(out)]
    }
}

struct MaxRoiPoolKernel: Kernel {
    let pooled: [Int]
    let scale: Float

    init(_ ctx: KernelBuildContext) throws {
        guard let p = ints(ctx.ints("pooled_shape")), p.count == 2 else { throw ctx.missing("pooled_shape") }
        pooled = p
        scale = ctx.float("spatial_scale", default: 1)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), rois = try inputs.tensor(1)
        guard x.rank == 4, rois.rank == 2, rois.shape[1] == 5 else { throw kernelError("expects X [N,C,H,W] and rois [R,5]") }
        struct V: FloatVisitor {
            let k: MaxRoiPoolKernel, x: Tensor, rois: Tensor
            func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
                let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
                let ph = k.pooled[0], pw = k.pooled[1]
                let numRois = rois.shape[0]
                let out = try Tensor.allocate(x.dtype, [numRois, c, ph, pw])
                guard let rv = floatValuesAsDouble(rois), rv.allSatisfy({ $0.isFinite && abs($0) < 1e9 }) else {
                    throw kernelError("rois must be finite floats")
                }
                try x.withElements(as: T.self) { px in
                    try out.withMutableElements(as: T.self) { po in
                        for r in 0..<numRois {
                            let b = Int(rv[r * 5])
                            guard b >= 0, b < n else { throw kernelError("roi batch index \(b) out of range") }
                            // Corners far outside any image are clamped: bins then stay finite and sums cannot overflow.
                            func corner(_ v: Double) throws -> Int {
                                try Checked.clampedInt((v * Double(k.scale)).rounded(), -(1 << 40)...(1 << 40), "an roi corner")
                            }
                            let sw = try corner(rv[r * 5 + 1]), sh = try corner(rv[r * 5 + 2])
                            let ew = try corner(rv[r * 5 + 3]), eh = try corner(rv[r * 5 + 4])
                            let rh = max(eh - sh + 1, 1), rw = max(ew - sw + 1, 1)
                            let bh = Double(rh) / Double(ph), bw = Double(rw) / Double(pw)
                            for ch in 0..<c {
                                let plane = (b * c + ch) * h * w
                                for i in 0..<ph {
                                    let hs = min(max(Int((Double(i) * bh).rounded(.down)) + sh, 0), h)
                                    let he = min(max(Int((Double(i + 1) * bh).rounded(.up)) + sh, 0), h)
                                    for j in 0..<pw {
                                        let ws = min(max(Int((Double(j) * bw).rounded(.down)) + sw, 0), w)
                                        let we = min(max(Int((Double(j + 1) * bw).rounded(.up)) + sw, 0), w)
                                        var m: T? = nil
                                        for yy in hs..<max(hs, he) {
                                            for xx in ws..<max(ws, we) {
                                                let v = px[plane + yy * w + xx]
                                                if m == nil || v > m! { m = v }
                                            }
                                        }
                                        po[((r * c + ch) * ph + i) * pw + j] = m ?? 0
                                    }
                                }
                            }
                        }
                    }
                }
                return out
            }
        }
        guard let out = try dispatchFloat(x.dtype, V(k: self, x: x, rois: rois)) else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}
