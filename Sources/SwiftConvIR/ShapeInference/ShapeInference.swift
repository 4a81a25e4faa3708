/// Static shape and type inference over a model's main graph.
///
/// Walks nodes in order, applying each op's rule from `OpRegistry` for the model's
/// opset. Symbolic dims flow through (`batch` stays `batch`), constants come from
/// initializers and Constant nodes, and small integer tensors (shape arithmetic such as
/// `Shape -> Gather -> Concat -> Reshape`) are tracked by value. Unknown ops leave their
/// outputs untyped. Declared types are never overwritten.
public enum ShapeInference {
    /// Fills `model.graph.valueInfo` with the types it can infer; leaves existing entries alone.
    /// Graph outputs without a type get one. Subgraphs of If/Loop/Scan are annotated too.
    public static func infer(_ model: inout Model) throws {
        infer(&model, registry: .standard)
    }

    /// The same with a caller-supplied registry (extra or overridden ops).
    public static func infer(_ model: inout Model, registry: OpRegistry) {
        var opsets: [String: Int64] = [:]
        for o in model.opsetImports { opsets[OpDomain.canonical(o.domain)] = o.version }
        var functions: [String: Function] = [:]
        for f in model.functions { functions[OpDomain.canonical(f.domain) + "\u{0}" + f.name] = f }
        let engine = GraphInference(registry: registry, opsets: opsets, functions: functions, depth: 0)
        _ = engine.infer(&model.graph, outer: InferenceScope(), inputTypes: nil)
    }
}

/// Types, constants and known values visible at a point of a graph.
struct InferenceScope {
    var types: [String: ValueType] = [:]
    var constants: [String: Tensor] = [:]
    var values: [String: [Dim]] = [:]

    mutating func define(_ name: String, type: ValueType?, constant: Tensor? = nil, values v: [Dim]? = nil) {
        types[name] = type
        constants[name] = constant
        values[name] = v
    }
}

/// What one model's inference may still spend, shared by its nested graphs and function calls.
final class InferenceBudget {
    /// Function-body nodes left to visit. Each call of a model-local function infers its body
    /// again, so 32 nested functions each calling the next twice would take 2^32 bodies; past
    /// the budget a call's outputs are left unknown.
    var remainingFunctionNodes: Int
    /// Dims and values left to record. A small model can make every node output a new
    /// 1024-dim shape or 65536 known values; past the budget later outputs are left unknown.
    var remainingDims: Int

    init(remainingFunctionNodes: Int = 1 << 18, remainingDims: Int = 1 << 24) {
        self.remainingFunctionNodes = remainingFunctionNodes
        self.remainingDims = remainingDims
    }

    /// Charges the shapes and values of one node's result.
    func charge(_ result: GraphInference.NodeResult) {
        var n = result.types.count
        for t in result.types { if case .tensor(_, let s?, _)? = t { n += s.count } }
        for v in result.values { n += v?.count ?? 0 }
        remainingDims -= n
    }
}

struct GraphInference {
    let registry: OpRegistry
    let opsets: [String: Int64]
    let functions: [String: Function]
    let depth: Int
    /// Shared by the nested inferences of one top-level run.
    var budget = InferenceBudget()

    /// Nesting deeper than this (hostile models) is left uninferred rather than recursed.
    static let maxDepth = 32

