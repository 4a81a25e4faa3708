import SwiftConvIR

/// Gemm and MatMul: FULLY_CONNECTED when the right operand is a constant matrix (its weights
/// [out, in] as TFLite stores them), BATCH_MATMUL otherwise.
extension ONNXToTFLiteRules {
    static let matmul: [String: ToTFLiteRule] = [
        "Gemm": lowerGemm,
        "MatMul": lowerMatMul,
    ]

    static func lowerGemm(_ l: ToTFLiteNode) throws {
        guard l.int("transA", 0) == 0 else { throw NotLowerable("transA=1 is not lowered") }
        guard let b = l.constant(1), b.shape.count == 2, b.dtype == .float32, var w = b.float32Values else {
            throw NotLowerable("B must be a constant float32 matrix")
        }
        let alpha = l.float("alpha", 1)
        let beta = l.float("beta", 1)
        // FULLY_CONNECTED wants weights [out, in]: B as given when transB=1, transposed otherwise.
        var weights = b
        if l.int("transB", 0) == 0 {
            guard let t = b.transposed([1, 0]), let v = t.float32Values else { throw NotLowerable("B cannot be transposed") }
            weights = t
            w = v
        }
        let outCount = weights.shape[0]
        if alpha != 1 { weights = Tensor(dtype: .float32, shape: weights.shape, values: w.map { $0 * alpha }) }
        var inputs = [try l.input(0), l.floatConstant(weights, l.node.inputs[1] + "_fc")]
        if l.has(2) {
            guard let c = l.constant(2), let cv = c.float32Values, cv.count == outCount || cv.count == 1 else {
                throw NotLowerable("C must be a constant float32 vector of \(outCount) (or a scalar)")
            }
            let bias = cv.count == 1 ? [Float](repeating: cv[0] * beta, count: outCount) : cv.map { $0 * beta }
            inputs.append(l.floatConstant(Tensor(dtype: .float32, shape: [outCount], values: bias)))
        } else {
            inputs.append("")
        }
        try l.bind(0, l.emit("FULLY_CONNECTED", inputs, attributes: [.string("fused_activation_function", "NONE")]))
    }

    static func lowerMatMul(_ l: ToTFLiteNode) throws {
        let a = try l.input(0)
        if let b = l.constant(1), b.shape.count == 2, b.dtype == .float32, let t = b.transposed([1, 0]) {
            let keep = try l.rank(0) > 2
            let y = l.emit(
                "FULLY_CONNECTED", [a, l.floatConstant(t, l.node.inputs[1] + "_fc"), ""],
                attributes: [.string("fused_activation_function", "NONE"), .int("keep_num_dims", keep ? 1 : 0)])
            return try l.bind(0, y)
        }
        guard try l.rank(0) >= 2, try l.rank(1) >= 2 else { throw NotLowerable("MatMul of vectors is not lowered") }
        try l.bind(0, l.emit("BATCH_MATMUL", [a, try l.input(1)]))
    }
}
