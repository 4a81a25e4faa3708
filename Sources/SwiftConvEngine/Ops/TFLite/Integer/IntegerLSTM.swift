import RealModule
import SwiftConvIR
import SwiftConvKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// UNIDIRECTIONAL_SEQUENCE_LSTM's integer forms, as LiteRT's lstm_eval computes them:
// full-integer ("8x8_16": int8 activations and weights, int16 cell state, Q3.12 gate sums)
// and dynamic-range ("hybrid": float activations quantized per row on the fly, int8 weights).
// Inputs (TFLite order): 0 input; 1-4 input-to-{i,f,c,o} weights; 5-8 recurrent-to-{i,f,c,o};
// 9-11 cell-to-{i,f,o} peepholes; 12-15 gate biases; 16/17 projection weights/bias;
// 18 output state; 19 cell state; 20-23 layer-norm coefficients.

/// The shared shape checks of both integer LSTM forms, done once at session creation.
private struct LSTMLayout {
    let nInput: Int, nCell: Int, nOutput: Int
    let cifg: Bool

    init(_ ctx: KernelBuildContext) throws {
        guard ctx.node.inputs.count >= 20 else { throw ctx.invalid("UNIDIRECTIONAL_SEQUENCE_LSTM needs at least 20 inputs") }
        guard let wf = ctx.constant(2), wf.rank == 2 else {
            throw SwiftConvError.unsupportedOp("an integer LSTM needs constant rank-2 input-to-forget weights").at(ctx.nodeContext)
        }
        (nCell, nInput) = (wf.shape[0], wf.shape[1])
        cifg = !ctx.hasInput(1)
        if ctx.hasInput(16) {
            guard let p = ctx.constant(16), p.rank == 2, p.shape[1] == nCell else {
                throw ctx.invalid("projection weights must be constant [output, \(nCell)]")
            }
            nOutput = p.shape[0]
        } else {
            nOutput = nCell
        }
        guard nCell > 0, nInput > 0, nOutput > 0 else { throw ctx.invalid("LSTM weights must not be empty") }
        if cifg != !ctx.hasInput(5) { throw ctx.invalid("input-gate weights must be given together") }
        if ctx.int("diagonal_recurrent_tensors", default: 0) != 0 {
            throw SwiftConvError.unsupportedOp("an integer LSTM with diagonal recurrent weights").at(ctx.nodeContext)
        }
    }

    /// The constant int8 weights of input `i`, checked to be `[rows, cols]` (`[cols]` when
    /// `rows` is nil: a peephole), with their per-tensor scale.
    func weights(_ ctx: KernelBuildContext, _ i: Int, rows: Int?, cols: Int) throws -> (values: [Int8], scale: Float) {
        guard let t = ctx.constant(i) else {
            throw SwiftConvError.unsupportedOp("an integer LSTM needs constant weights (input \(i))").at(ctx.nodeContext)
        }
        guard t.dtype == .int8 else {
            throw SwiftConvError.unsupportedOp("LSTM weights of type \(t.dtype) (input \(i))").at(ctx.nodeContext)
        }
        let expected = rows.map { [$0, cols] } ?? [cols]
        guard t.shape == expected else { throw ctx.invalid("LSTM input \(i) has shape \(t.shape), expected \(expected)") }
        let q = try TensorQuant(ctx.quantization(ofInput: i), "LSTM weights (input \(i))", ctx)
        guard q.zeroPoint == 0 else { throw ctx.invalid("LSTM weights (input \(i)) must be symmetric (zero point 0)") }
        guard q.scale.isFinite, q.scale > 0 else { throw ctx.invalid("LSTM weights (input \(i)) scale \(q.scale) must be positive") }
        return (t.values(as: Int8.self), q.scale)
    }

    /// The sums of each row of a row-major `[rows, cols]` matrix.
    static func rowSums(_ w: [Int8], rows: Int, cols: Int) -> [Int32] {
        (0..<rows).map { r in w[(r * cols)..<((r + 1) * cols)].reduce(Int32(0)) { $0 &+ Int32($1) } }
    }
}

/// The integer dot product of one int8 row with an int8 vector, wrapping like int32 C++ code.
@inline(__always)
private func dot(_ w: UnsafeBufferPointer<Int8>, _ row: Int, _ v: UnsafeBufferPointer<Int8>, _ vOffset: Int, _ n: Int) -> Int32 {
    var acc: Int32 = 0
    let base = row * n
    for k in 0..<n { acc &+= Int32(w[base + k]) &* Int32(v[vOffset + k]) }
    return acc
}

