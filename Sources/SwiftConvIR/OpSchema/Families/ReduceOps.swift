/// Reductions (axes as an attribute up to opset 17, ReduceSum 12; as an input after).
enum ReduceOps {
    static let names = [
        "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    ]

    static func register(into r: inout OpRegistry) {
        for name in names {
            let inputAxesSince: Int64 = name == "ReduceSum" ? 13 : 18
            var attrVersions: [Int64] = [1, 11, 13]
            if name == "ReduceMax" || name == "ReduceMin" { attrVersions = [1, 11, 12, 13] }
            if name == "ReduceSum" { attrVersions = [1, 11] }
            r.add(name, since: attrVersions, inputs: "1", outputs: "1", attributes: "axes:is keepdims:i", rule: reduce)
            var inputVersions: [Int64] = [inputAxesSince]
            if name == "ReduceMax" || name == "ReduceMin" { inputVersions.append(20) }
            if name == "ReduceLogSum" || name == "ReduceLogSumExp" { inputVersions.append(28) }
            r.add(
                name, since: inputVersions, inputs: "1?", outputs: "1", attributes: "keepdims:i noop_with_empty_axes:i",
                rule: reduce)
        }
    }

    static let reduce: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let keep = ctx.int("keepdims", default: 1) != 0
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        var axes: [Int]
        if let a = ctx.ints("axes") {
            axes = a
        } else if ctx.has(1) {
            guard let a = ctx.ints(1) else {
                // Axes decided at run time: with keepdims the rank survives.
                ctx.setOutput(0, dtype, keep ? Shape(repeating: .unknown, count: x.count) : nil)
                return
            }
            axes = a
        } else {
            axes = []
        }
        if axes.isEmpty {
            if ctx.int("noop_with_empty_axes", default: 0) != 0 {
                ctx.setOutput(0, dtype, x)
                return
            }
            axes = Array(0..<x.count)
        }
        var set = Set<Int>()
        for a in axes {
            guard let v = ShapeMath.axis(a, rank: x.count) else {
                ctx.setOutput(0, dtype, nil)
                return
            }
            set.insert(v)
        }
        var out: Shape = []
        for (i, d) in x.enumerated() {
            if set.contains(i) { if keep { out.append(.known(1)) } } else { out.append(d) }
        }
        ctx.setOutput(0, dtype, out)
    }
}
