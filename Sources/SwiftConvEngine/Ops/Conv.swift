import CSwiftConvKernels
import RealModule
import SwiftConvIR
import SwiftConvKernels

/// Conv, ConvTranspose, DeformConv, and onnxruntime's FusedConv (Conv + activation).
enum ConvKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Conv", since: [1, 11, 22]) { ctx in try ConvKernel(ctx) }
        // Produced by the ConvActivationFusion pass from Conv + Relu/Clip; also runs models that contain it.
        r.register("FusedConv", domain: OpDomain.microsoft, since: [1]) { ctx in
            if ctx.node.inputs.count > 3 && !ctx.node.inputs[3].isEmpty {
                throw SwiftConvError.unsupportedOp("FusedConv with a sum input Z")
            }
            return try ConvKernel(ctx, activation: ConvActivation(ctx))
        }
        r.register("ConvTranspose", since: [1, 11, 22]) { ctx in try ConvTransposeKernel(ctx) }
        r.register("DeformConv", since: [19, 22]) { ctx in try DeformConvKernel(ctx) }
    }
}

/// Attributes shared by Conv and ConvTranspose.
struct ConvAttributes {
    let group: Int
    let autoPad: AutoPad
    let strides: [Int]?
    let dilations: [Int]?
    let pads: [Int]?
    let kernelShape: [Int]?

    init(_ ctx: KernelBuildContext) throws {
        group = Int(ctx.int("group", default: 1))
        guard group >= 1 else { throw ctx.invalid("group must be positive") }
        autoPad = try AutoPad(ctx.string("auto_pad", default: "NOTSET"))
        strides = ints(ctx.ints("strides"))
        dilations = ints(ctx.ints("dilations"))
        pads = ints(ctx.ints("pads"))
        kernelShape = ints(ctx.ints("kernel_shape"))
    }
}

/// Lifts 1-D geometry to 2-D (a leading extent of 1) so one 2-D loop serves both.
func lift2D(_ g: WindowGeometry) -> WindowGeometry {
    guard g.inSpatial.count == 1 else { return g }
    var h = g
    h.inSpatial = [1] + g.inSpatial
    h.kernel = [1] + g.kernel
    h.strides = [1] + g.strides
    h.dilations = [1] + g.dilations
    h.padBegin = [0] + g.padBegin
    h.padEnd = [0] + g.padEnd
    h.outSpatial = [1] + g.outSpatial
    return h
}

/// Unfolds one group of one image (`channels x in...`) into `channels*prod(kernel) x prod(out)` columns.
func im2col(_ x: UnsafePointer<Float>, channels: Int, _ g: WindowGeometry, _ col: UnsafeMutablePointer<Float>, parallel: ParallelFor) {
    let kc = g.kernelCount, outCount = g.outCount, inCount = g.inCount
    let rows = channels * kc
    if g.inSpatial.count == 2 {
        let h = g.inSpatial[0], w = g.inSpatial[1]
        let kh = g.kernel[0], kw = g.kernel[1]
        let oh = g.outSpatial[0], ow = g.outSpatial[1]
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.padBegin[0], pl = g.padBegin[1]
        parallel(rows) { range in
            for r in range {
                let c = r / kc, ki = (r % kc) / kw, kj = r % kw
                _ = kh
                let src = x + c * inCount
                let dst = col + r * outCount
                for y in 0..<oh {
                    let iy = y * sh - pt + ki * dh
                    let drow = dst + y * ow
                    if iy < 0 || iy >= h {
                        for xx in 0..<ow { drow[xx] = 0 }
                        continue
                    }
                    let srow = src + iy * w
                    let off = kj * dw - pl
                    if sw == 1 {
                        // Contiguous run: zeros, a copy, zeros.
                        let lo = min(ow, max(0, -off)), hi = max(lo, min(ow, w - off))
                        for xx in 0..<lo { drow[xx] = 0 }
                        if hi > lo { (drow + lo).update(from: srow + lo + off, count: hi - lo) }
                        for xx in hi..<ow { drow[xx] = 0 }
                    } else {
                        for xx in 0..<ow {
                            let ix = xx * sw + off
                            drow[xx] = ix >= 0 && ix < w ? srow[ix] : 0
                        }
                    }
                }
            }
        }
        return
    }
    // Any spatial rank: walk output positions with an index odometer.
    let r = g.inSpatial.count
    let inStrides = contiguousStrides(g.inSpatial)
    parallel(rows) { range in
        var kpos = [Int](repeating: 0, count: r), opos = [Int](repeating: 0, count: r)
        for row in range {
            let c = row / kc
            var rem = row % kc
            for d in stride(from: r - 1, through: 0, by: -1) { kpos[d] = rem % g.kernel[d]; rem /= g.kernel[d] }
            let src = x + c * inCount
            let dst = col + row * outCount
            for d in 0..<r { opos[d] = 0 }
            for o in 0..<outCount {
                var off = 0
                var inside = true
                for d in 0..<r {
                    let i = opos[d] * g.strides[d] - g.padBegin[d] + kpos[d] * g.dilations[d]
                    if i < 0 || i >= g.inSpatial[d] { inside = false; break }
                    off += i * inStrides[d]
                }
                dst[o] = inside ? src[off] : 0
                var d = r - 1
                while d >= 0 {
                    opos[d] += 1
                    if opos[d] < g.outSpatial[d] { break }
                    opos[d] = 0
                    d -= 1
                }
            }
        }
    }
}

