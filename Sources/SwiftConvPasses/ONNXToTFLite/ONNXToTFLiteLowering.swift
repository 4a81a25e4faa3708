import SwiftConvIR

/// Lowers default-domain ONNX nodes to `tflite`-domain nodes: the core of ONNX -> TFLite.
///
/// It runs twice in the conversion pipeline. First over the layout-sensitive ops only
/// (`Scope.layout`: convolutions, pools, resizes), each becoming its NHWC TFLite op between
/// two ONNX `Transpose` nodes, so that `TransposeCancellation` can then push and cancel those
/// transposes through the ONNX element-wise and shape ops that remain. Then over everything
/// (`Scope.all`), ONNX `Transpose` included, leaving a pure `tflite` model.
///
/// Each op family has its own file of rules (`ONNX<Family>ToTFLite.swift`); this file holds
/// the driver and what the rules share. Every node that cannot be lowered is collected and
/// reported in one `.conversion` error (op, name, why), so no partial model comes out.
public struct ONNXToTFLiteLowering: ModelPass {
    /// Which nodes one run lowers.
    public enum Scope: Sendable {
        /// Only ops whose TFLite form is NHWC; the rest stays ONNX.
        case layout
        /// Every default-domain node; the result is a TFLite model.
        case all
    }

    public let scope: Scope
    public var name: String { scope == .layout ? "lower-onnx-layout-ops-to-tflite" : "lower-onnx-to-tflite" }

    public init(_ scope: Scope = .all) { self.scope = scope }

    public func run(on model: inout Model) throws -> Bool {
        if !model.opsetImports.contains(where: { $0.domain == OpDomain.tflite }) {
            model.opsetImports.append(OpsetID(domain: OpDomain.tflite, version: 1))
        }
        // Rules read the type of every value.
        try ShapeInference.infer(&model)
        let opset = model.opsetImports.first { $0.domain == OpDomain.onnx || $0.domain == "ai.onnx" }?.version ?? 13
        let state = ToTFLiteState(scope: scope, opset: opset, names: UniqueNameGenerator(graph: model.graph))
        let (graph, changed) = try state.lower(model.graph)
        if !state.problems.isEmpty {
            let list = state.problems.map { "\($0.op) '\($0.name)': \($0.why)" }
            throw SwiftConvError.conversion(
                "\(list.count) ONNX node\(list.count == 1 ? "" : "s") cannot be converted to TFLite: " + list.joined(separator: "; "))
        }
        model.graph = graph
        if scope == .all {
            model.format = .tflite
            model.opsetImports = [OpsetID(domain: OpDomain.tflite, version: 1)]
            model.functions = []
        }
        return changed
    }
}

/// One rule: emits the TFLite nodes for one ONNX node through its lowering context.
typealias ToTFLiteRule = (_ node: ToTFLiteNode) throws -> Void

/// Every family's rules by ONNX op type, and which of them are layout-sensitive.
enum ONNXToTFLiteRules {
    /// Rules of ops whose TFLite form is NHWC; lowered in the first, layout, run.
    static let layout: [String: ToTFLiteRule] = {
        var table: [String: ToTFLiteRule] = [:]
        for family in [convolution, image, channelNormalization] {
            table.merge(family) { first, _ in first }
        }
        return table
    }()

    /// Rules of every other op.
    static let plain: [String: ToTFLiteRule] = {
        var table: [String: ToTFLiteRule] = [:]
        for family in [elementwise, logical, activation, reduce, normalization, shape, indexing, coordinate, matmul, recurrent] {
            table.merge(family) { first, _ in first }
        }
        return table
    }()
}

/// What the lowering of one model shares: fresh names and the problems found.
final class ToTFLiteState {
    let scope: ONNXToTFLiteLowering.Scope
    let opset: Int64
    var names: UniqueNameGenerator
    var problems: [(op: String, name: String, why: String)] = []

