import SwiftConvIR

/// LSTM, GRU and RNN.
///
/// An LSTM becomes TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM (a reverse direction runs it on the
/// REVERSE_V2 of the input; bidirectional is both, stacked) when that op computes the same
/// thing: zero initial states, sigmoid/tanh/tanh, no clip (ONNX clips the gate inputs, TFLite's
/// cell_clip the cell state) and Y_c unread. Its states are FILLs of zeros of the run's batch,
/// which the exporter writes as variable tensors (LiteRT takes no other): made again on every
/// run, they neither carry the last run's state nor fix the batch.
///
/// Everything else, GRU and RNN always (TFLite has no GRU, and this engine no
/// UNIDIRECTIONAL_SEQUENCE_RNN), computes the cell with FULLY_CONNECTED, LOGISTIC/TANH/RELU,
/// MUL and ADD per step: unrolled over a static sequence of up to `maxUnrolledSteps`, in a
/// WHILE loop (one per direction) over a longer or dynamic one. Both share `cellStep`.
///
/// sequence_lens (ONNX: a row's steps at and past its length are skipped, the state carried and
/// Y zero there; a reverse direction starts at the row's last valid step) masks each step's
/// update: with m = (t < length) as 0/1, h = m * h' + (1 - m) * h and Y_t = m * h'. A reverse
/// direction running from the last step then leaves the state at its initial value through the
/// padding, which is ONNX's result. UNIDIRECTIONAL_SEQUENCE_LSTM takes no lengths, so a masked
/// LSTM goes the per-step way.
extension ONNXToTFLiteRules {
    static let recurrent: [String: ToTFLiteRule] = [
        "LSTM": { l in try lowerRecurrent(l, RecurrentLayer(l, cell: .lstm)) },
        "GRU": { l in try lowerRecurrent(l, RecurrentLayer(l, cell: .gru)) },
        "RNN": { l in try lowerRecurrent(l, RecurrentLayer(l, cell: .rnn)) },
    ]

    static func lowerRecurrent(_ l: ToTFLiteNode, _ p: RecurrentLayer) throws {
        var whyNotSequenceOp: [String] = []
        switch p.cell {
        case .gru: whyNotSequenceOp.append("TFLite has no GRU op")
        case .rnn: whyNotSequenceOp.append("UNIDIRECTIONAL_SEQUENCE_RNN is not used")
        case .lstm:
            if !p.zeroInitialH { whyNotSequenceOp.append("initial_h is not zeros") }
            if !p.zeroInitialC { whyNotSequenceOp.append("initial_c is not zeros") }
            if p.clip != nil { whyNotSequenceOp.append("clip (ONNX clips the gate inputs, TFLite's cell_clip the cell state)") }
            if p.activations.contains(where: { $0 != ["sigmoid", "tanh", "tanh"] }) {
                whyNotSequenceOp.append("activations other than Sigmoid, Tanh, Tanh")
            }
            if p.isRead(2) { whyNotSequenceOp.append("Y_c is read (TFLite's LSTM does not output its cell state)") }
            if p.hasSequenceLens { whyNotSequenceOp.append("sequence_lens (TFLite's LSTM runs every step)") }
        }
        if whyNotSequenceOp.isEmpty { return try sequenceLSTM(l, p) }
        if let steps = p.steps {
            guard steps > 0 else { throw NotLowerable("an empty sequence is not lowered") }
            if steps <= maxUnrolledSteps { return try unrolled(l, p, steps: steps) }
        }
        try looped(l, p)
    }

    // MARK: UNIDIRECTIONAL_SEQUENCE_LSTM