/// The activation a FusedConv applies to its output: onnxruntime's `activation` attribute
/// with its `activation_params`.
struct ConvActivation {
    enum Kind { case relu, clip, leakyRelu, sigmoid, tanh, hardSigmoid }
    let kind: Kind
    let a: Float
    let b: Float

    init(_ ctx: KernelBuildContext) throws {
        let name = ctx.string("activation", default: "")
        let params = ctx.floats("activation_params") ?? []
        func param(_ i: Int, _ d: Float) -> Float { i < params.count ? params[i] : d }
        switch name {
        case "Relu": kind = .relu; a = 0; b = 0
        case "Clip":
            guard params.count == 2 else { throw ctx.invalid("Clip activation needs activation_params [min, max]") }
            kind = .clip; a = params[0]; b = params[1]
        case "LeakyRelu": kind = .leakyRelu; a = param(0, 0.01); b = 0
        case "Sigmoid": kind = .sigmoid; a = 0; b = 0
        case "Tanh": kind = .tanh; a = 0; b = 0
        case "HardSigmoid": kind = .hardSigmoid; a = param(0, 0.2); b = param(1, 0.5)
        default: throw SwiftConvError.unsupportedOp("FusedConv activation '\(name)'")
        }
    }

    /// The bounds when the activation is a clamp (Relu, Clip), which kernels can apply themselves.
    var clampBounds: (Float, Float)? {
        switch kind {
        case .relu: return (0, .infinity)
        case .clip: return (a, b)
        default: return nil
        }
    }

    /// `p[0..<count] = activation(p[i] + bias)`.
    func apply(_ p: UnsafeMutablePointer<Float>, _ count: Int, bias: Float) {
        typealias V = SIMD8<Float>
        let raw = UnsafeMutableRawPointer(p)
        let vb = V(repeating: bias)
        var i = 0
        switch kind {
        case .relu, .clip:
            let lo = V(repeating: kind == .relu ? 0 : a), hi = V(repeating: kind == .relu ? .infinity : b)
            while i + 8 <= count {
                var v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) + vb
                v.replace(with: lo, where: v .< lo)  // NaN compares false and stays NaN
                v.replace(with: hi, where: v .> hi)
                raw.storeBytes(of: v, toByteOffset: i * 4, as: V.self)
                i += 8
            }
            let l = lo[0], h = hi[0]
            while i < count {
                let v = p[i] + bias
                p[i] = v < l ? l : (v > h ? h : v)
                i += 1
            }
        case .leakyRelu:
            while i < count { let v = p[i] + bias; p[i] = v < 0 ? a * v : v; i += 1 }
        case .sigmoid:
            while i < count { p[i] = 1 / (1 + Float.exp(-(p[i] + bias))); i += 1 }
        case .tanh:
            while i < count { p[i] = Float.tanh(p[i] + bias); i += 1 }
        case .hardSigmoid:
            while i < count { p[i] = Swift.max(0, Swift.min(1, a * (p[i] + bias) + b)); i += 1 }
        }
    }
}

struct ConvKernel: Kernel {
    let attrs: ConvAttributes
    /// Applied with the bias to each output block; nil for a plain Conv.
    let activation: ConvActivation?
    /// Weights packed per group for the GEMM (constant float32 weights only).
    let packed: FloatBuffer?
    let packedShape: [Int]

