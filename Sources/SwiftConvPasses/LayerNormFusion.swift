import SwiftConvIR

/// The LayerNorm that exporters write out below opset 17 becomes one node in a session's
/// graph, and a residual Add in front of a LayerNorm joins it, as onnxruntime's
/// LayerNormFusion and SkipLayerNormFusion do.
///
/// The decomposed form is `ReduceMean(x) -> Sub(x, mean) -> Pow(2) (or Mul(d, d)) ->
/// ReduceMean -> Add(eps) -> Sqrt -> Div(d, std)`, both means over the last axis with kept
/// dims, then optionally `Mul(gamma)` and `Add(beta)` by constants of the last axis' size; every
/// value inside it must be read by the pattern only. When `x` is a float32 `Add(a, b)` whose
/// one operand has `x`'s shape and whose other repeats over its leading dims, the Add and the
/// norm become one `com.microsoft` SkipLayerNormalization (the sum is its output 3 when other
/// nodes read it); so does an Add in front of an existing LayerNormalization over the last
/// axis. Otherwise a decomposed norm becomes ONNX's LayerNormalization, which needs opset 17;
/// below it, it stays. Results agree within float rounding (the fused kernel sums in another
/// order). Shapes come from the value types the session recorded; unknown ones fuse nothing.
public struct LayerNormFusion: ModelPass {
    public let name = "fuse-layer-norm"

    public init() {}

    /// One norm found: what it reads, what it writes and the nodes it replaces.
    struct Match {
        var x: String
        var scale: String?
        var bias: String?
        var epsilon: Float
        var output: String
        var nodes: [Int]
        var name: String
        /// Whether it is already one LayerNormalization node (only a Skip form improves it).
        var isFused: Bool
    }

    public func run(on model: inout Model) throws -> Bool {
        let g = model.graph
        let scan = GraphScan(g)
        let opset = model.opsetVersion(for: "") ?? 0
        var matches: [Match] = []
        for (k, node) in g.nodes.enumerated() where node.canonicalDomain.isEmpty {
            if node.opType == "ReduceMean", let m = scan.decomposedNorm(from: k) { matches.append(m) }
            if node.opType == "LayerNormalization", let m = scan.fusedNorm(k) { matches.append(m) }
        }
        guard !matches.isEmpty else { return false }

        var names = UniqueNameGenerator(graph: g)
        var removed = Set<Int>()
        var added: [Int: Node] = [:]
        var initializers: [Tensor] = []
        var importsMicrosoft = false
        for m in matches where m.nodes.allSatisfy({ !removed.contains($0) }) {
            var m = m
            if m.scale == nil {
                // LayerNormalization and SkipLayerNormalization both need a scale.
                guard let cols = scan.shape(m.x)?.last?.value else { continue }
                let ones = names.fresh(m.output + "_scale")
                initializers.append(Tensor(name: ones, dtype: .float32, shape: [cols], values: [Float](repeating: 1, count: cols)))
                m.scale = ones
            }
            if let skip = scan.residualAdd(feeding: m), !removed.contains(skip.add) {
                let sum = scan.readers(of: m.x).subtracting(m.nodes).isEmpty && !scan.pinned.contains(m.x) ? "" : m.x
                removed.formUnion(m.nodes + [skip.add])
                added[m.nodes.last!] = Node(
                    name: m.name, opType: "SkipLayerNormalization", domain: OpDomain.microsoft,
                    inputs: [skip.input, skip.skip, m.scale!] + (m.bias.map { [$0] } ?? []),
                    outputs: [m.output] + (sum.isEmpty ? [] : ["", "", sum]),
                    attributes: [Attribute(name: "epsilon", value: .float(m.epsilon))])
                importsMicrosoft = true
            } else if !m.isFused, opset >= 17 {
                removed.formUnion(m.nodes)
                added[m.nodes.last!] = Node(
                    name: m.name, opType: "LayerNormalization", inputs: [m.x, m.scale!] + (m.bias.map { [$0] } ?? []),
                    outputs: [m.output],
                    attributes: [Attribute(name: "axis", value: .int(-1)), Attribute(name: "epsilon", value: .float(m.epsilon))])
            }
        }
        guard !added.isEmpty else { return false }
        var nodes: [Node] = []
        for (k, node) in g.nodes.enumerated() {
            if let n = added[k] { nodes.append(n) } else if !removed.contains(k) { nodes.append(node) }
        }
        model.graph.nodes = nodes
        model.graph.initializers += initializers
        // The sum a Skip node writes may be read by nodes listed before it.
        model.graph.nodes = try model.graph.topologicallyOrderedNodes()
        if importsMicrosoft, !model.opsetImports.contains(where: { OpDomain.canonical($0.domain) == OpDomain.microsoft }) {
            model.opsetImports.append(OpsetID(domain: OpDomain.microsoft, version: 1))
        }
        return true
    }
}