    static func sequenceLSTM(_ l: ToTFLiteNode, _ p: RecurrentLayer) throws {
        let x = try l.input(0)
        let units = p.hidden
        let stateDims: String
        if let batch = p.batch {
            stateDims = l.int32s([batch, units])
        } else {
            let batchAxis = p.batchMajor ? 0 : 1
            let shape = l.emit("SHAPE", [x], attributes: [.string("out_type", "INT32")])
            let batch = l.emit(
                "STRIDED_SLICE", [shape, l.int32s([batchAxis]), l.int32s([batchAxis + 1]), l.int32s([1])],
                attributes: [
                    .int("begin_mask", 0), .int("end_mask", 0), .int("ellipsis_mask", 0), .int("new_axis_mask", 0),
                    .int("shrink_axis_mask", 0), .int("offset", 0),
                ])
            stateDims = l.emit(
                "CONCATENATION", [batch, l.int32s([units])], attributes: [.int("axis", 0), .string("fused_activation_function", "NONE")])
        }
        let zero = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(0)]))
        /// A zero state made on every run: LiteRT takes the states only as variable tensors (the
        /// exporter marks them), and one that an op writes restarts from that op's value.
        func zeroState() -> String { l.emit("FILL", [stateDims, zero]) }
        var outputs: [String] = []
        var lasts: [String] = []
        for d in 0..<p.directions.count {
            let reverse = p.directions[d] == .reverse
            let input = reverse ? l.emit("REVERSE_V2", [x, l.int32s([p.timeAxis])]) : x
            // TFLite's gate order: input, forget, cell, output; ONNX's LSTM: i, o, f, c.
            var order = [0, 2, 3, 1]
            // ONNX's input_forget (onnxruntime's reading) keeps i and sets f = 1 - i; TFLite's
            // CIFG keeps f and sets i = 1 - f. With the input gate's parameters negated as the
            // forget gate's, TFLite computes f = sigmoid(-i_pre) = 1 - i and then i back.
            let cifg = p.inputForget
            if cifg { order[1] = 0 }
            func gateSlot(_ k: Int, _ make: (Int) -> Tensor) -> String {
                if cifg && k == 0 { return "" }
                let t = make(order[k])
                return l.floatConstant(cifg && k == 1 ? RecurrentLayer.negated(t) : t)
            }
            var inputs = [input]
            for k in 0..<4 { inputs.append(gateSlot(k) { p.inputWeights(d, $0) }) }
            for k in 0..<4 { inputs.append(gateSlot(k) { p.recurrentWeights(d, $0) }) }
            if let peep = p.peepholes {
                // ONNX P is [i, o, f]; TFLite wants cell-to-input, -forget, -output.
                let peepOrder = [0, cifg ? 0 : 2, 1]
                for k in 0..<3 {
                    let part = peepOrder[k]
                    if cifg && k == 0 {
                        inputs.append("")
                        continue
                    }
                    let v = p.vector(Array(peep[d][part * units..<(part + 1) * units]))
                    inputs.append(l.floatConstant(cifg && k == 1 ? RecurrentLayer.negated(v) : v))
                }
            } else {
                inputs += ["", "", ""]
            }
            for k in 0..<4 { inputs.append(gateSlot(k) { p.vector(p.inputBias(d, $0, plusRecurrent: true)) }) }
            inputs += ["", ""] // projection weights and bias
            // Separate tensors: the op writes its final states into them.
            inputs += [zeroState(), zeroState()]
            inputs += ["", "", "", ""] // layer-norm coefficients
            let y = l.emit(
                "UNIDIRECTIONAL_SEQUENCE_LSTM", inputs,
                attributes: [
                    .string("fused_activation_function", "TANH"), .float("cell_clip", 0), .float("proj_clip", 0),
                    .int("time_major", p.batchMajor ? 0 : 1), .int("asymmetric_quantize_inputs", 0),
                    .int("diagonal_recurrent_tensors", 0),
                ])
            if p.isRead(1) { lasts.append(lastStep(l, y, p)) }
            if p.isRead(0) { outputs.append(reverse ? l.emit("REVERSE_V2", [y, l.int32s([p.timeAxis])]) : y) }
        }
        try bindOutputs(l, p, y: outputs, yH: lasts, yC: [])
    }

    /// The last time step of a sequence op's output, without the time axis: [batch, hidden].
    static func lastStep(_ l: ToTFLiteNode, _ y: String, _ p: RecurrentLayer) -> String {
        var begin = [0, 0, 0]
        begin[p.timeAxis] = -1
        let others = 0b111 & ~(1 << p.timeAxis)
        return l.emit(
            "STRIDED_SLICE", [y, l.int32s(begin), l.int32s([0, 0, 0]), l.int32s([1, 1, 1])],
            attributes: [
                .int("begin_mask", Int64(others)), .int("end_mask", Int64(others)), .int("ellipsis_mask", 0),
                .int("new_axis_mask", 0), .int("shrink_axis_mask", Int64(1 << p.timeAxis)), .int("offset", 0),
            ])
    }

    /// Binds Y ([seq, dirs, batch, hidden], or [batch, seq, dirs, hidden] with layout 1) from each
    /// direction's [seq, batch, hidden] sequence, and Y_h, Y_c from each direction's [batch, hidden].
    static func bindOutputs(_ l: ToTFLiteNode, _ p: RecurrentLayer, y: [String], yH: [String], yC: [String]) throws {
        let dirAxis = p.batchMajor ? 2 : 1
        let stateDirAxis = p.batchMajor ? 1 : 0
        for (k, values, axis) in [(0, y, dirAxis), (1, yH, stateDirAxis), (2, yC, stateDirAxis)] where k < l.node.outputs.count {
            guard !l.node.outputs[k].isEmpty else { continue }
            guard p.isRead(k) else {
                // Nothing reads it: any existing value satisfies the binding, and no op is spent.
                try l.bind(k, try l.input(0))
                continue
            }
            guard values.count == p.directions.count else { throw NotLowerable("output \(k) is not computed") }
            try l.bind(k, stack(l, values, axis: axis))
        }
    }

    /// `values` stacked along a new `axis`.
    static func stack(_ l: ToTFLiteNode, _ values: [String], axis: Int) -> String {
        if values.count == 1 { return l.emit("EXPAND_DIMS", [values[0], l.int32s([axis])]) }
        return l.emit("PACK", values, attributes: [.int("values_count", Int64(values.count)), .int("axis", Int64(axis))])
    }

    // MARK: the cell, shared by the unrolled and the looped forms

    /// The constants one direction's steps read, made in the graph that computes the steps
    /// (the main graph when unrolled, the WHILE body when looped).
    struct CellConstants {
        /// Each gate's recurrent weights [hidden, hidden].
        let recurrent: [String]
        /// Peephole vectors i, o, f (LSTM with P).
        let peepholes: [String]?
        /// The candidate gate's recurrent bias, applied inside the reset product (GRU with linear_before_reset).
        let candidateRecurrentBias: String?
        /// -clip and clip, when the gate inputs are clipped.
        let clip: (low: String, high: String)?
        /// 1, for the coupled forget gate f = 1 - i.
        let one: String?

        init(_ l: ToTFLiteNode, _ p: RecurrentLayer, direction d: Int) {
            recurrent = (0..<p.cell.gates).map { g in l.floatConstant(p.recurrentWeights(d, g)) }
            let units = p.hidden
            peepholes = p.peepholes.map { all in (0..<3).map { k in l.floatConstant(p.vector(Array(all[d][k * units..<(k + 1) * units]))) }
            }
            candidateRecurrentBias = p.cell == .gru && p.linearBeforeReset ? l.floatConstant(p.vector(p.recurrentBias(d, 2))) : nil
            clip = p.clip.map { c in
                (
                    l.floatConstant(Tensor(dtype: .float32, shape: [], values: [-c])),
                    l.floatConstant(Tensor(dtype: .float32, shape: [], values: [c]))
                )
            }
            one = p.cell == .lstm && p.inputForget ? l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(1)])) : nil
        }
    }

    /// Gate `g`'s input contribution over the whole sequence, with the biases that sit outside
    /// any product with the state: one FULLY_CONNECTED, [seq, batch, hidden] (layout 1:
    /// [batch, seq, hidden]). The coupled forget gate (input_forget) has none: "".
    static func sequenceInputTerm(_ l: ToTFLiteNode, _ p: RecurrentLayer, _ x: String, direction d: Int, gate g: Int) -> String {
        if p.cell == .lstm && p.inputForget && g == 2 { return "" }
        var withRecurrentBias = true
        if p.cell == .gru && g == 2 { withRecurrentBias = !p.linearBeforeReset }
        let bias = l.floatConstant(p.vector(p.inputBias(d, g, plusRecurrent: withRecurrentBias)))
        return l.emit(
            "FULLY_CONNECTED", [x, l.floatConstant(p.inputWeights(d, g)), bias],
            attributes: [.string("fused_activation_function", "NONE"), .int("keep_num_dims", 1)])
    }

    /// One time step of direction `d`: the new h (and c, LSTM) from the step's input terms per
    /// gate ([batch, hidden]; "" for the coupled forget gate) and the previous h and c (nil:
    /// zeros, whose recurrent products are left out).
    static func cellStep(
        _ l: ToTFLiteNode, _ p: RecurrentLayer, direction d: Int, _ k: CellConstants, terms: [String], h: String?, c: String?
    ) throws -> (h: String, c: String?) {
        let acts = p.activations[d]
        func add(_ a: String, _ b: String) -> String { l.emit("ADD", [a, b], attributes: [.string("fused_activation_function", "NONE")]) }
        func sub(_ a: String, _ b: String) -> String { l.emit("SUB", [a, b], attributes: [.string("fused_activation_function", "NONE")]) }
        func mul(_ a: String, _ b: String) -> String { l.emit("MUL", [a, b], attributes: [.string("fused_activation_function", "NONE")]) }
        func recurrentTerm(_ h: String, _ g: Int, bias: String = "") -> String {
            l.emit("FULLY_CONNECTED", [h, k.recurrent[g], bias], attributes: [.string("fused_activation_function", "NONE")])
        }
        /// ONNX clips every gate's input (not the cell state) before its activation.
        func activate(_ x: String, _ name: String) throws -> String {
            var v = x
            if let clip = k.clip { v = l.emit("MAXIMUM", [l.emit("MINIMUM", [v, clip.high]), clip.low]) }
            return try activation(v, name, l)
        }
        /// Gate `g`'s pre-activation: input term plus the recurrent product (none while h is zero).
        func gate(_ g: Int) -> String { h.map { add(terms[g], recurrentTerm($0, g)) } ?? terms[g] }
        switch p.cell {
        case .rnn:
            return (try activate(gate(0), acts[0]), nil)
        case .gru:
            // ONNX's GRU gates: z, r, h (the candidate).
            let z = try activate(gate(0), acts[0])
            let r = try activate(gate(1), acts[0])
            let candidatePre: String
            if let rb = k.candidateRecurrentBias {
                candidatePre = add(terms[2], mul(r, h.map { recurrentTerm($0, 2, bias: rb) } ?? rb))
            } else {
                candidatePre = h.map { add(terms[2], recurrentTerm(mul(r, $0), 2)) } ?? terms[2]
            }
            let n = try activate(candidatePre, acts[1])
            // h' = (1 - z) * n + z * h = n + z * (h - n)
            return (h.map { add(n, mul(z, sub($0, n))) } ?? sub(n, mul(z, n)), nil)
        case .lstm:
            // ONNX's LSTM gates: i, o, f, c; input_forget couples f = 1 - i (onnxruntime).
            var iPre = gate(0)
            if let peep = k.peepholes, let c { iPre = add(iPre, mul(peep[0], c)) }
            let i = try activate(iPre, acts[0])
            let f: String
            if let one = k.one {
                f = sub(one, i)
            } else {
                var fPre = gate(2)
                if let peep = k.peepholes, let c { fPre = add(fPre, mul(peep[2], c)) }
                f = try activate(fPre, acts[0])
            }
            let candidate = try activate(gate(3), acts[1])
            let newC = c.map { add(mul(f, $0), mul(i, candidate)) } ?? mul(i, candidate)
            var oPre = gate(1)
            if let peep = k.peepholes { oPre = add(oPre, mul(peep[1], newC)) }
            let o = try activate(oPre, acts[0])
            // The cell state's own activation is not clipped: ONNX clips gate inputs only.
            return (mul(o, try activation(newC, acts[2], l)), newC)
        }
    }

    static func activation(_ x: String, _ name: String, _ l: ToTFLiteNode) throws -> String {
        switch name {
        case "sigmoid": return l.emit("LOGISTIC", [x])
        case "tanh": return l.emit("TANH", [x])
        case "relu": return l.emit("RELU", [x])
        default: throw NotLowerable("activation '\(name)' is not lowered")
        }
    }

    // MARK: unrolled

    /// Sequences up to this many steps are unrolled; longer and dynamic ones become a WHILE
    /// loop. An unrolled step is 4 (RNN) to 20 (LSTM with peepholes) ops per direction, so
    /// past 64 steps the op list runs into the thousands: larger files, slower to load and
    /// prepare, for little gain over the loop (whose cost per step is one copy of its values).
    static let maxUnrolledSteps = 64

    /// One FULLY_CONNECTED/activation chain per step and gate, over a static sequence length.
    static func unrolled(_ l: ToTFLiteNode, _ p: RecurrentLayer, steps: Int) throws {
        let x = try l.input(0)
        var outputs: [String] = []
        var finalH: [String] = []
        var finalC: [String] = []
        let initialH = try p.zeroInitialH ? nil : initialStates(l, p, input: 5)
        let initialC = try p.cell != .lstm || p.zeroInitialC ? nil : initialStates(l, p, input: 6)
        let lengths = try p.hasSequenceLens ? sequenceLengths(l) : nil
        for d in 0..<p.directions.count {
            // Each gate's input terms of every step: the sequence's FULLY_CONNECTED, unpacked.
            let terms = (0..<p.cell.gates).map { g -> [String] in
                let all = sequenceInputTerm(l, p, x, direction: d, gate: g)
                if all.isEmpty { return [String](repeating: "", count: steps) }
                return l.emit("UNPACK", [all], outputs: steps, attributes: [.int("num", Int64(steps)), .int("axis", Int64(p.timeAxis))])
            }
            let constants = CellConstants(l, p, direction: d)
            var h = initialH?[d]
            var c = initialC?[d]
            var sequence = [String](repeating: "", count: steps)
            let order = p.directions[d] == .reverse ? Array((0..<steps).reversed()) : Array(0..<steps)
            for t in order {
                let next = try cellStep(l, p, direction: d, constants, terms: terms.map { $0[t] }, h: h, c: c)
                if let lengths {
                    let step = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(t)]))
                    let m = StepMask(l, lengths: lengths, step: step)
                    sequence[t] = m.output(next.h)
                    h = m.state(next.h, old: h)
                    c = next.c.map { m.state($0, old: c) }
                } else {
                    h = next.h
                    c = next.c
                    sequence[t] = next.h
                }
            }
            if p.isRead(0) { outputs.append(stack(l, sequence, axis: p.timeAxis)) }
            finalH.append(h ?? "")
            finalC.append(c ?? "")
        }
        try bindOutputs(l, p, y: outputs, yH: finalH, yC: p.cell == .lstm ? finalC : [])
    }

    // MARK: WHILE loop

    /// A TFLite WHILE per direction, for a dynamic or long sequence. The loop values are the
    /// step index i, the sequence length, each gate's input terms over the whole sequence
    /// (computed before the loop by one FULLY_CONNECTED each), h, c (LSTM) and, when Y is
    /// read, Y's buffer: zeros of the terms' shape made at run time, into which each step
    /// writes its h with DYNAMIC_UPDATE_SLICE. A forward loop counts i up from 0 while i < T,
    /// a reverse one down from T - 1 while i >= 0; the body takes step i's terms by GATHER.
    /// Every op is a LiteRT builtin, and every shape follows the input at run time.
    static func looped(_ l: ToTFLiteNode, _ p: RecurrentLayer) throws {
        let x = try l.input(0)
        let units = p.hidden
        let int32Scalar = ValueType.tensor(elementType: .int32, shape: [])
        let batchDim: Dim = p.batch.map { .known($0) } ?? .unknown
        let stepsDim: Dim = p.steps.map { .known($0) } ?? .unknown
        let stateType = ValueType.tensor(elementType: .float32, shape: [batchDim, .known(units)])
        let sequenceType = ValueType.tensor(
            elementType: .float32, shape: p.batchMajor ? [batchDim, stepsDim, .known(units)] : [stepsDim, batchDim, .known(units)])

        let shape = l.emit("SHAPE", [x], attributes: [.string("out_type", "INT32")])
        let gatherOptions: [Attribute] = [.int("axis", 0), .int("batch_dims", 0)]
        let steps = l.emit("GATHER", [shape, l.int32s([p.timeAxis], shape: [])], attributes: gatherOptions)
        let stateDims: String
        if let batch = p.batch {
            stateDims = l.int32s([batch, units])
        } else {
            let batch = l.emit("GATHER", [shape, l.int32s([p.batchMajor ? 0 : 1])], attributes: gatherOptions)
            stateDims = l.emit(
                "CONCATENATION", [batch, l.int32s([units])], attributes: [.int("axis", 0), .string("fused_activation_function", "NONE")])
        }
        let zero = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(0)]))
        let initialH = try p.zeroInitialH ? nil : initialStates(l, p, input: 5)
        let initialC = try p.cell != .lstm || p.zeroInitialC ? nil : initialStates(l, p, input: 6)
        let lengths = try p.hasSequenceLens ? sequenceLengths(l) : nil

        var outputs: [String] = []
        var finalH: [String] = []
        var finalC: [String] = []
        for d in 0..<p.directions.count {
            let reverse = p.directions[d] == .reverse
            let terms = (0..<p.cell.gates).map { g in sequenceInputTerm(l, p, x, direction: d, gate: g) }
            let termGates = terms.indices.filter { !terms[$0].isEmpty }
            let first =
                reverse
                ? l.emit("SUB", [steps, l.int32s([1], shape: [])], attributes: [.string("fused_activation_function", "NONE")])
                : l.int32s([0], shape: [])
            // Loop values: i, T, terms, h, [c], [Y's buffer].
            var values = [first, steps] + termGates.map { terms[$0] }
            var types = [int32Scalar, int32Scalar] + termGates.map { _ in sequenceType }
            let hIndex = values.count
            values.append(initialH?[d] ?? l.emit("FILL", [stateDims, zero]))
            types.append(stateType)
            var cIndex: Int? = nil
            if p.cell == .lstm {
                cIndex = values.count
                values.append(initialC?[d] ?? l.emit("FILL", [stateDims, zero]))
                types.append(stateType)
            }
            var lengthsIndex: Int? = nil
            if let lengths {
                // The lengths, and the step index as a float (counted along with i).
                lengthsIndex = values.count
                values.append(lengths)
                types.append(.tensor(elementType: .float32, shape: [batchDim, .known(1)]))
                values.append(l.cast(first, to: .float32))
                types.append(.tensor(elementType: .float32, shape: []))
            }
            var yIndex: Int? = nil
            if p.isRead(0) {
                yIndex = values.count
                let sequenceShape = l.emit("SHAPE", [terms[termGates[0]]], attributes: [.string("out_type", "INT32")])
                values.append(l.emit("FILL", [sequenceShape, zero]))
                types.append(sequenceType)
            }

            let cond = try l.subgraph("\(l.node.name)_cond", inputs: types) { v in
                if reverse { return [l.emit("GREATER_EQUAL", [v[0], l.int32s([0], shape: [])])] }
                return [l.emit("LESS", [v[0], v[1]])]
            }
            let body = try l.subgraph("\(l.node.name)_body", inputs: types, outputTypes: types) { v in
                let i = v[0]
                var stepTerms = [String](repeating: "", count: p.cell.gates)
                for (k, g) in termGates.enumerated() {
                    stepTerms[g] = l.emit("GATHER", [v[2 + k], i], attributes: [.int("axis", Int64(p.timeAxis)), .int("batch_dims", 0)])
                }
                let constants = CellConstants(l, p, direction: d)
                var next = try cellStep(l, p, direction: d, constants, terms: stepTerms, h: v[hIndex], c: cIndex.map { v[$0] })
                var stepOutput = next.h
                if let lengthsIndex {
                    let m = StepMask(l, lengths: v[lengthsIndex], step: v[lengthsIndex + 1])
                    stepOutput = m.output(next.h)
                    next = (m.state(next.h, old: v[hIndex]), cIndex.flatMap { k in next.c.map { m.state($0, old: v[k]) } })
                }
                var out = v
                out[0] = l.emit(
                    "ADD", [i, l.int32s([reverse ? -1 : 1], shape: [])], attributes: [.string("fused_activation_function", "NONE")])
                out[hIndex] = next.h
                if let lengthsIndex {
                    let stepF = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(reverse ? -1 : 1)]))
                    out[lengthsIndex + 1] = l.emit(
                        "ADD", [v[lengthsIndex + 1], stepF], attributes: [.string("fused_activation_function", "NONE")])
                }
                if let cIndex, let c = next.c { out[cIndex] = c }
                if let yIndex {
                    var unit = [0, 0, 0]
                    unit[p.timeAxis] = 1
                    let start = l.emit("MUL", [i, l.int32s(unit)], attributes: [.string("fused_activation_function", "NONE")])
                    let update = l.emit("EXPAND_DIMS", [stepOutput, l.int32s([p.timeAxis], shape: [])])
                    out[yIndex] = l.emit("DYNAMIC_UPDATE_SLICE", [v[yIndex], update, start])
                }
                return out
            }
            let results = l.emit(
                "WHILE", values, outputs: values.count,
                attributes: [Attribute(name: "cond_subgraph", value: .graph(cond)), Attribute(name: "body_subgraph", value: .graph(body))])
            for (r, t) in zip(results, types) { l.scope.types[r] = t }
            if let yIndex { outputs.append(results[yIndex]) }
            finalH.append(results[hIndex])
            finalC.append(cIndex.map { results[$0] } ?? "")
        }
        try bindOutputs(l, p, y: outputs, yH: finalH, yC: p.cell == .lstm ? finalC : [])
    }

    /// sequence_lens (input 4, [batch] int32) as float [batch, 1], for the steps' masks.
    static func sequenceLengths(_ l: ToTFLiteNode) throws -> String {
        var lengths = try l.input(4)
        if l.elementType(4) != .float32 { lengths = l.cast(lengths, to: .float32) }
        return l.emit("EXPAND_DIMS", [lengths, l.int32s([1], shape: [])])
    }

    /// One step's sequence_lens mask m = (step < length) as 0/1 [batch, 1], and its use.
    struct StepMask {
        let l: ToTFLiteNode
        let m: String
        let keep: String

        /// `lengths` [batch, 1] and `step` (a scalar) are whole numbers as floats: min(max(length -
        /// step, 0), 1) is exactly 1 or 0, with no CAST (whose type a WHILE body cannot infer).
        init(_ l: ToTFLiteNode, lengths: String, step: String) {
            self.l = l
            let zero = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(0)]))
            let one = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(1)]))
            let left = l.emit("SUB", [lengths, step], attributes: [.string("fused_activation_function", "NONE")])
            m = l.emit("MINIMUM", [l.emit("MAXIMUM", [left, zero]), one])
            keep = l.emit("SUB", [one, m], attributes: [.string("fused_activation_function", "NONE")])
        }

        private func mul(_ a: String, _ b: String) -> String {
            l.emit("MUL", [a, b], attributes: [.string("fused_activation_function", "NONE")])
        }

        /// The step's Y: the new h, zero past the row's length.
        func output(_ new: String) -> String { mul(m, new) }

        /// The state after the step: the new one within the row's length, the old one (nil:
        /// zeros) past it. One of the two products is exactly zero, so the sum is exact.
        func state(_ new: String, old: String?) -> String {
            guard let old else { return mul(m, new) }
            return l.emit("ADD", [mul(m, new), mul(keep, old)], attributes: [.string("fused_activation_function", "NONE")])
        }
    }

    /// Each direction's initial state [batch, hidden] from input `k` ([dirs, batch, hidden], or
    /// [batch, dirs, hidden] with layout 1).
    static func initialStates(_ l: ToTFLiteNode, _ p: RecurrentLayer, input k: Int) throws -> [String] {
        guard try l.rank(k) == 3 else { throw NotLowerable("initial state (input \(k)) must have rank 3") }
        let axis = p.batchMajor ? 1 : 0
        return l.emit(
            "UNPACK", [try l.input(k)], outputs: p.directions.count,
            attributes: [.int("num", Int64(p.directions.count)), .int("axis", Int64(axis))])
    }
}

