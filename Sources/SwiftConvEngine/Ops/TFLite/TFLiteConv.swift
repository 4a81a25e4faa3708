import RealModule
import SwiftConvIR
import SwiftConvKernels

/// TFLite's convolutions and matrix products, float32: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
/// CONV_3D, FULLY_CONNECTED, BATCH_MATMUL. NHWC activations, OHWI filters; each lowers to the engine's
/// packed GEMM so the output comes out in NHWC without a layout change.
enum TFLiteConvKernels {
    static func register(into r: inout KernelRegistry) {
        r.registerTFLite("CONV_2D") { ctx in
            return try TFLiteConv2DKernel(ctx)
        }
        r.registerTFLite("DEPTHWISE_CONV_2D") { ctx in
            return try TFLiteDepthwiseConv2DKernel(ctx)
        }
        r.registerTFLite("TRANSPOSE_CONV") { ctx in
            return try TFLiteTransposeConvKernel(ctx)
        }
        r.registerTFLite("CONV_3D") { ctx in
            return try TFLiteConv3DKernel(ctx)
        }
        r.registerTFLite("FULLY_CONNECTED") { ctx in
            return try TFLiteFullyConnectedKernel(ctx)
        }
        r.registerTFLite("BATCH_MATMUL") { ctx in
            return try TFLiteBatchMatMulKernel(ctx)
        }
    }
}

// MARK: - Shared by the TFLite NN families

/// TFLite's `fused_activation_function`, applied by the op that carries it.
enum TFLiteActivation: Sendable {
    case none, relu, reluN1To1, relu6, tanh, signBit

    init(_ ctx: KernelBuildContext, attribute: String = "fused_activation_function") throws {
        switch ctx.string(attribute, default: "NONE") {
        case "NONE": self = .none
        case "RELU": self = .relu
        case "RELU_N1_TO_1": self = .reluN1To1
        case "RELU6": self = .relu6
        case "TANH": self = .tanh
        case "SIGN_BIT": self = .signBit
        case let other: throw SwiftConvError.unsupportedOp("fused activation '\(other)'").at(ctx.nodeContext)
        }
    }

    /// The clamp bounds (TFLite's CalculateActivationRange); -inf, +inf for NONE and the
    /// non-clamp activations.
    var bounds: (lo: Float, hi: Float) {
        switch self {
        case .relu: return (0, .infinity)
        case .reluN1To1: return (-1, 1)
        case .relu6: return (0, 6)
        case .none, .tanh, .signBit: return (-.infinity, .infinity)
        }
    }

    /// `p[0..<count] = activation(p[i] + bias[i])` (bias nil for none): one pass over a finished row.
    @inline(__always)
    func finish(_ p: UnsafeMutablePointer<Float>, _ count: Int, bias: UnsafePointer<Float>?) {
        if let bias {
            for i in 0..<count { p[i] += bias[i] }
        }
        switch self {
        case .none: return
        case .relu, .reluN1To1, .relu6:
            let (lo, hi) = bounds
            KernelTable.best.biasClamp(p, count, 0, lo, hi)
        case .tanh:
            for i in 0..<count { p[i] = Float.tanh(p[i]) }
        case .signBit:
            for i in 0..<count { p[i] = p[i].sign == .minus ? 1 : 0 }
        }
    }

    /// An activation on a whole float array.
    func apply(_ v: Float) -> Float {
        switch self {
        case .none: return v
        case .relu, .reluN1To1, .relu6:
            let (lo, hi) = bounds
            return v < lo ? lo : (v > hi ? hi : v)
        case .tanh: return Float.tanh(v)
        case .signBit: return v.sign == .minus ? 1 : 0
        }
    }
}

/// TFLite's padding: SAME (output ceil(in / stride), the extra pad at the end, as TFLite's
/// ComputePaddingWithOffset) or VALID.
enum TFLitePadding {
    static func autoPad(_ ctx: KernelBuildContext) throws -> AutoPad {
        switch ctx.string("padding", default: "SAME") {
        case "SAME": return .sameUpper
        case "VALID": return .valid
        case let other: throw ctx.invalid("padding '\(other)' is neither SAME nor VALID")
        }
    }

