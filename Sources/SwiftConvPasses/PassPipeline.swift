import SwiftConvIR

/// Passes run as one: in order once, or as a group repeated until a round changes nothing.
///
/// A pipeline is itself a pass, so stages nest: `[inlining, fixedPoint([fold, fuse]), dce]`.
public struct PassPipeline: ModelPass, CustomStringConvertible {
    /// How often the group runs.
    public enum Schedule: Sendable {
        /// Each pass once, in order.
        case once
        /// The whole group again while a round changed something: at most `maxRounds` rounds
        /// that change the model, then one that confirms nothing changes. A group still
        /// changing it is an error, not a silent stop (passes that undo each other never end).
        case untilFixedPoint(maxRounds: Int)
    }

    public let name: String
    public var passes: [any ModelPass]
    public var schedule: Schedule

    public init(name: String, passes: [any ModelPass], schedule: Schedule = .once) {
        self.name = name
        self.passes = passes
        self.schedule = schedule
    }

    /// The pipeline's name and its passes', nested pipelines alike: `name[a, inner[b, c]]`.
    public var description: String {
        name + "[" + passes.map { ($0 as? PassPipeline)?.description ?? $0.name }.joined(separator: ", ") + "]"
    }

    public func run(on model: inout Model) throws -> Bool {
        switch schedule {
        case .once:
            return try runRound(&model)
        case .untilFixedPoint(let maxRounds):
            var changed = false
            for _ in 0...max(maxRounds, 0) {
                guard try runRound(&model) else { return changed }
                changed = true
            }
            throw SwiftConvError.internal(
                "pass pipeline '\(name)' changed the model in each of \(maxRounds) rounds and still changes it; its passes do not converge")
        }
    }

    /// Every pass once; whether any changed the model.
    private func runRound(_ model: inout Model) throws -> Bool {
        var changed = false
        for pass in passes {
            if try pass.run(on: &model) { changed = true }
        }
        return changed
    }
}
