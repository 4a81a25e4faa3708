import SwiftConvIR

/// The exact GELU that exporters write out with Erf becomes one TFLite GELU node before
/// ONNX -> TFLite lowering: TFLite has no ERF, and GELU is both exact and one kernel.
/// The forms matched are `ErfGeluPattern`'s.
public struct ErfGeluFusion: ModelPass {
    public let name = "fuse-erf-gelu"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        try ErfGeluPattern(name: name) { x, last, context in
            context.importOpset(OpDomain.tflite, version: 1)
            return Node(
                name: last.name.isEmpty ? context.freshName("gelu") : last.name, opType: "GELU", domain: OpDomain.tflite,
                inputs: [x], outputs: last.outputs, attributes: [.int("approximate", 0)])
        }.run(on: &model)
    }
}
