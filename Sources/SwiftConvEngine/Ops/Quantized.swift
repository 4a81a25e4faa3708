import SwiftConvIR

/// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv, QLinearMatMul, MatMulInteger, ConvInteger.
enum QuantizedKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("QuantizeLinear", since: [10, 13, 19, 21, 23, 24, 25, 28]) { ctx in try QuantizeKernel(ctx) }
        r.register("DequantizeLinear", since: [10, 13, 19, 21, 23, 24, 25, 28]) { ctx in try DequantizeKernel(ctx) }
        r.register("DynamicQuantizeLinear", since: [11]) { _ in DynamicQuantizeKernel() }
        r.register("MatMulInteger", since: [10]) { _ in MatMulIntegerKernel() }
        r.register("QLinearMatMul", since: [10, 21]) { _ in QLinearMatMulKernel() }
        r.register("ConvInteger", since: [10]) { ctx in try ConvIntegerKernel(ctx, qlinear: false) }
        r.register("QLinearConv", since: [10]) { ctx in try ConvIntegerKernel(ctx, qlinear: true) }
    }
}

/// Integer range of a quantized dtype (nil for float types).
func quantRange(_ dtype: DType) -> (Float, Float)? {
    switch dtype {
    case .uint8: return (0, 255)
    case .int8: return (-128, 127)
    case .uint16: return (0, 65535)
    case .int16: return (-32768, 32767)
    // Int32.max is not a Float: the largest Float below 2^31, so a saturated value still fits.
    case .int32: return (-2147483648, 2147483520)
    case .uint4: return (0, 15)
    case .int4: return (-8, 7)
    case .uint2: return (0, 3)
    case .int2: return (-2, 1)
    default: return nil
    }
}

/// Maps each element of `shape` to its quantization parameter: per tensor, per axis, or per block.
struct QuantParamLayout {
    let outer: Int, dim: Int, inner: Int
    enum Mode { case tensor, axis, block(Int) }
    let mode: Mode
    let blocks: Int

    init(shape: [Int], paramShape: [Int], axis: Int64, blockSize: Int) throws {
        let count = paramShape.reduce(1, *)
        if paramShape.isEmpty || (count == 1 && blockSize == 0) {
            outer = 1
            dim = 1
            inner = shape.reduce(1, *)
            mode = .tensor
            blocks = 1
            return
        }
        let ax = try normalizeAxis(axis, rank: shape.count)
        outer = shape[..<ax].reduce(1, *)
        dim = shape[ax]
        inner = shape[(ax + 1)...].reduce(1, *)
        if blockSize > 0 {
            let nb = dim == 0 ? 0 : (dim - 1) / blockSize + 1 // ceil without overflow for any block_size
            var expected = shape
            expected[ax] = nb
            guard paramShape == expected else {
                throw kernelError("scale shape \(paramShape) does not fit blocks of \(blockSize) along axis \(ax) of \(shape)")
            }
            mode = .block(blockSize)
            blocks = nb
        } else {
            guard paramShape.count == 1, paramShape[0] == dim else {
                throw kernelError("scale shape \(paramShape) does not fit axis \(ax) of \(shape)")
            }
            mode = .axis
            blocks = dim
        }
    }

    /// Calls `body(elementIndex, paramIndex)` for every element.
    @inline(__always)
    func forEach(_ body: (Int, Int) -> Void) {
        switch mode {
        case .tensor:
            for i in 0..<inner { body(i, 0) }
        case .axis:
            var e = 0
            for _ in 0..<outer {
                for a in 0..<dim {
                    for _ in 0..<inner {
                        body(e, a)
                        e += 1
                    }
                }
            }
        case .block(let bs):
            var e = 0
            for o in 0..<outer {
                for a in 0..<dim {
                    let base = (o * blocks + a / bs) * inner
                    for i in 0..<inner {
                        body(e, base + i)
                        e += 1
                    }
                }
            }
        }
    }
}

struct QuantizeKernel: Kernel {
    let axis: Int64
    let blockSize: Int
    let saturate: Bool
    let outputDType: DType?

