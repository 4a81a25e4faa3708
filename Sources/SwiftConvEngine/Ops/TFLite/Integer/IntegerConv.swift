import SwiftConvIR
import SwiftConvKernels

/// Quantized weights prepared once for the int16 GEMM slot (`KernelTable.int16GemmNT`): `rows`
/// rows of `w - zeroPoint` as int16, each zero-padded to `ld` (a multiple of 16), so
/// `Σ (w - zw)(x - zx)` is a plain dot product with activations offset the same way.
struct Int16GemmWeights: Sendable {
    let rows: Int
    let depth: Int
    let ld: Int
    let data: [Int16]

    init(_ t: Tensor, rows: Int, depth: Int, zeroPoint: Int32) throws {
        guard rows >= 0, depth > 0, t.elementCount == rows * depth else {
            throw kernelError("weights of shape \(t.shape) are not \(rows)x\(depth)")
        }
        guard t.dtype == .int8 || t.dtype == .uint8 else { throw kernelUnsupported("\(t.dtype) weights in an integer kernel") }
        // Offsets must stay within ±255 so int16 pair sums cannot overflow.
        guard (-255...255).contains(zeroPoint) else { throw kernelError("weight zero point \(zeroPoint) is out of range") }
        self.rows = rows
        self.depth = depth
        ld = IntegerGemm.paddedDepth(depth)
        let raw = try widenedIntegers(t)
        var packed = [Int16](repeating: 0, count: rows * ld)
        for r in 0..<rows {
            for k in 0..<depth { packed[r * ld + k] = Int16(truncatingIfNeeded: raw[r * depth + k] &- zeroPoint) }
        }
        data = packed
    }
}

/// An activation tensor's values minus `zeroPoint`, as int16 (int8/uint8 inputs only).
func offsetActivations(_ t: Tensor, zeroPoint: Int32) throws -> [Int16] {
    guard (-255...255).contains(zeroPoint) else { throw kernelError("input zero point \(zeroPoint) is out of range") }
    let z = Int16(truncatingIfNeeded: zeroPoint)
    let signed: Bool
    switch t.dtype {
    case .int8: signed = true
    case .uint8: signed = false
    default: throw kernelUnsupported("\(t.dtype) activations in an int8 kernel")
    }
    let bytes = t.storage.bytes
    return [Int16](unsafeUninitializedCapacity: bytes.count) { out, initialized in
        if signed {
            for i in 0..<bytes.count { out[i] = Int16(Int8(bitPattern: bytes[i])) &- z }
        } else {
            for i in 0..<bytes.count { out[i] = Int16(bytes[i]) &- z }
        }
        initialized = bytes.count
    }
}

/// The per-output-channel requantization of a quantized convolution or fully connected op:
/// multipliers `inputScale * filterScale[c] / outputScale` computed in double as TFLite's
/// `PopulateConvolutionQuantizationParams`, int32 bias, output zero point, activation clamp.
struct ConvRequantization: Sendable {
    let multipliers: [FixedPoint.Multiplier]
    /// `multipliers` as two arrays, the layout of `KernelTable.requantize`.
    let mantissas: [Int32]
    let shifts: [Int32]
    let bias: [Int32]?
    let outputZeroPoint: Int32
    let clamp: ClosedRange<Int32>
    let outputType: DType
    /// Single rounding instead of gemmlowp's double rounding (per-channel FULLY_CONNECTED).
    var singleRounding = false

