import SwiftConvIR

// MARK: - Transposes through Reshape, Shape and several readers

/// How a Reshape regroups dims: a run of input axes holds the same elements, in the same
/// order, as a run of output axes (a split, a merge, or a unit dim added or dropped).
struct ReshapeGroup: Equatable {
    var input: Range<Int>
    var output: Range<Int>
}

extension TransposeCancellation {
    /// The size an unknown dim stands for in the reshape arithmetic: a prime no real dim is
    /// a multiple of, so a product tells whether it holds the unknown dim.
    static let unknownSize = 2_147_483_647

    /// The sizes of `shape`, its one dim that is not a number (if any) as `unknownSize`;
    /// nil for more such dims or a 0.
    static func sizes(_ shape: Shape) -> [Int]? {
        guard shape.filter({ $0.value == nil }).count <= 1 else { return nil }
        let out = shape.map { $0.value ?? unknownSize }
        return out.allSatisfy({ $0 > 0 }) ? out : nil
    }

    /// The output sizes of a Reshape of `input` to `target` (0 copies the input dim unless
    /// `allowZero`, -1 takes the rest); nil when they do not describe the same count.
    static func reshapeTarget(_ target: [Int64], input: [Int], allowZero: Bool) -> [Int]? {
        guard let total = checkedProduct(input), target.filter({ $0 == -1 }).count <= 1 else { return nil }
        var out = [Int]()
        var rest: Int?
        for (k, t) in target.enumerated() {
            if t == -1 {
                rest = k
                out.append(1)
            } else if t == 0, !allowZero {
                guard k < input.count else { return nil }
                out.append(input[k])
            } else {
                guard t > 0, t < Int64(Int32.max) || t == Int64(unknownSize) else { return nil }
                out.append(Int(t))
            }
        }
        guard let known = checkedProduct(out), known > 0 else { return nil }
        if let k = rest {
            guard total % known == 0 else { return nil }
            out[k] = total / known
        }
        return checkedProduct(out) == total ? out : nil
    }

    /// The shapes shape inference finds for the values of `model`'s main graph.
    static func inferredShapes(_ model: Model) -> [String: Shape] {
        var typed = model
        ShapeInference.infer(&typed, registry: .standard)
        var shapes: [String: Shape] = [:]
        for v in typed.graph.valueInfo + typed.graph.inputs + typed.graph.outputs {
            if let s = v.type?.tensorShape { shapes[v.name] = s }
        }
        for t in typed.graph.initializers { shapes[t.name] = Shape(t.shape) }
        return shapes
    }

    /// The sizes of `value` (see `sizes`): as a rewrite here computed them (an unknown dim
    /// that is a multiple of another stays one), as inferred, or its Transpose's input's permuted.
    static func sizes(
        of value: String, in g: Graph, producer: [String: Int], shapes: [String: Shape], sizes: [String: [Int]]
    ) -> [Int]? {
        if let s = sizes[value] { return s }
        if let s = shapes[value] { return Self.sizes(s) }
        guard let i = producer[value], g.nodes[i].opType == "Transpose", g.nodes[i].canonicalDomain.isEmpty,
            let p = g.nodes[i].attribute("perm")?.ints?.map({ Int($0) }),
            let s = Self.sizes(of: g.nodes[i].inputs[0], in: g, producer: producer, shapes: shapes, sizes: sizes),
            s.count == p.count, Set(p) == Set(0..<p.count)
        else { return nil }
        return p.map { s[$0] }
    }

