import SwiftConvIR

/// The passes that turn an ONNX model into a TFLite model.
///
/// Order matters: layout-sensitive ops are lowered first, each NHWC op between ONNX
/// transposes; `TransposeCancellation` then moves those transposes through the ONNX ops
/// still there and cancels the pairs; the second lowering turns everything left (the
/// remaining transposes too) into TFLite ops; activations are fused; once shape inference has
/// typed every value, `TFLiteOpVersionPass` gives each op the version its types and options need.
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
        passes.append(ShapeInferencePass())
        passes.append(TFLiteOpVersionPass())
        passes.append(TFLiteSignatureDef())
        return PassPipeline(name: "onnx-to-tflite", passes: passes)
    }

    /// A quantized ONNX model in QDQ form as an int8 TFLite model whose parameters are the
    /// Q/DQ pairs' own, with no calibration: the pairs are taken out (`QDQImport`), the float
    /// model is converted, and `TFLiteQuantizer` applies the fixed parameters to the values
    /// that hold the annotated ones (a value map, kept current by the passes that rename or
    /// re-layout values, follows them through the conversion).
    public static func convertQDQ(_ model: Model, options: Options = Options(), preparation: [any ModelPass] = []) throws -> Model {
        var (converted, fixed) = try QDQImport.split(model)
        var map = ValueMap()
        for name in fixed.activations.keys.sorted() { map.set(name, ValueMap.Entry(source: name)) }
        map.store(in: &converted)
        _ = try pipeline(options, preparation: preparation).run(on: &converted)
        let carried = try ValueMap(model: converted) ?? map
        // The map covers only the annotated values: a partial map would mislead sc.verify.
        converted.metadata.removeAll { $0.key == ValueMap.metadataKey || $0.key == ValueMap.tfliteMetadataKey }
        let placed = fixed.renamed(by: carried).filledBackThroughLayoutOps(converted.graph)
        return try TFLiteQuantizer.quantize(converted, fixed: placed)
    }
}

/// Gives a converted model the `serving_default` signature LiteRT's signature runners use,
/// with the graph's input and output names as the signature's names.
public struct TFLiteSignatureDef: ModelPass {
    public let name = "tflite-signature-def"
    /// The model metadata key the TFLite importer and exporter use for signature defs.
    public static let metadataKey = "tflite.signature_defs"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        guard !model.metadata.contains(where: { $0.key == Self.metadataKey }) else { return false }
        func entries(_ values: [ValueInfo]) -> String {
            "[" + values.map { "{\"name\": \(JSONText.quoted($0.name)), \"tensor\": \(JSONText.quoted($0.name))}" }.joined(separator: ", ")
                + "]"
        }
        let text =
            "[{\"signature_key\": \"serving_default\", \"subgraph_index\": 0, \"inputs\": \(entries(model.graph.inputs)), "
            + "\"outputs\": \(entries(model.graph.outputs))}]"
        model.metadata.append(MetadataEntry(Self.metadataKey, text))
        return true
    }
}
