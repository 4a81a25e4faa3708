import CSwiftConv
import SwiftConvEngine
import SwiftConvIR
import SwiftConvPasses
import Synchronization

extension TFLiteQuantizationOptions {
    /// Parses `{"mode": "dynamic"|"float16"|"int8", "input_type": "float32"|"int8", "output_type": ...}`;
    /// `mode` is required, unknown keys and values are errors.
    init(json text: String?) throws {
        guard let text, !text.isEmpty else { throw SwiftConvError.invalidArgument("quantization options need a mode") }
        var scanner = FlatJSONScanner(Array(text.utf8))
        var mode: TFLiteQuantizationMode?
        var types: [String: DType] = [:]
        for (key, value) in try scanner.object() {
            switch (key, value) {
            case ("mode", .string(let s)):
                guard let m = TFLiteQuantizationMode(rawValue: s) else {
                    throw SwiftConvError.invalidArgument("quantization mode '\(s)' is not one of dynamic, float16, int8")
                }
                mode = m
            case ("input_type", .string(let s)), ("output_type", .string(let s)):
                guard let t = ["float32": DType.float32, "int8": DType.int8][s] else {
                    throw SwiftConvError.invalidArgument("quantization option \(key) must be 'float32' or 'int8', not '\(s)'")
                }
                types[key] = t
            default: throw SwiftConvError.invalidArgument("quantization option '\(key)' is unknown or has the wrong type")
            }
        }
        guard let mode else { throw SwiftConvError.invalidArgument("quantization options need a mode") }
        self.init(mode: mode)
        inputType = types["input_type"] ?? .float32
        outputType = types["output_type"] ?? .float32
        if mode != .int8, inputType != .float32 || outputType != .float32 {
            throw SwiftConvError.invalidArgument("input_type and output_type apply to int8 quantization only")
        }
    }
}

/// The object behind `sc_calibrator *`: calls are serialized, so any thread may feed it.
final class CalibratorBox: Sendable {
    private let calibrator: Mutex<ActivationCalibrator>

    init(_ calibrator: sending ActivationCalibrator) { self.calibrator = Mutex(calibrator) }

    func withCalibrator<R>(_ body: (ActivationCalibrator) throws -> R) throws -> R {
        try calibrator.withLock { try body($0) }
    }
}

@_cdecl("sc_quantize")
public func scQuantize(
    _ model: OpaquePointer?, _ optionsJSON: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
)
    -> OpaquePointer?
{
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let out = try required(out, "out")
        let options = try TFLiteQuantizationOptions(json: optionsJSON.map { String(cString: $0) })
        guard options.mode != .int8 else {
            throw SwiftConvError.invalidArgument("int8 quantization needs a representative dataset: use sc_calibrator_create")
        }
        let quantized = try PostTrainingQuantizer.quantize(box.model, options: options, ranges: nil)
        try ModelChecker.check(quantized)
        out.pointee = retainedHandle(ModelBox(quantized))
    }
}

@_cdecl("sc_calibrator_create")
public func scCalibratorCreate(
    _ model: OpaquePointer?, _ optionsJSON: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let out = try required(out, "out")
        let options = try TFLiteQuantizationOptions(json: optionsJSON.map { String(cString: $0) })
        let calibrator = try ActivationCalibrator(model: box.model, options: options)
        out.pointee = retainedHandle(CalibratorBox(calibrator))
    }
}

@_cdecl("sc_calibrator_feed")
public func scCalibratorFeed(
    _ calibrator: OpaquePointer?, _ inputNames: UnsafePointer<UnsafePointer<CChar>?>?, _ inputs: UnsafePointer<OpaquePointer?>?,
    _ inputCount: Int
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(calibrator, "calibrator"), as: CalibratorBox.self)
        guard inputCount == 0 || (inputNames != nil && inputs != nil) else {
            throw SwiftConvError.invalidArgument("input_names and inputs must not be NULL")
        }
        var feeds = [String: Value]()
        for i in 0..<inputCount {
            let name = String(cString: try required(inputNames![i], "input_names[\(i)]"))
            let value = object(try required(inputs![i], "inputs[\(i)]"), as: ValueBox.self).value
            guard feeds.updateValue(value, forKey: name) == nil else {
                throw SwiftConvError.invalidArgument("input '\(name)' is fed twice")
            }
        }
        try box.withCalibrator { try $0.feed(feeds) }
    }
}

@_cdecl("sc_calibrator_finish")
public func scCalibratorFinish(_ calibrator: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(calibrator, "calibrator"), as: CalibratorBox.self)
        let out = try required(out, "out")
        let quantized = try box.withCalibrator { try $0.quantizedModel() }
        try ModelChecker.check(quantized)
        out.pointee = retainedHandle(ModelBox(quantized))
    }
}

@_cdecl("sc_calibrator_release")
public func scCalibratorRelease(_ calibrator: OpaquePointer?) {
    releaseHandle(calibrator, as: CalibratorBox.self)
}
