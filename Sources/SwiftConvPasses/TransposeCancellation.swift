import SwiftConvIR

/// Moves Transpose nodes of the main graph later through element-wise ops and merges them,
/// so that the NHWC <-> NCHW pairs a layout lowering leaves between two ops disappear.
///
/// Rules, applied until none matches: a Transpose of a Transpose becomes one Transpose; an
/// identity Transpose goes; a Transpose read only by an element-wise unary op (Relu, Clip
/// with scalar bounds, per-tensor Q/DQ …) moves after it; a binary element-wise op or a
/// Concat whose operands are all transposed the same way (constants count, transposed
/// here once) becomes the op on the untransposed values, then one Transpose. A rule fires
/// only when it removes a Transpose that nothing else reads, so the count never grows.
/// The model's value map follows: an untransposed value gets its transposed value's entry
/// with the permutation composed, a renamed value its old name's.
public struct TransposeCancellation: ModelPass {
    public let name = "cancel-transposes"

    public init() {}

    static let unary: Set<String> = [
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
        "Sign", "Erf", "Elu", "HardSigmoid", "HardSwish", "Softplus", "Not", "Cast", "Identity", "Clip", "DequantizeLinear",
        "QuantizeLinear",
    ]
    static let binary: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "PRelu", "Equal", "Less", "LessOrEqual", "Greater",
        "GreaterOrEqual", "And", "Or", "Sum",
    ]

    public func run(on model: inout Model) throws -> Bool {
        var changed = false
        var map = try? ValueMap(model: model)
        defer { if changed { map?.store(in: &model) } }
        // Each rewrite removes a Transpose or moves one later; the bound only guards against a bug.
        for _ in 0..<(4 * model.graph.nodes.count + 16) {
            guard try rewriteOnce(&model.graph, &map) else { return changed }
            changed = true
        }
        return changed
    }

    private func perm(_ n: Node) -> [Int]? {
        guard n.opType == "Transpose", n.canonicalDomain.isEmpty, n.inputs.count == 1, let p = n.attribute("perm")?.ints
        else { return nil }
        return p.map { Int($0) }
    }

    /// `perm`'s inverse: transpose(transpose(x, perm), inverse) == x.
    private func inverse(_ perm: [Int]) -> [Int] {
        var inverse = [Int](repeating: 0, count: perm.count)
        for (k, v) in perm.enumerated() where v >= 0 && v < perm.count { inverse[v] = k }
        return inverse
    }

    private func rewriteOnce(_ g: inout Graph, _ map: inout ValueMap?) throws -> Bool {
        let producer = g.producers
        let uses = g.useCounts
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        var names = UniqueNameGenerator(graph: g)

        /// The Transpose producing `value` and its perm, if one does.
        func transposeFeeding(_ value: String) -> (node: Node, perm: [Int])? {
            guard let p = producer[value], let perm = perm(g.nodes[p]) else { return nil }
            return (g.nodes[p], perm)
        }
        func singleUse(_ value: String) -> Bool { uses[value] == 1 && !pinned.contains(value) }

        for (i, n) in g.nodes.enumerated() {
            // Transpose of a Transpose, and identity Transposes.
            if let p2 = perm(n) {
                if let (inner, p1) = transposeFeeding(n.inputs[0]), p1.count == p2.count {
                    var merged = n
                    merged.inputs = inner.inputs
                    let composed = p2.map { p1[$0] }
                    merged.attributes = [Attribute(name: "perm", value: .ints(composed.map { Int64($0) }))]
                    g.nodes[i] = merged
                    g.removeDeadCode()
                    return true
                }
                if p2 == Array(0..<p2.count) {
                    let (x, y) = (n.inputs[0], n.outputs[0])
                    if !pinned.contains(y) {
                        g.nodes.remove(at: i)
                        for k in g.nodes.indices { g.nodes[k].inputs = g.nodes[k].inputs.map { $0 == y ? x : $0 } }
                        map?.derive(x, from: y)
                        return true
                    }
                    // A graph output: its producer's producer writes it directly.
                    let interface = Set(g.inputs.map(\.name) + g.outputs.map(\.name) + g.initializers.map(\.name))
                    if let p = producer[x], singleUse(x), !interface.contains(x), !g.namesReadBySubgraphs.contains(y) {
                        g.nodes[p].outputs = g.nodes[p].outputs.map { $0 == x ? y : $0 }
                        g.nodes.remove(at: i)
                        g.valueInfo.removeAll { $0.name == x }
                        map?.derive(y, from: x)
                        return true
                    }
                }
                continue
            }
            guard n.canonicalDomain.isEmpty, n.outputs.count == 1, !n.inputs.isEmpty else { continue }
            if Self.unary.contains(n.opType), let (t, p) = transposeFeeding(n.inputs[0]), singleUse(n.inputs[0]) {
                // Extra inputs (Clip bounds, Q/DQ parameters) must not depend on the layout.
                var moved = n
                if let axis = n.attribute("axis")?.int, n.opType.hasSuffix("Linear") {
                    let a = Int(axis < 0 ? axis + Int64(p.count) : axis)
                    guard a >= 0, a < p.count else { continue }
                    moved.attributes = n.attributes.filter { $0.name != "axis" } + [Attribute(name: "axis", value: .int(Int64(p[a])))]
                } else {
                    guard n.inputs.dropFirst().allSatisfy({ $0.isEmpty || (g.constantTensor(named: $0)?.elementCount ?? 2) == 1 })
                    else { continue }
                }
                let mid = names.fresh(n.outputs[0] + "_untransposed")
                moved.inputs[0] = t.inputs[0]
                moved.outputs = [mid]
                let after = Node(
                    name: names.fresh(n.name + "_transpose"), opType: "Transpose", inputs: [mid], outputs: n.outputs,
                    attributes: t.attributes)
                g.nodes.replaceSubrange(i...i, with: [moved, after])
                g.removeDeadCode()
                map?.derive(mid, from: n.outputs[0], perm: inverse(p))
                return true
            }
            let variadic = n.opType == "Concat"
            guard Self.binary.contains(n.opType) || variadic else { continue }
            // Every operand transposed by the same perm, or a constant we can transpose.
            var layout: [Int]?
            for x in n.inputs where !x.isEmpty {
                if let (_, p) = transposeFeeding(x) {
                    if layout == nil {
                        layout = p
                    } else if layout != p {
                        layout = []
                        break
                    }
                }
            }
            guard let p = layout, !p.isEmpty else { continue }
            guard n.inputs.contains(where: { !$0.isEmpty && transposeFeeding($0) != nil && singleUse($0) }) else { continue }
            var inverse = [Int](repeating: 0, count: p.count)
            for (k, v) in p.enumerated() { inverse[v] = k }
            var inputs: [String] = []
            var added: [Tensor] = []
            var ok = true
            for x in n.inputs {
                if x.isEmpty {
                    inputs.append(x)
                } else if let (t, _) = transposeFeeding(x) {
                    inputs.append(t.inputs[0])
                } else if !variadic, let c = g.constantTensor(named: x), c.shape.count <= p.count {
                    var full = c
                    full.shape = [Int](repeating: 1, count: p.count - c.shape.count) + c.shape
                    guard var moved = full.transposed(inverse) else {
                        ok = false
                        break
                    }
                    moved.name = names.fresh(x + "_transposed")
                    moved.quantization = nil
                    added.append(moved)
                    inputs.append(moved.name)
                } else {
                    ok = false
                    break
                }
            }
            guard ok else { continue }
            var moved = n
            moved.inputs = inputs
            if variadic {
                guard let axis = n.attribute("axis")?.int else { continue }
                let a = Int(axis < 0 ? axis + Int64(p.count) : axis)
                guard a >= 0, a < p.count else { continue }
                moved.attributes = n.attributes.filter { $0.name != "axis" } + [Attribute(name: "axis", value: .int(Int64(p[a])))]
            }
            let mid = names.fresh(n.outputs[0] + "_untransposed")
            moved.outputs = [mid]
            let after = Node(
                name: names.fresh(n.name + "_transpose"), opType: "Transpose", inputs: [mid], outputs: n.outputs,
                attributes: [Attribute(name: "perm", value: .ints(p.map { Int64($0) }))])
            g.initializers += added
            g.nodes.replaceSubrange(i...i, with: [moved, after])
            g.removeDeadCode()
            map?.derive(mid, from: n.outputs[0], perm: inverse)
            return true
        }
        return false
    }
}