    /// Infers `g` in place and returns the types of its outputs.
    func infer(_ g: inout Graph, outer: InferenceScope, inputTypes: [ValueType?]?) -> [ValueType?] {
        var scope = outer
        var declared: [String: ValueType] = [:]
        for v in g.valueInfo { if let t = v.type { declared[v.name] = t } }
        for v in g.outputs { if let t = v.type { declared[v.name] = t } }
        let graphInputNames = Set(g.inputs.map(\.name))
        for (i, v) in g.inputs.enumerated() {
            var t = v.type
            if let inputTypes, i < inputTypes.count { t = Self.refine(t, with: inputTypes[i]) }
            scope.define(v.name, type: t)
        }
        for t in g.initializers {
            let isInput = graphInputNames.contains(t.name)
            // An initializer that is also a graph input may be overridden at run time: not a constant.
            let type =
                scope.types[t.name].flatMap { isInput ? $0 : nil }
                ?? .tensor(elementType: t.dtype, shape: Shape(t.shape))
            scope.define(t.name, type: type, constant: isInput ? nil : t)
        }
        for t in g.sparseInitializers where scope.types[t.values.name] == nil {
            scope.define(t.values.name, type: .sparseTensor(elementType: t.values.dtype, shape: Shape(t.shape)))
        }

        var inferred: [(String, ValueType)] = []
        for k in g.nodes.indices {
            let node = g.nodes[k]
            let result = budget.remainingDims > 0 ? inferNode(node, scope: scope) : nil
            if let result { budget.charge(result) }
            if let updated = result?.attributes { g.nodes[k].attributes = updated }
            let constant = node.opType == "Constant" && node.canonicalDomain == "" ? GeneratorOps.constantTensor(of: node) : nil
            for (o, name) in node.outputs.enumerated() where !name.isEmpty {
                let t = result.flatMap { o < $0.types.count ? $0.types[o] : nil }
                let v = result.flatMap { o < $0.values.count ? $0.values[o] : nil }
                if let d = declared[name] {
                    scope.define(name, type: Self.refine(d, with: t), constant: constant, values: v)
                } else {
                    scope.define(name, type: t, constant: constant, values: v)
                    if let t, Self.isReportable(t) { inferred.append((name, t)) }
                }
            }
        }

        // Report: fill untyped outputs and value_info entries, append the rest.
        var reported = Set<String>()
        for i in g.outputs.indices where g.outputs[i].type == nil {
            if let t = scope.types[g.outputs[i].name], Self.isReportable(t) { g.outputs[i].type = t }
            reported.insert(g.outputs[i].name)
        }
        for i in g.valueInfo.indices where g.valueInfo[i].type == nil {
            if let t = scope.types[g.valueInfo[i].name], Self.isReportable(t) { g.valueInfo[i].type = t }
            reported.insert(g.valueInfo[i].name)
        }
        let outputNames = Set(g.outputs.map(\.name))
        let existing = Set(g.valueInfo.map(\.name))
        for (name, t) in inferred
        where !outputNames.contains(name) && !existing.contains(name) && !graphInputNames.contains(name)
            && !reported.contains(name)
        {
            g.valueInfo.append(ValueInfo(name: name, type: t))
            reported.insert(name)
        }
        return g.outputs.map { scope.types[$0.name] }
    }

    /// What inference learned about one node. Holds no reference to the scope, so the
    /// caller can extend the scope without copying it.
    struct NodeResult {
        var types: [ValueType?]
        var values: [[Dim]?]
        /// The node's attributes with annotated subgraphs, when it has any.
        var attributes: [Attribute]?
    }

    /// Runs one node's rule (or a model-local function body); nil when neither is known.
    func inferNode(_ node: Node, scope: InferenceScope) -> NodeResult? {
        let domain = node.canonicalDomain
        let inputTypes = node.inputs.map { $0.isEmpty ? nil : scope.types[$0] }
        let constants = node.inputs.map { $0.isEmpty ? nil : scope.constants[$0] }
        let values = node.inputs.map { $0.isEmpty ? nil : scope.values[$0] }
        let version = opsets[domain] ?? (domain == "" ? OpDomain.knownVersions[""]!.upperBound : 1)
        let hasSubgraphs = node.attributes.contains { a in
            switch a.value {
            case .graph?, .graphs?: return true
            default: return false
            }
        }
        var subgraphs: ((inout Graph, [ValueType?]) -> [ValueType?])? = nil
        if hasSubgraphs {
            let nested = GraphInference(
                registry: registry, opsets: opsets, functions: functions, depth: depth + 1,
                budget: budget)
            subgraphs = { g, types in
                guard nested.depth <= Self.maxDepth else { return Array(repeating: nil, count: g.outputs.count) }
                return nested.infer(&g, outer: scope, inputTypes: types)
            }
        }
        if let schema = registry.schema(domain: domain, opType: node.opType, version: version),
            let rule = schema.inferTypes
        {
            var ctx = InferenceContext(
                node: node, opset: version, inputTypes: inputTypes, inputConstants: constants,
                inputValues: values, subgraphInferrer: subgraphs)
            rule(&ctx)
            return NodeResult(
                types: ctx.outputTypes, values: ctx.outputValues,
                attributes: hasSubgraphs ? ctx.node.attributes : nil)
        }
        if let f = functions[domain + "\u{0}" + node.opType], depth < Self.maxDepth,
            budget.remainingFunctionNodes > 0
        {
            budget.remainingFunctionNodes -= max(f.nodes.count, 1)
            let out = inferFunction(f, call: node, inputTypes: inputTypes, scope: scope)
            var types = Array(repeating: ValueType?.none, count: node.outputs.count)
            for o in 0..<min(out.count, types.count) { types[o] = out[o] }
            return NodeResult(types: types, values: Array(repeating: nil, count: node.outputs.count), attributes: nil)
        }
        return nil
    }

