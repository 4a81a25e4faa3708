/// Structural validation like `onnx.checker.check_model`.
///
/// Checks the model header (IR version, opset imports), then every graph: names and
/// types of inputs and outputs (with their quantization), initializer sizes, single assignment, topological order,
/// and each node against its `OpSchema` (input/output counts, omitted inputs, required
/// attributes and their kinds). Subgraphs see the values of their enclosing scopes.
public enum ModelChecker {
    /// Newest ONNX IR version swiftconv understands (onnx 1.23).
    public static let maxIRVersion: Int64 = 14

    /// Throws `SwiftConvError.validation` naming the first offending node and the reason.
    public static func check(_ model: Model) throws {
        try check(model, registry: .standard)
    }

    /// The same against a caller-supplied registry.
    public static func check(_ model: Model, registry: OpRegistry) throws {
        var opsets: [String: Int64] = [:]
        if model.format == .onnx {
            guard model.irVersion >= 1 else { throw fail("model: ir_version is not set") }
            guard model.irVersion <= maxIRVersion else {
                throw fail("model: ir_version \(model.irVersion) is newer than swiftconv supports (\(maxIRVersion))")
            }
        }
        for o in model.opsetImports {
            let d = OpDomain.canonical(o.domain)
            if let known = OpDomain.knownVersions[d], !known.contains(o.version) {
                throw fail(
                    "model: opset import '\(d.isEmpty ? "ai.onnx" : d)' version \(o.version) is not supported "
                        + "(known: \(known.lowerBound)...\(known.upperBound))")
            }
            opsets[d] = o.version
        }
        if model.format == .onnx, model.irVersion >= 3, model.opsetImports.isEmpty {
            throw fail("model: a model with IR version >= 3 must import at least one opset")
        }
        var functions = Set<String>()
        for f in model.functions {
            guard !f.name.isEmpty else { throw fail("function: a model-local function has no name") }
            functions.insert(OpDomain.canonical(f.domain) + "\u{0}" + f.name)
        }
        var checker = GraphChecker(registry: registry, opsets: opsets, functions: functions, irVersion: model.irVersion)
        checker.requireGraphName = model.format == .onnx
        try checker.check(model.graph, outer: [], depth: 0)
        for f in model.functions {
            try checker.checkFunction(f)
        }
    }

    static func fail(_ message: String) -> SwiftConvError { .validation(message) }

    /// A validation error about a value or an initializer, named by `label`.
    static func fail(_ label: String, _ message: String) -> SwiftConvError { .validation("\(label): \(message)") }

    /// A validation error naming `node`.
    static func fail(_ node: SwiftConvError.NodeContext, _ message: String) -> SwiftConvError {
        SwiftConvError.validation(message).at(node)
    }
}

struct GraphChecker {
    let registry: OpRegistry
    let opsets: [String: Int64]
    let functions: Set<String>
    let irVersion: Int64
    /// ONNX requires graph names; TFLite subgraphs may be anonymous.
    var requireGraphName = true

    static let maxDepth = 64

    static func describe(_ node: Node, index: Int) -> SwiftConvError.NodeContext {
        SwiftConvError.NodeContext(node, index: index)
    }

