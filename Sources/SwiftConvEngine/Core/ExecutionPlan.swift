import SwiftConvIR

/// A graph compiled for execution: nodes in dependency order, each with its kernel and
/// the slots its values live in, plus when each slot can be released.
///
/// Built once per session (and once per subgraph); `execute` is reentrant.
public final class ExecutionPlan: @unchecked Sendable {
    /// A class, so that walking the plan retains one reference per node instead of copying
    /// (and retaining each field of) a struct with three arrays, a kernel and a node context.
    final class Step {
        let kernel: Kernel
        /// The kernel again when it returns its one output without an array, and the node
        /// has exactly that one output.
        let single: SingleOutputKernel?
        let inputs: [Int] // slot per node input; -1 for an omitted one
        let outputs: [Int] // slot per node output; -1 for an omitted one
        let release: [Int] // slots whose last reader is this step
        let node: SwiftConvError.NodeContext

        init(kernel: Kernel, inputs: [Int], outputs: [Int], release: [Int], node: SwiftConvError.NodeContext) {
            self.kernel = kernel
            single = outputs.count == 1 ? kernel as? SingleOutputKernel : nil
            self.inputs = inputs
            self.outputs = outputs
            self.release = release
            self.node = node
        }
    }

    let slotCount: Int
    let steps: [Step]
    /// The most inputs any step takes (sizes the reused argument array).
    let maxInputs: Int
    /// Slots of the graph inputs, in graph order (initializer-backed inputs included).
    let inputSlots: [Int]
    let outputSlots: [Int]
    /// Names this graph reads from enclosing graphs, and their slots.
    public let captureNames: [String]
    let captureSlots: [Int]
    /// Values known before any run (initializers), by slot.
    let constants: [(slot: Int, value: Value)]
    /// Graph inputs that have an initializer default, by input position.
    let inputDefaults: [Int: Value]

    public let graph: Graph

    /// Compiles `graph`. `outerScope` lists the names visible from enclosing graphs;
    /// `opsets` maps domains ("" for ONNX) to the versions the model imports.
    init(graph: Graph, opsets: [String: Int64], outerScope: Set<String>, builder: PlanBuilder) throws {
        self.graph = graph
        var slotOf: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slotOf[name] { return s }
            let s = slotOf.count
            slotOf[name] = s
            return s
        }

