import SwiftConvIR
import SwiftConvKernels

/// Quantized MEAN, SUM, REDUCE_MAX, REDUCE_MIN over constant axes, as LiteRT's reference
/// reduce kernels: MEAN rescales the sum minus `n·zin` with `1/n` folded into the multiplier;
/// SUM rescales in float; MAX and MIN compare stored values.
struct IntegerReduceKernel: Kernel {
    enum Mode { case mean, sum, max, min }
    let mode: Mode
    let axes: [Int64]
    let keepDims: Bool
    let input: TensorQuant, output: TensorQuant
    let multiplier: FixedPoint.Multiplier

    init(_ ctx: KernelBuildContext, _ mode: Mode) throws {
        guard let a = ctx.constant(1), a.dtype == .int32 || a.dtype == .int64, let values = a.int64Values() else {
            throw SwiftConvError.unsupportedOp("a quantized \(ctx.node.opType) needs constant int axes").at(ctx.nodeContext)
        }
        self.mode = mode
        axes = values
        keepDims = ctx.int("keep_dims", default: 0) != 0
        input = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        output = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard input.storage == output.storage, input.storage != .int16 || mode == .max || mode == .min else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) of \(input.storage) into \(output.storage)").at(ctx.nodeContext)
        }
        multiplier = FixedPoint.Multiplier(Double(input.scale) / Double(output.scale))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let rank = x.shape.count
        var reduced = [Bool](repeating: false, count: rank)
        for a in axes { reduced[try normalizeAxis(a, rank: max(rank, 1))] = true }
        let outShape = x.shape.enumerated().compactMap { i, d in reduced[i] ? (keepDims ? 1 : nil) : d }
        let keptShape = x.shape.enumerated().map { i, d in reduced[i] ? 1 : d }
        let outCount = keptShape.reduce(1, *)
        let n = x.shape.enumerated().reduce(1) { $0 * (reduced[$1.offset] ? $1.element : 1) }
        let xs = try widenedIntegers(x)
        let r = storageRange(output.storage)
        var acc = [Int32](repeating: mode == .max ? Int32.min : (mode == .min ? Int32.max : 0), count: outCount)
        // Map every input element to its output slot.
        let outStrides = contiguousStrides(keptShape)
        var index = [Int](repeating: 0, count: rank)
        for v in xs {
            var o = 0
            for d in 0..<rank where !reduced[d] { o += index[d] * outStrides[d] }
            switch mode {
            case .max: acc[o] = max(acc[o], v)
            case .min: acc[o] = min(acc[o], v)
            case .mean, .sum: acc[o] &+= v
            }
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < x.shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        var out = acc
        if n > 0, mode == .mean || mode == .sum {
            let count = Int32(clamping: n)
            if mode == .sum {
                // LiteRT's SUM rescales in float: round(sum·s + b) + zout, s = sin/sout, b = -zin·s·n.
                // (Its BUILTIN_REF int8 SUM gives values unrelated to the sums; this matches its default kernel.)
                let scale = input.scale / output.scale
                let bias = -Float(input.zeroPoint) * scale * Float(n)
                for i in out.indices {
                    let v = (Float(acc[i]) * scale + bias).rounded(.toNearestOrAwayFromZero) + Float(output.zeroPoint)
                    out[i] = Int32(min(max(v, Float(r.lowerBound)), Float(r.upperBound)))
                }
            } else {
                // MEAN: 1/n folded into the multiplier (a shift of up to 32 bits), then one rescale.
                var m = multiplier
                var shift = 63 - Int(UInt64(n).leadingZeroBitCount)
                shift = min(shift, 32, 31 + m.shift)
                m.mantissa = Int32(truncatingIfNeeded: (Int64(m.mantissa) << Int64(shift)) / Int64(n))
                m.shift -= shift
                for i in out.indices {
                    let v = m.apply(acc[i] &- count &* input.zeroPoint) &+ output.zeroPoint
                    out[i] = min(max(v, r.lowerBound), r.upperBound)
                }
            }
        }
        return [.tensor(narrowedTensor(out, dtype: output.storage, shape: outShape))]
    }
}

/// Quantized CONCATENATION (TFLite's `ConcatenationWithScaling`): inputs with the output's
/// quantization are copied; others are requantized `round(x·s + b) + zout` in float, with
/// `s = s_in · (1/s_out)` and `b = -zin·s`, clamped to the storage range.
struct IntegerConcatKernel: Kernel {
    let axis: Int64
    let inputs: [TensorQuant]
    let output: TensorQuant
    let clamp: ClosedRange<Int32>
    /// Per input, `(s, b)` of its requantization; nil when it has the output's quantization.
    let rescales: [(scale: Float, bias: Float)?]

    init(_ ctx: KernelBuildContext) throws {
        axis = ctx.int("axis", default: 0)
        output = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        inputs = try (0..<ctx.node.inputs.count).map { try TensorQuant(ctx.quantization(ofInput: $0), "input \($0)", ctx) }
        let storage = output.storage
        clamp = output.range
        guard inputs.allSatisfy({ $0.storage == storage }) else {
            throw SwiftConvError.unsupportedOp("CONCATENATION of mixed storage types").at(ctx.nodeContext)
        }
        let (out, range) = (output, clamp)
        rescales = try inputs.enumerated().map { k, q in
            if q.scale == out.scale && q.zeroPoint == out.zeroPoint { return nil }
            let scale = q.scale * (1 / out.scale)
            let bias = -Float(q.zeroPoint) * scale
            // A model chooses its scales: one whose extreme values would requantize to an
            // infinity or NaN cannot become an integer.
            let extremes = [Float(range.lowerBound), Float(range.upperBound)].map { $0 * scale + bias }
            guard extremes.allSatisfy(\.isFinite) else {
                throw ctx.invalid("input \(k) scale \(q.scale) and output scale \(out.scale) give no finite requantization")
            }
            return (scale, bias)
        }
    }

    func run(_ values: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let ts = try (0..<inputs.count).map { try values.tensor($0) }
        guard let first = ts.first else { throw kernelError("CONCATENATION has no inputs") }
        let rank = first.shape.count
        let ax = try normalizeAxis(axis, rank: rank)
        for t in ts where t.shape.count != rank || (0..<rank).contains(where: { $0 != ax && t.shape[$0] != first.shape[$0] }) {
            throw kernelError("CONCATENATION inputs \(ts.map(\.shape)) differ off axis \(ax)")
        }
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        var outShape = first.shape
        outShape[ax] = ts.reduce(0) { $0 + $1.shape[ax] }
        let parts = try ts.enumerated().map { i, t -> [Int32] in
            let v = try widenedIntegers(t)
            guard let (scale, bias) = rescales[i] else { return v }
            return v.map { x in
                let y = (Float(x) * scale + bias).rounded(.toNearestOrAwayFromZero) + Float(output.zeroPoint)
                return Int32(min(max(y, Float(clamp.lowerBound)), Float(clamp.upperBound)))
            }
        }
        var out: [Int32] = []
        out.reserveCapacity(outShape.reduce(1, *))
        for o in 0..<outer {
            for (i, t) in ts.enumerated() {
                let len = t.shape[ax] * inner
                out.append(contentsOf: parts[i][(o * len)..<((o + 1) * len)])
            }
        }
        return [.tensor(narrowedTensor(out, dtype: output.storage, shape: outShape))]
    }
}
