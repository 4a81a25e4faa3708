/// Matrix products: MatMul, Gemm, Det, Einsum, Attention, RotaryEmbedding.
enum MatMulOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "MatMul", since: [1, 9, 13], inputs: "11", outputs: "1",
            rule: { ctx in
                ctx.setOutput(0, ctx.dtype(0), matmulShape(ctx.shape(0), ctx.shape(1)))
            })
        r.add("Gemm", since: [1], inputs: "111", outputs: "1", attributes: "alpha:f beta:f broadcast:i transA:i transB:i", rule: gemm)
        r.add("Gemm", since: [6], inputs: "111", outputs: "1", attributes: "alpha:f beta:f broadcast:i transA:i transB:i", rule: gemm)
        r.add("Gemm", since: [7, 9], inputs: "111", outputs: "1", attributes: "alpha:f beta:f transA:i transB:i", rule: gemm)
        r.add("Gemm", since: [11, 13], inputs: "11?", outputs: "1", attributes: "alpha:f beta:f transA:i transB:i", rule: gemm)
        r.add(
            "Det", since: [11, 22], inputs: "1", outputs: "1",
            rule: { ctx in
                guard let s = ctx.shape(0), s.count >= 2 else {
                    ctx.setOutput(0, ctx.dtype(0), nil)
                    return
                }
                ctx.setOutput(0, ctx.dtype(0), Array(s.dropLast(2)))
            })
        r.add("Einsum", since: [12, 28], inputs: "v", outputs: "1", attributes: "equation:s!", rule: einsum)
        r.add(
            "Attention", since: [23, 24, 25], inputs: "111????", outputs: "1???",
            attributes:
                "is_causal:i kv_num_heads:i left_window_size:i q_num_heads:i qk_matmul_output_mode:i right_window_size:i scale:f softcap:f softmax_precision:i",
            rule: { ctx in
                // Q is [B, heads, S, head] or [B, S, hidden]; the output keeps Q's layout with V's head size.
                guard let q = ctx.shape(0), let v = ctx.shape(2) else {
                    ctx.setOutput(0, ctx.dtype(0), nil)
                    return
                }
                if q.count == 4, v.count == 4 {
                    ctx.setOutput(0, ctx.dtype(0), [q[0], q[1], q[2], v[3]])
                } else if q.count == 3 {
                    ctx.setOutput(0, ctx.dtype(0), [q[0], q[1], .unknown])
                }
            })
        r.add(
            "RotaryEmbedding", since: [23], inputs: "111?", outputs: "1",
            attributes: "interleaved:i num_heads:i rotary_embedding_dim:i", rule: ElementwiseOps.unary)
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

    /// Einsum with an explicit or implicit output; ellipsis broadcasts.
    static let einsum: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let eq = ctx.string("equation") else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        // "..." becomes a single "." so each term is one character per dimension group.
        var chars: [Character] = []
        for c in eq where c != " " {
            if c == ".", chars.last == "." { continue }
            chars.append(c)
        }
        var sides: [[Character]] = [chars]
        if let i = chars.firstIndex(of: "-"), i + 1 < chars.count, chars[i + 1] == ">" {
            sides = [Array(chars[..<i]), Array(chars[(i + 2)...])]
        }
        let lhs = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(Array.init)
        guard lhs.count == ctx.inputCount, sides.count <= 2 else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        var sizes: [Character: Dim] = [:]
        var counts: [Character: Int] = [:]
        var ellipsis: Shape? = []
        for (i, term) in lhs.enumerated() {
            guard let s = ctx.shape(i) else {
                ctx.setOutput(0, dtype, nil)
                return
            }
            let letters = term
            let ellipses = letters.filter { $0 == "." }.count
            let named = letters.count - ellipses
            let ellRank = s.count - named
            guard ellipses <= 1, ellRank >= 0, ellipses == 1 || ellRank == 0 else {
                ctx.setOutput(0, dtype, nil)
                return
            }
            var k = 0
            for c in letters {
                if c == "." {
                    let part = Array(s[k..<(k + ellRank)])
                    ellipsis = ellipsis.flatMap { ShapeMath.broadcast($0, part) }
                    k += ellRank
                } else {
                    let d = s[k]
                    if let old = sizes[c] { sizes[c] = ShapeMath.broadcast(old, d) ?? .unknown } else { sizes[c] = d }
                    counts[c, default: 0] += 1
                    k += 1
                }
            }
        }
        var out: Shape = []
        if sides.count == 2 {
            for c in sides[1] {
                if c == "." { out += ellipsis ?? [] } else { out.append(sizes[c] ?? .unknown) }
            }
        } else {
            out = (ellipsis ?? []) + counts.filter { $0.value == 1 }.keys.sorted().map { sizes[$0] ?? .unknown }
        }
        ctx.setOutput(0, dtype, ellipsis == nil ? nil : out)
    }
}