/// The full-integer LSTM (LiteRT's `EvalInteger8x8_16`). Each gate sum is two int8 GEMVs with
/// zero-point-folded int32 biases, each rescaled to Q3.12 and added with int16 saturation,
/// then gemmlowp's 16-bit sigmoid (or tanh for the cell gate) gives Q0.15. The int16 cell
/// state has a power-of-two scale; the hidden state is `o * tanh(c)` requantized with the
/// scale and zero point of the op's fifth intermediate tensor.
struct IntegerLSTMKernel: Kernel {
    struct Gate {
        var input: [Int8], recurrent: [Int8]
        /// Gate bias plus `-zero point * row sum` of the weights (input side), or of the
        /// recurrent weights against the output state's zero point.
        var inputBias: [Int32], recurrentBias: [Int32]
        var inputMultiplier: FixedPoint.Multiplier, recurrentMultiplier: FixedPoint.Multiplier
    }

    let nInput: Int, nCell: Int, nOutput: Int
    let timeMajor: Bool
    /// Input, forget, cell, output gates (the input gate nil when CIFG).
    let gates: [Gate?]
    /// log2 of the cell state's scale.
    let cellScalePower: Int
    let cellClip: Int16
    let hiddenMultiplier: FixedPoint.Multiplier
    let hiddenZeroPoint: Int32
    let projection: (weights: [Int8], bias: [Int32], multiplier: FixedPoint.Multiplier)?
    let projClip: Int8
    let outputStateZeroPoint: Int32
    let outputQuant: QuantParams?

