/// Activations and the softmax family; all keep their input's type and shape.
enum ActivationOps {
    static func register(into r: inout OpRegistry) {
        let same = ElementwiseOps.unary
        let plain: [(String, [Int64], String)] = [
            ("Relu", [1, 6, 13, 14], ""), ("Sigmoid", [1, 6, 13], ""), ("Tanh", [1, 6, 13], ""),
            ("LeakyRelu", [1, 6, 16], "alpha:f"), ("Elu", [1, 6, 22], "alpha:f"), ("Selu", [1, 6, 22], "alpha:f gamma:f"),
            ("Celu", [12, 28], "alpha:f"), ("HardSigmoid", [1, 6, 22], "alpha:f beta:f"), ("HardSwish", [14, 22], ""),
            ("Softplus", [1, 22], ""), ("Softsign", [1, 22], ""), ("ThresholdedRelu", [10, 22], "alpha:f"),
            ("Mish", [18, 22], ""), ("Gelu", [20], "approximate:s"), ("Swish", [24], "alpha:f"),
            ("Shrink", [9], "bias:f lambd:f"),
        ]
        for (name, since, attrs) in plain {
            r.add(name, since: since, inputs: "1", outputs: "1", attributes: attrs, rule: same)
        }
        // onnxruntime's contrib exact GELU; the session's GeluFusion produces it.
        r.add("Gelu", domain: "com.microsoft", since: [1], inputs: "1", outputs: "1", rule: same)
        for name in ["Softmax", "LogSoftmax", "Hardmax"] {
            r.add(name, since: [1, 11, 13], inputs: "1", outputs: "1", attributes: "axis:i", rule: same)
        }
        r.add(
            "PRelu", since: [1, 6, 7, 9, 16], inputs: "11", outputs: "1",
            rule: { ctx in
                // Slope broadcasts to X (unidirectionally), so the output is X's shape.
                ctx.propagate(from: 0)
            })
        r.add("SwiGLU", since: [28], inputs: "11", outputs: "1", attributes: "alpha:f", rule: ElementwiseOps.unary)
    }
}
