/// Refuses a graph whose declared output element type contradicts what its nodes compute
/// (onnxruntime finds the same by type inference when it creates a session).
///
/// Conservative by construction: an output is judged only when shape inference knows its
/// element type for certain; an unknown op, an untyped input or an output fed directly by
/// a graph input or initializer is never a reason to refuse.
///
/// Returns the output types inference found (by output position, nil where unknown): the
/// session reports them for outputs declared without a shape, so inference runs once; and
/// the graph with the types inferred for its other values added to its value_info (of
/// subgraphs too), where kernels find them.
enum DeclaredOutputTypeCheck {
    static func check(_ model: Model, registry: OpRegistry) throws -> (outputTypes: [ValueType?], annotated: Graph) {
        let declared = model.graph.outputs.map(\.type)
        // Infer without the declarations under test, which inference would otherwise keep.
        var graph = model.graph
        let outputNames = Set(graph.outputs.map(\.name))
        for i in graph.outputs.indices { graph.outputs[i].type = nil }
        graph.valueInfo.removeAll { outputNames.contains($0.name) }
        var opsets: [String: Int64] = [:]
        for o in model.opsetImports { opsets[OpDomain.canonical(o.domain)] = o.version }
        var functions: [String: Function] = [:]
        for f in model.functions { functions[OpDomain.canonical(f.domain) + "\u{0}" + f.name] = f }
        let inference = GraphInference(registry: registry, opsets: opsets, functions: functions, depth: 0)
        let computed = inference.infer(&graph, outer: InferenceScope(), inputTypes: nil)

        var producer: [String: Int] = [:]
        for (k, node) in model.graph.nodes.enumerated() {
            for out in node.outputs where !out.isEmpty { producer[out] = k }
        }
        for (i, output) in model.graph.outputs.enumerated() where i < computed.count {
            guard let want = elementType(declared[i]), let got = elementType(computed[i]), got != want,
                let k = producer[output.name]
            else { continue }
            let node = GraphChecker.describe(model.graph.nodes[k], index: k)
            throw ModelChecker.fail(
                node,
                "output '\(output.name)' is tensor(\(got.onnxTypeName)), "
                    + "but the graph declares it as tensor(\(want.onnxTypeName))")
        }
        // The declarations taken away for the check come back as the model has them.
        graph.outputs = model.graph.outputs
        graph.valueInfo += model.graph.valueInfo.filter { outputNames.contains($0.name) }
        return (model.graph.outputs.indices.map { $0 < computed.count ? computed[$0] : nil }, graph)
    }

    /// The element type of a tensor type, when it is defined.
    static func elementType(_ type: ValueType?) -> DType? {
        guard case .tensor(let e, _, _)? = type, e != .undefined else { return nil }
        return e
    }
}
