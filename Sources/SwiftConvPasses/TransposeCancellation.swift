import SwiftConvIR

/// Moves Transpose nodes of the main graph later through the ops that do not care about
/// layout and merges them, so that the NHWC <-> NCHW pairs a layout lowering leaves between
/// two ops disappear.
///
/// Rules, applied until none matches: a Transpose of a Transpose becomes one Transpose; an
/// identity Transpose goes; a Transpose read only by an element-wise unary op (Relu, Clip
/// with scalar bounds, per-tensor Q/DQ …) moves after it; a binary element-wise op or a
/// Concat whose operands are all transposed the same way (constants count, transposed
/// here once) becomes the op on the untransposed values, then one Transpose; ops with axes
/// (reductions, Softmax, Gather, Slice, Pad, Squeeze, Unsqueeze, Split …) take the
/// Transpose's input with their axes remapped, and the Transpose (or the one their output
/// rank leaves) follows them. A rule fires only when it removes a Transpose that nothing else
/// reads, so the count never grows. Last, a Transpose that only moves size-1 dims is a
/// reshape: read by Reshape/Flatten it goes, otherwise it becomes a Reshape when its target
/// shape is static but for one dim. The model's value map follows: an untransposed value gets
/// its transposed value's entry with the permutation composed, a renamed value its old name's.
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
        let opset = model.opsetImports.first { OpDomain.canonical($0.domain).isEmpty }?.version ?? 13
        // Each rewrite removes a Transpose or moves one later; the bound only guards against a bug.
        var budget = 4 * model.graph.nodes.count + 16
        let shapes = Self.inferredShapes(model)
        var sizes: [String: [Int]] = [:]
        func settle(_ g: inout Graph, _ map: inout ValueMap?, _ sizes: inout [String: [Int]]) throws -> Bool {
            var changed = false
            while budget > 0, deriveTransposeInputs(g, &map),
                try rewriteOnce(&g, opset: opset, map: &map)
                    || rewriteAroundReshapeOnce(&g, opset: opset, shapes: shapes, sizes: &sizes, map: &map)
            {
                changed = true
                budget -= 1
            }
            return changed
        }
        changed = try settle(&model.graph, &map, &sizes)
        // A Transpose split in two at a Reshape adds one; kept only when the rules then remove more.
        var tried = Set<String>()
        while let value = partlyMovableTransposes(model.graph, shapes: shapes, sizes: sizes).first(where: { !tried.contains($0) }) {
            tried.insert(value)
            var (trial, trialMap, trialSizes) = (model.graph, map, sizes)
            guard splitBeforeReshape(&trial, value, shapes: shapes, sizes: &trialSizes) else { continue }
            _ = try settle(&trial, &trialMap, &trialSizes)
            if Self.transposeCount(trial) < Self.transposeCount(model.graph) {
                (model.graph, map, sizes) = (trial, trialMap, trialSizes)
                changed = true
            }
        }
        // Which dims are 1 is only known from shapes.
        var typed = model
        ShapeInference.infer(&typed, registry: .standard)
        var types: [String: ValueType] = [:]
        for v in typed.graph.valueInfo + typed.graph.inputs + typed.graph.outputs { if let t = v.type { types[v.name] = t } }
        for t in typed.graph.initializers { types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape)) }
        while removeSizeOneTransposeOnce(&model.graph, types: types, map: &map) { changed = true }
        return changed
    }

    /// A Transpose's input holds what its output holds, in the inverse layout: recorded
    /// before a rewrite removes the Transpose (and with it the mapped name). Always true.
    private func deriveTransposeInputs(_ g: Graph, _ map: inout ValueMap?) -> Bool {
        guard map != nil else { return true }
        for n in g.nodes {
            if let p = perm(n), let y = n.outputs.first { map?.derive(n.inputs[0], from: y, perm: inverse(p)) }
        }
        return true
    }

    /// A Transpose's perm; nil unless it is a permutation of its axes (a model chooses it, and
    /// composing or inverting an index out of range would trap): such a node stays where it is.
    func perm(_ n: Node) -> [Int]? {
        guard n.opType == "Transpose", n.canonicalDomain.isEmpty, n.inputs.count == 1, let p = n.attribute("perm")?.ints,
            p.count <= 64, Set(p) == Set((0..<p.count).map { Int64($0) })
        else { return nil }
        return p.map { Int($0) }
    }

    /// `perm`'s inverse: transpose(transpose(x, perm), inverse) == x.
    func inverse(_ perm: [Int]) -> [Int] {
        var inverse = [Int](repeating: 0, count: perm.count)
        for (k, v) in perm.enumerated() where v >= 0 && v < perm.count { inverse[v] = k }
        return inverse
    }

    static func transposeCount(_ g: Graph) -> Int { g.nodes.filter { $0.opType == "Transpose" && $0.canonicalDomain.isEmpty }.count }

    private func rewriteOnce(_ g: inout Graph, opset: Int64, map: inout ValueMap?) throws -> Bool {
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
            guard n.canonicalDomain.isEmpty, !n.inputs.isEmpty else { continue }
            if let (t, p) = transposeFeeding(n.inputs[0]), singleUse(n.inputs[0]),
                let pushed = pushedThrough(n, perm: p, source: t.inputs[0], in: g, opset: opset, names: &names)
            {
                var replacement = [pushed.node]
                for (k, out) in n.outputs.enumerated() where !out.isEmpty {
                    guard let q = pushed.after[k] else { continue }
                    replacement.append(
                        Node(
                            name: names.fresh(n.name + "_transpose"), opType: "Transpose", inputs: [pushed.node.outputs[k]],
                            outputs: [out], attributes: [Attribute(name: "perm", value: .ints(q.map { Int64($0) }))]))
                }
                g.initializers += pushed.constants
                g.nodes.replaceSubrange(i...i, with: replacement)
                g.removeDeadCode()
                for (k, out) in n.outputs.enumerated() where !out.isEmpty {
                    if let q = pushed.after[k] { map?.derive(pushed.node.outputs[k], from: out, perm: inverse(q)) }
                }
                return true
            }
            guard n.outputs.count == 1 else { continue }
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

// MARK: - Ops whose axes follow a Transpose

extension TransposeCancellation {
    static let reductions: Set<String> = [
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin",
    ]

    /// `n` rewritten to read `source` (its input 0 before the Transpose `p`), its axes mapped
    /// into `source`'s layout, with the perm each output still needs (nil: none). Nil when
    /// `n` is not such an op, or its axes are not constants.
    func pushedThrough(
        _ n: Node, perm p: [Int], source: String, in g: Graph, opset: Int64, names: inout UniqueNameGenerator
    ) -> (node: Node, constants: [Tensor], after: [[Int]?])? {
        let r = p.count
        var node = n
        node.inputs[0] = source
        var constants: [Tensor] = []
        var after: [[Int]?] = [p]

        func axis(_ a: Int64, rank: Int) -> Int? {
            let v = Int(a < 0 ? a + Int64(rank) : a)
            return v >= 0 && v < rank ? v : nil
        }
        func setAttribute(_ name: String, _ value: AttributeValue) {
            node.attributes = node.attributes.filter { $0.name != name } + [Attribute(name: name, value: value)]
        }
        func setInput(_ k: Int, _ values: [Int64], like old: String) {
            var t = Tensor(dtype: .int64, shape: [values.count], values: values)
            t.name = names.fresh(old.isEmpty ? n.name + "_axes" : old + "_transposed")
            constants.append(t)
            while node.inputs.count <= k { node.inputs.append("") }
            node.inputs[k] = t.name
        }
        func constantInts(_ k: Int) -> [Int64]? {
            k < n.inputs.count ? g.constantTensor(named: n.inputs[k])?.int64Values() : nil
        }
        /// The axes of an op that takes them as an attribute before `inputSince` and as input
        /// `k` from then; `.some(nil)` when absent.
        func axesOperand(attribute: String = "axes", input k: Int, inputSince: Int64) -> [Int64]?? {
            if opset >= inputSince {
                guard k < n.inputs.count, !n.inputs[k].isEmpty else { return .some(nil) }
                return constantInts(k).map { .some($0) }
            }
            return .some(n.attribute(attribute)?.ints)
        }
        func writeAxes(_ axes: [Int64], attribute: String = "axes", input k: Int, inputSince: Int64) {
            if opset >= inputSince {
                setInput(k, axes, like: k < n.inputs.count ? n.inputs[k] : "")
            } else {
                setAttribute(attribute, .ints(axes))
            }
        }
        let outputs = n.outputs

        switch n.opType {
        case _ where Self.reductions.contains(n.opType):
            let keep = (n.attribute("keepdims")?.int ?? 1) != 0
            var axes: [Int]
            if n.opType.hasPrefix("Arg") {
                guard let a = axis(n.attribute("axis")?.int ?? 0, rank: r) else { return nil }
                setAttribute("axis", .int(Int64(p[a])))
                axes = [a]
            } else {
                let since: Int64 = n.opType == "ReduceSum" ? 13 : 18
                guard let given = axesOperand(input: 1, inputSince: since) else { return nil }
                if let given, !given.isEmpty {
                    let mapped = given.map { axis($0, rank: r) }
                    guard mapped.allSatisfy({ $0 != nil }) else { return nil }
                    axes = mapped.map { $0! }
                    writeAxes(axes.map { Int64(p[$0]) }, input: 1, inputSince: since)
                } else if (n.attribute("noop_with_empty_axes")?.int ?? 0) != 0 {
                    axes = []
                } else {
                    axes = Array(0..<r)
                }
            }
            if !keep { after = [Self.induced(p, removing: Set(axes))] }
        case "Softmax", "LogSoftmax", "Hardmax":
            guard let a = axis(n.attribute("axis")?.int ?? (opset >= 13 ? -1 : 1), rank: r) else { return nil }
            if opset >= 13 {
                setAttribute("axis", .int(Int64(p[a])))
            } else {
                // Before opset 13 the op works on rows of [prod(dims before axis), prod(rest)].
                guard a == r - 1, p[r - 1] == r - 1 else { return nil }
            }
        case "MatMul":
            // Rows times a constant matrix: any order of the rows gives the same rows.
            guard r >= 2, p[r - 1] == r - 1, n.inputs.count == 2, let w = g.constantTensor(named: n.inputs[1]), w.shape.count == 2
            else { return nil }
        case "LpNormalization":
            guard let a = axis(n.attribute("axis")?.int ?? -1, rank: r) else { return nil }
            setAttribute("axis", .int(Int64(p[a])))
        case "Gather":
            guard let a = axis(n.attribute("axis")?.int ?? 0, rank: r), n.inputs.count == 2 else { return nil }
            let indicesRank =
                g.constantTensor(named: n.inputs[1])?.shape.count
                ?? (g.valueInfo + g.inputs).first { $0.name == n.inputs[1] }?.type?.tensorShape?.count
            setAttribute("axis", .int(Int64(p[a])))
            switch indicesRank {
            case 0?: after = [Self.induced(p, removing: [a])]
            case 1?: break
            default: return nil
            }
        case "Slice":
            if opset >= 10 {
                guard n.inputs.count >= 3 else { return nil }
                var axes: [Int64]
                if n.inputs.count > 3, !n.inputs[3].isEmpty {
                    guard let given = constantInts(3) else { return nil }
                    axes = given
                } else {
                    guard let starts = constantInts(1) else { return nil }
                    axes = (0..<starts.count).map { Int64($0) }
                }
                let mapped = axes.compactMap { axis($0, rank: r) }
                guard mapped.count == axes.count else { return nil }
                setInput(3, mapped.map { Int64(p[$0]) }, like: n.inputs.count > 3 ? n.inputs[3] : "")
            } else {
                guard let starts = n.attribute("starts")?.ints else { return nil }
                let axes = n.attribute("axes")?.ints ?? (0..<starts.count).map { Int64($0) }
                let mapped = axes.compactMap { axis($0, rank: r) }
                guard mapped.count == axes.count else { return nil }
                setAttribute("axes", .ints(mapped.map { Int64(p[$0]) }))
            }
        case "Pad":
            if opset >= 11 {
                if n.inputs.count > 3, !n.inputs[3].isEmpty {
                    guard let axes = constantInts(3) else { return nil }
                    let mapped = axes.compactMap { axis($0, rank: r) }
                    guard mapped.count == axes.count else { return nil }
                    setInput(3, mapped.map { Int64(p[$0]) }, like: n.inputs[3])
                } else {
                    guard let pads = constantInts(1), pads.count == 2 * r else { return nil }
                    setInput(1, Self.permutedPads(pads, p), like: n.inputs[1])
                }
            } else {
                guard let pads = n.attribute("pads")?.ints, pads.count == 2 * r else { return nil }
                setAttribute("pads", .ints(Self.permutedPads(pads, p)))
            }
        case "Squeeze":
            guard let given = axesOperand(input: 1, inputSince: 13), let given, !given.isEmpty else { return nil }
            let mapped = given.compactMap { axis($0, rank: r) }
            guard mapped.count == given.count else { return nil }
            writeAxes(mapped.map { Int64(p[$0]) }, input: 1, inputSince: 13)
            after = [Self.induced(p, removing: Set(mapped))]
        case "Unsqueeze":
            guard let given = axesOperand(input: 1, inputSince: 13), let given, !given.isEmpty else { return nil }
            let out = r + given.count
            let inserted = Set(given.compactMap { axis($0, rank: out) })
            guard inserted.count == given.count else { return nil }
            // The same axes inserted into the source; the kept dims keep their order there.
            let kept = (0..<out).filter { !inserted.contains($0) }
            var q = Array(0..<out)
            for (j, position) in kept.enumerated() { q[position] = kept[p[j]] }
            after = [q]
        case "Split":
            guard let a = axis(n.attribute("axis")?.int ?? 0, rank: r) else { return nil }
            // Worth it only when every output's readers are Transposes that will merge.
            let consumers = g.consumers
            let interface = Set(g.outputs.map(\.name))
            for out in outputs where !out.isEmpty {
                guard !interface.contains(out),
                    (consumers[out] ?? []).allSatisfy({ g.nodes[$0].opType == "Transpose" && g.nodes[$0].canonicalDomain.isEmpty })
                else { return nil }
            }
            setAttribute("axis", .int(Int64(p[a])))
            after = outputs.map { _ in p }
        default:
            return nil
        }
        guard n.opType == "Split" || outputs.count == 1 else { return nil }
        for k in after.indices where after[k] == Array(0..<(after[k]?.count ?? 0)) { after[k] = nil }
        node.outputs = outputs.enumerated().map { k, out in
            out.isEmpty || after[k] == nil ? out : names.fresh(out + "_untransposed")
        }
        return (node, constants, after)
    }

    /// The perm a Transpose `p` leaves after the output axes `removed` are dropped: the kept
    /// output axes read the kept source axes, renumbered in order.
    static func induced(_ p: [Int], removing removed: Set<Int>) -> [Int] {
        let keptSources = (0..<p.count).filter { !removed.contains($0) }.map { p[$0] }
        let order = keptSources.sorted()
        return keptSources.map { s in order.firstIndex(of: s)! }
    }

    /// ONNX pads [begins..., ends...] of a transposed value, for the value before the Transpose.
    static func permutedPads(_ pads: [Int64], _ p: [Int]) -> [Int64] {
        let r = p.count
        var out = [Int64](repeating: 0, count: 2 * r)
        for j in 0..<r {
            out[p[j]] = pads[j]
            out[r + p[j]] = pads[r + j]
        }
        return out
    }
}

// MARK: - Transposes that only move size-1 dims

extension TransposeCancellation {
    /// Removes (or turns into a Reshape) one Transpose whose data order equals its input's,
    /// because every dim it moves has size 1.
    func removeSizeOneTransposeOnce(_ g: inout Graph, types: [String: ValueType], map: inout ValueMap?) -> Bool {
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        let consumers = g.consumers
        for (i, n) in g.nodes.enumerated() {
            guard let p = perm(n), let s = types[n.inputs[0]]?.tensorShape, s.count == p.count,
                Self.movesOnlyUnitDims(p, s)
            else { continue }
            let (x, y) = (n.inputs[0], n.outputs[0])
            let readers = consumers[y] ?? []
            if !pinned.contains(y), !readers.isEmpty,
                readers.allSatisfy({ g.nodes[$0].inputs.firstIndex(of: y) == 0 && g.nodes[$0].inputs.lastIndex(of: y) == 0 }),
                readers.allSatisfy({ readsDataOrderOnly(g.nodes[$0], p, s, in: g) })
            {
                for r in readers { g.nodes[r].inputs = g.nodes[r].inputs.map { $0 == y ? x : $0 } }
                g.nodes.remove(at: i)
                g.valueInfo.removeAll { $0.name == y }
                g.removeDeadCode()
                map?.derive(x, from: y)
                return true
            }
            // A Reshape to the static target (one unknown dim becomes -1) does the same work.
            let target = p.map { s[$0].value.map(Int64.init) ?? -1 }
            guard target.filter({ $0 == -1 }).count <= 1, !target.contains(0) else { continue }
            var names = UniqueNameGenerator(graph: g)
            var shape = Tensor(dtype: .int64, shape: [target.count], values: target)
            shape.name = names.fresh(y + "_shape")
            g.initializers.append(shape)
            g.nodes[i] = Node(name: n.name, opType: "Reshape", inputs: [x, shape.name], outputs: [y])
            return true
        }
        return false
    }

    /// Whether a Transpose by `p` of a value of shape `s` keeps every dim that may not be 1
    /// in its order (unknown dims count as not 1).
    static func movesOnlyUnitDims(_ p: [Int], _ s: Shape) -> Bool {
        let moved = p.filter { s[$0] != .known(1) }
        return moved == moved.sorted()
    }

    /// Whether `reader` sees only the data order of its input 0 (a value Transposed by `p`
    /// from shape `s`), so that it may read the untransposed value instead.
    private func readsDataOrderOnly(_ reader: Node, _ p: [Int], _ s: Shape, in g: Graph) -> Bool {
        guard reader.canonicalDomain.isEmpty, reader.inputs.first != nil else { return false }
        switch reader.opType {
        case "Reshape":
            guard reader.inputs.count == 2, let target = g.constantTensor(named: reader.inputs[1])?.int64Values() else { return false }
            // A 0 copies the input dim at its index: both inputs must agree there.
            return target.enumerated().allSatisfy { k, v in
                v != 0 || (k < s.count && s[k] == s[p[k]] && s[k].value != nil)
            }
        case "Flatten":
            let a = reader.attribute("axis")?.int ?? 1
            let axis = Int(a < 0 ? a + Int64(s.count) : a)
            guard axis >= 0, axis <= s.count else { return false }
            // Same number of not-1 dims in front of the axis: the same two products.
            let before = (0..<axis).filter { s[$0] != .known(1) }.count
            let after = (0..<axis).filter { s[p[$0]] != .known(1) }.count
            return before == after
        default:
            return false
        }
    }
}
