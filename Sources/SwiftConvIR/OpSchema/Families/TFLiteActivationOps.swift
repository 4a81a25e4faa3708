/// TFLite activation builtins (`tflite` domain): elementwise, type and shape of the input;
/// SOFTMAX and LOG_SOFTMAX over the last axis.
enum TFLiteActivationOps {
    static func register(into r: inout OpRegistry) {
        let tfl = OpDomain.tflite
        for name in ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "ELU", "LOG_SOFTMAX"] {
            r.add(name, domain: tfl, since: [1], inputs: "1", outputs: "1", rule: ElementwiseOps.unary)
        }
        r.add("GELU", domain: tfl, since: [1], inputs: "1", outputs: "1", attributes: "approximate:i", rule: ElementwiseOps.unary)
        r.add("LEAKY_RELU", domain: tfl, since: [1], inputs: "1", outputs: "1", attributes: "alpha:f", rule: ElementwiseOps.unary)
        r.add("SOFTMAX", domain: tfl, since: [1], inputs: "1", outputs: "1", attributes: "beta:f", rule: ElementwiseOps.unary)
        r.add(
            "PRELU", domain: tfl, since: [1], inputs: "11", outputs: "1",
            rule: { ElementwiseOps.broadcastRule(&$0, typeFrom: 0) })
    }
}
