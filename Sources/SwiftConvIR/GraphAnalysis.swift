/// Structural queries on a graph (order, producers, readers) that the executor and every
/// pass share, so that none of them re-derives them with its own rules.
extension Node {
    /// The graphs held by this node's attributes (If branches, Loop and Scan bodies).
    public var subgraphs: [Graph] {
        attributes.flatMap { a -> [Graph] in
            switch a.value {
            case .graph(let g)?: return [g]
            case .graphs(let gs)?: return gs
            default: return []
            }
        }
    }

    /// Names this node's subgraphs read but do not define: the outer values they capture.
    /// Listed per subgraph in first-read order, so a name two subgraphs read appears twice.
    public var subgraphCaptures: [String] { subgraphs.flatMap(\.freeNames) }

    /// Every name this node reads: its listed inputs (omitted ones skipped), then its captures.
    public var readNames: [String] { inputs.filter { !$0.isEmpty } + subgraphCaptures }
}

extension Graph {
    /// Names this graph reads but does not define (inputs, initializers, node outputs), in
    /// first-read order without repeats: what a subgraph takes from its enclosing graphs.
    public var freeNames: [String] {
        var defined = Set(inputs.map(\.name))
        defined.formUnion(initializers.map(\.name))
        defined.formUnion(sparseInitializers.map(\.values.name))
        for n in nodes { defined.formUnion(n.outputs) }
        var out: [String] = []
        var seen = Set<String>()
        for name in nodes.flatMap(\.readNames) + outputs.map(\.name)
        where !name.isEmpty && !defined.contains(name) && seen.insert(name).inserted {
            out.append(name)
        }
        return out
    }

    /// The index of the node that produces each value (the last one, should two claim it).
    public var producers: [String: Int] {
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs where !o.isEmpty { producer[o] = i } }
        return producer
    }

    /// The indices of the nodes that read each value, once per read (a node reading a value
    /// twice is listed twice); a read by a node's subgraph counts as a read by that node.
    public var consumers: [String: [Int]] {
        var readers: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for name in n.readNames { readers[name, default: []].append(i) } }
        return readers
    }

    /// How many reads each value has: node inputs and subgraph captures (graph outputs not counted).
    public var useCounts: [String: Int] {
        var uses: [String: Int] = [:]
        for n in nodes { for name in n.readNames { uses[name, default: 0] += 1 } }
        return uses
    }

    /// Values read from inside some node's subgraph; a rewrite must not rename or remove them.
    public var namesReadBySubgraphs: Set<String> { Set(nodes.flatMap(\.subgraphCaptures)) }

    /// The nodes in dependency order: Kahn's algorithm, keeping file order among ready nodes.
    /// Names no node produces (inputs, initializers, outer values) count as available.
    /// A cycle is a validation error naming a node on it.
    public func topologicallyOrderedNodes() throws -> [Node] {
        let producer = producers
        var pending = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            var deps = Set<Int>()
            for name in n.readNames { if let p = producer[name], p != i { deps.insert(p) } }
            pending[i] = deps.count
            for d in deps { dependents[d].append(i) }
        }
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }
        var order: [Node] = []
        order.reserveCapacity(nodes.count)
        var head = 0
        while head < ready.count {
            let i = ready[head]
            head += 1
            order.append(nodes[i])
            for c in dependents[i] {
                pending[c] -= 1
                if pending[c] == 0 { ready.append(c) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = nodes.indices.first { pending[$0] > 0 }.map { nodes[$0] }
            throw SwiftConvError.validation("the graph has a cycle through node '\(stuck?.name ?? "?")' (\(stuck?.opType ?? "?"))")
        }
        return order
    }

    /// The constant behind `name`: an initializer that is not also a graph input (inputs
    /// may be fed at run time), or the `value` of a default-domain Constant node.
    public func constantTensor(named name: String) -> Tensor? {
        guard !name.isEmpty, !inputs.contains(where: { $0.name == name }) else { return nil }
        if let t = initializer(named: name) { return t }
        guard let p = producers[name], nodes[p].opType == "Constant", nodes[p].canonicalDomain.isEmpty else { return nil }
        return nodes[p].attribute("value")?.tensor
    }

    /// Every name defined or referenced anywhere in this graph and its subgraphs: values,
    /// declared value_info and node names. A new name must avoid all of them, since a
    /// subgraph may not reuse a name of its enclosing graphs.
    public var allNames: Set<String> {
        var names = Set(inputs.map(\.name) + outputs.map(\.name) + valueInfo.map(\.name))
        names.formUnion(initializers.map(\.name))
        names.formUnion(sparseInitializers.map(\.values.name))
        for n in nodes {
            names.formUnion(n.inputs)
            names.formUnion(n.outputs)
            names.insert(n.name)
            for g in n.subgraphs { names.formUnion(g.allNames) }
        }
        names.remove("")
        return names
    }
}

