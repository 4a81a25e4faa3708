/// Matrix products: MatMul, Gemm, MatMulInteger.
enum MatMulOps {
    static func register(into r: inout OpRegistry) {
        r.add("MatMul", since: [1, 9, 13], inputs: "11", outputs: "1", rule: { ctx in
            ctx.setOutput(0, ctx.dtype(0), matmulShape(ctx.shape(0), ctx.shape(1)))
        })
        r.add("MatMulInteger", since: [10], inputs: "11??", outputs: "1", rule: { ctx in
            ctx.setOutput(0, .int32, matmulShape(ctx.shape(0), ctx.shape(1)))
        })
        r.add("Gemm", since: [1], inputs: "111", outputs: "1", attributes: "alpha:f beta:f broadcast:i transA:i transB:i", rule: gemm)
        r.add("Gemm", since: [6], inputs: "111", outputs: "1", attributes: "alpha:f beta:f broadcast:i transA:i transB:i", rule: gemm)
        r.add("Gemm", since: [7, 9], inputs: "111", outputs: "1", attributes: "alpha:f beta:f transA:i transB:i", rule: gemm)
        r.add("Gemm", since: [11, 13], inputs: "11?", outputs: "1", attributes: "alpha:f beta:f transA:i transB:i", rule: gemm)
    }

    /// numpy.matmul: 1-D operands get a dimension added and removed again; batch dims broadcast.
    static func matmulShape(_ a: Shape?, _ b: Shape?) -> Shape? {
        guard var a, var b, !a.isEmpty, !b.isEmpty else { return nil }
        let aVector = a.count == 1, bVector = b.count == 1
        if aVector { a.insert(.known(1), at: 0) }
        if bVector { b.append(.known(1)) }
        guard let batch = ShapeMath.broadcast(Array(a.dropLast(2)), Array(b.dropLast(2))) else { return nil }
        if case .known(let k1) = a[a.count - 1], case .known(let k2) = b[b.count - 2], k1 != k2 { return nil }
        var out = batch
        if !aVector { out.append(a[a.count - 2]) }
        if !bVector { out.append(b[b.count - 1]) }
        return out
    }

    static let gemm: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let a = ctx.shape(0), let b = ctx.shape(1), a.count == 2, b.count == 2 else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let m = ctx.int("transA", default: 0) != 0 ? a[1] : a[0]
        let n = ctx.int("transB", default: 0) != 0 ? b[0] : b[1]
        ctx.setOutput(0, dtype, [m, n])
    }
}
