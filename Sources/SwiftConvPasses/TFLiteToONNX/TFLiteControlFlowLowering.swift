import SwiftConvIR

/// WHILE, IF, CALL_ONCE.
///
/// WHILE becomes ONNX Loop: the condition subgraph runs once before the loop (inlined here)
/// and again at the end of each body iteration. IF becomes ONNX If, whose branches take no
/// inputs: the subgraph's inputs are renamed to the outer values they receive. CALL_ONCE
/// initializes resource variables, which ONNX lacks: its subgraph is lowered (so that what
/// cannot be lowered is reported) and dropped. Loop-carried values keep their TFLite types,
/// quantized ones included; each subgraph dequantizes on its own.
extension TFLiteLoweringRules {
    static let controlFlow: [String: TFLiteLoweringRule] = [
        "WHILE": lowerWhile,
        "IF": lowerIf,
        "CALL_ONCE": { l in
            guard let g = l.node.attribute("init_subgraph")?.graph else { throw NotLowerable("no init_subgraph") }
            _ = try l.scope.state.lower(g, depth: l.scope.depth + 1)
        },
    ]

    static func subgraph(_ l: NodeLowering, _ name: String) throws -> Graph {
        guard let g = l.node.attribute(name)?.graph else { throw NotLowerable("no \(name)") }
        return try l.scope.state.lower(g, depth: l.scope.depth + 1)
    }

    static func lowerWhile(_ l: NodeLowering) throws {
        let cond = try subgraph(l, "cond_subgraph")
        var body = try subgraph(l, "body_subgraph")
        let carried = l.node.inputs
        guard cond.inputs.count == carried.count, body.inputs.count == carried.count, body.outputs.count == carried.count,
            l.node.outputs.count == carried.count, cond.outputs.count == 1
        else { throw NotLowerable("the subgraphs' inputs and outputs do not match the loop's") }
        guard cond.nodes.allSatisfy({ $0.subgraphs.isEmpty }) else {
            throw NotLowerable("control flow inside a WHILE condition is not lowered")
        }
        let first = try l.scope.instantiate(cond, inputs: carried)[0]
        let start = l.emit("Reshape", [first, l.int64s([])])
        // The body: (iteration, condition, carried...) -> (condition, carried...).
        let names = l.scope.state
        let iteration = names.names.fresh("iteration")
        let running = names.names.fresh("condition")
        let inner = GraphLowering(graph: Graph(), state: names, depth: l.scope.depth + 1)
        let next = try inner.instantiate(cond, inputs: body.outputs.map(\.name))[0]
        let nextScalar = names.names.fresh("condition_out")
        inner.emit("Reshape", [next, inner.int64s("scalar_shape", [])], [nextScalar])
        body.nodes += inner.nodes
        body.initializers += inner.initializers
        body.inputs =
            [
                ValueInfo(name: iteration, type: .tensor(elementType: .int64, shape: [])),
                ValueInfo(name: running, type: .tensor(elementType: .bool, shape: [])),
            ] + body.inputs
        body.outputs = [ValueInfo(name: nextScalar, type: .tensor(elementType: .bool, shape: []))] + body.outputs
        l.scope.emit("Loop", ["", start] + carried, l.node.outputs, attributes: [Attribute(name: "body", value: .graph(body))])
        for k in l.node.outputs.indices { l.markBound(k) }
    }

    static func lowerIf(_ l: NodeLowering) throws {
        let args = Array(l.node.inputs.dropFirst())
        var branches: [Attribute] = []
        for (tflite, onnx) in [("then_subgraph", "then_branch"), ("else_subgraph", "else_branch")] {
            var g = try subgraph(l, tflite)
            guard g.inputs.count == args.count, g.outputs.count == l.node.outputs.count else {
                throw NotLowerable("\(tflite) does not take the IF's inputs or give its outputs")
            }
            var map: [String: String] = [:]
            for (v, outer) in zip(g.inputs, args) { map[v.name] = outer }
            g = g.renaming(map)
            g.inputs = []
            // A branch that passes an input straight through needs a node to produce it.
            for k in g.outputs.indices where args.contains(g.outputs[k].name) {
                let fresh = l.scope.fresh(g.outputs[k].name + "_branch")
                g.nodes.append(Node(name: fresh, opType: "Identity", inputs: [g.outputs[k].name], outputs: [fresh]))
                g.outputs[k].name = fresh
            }
            branches.append(Attribute(name: onnx, value: .graph(g)))
        }
        let cond = l.emit("Reshape", [try l.raw(0), l.int64s([])])
        l.scope.emit("If", [cond], l.node.outputs, attributes: branches)
        for k in l.node.outputs.indices { l.markBound(k) }
    }
}

extension GraphLowering {
    /// Appends a copy of lowered graph `g` fed by `inputs`, every value it defines renamed
    /// fresh; returns the names of its outputs.
    func instantiate(_ g: Graph, inputs: [String]) throws -> [String] {
        guard g.inputs.count == inputs.count else { throw NotLowerable("a subgraph takes \(g.inputs.count) inputs, not \(inputs.count)") }
        var map: [String: String] = [:]
        for (v, outer) in zip(g.inputs, inputs) { map[v.name] = outer }
        for t in g.initializers { map[t.name] = fresh(t.name) }
        for n in g.nodes { for o in n.outputs where !o.isEmpty { map[o] = fresh(o) } }
        let copy = g.renaming(map)
        for n in copy.nodes {
            var n = n
            n.name = fresh(n.name.isEmpty ? n.opType : n.name)
            nodes.append(n)
        }
        initializers += copy.initializers
        return copy.outputs.map(\.name)
    }
}

extension Graph {
    /// This graph with values renamed by `map` everywhere, nested subgraphs included.
    func renaming(_ map: [String: String]) -> Graph {
        func r(_ s: String) -> String { map[s] ?? s }
        var g = self
        g.inputs = inputs.map {
            var v = $0
            v.name = r(v.name)
            return v
        }
        g.outputs = outputs.map {
            var v = $0
            v.name = r(v.name)
            return v
        }
        g.valueInfo = valueInfo.map {
            var v = $0
            v.name = r(v.name)
            return v
        }
        g.initializers = initializers.map {
            var t = $0
            t.name = r(t.name)
            return t
        }
        g.nodes = nodes.map { node in
            var n = node
            n.inputs = n.inputs.map(r)
            n.outputs = n.outputs.map(r)
            n.attributes = n.attributes.map { a in
                var a = a
                switch a.value {
                case .graph(let sub)?: a.value = .graph(sub.renaming(map))
                case .graphs(let subs)?: a.value = .graphs(subs.map { $0.renaming(map) })
                default: break
                }
                return a
            }
            return n
        }
        return g
    }
}