    init(_ ctx: KernelBuildContext, channels: Int, input activations: Int = 0, weightInput: Int = 1, biasInput: Int = 2) throws {
        let input = try TensorQuant(ctx.quantization(ofInput: activations), "input", ctx)
        let output = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard let wq = ctx.quantization(ofInput: weightInput), !wq.scale.isEmpty else {
            throw ctx.invalid("the weights have no quantization parameters")
        }
        guard wq.scale.count == 1 || wq.scale.count == channels else {
            throw ctx.invalid("the weights have \(wq.scale.count) scales for \(channels) output channels")
        }
        multipliers = (0..<channels).map { c in
            let fs = Double(wq.scale.count == 1 ? wq.scale[0] : wq.scale[c])
            return FixedPoint.Multiplier(Double(input.scale) * fs / Double(output.scale))
        }
        mantissas = multipliers.map(\.mantissa)
        shifts = multipliers.map { Int32($0.shift) }
        if ctx.hasInput(biasInput) {
            guard let b = ctx.constant(biasInput) else { throw SwiftConvError.unsupportedOp("a non-constant bias").at(ctx.nodeContext) }
            guard b.dtype == .int32 else {
                throw SwiftConvError.unsupportedOp("a \(b.dtype) bias with \(input.storage) activations").at(ctx.nodeContext)
            }
            guard b.elementCount == channels else { throw ctx.invalid("bias has \(b.elementCount) values for \(channels) channels") }
            bias = b.values(as: Int32.self)
        } else {
            bias = nil
        }
        outputZeroPoint = output.zeroPoint
        outputType = output.storage
        clamp = try quantizedActivationRange(ctx.fusedActivation, output, ctx)
        guard input.storage == .int8 || input.storage == .uint8, output.storage == input.storage else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) with \(input.storage) input and \(output.storage) output")
                .at(ctx.nodeContext)
        }
    }

    /// The stored output value of channel `c` for accumulator `acc`.
    @inline(__always)
    func output(_ acc: Int32, channel c: Int) -> Int32 {
        var a = acc
        if let bias { a &+= bias[c] }
        let m = multipliers[c]
        let scaled =
            singleRounding
            ? FixedPoint.multiplyByQuantizedMultiplierSingleRounding(a, m.mantissa, m.shift) : m.apply(a)
        let v = scaled &+ outputZeroPoint
        return min(max(v, clamp.lowerBound), clamp.upperBound)
    }

    /// Requantizes the accumulators of channels `first..<first + count` (`acc[i]` belongs to
    /// channel `first + i`) into 8-bit outputs `out[i]` (the bit pattern of an int8 or uint8),
    /// through `KernelTable.requantize` (vectorized where the CPU allows; bit-identical to `output`).
    @inline(__always)
    func store(_ acc: UnsafePointer<Int32>, first: Int, count: Int, to out: UnsafeMutablePointer<UInt8>, _ table: KernelTable) {
        mantissas.withUnsafeBufferPointer { m in
            shifts.withUnsafeBufferPointer { sh in
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        table.requantize(
                            count, acc, b.baseAddress! + first, m.baseAddress! + first, sh.baseAddress! + first, singleRounding,
                            outputZeroPoint, clamp.lowerBound, clamp.upperBound, out)
                    }
                } else {
                    table.requantize(
                        count, acc, nil, m.baseAddress! + first, sh.baseAddress! + first, singleRounding, outputZeroPoint,
                        clamp.lowerBound, clamp.upperBound, out)
                }
            }
        }
    }

    /// An 8-bit output tensor from its stored bytes.
    func tensor(_ bytes: [UInt8], shape: [Int]) -> Tensor {
        Tensor(dtype: outputType == .uint8 ? .uint8 : .int8, shape: shape, values: bytes)
    }
}

