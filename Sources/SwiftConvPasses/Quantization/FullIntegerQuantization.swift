import SwiftConvIR

/// 'int8' mode: full-integer quantization of the main graph from calibrated activation ranges.
///
/// Every op with an int8 kernel (`TFLiteQuantizationRules.int8Op`) gets int8 activations
/// (asymmetric, per tensor), symmetric per-channel int8 weights and int32 biases; the ops
/// LiteRT runs only in float (and control flow) stay float between DEQUANTIZE and QUANTIZE.
/// The model's inputs and outputs stay float32 behind a QUANTIZE/DEQUANTIZE unless the
/// options ask for int8 ones, as TFLiteConverter's `inference_input_type`/`inference_output_type`.
///
/// With `fixed` parameters (a QDQ source) they replace the calibrated ranges: activations
/// take them exactly, weights take the source's int8 values and scales when their float
/// values are exactly those, and values without parameters stay float (a value with
/// parameters that only float ops read stays float too: its pair is not applied). Where a kernel
/// dictates the output parameters (LOGISTIC, SOFTMAX, TANH; pools, shape ops and
/// CONCATENATION sharing their input's) LiteRT's rule wins over the source's.
struct FullIntegerQuantization {
    var g: Graph
    let ranges: ActivationRanges
    let options: TFLiteQuantizationOptions
    /// Parameters fixed by the source model, used instead of `ranges` when given.
    let fixed: FixedQuantization?
    /// Float constants that are exactly a per-tensor int8 constant of the source (an embedding
    /// table): with fixed parameters a GATHER of one runs in int8 with the table's parameters.
    var sourceTables: [String: QuantParams] = [:]
    var names: UniqueNameGenerator
    var constants: [String: Tensor] = [:]
    /// The int8 parameters of every activation that is int8 in the result.
    var params: [String: QuantParams] = [:]
    /// Conversion nodes already made, by value and target parameters.
    var twins: [String: String] = [:]
    /// Nodes made while rewriting the current node, to go in front of it.
    var pending: [Node] = []

    init(graph: Graph, ranges: ActivationRanges, options: TFLiteQuantizationOptions, fixed: FixedQuantization? = nil) {
        g = graph
        self.ranges = ranges
        self.options = options
        self.fixed = fixed
        names = UniqueNameGenerator(graph: graph)
        for t in graph.initializers { constants[t.name] = t }
        if let fixed {
            for t in graph.initializers where t.dtype == .float32 {
                if let q = fixed.exactInt8(t, axis: nil, symmetric: false, name: t.name)?.quantization { sourceTables[t.name] = q }
            }
        }
    }

    func isFloat(_ name: String) -> Bool { g.declaredType(name)?.tensorElementType == .float32 }

    func shape(_ name: String) -> Shape? {
        if case .tensor(_, let s, _)? = g.declaredType(name) { return s }
        return constants[name].map { Shape($0.shape) }
    }

    /// Parameters from the calibrated range of `name` (or fixed ones), nil when it was never observed.
    func calibrated(_ name: String) -> QuantParams? {
        if let fixed { return fixed.activations[name] }
        return ranges[name].map { QuantizedTensors.activationParams(min: $0.min, max: $0.max) }
    }

    /// The parameters `name` has when it is int8: its own, else from its range.
    func effective(_ name: String) -> QuantParams? { params[name] ?? calibrated(name) }

    /// The int8 form of `node`'s op when it can run in int8 here: known op, float32 data,
    /// float32 constant weights and bias, a range for every float activation it touches.
    func plan(_ node: Node) -> TFLiteQuantizationRules.Int8Op? {
        guard node.domain == OpDomain.tflite, !node.hasSubgraphs, let op = TFLiteQuantizationRules.int8Op(node) else { return nil }
        guard !node.outputs.isEmpty, node.outputs.allSatisfy({ !$0.isEmpty && isFloat($0) }) else { return nil }
        for (slot, input) in node.inputs.enumerated() where !input.isEmpty {
            if let c = constants[input] {
                if c.isVariableOrSparse { return nil }
                if slot == op.weight?.slot || slot == op.bias {
                    guard c.dtype == .float32 else { return nil }
                }
                if case .sameAsInput(let data) = op.output, data == slot, sourceTables[input] == nil { return nil }
                continue
            }
            if slot == op.weight?.slot { return nil }
            if isFloat(input), effective(input) == nil { return nil }
        }
        if let w = op.weight {
            // Constant weights with the channel axis, and one bias per channel.
            guard w.slot < node.inputs.count, let weights = constants[node.inputs[w.slot]], w.axis < weights.shape.count,
                weights.shape[w.axis] > 0
            else { return nil }
            if let b = op.bias, b < node.inputs.count, let bias = constants[node.inputs[b]],
                bias.elementCount != weights.shape[w.axis]
            {
                return nil
            }
        }
        if case .sameAsInput(let data) = op.output {
            guard data < node.inputs.count, isFloat(node.inputs[data]) || sourceTables[node.inputs[data]] != nil else { return nil }
        }
        switch op.output {
        case .calibrated, .sharedWithInputs: if node.outputs.contains(where: { calibrated($0) == nil }) { return nil }
        default: break
        }
        return op
    }

