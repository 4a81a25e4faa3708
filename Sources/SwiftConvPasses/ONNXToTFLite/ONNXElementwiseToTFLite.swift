import SwiftConvIR

/// Element-wise arithmetic and math: ADD, SUB, MUL, DIV (numpy broadcasting in both formats),
/// POW, the unary math builtins, Min/Max/Sum/Mean over any number of inputs, Mod, and Erf.
///
/// TFLite does not promote types and each kernel takes only some of them, so every rule
/// checks its input types against what LiteRT's kernel accepts. Erf has no builtin: the GELU
/// pattern around it is fused before lowering (`ErfGeluFusion`); a lone Erf becomes the
/// Abramowitz-Stegun 7.1.26 polynomial (absolute error below 1.5e-7).
extension ONNXToTFLiteRules {
    static let elementwise: [String: ToTFLiteRule] = [
        // ONNX shifts unsigned integers; TFLite has no left shift and no uint64, and its
        // RIGHT_SHIFT has no kernel in our engine yet.
        "BitShift": { _ in throw NotLowerable("TFLite has no LEFT_SHIFT and BitShift (unsigned) is not lowered to RIGHT_SHIFT") },
        "Add": { l in try lowerArithmetic(l, "ADD", types: [.float32, .int32, .int64]) },
        "Sub": { l in try lowerArithmetic(l, "SUB", types: [.float32, .int32, .int64]) },
        "Mul": { l in try lowerArithmetic(l, "MUL", types: [.float32, .int32, .int64]) },
        "Div": lowerDiv,
        "Pow": lowerPow,
        "Sqrt": { l in try lowerUnary(l, "SQRT", types: [.float32]) },
        "Exp": { l in try lowerUnary(l, "EXP", types: [.float32]) },
        "Log": { l in try lowerUnary(l, "LOG", types: [.float32]) },
        "Floor": { l in try lowerUnary(l, "FLOOR", types: [.float32]) },
        "Ceil": { l in try lowerUnary(l, "CEIL", types: [.float32]) },
        // TFLite's ROUND rounds half to even, as ONNX's Round does.
        "Round": { l in try lowerUnary(l, "ROUND", types: [.float32]) },
        "Sin": { l in try lowerUnary(l, "SIN", types: [.float32]) },
        "Cos": { l in try lowerUnary(l, "COS", types: [.float32]) },
        "Neg": { l in try lowerUnary(l, "NEG", types: [.float32, .int32, .int64]) },
        "Abs": { l in try lowerUnary(l, "ABS", types: [.float32, .int32]) },
        "Sign": { l in try lowerUnary(l, "SIGN", types: [.float32, .int32]) },
        "Reciprocal": lowerReciprocal,
        "Erf": lowerErf,
        "Min": { l in try lowerVariadic(l, "MINIMUM", types: [.float32, .int32, .int64]) },
        "Max": { l in try lowerVariadic(l, "MAXIMUM", types: [.float32, .int32, .int64]) },
        "Sum": lowerSum,
        "Mean": lowerMean,
        "Mod": lowerMod,
    ]

    // MARK: shared by the math families

    /// The element type of input `k`, which must be one of `allowed`.
    @discardableResult
    static func requireType(_ l: ToTFLiteNode, _ k: Int, _ allowed: [DType]) throws -> DType {
        guard let t = l.elementType(k) else { throw NotLowerable("the element type of input \(k) is unknown") }
        guard allowed.contains(t) else {
            throw NotLowerable("\(t) input \(k) has no TFLite form here (\(allowed.map { "\($0)" }.joined(separator: ", ")) only)")
        }
        return t
    }

    /// Inputs `ks` in one element type, which must be one of `allowed`. TFLite does not
    /// promote; where int32 values meet int64 ones (shape arithmetic is int32 in the lowered
    /// graph), the int64 side becomes int32: a constant is narrowed, any other value CAST.
    static func operands(_ l: ToTFLiteNode, _ ks: [Int], _ allowed: [DType]) throws -> (names: [String], type: DType) {
        var types = Set<DType>()
        for k in ks {
            guard let t = l.elementType(k) else { throw NotLowerable("the element type of input \(k) is unknown") }
            types.insert(t)
        }
        let type: DType
        let names: [String]
        if types.count == 1, let t = types.first {
            (type, names) = (t, try ks.map { try l.input($0) })
        } else if types == [.int32, .int64] {
            (type, names) = (.int32, try ks.map { try l.int32Input($0) })
        } else {
            throw NotLowerable("its inputs' types differ (\(types.map { "\($0)" }.sorted().joined(separator: ", ")))")
        }
        guard allowed.contains(type) else {
            throw NotLowerable("\(type) inputs have no TFLite form here (\(allowed.map { "\($0)" }.joined(separator: ", ")) only)")
        }
        return (names, type)
    }

