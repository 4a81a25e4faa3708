import SwiftConvIR

/// 'int8' mode for ONNX, in the QDQ format of onnxruntime's `quantize_static`: the ops it
/// quantizes read their activations through a QuantizeLinear -> DequantizeLinear pair (int8,
/// asymmetric, from the calibrated range widened to hold 0) and their weights through a
/// DequantizeLinear of a symmetric int8 constant (per output channel for Conv/ConvTranspose,
/// per output column for 2-D MatMul/Gemm weights); Conv and Gemm biases are int32 with scale
/// input scale * weight scale. A Relu or Clip right after a Conv, Gemm, MatMul, Add or Mul is
/// removed: the QuantizeLinear of its calibrated output range clamps the same way.
enum ONNXStaticQuantization {
    /// Ops whose outputs only move or pick input values, so they keep the input's parameters.
    static let passThroughOps: Set<String> = [
        "MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Split", "Slice", "Gather", "Resize", "Pad",
    ]
    /// Quantized ops with one activation input (input 0).
    static let unaryOps: Set<String> = passThroughOps.union([
        "AveragePool", "GlobalAveragePool", "Relu", "Clip", "LeakyRelu", "Softmax", "Sigmoid",
    ])
    /// Ops whose following Relu/Clip becomes part of their output's quantized range.
    static let activationFusingOps: Set<String> = ["Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul"]

    /// The input positions of `node` read through Q/DQ (a constant weight there is quantized as
    /// a weight instead); nil when the op stays float.
    static func quantizedInputs(_ node: Node) -> [Int]? {
        guard node.canonicalDomain.isEmpty else { return nil }
        switch node.opType {
        case "Conv", "ConvTranspose", "Gemm", "MatMul": return [0, 1]
        case "Add", "Mul", "Concat": return Array(node.inputs.indices)
        case "Where": return [1, 2]
        default: return unaryOps.contains(node.opType) ? [0] : nil
        }
    }

    static func rewrite(_ graph: Graph, ranges: ActivationRanges) throws -> Graph {
        var g = graph
        g.nodes = try g.topologicallyOrderedNodes()
        removeFusedActivations(&g, ranges: ranges)
        let constants = g.float32Initializers
        var builder = QDQBuilder(graph: g)

        // First the parameters of every activation to quantize, in run order (a pass-through
        // op's output takes its input's), and the constant operands' quantized forms.
        var params: [String: QuantParams] = [:]
        var order: [String] = []
        var constantInputs: [String: (name: String, params: QuantParams)] = [:] // by "node index#input index"
        func own(_ name: String) -> QuantParams? {
            ranges[name].map { QuantizedTensors.activationParams(min: $0.min, max: $0.max) }
        }
        func assign(_ name: String, _ p: QuantParams?) {
            guard let p, params[name] == nil else { return }
            params[name] = p
            order.append(name)
        }
        for (n, node) in g.nodes.enumerated() {
            guard let positions = quantizedInputs(node) else { continue }
            for i in positions where i < node.inputs.count && !node.inputs[i].isEmpty {
                let x = node.inputs[i]
                if let t = constants[x] {
                    if let q = quantizedConstant(node, i, t, &builder) { constantInputs["\(n)#\(i)"] = q }
                } else {
                    assign(x, own(x))
                }
            }
            for (k, y) in node.outputs.enumerated() where !y.isEmpty && ranges[y] != nil {
                let input = node.inputs.first ?? ""
                let inherited =
                    passThroughOps.contains(node.opType) && (k == 0 || node.opType == "Split")
                    ? (params[input] ?? constantInputs["\(n)#0"]?.params) : nil
                assign(y, inherited?.isPerTensor == true ? inherited : own(y))
            }
        }

        // Then the graph: constants' DequantizeLinear first, each Q/DQ pair after its value's producer.
        let graphOutputs = Set(g.outputs.map(\.name))
        var dequantized: [String: String] = [:]
        var pairs: [String: [Node]] = [:]
        var renamedOutputs: [String: String] = [:] // graph output -> the float value its producer now writes
        var inputPairs: [Node] = []
        let produced = Set(g.nodes.flatMap(\.outputs))
        for x in order {
            let p = params[x]!
            if graphOutputs.contains(x) && produced.contains(x) {
                let float = builder.names.fresh(x + "_float")
                renamedOutputs[x] = float
                pairs[float] = builder.pair(float, p, output: x)
                dequantized[x] = x
            } else {
                let out = builder.names.fresh(x + "_dequantized")
                let nodes = builder.pair(x, p, output: out)
                if produced.contains(x) { pairs[x] = nodes } else { inputPairs += nodes }
                dequantized[x] = out
            }
        }
        var body: [Node] = []
        for (n, var node) in g.nodes.enumerated() {
            if let positions = quantizedInputs(node) {
                let weight = node.inputs.count > 1 ? constantInputs["\(n)#1"]?.params : nil
                let inputParams = node.inputs.first.flatMap { params[$0] }
                for i in positions where i < node.inputs.count && !node.inputs[i].isEmpty {
                    let x = node.inputs[i]
                    if let q = constantInputs["\(n)#\(i)"] {
                        node.inputs[i] = q.name
                    } else if let dq = dequantized[x] {
                        node.inputs[i] = dq
                    }
                }
                if let bias = int32Bias(node, inputParams: inputParams, weight: weight, constants, &builder) {
                    node.inputs[2] = bias
                }
            }
            for k in node.outputs.indices { if let r = renamedOutputs[node.outputs[k]] { node.outputs[k] = r } }
            body.append(node)
            for y in node.outputs { body += pairs[y] ?? [] }
        }
        g.initializers += builder.constants
        g.nodes = builder.constantNodes + inputPairs + body
        return g
    }

