/// Losses: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss.
enum LossOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "NegativeLogLikelihoodLoss", since: [12, 13, 22], inputs: "11?", outputs: "1",
            attributes: "ignore_index:i reduction:s", rule: loss)
        r.add(
            "SoftmaxCrossEntropyLoss", since: [12, 13], inputs: "11?", outputs: "1?",
            attributes: "ignore_index:i reduction:s", rule: loss)
    }

    static let loss: TypeInferenceRule = { ctx in
        // reduction "none" keeps the per-sample shape (input minus the class axis); otherwise a scalar.
        let none = ctx.string("reduction", default: "mean") == "none"
        ctx.setOutput(0, ctx.dtype(0), none ? ctx.shape(1) : [])
        if ctx.hasOutput(1) { ctx.propagate(from: 0, to: 1) }
    }
}