/// An ONNX LSTM, GRU or RNN node's attributes and constant weights, checked.
struct RecurrentLayer {
    enum Cell {
        case lstm, gru, rnn
        /// Gates stacked in W and R: LSTM iofc, GRU zrh, RNN one.
        var gates: Int {
            switch self {
            case .lstm: return 4
            case .gru: return 3
            case .rnn: return 1
            }
        }
        /// Activations per direction.
        var activationCount: Int {
            switch self {
            case .lstm: return 3
            case .gru: return 2
            case .rnn: return 1
            }
        }
        var defaultActivations: [String] {
            switch self {
            case .lstm: return ["sigmoid", "tanh", "tanh"]
            case .gru: return ["sigmoid", "tanh"]
            case .rnn: return ["tanh"]
            }
        }
    }
    enum Direction { case forward, reverse }

    let cell: Cell
    let hidden: Int
    let inputSize: Int
    let directions: [Direction]
    let batchMajor: Bool
    /// Static sequence length and batch, when known.
    let steps: Int?
    let batch: Int?
    /// Lower-case activation names, per direction.
    let activations: [[String]]
    let clip: Float?
    let inputForget: Bool
    let linearBeforeReset: Bool
    let zeroInitialH: Bool
    let zeroInitialC: Bool
    /// Whether sequence_lens masks the steps (absent, or the full static length: false).
    let hasSequenceLens: Bool
    /// W [dirs, G*H, I], R [dirs, G*H, H], B [dirs, 2*G*H] (zeros when absent), P [dirs][3H].
    let w: [Float]
    let r: [Float]
    let b: [Float]
    let peepholes: [[Float]]?
    /// Which outputs the graph reads.
    private let read: [Bool]