    /// Infers a model-local function body for one call, substituting the caller's attributes.
    func inferFunction(_ f: Function, call: Node, inputTypes: [ValueType?], scope: InferenceScope) -> [ValueType?] {
        var body = Graph(name: f.name)
        body.inputs = f.inputs.map { ValueInfo(name: $0, type: nil) }
        body.outputs = f.outputs.map { ValueInfo(name: $0, type: nil) }
        body.nodes = f.nodes.map { n in
            var n = n
            n.attributes = n.attributes.compactMap { a in
                guard let ref = a.refAttrName else { return a }
                guard var given = call.attribute(ref) ?? f.attributeDefaults.first(where: { $0.name == ref }) else {
                    return nil
                }
                given.name = a.name
                return given
            }
            return n
        }
        var fOpsets: [String: Int64] = opsets
        for o in f.opsetImports { fOpsets[OpDomain.canonical(o.domain)] = o.version }
        let inner = GraphInference(
            registry: registry, opsets: fOpsets, functions: functions, depth: depth + 1,
            budget: budget)
        // Pass constants of the call's inputs so that shape arithmetic survives the call.
        var outer = InferenceScope()
        for (i, name) in call.inputs.enumerated() where i < f.inputs.count && !name.isEmpty {
            outer.constants[f.inputs[i]] = scope.constants[name]
            outer.values[f.inputs[i]] = scope.values[name]
        }
        var inputs = inputTypes
        if inputs.count < f.inputs.count { inputs += Array(repeating: nil, count: f.inputs.count - inputs.count) }
        return inner.infer(&body, outer: outer, inputTypes: inputs)
    }

    /// Whether a type is complete enough to write into `valueInfo`.
    static func isReportable(_ t: ValueType) -> Bool {
        switch t {
        case .tensor(let e, _, _), .sparseTensor(let e, _): return e != .undefined
        case .sequence(let e), .optional(let e): return e.map(isReportable) ?? false
        case .map(_, let v): return v.map(isReportable) ?? false
        case .opaque: return true
        }
    }

    /// `declared` with gaps (unknown rank, unknown dims, undefined element type) filled from `inferred`.
    static func refine(_ declared: ValueType?, with inferred: ValueType?) -> ValueType? {
        guard let declared else { return inferred }
        guard let inferred else { return declared }
        guard case .tensor(let dt, let ds, let dq) = declared, case .tensor(let it, let ishape, let iq) = inferred else {
            return declared
        }
        let t = dt == .undefined ? it : dt
        let q = dq ?? iq
        guard let ds else { return .tensor(elementType: t, shape: ishape, quantization: q) }
        guard let ishape, ishape.count == ds.count else { return .tensor(elementType: t, shape: ds, quantization: q) }
        return .tensor(elementType: t, shape: zip(ds, ishape).map { $0 == .unknown ? $1 : $0 }, quantization: q)
    }
}
