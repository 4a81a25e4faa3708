/// Optimizer steps of the ai.onnx.preview.training domain: Adagrad, Adam, Momentum.
enum TrainingOps {
    static let domain = OpDomain.training

    static func register(into r: inout OpRegistry) {
        r.add(
            "Adagrad", domain: domain, since: [1], inputs: "11v", outputs: "v",
            attributes: "decay_factor:f epsilon:f norm_coefficient:f", rule: nil)
        r.add(
            "Adam", domain: domain, since: [1], inputs: "11v", outputs: "v",
            attributes: "alpha:f beta:f epsilon:f norm_coefficient:f norm_coefficient_post:f", rule: nil)
        r.add(
            "Momentum", domain: domain, since: [1], inputs: "11v", outputs: "v",
            attributes: "alpha:f! beta:f! mode:s! norm_coefficient:f!", rule: nil)
    }
}