    var timeAxis: Int { batchMajor ? 1 : 0 }

    init(_ l: ToTFLiteNode, cell: Cell) throws {
        self.cell = cell
        guard l.elementType(0) == .float32 else { throw NotLowerable("only a float32 input X is lowered") }
        let layout = l.opset >= 14 ? l.int("layout", 0) : 0
        guard layout == 0 || layout == 1 else { throw NotLowerable("layout \(layout) is not 0 or 1") }
        batchMajor = layout == 1
        switch l.string("direction", "forward") {
        case "forward": directions = [.forward]
        case "reverse": directions = [.reverse]
        case "bidirectional": directions = [.forward, .reverse]
        case let other: throw NotLowerable("direction '\(other)' is not forward, reverse or bidirectional")
        }
        let dirs = directions.count
        guard let x = l.shape(0), x.count == 3 else { throw NotLowerable("X must have rank 3") }
        steps = x[batchMajor ? 1 : 0].value
        batch = x[batchMajor ? 0 : 1].value
        let g = cell.gates
        guard let wt = l.constant(1), wt.dtype == .float32, wt.shape.count == 3, let wv = wt.float32Values,
            let rt = l.constant(2), rt.dtype == .float32, rt.shape.count == 3, let rv = rt.float32Values
        else { throw NotLowerable("W and R must be constant float32 tensors of rank 3") }
        guard wt.shape[0] == dirs, wt.shape[1] % g == 0 else {
            throw NotLowerable("W has shape \(wt.shape), not [\(dirs), \(g) * hidden, input]")
        }
        hidden = wt.shape[1] / g
        inputSize = wt.shape[2]
        if let h = l.node.attribute("hidden_size")?.int, h != hidden {
            throw NotLowerable("hidden_size \(h) does not match W's \(wt.shape)")
        }
        guard hidden > 0, inputSize > 0, rt.shape == [dirs, g * hidden, hidden] else {
            throw NotLowerable("R has shape \(rt.shape), not [\(dirs), \(g * hidden), \(hidden)]")
        }
        if let xi = x[2].value, xi != inputSize { throw NotLowerable("X's feature size \(xi) does not match W's \(inputSize)") }
        w = wv
        r = rv
        if l.has(3) {
            guard let bt = l.constant(3), bt.dtype == .float32, bt.shape == [dirs, 2 * g * hidden], let bv = bt.float32Values else {
                throw NotLowerable("B must be a constant float32 tensor [\(dirs), \(2 * g * hidden)]")
            }
            b = bv
        } else {
            b = [Float](repeating: 0, count: dirs * 2 * g * hidden)
        }
        // sequence_lens: none to apply when it is the full static length everywhere.
        if l.has(4) {
            if let steps, let lens = l.constant(4)?.int64Values(), lens.allSatisfy({ $0 == Int64(steps) }) {
                hasSequenceLens = false
            } else {
                guard [.int32, .int64, .float32].contains(l.elementType(4)), try l.rank(4) == 1 else {
                    throw NotLowerable("sequence_lens must be a [batch] integer tensor")
                }
                hasSequenceLens = true
            }
        } else {
            hasSequenceLens = false
        }
        if cell == .lstm, l.has(7) {
            guard let pt = l.constant(7), pt.dtype == .float32, pt.shape == [dirs, 3 * hidden], let pv = pt.float32Values else {
                throw NotLowerable("P must be a constant float32 tensor [\(dirs), \(3 * hidden)]")
            }
            let hidden = hidden
            peepholes = (0..<dirs).map { d in Array(pv[(d * 3 * hidden)..<((d + 1) * 3 * hidden)]) }
        } else {
            peepholes = nil
        }
        let count = cell.activationCount
        if let names = l.node.attribute("activations")?.strings {
            guard names.count == count * dirs else {
                throw NotLowerable("\(names.count) activations given, \(count * dirs) expected")
            }
            activations = (0..<dirs).map { d in names[(d * count)..<((d + 1) * count)].map { $0.lowercased() } }
        } else {
            activations = [[String]](repeating: cell.defaultActivations, count: dirs)
        }
        for name in activations.joined() where !["sigmoid", "tanh", "relu"].contains(name) {
            throw NotLowerable("activation '\(name)' is not lowered")
        }
        if let c = l.node.attribute("clip")?.float {
            guard c > 0 else { throw NotLowerable("clip \(c) must be positive") }
            clip = c
        } else {
            clip = nil
        }
        inputForget = cell == .lstm && l.int("input_forget", 0) != 0
        linearBeforeReset = cell == .gru && l.int("linear_before_reset", 0) != 0
        zeroInitialH = Self.isZeros(l, 5)
        zeroInitialC = cell != .lstm || Self.isZeros(l, 6)
        let uses = l.scope.graph.useCounts
        let graphOutputs = Set(l.scope.graph.outputs.map(\.name))
        read = l.node.outputs.map { !$0.isEmpty && ((uses[$0] ?? 0) > 0 || graphOutputs.contains($0)) }
    }

