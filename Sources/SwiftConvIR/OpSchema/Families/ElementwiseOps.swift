/// Arithmetic and math: Add/Sub/Mul/Div/Pow/Mod, variadic Sum/Max/Min/Mean, unary math, Clip, Where.
enum ElementwiseOps {
    static func register(into r: inout OpRegistry) {
        for (name, since) in [
            ("Add", [1, 6, 7, 13, 14]), ("Sub", [1, 6, 7, 13, 14]), ("Mul", [1, 6, 7, 13, 14]),
            ("Div", [1, 6, 7, 13, 14]),
        ] as [(String, [Int64])] {
            r.add(name, since: since, inputs: "11", outputs: "1", rule: { binaryArithmetic(&$0, name) })
        }
        r.add("Pow", since: [1, 7, 12, 13, 15], inputs: "11", outputs: "1", rule: { broadcastRule(&$0, typeFrom: 0) })
        r.add(
            "Mod", since: [10, 13, 28], inputs: "11", outputs: "1", attributes: "fmod:i",
            rule: { broadcastRule(&$0, typeFrom: 0) })
        r.add(
            "BitShift", since: [11, 28], inputs: "11", outputs: "1", attributes: "direction:s!",
            rule: { broadcastRule(&$0, typeFrom: 0) })
        for name in ["BitwiseAnd", "BitwiseOr", "BitwiseXor"] {
            r.add(name, since: [18], inputs: "11", outputs: "1", rule: { broadcastRule(&$0, typeFrom: 0) })
        }
        r.add("BitwiseNot", since: [18], inputs: "1", outputs: "1", rule: unary)
        for name in ["Sum", "Mean"] {
            r.add(name, since: [1, 6, 8, 13], inputs: "v", outputs: "1", rule: variadicRule)
        }
        for name in ["Max", "Min"] {
            r.add(
                name, since: [1, 6, 8, 12, 13], inputs: "v", outputs: "1",
                rule: { ctx in
                    variadicRule(&ctx)
                    if ctx.inputCount == 2 { foldValues(&ctx, name) }
                })
        }
        let unaryOps: [(String, [Int64])] = [
            ("Abs", [1, 6, 13]), ("Neg", [1, 6, 13]), ("Ceil", [1, 6, 13]), ("Floor", [1, 6, 13]),
            ("Exp", [1, 6, 13]), ("Log", [1, 6, 13]), ("Sqrt", [1, 6, 13]), ("Reciprocal", [1, 6, 13]),
            ("Sign", [9, 13]), ("Erf", [9, 13]), ("Round", [11, 22]),
            ("Sin", [7, 22]), ("Cos", [7, 22]), ("Tan", [7, 22]), ("Asin", [7, 22]), ("Acos", [7, 22]),
            ("Atan", [7, 22]), ("Sinh", [9, 22]), ("Cosh", [9, 22]), ("Asinh", [9, 22]), ("Acosh", [9, 22]),
            ("Atanh", [9, 22]), ("Det", [11, 22]),
        ]
        for (name, since) in unaryOps where name != "Det" {
            r.add(name, since: since, inputs: "1", outputs: "1", rule: unary)
        }
        r.add("Clip", since: [1, 6], inputs: "1", outputs: "1", attributes: "max:f min:f", rule: unary)
        r.add("Clip", since: [11, 12, 13], inputs: "1??", outputs: "1", rule: unary)
        r.add(
            "Where", since: [9, 16], inputs: "111", outputs: "1",
            rule: { ctx in
                ctx.setOutput(0, ctx.dtype(1) ?? ctx.dtype(2), ShapeMath.broadcast([ctx.shape(0), ctx.shape(1), ctx.shape(2)]))
                foldWhere(&ctx)
            })
    }

    /// Output has input 0's type and shape.
    static let unary: TypeInferenceRule = { $0.propagate(from: 0) }

    /// The first known element type among the inputs.
    static func firstDType(_ ctx: InferenceContext) -> DType? {
        for i in 0..<ctx.inputCount { if let t = ctx.dtype(i) { return t } }
        return nil
    }

    static func broadcastRule(_ ctx: inout InferenceContext, typeFrom t: Int) {
        let shape = ShapeMath.broadcast((0..<ctx.inputCount).map { ctx.shape($0) })
        ctx.setOutput(0, ctx.dtype(t), shape)
    }

    static let variadicRule: TypeInferenceRule = { ctx in
        let shape = ShapeMath.broadcast((0..<ctx.inputCount).map { ctx.shape($0) })
        ctx.setOutput(0, firstDType(ctx), shape)
    }

    static func binaryArithmetic(_ ctx: inout InferenceContext, _ name: String) {
        broadcastRule(&ctx, typeFrom: ctx.dtype(0) != nil ? 0 : 1)
        foldValues(&ctx, name)
    }

    /// Folds known small integer values (shape arithmetic such as `Mul(Gather(Shape(x)), 8)`).
    static func foldValues(_ ctx: inout InferenceContext, _ name: String) {
        guard let a = ctx.values(0), let b = ctx.values(1), (ctx.rank(0) ?? 2) <= 1, (ctx.rank(1) ?? 2) <= 1 else {
            return
        }
        guard let pairs = ShapeMath.broadcastPairs(a, b) else { return }
        ctx.setValues(0, pairs.map { combine(name, $0, $1) })
    }

    static func combine(_ name: String, _ x: Dim, _ y: Dim) -> Dim {
        switch name {
        case "Add":
            if y == .known(0) { return x }
            if x == .known(0) { return y }
            return ShapeMath.add(x, y)
        case "Sub":
            if y == .known(0) { return x }
            guard let a = x.value, let b = y.value else { return .unknown }
            let (r, o) = a.subtractingReportingOverflow(b)
            return o ? .unknown : .known(r)
        case "Mul": return ShapeMath.mul(x, y)
        case "Div":
            if y == .known(1) { return x }
            guard let a = x.value, let b = y.value, b != 0, !(a == Int.min && b == -1) else { return .unknown }
            // Integer Div truncates toward zero, as Swift does.
            return .known(a / b)
        case "Max":
            guard let a = x.value, let b = y.value else { return .unknown }
            return .known(max(a, b))
        case "Min":
            guard let a = x.value, let b = y.value else { return .unknown }
            return .known(min(a, b))
        default: return .unknown
        }
    }

    /// `Where(cond, a, b)` over known 1-D values (the pattern torch emits before Expand/Reshape).
    static func foldWhere(_ ctx: inout InferenceContext) {
        guard let c = ctx.values(0), let a = ctx.values(1), let b = ctx.values(2) else { return }
        let n = max(c.count, a.count, b.count)
        guard [c.count, a.count, b.count].allSatisfy({ $0 == n || $0 == 1 }) else { return }
        var out: [Dim] = []
        for i in 0..<n {
            guard let cond = c[c.count == 1 ? 0 : i].value else { return }
            out.append(cond != 0 ? a[a.count == 1 ? 0 : i] : b[b.count == 1 ? 0 : i])
        }
        ctx.setValues(0, out)
    }
}
