import SwiftConvIR

/// One node, ready to run: built once at session creation (attributes parsed, weights
/// pre-packed, the implementation for its dtypes and shapes chosen), then run many times.
///
/// `run` may be called from several threads at once: kernels keep no per-run state.
public protocol Kernel: Sendable {
    /// `inputs` has one entry per listed node input (nil for an omitted optional one), then
    /// one per name in `KernelBuildContext.subgraphCaptures` (the outer values its subgraphs
    /// read); returns one value per node output, in order (values for omitted outputs are ignored).
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value]
}

/// A kernel with exactly one output, which it returns as it is: the executor then makes no
/// result array for the node (one allocation less per node, which counts in graphs of many
/// tiny nodes). `run` is derived from `runSingle`.
public protocol SingleOutputKernel: Kernel {
    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value
}

extension SingleOutputKernel {
    public func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] { [try runSingle(inputs, context)] }
}

/// Per-run services for kernels: threads, the run's control (terminate flag) and nesting depth.
public struct ExecutionContext: @unchecked Sendable {
    public let threads: ThreadPool
    /// The caller's handle on this run; kernels with long loops call `checkTerminated()`
    /// between chunks of work.
    public let control: RunControl
    /// How deeply this run is nested in control-flow subgraphs (0 for the main graph).
    public let depth: Int
    /// Where each executed node's time goes when the session is profiling.
    public let profiler: SessionProfiler?

    public init(threads: ThreadPool, control: RunControl = RunControl(), depth: Int = 0, profiler: SessionProfiler? = nil) {
        self.threads = threads
        self.control = control
        self.depth = depth
        self.profiler = profiler
    }

    /// Throws `terminated` when the caller asked the run to stop.
    @inline(__always)
    public func checkTerminated() throws { try control.check() }
}

/// What a kernel factory sees of its node at session creation.
public struct KernelBuildContext {
    public let node: Node
    /// The opset version the model imports for the node's domain.
    public let opset: Int64
    /// The since-version of the registered implementation that was chosen.
    public let sinceVersion: Int64
    /// Inputs whose values are known at session creation (initializers), by position.
    public let constantInputs: [Tensor?]
    /// Declared or inferred input types, by position (nil when unknown).
    public let inputTypes: [ValueType?]
    /// Declared or inferred output types, by position.
    public let outputTypes: [ValueType?]
    /// Builds an executable plan for a subgraph attribute; `outerScope` lists the
    /// names visible from enclosing graphs.
    public let buildSubgraph: (Graph) throws -> ExecutionPlan
    /// Outer-scope names the node's subgraphs read; their values follow the node inputs
    /// in `run`'s `inputs`, in this order (empty for nodes without subgraphs).
    public var subgraphCaptures: [String] = []
    /// The declared types of every value of the node's graph, by name: ops whose file format
    /// attaches extra tensors (a TFLite op's `intermediates`, which carry an integer LSTM's
    /// gate scales) read their quantization here.
    public var valueTypes: [String: ValueType] = [:]

    /// The node as error context.
    public var nodeContext: SwiftConvError.NodeContext { SwiftConvError.NodeContext(node) }

    /// "node 'name' (OpType)", for error messages.
    public var label: String { nodeContext.label }

    public func attribute(_ name: String) -> Attribute? { node.attribute(name) }

    public func int(_ name: String, default d: Int64) -> Int64 { node.attribute(name)?.int ?? d }
    public func int(_ name: String) throws -> Int64 {
        guard let v = node.attribute(name)?.int else { throw missing(name) }
        return v
    }
    public func float(_ name: String, default d: Float) -> Float { node.attribute(name)?.float ?? d }
    public func ints(_ name: String) -> [Int64]? { node.attribute(name)?.ints }
    public func floats(_ name: String) -> [Float]? { node.attribute(name)?.floats }
    public func string(_ name: String, default d: String) -> String { node.attribute(name)?.string ?? d }
    public func strings(_ name: String) -> [String]? { node.attribute(name)?.strings }
    public func tensor(_ name: String) -> Tensor? { node.attribute(name)?.tensor }
    public func graph(_ name: String) throws -> Graph {
        guard let g = node.attribute(name)?.graph else { throw missing(name) }
        return g
    }

    public func constant(_ i: Int) -> Tensor? { i < constantInputs.count ? constantInputs[i] : nil }
    public func hasInput(_ i: Int) -> Bool { i < node.inputs.count && !node.inputs[i].isEmpty }
    public func inputType(_ i: Int) -> ValueType? { i < inputTypes.count ? inputTypes[i] : nil }
    /// The quantization input `i`'s type carries (nil when it has none or the type is unknown).
    public func inputQuantization(_ i: Int) -> QuantParams? { inputType(i)?.quantization }

    public func missing(_ attr: String) -> SwiftConvError {
        SwiftConvError.validation("required attribute '\(attr)' is missing").at(nodeContext)
    }

    public func invalid(_ why: String) -> SwiftConvError { SwiftConvError.validation(why).at(nodeContext) }
}

/// A bad input met while a kernel runs (the executor adds the node).
public func kernelError(_ why: String) -> SwiftConvError { .invalidArgument(why) }

/// An input a kernel has no implementation for (a dtype, a mode), met while it runs; like
/// onnxruntime's NOT_IMPLEMENTED for a missing kernel, it is `unsupportedOp`, not a bad argument.
public func kernelUnsupported(_ what: String) -> SwiftConvError { .unsupportedOp(what) }

/// Builds a kernel for one node.
public typealias KernelFactory = (KernelBuildContext) throws -> Kernel

/// Kernel factories keyed by (domain, op type), each with the since-versions it implements.
/// Lookup takes the newest since-version not above the model's opset for the domain.
public struct KernelRegistry {
    struct Key: Hashable {
        var domain: String
        var op: String
    }
    var entries: [Key: [(since: Int64, factory: KernelFactory)]] = [:]
    var familyOf: [Key: String] = [:]
    var currentFamily: String?

    public init() {}

    /// Registers one family's kernels, recording `name` (its file is `Ops/<name>.swift`) as
    /// the family of each op it registers; the schema of the op is in `Families/<name>Ops.swift`.
    public mutating func registerFamily(_ name: String, _ register: (inout KernelRegistry) -> Void) {
        currentFamily = name
        register(&self)
        currentFamily = nil
    }

    /// Registers `factory` for each of `since` (the versions whose semantics it handles;
    /// the factory reads `sinceVersion` to tell them apart).
    public mutating func register(_ op: String, domain: String = "", since: [Int64], _ factory: @escaping KernelFactory) {
        let key = Key(domain: domain, op: op)
        for v in since { entries[key, default: []].append((v, factory)) }
        entries[key]!.sort { $0.since < $1.since }
        if let currentFamily { familyOf[key] = currentFamily }
    }

    public func lookup(domain: String, op: String, opset: Int64) -> (since: Int64, factory: KernelFactory)? {
        guard let list = entries[Key(domain: domain, op: op)] else { return nil }
        return list.last { $0.since <= opset }
    }

    public func versions(domain: String, op: String) -> [Int64] {
        entries[Key(domain: domain, op: op)]?.map(\.since) ?? []
    }

    /// The family whose file registers the op's kernels (nil when registered outside a family).
    public func family(domain: String, op: String) -> String? { familyOf[Key(domain: domain, op: op)] }

    /// Every family name, sorted.
    public var families: [String] { Set(familyOf.values).sorted() }

    /// Every registered (domain, op).
    public var allOps: [(domain: String, op: String)] { entries.keys.map { ($0.domain, $0.op) } }
}