    /// A Reshape's input and output sizes: from its constant target, or (a target computed
    /// from shapes) from the output's inferred shape, whose one unknown dim takes the rest.
    static func reshapeSizes(
        _ n: Node, in g: Graph, producer: [String: Int], shapes: [String: Shape], sizes: [String: [Int]], input: [Int]? = nil
    ) -> (y: [Int], z: [Int])? {
        guard n.opType == "Reshape", n.canonicalDomain.isEmpty, n.inputs.count == 2, n.outputs.count == 1,
            let y = input ?? Self.sizes(of: n.inputs[0], in: g, producer: producer, shapes: shapes, sizes: sizes)
        else { return nil }
        let allowZero = (n.attribute("allowzero")?.int ?? 0) != 0
        if let t = g.constantTensor(named: n.inputs[1])?.int64Values() {
            return Self.reshapeTarget(t, input: y, allowZero: allowZero).map { (y, $0) }
        }
        guard let s = shapes[n.outputs[0]], s.filter({ $0.value == nil }).count <= 1 else { return nil }
        let t = s.map { Int64($0.value ?? -1) }
        return t.contains(0) ? nil : Self.reshapeTarget(t, input: y, allowZero: false).map { (y, $0) }
    }

    static func isPermutation(_ p: [Int]) -> Bool { Set(p) == Set(0..<p.count) && p.count > 0 }

    static func checkedProduct(_ dims: [Int]) -> Int? {
        var p = 1
        for d in dims {
            let (v, overflow) = p.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            p = v
        }
        return p
    }

    /// The runs of `y`'s and `z`'s axes that hold the same elements, smallest first; unit
    /// dims form their own groups. Nil when the sizes do not line up that way.
    static func groups(_ y: [Int], _ z: [Int]) -> [ReshapeGroup]? {
        var out: [ReshapeGroup] = []
        var (i, j) = (0, 0)
        while i < y.count || j < z.count {
            if i < y.count, y[i] == 1 {
                let takesZ = j < z.count && z[j] == 1
                out.append(ReshapeGroup(input: i..<(i + 1), output: j..<(takesZ ? j + 1 : j)))
                i += 1
                if takesZ { j += 1 }
                continue
            }
            if j < z.count, z[j] == 1 {
                out.append(ReshapeGroup(input: i..<i, output: j..<(j + 1)))
                j += 1
                continue
            }
            guard i < y.count, j < z.count else { return nil }
            var (i1, j1, py, pz) = (i + 1, j + 1, y[i], z[j])
            while py != pz {
                if py < pz {
                    guard i1 < y.count, let v = checkedProduct([py, y[i1]]) else { return nil }
                    (py, i1) = (v, i1 + 1)
                } else {
                    guard j1 < z.count, let v = checkedProduct([pz, z[j1]]) else { return nil }
                    (pz, j1) = (v, j1 + 1)
                }
            }
            out.append(ReshapeGroup(input: i..<i1, output: j..<j1))
            (i, j) = (i1, j1)
        }
        return out
    }

    /// The finest sizes both `y` and `z` are groupings of (unit dims left out), so that the
    /// Reshape y -> z is a split y -> fine followed by a merge fine -> z; nil if none.
    static func refinement(_ y: [Int], _ z: [Int]) -> [Int]? {
        guard let groups = groups(y, z) else { return nil }
        var fine: [Int] = []
        for g in groups {
            // The cumulative products of both sides cut the run; each piece must be whole.
            var cuts = Set<Int>()
            for side in [Array(y[g.input]), Array(z[g.output])] {
                for k in side.indices {
                    guard let p = checkedProduct(Array(side[...k])) else { return nil }
                    cuts.insert(p)
                }
            }
            var last = 1
            for c in cuts.sorted() where c != 1 {
                guard c % last == 0 else { return nil }
                fine.append(c / last)
                last = c
            }
        }
        return fine
    }

