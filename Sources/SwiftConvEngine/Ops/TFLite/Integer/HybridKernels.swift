import RealModule
import SwiftConvIR
import SwiftConvKernels

/// TFLite's on-the-fly quantization of one float row for dynamic-range kernels
/// (`SymmetricQuantizeFloats` / `AsymmetricQuantizeFloats`), as LiteRT's x86-64 build runs
/// them: its NEON forms through SSE. Returns the int8 row's scale and zero point (0 when
/// symmetric). Groups of eight round `x / scale` by adding ±0.5 in float and truncating
/// (`RoundToNearest`), which differs from `round` just below a half; the rest use `round`.
/// Asymmetric: min and max include 0, the range is a float difference, the scale and zero
/// point come from it in double, and the zero point is added after rounding.
func quantizeRowForHybrid(
    _ x: UnsafePointer<Float>, _ n: Int, asymmetric: Bool, into q: UnsafeMutablePointer<Int8>
) -> (
    scale: Float, offset: Int32
) {
    let grouped = n & ~7
    /// NEON `RoundToNearest` on SSE: `x + (x < 0 ? -0.5 : 0.5)` in float, truncated.
    @inline(__always) func roundGrouped(_ v: Float) -> Int32 {
        toInt32(v + (v < 0 ? -0.5 : 0.5))
    }
    @inline(__always) func roundScalar(_ v: Float) -> Int32 {
        toInt32(v.rounded(.toNearestOrAwayFromZero))
    }
    /// Truncation saturated to Int32 (NaN gives Int32.min): never traps on a bad input.
    @inline(__always) func toInt32(_ t: Float) -> Int32 {
        if t >= 2_147_483_648 { return Int32.max }
        return t.isNaN || t < -2_147_483_648 ? Int32.min : Int32(t)
    }
    var lo = Float.infinity, hi = -Float.infinity
    for i in 0..<n {
        lo = min(lo, x[i])
        hi = max(hi, x[i])
    }
    if n == 0 { (lo, hi) = (0, 0) }
    if !asymmetric {
        let range = max(abs(lo), abs(hi))
        if range == 0 || range.isNaN {
            for i in 0..<n { q[i] = 0 }
            return (1, 0)
        }
        let inv = 127 / range
        for i in 0..<n {
            let v = i < grouped ? roundGrouped(x[i] * inv) : roundScalar(inv * x[i])
            q[i] = Int8(min(127, max(-127, v)))
        }
        return (range / 127, 0)
    }
    let fmin = min(0, lo), fmax = max(0, hi)
    if fmin == fmax || fmin.isNaN || fmax.isNaN {
        for i in 0..<n { q[i] = 0 }
        return (1, 0)
    }
    let scale = Double(fmax - fmin) / 255
    let rmin = Double(fmin), rmax = Double(fmax)
    let fromMin = -128 - rmin / scale, fromMax = 127 - rmax / scale
    let errMin = 128 + abs(rmin / scale), errMax = 127 + abs(rmax / scale)
    let zp = errMin < errMax ? fromMin : fromMax
    let offset: Int32 = zp <= -128 ? -128 : zp >= 127 ? 127 : Int32(zp.rounded(.toNearestOrAwayFromZero))
    let fscale = Float(scale)
    let inv: Float = fscale == 0 ? 0 : 1 / fscale
    for i in 0..<n {
        let r = i < grouped ? roundGrouped(x[i] * inv) : roundScalar(inv * x[i])
        q[i] = Int8(min(127, max(-128, r &+ offset)))
    }
    return (fscale, offset)
}

/// A float fused activation applied after a dynamic-range op (`ApplyActivationToVector`).
func applyFloatActivation(_ name: String, _ v: inout [Float]) throws {
    switch name {
    case "NONE": return
    case "RELU": for i in v.indices { v[i] = max(0, v[i]) }
    case "RELU6": for i in v.indices { v[i] = min(6, max(0, v[i])) }
    case "RELU_N1_TO_1": for i in v.indices { v[i] = min(1, max(-1, v[i])) }
    case "TANH": for i in v.indices { v[i] = Float.tanh(v[i]) }
    case "SIGN_BIT": for i in v.indices { v[i] = v[i].sign == .minus ? 1 : 0 }
    default: throw kernelUnsupported("fused activation \(name)")
    }
}

