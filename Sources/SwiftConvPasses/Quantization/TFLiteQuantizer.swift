import SwiftConvIR

/// How `TFLiteQuantizer` quantizes a float TFLite model (TFLiteConverter's three post-training modes).
public enum TFLiteQuantizationMode: String, Sendable, CaseIterable {
    /// Weights of the weight-heavy ops become int8; the ops run as hybrids on float activations
    /// (`tf.lite.Optimize.DEFAULT` without a representative dataset).
    case dynamic
    /// Float32 constants become float16 behind a DEQUANTIZE (`supported_types=[tf.float16]`).
    case float16
    /// Full integer: int8 activations from calibrated ranges, int8 weights, int32 biases.
    case int8
}

/// The observed range of every calibrated float activation, by value name.
public struct ActivationRanges: Sendable {
    /// min and max seen so far; both finite, min <= max.
    public private(set) var byName: [String: (min: Float, max: Float)] = [:]

    /// No ranges yet.
    public init() {}

    /// Widens the range of `name` to include `min...max` (non-finite bounds are ignored).
    public mutating func record(_ name: String, min: Float, max: Float) {
        guard min.isFinite, max.isFinite, min <= max else { return }
        if let old = byName[name] {
            byName[name] = (Swift.min(old.min, min), Swift.max(old.max, max))
        } else {
            byName[name] = (min, max)
        }
    }

    /// Values that held an infinity or NaN in some sample (an attention mask's -inf): int8 has
    /// no code for them, so the ops that touch them stay float.
    public private(set) var nonFinite: Set<String> = []

    /// Records that `name` held a value that is not finite.
    public mutating func markNonFinite(_ name: String) { nonFinite.insert(name) }

    /// The range of `name`, nil when it was never seen or held a value that is not finite.
    public subscript(name: String) -> (min: Float, max: Float)? { nonFinite.contains(name) ? nil : byName[name] }
}

/// Options of a quantization beyond the mode.
public struct TFLiteQuantizationOptions: Sendable {
    /// The mode.
    public var mode: TFLiteQuantizationMode
    /// int8 mode: the element type of the model inputs, float32 (a QUANTIZE at the boundary) or int8.
    public var inputType: DType = .float32
    /// int8 mode: the element type of the model outputs, float32 (a DEQUANTIZE at the boundary) or int8.
    public var outputType: DType = .float32

    /// Options for `mode` with float32 inputs and outputs.
    public init(mode: TFLiteQuantizationMode) { self.mode = mode }
}

/// Post-training quantization of a float TFLite model (`tflite` domain), as TFLiteConverter
/// does it: the op choices, per-channel axes, boundary QUANTIZE/DEQUANTIZE and operator
/// versions of its own output, so that LiteRT loads and runs every result.
public enum TFLiteQuantizer {
    /// `model` quantized in `mode`; `ranges` (from `ActivationCalibrator`) is required for
    /// int8 and ignored otherwise.
    public static func quantize(_ model: Model, mode: TFLiteQuantizationMode, ranges: ActivationRanges?) throws -> Model {
        try quantize(model, options: TFLiteQuantizationOptions(mode: mode), ranges: ranges)
    }

    /// `model` quantized as `options` say; see `quantize(_:mode:ranges:)`.
    public static func quantize(_ model: Model, options: TFLiteQuantizationOptions, ranges: ActivationRanges?) throws -> Model {
        try checkFloatSource(model)
        var out = model
        switch options.mode {
        case .float16:
            out.graph = Float16Quantization.rewrite(out.graph)
        case .dynamic:
            out.graph = try DynamicRangeQuantization.rewrite(out.graph)
        case .int8:
            guard let ranges else {
                throw SwiftConvError.invalidArgument("int8 quantization needs activation ranges from a representative dataset")
            }
            for (what, type) in [("input_type", options.inputType), ("output_type", options.outputType)]
            where type != .float32 && type != .int8 {
                throw SwiftConvError.invalidArgument("int8 quantization: \(what) must be float32 or int8, not \(type)")
            }
            var full = FullIntegerQuantization(graph: out.graph, ranges: ranges, options: options)
            out.graph = try full.rewrite()
            // Ops left float (an LSTM, control-flow bodies) still get int8 weights where a hybrid kernel exists.
            out.graph = try DynamicRangeQuantization.rewrite(out.graph)
        }
        out.graph.removeDeadCode()
        TFLiteOpVersions.update(&out.graph)
        // Values the rewrite made (a DEQUANTIZE's float copy of a float16 weight) need a type in
        // the file; a model converted here, unlike an imported one, lists no constant in value_info.
        try ShapeInference.infer(&out)
        return out
    }

    /// Full-integer quantization with the parameters a quantized (QDQ) source fixed instead of
    /// calibrated ranges: int8 where `fixed` gives every float activation of an op its
    /// parameters, float (between DEQUANTIZE and QUANTIZE) elsewhere, with no hybrid weights,
    /// so the float ops compute what the source's float ops do.
    public static func quantize(
        _ model: Model, fixed: FixedQuantization, options: TFLiteQuantizationOptions = TFLiteQuantizationOptions(mode: .int8)
    ) throws -> Model {
        try checkFloatSource(model)
        guard options.mode == .int8 else {
            throw SwiftConvError.invalidArgument("fixed quantization parameters give an int8 model, not '\(options.mode.rawValue)'")
        }
        var out = model
        var full = FullIntegerQuantization(graph: out.graph, ranges: ActivationRanges(), options: options, fixed: fixed)
        out.graph = try full.rewrite()
        out.graph.removeDeadCode()
        TFLiteOpVersions.update(&out.graph)
        try ShapeInference.infer(&out)
        return out
    }

    /// The float32 values of the main graph whose ranges int8 quantization needs: graph inputs
    /// and node outputs (constants excluded). Control-flow subgraphs stay float, so they are not listed.
    public static func calibrationValues(_ model: Model) -> [String] {
        let g = model.graph
        let constants = Set(g.initializers.map(\.name))
        var types: [String: ValueType] = [:]
        for v in g.inputs + g.outputs + g.valueInfo { if let t = v.type { types[v.name] = t } }
        var seen = Set<String>()
        var names: [String] = []
        for name in g.inputs.map(\.name) + g.nodes.flatMap(\.outputs) {
            guard !name.isEmpty, !constants.contains(name), types[name]?.tensorElementType == .float32,
                seen.insert(name).inserted
            else { continue }
            names.append(name)
        }
        return names
    }

    /// Refuses models that are not float TFLite: quantizing twice is never what was meant.
    public static func checkFloatSource(_ model: Model) throws {
        guard model.format == .tflite else {
            throw SwiftConvError.invalidArgument("quantization works on TFLite models, not \(model.format.rawValue)")
        }
        let quantized = (model.graph.inputs + model.graph.outputs + model.graph.valueInfo).contains { $0.type?.quantization != nil }
        if quantized || model.graph.initializers.contains(where: { $0.quantization != nil || $0.dtype == .float16 }) {
            throw SwiftConvError.invalidArgument(
                "the model is already quantized (an int8 model, or converted from a QDQ ONNX model); quantize its float original")
        }
    }
}
