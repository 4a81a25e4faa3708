import SwiftConvIR
import SwiftConvKernels

/// Full-integer int8 ops lowered to integer ONNX ops, bit for bit as LiteRT's reference kernels.
///
/// QDQ around a float op rounds the real result once; LiteRT's integer kernels accumulate in
/// int32 and rescale with TFLite's fixed-point `MultiplyByQuantizedMultiplier`, rounding at each
/// step. One step of difference per op grows through a transformer's layer norms (MEAN,
/// SQUARED_DIFFERENCE, MUL, ADD), so these ops compute as LiteRT does: int32 accumulators
/// (`MatMulInteger`, `ReduceSum`, `Mul`), the rescale in int64 (`multipliedByQuantizedMultiplier`,
/// the one place it is written), the output zero point, the clamp and a Cast to int8.
/// A rule returns false, having emitted nothing, when the node is not one it computes exactly;
/// the float (QDQ) rule then lowers it.
typealias TFLiteIntegerRule = (_ node: NodeLowering) throws -> Bool

extension TFLiteLoweringRules {
    static let integer: [String: TFLiteIntegerRule] = [
        "CONV_2D": { l in try lowerIntegerConvolution(l, depthwise: false) },
        "DEPTHWISE_CONV_2D": { l in try lowerIntegerConvolution(l, depthwise: true) },
        "FULLY_CONNECTED": lowerIntegerFullyConnected,
        "BATCH_MATMUL": lowerIntegerBatchMatMul,
        "ADD": { l in try lowerIntegerAddSub(l, subtract: false) },
        "SUB": { l in try lowerIntegerAddSub(l, subtract: true) },
        "MUL": lowerIntegerMul,
        "SQUARED_DIFFERENCE": lowerIntegerSquaredDifference,
        "MEAN": lowerIntegerMean,
        "AVERAGE_POOL_2D": lowerIntegerAveragePool,
        "LEAKY_RELU": lowerIntegerLeakyRelu,
    ]

    /// FULLY_CONNECTED: `Σ (x - zx)(w - zw)` by MatMulInteger, the int32 bias, then the rescale
    /// by `sx·sw[c]/sy` per output unit (LiteRT's per-channel kernel rounds once, the
    /// per-tensor one twice).
    static func lowerIntegerFullyConnected(_ l: NodeLowering) throws -> Bool {
        guard let x = l.int8Quantization(input: 0), let y = l.int8Quantization(output: 0),
            let wq = l.type(1)?.quantization, wq.storageType == .int8, let w = l.constant(1), w.dtype == .int8, w.shape.count == 2,
            l.string("weights_format", "DEFAULT") == "DEFAULT",
            let clamp = quantizedActivationRange(l.string("fused_activation_function", "NONE"), y)
        else { return false }
        let (units, depth) = (w.shape[0], w.shape[1])
        guard wq.scale.count == 1 || wq.scale.count == units, let wzp = wq.zeroPoint.first,
            wq.zeroPoint.allSatisfy({ $0 == wzp }), let wZero = Int8(exactly: wzp)
        else { return false }
        var bias: String?
        if l.has(2) {
            guard let b = l.constant(2), b.dtype == .int32, b.elementCount == units else { return false }
            bias = try l.raw(2)
        }
        let multipliers = (0..<units).map { c in
            FixedPoint.Multiplier(Double(x.scale) * Double(wq.scale.count == 1 ? wq.scale[0] : wq.scale[c]) / Double(y.scale))
        }
        var input = try l.raw(0)
        if !l.bool("keep_num_dims"), try l.rank(0) != 2 { input = l.emit("Reshape", [input, l.int64s([-1, Int64(depth)])]) }
        guard var weights = w.transposed([1, 0]) else { return false }
        weights.quantization = nil
        let accumulators = l.emit(
            "MatMulInteger",
            [input, l.scope.constant(w.name + "_onnx", weights), try l.int8Scalar(x.zeroPoint), try l.int8Scalar(Int32(wZero))])
        let withBias = bias.map { l.emit("Add", [accumulators, $0]) } ?? accumulators
        let rounding: TFLiteRounding = wq.scale.count > 1 ? .single : .double
        try l.bindStored(
            0, l.multipliedByQuantizedMultiplier(withBias, multipliers, rounding: rounding), zeroPoint: y.zeroPoint, clamp: clamp)
        return true
    }

