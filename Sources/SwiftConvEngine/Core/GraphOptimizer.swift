import SwiftConvIR

/// Rewrites a graph before planning, as onnxruntime's graph transformers do, so that fewer
/// and cheaper kernels run. Every rewrite keeps the graph's results (within float rounding
/// of the fused kernel) and leaves graph inputs, outputs and initializers alone.
enum GraphOptimizer {
    /// The domain of the fused ops the rewrites produce: onnxruntime's contrib domain, whose
    /// `FusedConv` (Conv + activation) this engine also runs when a model contains it.
    static let fusedDomain = "com.microsoft"

    /// Applies the rewrites `level` allows; returns the graph and whether it now uses `fusedDomain`.
    static func optimize(_ graph: Graph, level: GraphOptimizationLevel) -> (Graph, usesFusedDomain: Bool) {
        guard level.rawValue >= GraphOptimizationLevel.extended.rawValue else { return (graph, false) }
        var g = graph
        let fused = fuseConvActivation(&g)
        if fused { removeUnusedConstants(&g) }
        return (g, fused)
    }

    /// Conv followed by Relu or Clip (constant bounds) becomes one `FusedConv`, which applies
    /// the activation to each output tile while it is still in cache. Only when the Conv
    /// output feeds that single node and nothing else (no graph output, no subgraph).
    /// Both activations commute with rounding to the output type, so this holds for every
    /// float type.
    static func fuseConvActivation(_ g: inout Graph) -> Bool {
        let uses = useCounts(g)
        var producer: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for o in n.outputs where !o.isEmpty { producer[o] = i } }
        let initializers = Dictionary(g.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let graphOutputs = Set(g.outputs.map(\.name))

        /// A constant float32 scalar input (initializer or Constant node), if that is what `name` is.
        func scalar(_ name: String) -> Float? {
            var tensor = initializers[name]
            if tensor == nil, let p = producer[name], g.nodes[p].opType == "Constant", g.nodes[p].canonicalDomain.isEmpty {
                tensor = g.nodes[p].attribute("value")?.tensor
            }
            guard let t = tensor, t.dtype == .float32, t.elementCount == 1, g.inputs.allSatisfy({ $0.name != name }) else { return nil }
            return t.floatPointer[0]
        }

        var removed = Set<Int>()
        var changed = false
        for (i, act) in g.nodes.enumerated() where act.canonicalDomain.isEmpty && !act.inputs.isEmpty {
            let params: [Float]
            switch act.opType {
            case "Relu":
                params = []
            case "Clip":
                // Opset < 11 gives the bounds as attributes, later opsets as optional inputs.
                if act.inputs.count == 1 {
                    params = [act.attribute("min")?.float ?? -.greatestFiniteMagnitude,
                              act.attribute("max")?.float ?? .greatestFiniteMagnitude]
                } else {
                    let lo = act.inputs[1].isEmpty ? -.greatestFiniteMagnitude : scalar(act.inputs[1])
                    let hi = act.inputs.count > 2 && !act.inputs[2].isEmpty ? scalar(act.inputs[2]) : .greatestFiniteMagnitude
                    guard let lo, let hi else { continue }
                    params = [lo, hi]
                }
            default:
                continue
            }
            let x = act.inputs[0]
            guard let p = producer[x], !removed.contains(p), uses[x] == 1, !graphOutputs.contains(x),
                  act.outputs.count == 1 else { continue }
            let conv = g.nodes[p]
            guard conv.opType == "Conv", conv.canonicalDomain.isEmpty, conv.outputs.count == 1 else { continue }
            var fusedNode = Node(name: conv.name, opType: "FusedConv", domain: fusedDomain, inputs: conv.inputs,
                                 outputs: act.outputs, attributes: conv.attributes)
            fusedNode.attributes.append(Attribute(name: "activation", value: .string(Array(act.opType.utf8))))
            if !params.isEmpty { fusedNode.attributes.append(Attribute(name: "activation_params", value: .floats(params))) }
            g.nodes[p] = fusedNode
            removed.insert(i)
            changed = true
        }
        if changed { g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element) }
        return changed
    }

    /// Drops Constant nodes nothing reads any more (the bounds of fused Clips).
    static func removeUnusedConstants(_ g: inout Graph) {
        let uses = useCounts(g)
        let outputs = Set(g.outputs.map(\.name))
        g.nodes.removeAll { n in
            n.opType == "Constant" && n.canonicalDomain.isEmpty
                && n.outputs.allSatisfy { uses[$0, default: 0] == 0 && !outputs.contains($0) }
        }
    }

    /// How many node inputs (subgraph reads included) name each value.
    static func useCounts(_ g: Graph) -> [String: Int] {
        var uses: [String: Int] = [:]
        for n in g.nodes {
            for i in n.inputs where !i.isEmpty { uses[i, default: 0] += 1 }
            for name in ExecutionPlan.freeNames(ofSubgraphsOf: n) { uses[name, default: 0] += 2 }
        }
        return uses
    }
}