    init(_ ctx: KernelBuildContext) throws {
        let layout = try LSTMLayout(ctx)
        (nInput, nCell, nOutput) = (layout.nInput, layout.nCell, layout.nOutput)
        timeMajor = ctx.int("time_major", default: 0) != 0
        func unsupported(_ what: String) -> SwiftConvError { SwiftConvError.unsupportedOp(what).at(ctx.nodeContext) }
        guard ctx.inputType(0)?.tensorElementType == .int8 else { throw unsupported("an integer LSTM with a non-int8 input") }
        if ctx.hasInput(9) || ctx.hasInput(10) || ctx.hasInput(11) { throw unsupported("a full-integer LSTM with peepholes") }
        if ctx.hasInput(21) { throw unsupported("a full-integer LSTM with layer normalization") }
        let input = try TensorQuant(ctx.quantization(ofInput: 0), "the LSTM input", ctx)
        guard ctx.hasInput(18), ctx.hasInput(19) else { throw ctx.invalid("a full-integer LSTM needs its output and cell state tensors") }
        let outputState = try TensorQuant(ctx.quantization(ofInput: 18), "the LSTM output state", ctx)
        let cellState = try TensorQuant(ctx.quantization(ofInput: 19), "the LSTM cell state", ctx)
        for (q, what) in [(input, "input"), (outputState, "output state"), (cellState, "cell state")] {
            guard q.scale.isFinite, q.scale > 0 else { throw ctx.invalid("the LSTM \(what) scale \(q.scale) must be positive") }
        }
        guard outputState.storage == .int8 else { throw unsupported("an integer LSTM with a \(outputState.storage) output state") }
        guard cellState.storage == .int16 else {
            throw unsupported("an integer LSTM with a \(cellState.storage) cell state (only the int16 form)")
        }
        // TFLite's CheckedLog2: the cell scale must be a power of two.
        let log2 = log2(Double(cellState.scale))
        guard log2.isFinite, abs(log2 - log2.rounded()) < 1e-3 else {
            throw ctx.invalid("the LSTM cell state scale \(cellState.scale) is not a power of two")
        }
        cellScalePower = Int(log2.rounded())
        // ApplyTanh supports 0...6 integer bits; the cell update's shift must stay in 0...31.
        guard (0...6).contains(15 + cellScalePower) else {
            throw unsupported("an LSTM cell state scale of 2^\(cellScalePower) (TFLite supports 2^-15...2^-9)")
        }
        let intermediates = try Self.intermediates(ctx)
        guard intermediates.count == 5 else {
            throw unsupported("a full-integer LSTM with \(intermediates.count) intermediate tensors (the int16-cell form has 5)")
        }
        let hidden = try TensorQuant(intermediates[4], "the LSTM hidden intermediate", ctx)
        guard hidden.scale.isFinite, hidden.scale > 0 else { throw ctx.invalid("the LSTM hidden scale \(hidden.scale) must be positive") }
        hiddenZeroPoint = hidden.zeroPoint
        outputStateZeroPoint = outputState.zeroPoint
        // Without layer norm every gate sum is Q3.12.
        let gateScale = Float(1.0 / 4096.0)
        var gates: [Gate?] = []
        for g in 0..<4 {
            if g == 0 && layout.cifg {
                gates.append(nil)
                continue
            }
            let wi = try layout.weights(ctx, 1 + g, rows: nCell, cols: nInput)
            let wr = try layout.weights(ctx, 5 + g, rows: nCell, cols: nOutput)
            var bias = [Int32](repeating: 0, count: nCell)
            if ctx.hasInput(12 + g) {
                guard let b = ctx.constant(12 + g), b.dtype == .int32, b.shape == [nCell] else {
                    throw ctx.invalid("gate bias (input \(12 + g)) must be a constant int32 [\(nCell)]")
                }
                bias = b.values(as: Int32.self)
            }
            let inSums = LSTMLayout.rowSums(wi.values, rows: nCell, cols: nInput)
            let recSums = LSTMLayout.rowSums(wr.values, rows: nCell, cols: nOutput)
            gates.append(
                Gate(
                    input: wi.values, recurrent: wr.values,
                    inputBias: (0..<nCell).map { bias[$0] &+ inSums[$0] &* (0 &- input.zeroPoint) },
                    recurrentBias: recSums.map { $0 &* (0 &- outputState.zeroPoint) },
                    // Float arithmetic in TFLite's order: weight scale * input scale / gate scale.
                    inputMultiplier: FixedPoint.Multiplier(Double(wi.scale * input.scale / gateScale)),
                    recurrentMultiplier: FixedPoint.Multiplier(Double(wr.scale * outputState.scale / gateScale))))
        }
        self.gates = gates
        let twoToMinus15 = Float(1.0 / 32768.0)
        hiddenMultiplier = FixedPoint.Multiplier(Double(twoToMinus15 / hidden.scale * twoToMinus15))
        let cellClipReal = ctx.float("cell_clip", default: 0)
        let projClipReal = ctx.float("proj_clip", default: 0)
        guard cellClipReal.isFinite, cellClipReal >= 0, projClipReal.isFinite, projClipReal >= 0 else {
            throw ctx.invalid("cell_clip and proj_clip must be finite and not negative")
        }
        cellClip = Int16(min(max(cellClipReal / cellState.scale, -32768), 32767))
        if ctx.hasInput(16) {
            let wp = try layout.weights(ctx, 16, rows: nOutput, cols: nCell)
            var bias = [Int32](repeating: 0, count: nOutput)
            if ctx.hasInput(17) {
                guard let b = ctx.constant(17), b.dtype == .int32, b.shape == [nOutput] else {
                    throw ctx.invalid("projection bias must be a constant int32 [\(nOutput)]")
                }
                bias = b.values(as: Int32.self)
            }
            let sums = LSTMLayout.rowSums(wp.values, rows: nOutput, cols: nCell)
            // The hidden state feeding the projection is stored with its zero point negated.
            let effective = (0..<nOutput).map { bias[$0] &+ sums[$0] &* hidden.zeroPoint }
            projection = (wp.values, effective, FixedPoint.Multiplier(Double(wp.scale * hidden.scale / outputState.scale)))
            projClip = Int8(min(max(projClipReal / outputState.scale, -128), 127))
        } else {
            projection = nil
            projClip = 0
        }
        outputQuant = ctx.quantization(ofOutput: 0)
    }

