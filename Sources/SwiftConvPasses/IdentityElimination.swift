import SwiftConvIR

/// Removes Identity nodes of the main graph: readers of the copy read the original instead,
/// or, when the copy is a graph output, the original's producer writes the output directly.
///
/// Lowerings emit an Identity wherever a rule's last value is not the node's output name;
/// this keeps the rules simple and the result free of copies. When either name could go,
/// the copy's name stays (a lowering's output names are the source model's), and a value
/// map entry of the name that goes passes to the one that stays. An Identity whose names
/// are both interface names (graph input to graph output) or read by subgraphs stays.
public struct IdentityElimination: ModelPass {
    public let name = "eliminate-identity"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        var changed = false
        var map = try? ValueMap(model: model)
        while let (i, from, to) = removable(in: model.graph) {
            apply(i, renaming: from, to: to, in: &model.graph)
            map?.derive(to, from: from)
            changed = true
        }
        if changed { map?.store(in: &model) }
        return changed
    }

    /// The Identity to remove and the name that goes (`from`) for the one that stays (`to`).
    private func removable(in g: Graph) -> (Int, from: String, to: String)? {
        let interface = Set(g.inputs.map(\.name) + g.outputs.map(\.name) + g.initializers.map(\.name))
        let captured = g.namesReadBySubgraphs
        let uses = g.useCounts
        let producer = g.producers
        for (i, n) in g.nodes.enumerated() where n.opType == "Identity" && n.canonicalDomain.isEmpty {
            guard n.inputs.count == 1, n.outputs.count == 1, !n.inputs[0].isEmpty else { continue }
            let (x, y) = (n.inputs[0], n.outputs[0])
            if !interface.contains(x), !captured.contains(x), uses[x] == 1, producer[x] != nil, !captured.contains(y) {
                return (i, x, y)
            }
            if !interface.contains(y) && !captured.contains(y) { return (i, y, x) }
        }
        return nil
    }

    /// Removes node `i` and calls `from` `to` everywhere (the producer writes `to` directly,
    /// or readers read `to`).
    private func apply(_ i: Int, renaming from: String, to: String, in g: inout Graph) {
        g.nodes.remove(at: i)
        for k in g.nodes.indices {
            g.nodes[k].inputs = g.nodes[k].inputs.map { $0 == from ? to : $0 }
            g.nodes[k].outputs = g.nodes[k].outputs.map { $0 == from ? to : $0 }
        }
        g.valueInfo.removeAll { $0.name == from }
    }
}