/// Hands out names that no value or node of a graph uses yet (nor any earlier fresh name).
public struct UniqueNameGenerator {
    private var taken: Set<String>

    /// Reserves every name `graph` (and its subgraphs) already uses.
    public init(graph: Graph) { taken = graph.allNames }

    /// `base` itself when it is free, otherwise `base_1`, `base_2`, ...
    public mutating func fresh(_ base: String) -> String {
        var candidate = base
        var k = 0
        while candidate.isEmpty || taken.contains(candidate) {
            k += 1
            candidate = "\(base)_\(k)"
        }
        taken.insert(candidate)
        return candidate
    }
}

extension Graph {
    /// Removes nodes none of whose outputs is read (by a node, a subgraph or as a graph output),
    /// transitively; then initializers nothing reads that are not graph inputs, and the
    /// value_info of every removed value. Subgraphs are cleaned the same way. Returns whether
    /// anything was removed. Graph inputs and outputs are the graph's interface and stay.
    @discardableResult
    public mutating func removeDeadCode() -> Bool {
        var changed = false
        for k in nodes.indices {
            for a in nodes[k].attributes.indices {
                switch nodes[k].attributes[a].value {
                case .graph(var g)?:
                    if g.removeDeadCode() {
                        nodes[k].attributes[a].value = .graph(g)
                        changed = true
                    }
                case .graphs(var gs)?:
                    var any = false
                    for i in gs.indices where gs[i].removeDeadCode() { any = true }
                    if any {
                        nodes[k].attributes[a].value = .graphs(gs)
                        changed = true
                    }
                default: break
                }
            }
        }

        // Mark live backwards from the graph outputs through producers.
        let producer = producers
        var live = [Bool](repeating: false, count: nodes.count)
        var needed = Set<String>()
        var pending = outputs.map(\.name)
        while let name = pending.popLast() {
            guard needed.insert(name).inserted, let p = producer[name], !live[p] else { continue }
            live[p] = true
            pending += nodes[p].readNames
        }
        var removed = Set<String>()
        if live.contains(false) {
            for (i, n) in nodes.enumerated() where !live[i] { removed.formUnion(n.outputs.filter { !$0.isEmpty }) }
            nodes = nodes.enumerated().filter { live[$0.offset] }.map(\.element)
            changed = true
        }

        let inputNames = Set(inputs.map(\.name))
        for t in initializers where !needed.contains(t.name) && !inputNames.contains(t.name) { removed.insert(t.name) }
        for s in sparseInitializers where !needed.contains(s.values.name) && !inputNames.contains(s.values.name) {
            removed.insert(s.values.name)
        }
        guard !removed.isEmpty else { return changed }
        initializers.removeAll { removed.contains($0.name) }
        sparseInitializers.removeAll { removed.contains($0.values.name) }
        valueInfo.removeAll { removed.contains($0.name) }
        return true
    }
}