/// Quantized FULLY_CONNECTED (TFLite's reference `FullyConnected`/per-channel variant):
/// `input [..., K]` rows times `weights [N, K]`, int32 accumulation, requantized per output unit.
/// Output units are split across the session's threads.
struct IntegerFullyConnectedKernel: Kernel {
    let weights: Int16GemmWeights
    let requant: ConvRequantization
    let inputZeroPoint: Int32
    let keepNumDims: Bool

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.shape.count == 2 else {
            throw SwiftConvError.unsupportedOp("a quantized FULLY_CONNECTED needs constant rank-2 weights").at(ctx.nodeContext)
        }
        guard ctx.string("weights_format", default: "DEFAULT") == "DEFAULT" else {
            throw SwiftConvError.unsupportedOp("weights_format \(ctx.string("weights_format", default: ""))").at(ctx.nodeContext)
        }
        let wq = ctx.quantization(ofInput: 1)
        guard wq?.zeroPoint.allSatisfy({ $0 == wq?.zeroPoint.first }) ?? true else {
            throw SwiftConvError.unsupportedOp("per-channel weight zero points").at(ctx.nodeContext)
        }
        let wzp = Int32(clamping: wq?.zeroPoint.first ?? 0)
        weights = try Int16GemmWeights(w, rows: w.shape[0], depth: w.shape[1], zeroPoint: wzp)
        var r = try ConvRequantization(ctx, channels: w.shape[0])
        // Observed against LiteRT's BUILTIN_REF: its per-channel FULLY_CONNECTED rounds once.
        r.singleRounding = (wq?.scale.count ?? 1) > 1
        requant = r
        inputZeroPoint = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx).zeroPoint
        keepNumDims = ctx.int("keep_num_dims", default: 0) != 0
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let k = weights.depth, n = weights.rows, ld = weights.ld
        guard x.elementCount % k == 0 else { throw kernelError("input of shape \(x.shape) does not divide into rows of \(k)") }
        let batch = x.elementCount / k
        if keepNumDims, x.shape.last != k { throw kernelError("keep_num_dims needs the last input dimension to be \(k)") }
        let xs = try offsetActivations(x, zeroPoint: inputZeroPoint)
        // Rows padded to the weights' stride; the padding stays zero.
        var rows = [Int16](repeating: 0, count: batch * ld)
        for b in 0..<batch { for i in 0..<k { rows[b * ld + i] = xs[b * k + i] } }
        var acc = [Int32](repeating: 0, count: batch * n)
        var out = [UInt8](repeating: 0, count: batch * n)
        let table = KernelTable.best
        let requant = self.requant
        rows.withUnsafeBufferPointer { xb in
            weights.data.withUnsafeBufferPointer { wb in
                acc.withUnsafeMutableBufferPointer { ab in
                    out.withUnsafeMutableBufferPointer { ob in
                        let xp = xb.baseAddress!, wp = wb.baseAddress!, ap = ab.baseAddress!, op = ob.baseAddress!
                        // Enough rows per chunk that a thread's share outweighs waking it.
                        let grain = max(16, 16_384 / max(ld * batch, 1))
                        context.threads.parallelFor(n, grain: grain) { range in
                            table.int16GemmNT(batch, range.count, ld, xp, ld, wp + range.lowerBound * ld, ld, ap + range.lowerBound, n)
                            for b in 0..<batch {
                                let at = b * n + range.lowerBound
                                requant.store(ap + at, first: range.lowerBound, count: range.count, to: op + at, table)
                            }
                        }
                    }
                }
            }
        }
        let shape = keepNumDims ? Array(x.shape.dropLast()) + [n] : [batch, n]
        return [.tensor(requant.tensor(out, shape: shape))]
    }
}

/// Quantized CONV_2D (TFLite's reference `ConvPerChannel`): NHWC input, OHWI weights (grouped
/// when the weights hold fewer input channels), padding taps contribute nothing. Blocks of
/// output pixels have their windows gathered into int16 rows (`x - zx`, padding 0) and go
/// through the int16 GEMM slot; a 1x1, stride-1 convolution over 16k channels multiplies the
/// input rows in place. Output pixels are split across the session's threads.
struct IntegerConv2DKernel: Kernel {
    let weights: Int16GemmWeights // all groups: group g owns rows g*perGroup..<(g+1)*perGroup
    let groups: Int
    let requant: ConvRequantization
    let inputZeroPoint: Int32
    let kh: Int, kw: Int, ic: Int, oc: Int
    let strideH: Int, strideW: Int, dilH: Int, dilW: Int
    let padding: String

