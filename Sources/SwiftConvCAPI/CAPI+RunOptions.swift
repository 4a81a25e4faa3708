import CSwiftConv
import SwiftConvEngine
import SwiftConvIR

/// The object behind `sc_run_options *`. The terminate flag lives in `control`, which the
/// engine polls; everything else is set before a run starts.
final class RunOptionsBox: @unchecked Sendable {
    let control = RunControl()
}

@_cdecl("sc_run_options_create")
public func scRunOptionsCreate(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        out.pointee = retainedHandle(RunOptionsBox())
    }
}

@_cdecl("sc_run_options_release")
public func scRunOptionsRelease(_ options: OpaquePointer?) {
    releaseHandle(options, as: RunOptionsBox.self)
}

@_cdecl("sc_run_options_set_terminate")
public func scRunOptionsSetTerminate(_ options: OpaquePointer?, _ terminate: Int32) {
    guard let options else { return }
    // No retain or release here: this may run inside a signal handler.
    Unmanaged<RunOptionsBox>.fromOpaque(UnsafeRawPointer(options))._withUnsafeGuaranteedRef {
        $0.control.setTerminate(terminate != 0)
    }
}

@_cdecl("sc_run_options_get_terminate")
public func scRunOptionsGetTerminate(_ options: OpaquePointer?) -> Int32 {
    guard let options else { return 0 }
    return object(options, as: RunOptionsBox.self).control.isTerminateSet ? 1 : 0
}

@_cdecl("sc_run_options_set_max_run_bytes")
public func scRunOptionsSetMaxRunBytes(_ options: OpaquePointer?, _ bytes: Int64) -> OpaquePointer? {
    withStatus {
        let box = object(try required(options, "options"), as: RunOptionsBox.self)
        guard bytes >= 0 else { throw SwiftConvError.invalidArgument("max_run_bytes must be >= 0 (0: the session's), not \(bytes)") }
        box.control.maxRunBytes = Int(bytes)
    }
}