    /// A positive stride, dilation or filter size attribute.
    static func positive(_ ctx: KernelBuildContext, _ name: String, default d: Int64) throws -> Int {
        let v = ctx.int(name, default: d)
        guard v >= 1, v <= Int64(Int32.max) else { throw ctx.invalid("\(name) must be positive, got \(v)") }
        return Int(v)
    }
}

/// The float32 tensor at `i`, or unsupportedOp naming its dtype (the integer paths live elsewhere).
func tfliteFloatInput(_ inputs: [Value?], _ i: Int, _ op: String) throws -> Tensor {
    let t = try inputs.tensor(i)
    guard t.dtype == .float32 else { throw kernelUnsupported("\(op) with a \(t.dtype) input \(i)") }
    return t
}

/// An optional float32 bias of exactly `count` values.
func tfliteBias(_ inputs: [Value?], _ i: Int, count: Int, _ op: String) throws -> Tensor? {
    guard let b = inputs.optionalTensor(i) else { return nil }
    guard b.dtype == .float32 else { throw kernelUnsupported("\(op) with a \(b.dtype) bias") }
    guard b.elementCount == count else { throw kernelError("\(op): bias has \(b.elementCount) values, expected \(count)") }
    return b
}

/// The GEMM epilogue adding a per-column bias and applying the activation to each finished
/// block of a row-major C (`ldc` floats a row): TFLite's per-output-channel bias in NHWC.
func columnBiasEpilogue(
    _ c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, _ act: TFLiteActivation
) -> Epilogue? {
    if bias == nil && act == .none { return nil }
    return { rows, cols in
        for r in rows {
            act.finish(c + r * ldc + cols.lowerBound, cols.count, bias: bias.map { $0 + cols.lowerBound })
        }
    }
}

/// Packs `w` (`n x k`, row-major: a TFLite `[out, in]` weight) as GEMM B = wᵀ (`k x n`).
func packTransposedWeights(_ w: UnsafePointer<Float>, n: Int, k: Int) -> FloatBuffer {
    let buf = FloatBuffer(count: Gemm.packedBSize(k: k, n: n))
    Gemm.pack(b: MatrixView(w, rowStride: 1, colStride: k), k: k, n: n, into: buf.pointer)
    return buf
}

// MARK: - CONV_2D

/// CONV_2D: `x [N,H,W,Cin]`, `filter [Cout,KH,KW,Cin/groups]`, bias `[Cout]`. Per image the
/// windows are gathered NHWC (a row of KH*KW*Cin/groups values per output pixel), then one
/// GEMM against the pre-packed transposed filter writes the NHWC output directly.
struct TFLiteConv2DKernel: Kernel {
    let strides: [Int]
    let dilations: [Int]
    let autoPad: AutoPad
    let activation: TFLiteActivation
    /// The filter packed as GEMM B per group, when constant.
    let packed: [FloatBuffer]?
    let packedShape: [Int]