    /// Reshape(Transpose(x, p)) as Transpose(Reshape(x, sizes), q): possible when every run
    /// of axes the Reshape merges comes from consecutive axes of x, in order.
    static func pushedForward(_ p: [Int], through groups: [ReshapeGroup], output z: [Int]) -> (sizes: [Int], perm: [Int])? {
        for g in groups where g.input.count > 1 {
            let sources = g.input.map { p[$0] }
            guard zip(sources, sources.dropFirst()).allSatisfy({ $1 == $0 + 1 }) else { return nil }
        }
        // Groups in x's order; a new unit dim stays behind the group before it.
        var keyed: [(key: Int, tie: Int, group: ReshapeGroup)] = []
        var previous = -1
        for (k, g) in groups.enumerated() {
            if let first = g.input.first { previous = p[first] }
            keyed.append((previous, k, g))
        }
        keyed.sort { ($0.key, $0.tie) < ($1.key, $1.tie) }
        var sizes: [Int] = []
        var position = [Int](repeating: 0, count: z.count)
        for entry in keyed {
            for k in entry.group.output {
                position[k] = sizes.count
                sizes.append(z[k])
            }
        }
        return (sizes, position)
    }

    /// Transpose(Reshape(y), p2) as Reshape(Transpose(y, q), sizes): possible when p2 keeps
    /// every run of output axes the Reshape split together and in order.
    static func pulledBack(
        _ p2: [Int], through groups: [ReshapeGroup], input y: [Int], output z: [Int]
    ) -> (
        perm: [Int], sizes: [Int]
    )? {
        guard p2.count == z.count else { return nil }
        var at = [Int](repeating: 0, count: p2.count)
        for (k, v) in p2.enumerated() { at[v] = k }
        for g in groups where g.output.count > 1 {
            let places = g.output.map { at[$0] }
            guard zip(places, places.dropFirst()).allSatisfy({ $1 == $0 + 1 }) else { return nil }
        }
        var keyed: [(key: Int, tie: Int, group: ReshapeGroup)] = []
        var previous = -1
        for (k, g) in groups.enumerated() {
            if let first = g.output.first { previous = at[first] }
            keyed.append((previous, k, g))
        }
        keyed.sort { ($0.key, $0.tie) < ($1.key, $1.tie) }
        let q = keyed.flatMap { Array($0.group.input) }
        guard q.count == y.count else { return nil }
        return (q, p2.map { z[$0] })
    }