    /// The quantized form of constant input `i` of `node`: a weight as symmetric int8, another
    /// operand (of Add, Mul, Concat, Where, a Gather table) as int8 from its own range.
    static func quantizedConstant(_ node: Node, _ i: Int, _ t: Tensor, _ b: inout QDQBuilder) -> (name: String, params: QuantParams)? {
        guard t.elementCount > 0 else { return nil }
        switch (node.opType, i) {
        case ("Conv", 1):
            return b.symmetricWeight(t, axis: 0)
        case ("ConvTranspose", 1):
            // Output channels are axis 1 of the weight only when there is one group.
            return b.symmetricWeight(t, axis: (node.attribute("group")?.int ?? 1) == 1 ? 1 : nil)
        case ("Gemm", 1):
            guard t.shape.count == 2 else { return nil }
            return b.symmetricWeight(t, axis: (node.attribute("transB")?.int ?? 0) == 0 ? 1 : 0)
        case ("MatMul", 1):
            return b.symmetricWeight(t, axis: t.shape.count == 2 ? 1 : nil)
        case ("Gather", 0):
            return b.symmetricWeight(t, axis: nil)
        case ("Conv", _), ("ConvTranspose", _), ("Gemm", _):
            return nil
        default:
            return b.asymmetricConstant(t)
        }
    }

    /// The int32 bias input of a Conv, ConvTranspose or Gemm whose input and weight are
    /// quantized (Gemm only with alpha = beta = 1 and a 1-D bias), as its DequantizeLinear output.
    static func int32Bias(
        _ node: Node, inputParams: QuantParams?, weight: QuantParams?, _ constants: [String: Tensor], _ b: inout QDQBuilder
    ) -> String? {
        guard ["Conv", "ConvTranspose", "Gemm"].contains(node.opType), node.inputs.count > 2,
            let bias = constants[node.inputs[2]], bias.shape.count == 1,
            let input = inputParams, input.isPerTensor, let weight,
            weight.isPerTensor || weight.channelCount == bias.shape[0]
        else { return nil }
        if node.opType == "Gemm" && ((node.attribute("alpha")?.float ?? 1) != 1 || (node.attribute("beta")?.float ?? 1) != 1) {
            return nil
        }
        return b.int32Bias(bias, inputScale: input.scale[0], weight: weight)
    }

    /// Removes each Relu, and each Clip whose bounds hold 0, that alone reads the output of an op
    /// of `activationFusingOps`: the producer writes the activation's output instead, whose
    /// calibrated range (0 at one end) makes its QuantizeLinear clamp as the activation did.
    static func removeFusedActivations(_ g: inout Graph, ranges: ActivationRanges) {
        let producers = g.producers
        let uses = g.useCounts
        let interface = Set(g.outputs.map(\.name))
        var removed = Set<Int>()
        for (k, node) in g.nodes.enumerated()
        where node.canonicalDomain.isEmpty && (node.opType == "Relu" || node.opType == "Clip") && node.outputs.count == 1 {
            let x = node.inputs.first ?? ""
            guard let p = producers[x], activationFusingOps.contains(g.nodes[p].opType), g.nodes[p].canonicalDomain.isEmpty,
                uses[x] == 1, !interface.contains(x), ranges[node.outputs[0]] != nil, clampsAroundZero(node, g)
            else { continue }
            g.nodes[p].outputs = g.nodes[p].outputs.map { $0 == x ? node.outputs[0] : $0 }
            removed.insert(k)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// Whether an activation's clamp interval holds 0 (Relu always; Clip from its constant bounds).
    static func clampsAroundZero(_ node: Node, _ g: Graph) -> Bool {
        guard node.opType == "Clip" else { return true }
        func bound(_ i: Int) -> Float?? {
            guard i < node.inputs.count, !node.inputs[i].isEmpty else { return .some(nil) }
            guard let t = g.constantTensor(named: node.inputs[i]), t.dtype == .float32, t.elementCount == 1 else { return nil }
            return .some(t.values(as: Float.self)[0])
        }
        guard let lo = bound(1), let hi = bound(2) else { return false }
        return (lo ?? -.infinity) <= 0 && (hi ?? .infinity) >= 0
    }
}
