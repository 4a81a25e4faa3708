import SwiftConvIR

/// Removes what no graph output depends on: nodes, then unused initializers (not graph
/// inputs) and the value_info of removed values, in the main graph and every subgraph.
///
/// Fusions leave such remains behind (the Constant bounds of a fused Clip); models exported
/// with debugging outputs cut off carry them too.
public struct DeadCodeElimination: ModelPass {
    public let name = "eliminate-dead-code"

    public init() {}

    public func run(on model: inout Model) throws -> Bool { model.graph.removeDeadCode() }
}