    init(_ ctx: KernelBuildContext) throws {
        strides = [
            try TFLitePadding.positive(ctx, "stride_h", default: 1), try TFLitePadding.positive(ctx, "stride_w", default: 1),
        ]
        dilations = [
            try TFLitePadding.positive(ctx, "dilation_h_factor", default: 1),
            try TFLitePadding.positive(ctx, "dilation_w_factor", default: 1),
        ]
        autoPad = try TFLitePadding.autoPad(ctx)
        activation = try TFLiteActivation(ctx)
        if let w = ctx.constant(1), w.dtype == .float32, w.rank == 4, w.elementCount > 0,
            let x = ctx.inputType(0)?.tensorShape, x.count == 4, let cin = x[3].value, cin > 0, cin % w.shape[3] == 0,
            w.shape[0] % (cin / w.shape[3]) == 0
        {
            let groups = cin / w.shape[3]
            let mg = w.shape[0] / groups, k = w.shape[1] * w.shape[2] * w.shape[3]
            packed = (0..<groups).map { g in packTransposedWeights(w.floatPointer + g * mg * k, n: mg, k: k) }
            packedShape = w.shape
        } else {
            packed = nil
            packedShape = []
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try tfliteFloatInput(inputs, 0, "CONV_2D"), w = try tfliteFloatInput(inputs, 1, "CONV_2D")
        guard x.rank == 4, w.rank == 4 else { throw kernelError("CONV_2D expects 4-D input and filter, got \(x.shape), \(w.shape)") }
        let n = x.shape[0], h = x.shape[1], wd = x.shape[2], cin = x.shape[3]
        let cout = w.shape[0], kh = w.shape[1], kw = w.shape[2], cg = w.shape[3]
        guard cg > 0, cin > 0, cin % cg == 0, cout % (cin / cg) == 0 else {
            throw kernelError("CONV_2D: filter \(w.shape) does not fit \(cin) input channels")
        }
        let groups = cin / cg, mg = cout / groups
        let bias = try tfliteBias(inputs, 2, count: cout, "CONV_2D")
        let geo = try WindowGeometry(
            inSpatial: [h, wd], kernel: [kh, kw], strides: strides, dilations: dilations, pads: nil, autoPad: autoPad)
        let oh = geo.outSpatial[0], ow = geo.outSpatial[1]
        let out = try Tensor.allocate(.float32, [n, oh, ow, cout])
        if out.elementCount == 0 { return [.tensor(out)] }
        let k = try Checked.product([kh, kw, cg], "the CONV_2D window")
        let pixels = oh * ow
        let px = x.floatPointer, pw = w.floatPointer, po = out.mutableFloatPointer
        let pbias = bias?.floatPointer
        let par = context.parallel
        let usePacked = packed != nil && w.shape == packedShape
        let pointwise =
            kh == 1 && kw == 1 && strides == [1, 1] && groups == 1 && geo.padBegin == [0, 0] && oh == h && ow == wd

        func multiply(rows: Int, a: MatrixView, group g: Int, c: UnsafeMutablePointer<Float>) {
            let epi = columnBiasEpilogue(c, ldc: cout, bias: pbias.map { $0 + g * mg }, activation)
            if usePacked, let pk = packed {
                Gemm.sgemm(
                    m: rows, n: mg, k: k, a: a, packedB: UnsafePointer(pk[g].pointer), c: c, ldc: cout, parallel: par,
                    epilogue: epi)
            } else {
                Gemm.sgemm(
                    m: rows, n: mg, k: k, a: a, b: MatrixView(pw + g * mg * k, rowStride: 1, colStride: k), c: c,
                    ldc: cout, parallel: par, epilogue: epi)
            }
        }
        if pointwise {
            // A 1x1 convolution is one GEMM over every pixel of the batch.
            multiply(rows: n * pixels, a: MatrixView(px, rowStride: cin, colStride: 1), group: 0, c: po)
            return [.tensor(out)]
        }
        // Gather windows for a block of output pixels at a time, so the buffer stays bounded.
        let blockRows = max(1, min(pixels, (1 << 20) / max(k, 1)))
        let window = geo.convWindow
        try withCheckedScratch(Checked.multiply(blockRows, k, "the CONV_2D window buffer")) { col in
            for img in 0..<n {
                let xi = px + img * h * wd * cin
                for g in 0..<groups {
                    var r0 = 0
                    while r0 < pixels {
                        try context.checkTerminated()
                        let rows = min(blockRows, pixels - r0)
                        gatherWindowsNHWC(
                            xi, height: h, width: wd, channels: cin, firstChannel: g * cg, groupChannels: cg, window,
                            pixels: r0..<(r0 + rows), col, par)
                        multiply(
                            rows: rows, a: MatrixView(col, rowStride: k, colStride: 1), group: g,
                            c: po + (img * pixels + r0) * cout + g * mg)
                        r0 += rows
                    }
                }
            }
        }
        return [.tensor(out)]
    }
}

/// NHWC im2col: for each output pixel in `pixels`, its window's `[kh, kw, groupChannels]` values
/// (zeros in the padding) as one row of `col`.
func gatherWindowsNHWC(
    _ x: UnsafePointer<Float>, height h: Int, width w: Int, channels c: Int, firstChannel c0: Int, groupChannels cg: Int,
    _ g: ConvWindow, pixels: Range<Int>, _ col: UnsafeMutablePointer<Float>, _ par: ParallelFor
) {
    let kh = g.kernel[0], kw = g.kernel[1], ow = g.outSpatial[1]
    let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
    let pt = g.padBegin[0], pl = g.padBegin[1]
    let k = kh * kw * cg
    par(pixels.count) { range in
        for i in range {
            let p = pixels.lowerBound + i
            let oy = p / ow, ox = p % ow
            var dst = col + i * k
            for ky in 0..<kh {
                let iy = oy * sh - pt + ky * dh
                for kx in 0..<kw {
                    let ix = ox * sw - pl + kx * dw
                    if iy >= 0 && iy < h && ix >= 0 && ix < w {
                        dst.update(from: x + (iy * w + ix) * c + c0, count: cg)
                    } else {
                        dst.update(repeating: 0, count: cg)
                    }
                    dst += cg
                }
            }
        }
    }
}

// MARK: - DEPTHWISE_CONV_2D

/// DEPTHWISE_CONV_2D: `x [N,H,W,C]`, `filter [1,KH,KW,C*depth_multiplier]`; output channel
/// `c*m + j` filters input channel `c`. A direct NHWC loop, vectorized across channels, one
/// output row per task.
struct TFLiteDepthwiseConv2DKernel: Kernel {
    let strides: [Int]
    let dilations: [Int]
    let autoPad: AutoPad
    let activation: TFLiteActivation