    /// The quantization of each of the node's `intermediates` tensors (node metadata
    /// `tflite.intermediates`, a JSON list of value names).
    static func intermediates(_ ctx: KernelBuildContext) throws -> [QuantParams?] {
        guard let text = ctx.node.metadata.first(where: { $0.key == "tflite.intermediates" })?.value else { return [] }
        guard let names = jsonStringList(text) else {
            throw ctx.invalid("node metadata tflite.intermediates is not a JSON list of names")
        }
        return names.map { ctx.valueTypes[$0]?.quantization }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype == .int8, x.rank == 3, x.shape[2] == nInput else {
            throw kernelError("UNIDIRECTIONAL_SEQUENCE_LSTM expects an int8 [batch, time, \(nInput)] input, got \(x.dtype) \(x.shape)")
        }
        let steps = timeMajor ? x.shape[0] : x.shape[1], batch = timeMajor ? x.shape[1] : x.shape[0]
        func state<T>(_ i: Int, _ dtype: DType, _ count: Int, _ type: T.Type) throws -> [T]? {
            guard let t = inputs.optionalTensor(i) else { return nil }
            guard t.dtype == dtype, t.elementCount == count else {
                throw kernelError("LSTM state input \(i) must be \(dtype) with \(count) elements, got \(t.dtype) \(t.shape)")
            }
            return t.values(as: T.self)
        }
        let (hCount, o1) = batch.multipliedReportingOverflow(by: nOutput)
        let (cCount, o2) = batch.multipliedReportingOverflow(by: nCell)
        guard !o1, !o2 else { throw kernelError("LSTM state size overflows") }
        var h = try state(18, .int8, hCount, Int8.self) ?? [Int8](repeating: 0, count: hCount)
        var c = try state(19, .int16, cCount, Int16.self) ?? [Int16](repeating: 0, count: cCount)
        let outCount = try Checked.product([steps, batch, nOutput], "the LSTM output")
        var out = [Int8](repeating: 0, count: outCount)
        let xs = x.values(as: Int8.self)
        var gateValues = [[Int16]](repeating: [Int16](repeating: 0, count: nCell), count: 4)
        var hidden = [Int8](repeating: 0, count: nCell)
        for t in 0..<steps {
            try context.checkTerminated()
            for b in 0..<batch {
                let row = timeMajor ? t * batch + b : b * steps + t
                try step(xs, row * nInput, &h, b * nOutput, &c, b * nCell, &gateValues, &hidden)
                for o in 0..<nOutput { out[row * nOutput + o] = h[b * nOutput + o] }
            }
        }
        let shape = timeMajor ? [steps, batch, nOutput] : [batch, steps, nOutput]
        var result = Tensor(dtype: .int8, shape: shape, values: out)
        result.quantization = outputQuant
        return [.tensor(result)]
    }

    /// One time step of one batch row (LiteRT's `LstmStepInteger8x8_16` with n_batch 1).
    private func step(
        _ xs: [Int8], _ xOffset: Int, _ h: inout [Int8], _ hOffset: Int, _ c: inout [Int16], _ cOffset: Int,
        _ gv: inout [[Int16]], _ hidden: inout [Int8]
    ) throws {
        let (nInput, nCell, nOutput) = (self.nInput, self.nCell, self.nOutput)
        let hRow = Array(h[hOffset..<(hOffset + nOutput)])
        for (g, gate) in gates.enumerated() {
            guard let gate else { continue }
            xs.withUnsafeBufferPointer { xb in
                hRow.withUnsafeBufferPointer { hb in
                    gate.input.withUnsafeBufferPointer { wi in
                        gate.recurrent.withUnsafeBufferPointer { wr in
                            for u in 0..<nCell {
                                // Two saturating accumulations into the zeroed int16 gate.
                                var acc = gate.inputMultiplier.apply(gate.inputBias[u] &+ dot(wi, u, xb, xOffset, nInput))
                                acc = min(max(acc, -32768), 32767)
                                acc = gate.recurrentMultiplier.apply(gate.recurrentBias[u] &+ dot(wr, u, hb, 0, nOutput)) &+ acc
                                let sum = Int16(min(max(acc, -32768), 32767))
                                gv[g][u] =
                                    g == 2
                                    ? FixedPointInt16.tanh(sum, integerBits: 3) : FixedPointInt16.logistic(sum, integerBits: 3)
                            }
                        }
                    }
                }
            }
        }
        if gates[0] == nil { for u in 0..<nCell { gv[0][u] = Int16.max &- gv[1][u] } }
        // Cell update: c = f*c (Q0.15 * cell scale) + i*g (Q0.15 * Q0.15 rescaled to the cell scale).
        let shift = 30 + cellScalePower
        for u in 0..<nCell {
            let fc = Int16(truncatingIfNeeded: FixedPoint.roundingDivideByPOT(Int32(gv[1][u]) * Int32(c[cOffset + u]), 15))
            let ig = Int16(truncatingIfNeeded: FixedPoint.roundingDivideByPOT(Int32(gv[0][u]) * Int32(gv[2][u]), shift))
            var v = min(max(Int32(fc) + Int32(ig), -32768), 32767)
            if cellClip > 0 { v = min(max(v, -Int32(cellClip)), Int32(cellClip)) }
            c[cOffset + u] = Int16(v)
        }
        // Hidden: o * tanh(c), requantized to int8.
        let tanhBits = 15 + cellScalePower
        let zp = projection == nil ? hiddenZeroPoint : 0 &- hiddenZeroPoint
        for u in 0..<nCell {
            let t = FixedPointInt16.tanh(c[cOffset + u], integerBits: tanhBits)
            let v = hiddenMultiplier.apply(Int32(gv[3][u]) * Int32(t)) &+ zp
            hidden[u] = Int8(min(max(v, -128), 127))
        }
        guard let projection else {
            for o in 0..<nOutput { h[hOffset + o] = hidden[o] }
            return
        }
        hidden.withUnsafeBufferPointer { hb in
            projection.weights.withUnsafeBufferPointer { wp in
                for o in 0..<nOutput {
                    var v = projection.multiplier.apply(projection.bias[o] &+ dot(wp, o, hb, 0, nCell)) &+ outputStateZeroPoint
                    v = min(max(v, -128), 127)
                    if projClip > 0 { v = min(max(v, -Int32(projClip)), Int32(projClip)) }
                    h[hOffset + o] = Int8(v)
                }
            }
        }
    }
}