    mutating func rewrite() throws -> Graph {
        if options.inputType == .int8 {
            for input in g.inputs where isFloat(input.name) {
                guard let p = calibrated(input.name) else {
                    throw SwiftConvError.invalidArgument("int8 quantization: input '\(input.name)' has no calibrated range")
                }
                params[input.name] = p
            }
        }
        let producers = g.producers
        let consumers = g.consumers
        let outputNames = Set(g.outputs.map(\.name))
        var rewritten: [Node] = []
        for node in g.nodes {
            guard let op = plan(node) else {
                var n = node
                for (slot, input) in n.inputs.enumerated() where params[input] != nil { n.inputs[slot] = floatForm(input) }
                rewritten += pending + [n]
                pending = []
                continue
            }
            // Output parameters first: shared ones may change the parameters of inputs' producers.
            var shared: QuantParams? = nil
            for o in node.outputs {
                switch op.output {
                case .calibrated: params[o] = calibrated(o)
                case .fixed(let scale, let zeroPoint): params[o] = QuantParams(scale: scale, zeroPoint: zeroPoint, storageType: .int8)
                case .sameAsInput(let data): params[o] = effective(node.inputs[data]) ?? sourceTables[node.inputs[data]]
                case .sharedWithInputs where fixed != nil:
                    // The output's fixed parameters; inputs with others are requantized.
                    params[o] = calibrated(o)
                    shared = params[o]
                case .sharedWithInputs:
                    var lo = ranges[o]?.min ?? 0
                    var hi = ranges[o]?.max ?? 0
                    for input in node.inputs where isFloat(input) {
                        if let r = ranges[input] {
                            (lo, hi) = (min(lo, r.min), max(hi, r.max))
                        } else if let c = constants[input] {
                            let v = c.values(as: Float.self).filter(\.isFinite)
                            (lo, hi) = (min(lo, v.min() ?? 0), max(hi, v.max() ?? 0))
                        }
                    }
                    let p = QuantizedTensors.activationParams(min: lo, max: hi)
                    params[o] = p
                    shared = p
                    // Producers free to choose their output parameters take the shared ones (no requantize).
                    for input in node.inputs where params[input] != nil && params[input] != p {
                        if let k = producers[input], consumers[input]?.count == 1, !outputNames.contains(input),
                            let producer = TFLiteQuantizationRules.int8Op(g.nodes[k]), case .calibrated = producer.output
                        {
                            // Its only consumer is this node, so no conversion of it exists yet.
                            params[input] = p
                        }
                    }
                }
            }
            rewritten += try int8Node(node, op, shared: shared)
        }
        g.nodes = rewritten
        try boundary()
        for (name, p) in params {
            g.setDeclaredType(name, .tensor(elementType: .int8, shape: shape(name), quantization: p))
        }
        return g
    }