    init(_ ctx: KernelBuildContext, activation: ConvActivation? = nil) throws {
        attrs = try ConvAttributes(ctx)
        self.activation = activation
        if let w = ctx.constant(1), w.dtype == .float32, w.rank >= 3, w.shape[0] % attrs.group == 0, w.elementCount > 0 {
            let g = attrs.group
            let mg = w.shape[0] / g, kg = w.elementCount / w.shape[0]
            let per = Gemm.packedASize(m: mg, k: kg)
            let buf = FloatBuffer(count: per * g)
            for gi in 0..<g {
                Gemm.pack(a: MatrixView(w.floatPointer + gi * mg * kg, rowStride: kg, colStride: 1), m: mg, k: kg,
                          into: buf.pointer + gi * per)
            }
            packed = buf
            packedShape = w.shape
        } else {
            packed = nil
            packedShape = []
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x0 = try inputs.tensor(0), w0 = try inputs.tensor(1)
        let b0 = inputs.optionalTensor(2)
        guard x0.dtype == w0.dtype, x0.dtype.isFloatingPoint else { throw kernelError("unsupported input types \(x0.dtype), \(w0.dtype)") }
        let x = try convertToFloat32(x0), w = try convertToFloat32(w0), b = try b0.map(convertToFloat32)
        let out = try conv(x, w, b, context)
        return [.tensor(try convertFromFloat32(out, to: x0.dtype))]
    }

    func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ context: ExecutionContext) throws -> Tensor {
        guard x.rank >= 3, w.rank == x.rank else { throw kernelError("Conv expects X and W of equal rank >= 3, got \(x.shape) and \(w.shape)") }
        let n = x.shape[0], c = x.shape[1], m = w.shape[0]
        let group = attrs.group
        guard c % group == 0, m % group == 0, w.shape[1] * group == c else {
            throw kernelError("channels \(c) / weights \(w.shape) do not fit group \(group)")
        }
        let kernel = Array(w.shape[2...])
        if let ks = attrs.kernelShape, ks != kernel { throw kernelError("kernel_shape \(ks) differs from weights \(kernel)") }
        if let b = b, b.elementCount != m { throw kernelError("bias has \(b.elementCount) values, expected \(m)") }
        let geo = try WindowGeometry(inSpatial: Array(x.shape[2...]), kernel: kernel, strides: attrs.strides,
                                     dilations: attrs.dilations, pads: attrs.pads, autoPad: attrs.autoPad)
        let out = try Tensor.allocate(.float32, [n, m] + geo.outSpatial)
        let outCount = geo.outCount, inCount = geo.inCount
        let cg = c / group, mg = m / group, kg = cg * geo.kernelCount
        let px = x.floatPointer, pw = w.floatPointer, po = out.mutableFloatPointer
        if out.elementCount == 0 { return out }
        let pbias = b?.floatPointer
        let par = context.parallel
        let g2 = lift2D(geo)

        // Depthwise: one filter per channel, a direct loop.
        if cg == 1 && mg == 1 && g2.inSpatial.count == 2 {
            depthwise(px, pw, pbias, po, planes: n * m, channels: m, g2, par)
            return out
        }
        let activation = self.activation
        let pointwise = geo.kernel.allSatisfy { $0 == 1 } && geo.strides.allSatisfy { $0 == 1 }
            && geo.padBegin.allSatisfy { $0 == 0 } && geo.padEnd.allSatisfy { $0 == 0 }
        let usePacked = packed != nil && w.shape == packedShape
        let perGroup = Gemm.packedASize(m: mg, k: kg)
        // The column buffer can be far larger than input and output (kernel size times the output):
        // tensor storage, so a size the run cannot afford is an error rather than an abort.
        let colStorage = pointwise ? nil : try TensorStorage(uninitializedByteCount:
            Checked.product([max(1, kg), max(1, outCount), MemoryLayout<Float>.stride], "the im2col buffer"))
        defer { withExtendedLifetime(colStorage) {} }
        let col = colStorage.map { $0.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self) }
        for img in 0..<n {
            for gi in 0..<group {
                let xg = px + (img * c + gi * cg) * inCount
                let bview: MatrixView
                if let col = col {
                    im2col(xg, channels: cg, geo, col, parallel: par)
                    bview = MatrixView(col, rowStride: outCount, colStride: 1)
                } else {
                    bview = MatrixView(xg, rowStride: inCount, colStride: 1)
                }
                let cptr = po + (img * m + gi * mg) * outCount
                let channel0 = gi * mg
                // Bias and Relu/Clip are applied by the GEMM as it stores each finished tile;
                // other activations per finished block, while it is in cache.
                let clamp = activation?.clampBounds
                let finish: TileFinish? = pbias == nil && activation == nil ? nil
                    : TileFinish(row_bias: pbias.map { $0 + channel0 }, lo: clamp?.0 ?? -.infinity, hi: clamp?.1 ?? .infinity)
                let epilogue: Epilogue? = activation == nil || clamp != nil ? nil : { rows, cols in
                    for r in rows {
                        activation!.apply(cptr + r * outCount + cols.lowerBound, cols.count, bias: 0)
                    }
                }
                if usePacked, let pk = packed {
                    Gemm.sgemm(m: mg, n: outCount, k: kg, packedA: UnsafePointer(pk.pointer + gi * perGroup), b: bview,
                               c: cptr, ldc: outCount, parallel: par, finish: finish, epilogue: epilogue)
                } else {
                    Gemm.sgemm(m: mg, n: outCount, k: kg, a: MatrixView(pw + gi * mg * kg, rowStride: kg, colStride: 1),
                               b: bview, c: cptr, ldc: outCount, parallel: par, finish: finish, epilogue: epilogue)
                }
            }
        }
        return out
    }

    /// Depthwise 2-D convolution, one plane per task.
    func depthwise(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                   _ y: UnsafeMutablePointer<Float>, planes: Int, channels: Int, _ g: WindowGeometry, _ par: ParallelFor) {
        let h = g.inSpatial[0], wd = g.inSpatial[1], kh = g.kernel[0], kw = g.kernel[1]
        let oh = g.outSpatial[0], ow = g.outSpatial[1]
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.padBegin[0], pl = g.padBegin[1]
        let activation = self.activation
        // The AVX2 kernel covers MobileNet-style 3x3 filters at stride 1 or 2, and clamps
        // (Relu, Clip) on the way out; other activations follow per plane.
        if Gemm.usesAVX2 && kh == 3 && kw == 3 && dh == 1 && dw == 1 && sh == sw && (sh == 1 || sh == 2)
            && pt >= 0 && pl >= 0 && oh > 0 && ow > 0 {
            let clamp = activation?.clampBounds ?? (-.infinity, .infinity)
            var done = true
            par(planes) { range in
                let ok = scv_depthwise3x3_avx2(x, w, bias, y, range.lowerBound, range.upperBound, channels,
                                               h, wd, oh, ow, sh, pt, pl, clamp.0, clamp.1) != 0
                if ok, let act = activation, act.clampBounds == nil {
                    for p in range { act.apply(y + p * oh * ow, oh * ow, bias: 0) }
                }
                if !ok { done = false }
            }
            if done { return }
        }
        par(planes) { range in
            for p in range {
                let ch = p % channels
                let src = x + p * h * wd, dst = y + p * oh * ow, flt = w + ch * kh * kw
                let b0: Float = bias?[ch] ?? 0
                for yy in 0..<oh {
                    let drow = dst + yy * ow
                    for xx in 0..<ow { drow[xx] = b0 }
                    for i in 0..<kh {
                        let iy = yy * sh - pt + i * dh
                        if iy < 0 || iy >= h { continue }
                        let srow = src + iy * wd
                        for j in 0..<kw {
                            let wv = flt[i * kw + j]
                            let off = j * dw - pl
                            // Output columns whose input column is inside the row.
                            var lo = 0
                            if off < 0 { lo = (-off + sw - 1) / sw }
                            var hi = ow
                            if wd - off <= 0 { hi = 0 } else { hi = min(ow, (wd - off - 1) / sw + 1) }
                            if lo >= hi { continue }
                            if sw == 1 {
                                for xx in lo..<hi { drow[xx] += wv * srow[xx + off] }
                            } else {
                                for xx in lo..<hi { drow[xx] += wv * srow[xx * sw + off] }
                            }
                        }
                    }
                }
                activation?.apply(dst, oh * ow, bias: 0)
            }
        }
    }
}