/// The dynamic-range LSTM (LiteRT's `EvalHybrid`): float input, output and cell state; each
/// step quantizes the input row and the output state row to int8 (symmetric, or asymmetric
/// with `asymmetric_quantize_inputs`), multiplies by the int8 weights and scales back by
/// row scale times weight scale, added to the float gate bias; the rest is float math.
struct HybridLSTMKernel: Kernel {
    struct Gate {
        var input: [Int8], recurrent: [Int8]
        var inputScale: Float, recurrentScale: Float
        var inputRowSums: [Int32], recurrentRowSums: [Int32]
        var bias: [Float]
        /// Peephole weights already scaled back to float (`VectorScalarMultiply`).
        var peephole: [Float]?
        var layerNorm: [Float]?
    }

    let nInput: Int, nCell: Int, nOutput: Int
    let timeMajor: Bool
    let gates: [Gate?]
    let activation: TFLiteActivation
    let cellClip: Float, projClip: Float
    let asymmetric: Bool
    let projection: (weights: [Int8], scale: Float, rowSums: [Int32], bias: [Float]?)?

    init(_ ctx: KernelBuildContext) throws {
        let layout = try LSTMLayout(ctx)
        (nInput, nCell, nOutput) = (layout.nInput, layout.nCell, layout.nOutput)
        timeMajor = ctx.int("time_major", default: 0) != 0
        activation = try TFLiteActivation(ctx)
        if activation == .signBit { throw SwiftConvError.unsupportedOp("LSTM activation SIGN_BIT").at(ctx.nodeContext) }
        cellClip = ctx.float("cell_clip", default: 0)
        projClip = ctx.float("proj_clip", default: 0)
        guard cellClip.isFinite, cellClip >= 0, projClip.isFinite, projClip >= 0 else {
            throw ctx.invalid("cell_clip and proj_clip must be finite and not negative")
        }
        asymmetric = ctx.int("asymmetric_quantize_inputs", default: 0) != 0
        func floatVector(_ i: Int, _ n: Int) throws -> [Float]? {
            guard ctx.hasInput(i) else { return nil }
            guard let t = ctx.constant(i), t.dtype == .float32, t.shape == [n] else {
                throw SwiftConvError.unsupportedOp("a dynamic-range LSTM needs a constant float32 [\(n)] input \(i)").at(ctx.nodeContext)
            }
            return t.values(as: Float.self)
        }
        let layerNorm = ctx.hasInput(21)
        var gates: [Gate?] = []
        for g in 0..<4 {
            if g == 0 && layout.cifg {
                gates.append(nil)
                continue
            }
            let wi = try layout.weights(ctx, 1 + g, rows: nCell, cols: nInput)
            let wr = try layout.weights(ctx, 5 + g, rows: nCell, cols: nOutput)
            // Peepholes: cell-to-input (9), -forget (10), -output (11); none for the cell gate.
            let peepIndex = [9, 10, -1, 11][g]
            var peephole: [Float]?
            if peepIndex >= 0, ctx.hasInput(peepIndex) {
                let p = try layout.weights(ctx, peepIndex, rows: nil, cols: nCell)
                peephole = p.values.map { p.scale * Float($0) }
            }
            let norm = layerNorm ? try floatVector(20 + g, nCell) : nil
            if layerNorm && norm == nil { throw ctx.invalid("layer-norm coefficients must be given for every gate") }
            gates.append(
                Gate(
                    input: wi.values, recurrent: wr.values, inputScale: wi.scale, recurrentScale: wr.scale,
                    inputRowSums: LSTMLayout.rowSums(wi.values, rows: nCell, cols: nInput),
                    recurrentRowSums: LSTMLayout.rowSums(wr.values, rows: nCell, cols: nOutput),
                    bias: try floatVector(12 + g, nCell) ?? [Float](repeating: 0, count: nCell),
                    peephole: peephole, layerNorm: norm))
        }
        self.gates = gates
        if ctx.hasInput(16) {
            let wp = try layout.weights(ctx, 16, rows: nOutput, cols: nCell)
            projection = (wp.values, wp.scale, LSTMLayout.rowSums(wp.values, rows: nOutput, cols: nCell), try floatVector(17, nOutput))
        } else {
            projection = nil
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype == .float32, x.rank == 3, x.shape[2] == nInput else {
            throw kernelError("UNIDIRECTIONAL_SEQUENCE_LSTM expects a float32 [batch, time, \(nInput)] input, got \(x.dtype) \(x.shape)")
        }
        let steps = timeMajor ? x.shape[0] : x.shape[1], batch = timeMajor ? x.shape[1] : x.shape[0]
        func state(_ i: Int, _ count: Int) throws -> [Float]? {
            guard let t = inputs.optionalTensor(i) else { return nil }
            guard t.dtype == .float32, t.elementCount == count else {
                throw kernelError("LSTM state input \(i) must be float32 with \(count) elements, got \(t.dtype) \(t.shape)")
            }
            return t.values(as: Float.self)
        }
        let shape = timeMajor ? [steps, batch, nOutput] : [batch, steps, nOutput]
        // Nothing to compute; the scratch sizes below are bounded by the input's size only when
        // it has elements.
        if steps == 0 || batch == 0 { return [.tensor(try Tensor.allocate(.float32, shape))] }
        let hCount = try Checked.multiply(batch, nOutput, "the LSTM output state")
        let cCount = try Checked.multiply(batch, nCell, "the LSTM cell state")
        var h = try state(18, hCount) ?? [Float](repeating: 0, count: hCount)
        var c = try state(19, cCount) ?? [Float](repeating: 0, count: cCount)
        let total = try Checked.product([steps, batch, nOutput], "the LSTM output")
        var out = [Float](repeating: 0, count: total)
        let xs = x.values(as: Float.self)
        // LiteRT's scratch: one [batch, cell] block per gate (cell, forget, output after the
        // input gate's when there is one); its layout decides which sigmoid form each gets.
        var gates = [Float](repeating: 0, count: try Checked.product([4, batch, nCell], "the LSTM gates"))
        let slot = gateSlots(cifg: self.gates[0] == nil)
        let rowsMax = timeMajor ? batch : 1
        var work = StepBuffers(
            qx: [Int8](repeating: 0, count: rowsMax * nInput), qh: [Int8](repeating: 0, count: rowsMax * nOutput),
            qp: [Int8](repeating: 0, count: rowsMax * nCell), scales: [Float](repeating: 0, count: rowsMax),
            offsets: [Int32](repeating: 0, count: rowsMax), hScales: [Float](repeating: 0, count: rowsMax),
            hOffsets: [Int32](repeating: 0, count: rowsMax))
        // Time-major LiteRT steps the whole batch at once; batch-major one row at a time.
        let passes = timeMajor ? [(0, batch)] : (0..<batch).map { ($0, 1) }
        for (first, rows) in passes {
            let gateOffsets = slot.map { $0 * batch * nCell + first * nCell }
            for t in 0..<steps {
                try context.checkTerminated()
                let xOffset = timeMajor ? t * batch * nInput : (first * steps + t) * nInput
                let outOffset = timeMajor ? t * batch * nOutput : (first * steps + t) * nOutput
                xs.withUnsafeBufferPointer { xb in
                    h.withUnsafeMutableBufferPointer { hb in
                        c.withUnsafeMutableBufferPointer { cb in
                            gates.withUnsafeMutableBufferPointer { gb in
                                step(
                                    xb.baseAddress! + xOffset, hb.baseAddress! + first * nOutput, cb.baseAddress! + first * nCell,
                                    rows: rows, gates: gb.baseAddress!, offsets: gateOffsets, &work)
                            }
                        }
                    }
                }
                for i in 0..<(rows * nOutput) { out[outOffset + i] = h[first * nOutput + i] }
            }
        }
        return [.tensor(Tensor(dtype: .float32, shape: shape, values: out))]
    }

    /// The scratch slot of each gate (input, forget, cell, output) in LiteRT's buffer.
    private func gateSlots(cifg: Bool) -> [Int] { cifg ? [0, 1, 0, 2] : [0, 2, 1, 3] }

    /// Per-step quantized rows and their scales and zero points.
    private struct StepBuffers {
        var qx: [Int8], qh: [Int8], qp: [Int8]
        var scales: [Float], offsets: [Int32]
        var hScales: [Float], hOffsets: [Int32]
    }

    /// `rows` float rows of `cols` quantized as `BatchQuantizeFloats` does; false when they are
    /// all zeros (LiteRT then skips the quantization and the products).
    private func quantizeRows(
        _ v: UnsafePointer<Float>, rows: Int, cols: Int, into q: inout [Int8], _ scales: inout [Float], _ offsets: inout [Int32]
    ) -> Bool {
        if (0..<(rows * cols)).allSatisfy({ v[$0] == 0 }) { return false }
        q.withUnsafeMutableBufferPointer { qb in
            for r in 0..<rows {
                (scales[r], offsets[r]) = quantizeRowForHybrid(v + r * cols, cols, asymmetric: asymmetric, into: qb.baseAddress! + r * cols)
            }
        }
        return true
    }

    /// `result[r, :] += (W·q_r - rowSums·offset_r) * (scale_r * weightScale)` for each row.
    private func accumulate(
        _ w: [Int8], _ rowSums: [Int32], _ weightScale: Float, _ q: [Int8], _ scales: [Float], _ offsets: [Int32],
        into result: UnsafeMutablePointer<Float>, rows: Int, outRows: Int, cols: Int
    ) {
        w.withUnsafeBufferPointer { wb in
            q.withUnsafeBufferPointer { qb in
                for b in 0..<rows {
                    let scale = scales[b] * weightScale
                    let offset = asymmetric ? offsets[b] : 0
                    let dst = result + b * outRows
                    for r in 0..<outRows {
                        let d = dot(wb, r, qb, b * cols, cols) &- rowSums[r] &* offset
                        dst[r] += Float(d) * scale
                    }
                }
            }
        }
    }

    /// One time step of `rows` batch rows (LiteRT's `LstmStepHybrid`), in its operation
    /// order: each gate starts from its bias, adds the input then the recurrent products,
    /// the peephole, layer norm, and its activation; the cell update follows the cell gate.
    private func step(
        _ x: UnsafePointer<Float>, _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, rows: Int,
        gates buffer: UnsafeMutablePointer<Float>, offsets: [Int], _ work: inout StepBuffers
    ) {
        let nCell = self.nCell, n = rows * nCell
        let hasInput = quantizeRows(x, rows: rows, cols: nInput, into: &work.qx, &work.scales, &work.offsets)
        let hasState = quantizeRows(h, rows: rows, cols: nOutput, into: &work.qh, &work.hScales, &work.hOffsets)
        func computeGate(_ g: Int) {
            guard let gate = gates[g] else { return }
            let v = buffer + offsets[g]
            for b in 0..<rows {
                if gate.layerNorm == nil {
                    gate.bias.withUnsafeBufferPointer { (v + b * nCell).update(from: $0.baseAddress!, count: nCell) }
                } else {
                    (v + b * nCell).update(repeating: 0, count: nCell)
                }
            }
            if hasInput {
                accumulate(
                    gate.input, gate.inputRowSums, gate.inputScale, work.qx, work.scales, work.offsets, into: v, rows: rows,
                    outRows: nCell, cols: nInput)
            }
            if hasState {
                accumulate(
                    gate.recurrent, gate.recurrentRowSums, gate.recurrentScale, work.qh, work.hScales, work.hOffsets, into: v,
                    rows: rows, outRows: nCell, cols: nOutput)
            }
            if let p = gate.peephole { for i in 0..<n { v[i] += p[i % nCell] * c[i] } }
            if let ln = gate.layerNorm {
                for b in 0..<rows {
                    let r = v + b * nCell
                    var sum: Float = 0
                    for u in 0..<nCell { sum += r[u] }
                    let mean = sum / Float(nCell)
                    var sq: Float = 0
                    for u in 0..<nCell { sq += (r[u] - mean) * (r[u] - mean) }
                    let inv = 1 / (sq / Float(nCell) + 1e-8).squareRoot()
                    for u in 0..<nCell { r[u] = (r[u] - mean) * inv * ln[u] + gate.bias[u] }
                }
            }
            if g == 2 {
                LSTMGateActivation.apply(activation, v, v, count: n)
            } else {
                LSTMGateActivation.sigmoid(v, count: n, phase: offsets[g])
            }
        }
        computeGate(0)
        computeGate(1)
        computeGate(2)
        let ig = buffer + offsets[0], fg = buffer + offsets[1], cg = buffer + offsets[2], og = buffer + offsets[3]
        for i in 0..<n { c[i] = fg[i] * c[i] }
        if gates[0] == nil { for i in 0..<n { fg[i] = 1 - fg[i] } }
        let inputGate = gates[0] == nil ? fg : ig
        for i in 0..<n { c[i] += cg[i] * inputGate[i] }
        if cellClip > 0 { for i in 0..<n { c[i] = min(max(c[i], -cellClip), cellClip) } }
        computeGate(3)
        // The hidden state goes to the cell gate's block, as in LiteRT.
        LSTMGateActivation.apply(activation, c, cg, count: n)
        for i in 0..<n { cg[i] = og[i] * cg[i] }
        guard let projection else {
            h.update(from: cg, count: n)
            return
        }
        for b in 0..<rows {
            for o in 0..<nOutput { h[b * nOutput + o] = projection.bias?[o] ?? 0 }
        }
        if quantizeRows(cg, rows: rows, cols: nCell, into: &work.qp, &work.scales, &work.offsets) {
            accumulate(
                projection.weights, projection.rowSums, projection.scale, work.qp, work.scales, work.offsets, into: h,
                rows: rows, outRows: nOutput, cols: nCell)
        }
        if projClip > 0 { for i in 0..<(rows * nOutput) { h[i] = min(max(h[i], -projClip), projClip) } }
    }
}

/// The strings of a JSON array of strings (`["a", "b\"c"]`), nil for anything else; enough for
/// the importer's `tflite.intermediates` without linking Foundation's JSON decoder.
func jsonStringList(_ text: String) -> [String]? {
    var chars = Array(text.unicodeScalars)[...]
    func skipSpace() { while let c = chars.first, c == " " || c == "\n" || c == "\t" || c == "\r" { chars.removeFirst() } }
    skipSpace()
    guard chars.popFirst() == "[" else { return nil }
    var out: [String] = []
    skipSpace()
    if chars.first == "]" {
        chars.removeFirst()
        skipSpace()
        return chars.isEmpty ? out : nil
    }
    while true {
        skipSpace()
        guard chars.popFirst() == "\"" else { return nil }
        var s = String.UnicodeScalarView()
        while true {
            guard let c = chars.popFirst() else { return nil }
            if c == "\"" { break }
            guard c == "\\" else {
                s.append(c)
                continue
            }
            guard let e = chars.popFirst() else { return nil }
            switch e {
            case "\"", "\\", "/": s.append(e)
            case "n": s.append("\n")
            case "t": s.append("\t")
            case "r": s.append("\r")
            case "b": s.append("\u{08}")
            case "f": s.append("\u{0C}")
            case "u":
                guard chars.count >= 4, let v = UInt32(String(String.UnicodeScalarView(chars.prefix(4))), radix: 16),
                    let scalar = Unicode.Scalar(v)
                else { return nil }
                chars.removeFirst(4)
                s.append(scalar)
            default: return nil
            }
        }
        out.append(String(s))
        skipSpace()
        guard let sep = chars.popFirst() else { return nil }
        if sep == "]" { break }
        guard sep == "," else { return nil }
    }
    skipSpace()
    return chars.isEmpty ? out : nil
}