    init(_ ctx: KernelBuildContext) throws {
        axis = ctx.int("axis", default: 1)
        blockSize = Int(ctx.int("block_size", default: 0))
        saturate = ctx.int("saturate", default: 1) != 0
        let od = ctx.int("output_dtype", default: 0)
        outputDType = od == 0 ? nil : DType(rawValue: Int32(od))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), scale = try inputs.tensor(1)
        let zp = inputs.optionalTensor(2)
        let outType = zp?.dtype ?? outputDType ?? .uint8
        guard let xs = DTypeConversion.floats(x), let ss = DTypeConversion.floats(scale) else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        let zs = try zp.map { z -> [Float] in
            guard z.shape == scale.shape || z.elementCount == scale.elementCount else {
                throw kernelError("zero point shape \(z.shape) differs from scale \(scale.shape)")
            }
            guard let v = DTypeConversion.floats(z) else { throw kernelUnsupported("unsupported zero point type \(z.dtype)") }
            return v
        }
        let layout = try QuantParamLayout(shape: x.shape, paramShape: scale.shape, axis: axis, blockSize: blockSize)
        var q = [Float](repeating: 0, count: xs.count)
        if let (lo, hi) = quantRange(outType) {
            layout.forEach { e, p in
                let v = (xs[e] / ss[p]).rounded(.toNearestOrEven) + (zs?[p] ?? 0)
                q[e] = v.isNaN ? 0 : min(max(v, lo), hi)
            }
        } else {
            // Float8/float4 targets: divide, add the (float) zero point, then cast.
            layout.forEach { e, p in q[e] = xs[e] / ss[p] + (zs?[p] ?? 0) }
        }
        let out = try q.withUnsafeBufferPointer { try DTypeConversion.tensor(from: $0, dtype: outType, shape: x.shape, saturate: saturate) }
        guard let o = out else { throw kernelUnsupported("unsupported output type \(outType)") }
        return [.tensor(o)]
    }
}

/// Refuses, at session creation, constant scale and zero point inputs that contradict the
/// quantization that input `value`'s type declares (`axis` as the op's attribute gives it).
func checkDeclaredQuantization(_ ctx: KernelBuildContext, value: Int, scale: Int, zeroPoint: Int, axis: Int64) throws {
    guard let declared = ctx.inputQuantization(value), let s = ctx.constant(scale),
        !ctx.hasInput(zeroPoint) || ctx.constant(zeroPoint) != nil,
        let rank = ctx.inputType(value)?.tensorShape?.count
    else { return }
    let ax = axis < 0 ? Int(axis) + rank : Int(axis)
    let given = QuantParams.fromConstants(scale: s, zeroPoint: ctx.constant(zeroPoint), storageType: declared.storageType, axis: ax)
    guard given == declared else {
        throw ctx.invalid(
            "scale and zero point (\(given.map { "\($0)" } ?? "not per tensor or axis")) "
                + "contradict the quantization of input '\(ctx.node.inputs[value])' (\(declared))")
    }
}

struct DequantizeKernel: Kernel {
    let axis: Int64
    let blockSize: Int
    let outputDType: DType?
    /// The quantization x's type declares, if any: the kernel computes with it and refuses
    /// a scale or zero point (constant or fed) that says otherwise.
    let declared: QuantParams?

    init(_ ctx: KernelBuildContext) throws {
        axis = ctx.int("axis", default: 1)
        blockSize = Int(ctx.int("block_size", default: 0))
        let od = ctx.int("output_dtype", default: 0)
        outputDType = od == 0 ? nil : DType(rawValue: Int32(od))
        declared = ctx.inputQuantization(0)
        if blockSize == 0 { try checkDeclaredQuantization(ctx, value: 0, scale: 1, zeroPoint: 2, axis: axis) }
    }

    /// The run's scale and zero point as `QuantParams`, to compare with the declared ones.
    func quantization(scale: Tensor, zeroPoint: Tensor?, storage: DType, rank: Int) -> QuantParams? {
        guard blockSize == 0 else { return nil }
        let ax = axis < 0 ? Int(axis) + rank : Int(axis)
        return QuantParams.fromConstants(scale: scale, zeroPoint: zeroPoint, storageType: storage, axis: ax)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), scale = try inputs.tensor(1)
        let zp = inputs.optionalTensor(2)
        guard let xs = DTypeConversion.floats(x), var ss = DTypeConversion.floats(scale) else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        if let z = zp, z.dtype != x.dtype { throw kernelError("zero point type \(z.dtype) differs from input \(x.dtype)") }
        var zs = try zp.map { z -> [Float] in
            guard let v = DTypeConversion.floats(z), v.count == ss.count else {
                throw kernelError("zero point shape \(z.shape) differs from scale \(scale.shape)")
            }
            return v
        }
        if let declared {
            let given = quantization(scale: scale, zeroPoint: zp, storage: x.dtype, rank: x.shape.count)
            guard given == declared else {
                throw kernelError(
                    "scale and zero point (\(given.map { "\($0)" } ?? "not per tensor or axis")) "
                        + "contradict the quantization of the input's type (\(declared))")
            }
            ss = declared.scale
            zs = declared.zeroPoint.map { Float($0) }
        }
        let layout = try QuantParamLayout(shape: x.shape, paramShape: scale.shape, axis: axis, blockSize: blockSize)
        var y = [Float](repeating: 0, count: xs.count)
        layout.forEach { e, p in y[e] = (xs[e] - (zs?[p] ?? 0)) * ss[p] }
        let outType = outputDType ?? scale.dtype
        guard let o = try y.withUnsafeBufferPointer({ try DTypeConversion.tensor(from: $0, dtype: outType, shape: x.shape) }) else {
            throw kernelUnsupported("unsupported output type \(outType)")
        }
        return [.tensor(o)]
    }
}