    /// Output pixels gathered and multiplied together (bounds a chunk's scratch memory).
    static let pixelBlock = 16

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.shape.count == 4 else {
            throw SwiftConvError.unsupportedOp("a quantized CONV_2D needs constant rank-4 weights").at(ctx.nodeContext)
        }
        (oc, kh, kw, ic) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        guard oc > 0, kh > 0, kw > 0, ic > 0 else { throw ctx.invalid("empty weights \(w.shape)") }
        let wq = ctx.quantization(ofInput: 1)
        guard wq?.zeroPoint.allSatisfy({ $0 == wq?.zeroPoint.first }) ?? true else {
            throw SwiftConvError.unsupportedOp("per-channel weight zero points").at(ctx.nodeContext)
        }
        let wzp = Int32(clamping: wq?.zeroPoint.first ?? 0)
        let inChannels = ctx.inputType(0)?.tensorShape?.last.flatMap { if case .known(let v) = $0 { v } else { nil } } ?? ic
        guard inChannels > 0, inChannels % ic == 0, oc % (inChannels / ic) == 0 else {
            throw ctx.invalid("\(inChannels) input channels do not split into groups of \(ic) for \(oc) filters")
        }
        groups = inChannels / ic
        weights = try Int16GemmWeights(w, rows: oc, depth: kh * kw * ic, zeroPoint: wzp)
        requant = try ConvRequantization(ctx, channels: oc)
        inputZeroPoint = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx).zeroPoint
        strideH = Int(ctx.int("stride_h", default: 1))
        strideW = Int(ctx.int("stride_w", default: 1))
        dilH = Int(ctx.int("dilation_h_factor", default: 1))
        dilW = Int(ctx.int("dilation_w_factor", default: 1))
        padding = ctx.string("padding", default: "SAME")
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (n, h, w, c) = try nhwc(x, "input")
        guard c % ic == 0, c / ic == groups else {
            throw kernelError("input has \(c) channels, the weights expect \(ic * groups)")
        }
        let (oh, padT) = try tflitePadding(padding, input: h, filter: kh, stride: strideH, dilation: dilH)
        let (ow, padL) = try tflitePadding(padding, input: w, filter: kw, stride: strideW, dilation: dilW)
        guard let total = elementCount([n, oh, ow, oc]) else { throw kernelError("CONV_2D output is too large") }
        try context.checkTerminated()
        let xs = try offsetActivations(x, zeroPoint: inputZeroPoint)
        let ld = weights.ld
        let perGroup = oc / groups
        let pixels = n * oh * ow
        var out = [UInt8](repeating: 0, count: total)
        let table = KernelTable.best
        let requant = self.requant
        let (kh, kw, ic, oc, groups) = (self.kh, self.kw, self.ic, self.oc, self.groups)
        let (strideH, strideW, dilH, dilW) = (self.strideH, self.strideW, self.dilH, self.dilW)
        let direct = kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padT == 0 && padL == 0 && groups == 1 && ic == ld
        let block = Self.pixelBlock
        xs.withUnsafeBufferPointer { xb in
            weights.data.withUnsafeBufferPointer { wb in
                out.withUnsafeMutableBufferPointer { ob in
                    let xp = xb.baseAddress!, wp = wb.baseAddress!, op = ob.baseAddress!
                    context.threads.parallelFor(pixels, grain: block) { range in
                        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: block * oc)
                        defer { acc.deallocate() }
                        if direct {
                            // Output pixel p reads input pixel p: the input rows are the GEMM rows.
                            var start = range.lowerBound
                            while start < range.upperBound {
                                let count = min(block, range.upperBound - start)
                                table.int16GemmNT(count, oc, ld, xp + start * c, c, wp, ld, acc, oc)
                                for i in 0..<count { requant.store(acc + i * oc, first: 0, count: oc, to: op + (start + i) * oc, table) }
                                start += count
                            }
                            return
                        }
                        let patches = UnsafeMutablePointer<Int16>.allocate(capacity: block * ld)
                        defer { patches.deallocate() }
                        patches.initialize(repeating: 0, count: block * ld)
                        var start = range.lowerBound
                        while start < range.upperBound {
                            let count = min(block, range.upperBound - start)
                            for g in 0..<groups {
                                for i in 0..<count {
                                    let p = start + i
                                    let ox = p % ow, oy = (p / ow) % oh, b = p / (ow * oh)
                                    let row = patches + i * ld
                                    var q = 0
                                    for ky in 0..<kh {
                                        let iy = oy * strideH - padT + ky * dilH
                                        for kx in 0..<kw {
                                            let ix = ox * strideW - padL + kx * dilW
                                            if iy >= 0, iy < h, ix >= 0, ix < w {
                                                (row + q).update(from: xp + (((b * h + iy) * w + ix) * c + g * ic), count: ic)
                                            } else {
                                                (row + q).update(repeating: 0, count: ic)
                                            }
                                            q += ic
                                        }
                                    }
                                }
                                table.int16GemmNT(count, perGroup, ld, patches, ld, wp + g * perGroup * ld, ld, acc, perGroup)
                                for i in 0..<count {
                                    let outBase = (start + i) * oc + g * perGroup
                                    requant.store(acc + i * perGroup, first: g * perGroup, count: perGroup, to: op + outBase, table)
                                }
                            }
                            start += count
                        }
                    }
                }
            }
        }
        return [.tensor(requant.tensor(out, shape: [n, oh, ow, oc]))]
    }
}

