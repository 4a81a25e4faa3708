import SwiftConvIR

/// 'float16' mode for ONNX: each float32 initializer of at least `minimumElements` that a node
/// reads is stored as float16 and Cast back to float32 at the start of the graph under its own
/// name, so compute stays float32 (as TFLite's float16 mode). Resize's roi and scales stay
/// exact, and so do initializers that are graph inputs or outputs.
enum ONNXFloat16Quantization {
    /// Smaller constants (scalars, short vectors) would save fewer bytes than their Cast node costs.
    static let minimumElements = 16

    static func rewrite(_ graph: Graph) -> Graph {
        var g = graph
        var names = UniqueNameGenerator(graph: g)
        let interface = Set(g.inputs.map(\.name) + g.outputs.map(\.name))
        var exact = Set<String>()
        for n in g.nodes where n.opType == "Resize" || n.opType == "Upsample" { exact.formUnion(n.inputs.dropFirst()) }
        let read = Set(g.nodes.flatMap(\.readNames))
        var halves: [Tensor] = []
        var casts: [Node] = []
        for t in g.initializers
        where t.dtype == .float32 && t.elementCount >= minimumElements && read.contains(t.name) && !interface.contains(t.name)
            && !exact.contains(t.name)
        {
            let half = QuantizedTensors.float16(t, name: names.fresh(t.name + "_fp16"))
            halves.append(half)
            let to = Attribute(name: "to", value: .int(Int64(DType.float32.rawValue)))
            casts.append(
                Node(name: names.fresh(t.name + "_Cast"), opType: "Cast", inputs: [half.name], outputs: [t.name], attributes: [to]))
        }
        let converted = Set(casts.map { $0.outputs[0] })
        g.initializers.removeAll { converted.contains($0.name) }
        g.initializers += halves
        g.nodes = casts + g.nodes
        return g
    }
}
