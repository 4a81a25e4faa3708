import SwiftConvIR

/// Drops the entries of a model's value map (`swiftconv.value_map`) whose value the main
/// graph no longer has, so that the map names only values a run can produce.
///
/// Passes that rename values carry their entries over (`ValueMap.derive`); values that a
/// rewrite removes leave stale entries, which a converter's pipeline removes with this last.
public struct ValueMapPruning: ModelPass {
    public let name = "prune-value-map"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        guard var map = try? ValueMap(model: model) else { return false }
        let g = model.graph
        let present = Set(g.inputs.map(\.name) + g.nodes.flatMap(\.outputs))
        let before = map.count
        map.filter { present.contains($0) }
        guard map.count != before else { return false }
        map.store(in: &model)
        return true
    }
}