    func check(_ g: Graph, outer: Set<String>, depth: Int) throws {
        let what = depth == 0 ? "graph" : "subgraph"
        guard depth <= Self.maxDepth else { throw ModelChecker.fail("\(what) '\(g.name)': subgraphs nested too deeply") }
        guard !g.name.isEmpty || !requireGraphName else { throw ModelChecker.fail("\(what): the graph name must not be empty") }
        var defined = Set<String>()
        for v in g.inputs {
            guard !v.name.isEmpty else { throw ModelChecker.fail("\(what) '\(g.name)': a graph input has an empty name") }
            // Like onnx, subgraph inputs may leave their type to inference.
            guard v.type != nil || depth > 0 else { throw ModelChecker.fail("graph input '\(v.name)': type is missing") }
            try checkType(v.type, "graph input '\(v.name)'")
            guard defined.insert(v.name).inserted else {
                throw ModelChecker.fail("graph input '\(v.name)': defined more than once (graph must be in SSA form)")
            }
        }
        let inputNames = defined
        var initNames = Set<String>()
        for t in g.initializers {
            let label = "initializer '\(t.name)'"
            guard !t.name.isEmpty else { throw ModelChecker.fail("\(what) '\(g.name)': an initializer has an empty name") }
            guard initNames.insert(t.name).inserted else { throw ModelChecker.fail(label, "name is not unique") }
            if irVersion > 0, irVersion < 4, !inputNames.contains(t.name) {
                throw ModelChecker.fail(label, "with IR version < 4 every initializer must also be a graph input")
            }
            try checkTensor(t, label)
            defined.insert(t.name)
        }
        for s in g.sparseInitializers {
            let name = s.values.name
            guard !name.isEmpty else { throw ModelChecker.fail("\(what) '\(g.name)': a sparse initializer has an empty name") }
            guard initNames.insert(name).inserted else { throw ModelChecker.fail("sparse initializer '\(name)': name is not unique") }
            defined.insert(name)
        }
        for v in g.valueInfo {
            guard !v.name.isEmpty else { throw ModelChecker.fail("\(what) '\(g.name)': a value_info entry has an empty name") }
            try checkType(v.type, "value '\(v.name)'")
        }
        for (k, node) in g.nodes.enumerated() {
            let label = Self.describe(node, index: k)
            try checkNode(
                node, label: label, visible: { defined.contains($0) || outer.contains($0) }, depth: depth,
                scope: { defined.union(outer) })
            for out in node.outputs where !out.isEmpty {
                guard defined.insert(out).inserted else {
                    throw ModelChecker.fail(label, "output '\(out)' is already defined (graph must be in SSA form)")
                }
            }
        }
        for v in g.outputs {
            guard !v.name.isEmpty else { throw ModelChecker.fail("\(what) '\(g.name)': a graph output has an empty name") }
            // Like onnx, subgraph outputs may leave their type to inference.
            guard v.type != nil || depth > 0 else { throw ModelChecker.fail("graph output '\(v.name)': type is missing") }
            try checkType(v.type, "graph output '\(v.name)'")
            guard defined.contains(v.name) || outer.contains(v.name) else {
                throw ModelChecker.fail("graph output '\(v.name)': not produced by any node, input or initializer")
            }
        }
    }

    func checkNode(_ node: Node, label: SwiftConvError.NodeContext, visible: (String) -> Bool, depth: Int, scope: () -> Set<String>) throws
    {
        guard !node.opType.isEmpty else { throw ModelChecker.fail(label, "op_type is empty") }
        for (i, name) in node.inputs.enumerated() where !name.isEmpty {
            guard visible(name) else {
                throw ModelChecker.fail(
                    label,
                    "input \(i) '\(name)' is not defined before use "
                        + "(not a graph input, initializer or earlier node output; nodes must be topologically sorted)")
            }
        }
        let domain = node.canonicalDomain
        let isFunction = functions.contains(domain + "\u{0}" + node.opType)
        guard let version = opsets[domain] else {
            throw ModelChecker.fail(label, "no opset import for domain '\(domain.isEmpty ? "ai.onnx" : domain)'")
        }
        var names = Set<String>()
        for a in node.attributes {
            guard !a.name.isEmpty else { throw ModelChecker.fail(label, "an attribute has an empty name") }
            guard names.insert(a.name).inserted else { throw ModelChecker.fail(label, "attribute '\(a.name)' is repeated") }
            if a.value == nil, a.refAttrName == nil {
                throw ModelChecker.fail(label, "attribute '\(a.name)' has no value")
            }
        }
        // Only the domains swiftconv registers completely must know every op; others are custom.
        let standard = domain == OpDomain.onnx || domain == OpDomain.ml
        if !isFunction, standard {
            guard let schema = registry.schema(domain: domain, opType: node.opType, version: version) else {
                throw ModelChecker.fail(
                    label,
                    "no op '\(node.opType)' registered in domain "
                        + "'\(domain.isEmpty ? "ai.onnx" : domain)' for opset version \(version)")
            }
            try checkAgainstSchema(node, schema, label: label)
        }
        // Subgraphs: every value visible here is visible inside.
        for a in node.attributes {
            switch a.value {
            case .graph(let g)?:
                try check(g, outer: scope(), depth: depth + 1)
            case .graphs(let gs)?:
                let visibleNames = scope()
                for g in gs { try check(g, outer: visibleNames, depth: depth + 1) }
            default: break
            }
        }
    }

