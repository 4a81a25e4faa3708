import RealModule
import SwiftConvIR
import SwiftConvKernels

/// Conv, ConvTranspose, DeformConv, and onnxruntime's FusedConv (Conv + activation).
enum ConvKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Conv", since: [1, 11, 22]) { ctx in try ConvKernel(ctx) }
        // Produced by the ConvActivationFusion pass from Conv + activation; also runs models that contain it.
        // Its optional fourth input Z (ConvAddFusion's residual) is added before the activation.
        r.register("FusedConv", domain: OpDomain.microsoft, since: [1]) { ctx in
            let sum = ctx.node.inputs.count > 3 && !ctx.node.inputs[3].isEmpty
            let activation = ctx.string("activation", default: "").isEmpty ? nil : try ConvActivation(ctx)
            return try ConvKernel(ctx, activation: activation, sum: sum)
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

    init(group: Int, autoPad: AutoPad, strides: [Int]?, dilations: [Int]?, pads: [Int]?, kernelShape: [Int]?) {
        self.group = group
        self.autoPad = autoPad
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.kernelShape = kernelShape
    }

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

extension WindowGeometry {
    /// The kernels' view of this geometry (resolved pads and extents).
    var convWindow: ConvWindow {
        ConvWindow(
            inSpatial: inSpatial, kernel: kernel, strides: strides, dilations: dilations, padBegin: padBegin,
            outSpatial: outSpatial)
    }
}

/// The activation a FusedConv applies to its output: onnxruntime's `activation` attribute
/// with its `activation_params`, plus two of ours that ConvActivationFusion writes into the
/// engine's graph only (onnxruntime's FusedConv has neither): "HardSwish" and "Swish" (SiLU,
/// `x * sigmoid(x)`).
struct ConvActivation {
    enum Kind { case relu, clip, leakyRelu, sigmoid, tanh, hardSigmoid, hardSwish, swish }
    let kind: Kind
    let a: Float
    let b: Float

    init(_ ctx: KernelBuildContext) throws {
        let name = ctx.string("activation", default: "")
        let params = ctx.floats("activation_params") ?? []
        func param(_ i: Int, _ d: Float) -> Float { i < params.count ? params[i] : d }
        switch name {
        case "Relu":
            kind = .relu
            a = 0
            b = 0
        case "Clip":
            guard params.count == 2 else { throw ctx.invalid("Clip activation needs activation_params [min, max]") }
            kind = .clip
            a = params[0]
            b = params[1]
        case "LeakyRelu":
            kind = .leakyRelu
            a = param(0, 0.01)
            b = 0
        case "Sigmoid":
            kind = .sigmoid
            a = 0
            b = 0
        case "Tanh":
            kind = .tanh
            a = 0
            b = 0
        case "HardSigmoid":
            kind = .hardSigmoid
            a = param(0, 0.2)
            b = param(1, 0.5)
        case "HardSwish":
            kind = .hardSwish
            a = 0
            b = 0
        case "Swish":
            kind = .swish
            a = 0
            b = 0
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

    /// `p[0..<count] = activation(p[i] + bias)` in double precision (float64 convolutions).
    func apply(_ p: UnsafeMutablePointer<Double>, _ count: Int, bias: Double) {
        let a = Double(self.a), b = Double(self.b)
        for i in 0..<count {
            let v = p[i] + bias
            switch kind {
            case .relu: p[i] = v < 0 ? 0 : v
            case .clip: p[i] = v < a ? a : (v > b ? b : v)
            case .leakyRelu: p[i] = v < 0 ? a * v : v
            case .sigmoid: p[i] = 1 / (1 + Double.exp(-v))
            case .tanh: p[i] = Double.tanh(v)
            case .hardSigmoid: p[i] = Swift.max(0, Swift.min(1, a * v + b))
            case .hardSwish: p[i] = v * Swift.max(0, Swift.min(1, v * (1.0 / 6) + 0.5))
            case .swish: p[i] = v / (1 + Double.exp(-v))
            }
        }
    }

    /// `p[0..<count] = activation(p[i] + bias)`; Sigmoid, Tanh and Swish with the
    /// `KernelTable` loops of the unfused ops.
    func apply(_ p: UnsafeMutablePointer<Float>, _ count: Int, bias: Float) {
        if let (lo, hi) = clampBounds {
            KernelTable.best.biasClamp(p, count, bias, lo, hi)
            return
        }
        if bias != 0 {
            for i in 0..<count { p[i] += bias }
        }
        let a = self.a, b = self.b
        switch kind {
        case .relu, .clip: break
        case .leakyRelu:
            for i in 0..<count {
                let v = p[i]
                p[i] = v < 0 ? a * v : v
            }
        case .sigmoid: sigmoidInPlace(p, count)
        case .tanh: tanhInPlace(p, count)
        case .hardSigmoid:
            for i in 0..<count { p[i] = Swift.max(0, Swift.min(1, a * p[i] + b)) }
        case .hardSwish:
            // alpha = 1/6 multiplies, as the ONNX definition writes it: a division here was the
            // loop's cost (MobileNetV3 applies it to most of its convolution outputs).
            let sixth: Float = 1 / 6
            for i in 0..<count {
                let v = p[i]
                p[i] = v * Swift.max(0, Swift.min(1, v * sixth + 0.5))
            }
        case .swish: KernelTable.best.swish(p, p, count, 1)
        }
    }
}

struct ConvKernel: Kernel {
    /// The im2col buffer a 2-D convolution fills at a time (a band of output rows; at least one row).
    /// Smaller bands cost two-thread speed: each band is one parallel GEMM over few column blocks.
    static let columnBandBytes = 4 << 20
    /// Multiply-adds below which a depthwise convolution stays on the calling thread.
    static let depthwiseParallelWork = 1 << 15
    let attrs: ConvAttributes
    /// Applied with the bias to each output block; nil for a plain Conv.
    let activation: ConvActivation?
    /// Whether input 3 (FusedConv's Z, of the output's shape) is added to the output before
    /// the activation: `activation(conv(X) + B + Z)`, as onnxruntime defines it.
    let sum: Bool
    /// Weights packed per group for the GEMM (constant float32 weights only).
    let packed: FloatBuffer?
    /// Weights packed per group for `ImplicitConv` instead, where the CPU has it (1-D and 2-D,
    /// not depthwise); a convolution keeps one of the two packings, not both.
    let implicitPacked: FloatBuffer?
    /// Weights packed for `DirectConv` too (2-D, group 1, few channels), where the CPU has it; the
    /// other packing serves output rows too narrow for it.
    let directPacked: FloatBuffer?
    let packedShape: [Int]
    /// Zeros, one per output channel, for `gemvRows`' operands on a 1x1 map (constant weights).
    let zeroRow: FloatBuffer?

    /// A Conv of given geometry whose weights are an input (not packed ahead).
    init(attributes: ConvAttributes) {
        attrs = attributes
        activation = nil
        sum = false
        packed = nil
        implicitPacked = nil
        directPacked = nil
        packedShape = []
        zeroRow = nil
    }

    init(_ ctx: KernelBuildContext, activation: ConvActivation? = nil, sum: Bool = false) throws {
        attrs = try ConvAttributes(ctx)
        self.activation = activation
        self.sum = sum
        if let w = ctx.constant(1), w.dtype == .float32, w.rank >= 3, attrs.group == 1, w.shape[0] > 0,
            w.shape[2...].allSatisfy({ $0 == 1 })
        {
            zeroRow = FloatBuffer.zeros(w.shape[0])
        } else {
            zeroRow = nil
        }
        if let w = ctx.constant(1), w.dtype == .float32, w.rank >= 3, w.shape[0] % attrs.group == 0, w.elementCount > 0 {
            let g = attrs.group
            let mg = w.shape[0] / g, kg = w.elementCount / w.shape[0]
            let depthwise = mg == 1 && w.shape[1] == 1
            // A 1x1 convolution at stride 1 is a GEMM on the image as it is; pixels across the
            // vector lanes store whole rows there, which measured faster than ImplicitConv.
            let pointwise =
                w.shape[2...].allSatisfy { $0 == 1 } && (attrs.strides ?? []).allSatisfy { $0 == 1 }
                && (attrs.pads ?? []).allSatisfy { $0 == 0 }
            // Few channels (a CNN's stem): output pixels across the lanes, no transposes.
            if KernelTable.best.directConv != nil && w.rank == 4 && g == 1 && !depthwise
                && DirectConv.routes(
                    inChannels: w.shape[1], outChannels: mg, kernel: Array(w.shape[2...]),
                    strides: attrs.strides ?? [1, 1], dilations: attrs.dilations ?? [1, 1])
            {
                let buf = FloatBuffer(count: DirectConv.packedCount(channels: mg, depth: kg))
                DirectConv.pack(w.floatPointer, channels: mg, depth: kg, into: buf.pointer)
                directPacked = buf
            } else {
                directPacked = nil
            }
            if KernelTable.best.implicitConvTiles != nil && w.rank <= 4 && !depthwise && !pointwise {
                let per = ImplicitConv.packedCount(channels: mg, depth: kg)
                let buf = FloatBuffer(count: per * g)
                for gi in 0..<g {
                    ImplicitConv.pack(w.floatPointer + gi * mg * kg, channels: mg, depth: kg, into: buf.pointer + gi * per)
                }
                implicitPacked = buf
                packed = nil
                packedShape = w.shape
                return
            }
            let per = Gemm.packedASize(m: mg, k: kg)
            let buf = FloatBuffer(count: per * g)
            for gi in 0..<g {
                Gemm.pack(
                    a: MatrixView(w.floatPointer + gi * mg * kg, rowStride: kg, colStride: 1), m: mg, k: kg,
                    into: buf.pointer + gi * per)
            }
            packed = buf
            implicitPacked = nil
            packedShape = w.shape
        } else {
            packed = nil
            implicitPacked = nil
            directPacked = nil
            packedShape = []
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x0 = try inputs.tensor(0), w0 = try inputs.tensor(1)
        let b0 = inputs.optionalTensor(2)
        guard x0.dtype == w0.dtype, x0.dtype.isFloatingPoint else {
            throw kernelUnsupported("unsupported input types \(x0.dtype), \(w0.dtype)")
        }
        let z0 = sum ? try inputs.tensor(3) : nil
        if let z0, z0.dtype != x0.dtype {
            throw kernelUnsupported("the sum input Z is \(z0.dtype), X is \(x0.dtype)")
        }
        if x0.dtype == .float64 {
            return [.tensor(try convDouble(x0, w0, b0.map(Double.converted), z0, context))]
        }
        let x = try convertToFloat32(x0), w = try convertToFloat32(w0), b = try b0.map(convertToFloat32)
        let out = try conv(x, w, b, z0.map(convertToFloat32), context)
        return [.tensor(try convertFromFloat32(out, to: x0.dtype))]
    }

    /// Checks that the sum input has the output's shape (it is added element by element).
    func checkSum(_ z: Tensor?, _ outShape: [Int]) throws {
        if let z, z.shape != outShape {
            throw kernelError("the sum input Z has shape \(z.shape), the output \(outShape)")
        }
    }

    /// `p[i] = activation(p[i] + z[i])` for `count` values: the sum input and the activation,
    /// after the bias, on a finished block of the output while it is in cache.
    func finishSum(_ p: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, _ count: Int) {
        for i in 0..<count { p[i] += z[i] }
        activation?.apply(p, count, bias: 0)
    }

    /// The bounds a convolution loop clamps to as it stores (Relu, Clip), unless a sum input
    /// `z` must be added first.
    func storeClamp(_ z: UnsafePointer<Float>?) -> (Float, Float)? { z == nil ? activation?.clampBounds : nil }

    /// What every path runs on a finished stretch `p[0..<count]` of the output `y` after its
    /// store: the sum input (at the same offset in `z`) and the activation, or an activation
    /// that is not a clamp; nil when the store did it all.
    func afterStore(_ y: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>?) -> ((UnsafeMutablePointer<Float>, Int) -> Void)? {
        if let z { return { p, count in finishSum(p, z + (p - y), count) } }
        if let activation, activation.clampBounds == nil { return { p, count in activation.apply(p, count, bias: 0) } }
        return nil
    }

    /// Checks X, W and B against each other and the attributes; the convolution's window.
    func window(_ x: Tensor, _ w: Tensor, _ b: Tensor?) throws -> WindowGeometry {
        guard x.rank >= 3, w.rank == x.rank else {
            throw kernelError("Conv expects X and W of equal rank >= 3, got \(x.shape) and \(w.shape)")
        }
        let c = x.shape[1], m = w.shape[0]
        let group = attrs.group
        guard c % group == 0, m % group == 0, w.shape[1] * group == c else {
            throw kernelError("channels \(c) / weights \(w.shape) do not fit group \(group)")
        }
        let kernel = Array(w.shape[2...])
        if let ks = attrs.kernelShape, ks != kernel { throw kernelError("kernel_shape \(ks) differs from weights \(kernel)") }
        if let b = b, b.elementCount != m { throw kernelError("bias has \(b.elementCount) values, expected \(m)") }
        return try WindowGeometry(
            inSpatial: Array(x.shape[2...]), kernel: kernel, strides: attrs.strides,
            dilations: attrs.dilations, pads: attrs.pads, autoPad: attrs.autoPad)
    }

    /// float64: the same lowering (im2col, one GEMM per group) in double precision, then
    /// bias and activation.
    func convDouble(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ z: Tensor?, _ context: ExecutionContext) throws -> Tensor {
        let geo = try window(x, w, b)
        let n = x.shape[0], c = x.shape[1], m = w.shape[0], group = attrs.group
        try checkSum(z, [n, m] + geo.outSpatial)
        let out = try Tensor.allocate(.float64, [n, m] + geo.outSpatial)
        let pz = z?.elementPointer(as: Double.self)
        if out.elementCount == 0 { return out }
        let outCount = geo.outCount, inCount = geo.inCount
        let cg = c / group, mg = m / group, kg = cg * geo.kernelCount
        let px = x.elementPointer(as: Double.self), pw = w.elementPointer(as: Double.self)
        let po = out.mutableElementPointer(as: Double.self), pbias = b?.elementPointer(as: Double.self)
        let par = context.parallel, window = geo.convWindow
        try withCheckedElements(Checked.multiply(kg, outCount, "the im2col buffer"), of: Double.self) { col in
            for img in 0..<n {
                for gi in 0..<group {
                    Double.unfold(px + (img * c + gi * cg) * inCount, channels: cg, window, col, parallel: par)
                    let cptr = po + (img * m + gi * mg) * outCount
                    Gemm.dgemm(
                        m: mg, n: outCount, k: kg, a: StridedMatrix(pw + gi * mg * kg, rowStride: kg, colStride: 1),
                        b: StridedMatrix(UnsafePointer(col), rowStride: outCount, colStride: 1), c: cptr, ldc: outCount,
                        parallel: par)
                    guard pbias != nil || activation != nil || pz != nil else { continue }
                    for r in 0..<mg {
                        let row = cptr + r * outCount, bias = pbias?[gi * mg + r] ?? 0
                        if let pz {
                            let zrow = pz + (img * m + gi * mg + r) * outCount
                            for j in 0..<outCount { row[j] = (row[j] + bias) + zrow[j] }
                            activation?.apply(row, outCount, bias: 0)
                        } else if let act = activation {
                            act.apply(row, outCount, bias: bias)
                        } else {
                            for j in 0..<outCount { row[j] += bias }
                        }
                    }
                }
            }
        }
        return out
    }

    func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ z: Tensor?, _ context: ExecutionContext) throws -> Tensor {
        let geo = try window(x, w, b)
        let n = x.shape[0], c = x.shape[1], m = w.shape[0]
        let group = attrs.group
        try checkSum(z, [n, m] + geo.outSpatial)
        let out = try Tensor.allocate(.float32, [n, m] + geo.outSpatial)
        // The sum input, when given, is added after the bias and before the activation: the
        // kernels then store without clamping, and each finished block gets Z and the activation.
        let pz = z?.floatPointer
        let outCount = geo.outCount, inCount = geo.inCount
        let cg = c / group, mg = m / group, kg = cg * geo.kernelCount
        let px = x.floatPointer, pw = w.floatPointer, po = out.mutableFloatPointer
        if out.elementCount == 0 { return out }
        let pbias = b?.floatPointer
        let par = context.parallel
        let g2 = lift2D(geo)

        // Depthwise: one filter per channel, a direct loop.
        if cg == 1 && mg == 1 && g2.inSpatial.count == 2 {
            depthwise(px, pw, pbias, pz, po, planes: n * m, channels: m, g2, par)
            return out
        }
        if let dp = directPacked, let loops = KernelTable.best.directConv, w.shape == packedShape, group == 1,
            geo.inSpatial.count == 2, geo.outSpatial[1] >= DirectConv.minOutWidth,
            DirectConv.routes(
                inChannels: c, outChannels: m, kernel: geo.kernel, strides: geo.strides, dilations: geo.dilations)
        {
            try directConv(loops, dp, px, pbias, pz, po, images: n, channels: c, outChannels: m, geo.convWindow, par)
            return out
        }
        if let ip = implicitPacked, let tiles = KernelTable.best.implicitConvTiles, w.shape == packedShape,
            g2.inSpatial.count == 2, outCount >= ImplicitConv.tilePixels
        {
            try implicitConv(tiles, ip, px, pbias, pz, po, images: n, channels: c, outChannels: m, g2.convWindow, par)
            return out
        }
        let activation = self.activation
        let pointwise =
            geo.kernel.allSatisfy { $0 == 1 } && geo.strides.allSatisfy { $0 == 1 }
            && geo.padBegin.allSatisfy { $0 == 0 } && geo.padEnd.allSatisfy { $0 == 0 }
        // A 1x1 map (squeeze-excitation after global pooling): one dot product per output
        // channel over the weights' stored rows, as the recurrent cells' gates are computed.
        if pointwise && outCount == 1 && inCount == 1 && group == 1, let zeros = zeroRow, zeros.count == m,
            w.shape == [m, c] + Array(repeating: 1, count: w.rank - 2)
        {
            let zp = UnsafePointer(zeros.pointer)
            let after: ((UnsafeMutablePointer<Float>, Int) -> Void)? = activation.map { a in { a.apply($0, $1, bias: 0) } }
            for img in 0..<n {
                parallelRowDots(
                    pw, rows: m, k: c, x: px + img * c, add: pz.map { $0 + img * m } ?? zp, bias: pbias ?? zp,
                    out: po + img * m, par, after: after)
            }
            return out
        }
        // One output column (a 1x1 convolution on a 1x1 map: squeeze-excitation): the packed
        // GEMM would pad it to a whole tile width, a matrix-vector product reads each weight once.
        let usePacked = packed != nil && w.shape == packedShape && !(pointwise && outCount == 1)
        let perGroup = Gemm.packedASize(m: mg, k: kg)
        // The column buffer is the kernel size times the output, far larger than either on big
        // maps (a 3x3 convolution of 32 channels at 128x128 needs 19 MB). A 2-D convolution
        // unfolds a band of output rows at a time, so the buffer stays near `columnBandBytes`
        // and is still in cache when the GEMM reads it. Its window is the whole window with
        // the rows above the band taken off the top padding.
        let rank2 = geo.inSpatial.count == 2
        let outRows = rank2 ? geo.outSpatial[0] : 1
        let rowCols = outCount / outRows
        var bandRows = outRows
        if rank2 && !pointwise {
            let rowBytes = try Checked.product([max(1, kg), max(1, rowCols), MemoryLayout<Float>.stride], "the im2col buffer")
            bandRows = max(1, min(outRows, ConvKernel.columnBandBytes / rowBytes))
        }
        // Tensor storage, so a size the run cannot afford is an error rather than an abort.
        let colStorage =
            pointwise
            ? nil
            : try TensorStorage(
                uninitializedByteCount:
                    Checked.product([max(1, kg), max(1, bandRows * rowCols), MemoryLayout<Float>.stride], "the im2col buffer"))
        defer { withExtendedLifetime(colStorage) {} }
        let col = colStorage.map { $0.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self) }
        let kernels = KernelTable.best, window = geo.convWindow
        for img in 0..<n {
            for gi in 0..<group {
                let xg = px + (img * c + gi * cg) * inCount
                let channel0 = gi * mg
                // Bias and Relu/Clip are applied by the GEMM as it stores each finished tile;
                // other activations (and the sum input) per finished block, while it is in cache.
                let clamp = storeClamp(pz)
                let finish: TileFinish? =
                    pbias == nil && clamp == nil
                    ? nil
                    : TileFinish(rowBias: pbias.map { $0 + channel0 }, lo: clamp?.0 ?? -.infinity, hi: clamp?.1 ?? .infinity)
                var y0 = 0
                repeat {
                    let y1 = min(outRows, y0 + bandRows)
                    let cols = (y1 - y0) * rowCols
                    let cptr = po + (img * m + gi * mg) * outCount + y0 * rowCols
                    let bview: MatrixView
                    if let col = col {
                        var band = window
                        if bandRows < outRows {
                            band.padBegin[0] = window.padBegin[0] - y0 * window.strides[0]
                            band.outSpatial[0] = y1 - y0
                        }
                        kernels.im2col(xg, cg, band, col, par)
                        bview = MatrixView(col, rowStride: cols, colStride: 1)
                    } else {
                        bview = MatrixView(xg, rowStride: inCount, colStride: 1)
                    }
                    let epilogue: Epilogue? = afterStore(po, pz).map { finish in
                        { rows, cols in
                            for r in rows { finish(cptr + r * outCount + cols.lowerBound, cols.count) }
                        }
                    }
                    if usePacked, let pk = packed {
                        Gemm.sgemm(
                            m: mg, n: cols, k: kg, packedA: UnsafePointer(pk.pointer + gi * perGroup), b: bview,
                            c: cptr, ldc: outCount, parallel: par, finish: finish, epilogue: epilogue)
                    } else {
                        Gemm.sgemm(
                            m: mg, n: cols, k: kg, a: MatrixView(pw + gi * mg * kg, rowStride: kg, colStride: 1),
                            b: bview, c: cptr, ldc: outCount, parallel: par, finish: finish, epilogue: epilogue)
                    }
                    y0 = y1
                } while y0 < outRows
            }
        }
        return out
    }

    /// Every image and group through `ImplicitConv` (2-D `window`; the 1-D case lifted). Bias,
    /// Relu and Clip are applied as tiles are stored; other activations to each finished part.
    func implicitConv(
        _ tiles: @escaping KernelTable.ImplicitConvTiles, _ packed: FloatBuffer, _ x: UnsafePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ z: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, images: Int,
        channels: Int, outChannels: Int, _ window: ConvWindow, _ par: ParallelFor
    ) throws {
        let group = attrs.group, cg = channels / group, mg = outChannels / group
        let inCount = window.inCount, outCount = window.outCount
        let depth = cg * window.kernelCount, perGroup = ImplicitConv.packedCount(channels: mg, depth: depth)
        let padding = ImplicitConv.Padding(window)
        // Tensor storage, so a padded copy the run cannot afford is an error rather than an abort.
        let scratch =
            padding.inPlace
            ? nil
            : try TensorStorage(
                uninitializedByteCount: Checked.product(
                    [cg, padding.height, padding.width, MemoryLayout<Float>.stride], "the padded convolution input"))
        defer { withExtendedLifetime(scratch) {} }
        let padded = scratch.map { $0.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self) }
        let clamp = storeClamp(z) ?? (-.infinity, .infinity)
        let finish = afterStore(y, z)
        for img in 0..<images {
            for gi in 0..<group {
                var xg = x + (img * channels + gi * cg) * inCount
                if let padded {
                    padding.copy(xg, channels: cg, into: padded, parallel: par)
                    xg = UnsafePointer(padded)
                }
                let yg = y + (img * outChannels + gi * mg) * outCount
                let after: ((Range<Int>, Range<Int>) -> Void)? = finish.map { finish in
                    { pixels, rows in
                        for r in rows { finish(yg + r * outCount + pixels.lowerBound, pixels.count) }
                    }
                }
                ImplicitConv.run(
                    tiles, x: xg, channels: cg, window, padding: padding, packed: packed.pointer + gi * perGroup,
                    outChannels: mg, bias: bias.map { $0 + gi * mg }, lo: clamp.0, hi: clamp.1, y: yg, parallel: par,
                    after: after)
            }
        }
    }

    /// Every image through `DirectConv` (2-D, group 1). Bias, Relu and Clip are applied as rows are
    /// stored; other activations (and the sum input) to each finished row of a block of
    /// channels, while it is in cache.
    func directConv(
        _ loops: DirectConvLoops, _ packed: FloatBuffer, _ x: UnsafePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ z: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, images: Int,
        channels: Int, outChannels: Int, _ window: ConvWindow, _ par: ParallelFor
    ) throws {
        let layout = DirectConv.Layout(window)
        // Tensor storage, so a padded copy the run cannot afford is an error rather than an abort.
        let scratch = try TensorStorage(
            uninitializedByteCount: Checked.product(
                [channels, layout.height, layout.rowLength, MemoryLayout<Float>.stride], "the padded convolution input"))
        let copy = scratch.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
        defer { withExtendedLifetime(scratch) {} }
        let clamp = storeClamp(z), finish = afterStore(y, z)
        let outWidth = window.outSpatial[1], outCount = window.outCount, inCount = window.inCount
        for img in 0..<images {
            layout.copy(loops, x + img * channels * inCount, channels: channels, into: copy, parallel: par)
            let yi = y + img * outChannels * outCount
            let after: ((Int, Range<Int>) -> Void)? = finish.map { finish in
                { row, block in
                    for ch in block { finish(yi + ch * outCount + row * outWidth, outWidth) }
                }
            }
            DirectConv.run(
                loops, x: copy, channels: channels, window, layout: layout, packed: packed.pointer,
                outChannels: outChannels, bias: bias, lo: clamp?.0 ?? -.infinity, hi: clamp?.1 ?? .infinity, y: yi,
                parallel: par, after: after)
        }
    }

    /// Depthwise 2-D convolution, one plane per task.
    func depthwise(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ z: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>, planes: Int, channels: Int, _ g: WindowGeometry, _ par: ParallelFor
    ) {
        let h = g.inSpatial[0], wd = g.inSpatial[1], kh = g.kernel[0], kw = g.kernel[1]
        let oh = g.outSpatial[0], ow = g.outSpatial[1]
        let sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1]
        let pt = g.padBegin[0], pl = g.padBegin[1]
        // Relu and Clip are clamps the kernel applies on the way out (unless a sum input comes
        // first); other activations and the sum follow per group of planes.
        let clamp = storeClamp(z) ?? (-.infinity, .infinity)
        let problem = DepthwiseConv2D(
            x: x, filters: w, bias: bias, y: y, channels: channels, height: h, width: wd,
            kernelHeight: kh, kernelWidth: kw, outHeight: oh, outWidth: ow, strideY: sh, strideX: sw,
            dilationY: dh, dilationX: dw, padTop: pt, padLeft: pl, lo: clamp.0, hi: clamp.1)
        let kernel = KernelTable.best.depthwiseConv2D
        // Threads take whole groups of 8 planes (the AVX2 loop interleaves 8 channels), and a
        // node too small to pay for waking the other thread runs on this one.
        let groups = (planes + 7) / 8
        let work = planes * oh * ow * kh * kw
        let split = work >= ConvKernel.depthwiseParallelWork ? par : serialFor
        // An activation that is not a clamp follows each group of 8 planes while they are in cache
        // (a whole early-layer output, 112x112 by 96 channels, is 4.8 MB).
        let finish = afterStore(y, z)
        split(groups) { range in
            let planeRange = range.lowerBound * 8..<min(planes, range.upperBound * 8)
            guard let finish else {
                kernel(problem, planeRange)
                return
            }
            for first in stride(from: planeRange.lowerBound, to: planeRange.upperBound, by: 8) {
                let chunk = first..<min(planeRange.upperBound, first + 8)
                kernel(problem, chunk)
                finish(y + first * oh * ow, chunk.count * oh * ow)
            }
        }
    }
}

