import SwiftConvIR

/// Post-training quantization of a float ONNX model into forms onnxruntime runs, as its
/// `quantize_static` (QDQ format) and `quantize_dynamic` write them: one file per mode
/// (`ONNXStaticQuantization`, `ONNXDynamicQuantization`, `ONNXFloat16Quantization`).
/// Names, inputs and outputs stay, and so do the float32 interface types.
public enum ONNXQuantizer {
    /// Per-axis DequantizeLinear (per-channel weights) needs opset 13.
    static let minimumOpset: Int64 = 13

    /// `model` quantized as `options` say; `ranges` (from `ActivationCalibrator`) is required
    /// for int8 and ignored otherwise.
    public static func quantize(_ model: Model, options: TFLiteQuantizationOptions, ranges: ActivationRanges?) throws -> Model {
        try checkFloatSource(model)
        guard options.inputType == .float32, options.outputType == .float32 else {
            throw SwiftConvError.invalidArgument(
                "ONNX quantization keeps float32 inputs and outputs: input_type and output_type must be float32")
        }
        var out = model
        try raiseOpset(&out)
        forwardConstantIdentities(&out.graph)
        switch options.mode {
        case .float16:
            out.graph = ONNXFloat16Quantization.rewrite(out.graph)
        case .dynamic:
            out.graph = try ONNXDynamicQuantization.rewrite(out.graph)
        case .int8:
            guard let ranges else {
                throw SwiftConvError.invalidArgument("int8 quantization needs activation ranges from a representative dataset")
            }
            out.graph = try ONNXStaticQuantization.rewrite(out.graph, ranges: ranges)
            // Ops left float (an LSTM, a MatMul with an uncalibrated input) still get int8 weights.
            out.graph = try ONNXDynamicQuantization.rewrite(out.graph, integerMatMul: false)
        }
        out.graph.removeDeadCode()
        return out
    }

    /// The values of the main graph whose ranges int8 quantization may need: graph inputs and
    /// node outputs (constants excluded); the calibrator keeps only the float32 ones it sees.
    public static func calibrationValues(_ model: Model) -> [String] {
        let g = model.graph
        let constants = Set(g.initializers.map(\.name))
        var seen = Set<String>()
        var names: [String] = []
        let produced = g.nodes.filter { $0.opType != "Constant" }.flatMap(\.outputs)
        for name in g.inputs.map(\.name) + produced where !name.isEmpty && !constants.contains(name) && seen.insert(name).inserted {
            names.append(name)
        }
        return names
    }

    /// Ops whose presence means the model is quantized already.
    static let quantizedOps: Set<String> = [
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv",
        "QLinearMatMul",
    ]

    /// Refuses ONNX models that are quantized already: quantizing twice is never what was meant.
    public static func checkFloatSource(_ model: Model) throws {
        guard model.format == .onnx else {
            throw SwiftConvError.invalidArgument("ONNX quantization works on ONNX models, not \(model.format.rawValue)")
        }
        let g = model.graph
        let quantizedNode = g.nodes.first { quantizedOps.contains($0.opType) || $0.opType.hasPrefix("QLinear") }
        let annotated = (g.inputs + g.outputs + g.valueInfo).contains { $0.type?.quantization != nil }
        if let node = quantizedNode {
            throw SwiftConvError.invalidArgument(
                "the model is already quantized (node '\(node.name)' is \(node.opType)); quantize its float original")
        }
        if annotated || !g.quantizationAnnotations.isEmpty || g.initializers.contains(where: { $0.quantization != nil }) {
            throw SwiftConvError.invalidArgument(
                "the model is already quantized (it has quantization annotations); quantize its float original")
        }
        if let half = g.initializers.first(where: { $0.dtype == .float16 }) {
            throw SwiftConvError.invalidArgument(
                "the model is already quantized (initializer '\(half.name)' is float16); quantize its float32 original")
        }
    }

    /// Makes the readers of an Identity of an initializer read the initializer itself (an
    /// exporter's way to share a weight), so that the weight is quantized where it is used.
    static func forwardConstantIdentities(_ g: inout Graph) {
        let constants = g.float32Initializers
        let kept = Set(g.outputs.map(\.name)).union(g.namesReadBySubgraphs)
        var forward: [String: String] = [:]
        for node in g.nodes
        where node.opType == "Identity" && node.canonicalDomain.isEmpty && node.inputs.count == 1 && node.outputs.count == 1
            && constants[node.inputs[0]] != nil && !kept.contains(node.outputs[0])
        {
            forward[node.outputs[0]] = node.inputs[0]
        }
        guard !forward.isEmpty else { return }
        g.nodes.removeAll { $0.opType == "Identity" && $0.canonicalDomain.isEmpty && forward[$0.outputs.first ?? ""] != nil }
        for i in g.nodes.indices { g.nodes[i].inputs = g.nodes[i].inputs.map { forward[$0] ?? $0 } }
        g.valueInfo.removeAll { forward[$0.name] != nil }
    }

    /// Ops whose opset-13 form reads a model of opset 11 or 12 differently (axes and splits
    /// became inputs; Softmax's axis now names one axis instead of flattening from it).
    static let changedAtOpset13: Set<String> = ["Squeeze", "Unsqueeze", "Split", "ReduceSum", "Softmax", "LogSoftmax", "Hardmax"]

