import SwiftConvIR

/// Activations: the TFLite builtins where one exists (RELU, LOGISTIC, TANH, LEAKY_RELU, PRELU,
/// ELU, HARD_SWISH, GELU, SOFTMAX, LOG_SOFTMAX), Clip as the RELU its bounds name, and the
/// rest (Selu, Celu, an Elu with alpha ≠ 1, HardSigmoid, Softplus, Softsign, Mish,
/// ThresholdedRelu, Hardmax) as short compositions of float32 builtins.
extension ONNXToTFLiteRules {
    static let activation: [String: ToTFLiteRule] = [
        "Relu": lowerRelu,
        "Sigmoid": { l in try lowerUnary(l, "LOGISTIC", types: [.float32]) },
        "Tanh": { l in try lowerUnary(l, "TANH", types: [.float32]) },
        "Clip": lowerClip,
        "LeakyRelu": lowerLeakyRelu,
        "PRelu": lowerPRelu,
        "Elu": { l in try lowerExponentialLinear(l, alpha: Double(l.float("alpha", 1)), scale: 1, inner: 1) },
        "Selu": { l in
            try lowerExponentialLinear(
                l, alpha: Double(l.float("alpha", 1.67326319217681884765625)), scale: Double(l.float("gamma", 1.05070102214813232421875)),
                inner: 1)
        },
        "Celu": { l in
            let alpha = Double(l.float("alpha", 1))
            guard alpha != 0 else { throw NotLowerable("alpha must not be 0") }
            try lowerExponentialLinear(l, alpha: alpha, scale: 1, inner: 1 / alpha)
        },
        "HardSigmoid": lowerHardSigmoid,
        "HardSwish": { l in try lowerUnary(l, "HARD_SWISH", types: [.float32]) },
        "Softplus": { l in try l.bind(0, try softplus(l, try l.input(0))) },
        "Softsign": lowerSoftsign,
        "Mish": { l in
            let x = try l.input(0)
            try l.bind(0, binary(l, "MUL", x, l.emit("TANH", [try softplus(l, x)])))
        },
        "Gelu": lowerGelu,
        "Softmax": { l in try lowerSoftmax(l, "SOFTMAX") },
        "LogSoftmax": { l in try lowerSoftmax(l, "LOG_SOFTMAX") },
        "Hardmax": lowerHardmax,
        "ThresholdedRelu": lowerThresholdedRelu,
    ]

    /// RELU for float32; integer Relu (opset 14) is MAXIMUM with 0.
    static func lowerRelu(_ l: ToTFLiteNode) throws {
        let t = try requireType(l, 0, [.float32, .int32, .int64])
        let x = try l.input(0)
        if t == .float32 { return try l.bind(0, l.emit("RELU", [x])) }
        try l.bind(0, binary(l, "MAXIMUM", x, try scalar(l, 0, t)))
    }

    /// Clip with constant bounds: RELU, RELU6 or RELU_N1_TO_1 when the bounds are theirs,
    /// MAXIMUM/MINIMUM with constants otherwise.
    static func lowerClip(_ l: ToTFLiteNode) throws {
        let t = try requireType(l, 0, [.float32, .int32, .int64])
        var low: Double? = l.opset < 11 ? l.node.attribute("min")?.float.map { Double($0) } : nil
        var high: Double? = l.opset < 11 ? l.node.attribute("max")?.float.map { Double($0) } : nil
        if l.opset >= 11 {
            if l.has(1) { low = try l.constantFloats(1, what: "min").first.map { Double($0) } }
            if l.has(2) { high = try l.constantFloats(2, what: "max").first.map { Double($0) } }
        }
        let x = try l.input(0)
        if t == .float32 {
            if low == 0 && (high == nil || high == .infinity) { return try l.bind(0, l.emit("RELU", [x])) }
            if low == 0 && high == 6 { return try l.bind(0, l.emit("RELU6", [x])) }
            if low == -1 && high == 1 { return try l.bind(0, l.emit("RELU_N1_TO_1", [x])) }
        }
        var y = x
        if let low, low != -.infinity { y = binary(l, "MAXIMUM", y, try scalar(l, low, t)) }
        if let high, high != .infinity { y = binary(l, "MINIMUM", y, try scalar(l, high, t)) }
        try l.bind(0, y)
    }

    static func lowerLeakyRelu(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        try l.bind(0, l.emit("LEAKY_RELU", [try l.input(0)], attributes: [.float("alpha", l.float("alpha", 0.01))]))
    }

    /// TFLite's PRELU broadcasts the slope against the input as ONNX's does.
    static func lowerPRelu(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        guard l.elementType(1) == .float32 else { throw NotLowerable("the slope must be float32") }
        try l.bind(0, l.emit("PRELU", [try l.input(0), try l.input(1)]))
    }

    /// scale·(max(x, 0) + alpha·(exp(inner·min(x, 0)) − 1)): Elu, Selu and Celu. ELU itself when
    /// that is what it is (alpha, scale and inner all 1).
    static func lowerExponentialLinear(_ l: ToTFLiteNode, alpha: Double, scale: Double, inner: Double) throws {
        try requireType(l, 0, [.float32])
        let x = try l.input(0)
        if alpha == 1 && scale == 1 && inner == 1 { return try l.bind(0, l.emit("ELU", [x])) }
        var negative = binary(l, "MINIMUM", x, try scalar(l, 0, .float32))
        if inner != 1 { negative = try times(l, negative, inner) }
        let curve = try times(l, try plus(l, l.emit("EXP", [negative]), -1), alpha)
        var y = binary(l, "ADD", l.emit("RELU", [x]), curve)
        if scale != 1 { y = try times(l, y, scale) }
        try l.bind(0, y)
    }

