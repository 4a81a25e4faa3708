import SwiftConvIR

/// Folds a TFLite activation into the op before it, as TFLiteConverter does: CONV_2D + RELU
/// becomes one CONV_2D with `fused_activation_function` RELU.
///
/// The op must have that option set to NONE, and its output must be read by the activation
/// only (not a graph output, not read by a subgraph). The fused op takes the activation's
/// output name, so the names a converter kept stay.
public struct TFLiteActivationFusion: ModelPass {
    public let name = "fuse-tflite-activations"

    public init() {}

    /// Activations TFLite can fuse, by op type, with their option value. Not TANH: LiteRT's
    /// float kernels apply a fused activation as a clamp, and a fused TANH is no clamp at all.
    static let activations: [String: String] = ["RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"]
    /// Ops with a `fused_activation_function` option that TFLite runs with any of them.
    static let fusers: Set<String> = [
        "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "DIV", "CONCATENATION", "MAX_POOL_2D",
        "AVERAGE_POOL_2D", "TRANSPOSE_CONV",
    ]

    public func run(on model: inout Model) throws -> Bool {
        var g = model.graph
        let producer = g.producers
        let uses = g.useCounts
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        var removed = Set<Int>()
        for (i, n) in g.nodes.enumerated() where n.canonicalDomain == OpDomain.tflite {
            guard let fused = Self.activations[n.opType], n.inputs.count == 1, n.outputs.count == 1,
                let p = producer[n.inputs[0]], !removed.contains(p)
            else { continue }
            let op = g.nodes[p]
            guard op.canonicalDomain == OpDomain.tflite, Self.fusers.contains(op.opType), op.outputs.count == 1,
                uses[op.outputs[0]] == 1, !pinned.contains(op.outputs[0]),
                (op.attribute("fused_activation_function")?.string ?? "NONE") == "NONE",
                // TRANSPOSE_CONV's float kernel fuses activations only from version 4; keep it plain.
                op.opType != "TRANSPOSE_CONV"
            else { continue }
            var merged = op
            merged.attributes.removeAll { $0.name == "fused_activation_function" }
            merged.attributes.append(.string("fused_activation_function", fused))
            merged.outputs = n.outputs
            g.nodes[p] = merged
            removed.insert(i)
        }
        guard !removed.isEmpty else { return false }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        // The fused op's old output no longer exists.
        let live = Set(g.nodes.flatMap(\.outputs) + g.inputs.map(\.name) + g.initializers.map(\.name))
        g.valueInfo.removeAll { !live.contains($0.name) }
        model.graph = g
        return true
    }
}