struct ConvTransposeKernel: Kernel {
    let attrs: ConvAttributes
    let outputPadding: [Int]?
    let outputShape: [Int]?

    init(_ ctx: KernelBuildContext) throws {
        attrs = try ConvAttributes(ctx)
        outputPadding = ints(ctx.ints("output_padding"))
        outputShape = ints(ctx.ints("output_shape"))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x0 = try inputs.tensor(0), w0 = try inputs.tensor(1)
        guard x0.dtype == w0.dtype, x0.dtype.isFloatingPoint else { throw kernelError("unsupported input types \(x0.dtype), \(w0.dtype)") }
        let x = try convertToFloat32(x0), w = try convertToFloat32(w0), b = try inputs.optionalTensor(2).map(convertToFloat32)
        guard x.rank >= 3, w.rank == x.rank else { throw kernelError("ConvTranspose expects X and W of equal rank >= 3") }
        let n = x.shape[0], c = x.shape[1], group = attrs.group
        guard w.shape[0] == c, c % group == 0 else { throw kernelError("weights \(w.shape) do not fit \(c) channels") }
        let mg = w.shape[1], m = mg * group, cg = c / group
        let r = x.rank - 2
        let inSp = Array(x.shape[2...]), kernel = Array(w.shape[2...])
        let strides = attrs.strides ?? Array(repeating: 1, count: r)
        let dil = attrs.dilations ?? Array(repeating: 1, count: r)
        let opad = outputPadding ?? Array(repeating: 0, count: r)
        guard strides.count == r, dil.count == r, opad.count >= r else { throw kernelError("attribute ranks do not match input") }
        guard strides.allSatisfy({ $0 > 0 }), dil.allSatisfy({ $0 > 0 }) else { throw kernelError("strides and dilations must be positive") }
        /// The full (unpadded) output extent of axis i, checked: every term comes from the model.
        func fullExtent(_ i: Int) throws -> Int {
            let what = "the output size of axis \(i)"
            let stretched = try Checked.multiply(strides[i], inSp[i] - 1, what)
            let reach = try Checked.multiply(kernel[i] - 1, dil[i], what)
            return try Checked.add(Checked.add(Checked.add(stretched, opad[i], what), reach, what), 1, what)
        }
        if let b = b, b.elementCount != m { throw kernelError("bias has \(b.elementCount) values, expected \(m)") }
        var pb = Array(repeating: 0, count: r), pe = pb
        var outSp = Array(repeating: 0, count: r)
        var explicitOut: [Int]? = nil
        if let os = outputShape {
            guard os.count == r || os.count == r + 2 else { throw kernelError("output_shape \(os) does not fit \(r) spatial dimensions") }
            explicitOut = Array(os.suffix(r))
        }
        if attrs.autoPad == .sameUpper || attrs.autoPad == .sameLower {
            let target = try explicitOut ?? (0..<r).map { try Checked.multiply(inSp[$0], strides[$0], "the output size") }
            for i in 0..<r {
                let total = try Checked.subtract(fullExtent(i), target[i], "the output padding")
                let small = total / 2, big = total - small
                pb[i] = attrs.autoPad == .sameUpper ? small : big
                pe[i] = attrs.autoPad == .sameUpper ? big : small
                outSp[i] = target[i]
            }
        } else {
            if let p = attrs.pads, attrs.autoPad == .notSet {
                guard p.count == 2 * r else { throw kernelError("pads has \(p.count) values") }
                guard p.allSatisfy({ $0 >= 0 }) else { throw kernelError("pads \(p) must not be negative") }
                pb = Array(p[0..<r])
                pe = Array(p[r...])
            }
            for i in 0..<r {
                outSp[i] = try explicitOut?[i]
                    ?? Checked.subtract(fullExtent(i), Checked.add(pb[i], pe[i], "the pads"), "the output size of axis \(i)")
            }
        }
        guard outSp.allSatisfy({ $0 >= 0 }) else { throw kernelError("negative output size \(outSp)") }
        // Every scatter position is at most the full extent, also when output_shape fixes the
        // output size: checking the extent here keeps the position arithmetic below in range.
        for i in 0..<r { _ = try fullExtent(i) }
        let out = try Tensor.allocate(.float32, [n, m] + outSp)
        let po = out.mutableFloatPointer
        let outCount = outSp.reduce(1, *), inCount = inSp.reduce(1, *), kc = kernel.reduce(1, *)
        if out.elementCount == 0 { return [.tensor(try convertFromFloat32(out, to: x0.dtype))] }
        let pbias = b?.floatPointer
        for i in 0..<n * m {
            let v = pbias?[i % m] ?? 0
            for j in 0..<outCount { po[i * outCount + j] = v }
        }
        let rowsK = mg * kc
        let par = context.parallel
        let px = x.floatPointer, pw = w.floatPointer
        try withCheckedScratch(Checked.multiply(rowsK, inCount, "the column buffer")) { col in
            for img in 0..<n {
                for gi in 0..<group {
                    // col (mg*kc x in) = W_g^T (mg*kc x cg) * X_g (cg x in)
                    Gemm.sgemm(m: rowsK, n: inCount, k: cg,
                               a: MatrixView(pw + gi * cg * rowsK, rowStride: 1, colStride: rowsK),
                               b: MatrixView(px + (img * c + gi * cg) * inCount, rowStride: inCount, colStride: 1),
                               c: col, ldc: inCount, parallel: par)
                    let yg = po + (img * m + gi * mg) * outCount
                    try col2im(col, channels: mg, inSp: inSp, kernel: kernel, strides: strides, dil: dil, padBegin: pb,
                               outSp: outSp, y: yg, parallel: par)
                }
            }
        }
        return [.tensor(try convertFromFloat32(out, to: x0.dtype))]
    }

