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
        quantizeGatherTables(&g, constants: constants, useCounts: useCounts, interface: interface, names: &names)
        quantizeElementwiseTables(&g, constants: constants, useCounts: useCounts, interface: interface, names: &names)
        return g
    }

    /// The ops whose large constant operand (a Transformer's position table) is stored int8.
    static let elementwiseOps: Set<String> = ["ADD", "SUB", "MUL"]

    /// Large constant operands of ADD/SUB/MUL: int8 (symmetric, per tensor) with a DEQUANTIZE in
    /// front of the op. LiteRT has no hybrid ADD or MUL, so the op itself stays float; the
    /// DEQUANTIZE of a constant is one pass over the table per run. TFLiteConverter leaves such
    /// tables float; a Transformer's position table is its largest float constant.
    static func quantizeElementwiseTables(
        _ g: inout Graph, constants: [String: Tensor], useCounts: [String: Int], interface: Set<String>,
        names: inout UniqueNameGenerator
    ) {
        func table(_ name: String) -> Tensor? {
            guard let t = constants[name], t.dtype == .float32, !t.isVariableOrSparse, !interface.contains(name),
                useCounts[name] == 1, t.elementCount >= minimumElements
            else { return nil }
            return t
        }
        var k = 0
        while k < g.nodes.count {
            let node = g.nodes[k]
            guard node.domain == OpDomain.tflite, elementwiseOps.contains(node.opType), node.inputs.count == 2,
                let slot = node.inputs.firstIndex(where: { table($0) != nil }), let t = table(node.inputs[slot]),
                let q = QuantizedTensors.symmetricInt8(t, axis: nil, name: t.name)
            else {
                k += 1
                continue
            }
            g.replaceConstant(q)
            let values = names.fresh(t.name + "_dequantized")
            g.valueInfo.append(ValueInfo(name: values, type: .tensor(elementType: .float32, shape: Shape(t.shape))))
            g.nodes[k].inputs[slot] = values
            let dequantize = Node.tflite("DEQUANTIZE", name: names.fresh(node.name + "_dequantize"), inputs: [t.name], outputs: [values])
            g.nodes.insert(dequantize, at: k)
            k += 2
        }
    }

    /// Embedding tables: a GATHER from a large float32 constant gathers from an int8 copy
    /// (symmetric, per tensor) and DEQUANTIZEs the rows it picked. LiteRT's GATHER copies int8
    /// rows as they are, so the model shrinks by the table's three quarters for one DEQUANTIZE
    /// of the gathered rows. TFLiteConverter leaves these tables float; in a Transformer or an
    /// LSTM classifier they are a third or more of the weights.
    static func quantizeGatherTables(
        _ g: inout Graph, constants: [String: Tensor], useCounts: [String: Int], interface: Set<String>,
        names: inout UniqueNameGenerator
    ) {
        var k = 0
        while k < g.nodes.count {
            let node = g.nodes[k]
            guard node.domain == OpDomain.tflite, node.opType == "GATHER", node.inputs.count == 2, node.outputs.count == 1,
                let table = constants[node.inputs[0]], table.dtype == .float32, !table.isVariableOrSparse,
                !interface.contains(table.name), useCounts[table.name] == 1, table.elementCount >= minimumElements,
                !interface.contains(node.outputs[0]),
                let q = QuantizedTensors.symmetricInt8(table, axis: nil, name: table.name), let params = q.quantization
            else {
                k += 1
                continue
            }
            g.replaceConstant(q)
            let rows = names.fresh(node.outputs[0] + "_int8")
            g.nodes[k].outputs = [rows]
            g.valueInfo.append(ValueInfo(name: rows, type: .tensor(elementType: .int8, shape: nil, quantization: params)))
            let dequantize = Node.tflite(
                "DEQUANTIZE", name: names.fresh(node.name + "_dequantize"), inputs: [rows], outputs: [node.outputs[0]])
            g.nodes.insert(dequantize, at: k + 1)
            k += 2
        }
    }
}