    /// A scalar constant `value` of `dtype` (float32, int32 or int64).
    static func scalar(_ l: ToTFLiteNode, _ value: Double, _ dtype: DType) throws -> String {
        switch dtype {
        case .float32: return l.floatConstant(Tensor(dtype: .float32, shape: [], values: [Float(value)]))
        case .int32:
            guard let v = Int32(exactly: value) else { throw NotLowerable("\(value) is not an int32") }
            return l.floatConstant(Tensor(dtype: .int32, shape: [], values: [v]))
        case .int64:
            guard let v = Int64(exactly: value) else { throw NotLowerable("\(value) is not an int64") }
            return l.floatConstant(Tensor(dtype: .int64, shape: [], values: [v]))
        default: throw NotLowerable("no \(dtype) constant in TFLite")
        }
    }

    /// A two-input op with no options beyond the fused activation (set to NONE).
    static func binary(_ l: ToTFLiteNode, _ op: String, _ a: String, _ b: String) -> String {
        let fusing: Set<String> = ["ADD", "SUB", "MUL", "DIV"]
        return l.emit(op, [a, b], attributes: fusing.contains(op) ? [.string("fused_activation_function", "NONE")] : [])
    }

    /// A float32 scalar multiple, sum or difference of `x` (the composite rules' glue).
    static func times(_ l: ToTFLiteNode, _ x: String, _ c: Double) throws -> String { binary(l, "MUL", x, try scalar(l, c, .float32)) }
    static func plus(_ l: ToTFLiteNode, _ x: String, _ c: Double) throws -> String { binary(l, "ADD", x, try scalar(l, c, .float32)) }

    // MARK: rules

    static func lowerArithmetic(_ l: ToTFLiteNode, _ op: String, types: [DType]) throws {
        // Mixed int32/int64 operands run in int32; later rules must see that type.
        let (x, t) = try operands(l, [0, 1], types)
        try l.bind(0, binary(l, op, x[0], x[1]), as: t)
    }

    /// DIV takes float32 and int32 (integer DIV truncates, as ONNX's Div). LiteRT has no int64
    /// DIV or FLOOR_DIV, so an int64 Div runs in int32 (as the lowered shape arithmetic does)
    /// and is exact while its values fit int32; its result is CAST back to int64.
    static func lowerDiv(_ l: ToTFLiteNode) throws {
        let (x, t) = try operands(l, [0, 1], [.float32, .int32, .int64])
        guard t == .int64 else { return try l.bind(0, binary(l, "DIV", x[0], x[1]), as: t) }
        let quotient = binary(l, "DIV", try l.int32Input(0), try l.int32Input(1))
        try l.bind(0, l.cast(quotient, to: .int64))
    }

    static func lowerUnary(_ l: ToTFLiteNode, _ op: String, types: [DType]) throws {
        try requireType(l, 0, types)
        try l.bind(0, l.emit(op, [try l.input(0)]))
    }

    static func lowerReciprocal(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        try l.bind(0, binary(l, "DIV", try scalar(l, 1, .float32), try l.input(0)))
    }

    /// A constant scalar exponent of 1, 2 or 0.5 needs no POW (MUL x·x, SQRT); otherwise POW,
    /// whose two inputs must share the base's type (ONNX allows another exponent type).
    static func lowerPow(_ l: ToTFLiteNode) throws {
        let t = try requireType(l, 0, [.float32, .int32])
        let x = try l.input(0)
        if let e = l.constant(1), e.elementCount == 1, let v = e.doubleValues()?.first {
            if v == 1 { return try l.bind(0, x) }
            if v == 2 { return try l.bind(0, binary(l, "MUL", x, x)) }
            if v == 0.5 && t == .float32 { return try l.bind(0, l.emit("SQRT", [x])) }
            return try l.bind(0, l.emit("POW", [x, try scalar(l, v, t)]))
        }
        guard let et = l.elementType(1) else { throw NotLowerable("the element type of the exponent is unknown") }
        let exponent = et == t ? try l.input(1) : l.cast(try l.input(1), to: t)
        try l.bind(0, l.emit("POW", [x, exponent]))
    }