    /// max(0, min(1, alpha·x + beta)).
    static func lowerHardSigmoid(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let linear = try plus(l, try times(l, try l.input(0), Double(l.float("alpha", 0.2))), Double(l.float("beta", 0.5)))
        let upper = binary(l, "MINIMUM", linear, try scalar(l, 1, .float32))
        try l.bind(0, binary(l, "MAXIMUM", upper, try scalar(l, 0, .float32)))
    }

    /// log(1 + exp(x)) as max(x, 0) + log(1 + exp(−|x|)), which cannot overflow.
    static func softplus(_ l: ToTFLiteNode, _ x: String) throws -> String {
        try requireType(l, 0, [.float32])
        let tail = l.emit("LOG", [try plus(l, l.emit("EXP", [l.emit("NEG", [l.emit("ABS", [x])])]), 1)])
        return binary(l, "ADD", l.emit("RELU", [x]), tail)
    }

    /// x / (1 + |x|).
    static func lowerSoftsign(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let x = try l.input(0)
        try l.bind(0, binary(l, "DIV", x, try plus(l, l.emit("ABS", [x]), 1)))
    }

    /// Gelu (opset 20): GELU, with `approximate` for the tanh form.
    static func lowerGelu(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let approximate = l.string("approximate", "none")
        guard approximate == "none" || approximate == "tanh" else { throw NotLowerable("approximate '\(approximate)' is unknown") }
        try l.bind(0, l.emit("GELU", [try l.input(0)], attributes: [.int("approximate", approximate == "tanh" ? 1 : 0)]))
    }

    /// TFLite's SOFTMAX and LOG_SOFTMAX work on the last axis. From opset 13 ONNX's axis is
    /// one axis: moved last by a TRANSPOSE and back. Before 13 the input is seen as 2-D,
    /// [d0·…·d(axis−1), d(axis)·…]: a RESHAPE around the op when the axis is not the last.
    static func lowerSoftmax(_ l: ToTFLiteNode, _ op: String) throws {
        try requireType(l, 0, [.float32])
        let rank = try l.rank(0)
        guard rank >= 1 else { throw NotLowerable("the input is a scalar") }
        var axis = Int(l.int("axis", l.opset >= 13 ? -1 : 1))
        if axis < 0 { axis += rank }
        guard axis >= 0, axis < rank else { throw NotLowerable("axis \(l.int("axis", 0)) is out of range for rank \(rank)") }
        let attributes: [Attribute] = op == "SOFTMAX" ? [.float("beta", 1)] : []
        let x = try l.input(0)
        if axis == rank - 1 { return try l.bind(0, l.emit(op, [x], attributes: attributes)) }
        if l.opset >= 13 {
            var perm = Array(0..<rank)
            perm.swapAt(axis, rank - 1)
            let y = l.emit(op, [l.transpose(x, perm)], attributes: attributes)
            return try l.bind(0, l.transpose(y, perm))
        }
        guard let shape = l.shape(0) else { throw NotLowerable("the input shape is unknown") }
        let inner = shape[axis...].reduce(Optional(1)) { p, d in p.flatMap { a in d.value.map { a * $0 } } }
        guard let inner else { throw NotLowerable("the dims from axis \(axis) on must be static (opset < 13 flattens them)") }
        let flat = l.emit("RESHAPE", [x, l.int32s([-1, inner])])
        let y = l.emit(op, [flat], attributes: attributes)
        let back = l.staticShape(0).map { l.int32s($0) } ?? l.emit("SHAPE", [x], attributes: [.string("out_type", "INT32")])
        try l.bind(0, l.emit("RESHAPE", [y, back]))
    }

    /// x where x > alpha, else 0 (SELECT_V2, so no NaN comes from an infinite x).
    static func lowerThresholdedRelu(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let x = try l.input(0)
        let above = l.emit("GREATER", [x, try scalar(l, Double(l.float("alpha", 1)), .float32)])
        try l.bind(0, l.emit("SELECT_V2", [above, x, try scalar(l, 0, .float32)]))
    }

    /// 1 at the first maximum along the axis, 0 elsewhere: ARG_MAX then ONE_HOT on that axis.
    /// Before opset 13 the input is seen as 2-D, [d0·…·d(axis−1), d(axis)·…]: a RESHAPE
    /// around it when the axis is not the last.
    static func lowerHardmax(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let rank = try l.rank(0)
        guard rank >= 1 else { throw NotLowerable("the input is a scalar") }
        var axis = Int(l.int("axis", l.opset >= 13 ? -1 : 1))
        if axis < 0 { axis += rank }
        guard axis >= 0, axis < rank else { throw NotLowerable("axis \(l.int("axis", 0)) is out of range for rank \(rank)") }
        var x = try l.input(0)
        var shapeBack: String?
        let depth: String
        if l.opset < 13 && axis != rank - 1 {
            guard let dims = l.staticShape(0) else {
                throw NotLowerable("opset < 13 flattens the input to 2-D around the axis, which needs a static shape")
            }
            let inner = dims[axis...].reduce(1, *)
            x = l.emit("RESHAPE", [x, l.int32s([-1, inner])])
            shapeBack = l.int32s(dims)
            axis = 1
            depth = l.int32s([inner], shape: [])
        } else {
            depth = try dimSize(l, input: 0, axis: axis)
        }
        let index = l.emit("ARG_MAX", [x, l.int32s([axis])], attributes: [.string("output_type", "INT32")])
        let (on, off) = (try scalar(l, 1, .float32), try scalar(l, 0, .float32))
        var y = l.emit("ONE_HOT", [index, depth, on, off], attributes: [.int("axis", Int64(axis))])
        if let shapeBack { y = l.emit("RESHAPE", [y, shapeBack]) }
        try l.bind(0, y)
    }
}