/// Dynamic-range FULLY_CONNECTED (TFLite's `EvalHybrid`): each input row quantized to int8 on
/// the fly, int8 dot products with the weights, scaled back by row scale times weight scale,
/// added to the float bias; the fused activation in float.
struct HybridFullyConnectedKernel: Kernel {
    let weights: [Int8]
    let rowSums: [Int32]
    let units: Int, depth: Int
    let weightScales: [Float] // one, or one per unit
    let bias: [Float]?
    let asymmetric: Bool
    let keepNumDims: Bool
    let activation: String

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.shape.count == 2, w.dtype == .int8 else {
            throw SwiftConvError.unsupportedOp("a dynamic-range FULLY_CONNECTED needs constant int8 rank-2 weights").at(ctx.nodeContext)
        }
        guard let q = ctx.quantization(ofInput: 1), q.zeroPoint.allSatisfy({ $0 == 0 }) else {
            throw ctx.invalid("dynamic-range weights must be symmetric (zero point 0)")
        }
        (units, depth) = (w.shape[0], w.shape[1])
        guard q.scale.count == 1 || q.scale.count == units else {
            throw ctx.invalid("weights have \(q.scale.count) scales for \(units) units")
        }
        weightScales = q.scale
        let data = w.values(as: Int8.self)
        let (u, k) = (units, depth)
        weights = data
        rowSums = (0..<u).map { r in data[(r * k)..<((r + 1) * k)].reduce(Int32(0)) { $0 &+ Int32($1) } }
        if ctx.hasInput(2) {
            guard let b = ctx.constant(2), b.dtype == .float32, b.elementCount == units else {
                throw SwiftConvError.unsupportedOp("a dynamic-range FULLY_CONNECTED needs a constant float bias of \(units)").at(
                    ctx.nodeContext)
            }
            bias = b.values(as: Float.self)
        } else {
            bias = nil
        }
        asymmetric = ctx.int("asymmetric_quantize_inputs", default: 0) != 0
        keepNumDims = ctx.int("keep_num_dims", default: 0) != 0
        activation = ctx.fusedActivation
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype == .float32 else { throw kernelError("dynamic-range FULLY_CONNECTED expects float32 input, got \(x.dtype)") }
        guard depth > 0, x.elementCount % depth == 0 else {
            throw kernelError("input of shape \(x.shape) does not divide into rows of \(depth)")
        }
        let batch = x.elementCount / depth
        let xs = x.values(as: Float.self)
        var out = [Float](repeating: 0, count: batch * units)
        var q = [Int8](repeating: 0, count: depth)
        xs.withUnsafeBufferPointer { xb in
            q.withUnsafeMutableBufferPointer { qb in
                weights.withUnsafeBufferPointer { wb in
                    for b in 0..<batch {
                        let (rowScale, offset) = quantizeRowForHybrid(
                            xb.baseAddress! + b * depth, depth, asymmetric: asymmetric, into: qb.baseAddress!)
                        // TFLite folds a per-tensor weight scale into the row scale first.
                        let folded = weightScales.count == 1 ? rowScale * weightScales[0] : rowScale
                        for r in 0..<units {
                            let row = wb.baseAddress! + r * depth
                            var dot: Int32 = 0
                            for k in 0..<depth { dot &+= Int32(row[k]) &* Int32(qb[k]) }
                            dot &-= rowSums[r] &* offset
                            let scale = weightScales.count == 1 ? folded : folded * weightScales[r]
                            out[b * units + r] = (bias?[r] ?? 0) + Float(dot) * scale
                        }
                    }
                }
            }
        }
        try applyFloatActivation(activation, &out)
        let shape = keepNumDims ? Array(x.shape.dropLast()) + [units] : [batch, units]
        return [.tensor(Tensor(dtype: .float32, shape: shape, values: out))]
    }
}

/// Dynamic-range CONV_2D and DEPTHWISE_CONV_2D (TFLite's `HybridConvPerChannel` and
/// `DepthwiseConvHybridPerChannel`): each image quantized to int8 as a whole, int32 window sums
/// over valid taps, then `acc · weightScale[c] · imageScale + bias` and the float activation.
struct HybridConvKernel: Kernel {
    let depthwise: Bool
    let filter: [Int32]
    let kh: Int, kw: Int, oc: Int, ic: Int
    let scales: [Float]
    let bias: [Float]?
    let strideH: Int, strideW: Int, dilH: Int, dilW: Int
    let padding: String
    /// LiteRT's per-channel hybrid convolutions always quantize the image asymmetrically.
    let asymmetric = true
    let activation: String