    /// `node` rewritten to int8, preceded by the conversion nodes its inputs need.
    mutating func int8Node(_ node: Node, _ op: TFLiteQuantizationRules.Int8Op, shared: QuantParams?) throws -> [Node] {
        var n = node
        var weightParams: QuantParams? = nil
        for (slot, input) in node.inputs.enumerated() where !input.isEmpty && slot != op.bias {
            if let c = constants[input] {
                guard c.dtype == .float32 else { continue }
                let q: Tensor
                if let w = op.weight, w.slot == slot {
                    // plan() checked the axis, so this cannot be nil.
                    let name = names.fresh(input + "_int8")
                    guard
                        let weights = fixed?.exactInt8(c, axis: w.axis, symmetric: true, name: name)
                            ?? QuantizedTensors.symmetricInt8(c, axis: w.axis, name: name)
                    else {
                        throw SwiftConvError.internal("int8 quantization: weights of '\(node.name)' have no axis \(w.axis)")
                    }
                    q = weights
                    weightParams = q.quantization
                } else if let shared {
                    var t = Tensor(
                        name: names.fresh(input + "_int8"), dtype: .int8, shape: c.shape,
                        values: QuantizedTensors.quantize(c.values(as: Float.self), shared))
                    t.quantization = shared
                    q = t
                } else {
                    let name = names.fresh(input + "_int8")
                    q = fixed?.exactInt8(c, axis: nil, symmetric: false, name: name) ?? QuantizedTensors.asymmetricInt8(c, name: name)
                }
                g.addConstant(q)
                constants[q.name] = q
                n.inputs[slot] = q.name
            } else if isFloat(input), let p = shared ?? effective(input) {
                n.inputs[slot] = int8Form(input, p)
            }
        }
        if let b = op.bias, b < node.inputs.count, let bias = constants[node.inputs[b]], let w = weightParams,
            let inputScale = params[n.inputs[0]]?.scale.first ?? constants[n.inputs[0]]?.quantization?.scale.first
        {
            let q = QuantizedTensors.int32Bias(bias, inputScale: inputScale, weight: w, name: names.fresh(bias.name + "_int32"))
            g.addConstant(q)
            constants[q.name] = q
            n.inputs[b] = q.name
        }
        defer { pending = [] }
        return pending + [n]
    }

    /// A name holding `name` as int8 with parameters `p`: itself, or a QUANTIZE of it
    /// (from float, or a requantization from other int8 parameters).
    mutating func int8Form(_ name: String, _ p: QuantParams) -> String {
        if params[name] == p { return name }
        let key = "\(name)\u{0}\(p.scale[0])\u{0}\(p.zeroPoint[0])"
        if let twin = twins[key] { return twin }
        let twin = names.fresh(name + "_int8")
        pending.append(.tflite("QUANTIZE", name: twin, inputs: [name], outputs: [twin]))
        g.setDeclaredType(twin, .tensor(elementType: .int8, shape: shape(name), quantization: p))
        params[twin] = p
        twins[key] = twin
        return twin
    }

    /// A name holding int8 `name` as float32: a DEQUANTIZE of it.
    mutating func floatForm(_ name: String) -> String {
        let key = "\(name)\u{0}float"
        if let twin = twins[key] { return twin }
        let twin = names.fresh(name + "_float")
        pending.append(.tflite("DEQUANTIZE", name: twin, inputs: [name], outputs: [twin]))
        g.setDeclaredType(twin, .tensor(elementType: .float32, shape: shape(name)))
        twins[key] = twin
        return twin
    }

    /// The model interface: outputs keep their names and get the requested element type, so a
    /// DEQUANTIZE (or QUANTIZE) writes them from a renamed internal value.
    mutating func boundary() throws {
        for output in g.outputs where isFloat(output.name) {
            let o = output.name
            let wantInt8 = options.outputType == .int8
            let isInt8 = params[o] != nil
            guard wantInt8 != isInt8 else { continue }
            guard wantInt8 == false || calibrated(o) != nil else {
                throw SwiftConvError.invalidArgument("int8 quantization: output '\(o)' has no calibrated range")
            }
            let inner = names.fresh(o + (isInt8 ? "_int8" : "_float"))
            g.setDeclaredType(inner, .tensor(elementType: .float32, shape: shape(o)))
            for k in g.nodes.indices {
                g.nodes[k].inputs = g.nodes[k].inputs.map { $0 == o ? inner : $0 }
                g.nodes[k].outputs = g.nodes[k].outputs.map { $0 == o ? inner : $0 }
            }
            if isInt8 {
                params[inner] = params.removeValue(forKey: o)
                g.nodes.append(.tflite("DEQUANTIZE", name: o, inputs: [inner], outputs: [o]))
            } else {
                params[o] = calibrated(o)
                g.nodes.append(.tflite("QUANTIZE", name: o, inputs: [inner], outputs: [o]))
            }
        }
    }
}