/// The graph facts `LayerNormFusion` asks, computed once per run.
private struct GraphScan {
    let g: Graph
    let producer: [String: Int]
    let consumers: [String: [Int]]
    let pinned: Set<String>
    let constants: [String: Tensor]
    let types: [String: ValueType]

    init(_ g: Graph) {
        self.g = g
        producer = g.producers
        consumers = g.consumers
        pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        let inputs = Set(g.inputs.map(\.name))
        var constants: [String: Tensor] = [:]
        for t in g.initializers where !inputs.contains(t.name) { constants[t.name] = t }
        for n in g.nodes where n.opType == "Constant" && n.canonicalDomain.isEmpty {
            if let t = n.attribute("value")?.tensor, let o = n.outputs.first { constants[o] = t }
        }
        self.constants = constants
        var types: [String: ValueType] = [:]
        for v in g.inputs + g.valueInfo + g.outputs { if let t = v.type { types[v.name] = t } }
        for t in g.initializers { types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape)) }
        self.types = types
    }

    func shape(_ name: String) -> [Dim]? { types[name]?.tensorShape }

    /// The distinct nodes reading `name`.
    func readers(of name: String) -> Set<Int> { Set(consumers[name] ?? []) }

    /// The one node reading `name`, when nothing else (graph outputs, subgraphs) does.
    func onlyReader(of name: String) -> Node? {
        guard !pinned.contains(name), let r = consumers[name], r.count == 1 else { return nil }
        return g.nodes[r[0]]
    }

    func index(of node: Node) -> Int? { node.outputs.first.flatMap { producer[$0] } }

    /// The single float value of a constant, if `name` is one.
    func scalar(_ name: String) -> Double? {
        guard let t = constants[name], t.elementCount == 1 else { return nil }
        return t.doubleValues()?.first
    }

    /// Whether `node` is a default-domain op of `type` with one output.
    func isOp(_ node: Node, _ type: String) -> Bool {
        node.opType == type && node.canonicalDomain.isEmpty && node.outputs.count == 1
    }

    /// Whether a ReduceMean averages the last axis of a rank-`rank` input and keeps it.
    func meansLastAxis(_ node: Node, rank: Int) -> Bool {
        guard isOp(node, "ReduceMean"), node.attribute("keepdims")?.int ?? 1 == 1 else { return false }
        let axes = node.attribute("axes")?.ints ?? (node.inputs.count > 1 ? constants[node.inputs[1]]?.values(as: Int64.self) : nil)
        guard let axes, axes.count == 1 else { return false }
        return axes[0] == -1 || axes[0] == Int64(rank - 1)
    }

    /// A float32 constant of shape `[cols]`, the form both fused ops take.
    func isLastAxisVector(_ name: String, cols: Int) -> Bool {
        guard let t = constants[name] else { return false }
        return t.dtype == .float32 && t.shape == [cols]
    }

    /// The decomposed norm whose first mean is node `k`.
    func decomposedNorm(from k: Int) -> LayerNormFusion.Match? {
        let mean = g.nodes[k]
        guard let x = mean.inputs.first, !x.isEmpty, types[x]?.tensorElementType == .float32, let dims = shape(x),
            let cols = dims.last?.value, cols > 0, meansLastAxis(mean, rank: dims.count),
            let sub = onlyReader(of: mean.outputs[0]), isOp(sub, "Sub"), sub.inputs == [x, mean.outputs[0]]
        else { return nil }
        let d = sub.outputs[0]
        guard !pinned.contains(d), let subReaders = consumers[d] else { return nil }
        // d is read by the square (Pow(d, 2) or Mul(d, d)) and by the final Div, nothing else.
        let dReaders = Set(subReaders).map { g.nodes[$0] }
        guard dReaders.count == 2, let square = dReaders.first(where: { !isOp($0, "Div") }),
            let div = dReaders.first(where: { isOp($0, "Div") }), div.inputs.first == d,
            (isOp(square, "Pow") && square.inputs.first == d && square.inputs.count == 2 && scalar(square.inputs[1]) == 2)
                || (isOp(square, "Mul") && square.inputs == [d, d]),
            subReaders.count == (square.opType == "Mul" ? 3 : 2),
            let variance = onlyReader(of: square.outputs[0]), meansLastAxis(variance, rank: dims.count),
            let addEps = onlyReader(of: variance.outputs[0]), isOp(addEps, "Add"), addEps.inputs.count == 2
        else { return nil }
        let epsName = addEps.inputs[0] == variance.outputs[0] ? addEps.inputs[1] : addEps.inputs[0]
        guard let eps = scalar(epsName), eps >= 0, let sqrt = onlyReader(of: addEps.outputs[0]), isOp(sqrt, "Sqrt"),
            let divAgain = onlyReader(of: sqrt.outputs[0]), divAgain.outputs == div.outputs,
            div.inputs == [d, sqrt.outputs[0]]
        else { return nil }
        var chain = [mean, sub, square, variance, addEps, sqrt, div]
        var output = div.outputs[0]
        var scale: String?, bias: String?
        if let mul = onlyReader(of: output), isOp(mul, "Mul"), mul.inputs.count == 2 {
            let other = mul.inputs[0] == output ? mul.inputs[1] : mul.inputs[0]
            if isLastAxisVector(other, cols: cols) {
                scale = other
                chain.append(mul)
                output = mul.outputs[0]
            }
        }
        if let add = onlyReader(of: output), isOp(add, "Add"), add.inputs.count == 2 {
            let other = add.inputs[0] == output ? add.inputs[1] : add.inputs[0]
            if isLastAxisVector(other, cols: cols) {
                bias = other
                chain.append(add)
                output = add.outputs[0]
            }
        }
        let nodes = chain.compactMap(index(of:))
        guard nodes.count == chain.count else { return nil }
        return .init(
            x: x, scale: scale, bias: bias, epsilon: Float(eps), output: output,
            nodes: nodes, name: chain.last!.name, isFused: false)
    }

    /// An existing LayerNormalization over the last axis with only its first output read.
    func fusedNorm(_ k: Int) -> LayerNormFusion.Match? {
        let ln = g.nodes[k]
        guard let x = ln.inputs.first, !x.isEmpty, ln.inputs.count >= 2, let dims = shape(x), let cols = dims.last?.value,
            ln.attribute("axis")?.int ?? -1 == -1 || ln.attribute("axis")?.int == Int64(dims.count - 1),
            ln.attribute("stash_type")?.int ?? 1 == 1, !ln.outputs.dropFirst().contains(where: { !$0.isEmpty }),
            shape(ln.inputs[1]).map({ $0.count == 1 && $0[0].value == cols }) ?? false
        else { return nil }
        let bias = ln.inputs.count > 2 && !ln.inputs[2].isEmpty ? ln.inputs[2] : nil
        if let bias, !(shape(bias).map { $0.count == 1 && $0[0].value == cols } ?? false) { return nil }
        return .init(
            x: x, scale: ln.inputs[1], bias: bias, epsilon: ln.attribute("epsilon")?.float ?? 1e-5, output: ln.outputs[0],
            nodes: [k], name: ln.name, isFused: true)
    }

    /// The residual Add producing a norm's input, split into the operand of the input's
    /// shape and the one that repeats over its leading dims, when a Skip node can take it.
    /// Symbolic dims count as equal when named alike; the kernel refuses shapes that are not.
    func residualAdd(feeding m: LayerNormFusion.Match) -> (add: Int, input: String, skip: String)? {
        guard let a = producer[m.x], isOp(g.nodes[a], "Add"), g.nodes[a].inputs.count == 2,
            let full = shape(m.x), full.last?.value != nil, !full.contains(.unknown)
        else { return nil }
        let (p, q) = (g.nodes[a].inputs[0], g.nodes[a].inputs[1])
        guard types[p]?.tensorElementType == .float32, types[q]?.tensorElementType == .float32,
            let sp = shape(p), let sq = shape(q)
        else { return nil }
        func repeats(_ s: [Dim]) -> Bool {
            let dims = Array(s.drop(while: { $0 == .known(1) }))
            return dims.count <= full.count && Array(full.suffix(dims.count)) == dims && dims.last == full.last
        }
        if sp == full, repeats(sq) { return (a, p, q) }
        if sq == full, repeats(sp) { return (a, q, p) }
        return nil
    }
}
