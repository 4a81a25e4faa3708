import SwiftConvIR

/// The exact GELU that exporters write out with Erf (five nodes) becomes one `com.microsoft`
/// `Gelu` node in a session's graph: one vectorized pass over the tensor instead of five.
///
/// onnxruntime fuses to the same contrib op, which exists for every opset (ONNX's own Gelu
/// needs opset 20), so the rewrite applies to any model; the forms matched are
/// `ErfGeluPattern`'s. Results agree within float rounding (the fused kernel rounds once).
public struct GeluFusion: ModelPass {
    public let name = "fuse-gelu"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        try ErfGeluPattern(name: name) { x, last, context in
            context.importOpset(OpDomain.microsoft, version: 1)
            return Node(
                name: last.name.isEmpty ? context.freshName("gelu") : last.name, opType: "Gelu", domain: OpDomain.microsoft,
                inputs: [x], outputs: last.outputs)
        }.run(on: &model)
    }
}