    /// Whether the graph reads output `k`.
    func isRead(_ k: Int) -> Bool { k < read.count && read[k] }

    /// Gate `g`'s input weights of direction `d`: [hidden, input], as FULLY_CONNECTED wants.
    func inputWeights(_ d: Int, _ g: Int) -> Tensor {
        let start = (d * cell.gates + g) * hidden * inputSize
        return Tensor(dtype: .float32, shape: [hidden, inputSize], values: Array(w[start..<(start + hidden * inputSize)]))
    }

    /// Gate `g`'s recurrent weights of direction `d`: [hidden, hidden].
    func recurrentWeights(_ d: Int, _ g: Int) -> Tensor {
        let start = (d * cell.gates + g) * hidden * hidden
        return Tensor(dtype: .float32, shape: [hidden, hidden], values: Array(r[start..<(start + hidden * hidden)]))
    }

    /// Gate `g`'s input bias Wb of direction `d`, plus its recurrent bias Rb when asked.
    func inputBias(_ d: Int, _ g: Int, plusRecurrent: Bool) -> [Float] {
        let start = d * 2 * cell.gates * hidden + g * hidden
        let wb = b[start..<(start + hidden)]
        guard plusRecurrent else { return Array(wb) }
        return zip(wb, recurrentBias(d, g)).map { $0 + $1 }
    }