    init(scope: ONNXToTFLiteLowering.Scope, opset: Int64, names: UniqueNameGenerator) {
        self.scope = scope
        self.opset = opset
        self.names = names
    }

    /// The lowered graph: same inputs and outputs, every node lowered or kept.
    func lower(_ g: Graph) throws -> (Graph, Bool) {
        let scope = ToTFLiteGraph(graph: g, state: self)
        var changed = false
        for node in g.nodes {
            let domain = node.canonicalDomain
            if domain == OpDomain.tflite || domain == OpDomain.tfliteCustom {
                scope.keep(node)
                continue
            }
            if domain == OpDomain.onnx, node.opType == "Constant", self.scope == .all {
                // Constants the folding left as nodes become initializers.
                do {
                    try scope.constantNode(node)
                    changed = true
                } catch let e as NotLowerable {
                    problems.append((node.opType, node.name, e.why))
                }
                continue
            }
            // In the last run a layout rule that refuses a node leaves it to the plain rule of
            // the same op, if there is one (a BatchNormalization with statistics computed in the graph).
            var rules: [ToTFLiteRule] = []
            if domain == OpDomain.onnx {
                if let r = ONNXToTFLiteRules.layout[node.opType] { rules.append(r) }
                if self.scope == .all, let r = ONNXToTFLiteRules.plain[node.opType] { rules.append(r) }
            }
            guard !rules.isEmpty else {
                if self.scope == .all {
                    let domainName = domain.isEmpty ? "" : domain + "::"
                    problems.append((domainName + node.opType, node.name, "no TFLite lowering for this op"))
                } else {
                    scope.keep(node)
                }
                continue
            }
            var reasons: [String] = []
            for rule in rules {
                let lowering = ToTFLiteNode(node: node, scope: scope)
                let mark = (scope.nodes.count, scope.initializers.count, scope.aliases, scope.int32Copies)
                do {
                    try rule(lowering)
                    try lowering.checkOutputsBound()
                    changed = true
                    reasons = []
                    break
                } catch let e as NotLowerable {
                    scope.nodes.removeSubrange(mark.0...)
                    scope.initializers.removeSubrange(mark.1...)
                    scope.aliases = mark.2
                    scope.int32Copies = mark.3
                    reasons.append(e.why)
                }
            }
            if !reasons.isEmpty {
                if self.scope == .all {
                    problems.append((node.opType, node.name, reasons.joined(separator: "; and ")))
                } else {
                    // A layout op that cannot take the NHWC form here may still lower later.
                    scope.keep(node)
                }
            }
        }
        // Before the graph is assembled: the copies of aliased outputs are nodes and constants too.
        try scope.finishOutputs(g)
        var out = Graph(name: g.name, nodes: scope.nodes, inputs: g.inputs, outputs: g.outputs)
        out.initializers =
            g.initializers.compactMap { t in
                guard self.scope == .all else { return t }
                return scope.tfliteConstant(t)
            } + scope.initializers
        // Shape inference cannot know a CAST's output type (TFLite files often leave CastOptions
        // out), so the lowered graph declares the types its casts were given.
        out.valueInfo = self.scope == .all ? scope.castTypes() : g.valueInfo
        out.docString = g.docString
        out.metadata = g.metadata
        return (out, changed)
    }
}

/// The lowering of one graph: the types and constants of its values and the nodes emitted.
final class ToTFLiteGraph {
    let graph: Graph
    unowned let state: ToTFLiteState
    var types: [String: ValueType] = [:]
    var constants: [String: Tensor] = [:]
    var nodes: [Node] = []
    var initializers: [Tensor] = []
    /// ONNX values that are another value under a new name (Identity, Dropout, a no-op
    /// Reshape): readers are redirected, graph outputs get a real op at the end.
    var aliases: [String: String] = [:]
    /// Int32 copies of int64 constants, made once.
    var int32Copies: [String: String] = [:]

