import SwiftConvIR
import SwiftConvPasses

/// The rewrites `sc.optimize` applies to a model for saving (onnxsim's job), by level.
///
/// Unlike `SessionPipeline`, the result is a model to write and run elsewhere, so it keeps to
/// default-domain ops: no fusion into onnxruntime's contrib ops. Results are unchanged within
/// float rounding (folded BatchNorm weights).
public enum OptimizationPipeline {
    /// The pipeline of `level`:
    /// - disableAll: nothing;
    /// - basic: functions inlined, then identity removal, constant folding (shape subgraphs
    ///   included) and dead-code removal to a fixed point, then shape inference into value_info;
    /// - extended: BatchNormalization folded into the Conv/ConvTranspose/Gemm/MatMul before it too;
    /// - all: transposes merged and cancelled too.
    public static func pipeline(for level: GraphOptimizationLevel, maxFoldedElements: Int = 1 << 22) -> PassPipeline {
        guard level.rawValue >= GraphOptimizationLevel.basic.rawValue else {
            return PassPipeline(name: "optimize-\(level)", passes: [])
        }
        // Identities go first: folded, an Identity of a weight would become a second copy of it.
        var group: [any ModelPass] = [
            IdentityElimination(), ConstantFolding.engine(maxElements: maxFoldedElements), DeadCodeElimination(),
        ]
        if level.rawValue >= GraphOptimizationLevel.extended.rawValue { group.append(BatchNormFolding()) }
        if level == .all { group.append(TransposeCancellation()) }
        group.append(DeadCodeElimination())
        return PassPipeline(
            name: "optimize-\(level)",
            passes: [
                FunctionInlining(),
                PassPipeline(name: "simplify", passes: group, schedule: .untilFixedPoint(maxRounds: 16)),
                ShapeInferencePass(),
            ])
    }
}
