import SwiftConvIR
import SwiftConvKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The remaining full-integer elementwise ops (DIV, EXP, LOG, SQRT, the comparisons) and
// REDUCE_PROD, each computed as LiteRT's reference kernel does so int8 outputs are bit-identical.

extension FixedPoint {
    /// gemmlowp's `one_over_one_plus_x_for_x_in_0_1`: `1/(1+x)` for a Q0.31 `x` in [0, 1),
    /// by three Newton-Raphson steps on the half denominator in Q2.29; the result is Q0.31.
    static func oneOverOnePlusX(_ a: Int32) -> Int32 {
        let sum = Int64(a) + Int64(Int32.max) // RoundingHalfSum with F0's one (the raw maximum)
        let halfDenominator = Int32(truncatingIfNeeded: (sum + (sum >= 0 ? 1 : -1)) / 2)
        let oneF2: Int32 = 1 << 29
        var x = Int32(1_515_870_810) &+ saturatingRoundingDoublingHighMul(halfDenominator, -1_010_580_540) // 48/17 - 32/17·d
        for _ in 0..<3 {
            let oneMinus = oneF2 &- saturatingRoundingDoublingHighMul(halfDenominator, x)
            x = x &+ saturatingRoundingMultiplyByPOT(saturatingRoundingDoublingHighMul(x, oneMinus), 2)
        }
        // Halving the value (F2 -> F1 keeps the raw), then F1 -> F0.
        return saturatingRoundingMultiplyByPOT(x, 1)
    }

    /// TFLite's `GetReciprocal` for a positive `x` with 31 integer digits: a Q0.31 mantissa of
    /// `1/x` and the number of bits the reciprocal was scaled up by.
    static func reciprocal(_ x: Int32) -> (mantissa: Int32, bitsOverUnit: Int) {
        let headroomPlusOne = UInt32(bitPattern: x).leadingZeroBitCount
        let shifted = Int32(bitPattern: (UInt32(bitPattern: x) << UInt32(headroomPlusOne)) &- (UInt32(1) << 31))
        return (oneOverOnePlusX(shifted), 31 - headroomPlusOne)
    }

    /// TFLite's `CountLeadingSignBits` of an int32 (31 for 0 and -1).
    static func leadingSignBits(_ x: Int32) -> Int {
        x >= 0 ? x.leadingZeroBitCount - 1 : (~x).leadingZeroBitCount - 1
    }

    /// `RoundingDivideByPOT` for any shift (a non-positive one is a plain left shift, as the
    /// reference kernels never reach it for sane scales); exponents past 31 are capped.
    static func roundingShiftRight(_ x: Int32, _ exponent: Int) -> Int32 {
        exponent <= 0 ? x &<< Int32(min(-exponent, 31)) : roundingDivideByPOT(x, min(exponent, 31))
    }
}

/// Quantized DIV (LiteRT's reference `DivElementwise`): signs flipped so the divisor is
/// positive, its reciprocal in Q0.31 (`GetReciprocal`), the dividend shifted up by its headroom and high-multiplied by it, then
/// rescaled by `s1 / (s2 · so)` (float product, as Prepare computes it) with the combined shift,
/// offset and clamped to the fused activation. A zero divisor (undefined in LiteRT) saturates.
struct IntegerDivKernel: Kernel {
    let offset1: Int32, offset2: Int32, outputOffset: Int32
    let multiplier: FixedPoint.Multiplier
    let clamp: ClosedRange<Int32>
    let outputType: DType

