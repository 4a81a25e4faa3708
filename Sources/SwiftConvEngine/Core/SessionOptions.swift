import SwiftConvIR

/// How much the session may rewrite the graph before running it (onnxruntime's levels).
public enum GraphOptimizationLevel: Int, Sendable {
    case disableAll = 0
    case basic = 1
    case extended = 2
    case all = 99
}

/// Options of an `InferenceSession`, as onnxruntime's `SessionOptions`.
public struct SessionOptions: Sendable {
    /// Threads one run may use; 0 means one per core.
    public var intraOpThreads: Int = 0
    public var graphOptimizationLevel: GraphOptimizationLevel = .all
    /// Largest tensor one node may allocate, in bytes (session creation and runs).
    public var maxTensorBytes: Int = AllocationBudget.defaultMaxTensorBytes
    /// Most bytes the tensors of one run (or of session creation) may hold at once.
    public var maxRunBytes: Int = AllocationBudget.defaultMaxTotalBytes
    public init() {}
}