    init(graph: Graph, state: ToTFLiteState) {
        self.graph = graph
        self.state = state
        for t in graph.initializers {
            constants[t.name] = t
            types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape), quantization: t.quantization)
        }
        for v in graph.valueInfo + graph.inputs + graph.outputs {
            if let t = v.type { types[v.name] = t }
        }
    }

    func fresh(_ base: String) -> String { state.names.fresh(base) }

    /// The name a reader uses for `value` (aliases resolved).
    func resolve(_ value: String) -> String {
        var v = value
        var steps = 0
        while let next = aliases[v], steps < 1 << 16 {
            v = next
            steps += 1
        }
        return v
    }

    /// A node that is already TFLite, or stays ONNX for a later run, with its inputs resolved.
    func keep(_ node: Node) {
        var n = node
        n.inputs = n.inputs.map { $0.isEmpty ? $0 : resolve($0) }
        nodes.append(n)
    }

    /// An ONNX Constant node as an initializer of the same name.
    func constantNode(_ node: Node) throws {
        guard node.outputs.count == 1, let a = node.attributes.first else { throw NotLowerable("a Constant needs one value") }
        var t: Tensor
        switch a.value {
        case .tensor(let v)?: t = v
        case .float(let f)?: t = Tensor(dtype: .float32, shape: [], values: [f])
        case .floats(let f)?: t = Tensor(dtype: .float32, shape: [f.count], values: f)
        case .int(let i)?: t = Tensor(dtype: .int64, shape: [], values: [i])
        case .ints(let i)?: t = Tensor(dtype: .int64, shape: [i.count], values: i)
        default: throw NotLowerable("Constant attribute '\(a.name)' has no TFLite form")
        }
        t.name = node.outputs[0]
        constants[t.name] = t
        types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape))
        if let c = tfliteConstant(t) { initializers.append(c) }
    }

    /// An ONNX constant as TFLite stores it: int64 data stays int64 (GATHER indices, int64
    /// graph data); nil for types TFLite lacks.
    func tfliteConstant(_ t: Tensor) -> Tensor? {
        t.dtype == .float64 ? nil : t
    }

    /// Adds a constant and returns its name.
    func constant(_ base: String, _ t: Tensor) -> String {
        var t = t
        t.name = fresh(base)
        initializers.append(t)
        constants[t.name] = t
        types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape), quantization: t.quantization)
        return t.name
    }

    func int32s(_ base: String, _ values: [Int], shape: [Int]? = nil) -> String {
        constant(base, Tensor(dtype: .int32, shape: shape ?? [values.count], values: values.map { Int32(clamping: $0) }))
    }

    @discardableResult
    func emit(_ op: String, domain: String, _ inputs: [String], _ outputs: [String], name: String, attributes: [Attribute]) -> [String] {
        nodes.append(Node(name: name, opType: op, domain: domain, inputs: inputs, outputs: outputs, attributes: attributes))
        return outputs
    }

    /// The types of the CAST outputs emitted, as value_info.
    func castTypes() -> [ValueInfo] {
        nodes.compactMap { n in
            guard n.opType == "CAST", n.canonicalDomain == OpDomain.tflite, let y = n.outputs.first, let t = types[y] else { return nil }
            return ValueInfo(name: y, type: t)
        }
    }

    /// Graph outputs that became aliases of other values get an op that produces them.
    func finishOutputs(_ g: Graph) throws {
        let produced = Set(nodes.flatMap(\.outputs))
        for o in g.outputs where !produced.contains(o.name) {
            let source = resolve(o.name)
            guard source != o.name else { continue } // a graph input or constant listed as an output
            if state.scope == .layout {
                nodes.append(Node(name: fresh(o.name), opType: "Identity", inputs: [source], outputs: [o.name]))
                continue
            }
            // TFLite has no identity op: a RESHAPE to the value's own shape copies it. One unknown
            // dim (a free batch) is RESHAPE's -1; with more, the target is the value's SHAPE.
            guard let shape = types[source]?.tensorShape ?? types[o.name]?.tensorShape else {
                state.problems.append(("Identity", o.name, "graph output '\(o.name)' repeats a value of unknown rank"))
                continue
            }
            let target: String
            if shape.filter({ $0.value == nil }).count <= 1 {
                target = int32s(o.name + "_shape", shape.map { $0.value ?? -1 })
            } else {
                target = fresh(o.name + "_shape")
                types[target] = .tensor(elementType: .int32, shape: Shape([shape.count]), quantization: nil)
                nodes.append(
                    Node(
                        name: fresh(o.name + "_shape"), opType: "SHAPE", domain: OpDomain.tflite, inputs: [source], outputs: [target],
                        attributes: [.string("out_type", "INT32")]))
            }
            nodes.append(
                Node(name: fresh(o.name), opType: "RESHAPE", domain: OpDomain.tflite, inputs: [source, target], outputs: [o.name]))
        }
    }
}