    init(_ ctx: KernelBuildContext) throws {
        let a = try TensorQuant(ctx.quantization(ofInput: 0), "input 0", ctx)
        let b = try TensorQuant(ctx.quantization(ofInput: 1), "input 1", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard a.storage == o.storage, b.storage == o.storage, o.storage != .int16 else {
            throw SwiftConvError.unsupportedOp("DIV of \(a.storage) and \(b.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        offset1 = -a.zeroPoint
        offset2 = -b.zeroPoint
        outputOffset = o.zeroPoint
        multiplier = FixedPoint.Multiplier(Double(a.scale / (b.scale * o.scale)))
        clamp = try quantizedActivationRange(ctx.fusedActivation, o, ctx)
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), y = try inputs.tensor(1)
        // The broadcast result is sized by the model: refused cleanly when past the run's caps.
        try checkTemporary(checkedElementCount(broadcastShapes(x.shape, y.shape)), of: Int32.self, "DIV's output")
        let (out, shape) = try broadcastInt32(try widenedIntegers(x), x.shape, try widenedIntegers(y), y.shape) { p, q in
            var dividend = p &+ offset1, divisor = q &+ offset2
            guard divisor != 0 else { return dividend >= 0 ? clamp.upperBound : clamp.lowerBound }
            if divisor < 0 {
                // LiteRT flips both signs so the reciprocal stays positive.
                dividend = 0 &- dividend
                divisor = 0 &- divisor
            }
            let r = FixedPoint.reciprocal(divisor)
            let headroom = FixedPoint.leadingSignBits(dividend)
            let unscaled = FixedPoint.saturatingRoundingDoublingHighMul(dividend &<< Int32(headroom), r.mantissa)
            let totalShift = multiplier.shift - r.bitsOverUnit - headroom
            let scaled = FixedPoint.roundingShiftRight(
                FixedPoint.saturatingRoundingDoublingHighMul(unscaled, multiplier.mantissa), -totalShift)
            return min(max(scaled &+ outputOffset, clamp.lowerBound), clamp.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: shape))]
    }
}

/// LiteRT's `LUTPopulate` table for an 8-bit op: dequantize, transform in float,
/// `round(y / so)` plus the zero point in float, converted to int32 the way x86's truncating
/// conversion does (NaN, infinities and out-of-range values become Int32.min, so the clamp
/// gives the storage minimum), then clamped. `truncate` drops the fraction of `y / so` instead
/// of rounding it (LiteRT's int8 SQRT: its outputs match truncation on every fixture value,
/// rounding misses 18 of 30).
func lutTable(_ i: TensorQuant, _ o: TensorQuant, truncate: Bool = false, _ transform: (Float) -> Float) -> [Int32] {
    let r = i.range
    let inverse = 1 / o.scale
    return (r.lowerBound...r.upperBound).map { v in
        let scaled = transform(i.scale * Float(v - i.zeroPoint)) * inverse
        let y = scaled.rounded(truncate ? .towardZero : .toNearestOrAwayFromZero) + Float(o.zeroPoint)
        let q = y.isFinite && y >= -2_147_483_648 && y < 2_147_483_648 ? Int32(y) : Int32.min
        return min(max(q, r.lowerBound), r.upperBound)
    }
}

/// Quantized EXP, LOG and SQRT: a 256-entry table prepared as LiteRT's `LUTPopulate` does
/// (SQRT truncating, see `lutTable`).
struct IntegerTableKernel: Kernel {
    let table: [Int32]
    let minimum: Int32
    let outputType: DType

    init(_ ctx: KernelBuildContext, truncate: Bool = false, _ transform: (Float) -> Float) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == o.storage, i.storage == .int8 || i.storage == .uint8 else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        table = lutTable(i, o, truncate: truncate, transform)
        minimum = i.range.lowerBound
        outputType = o.storage
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let out = try widenedIntegers(x).map { v -> Int32 in
            let k = Int(v) - Int(minimum)
            return k >= 0 && k < table.count ? table[k] : minimum
        }
        return [.tensor(narrowedTensor(out, dtype: outputType, shape: x.shape))]
    }
}

/// Quantized EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL (LiteRT's
/// `ComparisonWithScaling`): each side offset, shifted left 8 bits and multiplied by its own
/// scale (quantized as a multiplier smaller than one), so both land on one common scale.
struct IntegerCompareKernel: Kernel {
    let offset1: Int32, offset2: Int32
    let m1: FixedPoint.Multiplier, m2: FixedPoint.Multiplier
    let op: String

    init(_ ctx: KernelBuildContext) throws {
        let a = try TensorQuant(ctx.quantization(ofInput: 0), "input 0", ctx)
        let b = try TensorQuant(ctx.quantization(ofInput: 1), "input 1", ctx)
        guard a.storage == b.storage, a.storage == .int8 || a.storage == .uint8 else {
            throw SwiftConvError.unsupportedOp("\(ctx.node.opType) of \(a.storage) and \(b.storage)").at(ctx.nodeContext)
        }
        offset1 = -a.zeroPoint
        offset2 = -b.zeroPoint
        m1 = FixedPoint.Multiplier(Double(a.scale))
        m2 = FixedPoint.Multiplier(Double(b.scale))
        op = ctx.node.opType
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), y = try inputs.tensor(1)
        // The broadcast result is sized by the model: refused cleanly when past the run's caps.
        try checkTemporary(checkedElementCount(broadcastShapes(x.shape, y.shape)), of: Int32.self, "\(op)'s output")
        let test: (Int32, Int32) -> Bool =
            switch op {
            case "EQUAL": (==)
            case "NOT_EQUAL": (!=)
            case "LESS": (<)
            case "LESS_EQUAL": (<=)
            case "GREATER": (>)
            default: (>=)
            }
        let (out, shape) = try broadcastInt32(try widenedIntegers(x), x.shape, try widenedIntegers(y), y.shape) { p, q in
            test(m1.apply((p &+ offset1) &<< 8), m2.apply((q &+ offset2) &<< 8)) ? 1 : 0
        }
        let bytes = out.map { UInt8(truncatingIfNeeded: $0) }
        return [.tensor(Tensor(dtype: .bool, shape: shape, storage: TensorStorage(copyingArray: bytes)))]
    }
}

