import SwiftConvIR

/// Conv followed by an activation becomes onnxruntime's `com.microsoft` `FusedConv`, which
/// applies the activation to each output tile while it is in cache.
///
/// Relu and Clip (constant bounds) fuse for every float type: both commute with rounding to
/// the output type. A missing Clip bound is ±infinity, as in the unfused Clip: an infinite
/// input keeps its value at every optimization level. The other activations round once
/// instead of twice, so they fuse only where the weights say the Conv is float32: LeakyRelu,
/// Sigmoid, Tanh, HardSigmoid (onnxruntime's names), and two that onnxruntime's FusedConv does
/// not have, written only into the engine's own graph: `HardSwish` (MobileNetV3) and `Swish`,
/// SiLU `x * sigmoid(x)`, matched as EfficientNet's `Mul(conv, Sigmoid(conv))`.
public struct ConvActivationFusion: ModelPass {
    public let name = "fuse-conv-activation"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        let swish = fuseSwish(&model)
        let rewriter = PatternRewriter(
            name: name,
            chain: [OpPattern("Conv"), OpPattern("Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish")]
        ) { match, context in
            let (conv, activation) = (match[0], match[1])
            guard activation.outputs.count == 1, let params = Self.parameters(of: activation, in: context.graph) else {
                return nil
            }
            let clamps = activation.opType == "Relu" || activation.opType == "Clip"
            guard clamps || Self.isFloat32(conv, in: context.graph) else { return nil }
            context.importOpset(OpDomain.microsoft, version: 1)
            return [Self.fused(conv, activation: activation.opType, params: params, outputs: activation.outputs)]
        }
        let chained = try rewriter.run(on: &model)
        return swish || chained
    }

    /// The FusedConv of `conv` with `activation`, producing `outputs`.
    static func fused(_ conv: Node, activation: String, params: [Float], outputs: [String]) -> Node {
        var fused = Node(
            name: conv.name, opType: "FusedConv", domain: OpDomain.microsoft, inputs: conv.inputs,
            outputs: outputs, attributes: conv.attributes)
        fused.attributes.append(Attribute(name: "activation", value: .string(Array(activation.utf8))))
        if !params.isEmpty { fused.attributes.append(Attribute(name: "activation_params", value: .floats(params))) }
        return fused
    }

    /// Whether `conv` is known to compute in float32: its weights are a float32 constant.
    static func isFloat32(_ conv: Node, in graph: Graph) -> Bool {
        guard conv.inputs.count > 1, let w = graph.constantTensor(named: conv.inputs[1]) else { return false }
        return w.dtype == .float32
    }

    /// FusedConv's `activation_params`: none for Relu, Sigmoid, Tanh and HardSwish, `[min, max]`
    /// for Clip, `[alpha]` for LeakyRelu, `[alpha, beta]` for HardSigmoid; nil when a Clip
    /// bound is not a constant float32 scalar.
    static func parameters(of activation: Node, in graph: Graph) -> [Float]? {
        switch activation.opType {
        case "LeakyRelu": return [activation.attribute("alpha")?.float ?? 0.01]
        case "HardSigmoid": return [activation.attribute("alpha")?.float ?? 0.2, activation.attribute("beta")?.float ?? 0.5]
        case "Clip": break
        default: return []
        }
        // Opset < 11 gives the bounds as attributes, later opsets as optional inputs.
        if activation.inputs.count == 1 {
            return [activation.attribute("min")?.float ?? -.infinity, activation.attribute("max")?.float ?? .infinity]
        }
        func bound(_ k: Int, missing: Float) -> Float? {
            guard k < activation.inputs.count, !activation.inputs[k].isEmpty else { return missing }
            guard let t = graph.constantTensor(named: activation.inputs[k]), t.dtype == .float32, t.elementCount == 1
            else { return nil }
            return t.values(as: Float.self).first
        }
        guard let lo = bound(1, missing: -.infinity), let hi = bound(2, missing: .infinity) else { return nil }
        return [lo, hi]
    }

    /// Conv -> Sigmoid -> Mul(conv, sigmoid), either Mul input order, into a FusedConv with
    /// `activation` "Swish". The Conv output must be read by that Sigmoid and that Mul only,
    /// the Sigmoid output by the Mul only, and neither may be a graph output or read by a
    /// subgraph. Only the main graph is rewritten.
    func fuseSwish(_ model: inout Model) -> Bool {
        let g = model.graph
        let producer = g.producers, readers = g.consumers
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        var fusedAt: [Int: Node] = [:]
        var removed = Set<Int>()
        for (i, mul) in g.nodes.enumerated()
        where mul.opType == "Mul" && mul.canonicalDomain == "" && mul.inputs.count == 2 && mul.outputs.count == 1 {
            for (c, s) in [(mul.inputs[0], mul.inputs[1]), (mul.inputs[1], mul.inputs[0])] {
                guard !c.isEmpty, !s.isEmpty, c != s, !pinned.contains(c), !pinned.contains(s),
                    let si = producer[s], let ci = producer[c], !removed.contains(si), !removed.contains(ci)
                else { continue }
                let sigmoid = g.nodes[si], conv = g.nodes[ci]
                guard sigmoid.opType == "Sigmoid", sigmoid.canonicalDomain == "", sigmoid.inputs == [c],
                    sigmoid.outputs == [s], conv.opType == "Conv", conv.canonicalDomain == "",
                    conv.outputs.filter({ !$0.isEmpty }) == [c], readers[s] == [i],
                    (readers[c] ?? []).sorted() == [si, i].sorted(), Self.isFloat32(conv, in: g)
                else { continue }
                fusedAt[i] = Self.fused(conv, activation: "Swish", params: [], outputs: mul.outputs)
                removed.formUnion([si, ci])
                break
            }
        }
        guard !fusedAt.isEmpty else { return false }
        Self.apply(fusedAt, removing: removed, to: &model)
        return true
    }

    /// Rewrites the main graph: the node at each position of `fusedAt` becomes its fused
    /// node, the nodes at `removed` go, with the value infos of outputs nothing makes any more,
    /// and the com.microsoft opset (FusedConv's) is imported. Shared with ConvAddFusion.
    static func apply(_ fusedAt: [Int: Node], removing removed: Set<Int>, to model: inout Model) {
        var rewritten: [Node] = []
        var gone = Set<String>()
        for (i, node) in model.graph.nodes.enumerated() {
            if let fused = fusedAt[i] {
                rewritten.append(fused)
                gone.formUnion(node.outputs.filter { !fused.outputs.contains($0) })
            } else if removed.contains(i) {
                gone.formUnion(node.outputs)
            } else {
                rewritten.append(node)
            }
        }
        model.graph.nodes = rewritten
        model.graph.valueInfo.removeAll { gone.contains($0.name) }
        if !model.opsetImports.contains(where: { OpDomain.canonical($0.domain) == OpDomain.microsoft }) {
            model.opsetImports.append(OpsetID(domain: OpDomain.microsoft, version: 1))
        }
    }
}
