import CSwiftConv
import SwiftConvEngine
import SwiftConvIR

/// The object behind `sc_session *`. `InferenceSession.run` is safe to call from several
/// threads at once, and nothing here is mutated after creation.
final class SessionBox: @unchecked Sendable {
    let session: InferenceSession
    /// Graph outputs with unknown dims filled in by shape inference, as onnxruntime reports them.
    let outputs: [ValueInfo]

    init(_ session: InferenceSession) {
        self.session = session
        outputs = session.outputInfo
    }
}

extension GraphOptimizationLevel {
    init(code: Int32) throws {
        guard let level = GraphOptimizationLevel(rawValue: Int(code)) else {
            throw SwiftConvError.invalidArgument(
                "graph_optimization_level must be 0, 1, 2 or 99 (onnxruntime's levels), not \(code)")
        }
        self = level
    }
}

@_cdecl("sc_session_create")
public func scSessionCreate(
    _ model: OpaquePointer?, _ options: UnsafePointer<sc_session_options>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    scSessionCreateWithLimits(model, options, nil, out)
}

@_cdecl("sc_session_create_with_limits")
public func scSessionCreateWithLimits(
    _ model: OpaquePointer?, _ options: UnsafePointer<sc_session_options>?,
    _ limits: UnsafePointer<sc_session_limits>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let out = try required(out, "out")
        var settings = SessionOptions()
        if let o = options?.pointee {
            guard o.intra_op_threads >= 0 else {
                throw SwiftConvError.invalidArgument("intra_op_threads must be >= 0, not \(o.intra_op_threads)")
            }
            settings.intraOpThreads = Int(o.intra_op_threads)
            settings.graphOptimizationLevel = try GraphOptimizationLevel(code: o.graph_optimization_level)
        }
        if let l = limits?.pointee {
            guard l.max_tensor_bytes >= 0, l.max_run_bytes >= 0 else {
                throw SwiftConvError.invalidArgument(
                    "max_tensor_bytes and max_run_bytes must be >= 0 (0: default), not \(l.max_tensor_bytes) and \(l.max_run_bytes)")
            }
            if l.max_tensor_bytes > 0 { settings.maxTensorBytes = Int(l.max_tensor_bytes) }
            if l.max_run_bytes > 0 { settings.maxRunBytes = Int(l.max_run_bytes) }
        }
        let session = try InferenceSession(model: box.model, options: settings)
        out.pointee = retainedHandle(SessionBox(session))
    }
}

@_cdecl("sc_session_release")
public func scSessionRelease(_ session: OpaquePointer?) {
    releaseHandle(session, as: SessionBox.self)
}

@_cdecl("sc_session_info_json")
public func scSessionInfoJSON(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(session, "session"), as: SessionBox.self)
        let s = box.session
        let out = try required(out, "out")
        var w = JSONWriter()
        w.object { w in
            w.key("inputs")
            ModelInfo.values(s.requiredInputInfo, into: &w)
            w.key("outputs")
            ModelInfo.values(box.outputs, into: &w)
            w.key("overridable_initializers")
            ModelInfo.values(s.overridableInputInfo, into: &w)
        }
        out.pointee = retainedHandle(BufferBox(w.bytes))
    }
}

/// `count` C strings as Swift strings; NULL entries are an error naming `what`.
private func names(_ pointer: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int, _ what: String) throws -> [String] {
    guard count == 0 || pointer != nil else { throw SwiftConvError.invalidArgument("\(what) must not be NULL") }
    return try (0..<count).map { String(cString: try required(pointer![$0], "\(what)[\($0)]")) }
}

@_cdecl("sc_session_run")
public func scSessionRun(
    _ session: OpaquePointer?, _ inputNames: UnsafePointer<UnsafePointer<CChar>?>?, _ inputs: UnsafePointer<OpaquePointer?>?,
    _ inputCount: Int, _ outputNames: UnsafePointer<UnsafePointer<CChar>?>?, _ outputCount: Int,
    _ outputs: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    scSessionRunWithOptions(session, nil, inputNames, inputs, inputCount, outputNames, outputCount, outputs)
}

@_cdecl("sc_session_run_with_options")
public func scSessionRunWithOptions(
    _ session: OpaquePointer?, _ runOptions: OpaquePointer?,
    _ inputNames: UnsafePointer<UnsafePointer<CChar>?>?, _ inputs: UnsafePointer<OpaquePointer?>?,
    _ inputCount: Int, _ outputNames: UnsafePointer<UnsafePointer<CChar>?>?, _ outputCount: Int,
    _ outputs: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(session, "session"), as: SessionBox.self)
        let control = runOptions.map { object($0, as: RunOptionsBox.self).control } ?? RunControl()
        let outputs = try required(outputs, "outputs")
        let feedNames = try names(inputNames, inputCount, "input_names")
        guard inputCount == 0 || inputs != nil else { throw SwiftConvError.invalidArgument("inputs must not be NULL") }
        var feeds = [String: Value]()
        for (i, name) in feedNames.enumerated() {
            let value = object(try required(inputs![i], "inputs[\(i)]"), as: ValueBox.self).value
            guard feeds.updateValue(value, forKey: name) == nil else {
                throw SwiftConvError.invalidArgument("input '\(name)' is fed twice")
            }
        }
        var wanted: [String]? = nil
        if outputNames != nil {
            wanted = try names(outputNames, outputCount, "output_names")
        } else if outputCount != box.session.outputs.count {
            throw SwiftConvError.invalidArgument(
                "n_outputs is \(outputCount) but the model has \(box.session.outputs.count) outputs")
        }
        var results = try box.session.run(feeds: feeds, outputNames: wanted, control: control)
        guard results.count == outputCount else {
            throw SwiftConvError.internal("the run produced \(results.count) outputs for \(outputCount) requested")
        }
        // Boxes first, then the out-parameters: nothing is written unless the whole call succeeds.
        var boxes = [ValueBox]()
        boxes.reserveCapacity(outputCount)
        for i in 0..<outputCount { boxes.append(ValueBox.takingOutput(&results, at: i)) }
        for (i, b) in boxes.enumerated() { outputs[i] = retainedHandle(b) }
    }
}

@_cdecl("sc_session_start_profiling")
public func scSessionStartProfiling(_ session: OpaquePointer?) -> OpaquePointer? {
    withStatus {
        object(try required(session, "session"), as: SessionBox.self).session.startProfiling()
    }
}

@_cdecl("sc_session_end_profiling")
public func scSessionEndProfiling(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(session, "session"), as: SessionBox.self)
        let out = try required(out, "out")
        out.pointee = box.session.endProfiling().map { retainedHandle(BufferBox($0.json())) }
    }
}

@_cdecl("sc_session_profiling_start_ns")
public func scSessionProfilingStartNs(_ session: OpaquePointer?) -> UInt64 {
    guard let session else { return 0 }
    return object(session, as: SessionBox.self).session.profiler?.startTimeNanos ?? 0
}
