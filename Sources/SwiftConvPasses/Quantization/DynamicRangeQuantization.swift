import SwiftConvIR

/// 'dynamic' mode: the float32 weights of the weight-heavy ops become symmetric int8 and the ops
/// run as LiteRT's hybrid kernels (float activations quantized on the fly); everything else,
/// biases included, stays float. Subgraphs (a Keras 3 LSTM's WHILE body) are quantized too.
enum DynamicRangeQuantization {
    /// TFLiteConverter's default `min_elements_for_weights`: smaller weights stay float, where
    /// quantizing saves little and costs accuracy.
    static let minimumElements = 1024

    static func rewrite(_ graph: Graph) throws -> Graph {
        var g = graph
        for i in g.nodes.indices { try g.nodes[i].rewriteSubgraphs { try rewrite($0) } }
        var names = UniqueNameGenerator(graph: g)
        let useCounts = g.useCounts
        let interface = Set(g.inputs.map(\.name) + g.outputs.map(\.name))
        var constants: [String: Tensor] = [:]
        for t in g.initializers { constants[t.name] = t }
        for k in g.nodes.indices {
            let node = g.nodes[k]
            guard node.domain == OpDomain.tflite, let rule = TFLiteQuantizationRules.hybridWeights(node) else { continue }
            func eligible(_ slot: Int) -> Tensor? {
                guard slot < node.inputs.count, let w = constants[node.inputs[slot]], w.dtype == .float32,
                    !w.isVariableOrSparse, !interface.contains(w.name)
                else { return nil }
                return w
            }
            // A hybrid LSTM needs all its weights int8: quantize all once the largest qualifies.
            let largest = rule.weights.compactMap { eligible($0.slot)?.elementCount }.max() ?? 0
            var changed = false
            for (slot, axis) in rule.weights {
                guard let w = eligible(slot), (rule.allOrNothing ? largest : w.elementCount) >= minimumElements else { continue }
                // Another op reading the float weights too keeps them: the int8 copy gets a name of its own.
                let shared = useCounts[w.name] != 1
                guard let q = QuantizedTensors.symmetricInt8(w, axis: axis, name: shared ? names.fresh(w.name + "_int8") : w.name)
                else { continue }
                if shared {
                    g.addConstant(q)
                    g.nodes[k].inputs[slot] = q.name
                } else {
                    g.replaceConstant(q)
                }
                changed = true
            }
            if changed, rule.asymmetricInputs { g.nodes[k].setAttribute("asymmetric_quantize_inputs", .int(1)) }
        }
        return g
    }
}