    /// One rewrite of Transposes met at Reshapes, Shapes and several readers, or false.
    func rewriteAroundReshapeOnce(
        _ g: inout Graph, opset: Int64, shapes: [String: Shape], sizes: inout [String: [Int]], map: inout ValueMap?
    ) -> Bool {
        let producer = g.producers
        let consumers = g.consumers
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        var names = UniqueNameGenerator(graph: g)

        func transposeFeeding(_ value: String) -> (node: Node, perm: [Int])? {
            guard let i = producer[value], let p = perm(g.nodes[i]), Self.isPermutation(p) else { return nil }
            return (g.nodes[i], p)
        }
        func singleUse(_ value: String) -> Bool { (consumers[value]?.count ?? 0) == 1 && !pinned.contains(value) }
        func sizesOf(_ value: String) -> [Int]? { Self.sizes(of: value, in: g, producer: producer, shapes: shapes, sizes: sizes) }
        func record(_ value: String, _ s: [Int]) { sizes[value] = s }
        func target(_ sizes: [Int]) -> String {
            var t = Tensor(dtype: .int64, shape: [sizes.count], values: sizes.map { $0 % Self.unknownSize == 0 ? -1 : Int64($0) })
            t.name = names.fresh("reshape_target")
            g.initializers.append(t)
            return t.name
        }
        func transposeNode(_ name: String, _ x: String, _ y: String, _ p: [Int]) -> Node {
            Node(
                name: names.fresh(name), opType: "Transpose", inputs: [x], outputs: [y],
                attributes: [Attribute(name: "perm", value: .ints(p.map { Int64($0) }))])
        }
        func reshapeNode(_ name: String, _ x: String, _ y: String, _ sizes: [Int]) -> Node {
            Node(name: names.fresh(name), opType: "Reshape", inputs: [x, target(sizes)], outputs: [y])
        }
        func isIdentity(_ p: [Int]) -> Bool { p == Array(0..<p.count) }
        func reshapeSizes(_ n: Node) -> (y: [Int], z: [Int])? {
            Self.reshapeSizes(n, in: g, producer: producer, shapes: shapes, sizes: sizes)
        }

        for (i, n) in g.nodes.enumerated() where n.canonicalDomain.isEmpty {
            // Shape of a Transpose whose dims are read one by one: read them from its input.
            if n.opType == "Shape", n.attributes.isEmpty, let (t, p) = transposeFeeding(n.inputs[0]),
                let readers = consumers[n.outputs[0]], !readers.isEmpty, !pinned.contains(n.outputs[0])
            {
                var rewritten: [(Int, Node, Tensor)] = []
                for r in readers {
                    let reader = g.nodes[r]
                    guard reader.opType == "Gather", reader.canonicalDomain.isEmpty, (reader.attribute("axis")?.int ?? 0) == 0,
                        reader.inputs.count == 2, reader.inputs[0] == n.outputs[0],
                        let c = g.constantTensor(named: reader.inputs[1]), let idx = c.int64Values()
                    else { break }
                    let mapped = idx.map { v -> Int64? in
                        let k = Int(v < 0 ? v + Int64(p.count) : v)
                        return k >= 0 && k < p.count ? Int64(p[k]) : nil
                    }
                    guard mapped.allSatisfy({ $0 != nil }) else { break }
                    var moved = Tensor(dtype: .int64, shape: c.shape, values: mapped.map { $0! })
                    moved.name = names.fresh(reader.inputs[1] + "_transposed")
                    var copy = reader
                    copy.inputs[1] = moved.name
                    rewritten.append((r, copy, moved))
                }
                if rewritten.count == readers.count {
                    for (r, copy, moved) in rewritten {
                        g.nodes[r] = copy
                        g.initializers.append(moved)
                    }
                    g.nodes[i].inputs[0] = t.inputs[0]
                } else {
                    // Otherwise the source's shape, permuted.
                    var order = Tensor(dtype: .int64, shape: [p.count], values: p.map { Int64($0) })
                    order.name = names.fresh(n.outputs[0] + "_perm")
                    g.initializers.append(order)
                    let source = names.fresh(n.outputs[0] + "_untransposed")
                    var shape = n
                    shape.inputs = [t.inputs[0]]
                    shape.outputs = [source]
                    let gather = Node(
                        name: names.fresh(n.name + "_transpose"), opType: "Gather", inputs: [source, order.name],
                        outputs: n.outputs, attributes: [Attribute(name: "axis", value: .int(0))])
                    g.nodes.replaceSubrange(i...i, with: [shape, gather])
                }
                g.removeDeadCode()
                return true
            }
            guard n.opType != "Transpose" else {
                // A Transpose read by several ops that each take it through: one copy per reader.
                guard let p = perm(n), Self.isPermutation(p), let readers = consumers[n.outputs[0]], readers.count > 1,
                    !pinned.contains(n.outputs[0])
                else { continue }
                var scratch = UniqueNameGenerator(graph: g)
                let all = readers.allSatisfy { r in
                    let reader = g.nodes[r]
                    guard reader.inputs.firstIndex(of: n.outputs[0]) == 0, reader.inputs.lastIndex(of: n.outputs[0]) == 0
                    else { return false }
                    return reader.opType == "Gather"
                        && pushedThrough(reader, perm: p, source: n.inputs[0], in: g, opset: opset, names: &scratch) != nil
                }
                guard all else { continue }
                var copies: [Node] = []
                for r in readers.dropFirst() {
                    let y = names.fresh(n.outputs[0] + "_copy")
                    copies.append(transposeNode(n.name + "_copy", n.inputs[0], y, p))
                    g.nodes[r].inputs[0] = y
                    map?.derive(y, from: n.outputs[0])
                }
                g.nodes.insert(contentsOf: copies, at: i + 1)
                return true
            }
            guard n.opType == "Reshape", n.inputs.count == 2, let (t1, p1) = transposeFeeding(n.inputs[0]), singleUse(n.inputs[0]),
                let (y, z) = reshapeSizes(n), y.count == p1.count
            else { continue }
            let out = n.outputs[0]
            // Transpose -> Reshape -> Transpose: the second pulled back through the Reshape into
            // the first, after the Reshape's splits moved ahead of the first (one Transpose fewer).
            if singleUse(out), let r = consumers[out]?.first, let p2 = perm(g.nodes[r]), Self.isPermutation(p2),
                let fine = Self.refinement(y, z),
                let split = Self.groups(y, fine), let merge = Self.groups(fine, z),
                let (xSizes, q1) = Self.pushedForward(p1, through: split, output: fine),
                let (q2, wSizes) = Self.pulledBack(p2, through: merge, input: fine, output: z)
            {
                let second = g.nodes[r]
                let combined = q2.map { q1[$0] }
                var replacement: [Node] = []
                var x = t1.inputs[0]
                if xSizes != sizesOf(x) {
                    let reshaped = names.fresh(x + "_reshaped")
                    replacement.append(reshapeNode(n.name + "_split", x, reshaped, xSizes))
                    record(reshaped, xSizes)
                    x = reshaped
                }
                if !isIdentity(combined) {
                    let moved = names.fresh(second.outputs[0] + "_before_reshape")
                    replacement.append(transposeNode(second.name, x, moved, combined))
                    record(moved, combined.map { xSizes[$0] })
                    x = moved
                }
                replacement.append(reshapeNode(n.name, x, second.outputs[0], wSizes))
                record(second.outputs[0], wSizes)
                g.nodes[r] = replacement.last!
                g.nodes.replaceSubrange(i...i, with: replacement.dropLast())
                g.removeDeadCode()
                return true
            }
            // Reshape of a Transpose: the Reshape first when its merges keep source order.
            guard let groups = Self.groups(y, z), let (xSizes, q) = Self.pushedForward(p1, through: groups, output: z)
            else { continue }
            var replacement: [Node] = []
            let reshaped = names.fresh(out + "_untransposed")
            replacement.append(reshapeNode(n.name, t1.inputs[0], isIdentity(q) ? out : reshaped, xSizes))
            record(out, z)
            if !isIdentity(q) {
                replacement.append(transposeNode(n.name + "_transpose", reshaped, out, q))
                record(reshaped, xSizes)
                map?.derive(reshaped, from: out, perm: inverse(q))
            }
            g.nodes.replaceSubrange(i...i, with: replacement)
            g.removeDeadCode()
            return true
        }
        // Reshape (leading dims merged into rows) -> Gemm by constants -> Reshape (the rows split
        // back): a MatMul (and Add) on the unflattened value, which transposes of the leading
        // dims pass (PyTorch exports an attention's output projection so).
        for (i, n) in g.nodes.enumerated() where n.opType == "Gemm" && n.canonicalDomain.isEmpty {
            guard (n.attribute("transA")?.int ?? 0) == 0, n.inputs.count >= 2, n.outputs.count == 1, singleUse(n.inputs[0]),
                singleUse(n.outputs[0]), let f = producer[n.inputs[0]], let (xs, rows) = reshapeSizes(g.nodes[f]), rows.count == 2,
                let b = g.constantTensor(named: n.inputs[1]), b.dtype == .float32, b.shape.count == 2,
                var w = (n.attribute("transB")?.int ?? 0) != 0 ? b.transposed([1, 0]) : Optional(b), w.shape[0] == rows[1],
                let u = consumers[n.outputs[0]]?.first, case let ys = [rows[0], w.shape[1]],
                let (_, zs) = Self.reshapeSizes(g.nodes[u], in: g, producer: producer, shapes: shapes, sizes: sizes, input: ys),
                let split = (0...xs.count).last(where: { Self.checkedProduct(Array(xs[$0...])) == rows[1] }),
                Array(zs.dropLast()) == Array(xs[..<split]), zs.last == ys[1]
            else { continue }
            let alpha = n.attribute("alpha")?.float ?? 1
            let beta = n.attribute("beta")?.float ?? 1
            var bias: Tensor?
            if n.inputs.count > 2, !n.inputs[2].isEmpty {
                guard let c = g.constantTensor(named: n.inputs[2]), c.dtype == .float32, let cv = c.float32Values,
                    cv.count == ys[1] || cv.count == 1, c.shape.dropLast().allSatisfy({ $0 == 1 })
                else { continue }
                bias = Tensor(dtype: .float32, shape: [cv.count], values: cv.map { $0 * beta })
            }
            if alpha != 1, let v = w.float32Values { w = Tensor(dtype: .float32, shape: w.shape, values: v.map { $0 * alpha }) }
            w.name = names.fresh(n.inputs[1] + "_matmul")
            g.initializers.append(w)
            var replacement: [Node] = []
            var x = g.nodes[f].inputs[0]
            let unflat = Array(xs[..<split]) + [rows[1]]
            if unflat != xs {
                let r = names.fresh(n.inputs[0] + "_unflattened")
                replacement.append(reshapeNode(n.name + "_unflatten", x, r, unflat))
                record(r, unflat)
                x = r
            }
            let out = g.nodes[u].outputs[0]
            let product = bias == nil ? out : names.fresh(n.outputs[0] + "_matmul")
            replacement.append(Node(name: names.fresh(n.name + "_matmul"), opType: "MatMul", inputs: [x, w.name], outputs: [product]))
            if var c = bias {
                c.name = names.fresh(n.inputs[2] + "_bias")
                g.initializers.append(c)
                replacement.append(Node(name: names.fresh(n.name + "_bias"), opType: "Add", inputs: [product, c.name], outputs: [out]))
            }
            record(product, zs)
            record(out, zs)
            g.nodes.remove(at: u)
            g.nodes.replaceSubrange(i...i, with: replacement)
            g.removeDeadCode()
            return true
        }
        // A Reshape to the same shape goes; one whose target is computed from shapes gets the
        // constant target its inferred shape gives (its Shape readers may then go); a Reshape of a
        // single-use Reshape reads the first one's input.
        for (i, n) in g.nodes.enumerated() where n.opType == "Reshape" && n.canonicalDomain.isEmpty && n.inputs.count == 2 {
            if let (y, z) = reshapeSizes(n), y == z, !pinned.contains(n.outputs[0]) {
                let (x, out) = (n.inputs[0], n.outputs[0])
                for k in g.nodes.indices { g.nodes[k].inputs = g.nodes[k].inputs.map { $0 == out ? x : $0 } }
                g.nodes.remove(at: i)
                g.valueInfo.removeAll { $0.name == out }
                map?.derive(x, from: out)
                g.removeDeadCode()
                return true
            }
            if g.constantTensor(named: n.inputs[1]) == nil, let (_, z) = reshapeSizes(n) {
                g.nodes[i].inputs[1] = target(z)
                record(n.outputs[0], z)
                g.nodes[i].attributes = []
                g.removeDeadCode()
                return true
            }
            guard let inner = producer[n.inputs[0]].map({ g.nodes[$0] }), inner.opType == "Reshape", inner.canonicalDomain.isEmpty,
                singleUse(n.inputs[0]), let (_, z) = reshapeSizes(n)
            else { continue }
            var merged = n
            merged.inputs = [inner.inputs[0], target(z)]
            record(n.outputs[0], z)
            merged.attributes = []
            g.nodes[i] = merged
            g.removeDeadCode()
            return true
        }
        return false
    }
}