    init(_ ctx: KernelBuildContext, depthwise: Bool) throws {
        guard let w = ctx.constant(1), w.shape.count == 4, w.dtype == .int8, let q = ctx.quantization(ofInput: 1) else {
            throw SwiftConvError.unsupportedOp("a dynamic-range \(ctx.node.opType) needs constant int8 rank-4 weights").at(ctx.nodeContext)
        }
        guard q.zeroPoint.allSatisfy({ $0 == 0 }) else { throw ctx.invalid("dynamic-range weights must be symmetric (zero point 0)") }
        self.depthwise = depthwise
        if depthwise {
            guard w.shape[0] == 1 else { throw ctx.invalid("depthwise weights must be [1, KH, KW, C], got \(w.shape)") }
            (kh, kw, oc, ic) = (w.shape[1], w.shape[2], w.shape[3], 1)
        } else {
            (oc, kh, kw, ic) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        }
        guard kh > 0, kw > 0, oc > 0, ic > 0 else { throw ctx.invalid("empty weights \(w.shape)") }
        guard q.scale.count == 1 || q.scale.count == oc else {
            throw ctx.invalid("weights have \(q.scale.count) scales for \(oc) channels")
        }
        let channels = oc
        scales = q.scale.count == 1 ? [Float](repeating: q.scale[0], count: channels) : q.scale
        filter = w.values(as: Int8.self).map(Int32.init)
        if ctx.hasInput(2) {
            guard let b = ctx.constant(2), b.dtype == .float32, b.elementCount == channels else {
                throw SwiftConvError.unsupportedOp("a dynamic-range \(ctx.node.opType) needs a constant float bias").at(ctx.nodeContext)
            }
            bias = b.values(as: Float.self)
        } else {
            bias = nil
        }
        strideH = Int(ctx.int("stride_h", default: 1))
        strideW = Int(ctx.int("stride_w", default: 1))
        dilH = Int(ctx.int("dilation_h_factor", default: 1))
        dilW = Int(ctx.int("dilation_w_factor", default: 1))
        padding = ctx.string("padding", default: "SAME")
        activation = ctx.fusedActivation
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype == .float32 else {
            throw kernelError("dynamic-range \(depthwise ? "DEPTHWISE_CONV_2D" : "CONV_2D") expects float32 input")
        }
        let (n, h, w, c) = try nhwc(x, "input")
        if depthwise {
            guard c > 0, oc % c == 0 else { throw kernelError("\(oc) output channels are not a multiple of \(c) input channels") }
        } else {
            guard c == ic else { throw kernelError("input has \(c) channels, the weights expect \(ic)") }
        }
        let (oh, padT) = try tflitePadding(padding, input: h, filter: kh, stride: strideH, dilation: dilH)
        let (ow, padL) = try tflitePadding(padding, input: w, filter: kw, stride: strideW, dilation: dilW)
        let xs = x.values(as: Float.self)
        let image = h * w * c
        var q = [Int8](repeating: 0, count: xs.count)
        var rowScale = [Float](repeating: 1, count: n), rowOffset = [Int32](repeating: 0, count: n)
        xs.withUnsafeBufferPointer { xb in
            q.withUnsafeMutableBufferPointer { qb in
                for b in 0..<n where image > 0 {
                    (rowScale[b], rowOffset[b]) = quantizeRowForHybrid(
                        xb.baseAddress! + b * image, image, asymmetric: asymmetric, into: qb.baseAddress! + b * image)
                }
            }
        }
        let m = depthwise ? oc / max(c, 1) : 1
        var out = [Float](repeating: 0, count: n * oh * ow * oc)
        for b in 0..<n {
            try context.checkTerminated()
            let zx = rowOffset[b]
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<oc {
                        var acc: Int32 = 0
                        for ky in 0..<kh {
                            let iy = oy * strideH - padT + ky * dilH
                            guard iy >= 0, iy < h else { continue }
                            for kx in 0..<kw {
                                let ix = ox * strideW - padL + kx * dilW
                                guard ix >= 0, ix < w else { continue }
                                let base = ((b * h + iy) * w + ix) * c
                                if depthwise {
                                    acc &+= filter[(ky * kw + kx) * oc + ch] &* (Int32(q[base + ch / m]) &- zx)
                                } else {
                                    let f = ((ch * kh + ky) * kw + kx) * ic
                                    for i in 0..<ic { acc &+= filter[f + i] &* (Int32(q[base + i]) &- zx) }
                                }
                            }
                        }
                        var v = Float(acc) * scales[ch] * rowScale[b]
                        if let bias { v += bias[ch] }
                        out[((b * oh + oy) * ow + ox) * oc + ch] = v
                    }
                }
            }
        }
        try applyFloatActivation(activation, &out)
        return [.tensor(Tensor(dtype: .float32, shape: [n, oh, ow, oc], values: out))]
    }
}