    init(_ ctx: KernelBuildContext) throws {
        strides = [
            try TFLitePadding.positive(ctx, "stride_h", default: 1), try TFLitePadding.positive(ctx, "stride_w", default: 1),
        ]
        dilations = [
            try TFLitePadding.positive(ctx, "dilation_h_factor", default: 1),
            try TFLitePadding.positive(ctx, "dilation_w_factor", default: 1),
        ]
        autoPad = try TFLitePadding.autoPad(ctx)
        activation = try TFLiteActivation(ctx)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let op = "DEPTHWISE_CONV_2D"
        let x = try tfliteFloatInput(inputs, 0, op), w = try tfliteFloatInput(inputs, 1, op)
        guard x.rank == 4, w.rank == 4, w.shape[0] == 1 else {
            throw kernelError("\(op) expects a 4-D input and a [1,KH,KW,C] filter, got \(x.shape), \(w.shape)")
        }
        let n = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
        let kh = w.shape[1], kw = w.shape[2], oc = w.shape[3]
        // The multiplier is the filter's channels over the input's (TFLite ignores a stale attribute).
        guard c > 0, oc % c == 0, oc > 0 else { throw kernelError("\(op): filter \(w.shape) does not fit \(c) channels") }
        let mult = oc / c
        let bias = try tfliteBias(inputs, 2, count: oc, op)
        let geo = try WindowGeometry(
            inSpatial: [h, wd], kernel: [kh, kw], strides: strides, dilations: dilations, pads: nil, autoPad: autoPad)
        let oh = geo.outSpatial[0], ow = geo.outSpatial[1]
        let out = try Tensor.allocate(.float32, [n, oh, ow, oc])
        if out.elementCount == 0 { return [.tensor(out)] }
        let px = x.floatPointer, pw = w.floatPointer, po = out.mutableFloatPointer, pb = bias?.floatPointer
        let sh = strides[0], sw = strides[1], dh = dilations[0], dw = dilations[1]
        let pt = geo.padBegin[0], pl = geo.padBegin[1]
        let act = activation
        context.parallel(n * oh) { range in
            for row in range {
                let img = row / oh, oy = row % oh
                let xi = px + img * h * wd * c
                for ox in 0..<ow {
                    let dst = po + ((img * oh + oy) * ow + ox) * oc
                    if let pb { dst.update(from: pb, count: oc) } else { dst.update(repeating: 0, count: oc) }
                    for ky in 0..<kh {
                        let iy = oy * sh - pt + ky * dh
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<kw {
                            let ix = ox * sw - pl + kx * dw
                            if ix < 0 || ix >= wd { continue }
                            let src = xi + (iy * wd + ix) * c, tap = pw + (ky * kw + kx) * oc
                            if mult == 1 {
                                multiplyAdd(dst, src, tap, oc)
                            } else {
                                for ch in 0..<c {
                                    let v = src[ch]
                                    for j in 0..<mult { dst[ch * mult + j] += v * tap[ch * mult + j] }
                                }
                            }
                        }
                    }
                    act.finish(dst, oc, bias: nil)
                }
            }
        }
        return [.tensor(out)]
    }
}

/// `d[i] += a[i] * b[i]` for `count` floats, eight at a time.
@inline(__always)
func multiplyAdd(_ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) {
    typealias V = SIMD8<Float>
    let rd = UnsafeMutableRawPointer(d), ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var i = 0
    while i + 8 <= count {
        let v =
            rd.loadUnaligned(fromByteOffset: i * 4, as: V.self) + ra.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            * rb.loadUnaligned(fromByteOffset: i * 4, as: V.self)
        rd.storeBytes(of: v, toByteOffset: i * 4, as: V.self)
        i += 8
    }
    while i < count {
        d[i] += a[i] * b[i]
        i += 1
    }
}

// MARK: - TRANSPOSE_CONV

/// TRANSPOSE_CONV: inputs `output_shape` (int32 [4]), `weights [Cout,KH,KW,Cin]`, `x [N,H,W,Cin]`,
/// bias `[Cout]`. One GEMM `x · W'` (W' = `[Cin, KH*KW*Cout]`) gives every input pixel's
/// contribution per tap; each output pixel then sums the taps that reach it (a gather, so
/// output rows are independent tasks). Padding is TFLite's: SAME as a forward convolution
/// from the output would pad it.
struct TFLiteTransposeConvKernel: Kernel {
    let strides: [Int]
    let autoPad: AutoPad
    let activation: TFLiteActivation
    /// W' packed as GEMM B, when the weights are constant.
    let packed: FloatBuffer?
    let packedShape: [Int]

