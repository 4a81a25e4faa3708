import SwiftConvIR

/// RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1, LOGISTIC, TANH, HARD_SWISH, GELU, LEAKY_RELU, PRELU,
/// ELU, SOFTMAX, LOG_SOFTMAX.
///
/// HardSwish and Gelu are ONNX ops only from opsets 14 and 20; below those they are written
/// out (x * HardSigmoid(x) with TFLite's 1/6 slope; Gelu through Erf or its tanh form).
extension TFLiteLoweringRules {
    static let activation: [String: TFLiteLoweringRule] = [
        "RELU": { l in try l.bind(0, l.emit("Relu", [try l.input(0)])) },
        "RELU6": { l in try l.bind(0, l.emit("Clip", [try l.input(0), l.float(0), l.float(6)])) },
        "RELU_N1_TO_1": { l in try l.bind(0, l.emit("Clip", [try l.input(0), l.float(-1), l.float(1)])) },
        "RELU_0_TO_1": { l in try l.bind(0, l.emit("Clip", [try l.input(0), l.float(0), l.float(1)])) },
        "LOGISTIC": { l in try l.bind(0, l.emit("Sigmoid", [try l.input(0)])) },
        "TANH": { l in try l.bind(0, l.emit("Tanh", [try l.input(0)])) },
        "ELU": { l in try l.bind(0, l.emit("Elu", [try l.input(0)], attributes: [.float("alpha", 1)])) },
        "LEAKY_RELU": { l in
            try l.bind(0, l.emit("LeakyRelu", [try l.input(0)], attributes: [.float("alpha", l.float("alpha", 0))]))
        },
        "PRELU": { l in try l.bind(0, l.emit("PRelu", [try l.input(0), try l.input(1)])) },
        "HARD_SWISH": { l in
            let x = try l.input(0)
            if l.opset >= 14 { return try l.bind(0, l.emit("HardSwish", [x])) }
            let gate = l.emit("HardSigmoid", [x], attributes: [.float("alpha", 1.0 / 6), .float("beta", 0.5)])
            try l.bind(0, l.emit("Mul", [x, gate]))
        },
        "GELU": lowerGelu,
        "SOFTMAX": { l in try lowerSoftmax(l, op: "Softmax") },
        "LOG_SOFTMAX": { l in try lowerSoftmax(l, op: "LogSoftmax") },
    ]

    static func lowerGelu(_ l: NodeLowering) throws {
        let x = try l.input(0)
        let approximate = l.bool("approximate")
        if l.opset >= 20 {
            return try l.bind(0, l.emit("Gelu", [x], attributes: [.string("approximate", approximate ? "tanh" : "none")]))
        }
        let inner: String
        if approximate {
            // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
            let cube = l.emit("Mul", [l.emit("Mul", [x, x]), x])
            let sum = l.emit("Add", [x, l.emit("Mul", [cube, l.float(0.044715)])])
            inner = l.emit("Tanh", [l.emit("Mul", [sum, l.float(Float((2 / Double.pi).squareRoot()))])])
        } else {
            inner = l.emit("Erf", [l.emit("Mul", [x, l.float(Float(0.5.squareRoot()))])])
        }
        let half = l.emit("Mul", [x, l.float(0.5)])
        try l.bind(0, l.emit("Mul", [half, l.emit("Add", [inner, l.float(1)])]))
    }

    /// TFLite normalizes over the last axis, after scaling by beta.
    static func lowerSoftmax(_ l: NodeLowering, op: String) throws {
        var x = try l.input(0)
        let beta = l.float("beta", 1)
        if beta != 1 { x = l.emit("Mul", [x, l.float(beta)]) }
        try l.bind(0, l.emit(op, [x], attributes: [.int("axis", -1)]))
    }
}