/// Quantized DEPTHWISE_CONV_2D (TFLite's reference `DepthwiseConvPerChannel`): weights
/// `[1, KH, KW, C * depth_multiplier]`, output channel `ic * m + j` reads input channel `ic`.
/// With multiplier 1 each output pixel's taps inside the image go to the depthwise slot
/// (`KernelTable.int16DepthwisePixel`); output rows are split across the session's threads.
struct IntegerDepthwiseConvKernel: Kernel {
    let filter: [Int16] // [KH*KW][oc], already w - zeroPoint
    let requant: ConvRequantization
    let inputZeroPoint: Int32
    let kh: Int, kw: Int, oc: Int
    let strideH: Int, strideW: Int, dilH: Int, dilW: Int
    let padding: String

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.shape.count == 4, w.shape[0] == 1 else {
            throw SwiftConvError.unsupportedOp("a quantized DEPTHWISE_CONV_2D needs constant [1,KH,KW,C] weights").at(ctx.nodeContext)
        }
        (kh, kw, oc) = (w.shape[1], w.shape[2], w.shape[3])
        guard kh > 0, kw > 0, oc > 0 else { throw ctx.invalid("empty weights \(w.shape)") }
        guard w.dtype == .int8 || w.dtype == .uint8 else { throw kernelUnsupported("\(w.dtype) depthwise weights") }
        let wq = ctx.quantization(ofInput: 1)
        let zps = wq?.zeroPoint ?? [0]
        let raw = try widenedIntegers(w)
        let channels = oc
        guard zps.count == 1 || zps.count == channels else {
            throw ctx.invalid("weights have \(zps.count) zero points for \(channels) channels")
        }
        guard zps.allSatisfy({ (-255...255).contains($0) }) else { throw ctx.invalid("weight zero points out of range") }
        filter = raw.enumerated().map { i, v in
            Int16(truncatingIfNeeded: v - Int32(clamping: zps.count == 1 ? zps[0] : zps[i % channels]))
        }
        requant = try ConvRequantization(ctx, channels: oc)
        inputZeroPoint = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx).zeroPoint
        strideH = Int(ctx.int("stride_h", default: 1))
        strideW = Int(ctx.int("stride_w", default: 1))
        dilH = Int(ctx.int("dilation_h_factor", default: 1))
        dilW = Int(ctx.int("dilation_w_factor", default: 1))
        padding = ctx.string("padding", default: "SAME")
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (n, h, w, c) = try nhwc(x, "input")
        // TFLite derives the multiplier from the shapes; the attribute may be stale.
        guard c > 0, oc % c == 0 else { throw kernelError("\(oc) output channels are not a multiple of \(c) input channels") }
        let m = oc / c
        let (oh, padT) = try tflitePadding(padding, input: h, filter: kh, stride: strideH, dilation: dilH)
        let (ow, padL) = try tflitePadding(padding, input: w, filter: kw, stride: strideW, dilation: dilW)
        guard let total = elementCount([n, oh, ow, oc]) else { throw kernelError("DEPTHWISE_CONV_2D output is too large") }
        try context.checkTerminated()
        let xs = try offsetActivations(x, zeroPoint: inputZeroPoint)
        var out = [UInt8](repeating: 0, count: total)
        let table = KernelTable.best
        let requant = self.requant
        let (kh, kw, oc) = (self.kh, self.kw, self.oc)
        let (strideH, strideW, dilH, dilW) = (self.strideH, self.strideW, self.dilH, self.dilW)
        xs.withUnsafeBufferPointer { xb in
            filter.withUnsafeBufferPointer { fb in
                out.withUnsafeMutableBufferPointer { ob in
                    let xp = xb.baseAddress!, fp = fb.baseAddress!, op = ob.baseAddress!
                    context.threads.parallelFor(n * oh, grain: 1) { range in
                        let xOffsets = UnsafeMutablePointer<Int>.allocate(capacity: kh * kw)
                        let fOffsets = UnsafeMutablePointer<Int>.allocate(capacity: kh * kw)
                        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: oc)
                        defer {
                            xOffsets.deallocate()
                            fOffsets.deallocate()
                            acc.deallocate()
                        }
                        for row in range {
                            let b = row / oh, oy = row % oh
                            for ox in 0..<ow {
                                let outBase = (row * ow + ox) * oc
                                if m == 1 {
                                    var taps = 0
                                    for ky in 0..<kh {
                                        let iy = oy * strideH - padT + ky * dilH
                                        guard iy >= 0, iy < h else { continue }
                                        for kx in 0..<kw {
                                            let ix = ox * strideW - padL + kx * dilW
                                            guard ix >= 0, ix < w else { continue }
                                            xOffsets[taps] = ((b * h + iy) * w + ix) * c
                                            fOffsets[taps] = (ky * kw + kx) * oc
                                            taps += 1
                                        }
                                    }
                                    table.int16DepthwisePixel(oc, taps, xp, xOffsets, fp, fOffsets, acc)
                                    requant.store(acc, first: 0, count: oc, to: op + outBase, table)
                                    continue
                                }
                                for ch in 0..<oc {
                                    let inC = ch / m
                                    var acc: Int32 = 0
                                    for ky in 0..<kh {
                                        let iy = oy * strideH - padT + ky * dilH
                                        guard iy >= 0, iy < h else { continue }
                                        for kx in 0..<kw {
                                            let ix = ox * strideW - padL + kx * dilW
                                            guard ix >= 0, ix < w else { continue }
                                            acc &+= Int32(fp[(ky * kw + kx) * oc + ch]) &* Int32(xp[((b * h + iy) * w + ix) * c + inC])
                                        }
                                    }
                                    op[outBase + ch] = UInt8(truncatingIfNeeded: requant.output(acc, channel: ch))
                                }
                            }
                        }
                    }
                }
            }
        }
        return [.tensor(requant.tensor(out, shape: [n, oh, ow, oc]))]
    }
}