/// Dynamic-range BATCH_MATMUL with constant int8 weights (TFLite's hybrid `BatchMatMul`): every
/// lhs row quantized on the fly, int8 dot products with the weight columns, scaled by the row
/// scale times the weight scale; batch dimensions broadcast.
struct HybridBatchMatMulKernel: Kernel {
    let columns: [Int8] // weights as [batches..., N, K]
    let rowSums: [Int32]
    let weightBatch: [Int]
    let depth: Int, units: Int
    let scale: Float
    let asymmetric: Bool

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.dtype == .int8, w.shape.count >= 2, let q = ctx.quantization(ofInput: 1), q.scale.count == 1,
            q.zeroPoint == [0]
        else {
            throw SwiftConvError.unsupportedOp("dynamic-range BATCH_MATMUL needs constant int8 weights quantized per tensor")
                .at(ctx.nodeContext)
        }
        guard ctx.int("adj_x", default: 0) == 0 else {
            throw SwiftConvError.unsupportedOp("dynamic-range BATCH_MATMUL with adj_x").at(ctx.nodeContext)
        }
        let adjY = ctx.int("adj_y", default: 0) != 0
        let raw = w.values(as: Int8.self)
        let r = w.shape.count
        let (k, n) = adjY ? (w.shape[r - 1], w.shape[r - 2]) : (w.shape[r - 2], w.shape[r - 1])
        guard k > 0 else { throw ctx.invalid("BATCH_MATMUL weights \(w.shape) have an empty inner dimension") }
        let batches = w.shape.dropLast(2).reduce(1, *)
        var cols = [Int8](repeating: 0, count: raw.count)
        for b in 0..<batches {
            let base = b * k * n
            for i in 0..<(n * k) { cols[base + i] = adjY ? raw[base + i] : raw[base + (i % k) * n + i / k] }
        }
        (depth, units) = (k, n)
        weightBatch = Array(w.shape.dropLast(2))
        columns = cols
        rowSums = (0..<(batches * n)).map { u in cols[(u * k)..<((u + 1) * k)].reduce(Int32(0)) { $0 &+ Int32($1) } }
        scale = q.scale[0]
        asymmetric = ctx.int("asymmetric_quantize_inputs", default: 0) != 0
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype == .float32, x.shape.count >= 2, x.shape.last == depth else {
            throw kernelError("dynamic-range BATCH_MATMUL expects float32 [..., M, \(depth)], got \(x.dtype) \(x.shape)")
        }
        let m = x.shape[x.shape.count - 2]
        let lhsBatch = Array(x.shape.dropLast(2))
        let batch = try broadcastShapes(lhsBatch, weightBatch)
        let stL = broadcastStrides(lhsBatch, to: batch), stW = broadcastStrides(weightBatch, to: batch)
        let bStrides = contiguousStrides(batch)
        let count = batch.reduce(1, *)
        let xs = x.values(as: Float.self)
        var out = [Float](repeating: 0, count: count * m * units)
        var q = [Int8](repeating: 0, count: depth)
        xs.withUnsafeBufferPointer { xb in
            q.withUnsafeMutableBufferPointer { qb in
                for p in 0..<count {
                    var ol = 0, ow = 0
                    for d in 0..<batch.count {
                        let i = (p / bStrides[d]) % batch[d]
                        ol += i * stL[d]
                        ow += i * stW[d]
                    }
                    for row in 0..<m {
                        let src = xb.baseAddress! + (ol * m + row) * depth
                        let (s, offset) = quantizeRowForHybrid(src, depth, asymmetric: asymmetric, into: qb.baseAddress!)
                        let rowScale = s * scale
                        for u in 0..<units {
                            let c = (ow * units + u)
                            var dot: Int32 = 0
                            for t in 0..<depth { dot &+= Int32(columns[c * depth + t]) &* Int32(qb[t]) }
                            dot &-= rowSums[c] &* offset
                            out[(p * m + row) * units + u] = rowScale * Float(dot)
                        }
                    }
                }
            }
        }
        return [.tensor(Tensor(dtype: .float32, shape: batch + [m, units], values: out))]
    }
}