    /// Scatter-adds columns back into an image; each task owns whole output channels.
    func col2im(_ col: UnsafePointer<Float>, channels: Int, inSp: [Int], kernel: [Int], strides: [Int], dil: [Int],
                padBegin: [Int], outSp: [Int], y: UnsafeMutablePointer<Float>, parallel: ParallelFor) throws {
        let r = inSp.count
        let kc = kernel.reduce(1, *), inCount = inSp.reduce(1, *), outCount = outSp.reduce(1, *)
        let outStrides = contiguousStrides(outSp)
        parallel(channels) { range in
            var kpos = [Int](repeating: 0, count: r), ipos = [Int](repeating: 0, count: r)
            for ch in range {
                let dst = y + ch * outCount
                for k in 0..<kc {
                    var rem = k
                    for d in stride(from: r - 1, through: 0, by: -1) { kpos[d] = rem % kernel[d]; rem /= kernel[d] }
                    let src = col + (ch * kc + k) * inCount
                    if r == 2 {
                        let oh = outSp[0], ow = outSp[1], ih = inSp[0], iw = inSp[1]
                        for iy in 0..<ih {
                            let oy = iy * strides[0] - padBegin[0] + kpos[0] * dil[0]
                            if oy < 0 || oy >= oh { continue }
                            let drow = dst + oy * ow, srow = src + iy * iw
                            let off = kpos[1] * dil[1] - padBegin[1]
                            for ix in 0..<iw {
                                let ox = ix * strides[1] + off
                                if ox >= 0 && ox < ow { drow[ox] += srow[ix] }
                            }
                        }
                        continue
                    }
                    for d in 0..<r { ipos[d] = 0 }
                    for i in 0..<inCount {
                        var off = 0
                        var inside = true
                        for d in 0..<r {
                            let o = ipos[d] * strides[d] - padBegin[d] + kpos[d] * dil[d]
                            if o < 0 || o >= outSp[d] { inside = false; break }
                            off += o * outStrides[d]
                        }
                        if inside { dst[off] += src[i] }
                        var d = r - 1
                        while d >= 0 {
                            ipos[d] += 1
                            if ipos[d] < inSp[d] { break }
                            ipos[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }
}

/// 2-D deformable convolution: columns sampled bilinearly at offset positions (times the mask), then GEMM.
struct DeformConvKernel: Kernel {
    let attrs: ConvAttributes
    let offsetGroups: Int

    init(_ ctx: KernelBuildContext) throws {
        attrs = try ConvAttributes(ctx)
        offsetGroups = Int(ctx.int("offset_group", default: 1))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x0 = try inputs.tensor(0)
        guard x0.dtype.isFloatingPoint else { throw kernelError("unsupported input type \(x0.dtype)") }
        let x = try convertToFloat32(x0), w = try convertToFloat32(inputs.tensor(1)), off = try convertToFloat32(inputs.tensor(2))
        let b = try inputs.optionalTensor(3).map(convertToFloat32), mask = try inputs.optionalTensor(4).map(convertToFloat32)
        guard x.rank == 4, w.rank == 4, off.rank == 4 else { throw kernelError("DeformConv supports 2-D inputs only") }
        let n = x.shape[0], c = x.shape[1], ih = x.shape[2], iw = x.shape[3]
        let m = w.shape[0], group = attrs.group, og = offsetGroups
        let kh = w.shape[2], kw = w.shape[3]
        guard c == w.shape[1] * group, m % group == 0, og > 0, c % og == 0 else { throw kernelError("shapes do not fit groups") }
        let oh = off.shape[2], ow = off.shape[3]
        guard off.shape[0] == n, off.shape[1] == (try? Checked.product([og, kh, kw, 2])) else { throw kernelError("offset shape \(off.shape) does not fit") }
        if let mk = mask {
            guard mk.elementCount == (try? checkedElementCount([n, og, kh, kw, oh, ow])) else { throw kernelError("mask shape \(mk.shape) does not fit") }
        }
        if let b = b { guard b.elementCount == m else { throw kernelError("bias must have \(m) values") } }
        let st = attrs.strides ?? [1, 1], dl = attrs.dilations ?? [1, 1], pd = attrs.pads ?? [0, 0, 0, 0]
        guard st.count == 2, dl.count == 2, pd.count == 4 else { throw kernelError("attribute ranks must be 2") }
        guard st.allSatisfy({ $0 > 0 }), dl.allSatisfy({ $0 > 0 }), pd.allSatisfy({ $0 >= 0 }) else {
            throw kernelError("strides and dilations must be positive, pads non-negative")
        }
        // Sampling positions i * stride + k * dilation are computed per output: checked once here.
        for (d, extent) in [(0, oh), (1, ow)] {
            _ = try Checked.add(Checked.multiply(extent, st[d], "a sampling position"), Checked.multiply(d == 0 ? kh : kw, dl[d], "a sampling position"))
        }
        let cg = c / group, mg = m / group, kg = cg * kh * kw, outCount = oh * ow
        let cpo = c / og
        let out = try Tensor.allocate(.float32, [n, m, oh, ow])
        let px = x.floatPointer, pw = w.floatPointer, po_ = off.floatPointer, py = out.mutableFloatPointer
        let pm = mask?.floatPointer
        for i in 0..<n * m {
            let v = b?.floatPointer[i % m] ?? 0
            for j in 0..<outCount { py[i * outCount + j] = v }
        }
        let par = context.parallel
        try withCheckedScratch(Checked.multiply(kg, outCount, "the column buffer")) { col in
            for img in 0..<n {
                for gi in 0..<group {
                    par(kg) { range in
                        for r in range {
                            let cl = r / (kh * kw), a = (r / kw) % kh, bb = r % kw
                            let ch = gi * cg + cl, ogi = ch / cpo
                            let plane = px + (img * c + ch) * ih * iw
                            let k = a * kw + bb
                            let offH = po_ + ((img * og + ogi) * kh * kw * 2 + k * 2) * outCount
                            let offW = offH + outCount
                            let mrow = pm.map { $0 + ((img * og + ogi) * kh * kw + k) * outCount }
                            for i in 0..<oh {
                                for j in 0..<ow {
                                    let o = i * ow + j
                                    let h = Float(i * st[0] - pd[0] + a * dl[0]) + offH[o]
                                    let wv = Float(j * st[1] - pd[1] + bb * dl[1]) + offW[o]
                                    var v: Float = 0
                                    if h > -1 && h < Float(ih) && wv > -1 && wv < Float(iw) {
                                        let h0 = Int(h.rounded(.down)), w0 = Int(wv.rounded(.down))
                                        let fh = h - Float(h0), fw = wv - Float(w0)
                                        func at(_ y: Int, _ xx: Int) -> Float { y >= 0 && y < ih && xx >= 0 && xx < iw ? plane[y * iw + xx] : 0 }
                                        v = (1 - fh) * ((1 - fw) * at(h0, w0) + fw * at(h0, w0 + 1)) + fh * ((1 - fw) * at(h0 + 1, w0) + fw * at(h0 + 1, w0 + 1))
                                    }
                                    col[r * outCount + o] = v * (mrow?[o] ?? 1)
                                }
                            }
                        }
                    }
                    Gemm.sgemm(m: mg, n: outCount, k: kg, a: MatrixView(pw + gi * mg * kg, rowStride: kg, colStride: 1),
                               b: MatrixView(col, rowStride: outCount, colStride: 1), beta: 1,
                               c: py + (img * m + gi * mg) * outCount, ldc: outCount, parallel: par)
                }
            }
        }
        return [.tensor(try convertFromFloat32(out, to: x0.dtype))]
    }
}