struct DynamicQuantizeKernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype == .float32 else { throw kernelUnsupported("unsupported input type \(x.dtype)") }
        let v = x.values(as: Float.self)
        var lo: Float = 0, hi: Float = 0
        for f in v {
            lo = min(lo, f)
            hi = max(hi, f)
        }
        let scale = (hi - lo) / 255
        var zp: Float = 0
        if scale != 0 { zp = min(max((0 - lo / scale).rounded(.toNearestOrEven), 0), 255) }
        if !scale.isFinite { throw kernelError("input has non-finite values") }
        let q = v.map { f -> UInt8 in
            if scale == 0 { return UInt8(zp) }
            let r = (f / scale).rounded(.toNearestOrEven) + zp
            return r.isNaN ? 0 : UInt8(min(max(r, 0), 255))
        }
        return [
            .tensor(Tensor.from(q, shape: x.shape)), .tensor(Tensor.from([scale], shape: [])),
            .tensor(Tensor.from([UInt8(zp)], shape: [])),
        ]
    }
}

/// An integer tensor as Int32 values minus a zero point (scalar, or per entry along `axisFromEnd`).
func centered(_ t: Tensor, zeroPoint: Tensor?, axisFromEnd: Int) throws -> Tensor {
    guard let v = t.int64Values() else { throw kernelUnsupported("unsupported input type \(t.dtype)") }
    var out = v.map { Int32(truncatingIfNeeded: $0) }
    if let z = zeroPoint {
        guard let zv = z.int64Values(), z.dtype == t.dtype else { throw kernelError("zero point type \(z.dtype) differs from \(t.dtype)") }
        if zv.count == 1 {
            let zz = Int32(zv[0])
            for i in 0..<out.count { out[i] -= zz }
        } else {
            guard t.rank >= axisFromEnd else { throw kernelError("per-axis zero point needs rank >= \(axisFromEnd)") }
            let dim = t.shape[t.rank - axisFromEnd]
            let inner = t.shape[(t.rank - axisFromEnd + 1)...].reduce(1, *)
            guard zv.count == dim else { throw kernelError("zero point has \(zv.count) values, expected \(dim)") }
            for i in 0..<out.count { out[i] -= Int32(zv[(i / inner) % dim]) }
        }
    }
    return Tensor.from(out, shape: t.shape)
}

struct MatMulIntegerKernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try centered(inputs.tensor(0), zeroPoint: inputs.optionalTensor(2), axisFromEnd: 2)
        let b = try centered(inputs.tensor(1), zeroPoint: inputs.optionalTensor(3), axisFromEnd: 1)
        return [.tensor(try genericMatMul(a, b, Int32.self, mul: (&*), add: (&+)))]
    }
}

struct QLinearMatMulKernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try centered(inputs.tensor(0), zeroPoint: inputs.tensor(2), axisFromEnd: 2)
        let b = try centered(inputs.tensor(3), zeroPoint: inputs.tensor(5), axisFromEnd: 1)
        let acc = try genericMatMul(a, b, Int32.self, mul: (&*), add: (&+))
        guard let sa = DTypeConversion.floats(try inputs.tensor(1)), let sb = DTypeConversion.floats(try inputs.tensor(4)),
            let sy = DTypeConversion.floats(try inputs.tensor(6))?.first
        else { throw kernelError("scales must be float") }
        let n = acc.shape.last ?? 1, m = acc.rank >= 2 ? acc.shape[acc.rank - 2] : 1
        let accF = acc.values(as: Int32.self).map { Float($0) }
        // Per-row A scales and per-column B scales combine into one factor per element.
        let out = try requantize(
            accF, zeroPoint: inputs.tensor(7), shape: acc.shape,
            combine: { i in
                let ra = sa.count == 1 ? sa[0] : sa[(i / n) % m]
                let rb = sb.count == 1 ? sb[0] : sb[i % n]
                return ra * rb / sy
            })
        return [.tensor(out)]
    }
}