    /// CONV_2D and DEPTHWISE_CONV_2D: ConvInteger in NCHW (its padding holds the input zero
    /// point, so padding taps add nothing, as in TFLite), the int32 bias, the rescale by
    /// `sx·sw[c]/sy` per output channel (double rounding, as LiteRT's per-channel convolutions).
    /// onnxruntime's ConvInteger takes one weight zero point, TFLite's filters have one (0).
    static func lowerIntegerConvolution(_ l: NodeLowering, depthwise: Bool) throws -> Bool {
        guard let x = l.int8Quantization(input: 0), let y = l.int8Quantization(output: 0),
            let wq = l.type(1)?.quantization, wq.storageType == .int8, let w = l.constant(1), w.dtype == .int8, w.shape.count == 4,
            let clamp = quantizedActivationRange(l.string("fused_activation_function", "NONE"), y),
            let wzp = wq.zeroPoint.first, wq.zeroPoint.allSatisfy({ $0 == wzp }), let wZero = Int8(exactly: wzp)
        else { return false }
        let channels = depthwise ? w.shape[3] : w.shape[0]
        guard wq.scale.count == 1 || wq.scale.count == channels else { return false }
        var bias: String?
        if l.has(2) {
            guard let b = l.constant(2), b.dtype == .int32, b.elementCount == channels else { return false }
            bias = try l.raw(2)
        }
        let (attributes, filterPerm) = try convolutionAttributes(l, depthwise: depthwise)
        guard var weights = w.transposed(filterPerm) else { return false }
        weights.quantization = nil
        let accumulators = l.emit(
            "ConvInteger",
            [
                l.toNCHW(try l.raw(0)), l.scope.constant(w.name + "_onnx", weights), try l.int8Scalar(x.zeroPoint),
                try l.int8Scalar(Int32(wZero)),
            ], attributes: attributes)
        var channelsLast = l.toNHWC(accumulators)
        if let bias { channelsLast = l.emit("Add", [channelsLast, bias]) }
        let multipliers = (0..<channels).map { c in
            FixedPoint.Multiplier(Double(x.scale) * Double(wq.scale.count == 1 ? wq.scale[0] : wq.scale[c]) / Double(y.scale))
        }
        try l.bindStored(0, l.multipliedByQuantizedMultiplier(channelsLast, multipliers), zeroPoint: y.zeroPoint, clamp: clamp)
        return true
    }

    /// BATCH_MATMUL: MatMulInteger of the (adjoint) operands, rescaled by `sl·sr/so`.
    static func lowerIntegerBatchMatMul(_ l: NodeLowering) throws -> Bool {
        guard let a = l.int8Quantization(input: 0), let b = l.int8Quantization(input: 1), let y = l.int8Quantization(output: 0) else {
            return false
        }
        func operand(_ k: Int, adjoint: Bool) throws -> String {
            guard adjoint else { return try l.raw(k) }
            let r = try l.rank(k)
            guard r >= 2 else { throw NotLowerable("an adjoint operand needs rank 2 or more") }
            var perm = Array(0..<r)
            perm.swapAt(r - 1, r - 2)
            return l.emit("Transpose", [try l.raw(k)], attributes: [.ints("perm", perm)])
        }
        let accumulators = l.emit(
            "MatMulInteger",
            [
                try operand(0, adjoint: l.bool("adj_x")), try operand(1, adjoint: l.bool("adj_y")), try l.int8Scalar(a.zeroPoint),
                try l.int8Scalar(b.zeroPoint),
            ])
        let multiplier = FixedPoint.Multiplier(Double(a.scale) * Double(b.scale) / Double(y.scale))
        try l.bindStored(0, l.multipliedByQuantizedMultiplier(accumulators, [multiplier]), zeroPoint: y.zeroPoint, clamp: -128...127)
        return true
    }

