import SwiftConvIR

/// The model an interpreter session runs: the loaded model with resized inputs and, for
/// `experimental_preserve_all_tensors`, every node output exposed as a graph output.
enum InterpreterModel {
    /// A copy of `model` whose inputs `shapes` names take those static shapes.
    ///
    /// A resized model's other static shapes (outputs, intermediates, subgraph values) come
    /// from the file's original sizes and would contradict the new ones, so they are dropped
    /// and re-inferred from the new inputs where the op schemas can; element types and
    /// quantization stay as declared.
    static func prepare(_ model: Model, shapes: [(String, [Int])], preserveAllTensors: Bool) throws -> Model {
        var m = model
        if !shapes.isEmpty {
            let weights = Set(m.graph.initializers.map(\.name))
            for (name, dims) in shapes {
                guard !weights.contains(name), let i = m.graph.inputs.firstIndex(where: { $0.name == name }) else {
                    throw SwiftConvError.invalidArgument("[resize_tensor_input] '\(name)' is not an input of the model")
                }
                if let bad = dims.first(where: { $0 < 0 }) {
                    throw SwiftConvError.invalidArgument(
                        "[resize_tensor_input] dims must be >= 0, not \(bad) (input '\(name)')")
                }
                m.graph.inputs[i].type = retyped(m.graph.inputs[i].type, shape: dims.map { .known($0) })
            }
            m.graph = reinferred(m, keeping: Set(m.graph.inputs.map(\.name)))
        }
        if preserveAllTensors { exposeNodeOutputs(&m.graph) }
        return m
    }

    /// `type` with `shape` (nil: unknown rank), keeping its element type and quantization.
    static func retyped(_ type: ValueType?, shape: Shape?) -> ValueType? {
        switch type {
        case .tensor(let t, _, let q)?: return .tensor(elementType: t, shape: shape, quantization: q)
        case .sparseTensor(let t, _)?: return .sparseTensor(elementType: t, shape: shape)
        default: return type
        }
    }

    /// The main graph with every non-input value's shape inferred again from the inputs;
    /// nil (unknown) where inference has no answer.
    private static func reinferred(_ model: Model, keeping inputs: Set<String>) -> Graph {
        var probe = model
        probe.graph.valueInfo = []
        probe.graph.outputs = probe.graph.outputs.map { ValueInfo(name: $0.name, type: nil) }
        ShapeInference.infer(&probe, registry: .standard)
        var inferred = [String: Shape]()
        for info in probe.graph.valueInfo + probe.graph.outputs {
            if case .tensor(_, let s?, _)? = info.type, inferred[info.name] == nil { inferred[info.name] = s }
        }
        var g = model.graph
        for i in g.valueInfo.indices where !inputs.contains(g.valueInfo[i].name) {
            g.valueInfo[i].type = retyped(g.valueInfo[i].type, shape: inferred[g.valueInfo[i].name])
        }
        for i in g.outputs.indices where !inputs.contains(g.outputs[i].name) {
            g.outputs[i].type = retyped(g.outputs[i].type, shape: inferred[g.outputs[i].name])
        }
        for n in g.nodes.indices {
            for a in g.nodes[n].attributes.indices {
                switch g.nodes[n].attributes[a].value {
                case .graph(var sub)?:
                    dropShapes(&sub, depth: 0)
                    g.nodes[n].attributes[a].value = .graph(sub)
                case .graphs(var subs)?:
                    for s in subs.indices { dropShapes(&subs[s], depth: 0) }
                    g.nodes[n].attributes[a].value = .graphs(subs)
                default:
                    break
                }
            }
        }
        return g
    }

    /// Forgets every static shape of a subgraph (its inputs too: a loop body carries the
    /// resized batch); nesting past the importer's limit is left alone.
    private static func dropShapes(_ g: inout Graph, depth: Int) {
        guard depth < 32 else { return }
        for i in g.inputs.indices { g.inputs[i].type = retyped(g.inputs[i].type, shape: nil) }
        for i in g.outputs.indices { g.outputs[i].type = retyped(g.outputs[i].type, shape: nil) }
        for i in g.valueInfo.indices { g.valueInfo[i].type = retyped(g.valueInfo[i].type, shape: nil) }
        for n in g.nodes.indices {
            for a in g.nodes[n].attributes.indices {
                if case .graph(var sub)? = g.nodes[n].attributes[a].value {
                    dropShapes(&sub, depth: depth + 1)
                    g.nodes[n].attributes[a].value = .graph(sub)
                }
            }
        }
    }

    /// Appends every node output that is not already a graph input or output to the graph
    /// outputs (in node order), so a run returns them; their declared info moves along.
    private static func exposeNodeOutputs(_ g: inout Graph) {
        var taken = Set(g.inputs.map(\.name) + g.outputs.map(\.name) + g.initializers.map(\.name))
        var declared = [String: ValueInfo]()
        for info in g.valueInfo where declared[info.name] == nil { declared[info.name] = info }
        var moved = Set<String>()
        for node in g.nodes {
            for name in node.outputs where !name.isEmpty && taken.insert(name).inserted {
                g.outputs.append(declared[name] ?? ValueInfo(name: name, type: nil))
                moved.insert(name)
            }
        }
        g.valueInfo.removeAll { moved.contains($0.name) }
    }
}