struct ConvTransposeKernel: Kernel {
    let attrs: ConvAttributes
    let outputPadding: [Int]?
    let outputShape: [Int]?
    /// Constant float32 weights transposed and packed per group once, as the GEMM's A
    /// (`mg * kernel` rows by `cg`); the weights' shape they were packed from.
    let packed: FloatBuffer?
    let packedShape: [Int]

    init(_ ctx: KernelBuildContext) throws {
        attrs = try ConvAttributes(ctx)
        outputPadding = ints(ctx.ints("output_padding"))
        outputShape = ints(ctx.ints("output_shape"))
        if let w = ctx.constant(1), w.dtype == .float32, w.rank >= 3, w.elementCount > 0, w.shape[0] % attrs.group == 0 {
            let g = attrs.group, cg = w.shape[0] / g, rowsK = w.elementCount / w.shape[0]
            let per = Gemm.packedASize(m: rowsK, k: cg)
            let buf = FloatBuffer(count: per * g)
            for gi in 0..<g {
                Gemm.pack(
                    a: MatrixView(w.floatPointer + gi * cg * rowsK, rowStride: 1, colStride: rowsK), m: rowsK, k: cg,
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
        guard x0.dtype == w0.dtype, x0.dtype.isFloatingPoint else {
            throw kernelUnsupported("unsupported input types \(x0.dtype), \(w0.dtype)")
        }
        if x0.dtype == .float64 { return [.tensor(try compute(Double.self, inputs, context))] }
        return [.tensor(try convertFromFloat32(compute(Float.self, inputs, context), to: x0.dtype))]
    }

    /// Per image and group: columns `W_g^T X_g` by GEMM, scattered into the output (col2im).
    func compute<T: ComputeFloat>(_: T.Type, _ inputs: [Value?], _ context: ExecutionContext) throws -> Tensor {
        let x0 = try inputs.tensor(0), w0 = try inputs.tensor(1)
        let x = try T.converted(x0), w = try T.converted(w0), b = try inputs.optionalTensor(2).map(T.converted)
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
        guard strides.allSatisfy({ $0 > 0 }), dil.allSatisfy({ $0 > 0 }) else {
            throw kernelError("strides and dilations must be positive")
        }
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
        } else if let target = explicitOut, attrs.autoPad == .notSet {
            // output_shape given: the pads attribute is ignored and the padding that reaches the
            // shape is split with the larger half at the start (the ONNX definition). A shape
            // past the full output extends it at the end (bias only there), as output_padding.
            for i in 0..<r {
                let total = try Checked.subtract(fullExtent(i), target[i], "the output padding")
                pe[i] = max(0, total) / 2
                pb[i] = max(0, total) - pe[i]
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
                outSp[i] =
                    try explicitOut?[i]
                    ?? Checked.subtract(fullExtent(i), Checked.add(pb[i], pe[i], "the pads"), "the output size of axis \(i)")
            }
        }
        guard outSp.allSatisfy({ $0 >= 0 }) else { throw kernelError("negative output size \(outSp)") }
        // Every scatter position is at most the full extent, also when output_shape fixes the
        // output size: checking the extent here keeps the position arithmetic below in range.
        for i in 0..<r { _ = try fullExtent(i) }
        let out = try Tensor.allocate(T.dtype, [n, m] + outSp)
        let po = out.mutableElementPointer(as: T.self)
        let outCount = outSp.reduce(1, *), inCount = inSp.reduce(1, *), kc = kernel.reduce(1, *)
        if out.elementCount == 0 { return out }
        let pbias = b?.elementPointer(as: T.self)
        for i in 0..<n * m {
            let v = pbias?[i % m] ?? 0
            for j in 0..<outCount { po[i * outCount + j] = v }
        }
        let rowsK = mg * kc
        let par = context.parallel
        let px = x.elementPointer(as: T.self), pw = w.elementPointer(as: T.self)
        // The transposed convolution scatters over the window of the convolution it inverts.
        let window = ConvWindow(inSpatial: outSp, kernel: kernel, strides: strides, dilations: dil, padBegin: pb, outSpatial: inSp)
        try withCheckedElements(Checked.multiply(rowsK, inCount, "the column buffer"), of: T.self) { col in
            for img in 0..<n {
                for gi in 0..<group {
                    // col (mg*kc x in) = W_g^T (mg*kc x cg) * X_g (cg x in)
                    let xg = px + (img * c + gi * cg) * inCount
                    if T.self == Float.self, let pk = packed, w.shape == packedShape {
                        Gemm.sgemm(
                            m: rowsK, n: inCount, k: cg,
                            packedA: UnsafePointer(pk.pointer + gi * Gemm.packedASize(m: rowsK, k: cg)),
                            b: MatrixView(UnsafeRawPointer(xg).assumingMemoryBound(to: Float.self), rowStride: inCount, colStride: 1),
                            c: UnsafeMutableRawPointer(col).assumingMemoryBound(to: Float.self), ldc: inCount, parallel: par)
                    } else {
                        T.gemm(
                            m: rowsK, n: inCount, k: cg,
                            a: StridedMatrix(pw + gi * cg * rowsK, rowStride: 1, colStride: rowsK),
                            b: StridedMatrix(xg, rowStride: inCount, colStride: 1),
                            beta: 0, c: col, ldc: inCount, parallel: par)
                    }
                    let yg = po + (img * m + gi * mg) * outCount
                    T.fold(col, channels: mg, window, yg, parallel: par)
                }
            }
        }
        return out
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
        guard x0.dtype.isFloatingPoint else { throw kernelUnsupported("unsupported input type \(x0.dtype)") }
        if x0.dtype == .float64 { return [.tensor(try compute(Double.self, inputs, context))] }
        return [.tensor(try convertFromFloat32(compute(Float.self, inputs, context), to: x0.dtype))]
    }

    /// Columns sampled bilinearly (times the mask) per group, then one GEMM adding into the biased output.
    func compute<T: ComputeFloat>(_: T.Type, _ inputs: [Value?], _ context: ExecutionContext) throws -> Tensor {
        let x0 = try inputs.tensor(0)
        let x = try T.converted(x0), w = try T.converted(inputs.tensor(1)), off = try T.converted(inputs.tensor(2))
        let b = try inputs.optionalTensor(3).map(T.converted), mask = try inputs.optionalTensor(4).map(T.converted)
        guard x.rank == 4, w.rank == 4, off.rank == 4 else { throw kernelError("DeformConv supports 2-D inputs only") }
        let n = x.shape[0], c = x.shape[1], ih = x.shape[2], iw = x.shape[3]
        let m = w.shape[0], group = attrs.group, og = offsetGroups
        let kh = w.shape[2], kw = w.shape[3]
        guard c == w.shape[1] * group, m % group == 0, og > 0, c % og == 0 else { throw kernelError("shapes do not fit groups") }
        let oh = off.shape[2], ow = off.shape[3]
        guard off.shape[0] == n, off.shape[1] == (try? Checked.product([og, kh, kw, 2])) else {
            throw kernelError("offset shape \(off.shape) does not fit")
        }
        if let mk = mask {
            guard mk.elementCount == (try? checkedElementCount([n, og, kh, kw, oh, ow])) else {
                throw kernelError("mask shape \(mk.shape) does not fit")
            }
        }
        if let b = b { guard b.elementCount == m else { throw kernelError("bias must have \(m) values") } }
        let st = attrs.strides ?? [1, 1], dl = attrs.dilations ?? [1, 1], pd = attrs.pads ?? [0, 0, 0, 0]
        guard st.count == 2, dl.count == 2, pd.count == 4 else { throw kernelError("attribute ranks must be 2") }
        guard st.allSatisfy({ $0 > 0 }), dl.allSatisfy({ $0 > 0 }), pd.allSatisfy({ $0 >= 0 }) else {
            throw kernelError("strides and dilations must be positive, pads non-negative")
        }
        // Sampling positions i * stride + k * dilation are computed per output: checked once here.
        for (d, extent) in [(0, oh), (1, ow)] {
            _ = try Checked.add(
                Checked.multiply(extent, st[d], "a sampling position"), Checked.multiply(d == 0 ? kh : kw, dl[d], "a sampling position"))
        }
        let cg = c / group, mg = m / group, kg = cg * kh * kw, outCount = oh * ow
        let cpo = c / og
        let out = try Tensor.allocate(T.dtype, [n, m, oh, ow])
        let px = x.elementPointer(as: T.self), pw = w.elementPointer(as: T.self), po_ = off.elementPointer(as: T.self),
            py = out.mutableElementPointer(as: T.self)
        let pm = mask?.elementPointer(as: T.self)
        for i in 0..<n * m {
            let v = b?.elementPointer(as: T.self)[i % m] ?? 0
            for j in 0..<outCount { py[i * outCount + j] = v }
        }
        let par = context.parallel
        try withCheckedElements(Checked.multiply(kg, outCount, "the column buffer"), of: T.self) { col in
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
                                    let h = T(i * st[0] - pd[0] + a * dl[0]) + offH[o]
                                    let wv = T(j * st[1] - pd[1] + bb * dl[1]) + offW[o]
                                    var v: T = 0
                                    if h > -1 && h < T(ih) && wv > -1 && wv < T(iw) {
                                        let h0 = Int(h.rounded(.down)), w0 = Int(wv.rounded(.down))
                                        let fh = h - T(h0), fw = wv - T(w0)
                                        func at(_ y: Int, _ xx: Int) -> T {
                                            y >= 0 && y < ih && xx >= 0 && xx < iw ? plane[y * iw + xx] : 0
                                        }
                                        v =
                                            (1 - fh) * ((1 - fw) * at(h0, w0) + fw * at(h0, w0 + 1)) + fh
                                            * ((1 - fw) * at(h0 + 1, w0) + fw * at(h0 + 1, w0 + 1))
                                    }
                                    col[r * outCount + o] = v * (mrow?[o] ?? 1)
                                }
                            }
                        }
                    }
                    T.gemm(
                        m: mg, n: outCount, k: kg, a: StridedMatrix(pw + gi * mg * kg, rowStride: kg, colStride: 1),
                        b: StridedMatrix(col, rowStride: outCount, colStride: 1), beta: 1,
                        c: py + (img * m + gi * mg) * outCount, ldc: outCount, parallel: par)
                }
            }
        }
        return out
    }
}