    init(_ ctx: KernelBuildContext) throws {
        strides = [
            try TFLitePadding.positive(ctx, "stride_h", default: 1), try TFLitePadding.positive(ctx, "stride_w", default: 1),
        ]
        autoPad = try TFLitePadding.autoPad(ctx)
        activation = try TFLiteActivation(ctx)
        if let w = ctx.constant(1), w.dtype == .float32, w.rank == 4, w.elementCount > 0 {
            packed = try Self.pack(w)
            packedShape = w.shape
        } else {
            packed = nil
            packedShape = []
        }
    }

    /// W' (`Cin x KH*KW*Cout`, column `(ky*KW + kx)*Cout + o`) packed as GEMM B.
    static func pack(_ w: Tensor) throws -> FloatBuffer {
        let cout = w.shape[0], taps = w.shape[1] * w.shape[2], cin = w.shape[3]
        let ncols = taps * cout
        return try withCheckedScratch(w.elementCount) { t in
            let pw = w.floatPointer
            for o in 0..<cout {
                for tap in 0..<taps {
                    for ci in 0..<cin { t[ci * ncols + tap * cout + o] = pw[(o * taps + tap) * cin + ci] }
                }
            }
            let buf = FloatBuffer(count: Gemm.packedBSize(k: cin, n: ncols))
            Gemm.pack(b: MatrixView(t, rowStride: ncols, colStride: 1), k: cin, n: ncols, into: buf.pointer)
            return buf
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let op = "TRANSPOSE_CONV"
        let shapeT = try inputs.tensor(0)
        let w = try tfliteFloatInput(inputs, 1, op), x = try tfliteFloatInput(inputs, 2, op)
        guard let dims = shapeT.int64Values(), dims.count == 4, x.rank == 4, w.rank == 4 else {
            throw kernelError("\(op) expects a 4-value output_shape and 4-D weights and input")
        }
        guard dims.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else { throw kernelError("\(op): bad output_shape \(dims)") }
        let outShape = dims.map { Int($0) }
        let n = x.shape[0], h = x.shape[1], wd = x.shape[2], cin = x.shape[3]
        let cout = w.shape[0], kh = w.shape[1], kw = w.shape[2]
        guard w.shape[3] == cin, outShape[0] == n, outShape[3] == cout else {
            throw kernelError("\(op): weights \(w.shape), input \(x.shape) and output_shape \(outShape) disagree")
        }
        let bias = try tfliteBias(inputs, 3, count: cout, op)
        let oh = outShape[1], ow = outShape[2]
        // The pads a forward convolution from the output back to the input would use.
        let geo = try WindowGeometry(
            inSpatial: [oh, ow], kernel: [kh, kw], strides: strides, dilations: nil, pads: nil, autoPad: autoPad)
        let pt = geo.padBegin[0], pl = geo.padBegin[1]
        let out = try Tensor.allocate(.float32, outShape)
        if out.elementCount == 0 { return [.tensor(out)] }
        let po = out.mutableFloatPointer, pb = bias?.floatPointer
        if x.elementCount == 0 || kh * kw == 0 {
            for p in 0..<(n * oh * ow) {
                let dst = po + p * cout
                if let pb { dst.update(from: pb, count: cout) } else { dst.update(repeating: 0, count: cout) }
                activation.finish(dst, cout, bias: nil)
            }
            return [.tensor(out)]
        }
        let ncols = try Checked.product([kh, kw, cout], "the TRANSPOSE_CONV columns")
        let pixels = h * wd
        let ownPacked = packed != nil && w.shape == packedShape ? nil : try Self.pack(w)
        let pk = ownPacked ?? packed!
        let sh = strides[0], sw = strides[1], act = activation
        let par = context.parallel
        try withCheckedScratch(Checked.multiply(pixels, ncols, "the TRANSPOSE_CONV columns")) { col in
            for img in 0..<n {
                try context.checkTerminated()
                Gemm.sgemm(
                    m: pixels, n: ncols, k: cin, a: MatrixView(x.floatPointer + img * pixels * cin, rowStride: cin, colStride: 1),
                    packedB: UnsafePointer(pk.pointer), c: col, ldc: ncols, parallel: par)
                let colc = UnsafePointer(col)
                par(oh) { range in
                    for oy in range {
                        for ox in 0..<ow {
                            let dst = po + ((img * oh + oy) * ow + ox) * cout
                            if let pb { dst.update(from: pb, count: cout) } else { dst.update(repeating: 0, count: cout) }
                            for ky in 0..<kh {
                                let ty = oy + pt - ky
                                if ty < 0 || ty % sh != 0 { continue }
                                let iy = ty / sh
                                if iy >= h { continue }
                                for kx in 0..<kw {
                                    let tx = ox + pl - kx
                                    if tx < 0 || tx % sw != 0 { continue }
                                    let ix = tx / sw
                                    if ix >= wd { continue }
                                    let src = colc + (iy * wd + ix) * ncols + (ky * kw + kx) * cout
                                    for o in 0..<cout { dst[o] += src[o] }
                                }
                            }
                            act.finish(dst, cout, bias: nil)
                        }
                    }
                }
            }
        }
        withExtendedLifetime(ownPacked) {}
        return [.tensor(out)]
    }
}

// MARK: - FULLY_CONNECTED

/// FULLY_CONNECTED: `x [..., in]` read as `[batch, in]`, weights `[out, in]`, bias `[out]`;
/// output `[batch, out]`, or x's leading dimensions with `out` last when keep_num_dims.
struct TFLiteFullyConnectedKernel: Kernel {
    let keepNumDims: Bool
    let activation: TFLiteActivation
    let packed: FloatBuffer?
    let packedShape: [Int]

