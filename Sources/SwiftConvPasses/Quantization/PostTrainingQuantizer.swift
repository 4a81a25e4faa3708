import SwiftConvIR

/// Post-training quantization of a float model of either format, chosen by the model's format:
/// TFLite models by `TFLiteQuantizer`, ONNX models (into QDQ and integer ONNX ops) by `ONNXQuantizer`.
public enum PostTrainingQuantizer {
    /// `model` quantized as `options` say; `ranges` (from `ActivationCalibrator`) is required for int8.
    public static func quantize(_ model: Model, options: TFLiteQuantizationOptions, ranges: ActivationRanges?) throws -> Model {
        model.format == .onnx
            ? try ONNXQuantizer.quantize(model, options: options, ranges: ranges)
            : try TFLiteQuantizer.quantize(model, options: options, ranges: ranges)
    }

    /// The values whose ranges int8 quantization of `model` needs.
    public static func calibrationValues(_ model: Model) -> [String] {
        model.format == .onnx ? ONNXQuantizer.calibrationValues(model) : TFLiteQuantizer.calibrationValues(model)
    }

    /// Refuses a model that is quantized already (or of a format with no quantizer).
    public static func checkFloatSource(_ model: Model) throws {
        model.format == .onnx ? try ONNXQuantizer.checkFloatSource(model) : try TFLiteQuantizer.checkFloatSource(model)
    }
}
