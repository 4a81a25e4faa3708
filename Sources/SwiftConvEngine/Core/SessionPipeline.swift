import SwiftConvIR
import SwiftConvPasses

/// The graph rewrites a session runs between checking a model and planning it.
///
/// Results never depend on the level (within float rounding of fused kernels); only the
/// number and cost of kernels do.
public enum SessionPipeline {
    /// What running needs at every level, even `disableAll`: kernels exist for ops, not for
    /// model-local functions.
    public static func preparation() -> [any ModelPass] { [FunctionInlining()] }

    /// The optional rewrites `level` allows, in order: none when disabled; from basic, shape
    /// folding and dead-code removal; from extended, Conv + residual Add (+ activation) and
    /// Conv + activation fusion, the Erf GELU as one `com.microsoft` Gelu node, LayerNorm (and
    /// the residual Add before it) as one node, and removal of what they left behind.
    public static func passes(for level: GraphOptimizationLevel) -> [any ModelPass] {
        var passes: [any ModelPass] = []
        if level.rawValue >= GraphOptimizationLevel.basic.rawValue { passes += [shapeFolding(), DeadCodeElimination()] }
        if level.rawValue >= GraphOptimizationLevel.extended.rawValue {
            passes += [ConvAddFusion(), ConvActivationFusion(), GeluFusion(), LayerNormFusion(), DeadCodeElimination()]
        }
        return passes
    }

    /// Constant folding as onnxruntime's basic level does it, kept cheap for session creation:
    /// the shape arithmetic of exporters (`Shape` of statically inferred dims, then `Gather`,
    /// `Unsqueeze`, `Concat`...) and other small constants become initializers in one pass,
    /// weights (more than `shapeFoldingLimit` elements) are never evaluated on, and the value
    /// types the session checker recorded stay valid, so nothing is inferred again. A Reshape
    /// target with one dynamic dim (the batch) becomes a constant with -1 there, so the
    /// `Shape`/`Gather`/`Unsqueeze`/`Concat` chain computing it goes too.
    public static func shapeFolding() -> ConstantFolding {
        ConstantFolding(
            evaluator: EngineConstantEvaluator(), maxElements: shapeFoldingLimit, maxInputElements: shapeFoldingLimit,
            reinfersShapes: false, rewritesReshapeTargets: true)
    }

    /// The largest constant, read or produced, that session folding handles.
    public static let shapeFoldingLimit = 1024

    /// Preparation, then the rewrites of `level`: the whole pipeline a session runs.
    public static func pipeline(for level: GraphOptimizationLevel) -> PassPipeline {
        PassPipeline(name: "session-\(level)", passes: preparation() + passes(for: level))
    }
}