    /// Sets the default-domain opset to 13 when the model's is lower: allowed from opset 11 (whose
    /// ops 13 only extends) when no node is one of `changedAtOpset13`.
    static func raiseOpset(_ model: inout Model) throws {
        guard let i = model.opsetImports.firstIndex(where: { $0.domain == "" || $0.domain == "ai.onnx" }) else {
            model.opsetImports.append(OpsetID(domain: "", version: minimumOpset))
            return
        }
        let old = model.opsetImports[i].version
        guard old < minimumOpset else { return }
        var changed: Set<String> = []
        func visit(_ g: Graph) {
            for node in g.nodes {
                if node.canonicalDomain.isEmpty && changedAtOpset13.contains(node.opType) { changed.insert(node.opType) }
                node.subgraphs.forEach(visit)
            }
        }
        visit(model.graph)
        guard old >= 11, changed.isEmpty else {
            let why = old < 11 ? "" : " (\(changed.sorted().joined(separator: ", ")) read differently there)"
            throw SwiftConvError.invalidArgument(
                "quantization writes opset \(minimumOpset) operators and cannot raise the model's opset \(old) to it\(why); "
                    + "convert the model to opset \(minimumOpset) first (onnx.version_converter)")
        }
        model.opsetImports[i].version = minimumOpset
    }
}

/// Builds the constants and DequantizeLinear/QuantizeLinear nodes of a QDQ rewrite, with fresh names.
struct QDQBuilder {
    var names: UniqueNameGenerator
    /// Constants made so far (quantized weights, scales, zero points).
    var constants: [Tensor] = []
    /// DequantizeLinear nodes of constants, to run at the start of the graph.
    var constantNodes: [Node] = []
    /// Weight DQ outputs already made, by source name and axis.
    private var weightCache: [String: (name: String, params: QuantParams)] = [:]

    init(graph: Graph) { names = UniqueNameGenerator(graph: graph) }

    /// Adds the scale and zero-point constants of `p` named after `base`; returns their names.
    mutating func parameterConstants(_ p: QuantParams, base: String) -> (scale: String, zeroPoint: String) {
        let scale = p.scaleTensor(name: names.fresh(base + "_scale"))
        // Zero points are in range of their storage type by construction.
        let zero = p.zeroPointTensor(name: names.fresh(base + "_zero_point"))!
        constants.append(scale)
        constants.append(zero)
        return (scale.name, zero.name)
    }

    /// A DequantizeLinear node reading `input` quantized with `p`.
    mutating func dequantize(_ input: String, _ p: QuantParams, base: String, output: String) -> Node {
        let (s, z) = parameterConstants(p, base: base)
        let axis = p.axis.map { [Attribute(name: "axis", value: .int(Int64($0)))] } ?? []
        return Node(
            name: names.fresh(base + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [input, s, z], outputs: [output],
            attributes: axis)
    }

    /// `t` as symmetric int8 (per channel along `axis`, or per tensor) behind a DequantizeLinear;
    /// returns the float output's name and the parameters, nil when `axis` is not a dimension of `t`.
    mutating func symmetricWeight(_ t: Tensor, axis: Int?) -> (name: String, params: QuantParams)? {
        let key = "\(t.name)#\(axis.map(String.init) ?? "-")"
        if let hit = weightCache[key] { return hit }
        guard var q = QuantizedTensors.symmetricInt8(t, axis: axis, name: names.fresh(t.name + "_quantized")),
            let p = q.quantization
        else { return nil }
        q.quantization = nil
        constants.append(q)
        let out = names.fresh(t.name + "_dequantized")
        constantNodes.append(dequantize(q.name, p, base: t.name, output: out))
        weightCache[key] = (out, p)
        return (out, p)
    }

    /// `t` as asymmetric per-tensor int8 from its own range behind a DequantizeLinear (a constant
    /// operand of Add, Mul, Concat...); nil when it holds a value that is not finite.
    mutating func asymmetricConstant(_ t: Tensor) -> (name: String, params: QuantParams)? {
        let key = "\(t.name)#asymmetric"
        if let hit = weightCache[key] { return hit }
        guard t.values(as: Float.self).allSatisfy(\.isFinite) else { return nil }
        var q = QuantizedTensors.asymmetricInt8(t, name: names.fresh(t.name + "_quantized"))
        let p = q.quantization!
        q.quantization = nil
        constants.append(q)
        let out = names.fresh(t.name + "_dequantized")
        constantNodes.append(dequantize(q.name, p, base: t.name, output: out))
        weightCache[key] = (out, p)
        return (out, p)
    }

    /// A bias as int32 with scale inputScale * weight scale (per channel when the weight is)
    /// behind a DequantizeLinear; returns its float output.
    mutating func int32Bias(_ t: Tensor, inputScale: Float, weight: QuantParams) -> String {
        var q = QuantizedTensors.int32Bias(t, inputScale: inputScale, weight: weight, name: names.fresh(t.name + "_quantized"))
        let p = q.quantization!
        q.quantization = nil
        constants.append(q)
        let out = names.fresh(t.name + "_dequantized")
        constantNodes.append(dequantize(q.name, p, base: t.name, output: out))
        return out
    }

    /// A QuantizeLinear -> DequantizeLinear pair from `input` to `output` with per-tensor `p`.
    mutating func pair(_ input: String, _ p: QuantParams, output: String) -> [Node] {
        let (s, z) = parameterConstants(p, base: input)
        let q = names.fresh(input + "_quantized")
        return [
            Node(name: names.fresh(input + "_QuantizeLinear"), opType: "QuantizeLinear", inputs: [input, s, z], outputs: [q]),
            Node(name: names.fresh(input + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [q, s, z], outputs: [output]),
        ]
    }
}

extension Graph {
    /// The float32 initializers by name, but for those that are also graph inputs (fed at run time).
    var float32Initializers: [String: Tensor] {
        let fed = Set(inputs.map(\.name))
        var out: [String: Tensor] = [:]
        for t in initializers where t.dtype == .float32 && out[t.name] == nil && !fed.contains(t.name) { out[t.name] = t }
        return out
    }
}
