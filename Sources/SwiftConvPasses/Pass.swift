import SwiftConvIR

/// A named rewrite of a model: constant folding, a fusion, layout propagation, a lowering.
///
/// Passes depend on the IR only, so the engine, every converter and every front end run
/// the same ones. A pass must keep the model's results (within float rounding where it
/// says so) unless its documentation says otherwise, and report whether it changed anything
/// so that pipelines can run to a fixed point.
public protocol ModelPass {
    /// A short stable name (`"fuse-conv-activation"`), used in logs, errors and pipeline specs.
    var name: String { get }
    /// Rewrites `model` in place; returns true when anything changed.
    func run(on model: inout Model) throws -> Bool
}
