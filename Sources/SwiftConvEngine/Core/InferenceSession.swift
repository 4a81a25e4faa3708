import Glibc
import SwiftConvIR

/// Runs a model on the CPU: the engine behind `swiftconv.InferenceSession`.
///
/// Creation validates the model, infers the types of its values, rewrites it with the
/// passes of `SessionPipeline`, picks a kernel for every node and plans value lifetimes;
/// `run` only executes that plan and may be called from several threads at once.
public final class InferenceSession: @unchecked Sendable {
    public let model: Model
    /// Inputs a caller must (or, for initializer-backed ones, may) feed, in graph order.
    public let inputs: [ValueInfo]
    public let outputs: [ValueInfo]
    let plan: ExecutionPlan
    let pool: ThreadPool
    /// Position of each graph input in `plan.graph.inputs`, by name.
    let inputPosition: [String: Int]
    let requiredInputs: Set<String>
    public let options: SessionOptions
    /// Graph output types as shape inference found them at creation (nil where unknown).
    public let inferredOutputTypes: [ValueType?]
    /// When creation started and ended (`SessionProfiler.now()`), and the wall clock at its start.
    let creation: (start: UInt64, end: UInt64, wallClock: UInt64)
    /// The profiler runs record into, between `startProfiling()` and `endProfiling()`.
    private var activeProfiler: SessionProfiler?
    private let profilerMutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(model: Model, options: SessionOptions = SessionOptions(), registry: KernelRegistry = Kernels.standard) throws {
        guard options.maxTensorBytes > 0, options.maxRunBytes > 0 else {
            throw SwiftConvError.invalidArgument(
                "max_tensor_bytes and max_run_bytes must be > 0, not \(options.maxTensorBytes) and \(options.maxRunBytes)")
        }
        let creationStart = SessionProfiler.now(), creationWallClock = SessionProfiler.wallClock()
        self.options = options
        // Constants folded and weights packed while building count against the same limits as a run.
        let budget = AllocationBudget(maxTensorBytes: options.maxTensorBytes, maxTotalBytes: options.maxRunBytes)
        let (m, plan, inferred) = try AllocationBudget.withCurrent(budget) {
            try InferenceSession.compile(model, options, registry)
        }
        self.plan = plan
        inferredOutputTypes = inferred
        self.model = m
        pool = ThreadPool(threads: options.intraOpThreads)
        let weights = Set(m.graph.initializers.map(\.name))
        inputs = m.graph.inputs
        outputs = m.graph.outputs
        inputPosition = Dictionary(m.graph.inputs.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        requiredInputs = Set(m.graph.inputs.map(\.name).filter { !weights.contains($0) })
        profilerMutex = .allocate(capacity: 1)
        pthread_mutex_init(profilerMutex, nil)
        creation = (creationStart, SessionProfiler.now(), creationWallClock)
    }

    deinit {
        pthread_mutex_destroy(profilerMutex)
        profilerMutex.deallocate()
    }

    /// Starts recording the timings of runs and nodes (onnxruntime's `enable_profiling`); the
    /// profile starts with this session's creation. Does nothing when already profiling.
    public func startProfiling() {
        pthread_mutex_lock(profilerMutex)
        if activeProfiler == nil {
            activeProfiler = SessionProfiler(
                creation: creation.start, creationWallClock: creation.wallClock, created: creation.end)
        }
        pthread_mutex_unlock(profilerMutex)
    }

    /// Stops profiling and hands over what was recorded; nil when not profiling.
    public func endProfiling() -> SessionProfiler? {
        pthread_mutex_lock(profilerMutex)
        defer { pthread_mutex_unlock(profilerMutex) }
        let profiler = activeProfiler
        activeProfiler = nil
        return profiler
    }

    /// The profiler of the current profiling, if any.
    public var profiler: SessionProfiler? {
        pthread_mutex_lock(profilerMutex)
        defer { pthread_mutex_unlock(profilerMutex) }
        return activeProfiler
    }

    /// Checks the model and records the types shape inference finds, runs the pass pipeline
    /// of the optimization level (function inlining first), and builds the plan with a
    /// kernel per node.
    private static func compile(
        _ model: Model, _ options: SessionOptions, _ registry: KernelRegistry
    ) throws
        -> (Model, ExecutionPlan, [ValueType?])
    {
        var m = model
        let inferred = try ModelChecker.checkForSession(annotating: &m)
        _ = try SessionPipeline.pipeline(for: options.graphOptimizationLevel).run(on: &m)
        var opsets: [String: Int64] = [:]
        for o in m.opsetImports { opsets[o.domain == "ai.onnx" ? "" : o.domain] = o.version }
        if opsets[""] == nil, m.graph.nodes.contains(where: { $0.canonicalDomain.isEmpty }) {
            throw SwiftConvError.validation("the model imports no opset for the default ONNX domain")
        }
        let builder = PlanBuilder(registry: registry, opsets: opsets)
        let plan = try ExecutionPlan(graph: m.graph, opsets: opsets, outerScope: [], builder: builder)
        if let error = builder.unsupportedError { throw error }
        return (m, plan, inferred)
    }

    /// Inputs without an initializer default (what onnxruntime's `get_inputs()` lists).
    public var requiredInputInfo: [ValueInfo] { inputs.filter { requiredInputs.contains($0.name) } }

    /// Runs the model. `outputNames` nil means every output, in graph order.
    /// `control` lets another thread stop the run and may lower its allocation limit.
    public func run(feeds: [String: Value], outputNames: [String]? = nil, control: RunControl = RunControl()) throws -> [Value] {
        try control.check()
        var args = [Value?](repeating: nil, count: inputs.count)
        for (name, value) in feeds {
            guard let i = inputPosition[name] else {
                throw SwiftConvError.invalidArgument("invalid input name: '\(name)' (the model's inputs are \(inputs.map(\.name)))")
            }
            let value = InferenceSession.typed(value, as: inputs[i].type)
            try checkInput(value, against: inputs[i])
            args[i] = value
        }
        let missing = requiredInputInfo.map(\.name).filter { feeds[$0] == nil }
        if !missing.isEmpty {
            throw SwiftConvError.invalidArgument("required inputs \(missing) are missing from the input feed \(Array(feeds.keys).sorted())")
        }
        var wanted: [Int] = []
        if let names = outputNames {
            for n in names {
                guard let i = outputs.firstIndex(where: { $0.name == n }) else {
                    throw SwiftConvError.invalidArgument("invalid output name: '\(n)' (the model's outputs are \(outputs.map(\.name)))")
                }
                wanted.append(i)
            }
        }
        let limit = control.maxRunBytes > 0 ? min(control.maxRunBytes, options.maxRunBytes) : options.maxRunBytes
        let budget = AllocationBudget(maxTensorBytes: options.maxTensorBytes, maxTotalBytes: limit)
        let profiler = self.profiler
        let started = profiler == nil ? 0 : SessionProfiler.now()
        let results = try AllocationBudget.withCurrent(budget) {
            try plan.execute(
                inputs: args, captures: [], context: ExecutionContext(threads: pool, control: control, profiler: profiler))
        }
        profiler?.record(name: "model_run", node: false, opType: "", start: started, end: SessionProfiler.now())
        for (i, value) in results.enumerated() where outputNames == nil || wanted.contains(i) {
            try checkOutput(value, against: outputs[i])
        }
        return outputNames == nil ? results : wanted.map { results[$0] }
    }

    /// A result whose element type contradicts the graph's declared output type is an error,
    /// as in onnxruntime (which finds most such models at creation by type inference).
    func checkOutput(_ value: Value, against info: ValueInfo) throws {
        guard case .tensor(let declared, _, _)? = info.type, declared != .undefined, case .tensor(let t) = value,
            t.dtype != declared
        else { return }
        throw SwiftConvError.validation(
            "graph output '\(info.name)' is declared tensor(\(declared.onnxTypeName)) but the graph computes tensor(\(t.dtype.onnxTypeName))"
        )
    }

    /// onnxruntime's checks: element type, rank and every static dimension.
    func checkInput(_ value: Value, against info: ValueInfo) throws {
        guard case .tensor(let expectedType, let shape, _)? = info.type else { return }
        guard case .tensor(let t) = value else {
            throw SwiftConvError.invalidArgument(
                "input '\(info.name)' must be a tensor(\(expectedType.onnxTypeName)); got \(value.typeDescription)")
        }
        if expectedType != .undefined && t.dtype != expectedType {
            throw SwiftConvError.invalidArgument(
                "unexpected input data type for '\(info.name)': actual tensor(\(t.dtype.onnxTypeName)), expected tensor(\(expectedType.onnxTypeName))"
            )
        }
        guard let shape else { return }
        guard shape.count == t.shape.count else {
            throw SwiftConvError.invalidArgument(
                "invalid rank for input '\(info.name)': got \(t.shape.count), expected \(shape.count) (shape \(shape.map(\.description)))")
        }
        for (i, d) in shape.enumerated() {
            // A negative declared dim is no size at all; like a symbolic one it accepts any.
            if case .known(let v) = d, v >= 0, v != t.shape[i] {
                throw SwiftConvError.invalidArgument(
                    "invalid dimensions for input '\(info.name)' at index \(i): got \(t.shape[i]), expected \(v)")
            }
        }
    }
}