/// Requantizes accumulators: `round(acc * factor(i)) + zp`, saturated to the zero point's type.
func requantize(_ acc: [Float], zeroPoint: Tensor, shape: [Int], combine: (Int) -> Float) throws -> Tensor {
    guard let (lo, hi) = quantRange(zeroPoint.dtype), let zv = DTypeConversion.floats(zeroPoint), let z = zv.first else {
        throw kernelUnsupported("unsupported output type \(zeroPoint.dtype)")
    }
    var q = [Float](repeating: 0, count: acc.count)
    for i in 0..<acc.count { q[i] = min(max((acc[i] * combine(i)).rounded(.toNearestOrEven) + z, lo), hi) }
    guard let out = try q.withUnsafeBufferPointer({ try DTypeConversion.tensor(from: $0, dtype: zeroPoint.dtype, shape: shape) }) else {
        throw kernelUnsupported("unsupported output type \(zeroPoint.dtype)")
    }
    return out
}

/// ConvInteger and QLinearConv: zero points removed, the float convolution (exact for these
/// integer ranges), then Int32 output or requantization.
struct ConvIntegerKernel: Kernel {
    let conv: ConvKernel
    let qlinear: Bool

    init(_ ctx: KernelBuildContext, qlinear: Bool) throws {
        conv = try ConvKernel(ctx)
        self.qlinear = qlinear
        if qlinear {
            try checkDeclaredQuantization(ctx, value: 0, scale: 1, zeroPoint: 2, axis: 1)
            try checkDeclaredQuantization(ctx, value: 3, scale: 4, zeroPoint: 5, axis: 0)
        }
    }

    func floats(_ t: Tensor, minus zp: Tensor?, perChannel: Bool) throws -> Tensor {
        guard var v = DTypeConversion.floats(t) else { throw kernelUnsupported("unsupported input type \(t.dtype)") }
        if let z = zp, let zv = DTypeConversion.floats(z) {
            if zv.count == 1 {
                for i in 0..<v.count { v[i] -= zv[0] }
            } else if perChannel, t.rank >= 1, zv.count == t.shape[0] {
                let inner = t.elementCount / max(t.shape[0], 1)
                for i in 0..<v.count { v[i] -= zv[i / inner] }
            } else {
                throw kernelError("zero point shape \(z.shape) does not fit \(t.shape)")
            }
        }
        return Tensor.from(v, shape: t.shape)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        if !qlinear {
            let x = try floats(inputs.tensor(0), minus: inputs.optionalTensor(2), perChannel: false)
            let w = try floats(inputs.tensor(1), minus: inputs.optionalTensor(3), perChannel: true)
            let y = try conv.conv(x, w, nil, nil, context)
            let v = y.values(as: Float.self).map { f -> Int32 in
                f.isNaN ? 0 : Int32(min(max(f.rounded(), -2147483648), 2147483520))
            }
            return [.tensor(Tensor.from(v, shape: y.shape))]
        }
        let x = try floats(inputs.tensor(0), minus: inputs.tensor(2), perChannel: false)
        let w = try floats(inputs.tensor(3), minus: inputs.tensor(5), perChannel: true)
        let bias = try inputs.optionalTensor(8).map { b -> Tensor in
            guard let v = b.int64Values() else { throw kernelError("bias must be int32") }
            return Tensor.from(v.map { Float($0) }, shape: b.shape)
        }
        let y = try conv.conv(x, w, bias, nil, context)
        guard let xs = DTypeConversion.floats(try inputs.tensor(1))?.first, let ws = DTypeConversion.floats(try inputs.tensor(4)),
            let ys = DTypeConversion.floats(try inputs.tensor(6))?.first
        else { throw kernelError("scales must be float") }
        let m = y.shape[1], inner = y.elementCount / max(y.shape[0] * m, 1)
        let acc = y.values(as: Float.self)
        let out = try requantize(
            acc, zeroPoint: inputs.tensor(7), shape: y.shape,
            combine: { i in
                let wsc = ws.count == 1 ? ws[0] : ws[(i / inner) % m]
                return xs * wsc / ys
            })
        return [.tensor(out)]
    }
}