/// Quantized BATCH_MATMUL (TFLite's reference int8 `BatchMatMul`): per-tensor operands,
/// `Σ (l - zl)(r - zr)` per output, rescaled by `sl·sr/so`; batch dimensions broadcast.
struct IntegerBatchMatMulKernel: Kernel {
    let lhs: TensorQuant, rhs: TensorQuant, output: TensorQuant
    let multiplier: FixedPoint.Multiplier
    let adjX: Bool, adjY: Bool

    init(_ ctx: KernelBuildContext) throws {
        lhs = try TensorQuant(ctx.quantization(ofInput: 0), "lhs", ctx)
        rhs = try TensorQuant(ctx.quantization(ofInput: 1), "rhs", ctx)
        output = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard lhs.storage == .int8, rhs.storage == .int8, output.storage == .int8 else {
            throw SwiftConvError.unsupportedOp("BATCH_MATMUL of \(lhs.storage) and \(rhs.storage) into \(output.storage)").at(
                ctx.nodeContext)
        }
        multiplier = FixedPoint.Multiplier(Double(lhs.scale) * Double(rhs.scale) / Double(output.scale))
        adjX = ctx.int("adj_x", default: 0) != 0
        adjY = ctx.int("adj_y", default: 0) != 0
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        guard a.shape.count >= 2, b.shape.count >= 2 else { throw kernelError("BATCH_MATMUL operands must be at least rank 2") }
        let (ra, rb) = (a.shape.count, b.shape.count)
        let m = adjX ? a.shape[ra - 1] : a.shape[ra - 2], k = adjX ? a.shape[ra - 2] : a.shape[ra - 1]
        let kb = adjY ? b.shape[rb - 1] : b.shape[rb - 2], n = adjY ? b.shape[rb - 2] : b.shape[rb - 1]
        guard k == kb else { throw kernelError("BATCH_MATMUL inner dimensions \(k) and \(kb) differ") }
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = try broadcastShapes(batchA, batchB)
        let stA = broadcastStrides(batchA, to: batch), stB = broadcastStrides(batchB, to: batch)
        let xs = try offsetActivations(a, zeroPoint: lhs.zeroPoint), ys = try offsetActivations(b, zeroPoint: rhs.zeroPoint)
        let count = batch.reduce(1, *)
        guard let total = elementCount(batch + [m, n]) else { throw kernelError("BATCH_MATMUL output is too large") }
        var out = [Int32](repeating: 0, count: total)
        let bStrides = contiguousStrides(batch)
        let ld = IntegerGemm.paddedDepth(k)
        // Both operands as rows of the shared dimension, zero-padded to `ld`.
        var left = [Int16](repeating: 0, count: m * ld), right = [Int16](repeating: 0, count: n * ld)
        let table = KernelTable.best
        for p in 0..<count {
            var oa = 0, ob = 0
            for d in 0..<batch.count {
                let i = (p / bStrides[d]) % batch[d]
                oa += i * stA[d]
                ob += i * stB[d]
            }
            let baseA = oa * m * k, baseB = ob * k * n
            for i in 0..<m { for t in 0..<k { left[i * ld + t] = xs[baseA + (adjX ? t * m + i : i * k + t)] } }
            for j in 0..<n { for t in 0..<k { right[j * ld + t] = ys[baseB + (adjY ? j * k + t : t * n + j)] } }
            left.withUnsafeBufferPointer { lb in
                right.withUnsafeBufferPointer { rb in
                    out.withUnsafeMutableBufferPointer { ob in
                        table.int16GemmNT(m, n, ld, lb.baseAddress!, ld, rb.baseAddress!, ld, ob.baseAddress! + p * m * n, n)
                    }
                }
            }
        }
        for i in 0..<out.count { out[i] = min(max(multiplier.apply(out[i]) &+ output.zeroPoint, -128), 127) }
        return [.tensor(narrowedTensor(out, dtype: .int8, shape: batch + [m, n]))]
    }
}

