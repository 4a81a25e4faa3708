extension ModelChecker {
    /// The checks onnxruntime makes when it loads a graph into a session, and no more.
    ///
    /// `check` follows `onnx.checker`, which refuses models onnxruntime runs (no graph
    /// name, untyped outputs); a session must accept all of those, so it uses this one.
    /// Throws `SwiftConvError.validation` naming the node for: an opset version that does
    /// not exist in a known domain, a main graph without outputs, a value assigned twice,
    /// a node output overwriting a graph input, an initializer or a value of an enclosing
    /// graph, a node whose input or output count its schema does not allow (ops without
    /// a schema are left to the kernel registry), two nodes of one graph with one name, a
    /// graph input listed twice, and a declared graph output element type that
    /// contradicts what the graph computes. Subgraphs are checked too. Returns the graph
    /// output types shape inference found (nil where unknown), by output position.
    @discardableResult
    public static func checkForSession(_ model: Model, registry: OpRegistry = .standard) throws -> [ValueType?] {
        var annotated = model
        return try checkForSession(annotating: &annotated, registry: registry)
    }

    /// `checkForSession`, also recording in `model`'s value_info (and its subgraphs') the
    /// types shape inference found for values the model does not declare, so that what runs
    /// the model sees them without inferring again. Declared types are left as they are.
    @discardableResult
    public static func checkForSession(annotating model: inout Model, registry: OpRegistry = .standard) throws -> [ValueType?] {
        var opsets: [String: Int64] = [:]
        for o in model.opsetImports {
            let domain = OpDomain.canonical(o.domain)
            if let known = OpDomain.knownVersions[domain], !known.contains(o.version) {
                let why =
                    "opset import '\(domain.isEmpty ? "ai.onnx" : domain)' version \(o.version) does not exist "
                    + "(known: \(known.lowerBound)...\(known.upperBound))"
                guard let user = firstNode(in: model.graph, domain: domain) else { throw fail("model: " + why) }
                throw fail(user, why)
            }
            opsets[domain] = o.version
        }
        // onnxruntime creates such a session but refuses every run; refusing here names the cause.
        guard !model.graph.outputs.isEmpty else {
            throw fail("graph '\(model.graph.name)': has no outputs; a graph must produce at least one")
        }
        var functions = Set<String>()
        for f in model.functions { functions.insert(OpDomain.canonical(f.domain) + "\u{0}" + f.name) }
        let checker = SessionGraphChecker(registry: registry, opsets: opsets, functions: functions)
        try checker.check(model.graph, enclosing: [], depth: 0)
        let (outputTypes, annotated) = try DeclaredOutputTypeCheck.check(model, registry: registry)
        model.graph = annotated
        return outputTypes
    }

    /// The first node of `domain` in the main graph, if any.
    static func firstNode(in graph: Graph, domain: String) -> SwiftConvError.NodeContext? {
        graph.nodes.firstIndex { $0.canonicalDomain == domain }.map { GraphChecker.describe(graph.nodes[$0], index: $0) }
    }
}

/// The per-graph part of `ModelChecker.checkForSession`.
///
/// Like onnxruntime, a subgraph may not assign a name that its enclosing graphs already
/// hold where it runs (their inputs, initializers, and outputs of the nodes it depends
/// on). Outputs of other outer nodes are not counted: whether onnxruntime sees them
/// first depends on its topological order, and the check must never refuse a model
/// onnxruntime runs.
struct SessionGraphChecker {
    let registry: OpRegistry
    let opsets: [String: Int64]
    let functions: Set<String>

    func check(_ g: Graph, enclosing: Set<String>, depth: Int) throws {
        guard depth <= GraphChecker.maxDepth else {
            throw ModelChecker.fail("subgraph '\(g.name)': subgraphs nested too deeply")
        }
        var inputs = Set<String>()
        for v in g.inputs where !inputs.insert(v.name).inserted {
            throw ModelChecker.fail("graph '\(g.name)': input '\(v.name)' is listed more than once")
        }
        let initializers = Set(g.initializers.map(\.name) + g.sparseInitializers.map(\.values.name))
        // Index of the node that produced each node output so far.
        var producer: [String: Int] = [:]
        var nodeNames: [String: Int] = [:]
        for (k, node) in g.nodes.enumerated() {
            let label = GraphChecker.describe(node, index: k)
            if !node.name.isEmpty, let other = nodeNames.updateValue(k, forKey: node.name) {
                throw ModelChecker.fail(label, "node #\(other) of the same graph has the same name")
            }
            for out in node.outputs where !out.isEmpty {
                if inputs.contains(out) {
                    throw ModelChecker.fail(label, "output '\(out)' overwrites a graph input of the same name")
                }
                if initializers.contains(out) {
                    throw ModelChecker.fail(label, "output '\(out)' overwrites an initializer of the same name")
                }
                if enclosing.contains(out) {
                    throw ModelChecker.fail(label, "output '\(out)' reuses the name of a value of an enclosing graph")
                }
                if let earlier = producer[out] {
                    let by = earlier == k ? "this node" : GraphChecker.describe(g.nodes[earlier], index: earlier).label
                    throw ModelChecker.fail(
                        label,
                        "output '\(out)' is already produced by \(by); "
                            + "every value must be assigned once")
                }
                producer[out] = k
            }
            try checkArity(node, label: label)
            let subgraphs = node.attributes.flatMap { a -> [Graph] in
                switch a.value {
                case .graph(let sub)?: return [sub]
                case .graphs(let subs)?: return subs
                default: return []
                }
            }
            if subgraphs.isEmpty { continue }
            let visible = enclosing.union(inputs).union(initializers)
                .union(Self.ancestorOutputs(of: node, in: g, producer: producer))
            for sub in subgraphs { try check(sub, enclosing: visible, depth: depth + 1) }
        }
    }

    /// Names produced by the nodes `node` depends on through its inputs (`producer` knows
    /// every node before it).
    static func ancestorOutputs(of node: Node, in g: Graph, producer: [String: Int]) -> Set<String> {
        var names = Set<String>()
        var seen = Set<Int>()
        var pending = node.inputs.compactMap { producer[$0] }
        while let k = pending.popLast() {
            guard seen.insert(k).inserted else { continue }
            names.formUnion(g.nodes[k].outputs.filter { !$0.isEmpty })
            pending += g.nodes[k].inputs.compactMap { producer[$0] }
        }
        return names
    }

    /// Input and output counts against the op's schema, when swiftconv has one.
    func checkArity(_ node: Node, label: SwiftConvError.NodeContext) throws {
        let domain = node.canonicalDomain
        guard !functions.contains(domain + "\u{0}" + node.opType), let version = opsets[domain],
            let schema = registry.schema(domain: domain, opType: node.opType, version: version)
        else { return }
        let sig = "\(schema.name)-\(schema.sinceVersion)"
        if node.inputs.count < schema.minInputs || node.inputs.count > schema.maxInputs {
            throw ModelChecker.fail(
                label,
                "has \(node.inputs.count) inputs, \(sig) takes "
                    + Self.range(schema.minInputs, schema.maxInputs))
        }
        if node.outputs.count < schema.minOutputs || node.outputs.count > schema.maxOutputs {
            throw ModelChecker.fail(
                label,
                "has \(node.outputs.count) outputs, \(sig) gives "
                    + Self.range(schema.minOutputs, schema.maxOutputs))
        }
    }

    static func range(_ low: Int, _ high: Int) -> String {
        high == Int.max ? "at least \(low)" : (low == high ? "\(low)" : "\(low) to \(high)")
    }
}
