import SwiftConvIR

/// The passes that turn an ONNX model into a TFLite model.
///
/// Order matters: layout-sensitive ops are lowered first, each NHWC op between ONNX
/// transposes; `TransposeCancellation` then moves those transposes through the ONNX ops
/// still there and cancels the pairs; the second lowering turns everything left (the
/// remaining transposes too) into TFLite ops; activations are fused last.
/// `preparation` runs before any of it: the caller's constant folding and fusions, which
/// need the engine and so cannot live in this module.
public enum ONNXToTFLite {
    /// What the conversion takes.
    public struct Options: Sendable {
        /// Keep the ONNX inputs' and outputs' layouts (NCHW stays NCHW at the boundary, with a
        /// transpose inside); false exposes channels-last inputs and outputs instead.
        public var keepLayout: Bool
        public init(keepLayout: Bool = true) { self.keepLayout = keepLayout }
    }

    /// The whole conversion as one pipeline.
    public static func pipeline(_ options: Options = Options(), preparation: [any ModelPass] = []) -> PassPipeline {
        var passes: [any ModelPass] = [FunctionInlining(), IdentityElimination()]
        passes += preparation
        passes += [
            ErfGeluFusion(),
            DeadCodeElimination(),
            ONNXToTFLiteLowering(.layout),
            TransposeCancellation(),
            ONNXToTFLiteLowering(.all),
            TFLiteActivationFusion(),
            DeadCodeElimination(),
        ]
        if !options.keepLayout { passes.append(ChannelsLastBoundary()) }
        passes.append(TypeAnnotation())
        return PassPipeline(name: "onnx-to-tflite", passes: passes)
    }
}

/// Records the type of every value in `valueInfo`, as a TFLite file needs one per tensor.
public struct TypeAnnotation: ModelPass {
    public let name = "annotate-types"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        let before = model.graph.valueInfo.count
        try ShapeInference.infer(&model)
        return model.graph.valueInfo.count != before
    }
}
