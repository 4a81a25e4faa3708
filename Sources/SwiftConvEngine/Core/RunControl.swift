import SwiftConvIR
import Synchronization

/// What a caller controls of one run while it is in progress: a terminate flag that any
/// thread (or a signal handler) may set, and a cap on the bytes the run's tensors may hold.
///
/// The executor reads the flag before every node, Loop and Scan before every iteration and
/// long kernels between chunks, so a run stops soon after the flag is set, with
/// `SwiftConvError.terminated` (onnxruntime's `RunOptions.terminate`).
public final class RunControl: @unchecked Sendable {
    private let terminateFlag = Atomic<Bool>(false)
    private let maxRunBytesValue: Atomic<Int>

    public init(maxRunBytes: Int = 0) {
        maxRunBytesValue = Atomic(maxRunBytes)
    }

    /// Most bytes the run's tensors may hold at once; 0 takes the session's limit. Read when
    /// a run starts.
    public var maxRunBytes: Int {
        get { maxRunBytesValue.load(ordering: .relaxed) }
        set { maxRunBytesValue.store(newValue, ordering: .relaxed) }
    }

    /// Sets or clears the flag. Only an atomic store: safe from any thread or a signal handler.
    public func setTerminate(_ value: Bool) {
        terminateFlag.store(value, ordering: .relaxed)
    }

    public var isTerminateSet: Bool { terminateFlag.load(ordering: .relaxed) }

    /// Throws `terminated` when the flag is set.
    @inline(__always)
    public func check() throws {
        if terminateFlag.load(ordering: .relaxed) {
            throw SwiftConvError.terminated("Exiting due to terminate flag being set to true.")
        }
    }
}
