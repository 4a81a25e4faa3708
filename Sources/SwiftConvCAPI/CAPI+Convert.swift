import CSwiftConv
import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import SwiftConvTFLite

/// What `sc_model_convert` takes from its options JSON.
struct ConversionOptions {
    var opset: Int64?
    var quantize: String?
    /// nil: the direction's default (ONNX -> TFLite keeps the ONNX layouts).
    var keepLayout: Bool?

    /// Parses a flat JSON object of scalars (`{"opset": 13, "quantize": null, "keep_layout": false}`);
    /// NULL or "" is no options. Unknown keys and other value kinds are errors.
    init(json text: String?) throws {
        guard let text, !text.isEmpty else { return }
        var scanner = FlatJSONScanner(Array(text.utf8))
        for (key, value) in try scanner.object() {
            switch (key, value) {
            case ("opset", .null): opset = nil
            case ("opset", .integer(let v)): opset = v
            case ("quantize", .null): quantize = nil
            case ("quantize", .string(let s)): quantize = s
            case ("keep_layout", .null): keepLayout = nil
            case ("keep_layout", .bool(let b)): keepLayout = b
            case ("representative_dataset", .null): break
            default: throw SwiftConvError.invalidArgument("conversion option '\(key)' is unknown or has the wrong type")
            }
        }
    }
}

/// Converts between formats: TFLite -> ONNX (`TFLiteToONNX`), ONNX -> TFLite (`ONNXToTFLite`,
/// with constant and BatchNorm folding first), and a float
/// TFLite model to a quantized one ('dynamic', 'float16'; 'int8' needs the calibrator).
/// The source is never changed; `out` is written only on success.
@_cdecl("sc_model_convert")
public func scModelConvert(
    _ model: OpaquePointer?, _ target: UnsafePointer<CChar>?, _ optionsJSON: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let target = String(cString: try required(target, "target"))
        let out = try required(out, "out")
        let options = try ConversionOptions(json: optionsJSON.map { String(cString: $0) })
        let source = box.model.format
        guard let to = ModelFormat(rawValue: target) else {
            throw SwiftConvError.invalidArgument("conversion target '\(target)' is not a format (onnx, tflite)")
        }
        var converted = box.model
        switch (source, to) {
        case (.tflite, .onnx):
            if let q = options.quantize {
                throw SwiftConvError.conversion(
                    "quantize='\(q)' is not implemented for TFLite -> ONNX; the model keeps its own quantization")
            }
            _ = try TFLiteToONNX.pipeline(opset: options.opset ?? 13).run(on: &converted)
        case (.tflite, .tflite):
            guard let q = options.quantize else {
                throw SwiftConvError.conversion("converting tflite to tflite does nothing without quantize")
            }
            converted = try quantizedForConversion(box.model, mode: q)
        case (.onnx, .tflite):
            // Constant folding needs the engine, so the C ABI, which sees both, hands it in.
            let preparation: [any ModelPass] = [ConstantFolding.engine(), BatchNormFolding()]
            let layout = ONNXToTFLite.Options(keepLayout: options.keepLayout ?? true)
            if QDQImport.isQDQ(converted) {
                // Its Q/DQ pairs fix the int8 parameters: quantizing again would discard them.
                if let q = options.quantize {
                    throw SwiftConvError.invalidArgument(
                        "the ONNX model is already quantized (QuantizeLinear/DequantizeLinear); it converts to int8 TFLite "
                            + "with its own parameters without quantize='\(q)'")
                }
                converted = try ONNXToTFLite.convertQDQ(converted, options: layout, preparation: preparation)
                _ = try TFLiteExporter.serialize(converted)
                break
            }
            _ = try ONNXToTFLite.pipeline(layout, preparation: preparation).run(on: &converted)
            // The writer must be able to write what came out; a failure here is a converter bug.
            _ = try TFLiteExporter.serialize(converted)
            // The float model is quantized as any TFLite model is ('int8' through the calibrator).
            if let q = options.quantize { converted = try quantizedForConversion(converted, mode: q) }
        default:
            throw SwiftConvError.conversion("converting \(source.rawValue) to \(to.rawValue) is not supported")
        }
        try ModelChecker.check(converted)
        out.pointee = retainedHandle(ModelBox(converted))
    }
}

/// A float TFLite model quantized for `sc_model_convert`'s `quantize` option: the dataset-free
/// modes here, 'int8' through `sc_calibrator_*` (it needs samples). Every route to TFLite calls this.
func quantizedForConversion(_ model: Model, mode: String) throws -> Model {
    guard let m = TFLiteQuantizationMode(rawValue: mode) else {
        throw SwiftConvError.invalidArgument("quantize must be one of dynamic, float16, int8, not '\(mode)'")
    }
    guard m != .int8 else {
        throw SwiftConvError.invalidArgument("quantize='int8' needs a representative dataset: use sc_calibrator_create")
    }
    let quantized = try TFLiteQuantizer.quantize(model, mode: m, ranges: nil)
    try ModelChecker.check(quantized)
    return quantized
}

/// A scanner for the flat JSON objects of conversion options (no Foundation in the library).
struct FlatJSONScanner {
    enum Scalar {
        case null, bool(Bool), integer(Int64), string(String)
    }

    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private func fail(_ what: String) -> SwiftConvError {
        SwiftConvError.invalidArgument("options JSON: \(what) at byte \(i)")
    }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func expect(_ c: UInt8) throws {
        skipSpace()
        guard i < bytes.count, bytes[i] == c else { throw fail("expected '\(Character(UnicodeScalar(c)))'") }
        i += 1
    }

    private mutating func literal(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { return false }
        i += w.count
        return true
    }

    /// A string without escapes other than \" and \\ (option names and values need no more).
    private mutating func string() throws -> String {
        try expect(0x22)
        var s: [UInt8] = []
        while i < bytes.count, bytes[i] != 0x22 {
            if bytes[i] == 0x5C {
                i += 1
                guard i < bytes.count, bytes[i] == 0x22 || bytes[i] == 0x5C else { throw fail("unsupported escape") }
            }
            s.append(bytes[i])
            i += 1
        }
        guard i < bytes.count else { throw fail("unterminated string") }
        i += 1
        return String(decoding: s, as: UTF8.self)
    }

    private mutating func scalar() throws -> Scalar {
        skipSpace()
        guard i < bytes.count else { throw fail("expected a value") }
        if bytes[i] == 0x22 { return .string(try string()) }
        if literal("null") { return .null }
        if literal("true") { return .bool(true) }
        if literal("false") { return .bool(false) }
        let start = i
        if bytes[i] == 0x2D { i += 1 }
        while i < bytes.count, (0x30...0x39).contains(bytes[i]), i - start < 19 { i += 1 }
        guard let v = Int64(String(decoding: bytes[start..<i], as: UTF8.self)) else { throw fail("expected a scalar value") }
        return .integer(v)
    }

    mutating func object() throws -> [(String, Scalar)] {
        try expect(0x7B)
        var entries: [(String, Scalar)] = []
        skipSpace()
        if i < bytes.count, bytes[i] == 0x7D {
            i += 1
        } else {
            while true {
                let key = try string()
                try expect(0x3A)
                entries.append((key, try scalar()))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == 0x2C {
                    i += 1
                    skipSpace()
                    continue
                }
                try expect(0x7D)
                break
            }
        }
        skipSpace()
        guard i == bytes.count else { throw fail("trailing characters") }
        return entries
    }
}
