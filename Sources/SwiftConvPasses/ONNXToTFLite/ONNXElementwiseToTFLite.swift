import SwiftConvIR

/// Element-wise arithmetic and activations: ADD, SUB, MUL, DIV (numpy broadcasting in both
/// formats), RELU, RELU6, LOGISTIC, TANH, and Clip as the TFLite activation its bounds name.
extension ONNXToTFLiteRules {
    static let elementwise: [String: ToTFLiteRule] = [
        "Add": { l in try lowerBinary(l, "ADD") },
        "Sub": { l in try lowerBinary(l, "SUB") },
        "Mul": { l in try lowerBinary(l, "MUL") },
        "Div": { l in try lowerBinary(l, "DIV") },
        "Relu": { l in try lowerUnary(l, "RELU") },
        "Sigmoid": { l in try lowerUnary(l, "LOGISTIC") },
        "Tanh": { l in try lowerUnary(l, "TANH") },
        "Clip": lowerClip,
    ]

    static func lowerBinary(_ l: ToTFLiteNode, _ op: String) throws {
        var attributes: [Attribute] = []
        if ["ADD", "SUB", "MUL", "DIV"].contains(op) { attributes.append(.string("fused_activation_function", "NONE")) }
        try l.bind(0, l.emit(op, [try l.input(0), try l.input(1)], attributes: attributes))
    }

    static func lowerUnary(_ l: ToTFLiteNode, _ op: String) throws {
        try l.bind(0, l.emit(op, [try l.input(0)]))
    }

    /// Clip with constant bounds: RELU, RELU6 or RELU_N1_TO_1 when the bounds are theirs,
    /// MAXIMUM/MINIMUM with constants otherwise.
    static func lowerClip(_ l: ToTFLiteNode) throws {
        guard l.elementType(0) == .float32 else { throw NotLowerable("only float32 Clip is lowered so far") }
        var low: Float? = l.opset < 11 ? l.node.attribute("min")?.float : nil
        var high: Float? = l.opset < 11 ? l.node.attribute("max")?.float : nil
        if l.opset >= 11 {
            if l.has(1) { low = try l.constantFloats(1, what: "min").first }
            if l.has(2) { high = try l.constantFloats(2, what: "max").first }
        }
        let x = try l.input(0)
        if low == 0 && (high == nil || high == .infinity) { return try l.bind(0, l.emit("RELU", [x])) }
        if low == 0 && high == 6 { return try l.bind(0, l.emit("RELU6", [x])) }
        if low == -1 && high == 1 { return try l.bind(0, l.emit("RELU_N1_TO_1", [x])) }
        var y = x
        if let low { y = l.emit("MAXIMUM", [y, l.floatConstant(Tensor(dtype: .float32, shape: [], values: [low]))]) }
        if let high { y = l.emit("MINIMUM", [y, l.floatConstant(Tensor(dtype: .float32, shape: [], values: [high]))]) }
        if y == x { return try l.bind(0, x) }
        try l.bind(0, y)
    }
}