/// What a rule sees of the ONNX node it lowers: attributes with ONNX's defaults, inputs with
/// their types and constants, and where its outputs go.
final class ToTFLiteNode {
    let node: Node
    let scope: ToTFLiteGraph
    private var bound: Set<Int> = []
    /// Where this rule's nodes start in `scope.nodes`.
    private let firstNode: Int

    init(node: Node, scope: ToTFLiteGraph) {
        self.node = node
        self.scope = scope
        self.firstNode = scope.nodes.count
    }

    var opset: Int64 { scope.state.opset }
    var layoutRun: Bool { scope.state.scope == .layout }

    // MARK: attributes (absent means the ONNX default)

    func int(_ name: String, _ fallback: Int64) -> Int64 { node.attribute(name)?.int ?? fallback }
    func float(_ name: String, _ fallback: Float) -> Float { node.attribute(name)?.float ?? fallback }
    func string(_ name: String, _ fallback: String) -> String { node.attribute(name)?.string ?? fallback }
    func ints(_ name: String) -> [Int64]? { node.attribute(name)?.ints }
    func floats(_ name: String) -> [Float]? { node.attribute(name)?.floats }

    // MARK: inputs

    func has(_ k: Int) -> Bool { k < node.inputs.count && !node.inputs[k].isEmpty }

    /// Input `k` as the lowered graph names it; throws when absent.
    func input(_ k: Int) throws -> String {
        guard has(k) else { throw NotLowerable("input \(k) is missing") }
        return scope.resolve(node.inputs[k])
    }

    func type(_ k: Int) -> ValueType? { has(k) ? scope.types[node.inputs[k]] : nil }
    func elementType(_ k: Int) -> DType? { type(k)?.tensorElementType }
    func shape(_ k: Int) -> Shape? { type(k)?.tensorShape }

    func rank(_ k: Int) throws -> Int {
        guard let s = shape(k) else { throw NotLowerable("the rank of input \(k) is unknown") }
        return s.count
    }

    /// The static dims of input `k`, or nil when any is unknown.
    func staticShape(_ k: Int) -> [Int]? {
        guard let s = shape(k) else { return nil }
        let dims = s.compactMap(\.value)
        return dims.count == s.count ? dims : nil
    }

    /// The static spatial dims of an NCHW-like input `k` (all dims after the channel), or nil.
    func spatialDims(_ k: Int) -> [Int]? {
        guard let s = shape(k), s.count >= 3 else { return nil }
        let dims = s[2...].compactMap(\.value)
        return dims.count == s.count - 2 ? dims : nil
    }

    func outputType(_ k: Int) -> ValueType? { k < node.outputs.count ? scope.types[node.outputs[k]] : nil }
    func outputShape(_ k: Int) -> Shape? { outputType(k)?.tensorShape }

    /// The constant behind input `k`, if it is one.
    func constant(_ k: Int) -> Tensor? { has(k) ? scope.constants[scope.resolve(node.inputs[k])] ?? scope.constants[node.inputs[k]] : nil }