// MARK: - Trying a Transpose past a Reshape that needs part of it

extension TransposeCancellation {
    /// Transposes read by a Reshape that merges axes they take out of order: a Transpose that
    /// puts those axes in order could stay, and the rest of it move past the Reshape.
    func partlyMovableTransposes(_ g: Graph, shapes: [String: Shape], sizes: [String: [Int]]) -> [String] {
        let producer = g.producers
        let consumers = g.consumers
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        return g.nodes.compactMap { n in
            guard let p = perm(n), Self.isPermutation(p), let readers = consumers[n.outputs[0]], readers.count == 1,
                !pinned.contains(n.outputs[0]),
                let (y, z) = Self.reshapeSizes(g.nodes[readers[0]], in: g, producer: producer, shapes: shapes, sizes: sizes),
                y.count == p.count,
                let groups = Self.groups(y, z), Self.pushedForward(p, through: groups, output: z) == nil,
                let (inner, outer) = Self.orderingPart(p, groups), inner != p, outer != Array(0..<outer.count)
            else { return nil }
            return n.outputs[0]
        }
    }

    /// `p` as `inner` then `outer`: `inner` lays each run of axes the Reshape merges out in
    /// order (runs placed by their last source axis), `outer` moves whole runs, so it passes
    /// the Reshape.
    static func orderingPart(_ p: [Int], _ groups: [ReshapeGroup]) -> (inner: [Int], outer: [Int])? {
        let runs = groups.filter { !$0.input.isEmpty }.sorted { g1, g2 in
            g1.input.map { p[$0] }.max()! < g2.input.map { p[$0] }.max()!
        }
        let inner = runs.flatMap { $0.input.map { p[$0] } }
        guard inner.count == p.count else { return nil }
        // y axis j is source axis p[j], which sits at inner's position of it.
        var at = [Int](repeating: 0, count: p.count)
        for (k, v) in inner.enumerated() { at[v] = k }
        return (inner, p.map { at[$0] })
    }

