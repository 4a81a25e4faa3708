import SwiftConvIR
import SwiftConvPasses

/// Calibration for int8 quantization: runs a float TFLite or ONNX model on representative samples
/// and records the min/max of every float activation the quantizer asks for
/// (`PostTrainingQuantizer.calibrationValues`), by running a session with those values as extra outputs.
///
/// Not thread-safe: feed samples from one thread at a time.
public final class ActivationCalibrator {
    /// The float model being calibrated.
    public let model: Model
    /// The quantization that `quantizedModel()` applies.
    public let options: TFLiteQuantizationOptions
    /// The ranges seen so far.
    public private(set) var ranges = ActivationRanges()
    /// How many samples were fed.
    public private(set) var sampleCount = 0

    let session: InferenceSession
    let inputNames: Set<String>
    /// Values the session returns, in run order (node outputs; graph inputs are read from the feeds).
    let observed: [String]

    /// Prepares a session over `model` that also returns every value to calibrate.
    public init(model: Model, options: TFLiteQuantizationOptions, sessionOptions: SessionOptions = SessionOptions()) throws {
        guard options.mode == .int8 else {
            throw SwiftConvError.invalidArgument("calibration is for int8 quantization, not '\(options.mode.rawValue)'")
        }
        try PostTrainingQuantizer.checkFloatSource(model)
        self.model = model
        self.options = options
        let wanted = PostTrainingQuantizer.calibrationValues(model)
        let inputs = Set(model.graph.runtimeInputs.map(\.name)) // an ONNX weight listed as an input is not fed
        inputNames = inputs
        observed = wanted.filter { !inputs.contains($0) }
        var probe = model
        let existing = Set(probe.graph.outputs.map(\.name))
        for name in observed where !existing.contains(name) {
            if let i = probe.graph.valueInfo.firstIndex(where: { $0.name == name }) {
                probe.graph.outputs.append(probe.graph.valueInfo.remove(at: i))
            } else {
                probe.graph.outputs.append(ValueInfo(name: name, type: nil))
            }
        }
        var settings = sessionOptions
        // The values to observe must stay as the model computes them: no fusion may remove one.
        settings.graphOptimizationLevel = .disableAll
        session = try InferenceSession(model: probe, options: settings)
    }

    /// Runs one sample (every model input by name) and widens the ranges.
    public func feed(_ feeds: [String: Value], control: RunControl = RunControl()) throws {
        for name in inputNames where feeds[name] == nil {
            throw SwiftConvError.invalidArgument("calibration sample \(sampleCount) lacks input '\(name)'")
        }
        let results = try session.run(feeds: feeds, outputNames: observed, control: control)
        for (name, value) in feeds where inputNames.contains(name) { record(name, value) }
        for (name, value) in zip(observed, results) { record(name, value) }
        sampleCount += 1
    }

    func record(_ name: String, _ value: Value) {
        guard let t = value.tensor, t.dtype == .float32 else { return }
        var lo = Float.infinity
        var hi = -Float.infinity
        let bytes = t.storage.bytes
        let values = UnsafeBufferPointer(
            start: bytes.baseAddress?.assumingMemoryBound(to: Float.self), count: bytes.count / MemoryLayout<Float>.stride)
        var finite = true
        for v in values {
            guard v.isFinite else {
                finite = false
                continue
            }
            lo = min(lo, v)
            hi = max(hi, v)
        }
        if !finite { ranges.markNonFinite(name) }
        if lo <= hi { ranges.record(name, min: lo, max: hi) }
    }

    /// The model quantized with the ranges seen so far; at least one sample must have been fed.
    public func quantizedModel() throws -> Model {
        guard sampleCount > 0 else {
            throw SwiftConvError.invalidArgument("int8 quantization needs at least one representative sample; none was fed")
        }
        return try PostTrainingQuantizer.quantize(model, options: options, ranges: ranges)
    }
}