    /// ADD and SUB (TFLite's general 8-bit path): each input minus its zero point, shifted left
    /// 20 bits and rescaled to twice the larger input scale, summed (SUB negates the second
    /// multiplier), then rescaled to the output.
    static func lowerIntegerAddSub(_ l: NodeLowering, subtract: Bool) throws -> Bool {
        guard let a = l.int8Quantization(input: 0), let b = l.int8Quantization(input: 1), let y = l.int8Quantization(output: 0),
            let clamp = quantizedActivationRange(l.string("fused_activation_function", "NONE"), y)
        else { return false }
        let twiceMax = Double(2 * max(a.scale, b.scale))
        let m1 = FixedPoint.Multiplier(Double(a.scale) / twiceMax)
        var m2 = FixedPoint.Multiplier(Double(b.scale) / twiceMax)
        if subtract { m2.mantissa = -m2.mantissa }
        let mOut = FixedPoint.Multiplier(twiceMax / Double(Float(1 << 20) * y.scale))
        let shift = try l.scalar(Double(1 << 20), .int32)
        let s1 = l.multipliedByQuantizedMultiplier(l.emit("Mul", [try l.centered(0, a), shift]), [m1])
        let s2 = l.multipliedByQuantizedMultiplier(l.emit("Mul", [try l.centered(1, b), shift]), [m2])
        let sum = l.multipliedByQuantizedMultiplier(l.emit("Add", [s1, s2]), [mOut])
        try l.bindStored(0, sum, zeroPoint: y.zeroPoint, clamp: clamp)
        return true
    }

    /// MUL (TFLite's `MulElementwise`): the product of the centred inputs rescaled by
    /// `sa·sb/sy`, that ratio computed in float as TFLite's Prepare does.
    static func lowerIntegerMul(_ l: NodeLowering) throws -> Bool {
        guard let a = l.int8Quantization(input: 0), let b = l.int8Quantization(input: 1), let y = l.int8Quantization(output: 0),
            let clamp = quantizedActivationRange(l.string("fused_activation_function", "NONE"), y)
        else { return false }
        let product = l.emit("Mul", [try l.centered(0, a), try l.centered(1, b)])
        let multiplier = FixedPoint.Multiplier(Double(a.scale * b.scale / y.scale))
        try l.bindStored(0, l.multipliedByQuantizedMultiplier(product, [multiplier]), zeroPoint: y.zeroPoint, clamp: clamp)
        return true
    }

    /// SQUARED_DIFFERENCE (TFLite's int8 path): both centred inputs shifted left 7 bits and
    /// rescaled to twice the larger input scale, the difference squared, rescaled by
    /// `(2·max s)² / (2^14 · sy)`.
    static func lowerIntegerSquaredDifference(_ l: NodeLowering) throws -> Bool {
        guard let a = l.int8Quantization(input: 0), let b = l.int8Quantization(input: 1), let y = l.int8Quantization(output: 0),
            let clamp = quantizedActivationRange(l.string("fused_activation_function", "NONE"), y)
        else { return false }
        let twiceMax = 2.0 * Double(max(a.scale, b.scale))
        let m1 = FixedPoint.Multiplier(Double(a.scale) / twiceMax)
        let m2 = FixedPoint.Multiplier(Double(b.scale) / twiceMax)
        let mOut = FixedPoint.Multiplier(twiceMax * twiceMax / (Double(1 << 14) * Double(y.scale)))
        let shift = try l.scalar(Double(1 << 7), .int32)
        let d1 = l.multipliedByQuantizedMultiplier(l.emit("Mul", [try l.centered(0, a), shift]), [m1])
        let d2 = l.multipliedByQuantizedMultiplier(l.emit("Mul", [try l.centered(1, b), shift]), [m2])
        let d = l.emit("Sub", [d1, d2])
        try l.bindStored(0, l.multipliedByQuantizedMultiplier(l.emit("Mul", [d, d]), [mOut]), zeroPoint: y.zeroPoint, clamp: clamp)
        return true
    }

    /// MEAN (LiteRT's reference int8 mean): the int32 sum minus `n·zx`, rescaled by `sx/sy`
    /// with `1/n` folded into the multiplier's mantissa (a shift of up to 32 bits, truncated
    /// division), then one rescale.
    static func lowerIntegerMean(_ l: NodeLowering) throws -> Bool {
        guard let x = l.int8Quantization(input: 0), let y = l.int8Quantization(output: 0), let shape = l.shape(0),
            let axes = try? l.constantInts(1, what: "axis")
        else { return false }
        let rank = shape.count
        var reduced = Set<Int>()
        var n = 1
        for a in axes {
            let axis = a < 0 ? Int(a) + rank : Int(a)
            guard axis >= 0, axis < rank else { return false }
            if reduced.insert(axis).inserted {
                guard let d = shape[axis].value, d > 0, n <= Int(Int32.max) / d else { return false }
                n *= d
            }
        }
        var m = FixedPoint.Multiplier(Double(x.scale) / Double(y.scale))
        let shift = min(63 - UInt64(n).leadingZeroBitCount, 32, 31 + m.shift)
        m.mantissa = Int32(truncatingIfNeeded: (Int64(m.mantissa) << Int64(shift)) / Int64(n))
        m.shift -= shift
        let sum = l.emit(
            "ReduceSum", [l.cast(try l.raw(0), to: .int32), l.int64s(reduced.sorted().map { Int64($0) })],
            attributes: [.int("keepdims", l.bool("keep_dims") ? 1 : 0)])
        let centred = l.emit("Sub", [sum, try l.scalar(Double(Int32(n) &* x.zeroPoint), .int32)])
        try l.bindStored(0, l.multipliedByQuantizedMultiplier(centred, [m]), zeroPoint: y.zeroPoint, clamp: -128...127)
        return true
    }