    /// Splits the Transpose writing `value` into its ordering part and the rest, which then
    /// goes past the Reshape that reads it.
    func splitBeforeReshape(_ g: inout Graph, _ value: String, shapes: [String: Shape], sizes: inout [String: [Int]]) -> Bool {
        let producer = g.producers
        guard let i = producer[value], let p = perm(g.nodes[i]), Self.isPermutation(p), let r = g.consumers[value]?.first,
            let (y, z) = Self.reshapeSizes(g.nodes[r], in: g, producer: producer, shapes: shapes, sizes: sizes),
            y.count == p.count,
            let groups = Self.groups(y, z), let (inner, outer) = Self.orderingPart(p, groups),
            let (xSizes, q) = Self.pushedForward(outer, through: groups, output: z)
        else { return false }
        var names = UniqueNameGenerator(graph: g)
        let t = g.nodes[i]
        let reshape = g.nodes[r]
        let ordered = names.fresh(value + "_ordered")
        let reshaped = names.fresh(reshape.outputs[0] + "_untransposed")
        var target = Tensor(dtype: .int64, shape: [xSizes.count], values: xSizes.map { $0 % Self.unknownSize == 0 ? -1 : Int64($0) })
        target.name = names.fresh("reshape_target")
        g.initializers.append(target)
        let x = Self.unpermuted(y, p)
        sizes[ordered] = inner.map { x[$0] }
        sizes[reshaped] = xSizes
        sizes[reshape.outputs[0]] = z
        g.nodes[r] = Node(
            name: names.fresh(reshape.name + "_transpose"), opType: "Transpose", inputs: [reshaped], outputs: reshape.outputs,
            attributes: [Attribute(name: "perm", value: .ints(q.map { Int64($0) }))])
        g.nodes.replaceSubrange(
            i...i,
            with: [
                Node(
                    name: t.name, opType: "Transpose", inputs: t.inputs, outputs: [ordered],
                    attributes: [Attribute(name: "perm", value: .ints(inner.map { Int64($0) }))]),
                Node(name: reshape.name, opType: "Reshape", inputs: [ordered, target.name], outputs: [reshaped]),
            ])
        g.removeDeadCode()
        return true
    }

    /// The sizes before a Transpose `p` that gave `y`.
    static func unpermuted(_ y: [Int], _ p: [Int]) -> [Int] {
        var x = y
        for (j, v) in p.enumerated() { x[v] = y[j] }
        return x
    }
}
