import SwiftConvIR

/// Conv followed by Relu or Clip (constant bounds) becomes onnxruntime's `com.microsoft`
/// `FusedConv`, which applies the activation to each output tile while it is in cache.
///
/// Both activations commute with rounding to the output type, so this holds for every
/// float type. A missing Clip bound is ±infinity, as in the unfused Clip: an infinite
/// input keeps its value at every optimization level.
public struct ConvActivationFusion: ModelPass {
    public let name = "fuse-conv-activation"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        let rewriter = PatternRewriter(name: name, chain: [OpPattern("Conv"), OpPattern("Relu", "Clip")]) { match, context in
            let (conv, activation) = (match[0], match[1])
            guard activation.outputs.count == 1, let params = Self.parameters(of: activation, in: context.graph) else {
                return nil
            }
            var fused = Node(
                name: conv.name, opType: "FusedConv", domain: OpDomain.microsoft, inputs: conv.inputs,
                outputs: activation.outputs, attributes: conv.attributes)
            fused.attributes.append(Attribute(name: "activation", value: .string(Array(activation.opType.utf8))))
            if !params.isEmpty { fused.attributes.append(Attribute(name: "activation_params", value: .floats(params))) }
            context.importOpset(OpDomain.microsoft, version: 1)
            return [fused]
        }
        return try rewriter.run(on: &model)
    }

    /// FusedConv's `activation_params`: none for Relu, `[min, max]` for Clip; nil when a
    /// Clip bound is not a constant float32 scalar.
    static func parameters(of activation: Node, in graph: Graph) -> [Float]? {
        guard activation.opType == "Clip" else { return [] }
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
}