    /// AVERAGE_POOL_2D (TFLite's reference integer pooling, input and output quantized alike):
    /// each window's sum of stored values over its taps inside the image (a depthwise
    /// ConvInteger with a filter of ones; padding reads 0), divided by that tap count rounding
    /// half away from zero. A float average rounds ties its own way.
    static func lowerIntegerAveragePool(_ l: NodeLowering) throws -> Bool {
        let maxTapTableElements = 1 << 22
        guard let x = l.int8Quantization(input: 0), let y = l.int8Quantization(output: 0), x.scale == y.scale,
            x.zeroPoint == y.zeroPoint, let clamp = quantizedActivationRange(l.string("fused_activation_function", "NONE"), y),
            let s = l.shape(0), s.count == 4, let h = s[1].value, let w = s[2].value, let c = s[3].value, c > 0
        else { return false }
        let kernel = [Int(l.int("filter_height", 1)), Int(l.int("filter_width", 1))]
        let strides = [Int(l.int("stride_h", 1)), Int(l.int("stride_w", 1))]
        guard kernel.allSatisfy({ $0 > 0 }), strides.allSatisfy({ $0 > 0 }),
            let pads = try l.paddingAttributes(kernel: kernel, strides: strides, dilations: [1, 1]).first(where: { $0.name == "pads" })?
                .ints,
            pads.count == 4
        else { return false }
        // Output size and taps inside the image per window, per spatial axis (TFLite's SAME/VALID).
        // The model chooses the sizes and the window, so the tables they make are bounded.
        func taps(_ size: Int, _ axis: Int) throws -> [Int] {
            guard let span = Checked.sumOrNil(size, Int(pads[axis]), Int(pads[axis + 2]), -kernel[axis]) else {
                throw NotLowerable("the pooled size of spatial axis \(axis) overflows")
            }
            let out = span / strides[axis] + 1
            guard out <= maxTapTableElements else { throw NotLowerable("\(out) pooled positions on spatial axis \(axis)") }
            return (0..<max(out, 0)).map { o in
                let start = o * strides[axis] - Int(pads[axis])
                return min(size, start + kernel[axis]) - max(0, start)
            }
        }
        let (rows, columns) = (try taps(h, 0), try taps(w, 1))
        guard let cells = Checked.productOrNil(rows.count, columns.count), cells <= maxTapTableElements,
            let filterSize = Checked.productOrNil(c, kernel[0], kernel[1]), filterSize <= maxTapTableElements
        else { throw NotLowerable("a \(rows.count)x\(columns.count) output with a \(kernel) window is too large to lower exactly") }
        let counts = rows.flatMap { r in columns.map { Checked.productOrNil(r, $0).flatMap { Int32(exactly: $0) } ?? -1 } }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { return false }
        let ones = Tensor(dtype: .int8, shape: [c, 1] + kernel, values: [Int8](repeating: 1, count: filterSize))
        let sums = l.emit(
            "ConvInteger", [l.toNCHW(try l.raw(0)), l.scope.constant(l.fresh() + "_ones", ones)],
            attributes: [.ints("kernel_shape", kernel), .ints("strides", strides), .ints("pads", pads), .int("group", Int64(c))])
        let sum = l.toNHWC(sums)
        let shape = [1, rows.count, columns.count, 1]
        let count = l.scope.constant(l.fresh() + "_taps", Tensor(dtype: .int32, shape: shape, values: counts))
        let half = l.scope.constant(l.fresh() + "_half_taps", Tensor(dtype: .int32, shape: shape, values: counts.map { $0 / 2 }))
        // (|sum| + count/2) / count with the sum's sign: non-negative operands, so truncation is floor.
        let average = l.emit("Mul", [l.emit("Div", [l.emit("Add", [l.emit("Abs", [sum]), half]), count]), l.emit("Sign", [sum])])
        try l.bindStored(0, average, zeroPoint: 0, clamp: clamp)
        return true
    }