        let inputs = graph.inputs.map { slot($0.name) }
        var constants: [(Int, Value)] = []
        var defaults: [Int: Value] = [:]
        let inputIndex = Dictionary(graph.inputs.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Weights read in place from a model file sit at arbitrary byte offsets; kernels load
        // typed (and SIMD) values, so each misaligned one is copied once here.
        let initializers = graph.initializers.map { $0.alignedForKernels() }
        for t in initializers {
            if let i = inputIndex[t.name] {
                defaults[i] = .tensor(t)
            } else {
                constants.append((slot(t.name), .tensor(t)))
            }
        }
        for s in graph.sparseInitializers {
            constants.append((slot(s.values.name), .tensor(try SparseTensorDensifier.dense(s))))
        }

        // Names defined in this graph; anything else a node reads must come from outside.
        var defined = Set(graph.inputs.map(\.name))
        defined.formUnion(graph.initializers.map(\.name))
        defined.formUnion(graph.sparseInitializers.map(\.values.name))
        let ordered = try graph.topologicallyOrderedNodes()
        for n in ordered { defined.formUnion(n.outputs.filter { !$0.isEmpty }) }

        var captures: [String] = []
        var captureSet = Set<String>()
        func noteFree(_ name: String, label: String) throws {
            guard !name.isEmpty, !defined.contains(name), !captureSet.contains(name) else { return }
            guard outerScope.contains(name) else {
                throw SwiftConvError.validation("\(label) reads '\(name)', which no graph input, initializer or earlier node defines")
            }
            captureSet.insert(name)
            captures.append(name)
        }
        for n in ordered {
            let label = "node '\(n.name)' (\(n.opType))"
            for i in n.inputs { try noteFree(i, label: label) }
            for name in n.subgraphCaptures { try noteFree(name, label: label) }
        }
        for o in graph.outputs { try noteFree(o.name, label: "graph output '\(o.name)'") }
        let captureSlots = captures.map { slot($0) }

        // Kernels.
        let visible = outerScope.union(defined)
        var steps: [Step] = []
        steps.reserveCapacity(ordered.count)
        let constantByName = Dictionary(initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let typeByName = builder.knownTypes(graph)
        for n in ordered {
            // Outer values a node's subgraphs read are passed after its listed inputs.
            var seen = Set<String>()
            let nodeCaptures = n.subgraphCaptures.filter { !$0.isEmpty && seen.insert($0).inserted }
            let kernel = try builder.makeKernel(
                node: n, opsets: opsets,
                constants: n.inputs.map { inputIndex[$0] == nil ? constantByName[$0] : nil },
                inputTypes: n.inputs.map { typeByName[$0] }, outputTypes: n.outputs.map { typeByName[$0] },
                captures: nodeCaptures, visible: visible, valueTypes: typeByName)
            steps.append(
                Step(
                    kernel: kernel, inputs: (n.inputs + nodeCaptures).map { $0.isEmpty ? -1 : slot($0) },
                    outputs: n.outputs.map { $0.isEmpty ? -1 : slot($0) }, release: [],
                    node: SwiftConvError.NodeContext(n)))
        }
        let outputs = try graph.outputs.map { o -> Int in
            guard let s = slotOf[o.name] else {
                throw SwiftConvError.validation("graph output '\(o.name)' is not produced by any node, input or initializer")
            }
            return s
        }

        // Release each intermediate after its last reader, unless it is an output or constant.
        var keep = Set(outputs)
        keep.formUnion(constants.map(\.0))
        keep.formUnion(captureSlots)
        var lastUse = [Int: Int]()
        for (i, s) in steps.enumerated() {
            for x in s.inputs where x >= 0 { lastUse[x] = i }
            for x in s.outputs where x >= 0 && lastUse[x] == nil { lastUse[x] = i }
        }
        var releases = [[Int]](repeating: [], count: steps.count)
        for (s, i) in lastUse where !keep.contains(s) { releases[i].append(s) }
        self.steps = steps.enumerated().map { i, s in
            Step(kernel: s.kernel, inputs: s.inputs, outputs: s.outputs, release: releases[i], node: s.node)
        }
        self.slotCount = slotOf.count
        self.maxInputs = steps.map(\.inputs.count).max() ?? 0
        self.inputSlots = inputs
        self.outputSlots = outputs
        self.captureNames = captures
        self.captureSlots = captureSlots
        self.constants = constants
        self.inputDefaults = defaults
    }

    /// Runs the graph. `inputs` follow `graph.inputs` (nil = use the initializer default);
    /// `captures` follow `captureNames`.
    public func execute(inputs: [Value?], captures: [Value], context: ExecutionContext) throws -> [Value] {
        var values = [Value?](repeating: nil, count: slotCount)
        for (s, v) in constants { values[s] = v }
        for (i, s) in inputSlots.enumerated() {
            values[s] = (i < inputs.count ? inputs[i] : nil) ?? inputDefaults[i]
        }
        for (i, s) in captureSlots.enumerated() where i < captures.count { values[s] = captures[i] }
        // One argument array for every step: refilled in place, it allocates only once.
        var args = [Value?]()
        args.reserveCapacity(maxInputs)
        let profiler = context.profiler
        for (position, step) in steps.enumerated() {
            try context.checkTerminated()
            let started = profiler == nil ? 0 : SessionProfiler.now()
            for s in step.inputs { args.append(s >= 0 ? values[s] : nil) }
            if let single = step.single {
                let result: Value
                do {
                    result = try single.runSingle(args, context)
                } catch let e as SwiftConvError {
                    throw e.at(step.node)
                }
                args.removeAll(keepingCapacity: true)
                if step.outputs[0] >= 0 { values[step.outputs[0]] = result }
            } else {
                let results: [Value]
                do {
                    results = try step.kernel.run(args, context)
                } catch let e as SwiftConvError {
                    throw e.at(step.node)
                }
                // Emptied right away so that released inputs can free their buffers now.
                args.removeAll(keepingCapacity: true)
                for (k, s) in step.outputs.enumerated() where s >= 0 && k < results.count { values[s] = results[k] }
            }
            for s in step.release { values[s] = nil }
            profiler?.recordNode(step.node, position: position, start: started)
        }
        return try outputSlots.enumerated().map { i, s in
            guard let v = values[s] else {
                throw SwiftConvError.internal("graph output '\(graph.outputs[i].name)' was not computed")
            }
            return v
        }
    }
}

/// Densifies sparse initializers at session creation (kernels see dense tensors).
enum SparseTensorDensifier {
    static func dense(_ s: SparseTensor) throws -> Tensor {
        let v = s.values
        guard v.dtype != .string, let count = elementCount(s.shape), let bytes = v.dtype.byteCount(elements: count),
            v.dtype.bitWidth % 8 == 0
        else {
            throw SwiftConvError.validation("sparse initializer '\(v.name)' has an unsupported type or shape")
        }
        var out = Tensor(name: v.name, dtype: v.dtype, shape: s.shape, storage: try TensorStorage(zeroedByteCount: bytes))
        let width = v.dtype.bitWidth / 8
        guard let idx = s.indices.int64Values() else {
            throw SwiftConvError.validation("sparse initializer '\(v.name)' has non-integer indices")
        }
        let nnz = v.elementCount
        let strides = contiguousStrides(s.shape)
        let dst = out.storage.mutableBytes
        for k in 0..<nnz {
            var linear: Int
            if idx.count == nnz {
                linear = Int(idx[k])
            } else if idx.count == nnz * s.shape.count {
                linear = 0
                for d in 0..<s.shape.count {
                    let i = Int(idx[k * s.shape.count + d])
                    guard i >= 0, i < s.shape[d] else {
                        throw SwiftConvError.validation("sparse initializer '\(v.name)' has an index out of range")
                    }
                    linear += i * strides[d] // < count: each coordinate is within its dimension
                }
            } else {
                throw SwiftConvError.validation("sparse initializer '\(v.name)' has \(idx.count) indices for \(nnz) values")
            }
            guard linear >= 0, linear < count else {
                throw SwiftConvError.validation("sparse initializer '\(v.name)' has an index out of range")
            }
            (dst.baseAddress! + linear * width).copyMemory(from: v.storage.bytes.baseAddress! + k * width, byteCount: width)
        }
        out.name = v.name
        return out
    }
}