    /// Gate `g`'s recurrent bias Rb of direction `d`.
    func recurrentBias(_ d: Int, _ g: Int) -> [Float] {
        let start = d * 2 * cell.gates * hidden + (cell.gates + g) * hidden
        return Array(b[start..<(start + hidden)])
    }

    func vector(_ v: [Float]) -> Tensor { Tensor(dtype: .float32, shape: [v.count], values: v) }

    static func negated(_ t: Tensor) -> Tensor { Tensor(dtype: .float32, shape: t.shape, values: (t.float32Values ?? []).map { -$0 }) }

    /// Whether input `k` (an initial state) is absent or zeros: a constant, or what torch's
    /// export makes of a zero state (ConstantOfShape of a computed shape, then Slice, Expand...).
    static func isZeros(_ l: ToTFLiteNode, _ k: Int) -> Bool {
        guard l.has(k) else { return true }
        func zeros(_ t: Tensor?) -> Bool { t?.doubleValues()?.allSatisfy { $0 == 0 } ?? false }
        if let c = l.constant(k) { return zeros(c) }
        let g = l.scope.graph
        let producers = g.producers
        var name = l.node.inputs[k]
        for _ in 0..<64 {
            if let t = g.constantTensor(named: name) { return zeros(t) }
            guard let p = producers[name] else { return false }
            let n = g.nodes[p]
            guard n.canonicalDomain.isEmpty, let first = n.inputs.first else { return false }
            switch n.opType {
            case "ConstantOfShape":
                guard let value = n.attribute("value") else { return true }
                return zeros(value.tensor)
            case "Slice", "Squeeze", "Unsqueeze", "Reshape", "Expand", "Identity", "Transpose", "Tile", "Flatten", "Cast", "Gather":
                name = first
            default:
                return false
            }
        }
        return false
    }
}