    /// LEAKY_RELU (TFLite's `QuantizeLeakyRelu`): the centred input rescaled by `sx/sy` where it
    /// is non-negative, by `sx·alpha/sy` where negative (ratios in float, as TFLite's Prepare).
    static func lowerIntegerLeakyRelu(_ l: NodeLowering) throws -> Bool {
        guard let x = l.int8Quantization(input: 0), let y = l.int8Quantization(output: 0) else { return false }
        let centred = try l.centered(0, x)
        let identity = FixedPoint.Multiplier(Double(x.scale / y.scale))
        let alpha = FixedPoint.Multiplier(Double(x.scale * l.float("alpha", 0) / y.scale))
        let negative = l.emit("Less", [centred, try l.scalar(0, .int32)])
        let scaled = l.emit(
            "Where",
            [negative, l.multipliedByQuantizedMultiplier(centred, [alpha]), l.multipliedByQuantizedMultiplier(centred, [identity])])
        try l.bindStored(0, scaled, zeroPoint: y.zeroPoint, clamp: -128...127)
        return true
    }

    /// TFLite's `CalculateActivationRangeQuantized` for an int8 output: the fused activation's
    /// bounds quantized (`round(f / scale)` half away from zero, plus the zero point) and
    /// intersected with [-128, 127]; nil for an activation that is not a clamp.
    static func quantizedActivationRange(_ activation: String, _ q: IntegerQuantization) -> ClosedRange<Int32>? {
        func quantized(_ f: Float) -> Int32? {
            let v = (f / q.scale).rounded(.toNearestOrAwayFromZero)
            guard v.isFinite, abs(v) < 1e9 else { return nil }
            return q.zeroPoint + Int32(v)
        }
        let bounds: (low: Float, high: Float?)
        switch activation {
        case "NONE": return -128...127
        case "RELU": bounds = (0, nil)
        case "RELU6": bounds = (0, 6)
        case "RELU_N1_TO_1": bounds = (-1, 1)
        default: return nil
        }
        guard let low = quantized(bounds.low) else { return nil }
        var high: Int32 = 127
        if let h = bounds.high {
            guard let v = quantized(h) else { return nil }
            high = min(high, v)
        }
        let lo = max(-128, low)
        return lo...max(lo, high)
    }
}

/// A per-tensor int8 quantization as TFLite's kernels read it.
struct IntegerQuantization {
    var scale: Float
    var zeroPoint: Int32
}

/// How `MultiplyByQuantizedMultiplier` rounds: gemmlowp's double rounding (a rounding doubling
/// high multiply, then a rounding right shift), or once (`TFLITE_SINGLE_ROUNDING`, as LiteRT's
/// per-channel FULLY_CONNECTED).
enum TFLiteRounding {
    case double, single
}

extension NodeLowering {
    /// The quantization of input `k` when it is an int8 value quantized per tensor.
    func int8Quantization(input k: Int) -> IntegerQuantization? { Self.int8(type(k)) }

    /// The quantization of output `k` when it is an int8 value quantized per tensor.
    func int8Quantization(output k: Int) -> IntegerQuantization? {
        k < node.outputs.count ? Self.int8(scope.types[node.outputs[k]]) : nil
    }

    private static func int8(_ t: ValueType?) -> IntegerQuantization? {
        guard t?.tensorElementType == .int8, let q = t?.quantization, q.storageType == .int8, q.scale.count == 1,
            let s = q.scale.first, s > 0, s.isFinite, let z = q.zeroPoint.first, let zp = Int32(exactly: z), (-128...127).contains(zp)
        else { return nil }
        return IntegerQuantization(scale: s, zeroPoint: zp)
    }

    /// An int8 scalar constant (a MatMulInteger zero point).
    func int8Scalar(_ v: Int32) throws -> String {
        guard let b = Int8(exactly: v) else { throw NotLowerable("zero point \(v) is not an int8") }
        return scope.constant(fresh() + "_zero_point", Tensor(dtype: .int8, shape: [], values: [b]))
    }

    /// Input `k`'s stored integers minus its zero point, as int32.
    func centered(_ k: Int, _ q: IntegerQuantization) throws -> String {
        let x = cast(try raw(k), to: .int32)
        return q.zeroPoint == 0 ? x : emit("Sub", [x, try scalar(Double(q.zeroPoint), .int32)])
    }

