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
        let (x, adjX) = try adjointOperand(l, 0)
        let (y, adjY) = try adjointOperand(l, 1)
        var attributes: [Attribute] = []
        if adjX { attributes.append(.int("adj_x", 1)) }
        if adjY { attributes.append(.int("adj_y", 1)) }
        try l.bind(0, l.emit("BATCH_MATMUL", [x, y], attributes: attributes))
    }

    /// Operand `k` of a MatMul, or, when it is an ONNX Transpose that only swaps the last two
    /// axes of a computed value and nothing else reads, that Transpose's input with the
    /// BATCH_MATMUL adjoint flag set (the TRANSPOSE then goes as dead code).
    static func adjointOperand(_ l: ToTFLiteNode, _ k: Int) throws -> (String, Bool) {
        let value = l.node.inputs[k]
        let g = l.scope.graph
        guard let p = g.producers[value], g.nodes[p].opType == "Transpose", g.nodes[p].canonicalDomain.isEmpty,
            let perm = g.nodes[p].attribute("perm")?.ints, perm.count >= 2, g.useCounts[value] == 1,
            !g.outputs.contains(where: { $0.name == value }), g.constantTensor(named: g.nodes[p].inputs[0]) == nil
        else { return (try l.input(k), false) }
        let r = perm.count
        let swap = (0..<(r - 2)).map { Int64($0) } + [Int64(r - 1), Int64(r - 2)]
        guard perm == swap else { return (try l.input(k), false) }
        return (l.scope.resolve(g.nodes[p].inputs[0]), true)
    }
}
