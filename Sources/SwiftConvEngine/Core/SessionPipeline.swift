import SwiftConvIR
import SwiftConvPasses

/// The graph rewrites a session runs between checking a model and planning it.
///
/// Results never depend on the level (within float rounding of fused kernels); only the
/// number and cost of kernels do. Later rewrites (constant folding, layout) join here.
public enum SessionPipeline {
    /// What running needs at every level, even `disableAll`: kernels exist for ops, not for
    /// model-local functions.
    public static func preparation() -> [any ModelPass] { [FunctionInlining()] }

    /// The optional rewrites `level` allows, in order: none when disabled; dead-code removal
    /// from basic; from extended, Conv + activation fusion, the Erf GELU as one `com.microsoft`
    /// Gelu node, and removal of what they left behind.
    public static func passes(for level: GraphOptimizationLevel) -> [any ModelPass] {
        var passes: [any ModelPass] = []
        if level.rawValue >= GraphOptimizationLevel.basic.rawValue { passes.append(DeadCodeElimination()) }
        if level.rawValue >= GraphOptimizationLevel.extended.rawValue {
            passes += [ConvActivationFusion(), GeluFusion(), DeadCodeElimination()]
        }
        return passes
    }

    /// Preparation, then the rewrites of `level`: the whole pipeline a session runs.
    public static func pipeline(for level: GraphOptimizationLevel) -> PassPipeline {
        PassPipeline(name: "session-\(level)", passes: preparation() + passes(for: level))
    }
}