    /// TFLite's `MultiplyByQuantizedMultiplier` of an int32 value, element-wise: one multiplier,
    /// or one per index of the last axis (per-channel). The int32 result is bit-identical to
    /// `FixedPoint.multiplyByQuantizedMultiplier` (double rounding) or its single-rounding
    /// variant; products are formed in int64 and divided exactly (`floorDivided`), because ONNX
    /// has no arithmetic right shift for signed integers.
    func multipliedByQuantizedMultiplier(
        _ x: String, _ multipliers: [FixedPoint.Multiplier], rounding: TFLiteRounding = .double
    )
        -> String
    {
        let ms = Set(multipliers).count == 1 ? [multipliers[0]] : multipliers
        // A scalar per tensor, a vector along the last axis per channel.
        func int64s(_ values: [Int64]) -> String {
            scope.constant(fresh() + "_const", Tensor(dtype: .int64, shape: values.count == 1 ? [] : [values.count], values: values))
        }
        func int32s(_ values: [Int32]) -> String {
            scope.constant(fresh() + "_const", Tensor(dtype: .int32, shape: values.count == 1 ? [] : [values.count], values: values))
        }
        switch rounding {
        case .single:
            // (x·m + 2^(t-1)) >> t with t = 31 - shift: one rounding, half up.
            let totals = ms.map { Int64(31 - min(max($0.shift, -31), 30)) }
            let product = emit("Mul", [cast(x, to: .int64), int64s(ms.map { Int64($0.mantissa) })])
            let rounded = emit("Add", [product, int64s(totals.map { Int64(1) << ($0 - 1) })])
            return cast(floorDivided(rounded, by: int64s(totals.map { Int64(1) << $0 })), to: .int32)
        case .double:
            var v = x
            let lefts = ms.map { max($0.shift, 0) }
            // The left shift wraps in int32, as TFLite's.
            if lefts.contains(where: { $0 > 0 }) { v = emit("Mul", [v, int32s(lefts.map { Int32(1) << Int32($0) })]) }
            let product = emit("Mul", [cast(v, to: .int64), int64s(ms.map { Int64($0.mantissa) })])
            // SaturatingRoundingDoublingHighMul: floor((x·m + 2^30) / 2^31), gemmlowp's nudge
            // rounding halves up; the saturating case (both operands Int32.min) cannot occur as
            // no mantissa is Int32.min.
            var high = floorDivided(emit("Add", [product, int64s([1 << 30])]), by: int64s([1 << 31]))
            let rights = ms.map { Int64(max(-$0.shift, 0)) }
            if rights.contains(where: { $0 > 0 }) {
                // RoundingDivideByPOT: |h| / 2^r rounded half up, with h's sign (half away from zero).
                let magnitude = emit("Add", [emit("Abs", [high]), int64s(rights.map { $0 > 0 ? Int64(1) << ($0 - 1) : 0 })])
                let quotient = emit("Div", [magnitude, int64s(rights.map { Int64(1) << $0 })])
                high = emit("Mul", [quotient, emit("Sign", [high])])
            }
            return cast(high, to: .int32)
        }
    }

    /// `floor(a / d)` for int64 values and positive `d`: ONNX's integer Div truncates, so the
    /// remainder with the divisor's sign (Mod, fmod = 0) is taken off first and the division is exact.
    func floorDivided(_ a: String, by d: String) -> String {
        emit("Div", [emit("Sub", [a, emit("Mod", [a, d], attributes: [.int("fmod", 0)])]), d])
    }

    /// Makes int32 `value` plus `zeroPoint`, clamped to `clamp`, the int8 output `k`.
    func bindStored(_ k: Int, _ value: String, zeroPoint: Int32, clamp: ClosedRange<Int32>) throws {
        guard k < node.outputs.count, !node.outputs[k].isEmpty else { throw NotLowerable("output \(k) does not exist") }
        let shifted = zeroPoint == 0 ? value : emit("Add", [value, try scalar(Double(zeroPoint), .int32)])
        let clamped = emit("Clip", [shifted, try scalar(Double(clamp.lowerBound), .int32), try scalar(Double(clamp.upperBound), .int32)])
        scope.emit("Cast", [clamped], [node.outputs[k]], attributes: [.int("to", Int64(DType.int8.rawValue))])
        markBound(k)
    }
}