/// Quantized REDUCE_PROD (LiteRT's `QuantizedReduceProd`): the first offset value of each
/// output starts the product, every further factor multiplies it in 64 bits and rescales by
/// `sin / so^(1/n)` (n = number of reduced elements), and a last rescale by the same factor
/// leaves `sin^n / so` applied overall; row-major order, as the reference iterates.
struct IntegerReduceProdKernel: Kernel {
    let axes: [Int64]
    let keepDims: Bool
    let input: TensorQuant, output: TensorQuant

    init(_ ctx: KernelBuildContext) throws {
        guard let a = ctx.constant(1), a.dtype == .int32 || a.dtype == .int64, let values = a.int64Values() else {
            throw SwiftConvError.unsupportedOp("a quantized REDUCE_PROD needs constant int axes").at(ctx.nodeContext)
        }
        axes = values
        keepDims = ctx.int("keep_dims", default: 0) != 0
        input = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        output = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard input.storage == output.storage, input.storage == .int8 || input.storage == .int16 else {
            throw SwiftConvError.unsupportedOp("REDUCE_PROD of \(input.storage) into \(output.storage)").at(ctx.nodeContext)
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let rank = x.shape.count
        var reduced = [Bool](repeating: false, count: rank)
        // A scalar has no axis to reduce (axes would index past `reduced`).
        guard rank > 0 || axes.isEmpty else { throw kernelError("REDUCE_PROD of a scalar has no axis \(axes)") }
        for a in axes { reduced[try normalizeAxis(a, rank: rank)] = true }
        let outShape = x.shape.enumerated().compactMap { i, d in reduced[i] ? (keepDims ? 1 : nil) : d }
        let keptShape = x.shape.enumerated().map { i, d in reduced[i] ? 1 : d }
        let n = x.shape.enumerated().reduce(1) { $0 * (reduced[$1.offset] ? $1.element : 1) }
        let scaling = FixedPoint.Multiplier(Double(input.scale) / pow(Double(output.scale), 1.0 / Double(max(n, 1))))
        guard scaling.shift < 8 else { throw kernelError("REDUCE_PROD's rescale factor is too large") }
        let xs = try widenedIntegers(x)
        var acc = [Int32](repeating: 0, count: keptShape.reduce(1, *))
        var started = [Bool](repeating: false, count: acc.count)
        let outStrides = contiguousStrides(keptShape)
        var index = [Int](repeating: 0, count: rank)
        for v in xs {
            var o = 0
            for d in 0..<rank where !reduced[d] { o += index[d] * outStrides[d] }
            let factor = v &- input.zeroPoint
            if started[o] {
                acc[o] = FixedPoint.multiplyByQuantizedMultiplier(Int64(acc[o]) &* Int64(factor), scaling.mantissa, scaling.shift)
            } else {
                acc[o] = factor
                started[o] = true
            }
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < x.shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        let r = output.range
        let out = acc.map { a in
            min(
                max(FixedPoint.multiplyByQuantizedMultiplier(Int64(a), scaling.mantissa, scaling.shift) &+ output.zeroPoint, r.lowerBound),
                r.upperBound)
        }
        return [.tensor(narrowedTensor(out, dtype: output.storage, shape: outShape))]
    }
}

extension FixedPoint {
    /// gemmlowp's `RoundingHalfSum` of two int32 raws: `(a + b) / 2` rounded half away from zero.
    static func roundingHalfSum(_ a: Int32, _ b: Int32) -> Int32 {
        let sum = Int64(a) + Int64(b)
        return Int32(truncatingIfNeeded: (sum + (sum >= 0 ? 1 : -1)) / 2)
    }

    /// Saturating int32 addition (TFLite's `SaturatingAddNonGemmlowp`).
    static func saturatingAdd(_ a: Int32, _ b: Int32) -> Int32 { Int32(clamping: Int64(a) + Int64(b)) }

    /// gemmlowp's `exp_on_interval_between_negative_one_quarter_and_0_excl` (Q0.31 in and
    /// out): a Taylor expansion of degree 4 around -1/8.
    static func expOnQuarterInterval(_ a: Int32) -> Int32 {
        let constantTerm: Int32 = 1_895_147_668 // exp(-1/8)
        let oneThird: Int32 = 715_827_883
        let x = a &+ (1 << 28)
        let x2 = saturatingRoundingDoublingHighMul(x, x)
        let x3 = saturatingRoundingDoublingHighMul(x2, x)
        let x4 = saturatingRoundingDoublingHighMul(x2, x2)
        let x4Over4 = saturatingRoundingMultiplyByPOT(x4, -2)
        let poly = saturatingRoundingMultiplyByPOT(saturatingRoundingDoublingHighMul(x4Over4 &+ x3, oneThird) &+ x2, -1)
        return constantTerm &+ saturatingRoundingDoublingHighMul(constantTerm, x &+ poly)
    }

    /// gemmlowp's `exp_on_negative_values` for a Q`integerBits` input (at most 5 integer bits
    /// here, so no clamp below -32): the value modulo 1/4 through the Taylor expansion, the rest
    /// by multiplying in exp(-2^k) for each set bit; exp(0) is one (the Q0.31 maximum).
    static func expOnNegativeValues(_ a: Int32, integerBits: Int) -> Int32 {
        let fractionalBits = 31 - integerBits
        let quarter = Int32(1) << Int32(fractionalBits - 2)
        let modQuarterMinusQuarter = (a & (quarter - 1)) &- quarter
        var result = expOnQuarterInterval(saturatingRoundingMultiplyByPOT(modQuarterMinusQuarter, integerBits))
        let remainder = modQuarterMinusQuarter &- a
        let barrel: [(Int, Int32)] = [
            (-2, 1_672_461_947), (-1, 1_302_514_674), (0, 790_015_084), (1, 290_630_308), (2, 39_332_535), (3, 720_401), (4, 242),
        ]
        for (exponent, multiplier) in barrel where integerBits > exponent {
            if remainder & (Int32(1) << Int32(fractionalBits + exponent)) != 0 {
                result = saturatingRoundingDoublingHighMul(result, multiplier)
            }
        }
        return a == 0 ? Int32.max : result
    }

    /// TFLite's `log_x_for_x_greater_than_or_equal_to_1_impl`: ln of a Q`inputBits` value as a
    /// Q`outputBits` value, from the power of two (accumulated with one extra integer bit) and
    /// a rational approximation of the mantissa's log.
    static func logOfAtLeastOne(_ input: Int32, inputBits: Int, outputBits: Int) -> Int32 {
        let log2: Int32 = 1_488_522_236, sqrtSqrtHalf: Int32 = 1_805_811_301, sqrtHalf: Int32 = 1_518_500_250
        let alphaN: Int32 = 117_049_297, alphaD: Int32 = 127_690_142, alphaI: Int32 = 1_057_819_769, alphaF: Int32 = 638_450_708
        let accumBits = outputBits + 1
        let shiftedQuarter = saturatingRoundingMultiplyByPOT(536_870_912, -accumBits)
        let za = input
        let zaHeadroomPlusOne = UInt32(bitPattern: za).leadingZeroBitCount
        let raTmp = saturatingRoundingMultiplyByPOT(za, zaHeadroomPlusOne - 1)
        let raRaw = saturatingRoundingMultiplyByPOT(saturatingRoundingDoublingHighMul(raTmp, sqrtHalf), 1)
        let zaPow2Adj = saturatingAdd(
            saturatingRoundingMultiplyByPOT(Int32(inputBits - zaHeadroomPlusOne), 31 - accumBits), shiftedQuarter)
        let zb = saturatingRoundingDoublingHighMul(za, sqrtHalf)
        let zbHeadroom = UInt32(bitPattern: zb).leadingZeroBitCount - 1
        let rbRaw = saturatingRoundingMultiplyByPOT(za, zbHeadroom)
        let zbPow2Adj = Int32(
            clamping: Int64(saturatingRoundingMultiplyByPOT(Int32(inputBits - zbHeadroom), 31 - accumBits)) - Int64(shiftedQuarter))
        let r = min(raRaw, rbRaw)
        let zPow2Adj = max(zaPow2Adj, zbPow2Adj)
        let p = roundingHalfSum(r, sqrtSqrtHalf)
        var q = r &- sqrtSqrtHalf
        q = q &+ q
        let commonSq = saturatingRoundingDoublingHighMul(q, q)
        let num =
            saturatingRoundingDoublingHighMul(q, r)
            &+ saturatingRoundingDoublingHighMul(saturatingRoundingDoublingHighMul(q, commonSq), alphaN)
        let denomMinusOne =
            saturatingRoundingDoublingHighMul(p, alphaI &+ q &+ saturatingRoundingDoublingHighMul(alphaD, commonSq))
            &+ saturatingRoundingDoublingHighMul(alphaF, q)
        let recipDenom = oneOverOnePlusX(denomMinusOne)
        let numScaled = saturatingRoundingMultiplyByPOT(num, -accumBits)
        let sum = saturatingRoundingDoublingHighMul(zPow2Adj, log2) &+ saturatingRoundingDoublingHighMul(numScaled, recipDenom)
        return saturatingRoundingMultiplyByPOT(sum, accumBits - outputBits)
    }
}

/// Quantized int8 LOG_SOFTMAX over the last axis (LiteRT's `reference_integer_ops::LogSoftmax`):
/// differences to the row maximum rescaled to Q5.26, their exponentials summed in Q12.19, the
/// log of the sum in Q5.26, and each output `(diff - log sum) / 2^22 + 127`; differences too
/// negative for the range give -128. LiteRT requires the output scale 16/256 and zero point 127.
struct IntegerLogSoftmaxKernel: Kernel {
    let inputMultiplier: FixedPoint.Multiplier
    let reverseMultiplier: FixedPoint.Multiplier
    let diffMin: Int32

    init(_ ctx: KernelBuildContext) throws {
        let i = try TensorQuant(ctx.quantization(ofInput: 0), "input", ctx)
        let o = try TensorQuant(ctx.quantization(ofOutput: 0), "output", ctx)
        guard i.storage == .int8, o.storage == .int8 else {
            throw SwiftConvError.unsupportedOp("LOG_SOFTMAX of \(i.storage) into \(o.storage)").at(ctx.nodeContext)
        }
        guard o.scale == 16.0 / 256, o.zeroPoint == 127 else {
            throw ctx.invalid("an int8 LOG_SOFTMAX output must have scale 1/16 and zero point 127")
        }
        // PreprocessLogSoftmaxScalingExp with beta 1 and 5 integer bits for the scaled differences.
        let real = min(Double(i.scale) * Double(1 << 26), Double((Int64(1) << 31) - 1))
        let m = FixedPoint.Multiplier(real)
        guard m.shift >= 0, m.mantissa > 0 else { throw ctx.invalid("input scale \(i.scale) is too small for LOG_SOFTMAX") }
        inputMultiplier = m
        reverseMultiplier = FixedPoint.Multiplier(Double(Int64(1) << (31 - m.shift)) / Double(m.mantissa))
        // -CalculateInputRadius(5, left shift): floor(31 · 2^26 / 2^shift).
        diffMin = -Int32((31.0 * Double(1 << 26) / Double(Int64(1) << m.shift)).rounded(.down))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard let depth = x.shape.last, depth > 0 else { return [.tensor(narrowedTensor([], dtype: .int8, shape: x.shape))] }
        let xs = try widenedIntegers(x)
        var out = [Int32](repeating: -128, count: xs.count)
        for row in stride(from: 0, to: xs.count, by: depth) {
            var maxInRow: Int32 = -128
            for j in 0..<depth { maxInRow = max(maxInRow, xs[row + j]) }
            var sumOfExps: Int32 = 0 // Q12.19
            for j in 0..<depth {
                let diff = xs[row + j] - maxInRow
                if diff >= diffMin {
                    let scaled = inputMultiplier.apply(diff)
                    sumOfExps = sumOfExps &+ FixedPoint.roundingDivideByPOT(FixedPoint.expOnNegativeValues(scaled, integerBits: 5), 12)
                }
            }
            let logSum = FixedPoint.logOfAtLeastOne(sumOfExps, inputBits: 12, outputBits: 5)
            let adjustedDiffMin = max(diffMin - 1, reverseMultiplier.apply(logSum &+ Int32.min))
            for j in 0..<depth {
                let diff = xs[row + j] - maxInRow
                guard diff > adjustedDiffMin else { continue }
                let scaled = inputMultiplier.apply(diff)
                let v = FixedPoint.roundingDivideByPOT(scaled &- logSum, 22) &+ 127
                out[row + j] = min(max(v, -128), 127)
            }
        }
        return [.tensor(narrowedTensor(out, dtype: .int8, shape: x.shape))]
    }
}