    /// The integer values of constant input `k`.
    func constantInts(_ k: Int, what: String) throws -> [Int64] {
        guard let t = constant(k), let v = t.int64Values(), t.dtype.isInteger else {
            throw NotLowerable("\(what) (input \(k)) must be a constant integer tensor")
        }
        return v
    }

    /// The float values of constant input `k`.
    func constantFloats(_ k: Int, what: String) throws -> [Float] {
        guard let t = constant(k), let v = t.doubleValues() else {
            throw NotLowerable("\(what) (input \(k)) must be a constant tensor")
        }
        return v.map { Float($0) }
    }

    /// Input `k` as an int32 value (TFLite's shapes, axes and indices): a constant when it is
    /// one, else a CAST.
    func int32Input(_ k: Int) throws -> String {
        if let t = constant(k), let v = t.int64Values(), t.dtype.isInteger {
            if t.dtype == .int32 { return try input(k) }
            let name = try input(k)
            if let done = scope.int32Copies[name] { return done }
            guard v.allSatisfy({ Int32(exactly: $0) != nil }) else { throw NotLowerable("constant '\(name)' does not fit int32") }
            let c = scope.constant(name + "_int32", Tensor(dtype: .int32, shape: t.shape, values: v.map { Int32($0) }))
            scope.int32Copies[name] = c
            return c
        }
        let x = try input(k)
        if elementType(k) == .int32 { return x }
        return cast(x, to: .int32)
    }

    // MARK: emitting

    func fresh(_ base: String? = nil) -> String { scope.fresh(base ?? (node.outputs.first ?? node.opType)) }

    /// Emits one TFLite node with a fresh output and returns that output.
    @discardableResult
    func emit(_ op: String, _ inputs: [String], attributes: [Attribute] = []) -> String {
        scope.emit(op, domain: OpDomain.tflite, inputs, [fresh()], name: fresh(node.name.isEmpty ? op : node.name), attributes: attributes)[
            0]
    }

    func emit(_ op: String, _ inputs: [String], outputs count: Int, attributes: [Attribute] = []) -> [String] {
        scope.emit(
            op, domain: OpDomain.tflite, inputs, (0..<count).map { _ in fresh() }, name: fresh(node.name.isEmpty ? op : node.name),
            attributes: attributes)
    }

    /// Emits one default-domain ONNX node (the layout run's transposes).
    func emitONNX(_ op: String, _ inputs: [String], attributes: [Attribute] = []) -> String {
        scope.emit(op, domain: "", inputs, [fresh()], name: fresh(op), attributes: attributes)[0]
    }

    func int32s(_ values: [Int], shape: [Int]? = nil) -> String { scope.int32s(fresh() + "_const", values, shape: shape) }

    func floatConstant(_ t: Tensor, _ base: String? = nil) -> String { scope.constant(base ?? (fresh() + "_const"), t) }

    func cast(_ x: String, to t: DType) -> String {
        let y = emit("CAST", [x])
        scope.types[y] = .tensor(elementType: t, shape: scope.types[x]?.tensorShape)
        return y
    }

    /// `x` transposed by `perm`: an ONNX Transpose in the layout run (so that
    /// `TransposeCancellation` can move it), a TFLite TRANSPOSE otherwise.
    func transpose(_ x: String, _ perm: [Int]) -> String {
        if layoutRun { return emitONNX("Transpose", [x], attributes: [.ints("perm", perm)]) }
        return emit("TRANSPOSE", [x, int32s(perm)])
    }

    /// NCHW -> NHWC (any spatial rank: [0, 2, 3, ..., 1]).
    func toChannelsLast(_ x: String, rank: Int) -> String { transpose(x, [0] + Array(2..<rank) + [1]) }
    /// NHWC -> NCHW (any spatial rank).
    func toChannelsFirst(_ x: String, rank: Int) -> String { transpose(x, [0, rank - 1] + Array(1..<(rank - 1))) }