    init(_ ctx: KernelBuildContext) throws {
        keepNumDims = ctx.int("keep_num_dims", default: 0) != 0
        activation = try TFLiteActivation(ctx)
        let format = ctx.string("weights_format", default: "DEFAULT")
        guard format == "DEFAULT" else {
            throw SwiftConvError.unsupportedOp("FULLY_CONNECTED weights_format \(format) with float weights").at(ctx.nodeContext)
        }
        if let w = ctx.constant(1), w.dtype == .float32, w.rank == 2, w.elementCount > 0 {
            packed = packTransposedWeights(w.floatPointer, n: w.shape[0], k: w.shape[1])
            packedShape = w.shape
        } else {
            packed = nil
            packedShape = []
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let op = "FULLY_CONNECTED"
        let x = try tfliteFloatInput(inputs, 0, op), w = try tfliteFloatInput(inputs, 1, op)
        guard w.rank == 2 else { throw kernelError("\(op) expects 2-D weights, got \(w.shape)") }
        let units = w.shape[0], depth = w.shape[1]
        guard x.rank >= 1, depth > 0, x.elementCount % depth == 0 else {
            throw kernelError("\(op): input \(x.shape) does not divide into rows of \(depth)")
        }
        let batch = x.elementCount / depth
        let bias = try tfliteBias(inputs, 2, count: units, op)
        var shape = [batch, units]
        if keepNumDims {
            guard x.shape.last == depth else { throw kernelError("\(op) keep_num_dims: input \(x.shape) does not end in \(depth)") }
            shape = Array(x.shape.dropLast()) + [units]
        }
        let out = try Tensor.allocate(.float32, shape)
        if out.elementCount == 0 { return [.tensor(out)] }
        let po = out.mutableFloatPointer
        let epi = columnBiasEpilogue(po, ldc: units, bias: bias?.floatPointer, activation)
        let a = MatrixView(x.floatPointer, rowStride: depth, colStride: 1)
        if let pk = packed, w.shape == packedShape {
            Gemm.sgemm(
                m: batch, n: units, k: depth, a: a, packedB: UnsafePointer(pk.pointer), c: po, ldc: units,
                parallel: context.parallel, epilogue: epi)
        } else {
            Gemm.sgemm(
                m: batch, n: units, k: depth, a: a, b: MatrixView(w.floatPointer, rowStride: 1, colStride: depth), c: po,
                ldc: units, parallel: context.parallel, epilogue: epi)
        }
        return [.tensor(out)]
    }
}

// MARK: - BATCH_MATMUL

/// BATCH_MATMUL: `x [..., M, K]` (`[..., K, M]` when adj_x) times `y [..., K, N]` (`[..., N, K]`
/// when adj_y), batch dimensions broadcast; the adjoints are strides, not copies.
struct TFLiteBatchMatMulKernel: Kernel {
    let adjX: Bool
    let adjY: Bool

