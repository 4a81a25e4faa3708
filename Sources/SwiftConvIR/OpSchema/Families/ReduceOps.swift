/// Reductions (axes as an attribute up to opset 17, ReduceSum 12; as an input after) and ArgMax/ArgMin.
enum ReduceOps {
    static let names = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]

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
            r.add(name, since: inputVersions, inputs: "1?", outputs: "1", attributes: "keepdims:i noop_with_empty_axes:i",
                  rule: reduce)
        }
        r.add("NegativeLogLikelihoodLoss", since: [12, 13, 22], inputs: "11?", outputs: "1",
              attributes: "ignore_index:i reduction:s", rule: loss)
        r.add("SoftmaxCrossEntropyLoss", since: [12, 13], inputs: "11?", outputs: "1?",
              attributes: "ignore_index:i reduction:s", rule: loss)
        for name in ["ArgMax", "ArgMin"] {
            r.add(name, since: [1, 11, 12, 13], inputs: "1", outputs: "1",
                  attributes: "axis:i keepdims:i select_last_index:i", rule: { ctx in
                guard let x = ctx.shape(0) else { ctx.setOutput(0, .int64, nil); return }
                guard let axis = ShapeMath.axis(ctx.int("axis", default: 0), rank: x.count) else { return }
                var out = x
                if ctx.int("keepdims", default: 1) != 0 { out[axis] = .known(1) } else { out.remove(at: axis) }
                ctx.setOutput(0, .int64, out)
            })
        }
    }

    static let loss: TypeInferenceRule = { ctx in
        // reduction "none" keeps the per-sample shape (input minus the class axis); otherwise a scalar.
        let none = ctx.string("reduction", default: "mean") == "none"
        ctx.setOutput(0, ctx.dtype(0), none ? ctx.shape(1) : [])
        if ctx.hasOutput(1) { ctx.propagate(from: 0, to: 1) }
    }

    static let reduce: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let keep = ctx.int("keepdims", default: 1) != 0
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
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
            if ctx.int("noop_with_empty_axes", default: 0) != 0 { ctx.setOutput(0, dtype, x); return }
            axes = Array(0..<x.count)
        }
        var set = Set<Int>()
        for a in axes {
            guard let v = ShapeMath.axis(a, rank: x.count) else { ctx.setOutput(0, dtype, nil); return }
            set.insert(v)
        }
        var out: Shape = []
        for (i, d) in x.enumerated() {
            if set.contains(i) { if keep { out.append(.known(1)) } } else { out.append(d) }
        }
        ctx.setOutput(0, dtype, out)
    }
}