    // MARK: subgraphs

    /// A control-flow subgraph (a WHILE's condition or body) whose inputs have `inputTypes`:
    /// `build` gets the inputs' names, emits through this same context and returns the
    /// subgraph's outputs, typed `outputTypes` when given. What it emits goes into the
    /// subgraph, not the graph being lowered; a TFLite subgraph reads only its inputs and its
    /// own constants, so `build` must not use `input(k)` or values emitted outside it. Shape
    /// inference then types every value inside (the exporter needs each tensor's type, and
    /// the pipeline's inference does not enter graph attributes).
    func subgraph(
        _ base: String, inputs inputTypes: [ValueType], outputTypes: [ValueType]? = nil, _ build: ([String]) throws -> [String]
    ) throws -> Graph {
        let outerNodes = scope.nodes
        let outerInitializers = scope.initializers
        scope.nodes = []
        scope.initializers = []
        defer {
            scope.nodes = outerNodes
            scope.initializers = outerInitializers
        }
        let inputs = inputTypes.map { t in ValueInfo(name: fresh(base + "_input"), type: t) }
        for v in inputs { scope.types[v.name] = v.type }
        let results = try build(inputs.map(\.name))
        if let outputTypes, outputTypes.count != results.count {
            throw NotLowerable("subgraph '\(base)' returns \(results.count) values for \(outputTypes.count) types")
        }
        let outputs = results.enumerated().map { k, name in ValueInfo(name: name, type: outputTypes?[k]) }
        let graph = Graph(name: fresh(base), nodes: scope.nodes, inputs: inputs, outputs: outputs, initializers: scope.initializers)
        var model = Model(format: .tflite, graph: graph, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
        try ShapeInference.infer(&model)
        var typed = Set(model.graph.valueInfo.filter { $0.type != nil }.map(\.name))
        typed.formUnion(model.graph.inputs.map(\.name))
        typed.formUnion(model.graph.outputs.filter { $0.type != nil }.map(\.name))
        typed.formUnion(model.graph.initializers.map(\.name))
        for n in model.graph.nodes {
            for o in n.outputs where !o.isEmpty && !typed.contains(o) {
                throw NotLowerable("the type of '\(o)' (\(n.opType)) in subgraph '\(base)' is unknown")
            }
        }
        return model.graph
    }

    // MARK: outputs

    /// Makes `value` the ONNX node's output `k`. A value this rule produced is renamed, so the
    /// TFLite model keeps the ONNX names; any other value becomes an alias.
    func bind(_ k: Int, _ value: String) throws {
        guard k < node.outputs.count else { throw NotLowerable("output \(k) does not exist") }
        bound.insert(k)
        let out = node.outputs[k]
        guard !out.isEmpty, value != out else { return }
        let produced = scope.nodes[firstNode...].contains { $0.outputs.contains(value) }
        if produced && !scope.graph.outputs.contains(where: { $0.name == value }) {
            for i in firstNode..<scope.nodes.count {
                scope.nodes[i].inputs = scope.nodes[i].inputs.map { $0 == value ? out : $0 }
                scope.nodes[i].outputs = scope.nodes[i].outputs.map { $0 == value ? out : $0 }
            }
            if let t = scope.types[value], scope.types[out] == nil { scope.types[out] = t }
        } else {
            scope.aliases[out] = value
            if let t = scope.types[value], scope.types[out] == nil { scope.types[out] = t }
        }
    }

    func checkOutputsBound() throws {
        for k in node.outputs.indices where !node.outputs[k].isEmpty && !bound.contains(k) {
            throw NotLowerable("output \(k) was not produced")
        }
    }
}

extension Tensor {
    /// The elements of a float32 tensor; nil for other types.
    var float32Values: [Float]? { dtype == .float32 ? values(as: Float.self) : nil }
}