    init(_ ctx: KernelBuildContext) throws {
        adjX = ctx.int("adj_x", default: 0) != 0
        adjY = ctx.int("adj_y", default: 0) != 0
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let op = "BATCH_MATMUL"
        let x = try tfliteFloatInput(inputs, 0, op), y = try tfliteFloatInput(inputs, 1, op)
        guard x.rank >= 2, y.rank >= 2 else { throw kernelError("\(op) expects inputs of rank >= 2, got \(x.shape), \(y.shape)") }
        let xr = x.rank, yr = y.rank
        let m = adjX ? x.shape[xr - 1] : x.shape[xr - 2], kx = adjX ? x.shape[xr - 2] : x.shape[xr - 1]
        let ky = adjY ? y.shape[yr - 1] : y.shape[yr - 2], nn = adjY ? y.shape[yr - 2] : y.shape[yr - 1]
        guard kx == ky else { throw kernelError("\(op): inner dimensions \(kx) and \(ky) differ (\(x.shape), \(y.shape))") }
        let xb = Array(x.shape.dropLast(2)), yb = Array(y.shape.dropLast(2))
        let batch = try broadcastShapes(xb, yb)
        let out = try Tensor.allocate(.float32, batch + [m, nn])
        if out.elementCount == 0 { return [.tensor(out)] }
        let po = out.mutableFloatPointer
        let px = x.floatPointer, py = y.floatPointer
        let xMat = m * kx, yMat = ky * nn
        let count = batch.reduce(1, *)
        // Per output batch index, the (broadcast) matrix index of each operand.
        let xStrides = broadcastMatrixStrides(xb, to: batch), yStrides = broadcastMatrixStrides(yb, to: batch)
        let outStrides = Im2Col.rowMajorStrides(batch)
        for b in 0..<count {
            try context.checkTerminated()
            var xi = 0, yi = 0, rem = b
            for d in 0..<batch.count {
                let i = rem / outStrides[d]
                rem %= outStrides[d]
                xi += i * xStrides[d]
                yi += i * yStrides[d]
            }
            let a = MatrixView(
                px + xi * xMat, rowStride: adjX ? 1 : kx, colStride: adjX ? m : 1)
            let bv = MatrixView(
                py + yi * yMat, rowStride: adjY ? 1 : nn, colStride: adjY ? ky : 1)
            Gemm.sgemm(m: m, n: nn, k: kx, a: a, b: bv, c: po + b * m * nn, ldc: nn, parallel: context.parallel)
        }
        return [.tensor(out)]
    }
}

/// Strides (in whole matrices) of an operand with batch dimensions `dims` broadcast to `batch`:
/// 0 where it is broadcast.
func broadcastMatrixStrides(_ dims: [Int], to batch: [Int]) -> [Int] {
    let own = Im2Col.rowMajorStrides(dims)
    let offset = batch.count - dims.count
    return (0..<batch.count).map { d in
        let j = d - offset
        return j < 0 || dims[j] == 1 ? 0 : own[j]
    }
}

/// CONV_3D: NDHWC input, [kD, kH, kW, C_in, C_out] filter, optional bias. Runs as the engine's
/// N-D Conv on channels-first copies: 3-D convolutions are rare in TFLite files, and this keeps
/// one 3-D convolution loop in the engine.
struct TFLiteConv3DKernel: Kernel {
    let conv: ConvKernel
    let activation: TFLiteActivation