    func checkAgainstSchema(_ node: Node, _ schema: OpSchema, label: SwiftConvError.NodeContext) throws {
        let sig = "\(schema.name)-\(schema.sinceVersion)"
        let (minIn, maxIn) = (schema.minInputs, schema.maxInputs)
        if node.inputs.count < minIn || node.inputs.count > maxIn {
            throw ModelChecker.fail(
                label,
                "has \(node.inputs.count) inputs, \(sig) takes "
                    + (maxIn == Int.max ? "at least \(minIn)" : (minIn == maxIn ? "\(minIn)" : "\(minIn) to \(maxIn)")))
        }
        let (minOut, maxOut) = (schema.minOutputs, schema.maxOutputs)
        if node.outputs.count < minOut || node.outputs.count > maxOut {
            throw ModelChecker.fail(
                label,
                "has \(node.outputs.count) outputs, \(sig) gives "
                    + (maxOut == Int.max ? "at least \(minOut)" : (minOut == maxOut ? "\(minOut)" : "\(minOut) to \(maxOut)")))
        }
        for (i, name) in node.inputs.enumerated() where name.isEmpty {
            if schema.inputOption(at: i) == .single {
                throw ModelChecker.fail(label, "input \(i) is required but given as an empty name")
            }
        }
        for spec in schema.attributes {
            guard let a = node.attribute(spec.name) else {
                if spec.required { throw ModelChecker.fail(label, "required attribute '\(spec.name)' is missing") }
                continue
            }
            if let v = a.value, v.kind != spec.kind {
                throw ModelChecker.fail(label, "attribute '\(spec.name)' should be \(spec.kind), not \(v.kind)")
            }
        }
    }

    func checkFunction(_ f: Function) throws {
        var defined = Set(f.inputs)
        for (k, node) in f.nodes.enumerated() {
            let label = SwiftConvError.NodeContext(node, index: k, function: f.name)
            for (i, name) in node.inputs.enumerated() where !name.isEmpty && !defined.contains(name) {
                throw ModelChecker.fail(label, "input \(i) '\(name)' is not defined before use")
            }
            for out in node.outputs where !out.isEmpty {
                guard defined.insert(out).inserted else {
                    throw ModelChecker.fail(label, "output '\(out)' is already defined (function must be in SSA form)")
                }
            }
        }
        for o in f.outputs where !defined.contains(o) {
            throw ModelChecker.fail("function '\(f.name)': output '\(o)' is not produced by any node")
        }
    }

    func checkType(_ t: ValueType?, _ label: String) throws {
        guard let t else { return }
        switch t {
        case .tensor(let e, let s, let q):
            guard e != .undefined else { throw ModelChecker.fail(label, "element type is undefined") }
            if let s, s.count > 1 << 16 { throw ModelChecker.fail(label, "rank \(s.count) is too large") }
            if let why = q?.violation(elementType: e, shape: s) { throw ModelChecker.fail(label, why) }
        case .sparseTensor(let e, let s):
            guard e != .undefined else { throw ModelChecker.fail(label, "element type is undefined") }
            if let s, s.count > 1 << 16 { throw ModelChecker.fail(label, "rank \(s.count) is too large") }
        case .sequence(let e), .optional(let e): try checkType(e, label)
        case .map(let k, let v):
            guard k.isInteger || k == .string else { throw ModelChecker.fail(label, "map key type \(k) is not allowed") }
            try checkType(v, label)
        case .opaque: break
        }
    }

    func checkTensor(_ t: Tensor, _ label: String) throws {
        guard t.dtype != .undefined else { throw ModelChecker.fail(label, "data type is undefined") }
        guard t.shape.allSatisfy({ $0 >= 0 }) else {
            throw ModelChecker.fail(label, "negative dimension in shape \(t.shape)")
        }
        if let why = t.quantization?.violation(elementType: t.dtype, shape: t.shape.map { .known($0) }) {
            throw ModelChecker.fail("\(label): \(why)")
        }
        guard let count = elementCount(t.shape) else {
            throw ModelChecker.fail(label, "shape \(t.shape) has too many elements")
        }
        if t.dtype == .string {
            guard t.strings.count == count else {
                throw ModelChecker.fail(label, "has \(t.strings.count) strings, shape \(t.shape) needs \(count)")
            }
            return
        }
        // Data left outside the file (not loaded) cannot be measured here.
        if t.externalData != nil, t.byteCount == 0 { return }
        guard let bytes = t.dtype.byteCount(elements: count) else {
            throw ModelChecker.fail(label, "shape \(t.shape) is too large for \(t.dtype)")
        }
        guard t.byteCount == bytes else {
            throw ModelChecker.fail(label, "has \(t.byteCount) bytes of data, shape \(t.shape) of \(t.dtype) needs \(bytes) bytes")
        }
    }
}
