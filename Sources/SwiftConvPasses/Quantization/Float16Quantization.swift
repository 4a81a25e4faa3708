import SwiftConvIR

/// 'float16' mode: every float32 constant that a node reads becomes a float16 constant and a
/// DEQUANTIZE to float32 at the start of its graph, as TFLiteConverter writes it (weights,
/// biases, scalars alike; variable tensors such as LSTM states stay, they hold no data, and so
/// do sparse constants).
enum Float16Quantization {
    static func rewrite(_ graph: Graph) -> Graph {
        var g = graph
        for i in g.nodes.indices { g.nodes[i].rewriteSubgraphs { rewrite($0) } }
        var names = UniqueNameGenerator(graph: g)
        let read = Set(g.nodes.flatMap(\.inputs))
        let interface = Set(g.inputs.map(\.name) + g.outputs.map(\.name))
        var dequantizes: [Node] = []
        for t in g.initializers
        where t.dtype == .float32 && read.contains(t.name) && !interface.contains(t.name)
            && !t.isVariableOrSparse
        {
            let half = QuantizedTensors.float16(t, name: names.fresh(t.name + "_fp16"))
            g.addConstant(half)
            // The float32 name stays with its declared type; it is now DEQUANTIZE's output.
            dequantizes.append(.tflite("DEQUANTIZE", name: t.name, inputs: [half.name], outputs: [t.name]))
        }
        let converted = Set(dequantizes.map { $0.outputs[0] })
        g.initializers.removeAll { converted.contains($0.name) }
        g.nodes = dequantizes + g.nodes
        return g
    }
}