    /// erf(x) = sign(x)·(1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·exp(−x²)), t = 1/(1 + p·|x|).
    static func lowerErf(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let x = try l.input(0)
        let coefficients = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429]
        let t = binary(l, "DIV", try scalar(l, 1, .float32), try plus(l, try times(l, l.emit("ABS", [x]), 0.3275911), 1))
        var poly = try scalar(l, coefficients[4], .float32)
        for c in coefficients[..<4].reversed() {
            poly = try plus(l, binary(l, "MUL", poly, t), c)
        }
        poly = binary(l, "MUL", poly, t)
        let gauss = l.emit("EXP", [l.emit("NEG", [binary(l, "MUL", x, x)])])
        let magnitude = binary(l, "SUB", try scalar(l, 1, .float32), binary(l, "MUL", poly, gauss))
        try l.bind(0, binary(l, "MUL", l.emit("SIGN", [x]), magnitude))
    }

    /// The inputs of a variadic op, all of one allowed type.
    static func variadicInputs(_ l: ToTFLiteNode, types: [DType]) throws -> (names: [String], type: DType) {
        let present = (0..<l.node.inputs.count).filter { l.has($0) }
        guard !present.isEmpty else { throw NotLowerable("it has no inputs") }
        return try operands(l, present, types)
    }

    /// Min/Max of n inputs: a chain of n−1 broadcasting MINIMUM/MAXIMUM.
    static func lowerVariadic(_ l: ToTFLiteNode, _ op: String, types: [DType]) throws {
        let (inputs, _) = try variadicInputs(l, types: types)
        try l.bind(0, inputs.dropFirst().reduce(inputs[0]) { binary(l, op, $0, $1) })
    }

    /// The sum of the inputs: ADD_N when three or more share one static shape (it does not
    /// broadcast), else a chain of ADD.
    static func sum(_ l: ToTFLiteNode, types: [DType]) throws -> (String, count: Int) {
        let (inputs, t) = try variadicInputs(l, types: types)
        let present = (0..<l.node.inputs.count).filter { l.has($0) }
        let shapes = present.map { l.staticShape($0) }
        if inputs.count > 2, t != .int64, let s = shapes[0], shapes.allSatisfy({ $0 == s }) {
            return (l.emit("ADD_N", inputs), inputs.count)
        }
        return (inputs.dropFirst().reduce(inputs[0]) { binary(l, "ADD", $0, $1) }, inputs.count)
    }

    static func lowerSum(_ l: ToTFLiteNode) throws {
        try l.bind(0, try sum(l, types: [.float32, .int32, .int64]).0)
    }

    static func lowerMean(_ l: ToTFLiteNode) throws {
        let (total, count) = try sum(l, types: [.float32])
        if count == 1 { return try l.bind(0, total) }
        try l.bind(0, binary(l, "DIV", total, try scalar(l, Double(count), .float32)))
    }

    /// fmod=0 (integers; the remainder takes the divisor's sign) is FLOOR_MOD. fmod=1 (the
    /// dividend's sign, C's fmod) is sign(a)·FLOOR_MOD(|a|, |b|).
    static func lowerMod(_ l: ToTFLiteNode) throws {
        let fmod = l.int("fmod", 0) != 0
        let (x, t) = try operands(l, [0, 1], fmod ? [.float32, .int32] : [.int32, .int64])
        let (a, b) = (x[0], x[1])
        guard fmod else { return try l.bind(0, binary(l, "FLOOR_MOD", a, b), as: t) }
        let magnitude = binary(l, "FLOOR_MOD", l.emit("ABS", [a]), l.emit("ABS", [b]))
        try l.bind(0, binary(l, "MUL", l.emit("SIGN", [a]), magnitude), as: t)
    }
}