    init(_ ctx: KernelBuildContext) throws {
        let strides = try ["stride_d", "stride_h", "stride_w"].map { try TFLitePadding.positive(ctx, $0, default: 1) }
        let dilations = try ["dilation_d_factor", "dilation_h_factor", "dilation_w_factor"].map {
            try TFLitePadding.positive(ctx, $0, default: 1)
        }
        let geometry = ConvAttributes(
            group: 1, autoPad: try TFLitePadding.autoPad(ctx), strides: strides, dilations: dilations, pads: nil, kernelShape: nil)
        conv = ConvKernel(attributes: geometry)
        activation = try TFLiteActivation(ctx)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try tfliteFloatInput(inputs, 0, "CONV_3D"), w = try tfliteFloatInput(inputs, 1, "CONV_3D")
        guard x.rank == 5, w.rank == 5, w.shape[3] == x.shape[4] else {
            throw kernelError("CONV_3D: input \(x.shape) and filter \(w.shape) must be NDHWC and [kD, kH, kW, C_in, C_out]")
        }
        let bias = try tfliteBias(inputs, 2, count: w.shape[4], "CONV_3D")
        let channelsFirst = try transposed(x, [0, 4, 1, 2, 3])
        let filter = try transposed(w, [4, 3, 0, 1, 2])
        let y = try conv.run([.tensor(channelsFirst), .tensor(filter), bias.map { .tensor($0) }], context).outputTensor(0)
        let out = try transposed(y, [0, 2, 3, 4, 1])
        if case .none = activation { return [.tensor(out)] }
        let p = out.mutableElementPointer(as: Float.self)
        for i in 0..<out.elementCount { p[i] = activation.apply(p[i]) }
        return [.tensor(out)]
    }
}