/// Quantized TRANSPOSE_CONV (TFLite's reference `TransposeConv` per channel): each input
/// pixel scatters `(x - zx)·w` into the output window, int32 accumulation, then bias and the
/// per-channel requantization. Inputs: output shape, OHWI weights, activations, optional bias.
struct IntegerTransposeConvKernel: Kernel {
    let filter: [Int32]
    let requant: ConvRequantization
    let inputZeroPoint: Int32
    let oc: Int, kh: Int, kw: Int, ic: Int
    let strideH: Int, strideW: Int
    let padding: String

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.shape.count == 4 else {
            throw SwiftConvError.unsupportedOp("a quantized TRANSPOSE_CONV needs constant rank-4 weights").at(ctx.nodeContext)
        }
        (oc, kh, kw, ic) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        guard oc > 0, kh > 0, kw > 0, ic > 0 else { throw ctx.invalid("empty weights \(w.shape)") }
        guard ctx.quantization(ofInput: 1)?.zeroPoint.allSatisfy({ $0 == 0 }) ?? true else {
            throw SwiftConvError.unsupportedOp("TRANSPOSE_CONV weights with a zero point").at(ctx.nodeContext)
        }
        filter = try widenedIntegers(w)
        requant = try ConvRequantization(ctx, channels: w.shape[0], input: 2, weightInput: 1, biasInput: 3)
        inputZeroPoint = try TensorQuant(ctx.quantization(ofInput: 2), "input", ctx).zeroPoint
        strideH = Int(ctx.int("stride_h", default: 1))
        strideW = Int(ctx.int("stride_w", default: 1))
        padding = ctx.string("padding", default: "SAME")
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let shapeTensor = try inputs.tensor(0), x = try inputs.tensor(2)
        guard let os = shapeTensor.int64Values(), os.count == 4, os.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else {
            throw kernelError("TRANSPOSE_CONV output shape must hold four positive sizes")
        }
        let (n, h, w, c) = try nhwc(x, "input")
        let (oh, ow) = (Int(os[1]), Int(os[2]))
        guard Int(os[0]) == n, Int(os[3]) == oc, c == ic else {
            throw kernelError("TRANSPOSE_CONV shapes \(os), \(x.shape) do not fit the weights")
        }
        guard let total = elementCount([n, oh, ow, oc]), total <= 1 << 30 else { throw kernelError("TRANSPOSE_CONV output is too large") }
        let padT = try tflitePadding(padding, input: oh, filter: kh, stride: strideH, dilation: 1).before
        let padL = try tflitePadding(padding, input: ow, filter: kw, stride: strideW, dilation: 1).before
        let xs = try widenedIntegers(x)
        var acc = [Int32](repeating: 0, count: total)
        for b in 0..<n {
            try context.checkTerminated()
            for iy in 0..<h {
                for ix in 0..<w {
                    let inBase = ((b * h + iy) * w + ix) * c
                    for ky in 0..<kh {
                        let y = iy * strideH - padT + ky
                        guard y >= 0, y < oh else { continue }
                        for kx in 0..<kw {
                            let xo = ix * strideW - padL + kx
                            guard xo >= 0, xo < ow else { continue }
                            let outBase = ((b * oh + y) * ow + xo) * oc
                            for o in 0..<oc {
                                let f = ((o * kh + ky) * kw + kx) * ic
                                var s: Int32 = 0
                                for i in 0..<ic { s &+= (xs[inBase + i] &- inputZeroPoint) &* filter[f + i] }
                                acc[outBase + o] &+= s
                            }
                        }
                    }
                }
            }
        }
        let out = acc.enumerated().map { i, a in requant.output(a, channel: i % oc) }
        return [.tensor(narrowedTensor(out, dtype: requant.outputType, shape: [n, oh, ow, oc]))]
    }
}
