/// Boolean logic, comparisons and predicates.
enum LogicalOps {
    static func register(into r: inout OpRegistry) {
        let boolBroadcast: TypeInferenceRule = { ctx in
            ctx.setOutput(0, .bool, ShapeMath.broadcast([ctx.shape(0), ctx.shape(1)]))
        }
        for name in ["And", "Or", "Xor"] {
            r.add(name, since: [1, 7], inputs: "11", outputs: "1", rule: boolBroadcast)
        }
        r.add("Not", since: [1], inputs: "1", outputs: "1", rule: { $0.setOutput(0, .bool, $0.shape(0)) })
        let compares: [(String, [Int64])] = [
            ("Equal", [1, 7, 11, 13, 19]), ("Greater", [1, 7, 9, 13]), ("Less", [1, 7, 9, 13]),
            ("GreaterOrEqual", [12, 16]), ("LessOrEqual", [12, 16]),
        ]
        for (name, since) in compares {
            r.add(
                name, since: since, inputs: "11", outputs: "1",
                rule: { ctx in
                    boolBroadcast(&ctx)
                    if name == "Equal" { foldEqual(&ctx) }
                })
        }
        r.add("IsNaN", since: [9, 13, 20], inputs: "1", outputs: "1", rule: { $0.setOutput(0, .bool, $0.shape(0)) })
        r.add(
            "IsInf", since: [10, 20], inputs: "1", outputs: "1", attributes: "detect_negative:i detect_positive:i",
            rule: { $0.setOutput(0, .bool, $0.shape(0)) })
    }

    static func foldEqual(_ ctx: inout InferenceContext) {
        guard let a = ctx.values(0), let b = ctx.values(1), let pairs = ShapeMath.broadcastPairs(a, b) else { return }
        var out: [Dim] = []
        for (x, y) in pairs {
            guard let p = x.value, let q = y.value else {
                // A symbolic dim is never negative, so it differs from a negative constant.
                if case .symbolic = x, let q = y.value, q < 0 {
                    out.append(.known(0))
                    continue
                }
                if case .symbolic = y, let p = x.value, p < 0 {
                    out.append(.known(0))
                    continue
                }
                return
            }
            out.append(.known(p == q ? 1 : 0))
        }
        ctx.setValues(0, out)
    }
}
