import SwiftConvIR

/// Gemm and MatMul: FULLY_CONNECTED when the right operand is a constant matrix (its weights
/// [out, in] as TFLite stores them), BATCH_MATMUL otherwise; Einsum of one or two operands as
/// TRANSPOSE, RESHAPE and BATCH_MATMUL.
extension ONNXToTFLiteRules {
    static let matmul: [String: ToTFLiteRule] = [
        "Gemm": lowerGemm,
        "MatMul": lowerMatMul,
        "Einsum": lowerEinsum,
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

    // MARK: Einsum

    /// An Einsum equation with its labels as numbers: a letter's Unicode value, or −1, −2, …
    /// for the dims an ellipsis stands for, counted from the right (so they line up across
    /// operands as broadcasting does).
    struct EinsumEquation {
        var inputs: [[Int]]
        var output: [Int]

        init(_ text: String, ranks: [Int]) throws {
            let chars = Array(text.unicodeScalars.filter { $0 != " " })
            var arrow: Int?
            for i in chars.indices.dropLast() where chars[i] == "-" && chars[i + 1] == ">" { arrow = i }
            let left = Array(chars[..<(arrow ?? chars.count)])
            var terms: [[Unicode.Scalar]] = [[]]
            for c in left {
                if c == "," { terms.append([]) } else { terms[terms.count - 1].append(c) }
            }
            guard terms.count == ranks.count else {
                throw NotLowerable("equation '\(text)' has \(terms.count) operands for \(ranks.count) inputs")
            }
            inputs = try zip(terms, ranks).map { try Self.labels($0, rank: $1, text) }
            let ellipsis = inputs.map { $0.filter { $0 < 0 }.count }.max() ?? 0
            if let arrow {
                let explicit = try Self.labels(Array(chars[(arrow + 2)...]), rank: nil, text, ellipsis: ellipsis)
                output = explicit
            } else {
                // Implicit output: the ellipsis dims, then the letters seen once, in alphabetical order.
                let all = inputs.flatMap { $0 }
                let once = Set(all.filter { v in v > 0 && all.filter { $0 == v }.count == 1 })
                output = (0..<ellipsis).map { $0 - ellipsis } + once.sorted()
            }
            guard Set(output).count == output.count else { throw NotLowerable("equation '\(text)' repeats an output index") }
            let known = Set(inputs.flatMap { $0 })
            guard output.allSatisfy({ known.contains($0) }) else {
                throw NotLowerable("equation '\(text)' has an output index no operand has")
            }
        }

        /// The labels of one term; `rank` says how many dims an ellipsis stands for (the
        /// output's: `ellipsis`).
        static func labels(_ term: [Unicode.Scalar], rank: Int?, _ text: String, ellipsis: Int = 0) throws -> [Int] {
            var letters: [Int] = []
            var dotsAt: Int?
            var i = 0
            while i < term.count {
                if term[i] == "." {
                    guard dotsAt == nil, i + 2 < term.count, term[i + 1] == ".", term[i + 2] == "." else {
                        throw NotLowerable("equation '\(text)' has a malformed ellipsis")
                    }
                    dotsAt = letters.count
                    i += 3
                    continue
                }
                guard term[i].properties.isAlphabetic, term[i].isASCII else {
                    throw NotLowerable("equation '\(text)' has an index that is not a letter")
                }
                letters.append(Int(term[i].value))
                i += 1
            }
            let extra = rank.map { $0 - letters.count } ?? (dotsAt == nil ? 0 : ellipsis)
            guard extra >= 0, dotsAt != nil || extra == 0 else {
                throw NotLowerable("equation '\(text)' does not match an operand of rank \(rank ?? 0)")
            }
            guard let dotsAt else { return letters }
            return Array(letters[..<dotsAt]) + (0..<extra).map { $0 - extra } + Array(letters[dotsAt...])
        }
    }

    /// Einsum of one or two float32 operands: indices only one operand has and the output
    /// lacks are summed out first (SUM); one operand is then a TRANSPOSE, two a BATCH_MATMUL
    /// of [batch..., free, contracted] by [batch..., contracted, free] (adj_x/adj_y instead of
    /// a TRANSPOSE where that order is the operand's), with RESHAPEs where a group has several
    /// (statically known) dims or none. Repeated indices in one operand (diagonals) and three
    /// or more operands are not lowered.
    static func lowerEinsum(_ l: ToTFLiteNode) throws {
        guard let text = l.node.attribute("equation")?.string else { throw NotLowerable("equation is required") }
        let count = l.node.inputs.count
        guard count == 1 || count == 2 else { throw NotLowerable("only one- and two-operand equations are lowered") }
        for k in 0..<count { try requireType(l, k, [.float32]) }
        let equation = try EinsumEquation(text, ranks: try (0..<count).map { try l.rank($0) })
        var labels = equation.inputs
        for term in labels where Set(term).count != term.count {
            throw NotLowerable("equation '\(text)' repeats an index in one operand (a diagonal)")
        }
        // A label's dim in operand k, and its broadcast size over the operands that have it.
        func dim(_ k: Int, _ label: Int) -> Int? {
            guard let d = equation.inputs[k].firstIndex(of: label) else { return nil }
            return l.shape(k)?[d].value
        }
        func size(_ label: Int) -> Int? {
            var result = 1
            for k in 0..<count where equation.inputs[k].contains(label) {
                guard let v = dim(k, label) else { return nil }
                if v != 1 { result = v }
            }
            return result
        }
        var operands = try (0..<count).map { try l.input($0) }
        for k in 0..<count {
            let elsewhere = Set(labels.enumerated().filter { $0.offset != k }.flatMap(\.element) + equation.output)
            let summed = labels[k].indices.filter { !elsewhere.contains(labels[k][$0]) }
            guard !summed.isEmpty else { continue }
            operands[k] = reduction(l, "SUM", operands[k], summed, keep: false)
            labels[k] = labels[k].enumerated().filter { !summed.contains($0.offset) }.map(\.element)
        }
        func permuted(_ x: String, from: [Int], to: [Int]) -> String {
            let perm = to.map { label in from.firstIndex(of: label)! }
            return perm == Array(perm.indices) ? x : l.emit("TRANSPOSE", [x, l.int32s(perm)])
        }
        if count == 1 {
            return try l.bind(0, permuted(operands[0], from: labels[0], to: equation.output))
        }
        let (a, b, out) = (labels[0], labels[1], equation.output)
        let batch = out.filter { a.contains($0) && b.contains($0) }
        let contracted = a.filter { b.contains($0) && !out.contains($0) }
        let freeA = a.filter { !b.contains($0) }
        let freeB = b.filter { !a.contains($0) }
        // An operand's dims after the batch as two groups of one dim each: a RESHAPE when a
        // group has several dims or none (its product, or 1).
        func grouped(_ x: String, _ first: [Int], _ second: [Int], of k: Int) throws -> String {
            if first.count == 1 && second.count == 1 { return x }
            var target: [Int] = batch.map { dim(k, $0) ?? -1 }
            for group in [first, second] {
                guard let product = group.reduce(Optional(1), { p, label in p.flatMap { a in size(label).map { a * $0 } } }) else {
                    throw NotLowerable("equation '\(text)' merges indices of unknown size")
                }
                target.append(product)
            }
            guard target.filter({ $0 < 0 }).count <= 1 else {
                throw NotLowerable("equation '\(text)' has several batch dims of unknown size")
            }
            return l.emit("RESHAPE", [x, l.int32s(target)])
        }
        // Each operand in the order that needs no TRANSPOSE when one exists (adj_x, adj_y).
        let adjX = a == batch + contracted + freeA && !(a == batch + freeA + contracted)
        let adjY = b == batch + freeB + contracted && !(b == batch + contracted + freeB)
        let orderA = adjX ? batch + contracted + freeA : batch + freeA + contracted
        let orderB = adjY ? batch + freeB + contracted : batch + contracted + freeB
        let x = try grouped(
            permuted(operands[0], from: a, to: orderA), adjX ? contracted : freeA, adjX ? freeA : contracted, of: 0)
        let y = try grouped(
            permuted(operands[1], from: b, to: orderB), adjY ? freeB : contracted, adjY ? contracted : freeB, of: 1)
        var z = l.emit(
            "BATCH_MATMUL", [x, y],
            attributes: [.int("adj_x", adjX ? 1 : 0), .int("adj_y", adjY ? 1 : 0), .int("asymmetric_quantize_inputs", 0)])
        let produced = batch + freeA + freeB
        if freeA.count != 1 || freeB.count != 1 {
            var target = batch.map { size($0) ?? -1 }
            for label in freeA + freeB {
                guard let v = size(label) else { throw NotLowerable("equation '\(text)' splits indices of unknown size") }
                target.append(v)
            }
            guard target.filter({ $0 < 0 }).count <= 1 else {
                throw NotLowerable("equation '\(text)' has several batch dims of unknown size")
            }
            // A scalar result is a SQUEEZE: an empty shape constant does not survive the file.
            z =
                target.isEmpty
                ? l.emit("SQUEEZE", [z], attributes: [.ints("squeeze_dims", [Int64]())]) : l.emit("RESHAPE", [z, l.int32s(target)])
        }
        try l.bind(0, permuted(z, from: produced, to: out))
    }
}
