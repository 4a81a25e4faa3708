/// Gathers, scatters and selections: Gather*, Scatter*, TensorScatter, OneHot, NonZero, Compress, TopK, Unique, Trilu, ReverseSequence, CumSum, CumProd, ArgMax, ArgMin.
enum IndexingOps {
    static func register(into r: inout OpRegistry) {
        r.add("Gather", since: [1, 11, 13], inputs: "11", outputs: "1", attributes: "axis:i", rule: gather)
        r.add(
            "GatherElements", since: [11, 13], inputs: "11", outputs: "1", attributes: "axis:i",
            rule: { $0.setOutput(0, $0.dtype(0), $0.shape(1)) })
        r.add("GatherND", since: [11], inputs: "11", outputs: "1", rule: gatherND)
        r.add("GatherND", since: [12, 13], inputs: "11", outputs: "1", attributes: "batch_dims:i", rule: gatherND)
        r.add("Scatter", since: [9, 11], inputs: "111", outputs: "1", attributes: "axis:i", rule: ElementwiseOps.unary)
        r.add(
            "ScatterElements", since: [11, 13, 16, 18], inputs: "111", outputs: "1", attributes: "axis:i reduction:s",
            rule: ElementwiseOps.unary)
        r.add(
            "ScatterND", since: [11, 13, 16, 18], inputs: "111", outputs: "1", attributes: "reduction:s",
            rule: ElementwiseOps.unary)
        r.add(
            "TensorScatter", since: [24], inputs: "11?", outputs: "1", attributes: "axis:i mode:s",
            rule: ElementwiseOps.unary)
        r.add(
            "OneHot", since: [9, 11, 28], inputs: "111", outputs: "1", attributes: "axis:i",
            rule: { ctx in
                let dtype = ctx.dtype(2)
                guard let idx = ctx.shape(0) else {
                    ctx.setOutput(0, dtype, nil)
                    return
                }
                let depth: Dim = ctx.doubles(1)?.first.map { ShapeMath.dim($0) } ?? .unknown
                guard let axis = ShapeMath.axis(ctx.int("axis", default: -1), rank: idx.count + 1) else { return }
                var out = idx
                out.insert(depth, at: axis)
                ctx.setOutput(0, dtype, out)
            })
        r.add(
            "NonZero", since: [9, 13], inputs: "1", outputs: "1",
            rule: { ctx in
                ctx.setOutput(0, .int64, ctx.rank(0).map { [.known($0), .unknown] })
            })
        r.add(
            "Compress", since: [9, 11, 28], inputs: "11", outputs: "1", attributes: "axis:i",
            rule: { ctx in
                guard let x = ctx.shape(0), let a = ctx.int("axis") else {
                    ctx.setOutput(0, ctx.dtype(0), [.unknown])
                    return
                }
                guard let axis = ShapeMath.axis(a, rank: x.count) else { return }
                var out = x
                out[axis] = .unknown
                ctx.setOutput(0, ctx.dtype(0), out)
            })
        r.add("TopK", since: [1], inputs: "1", outputs: "11", attributes: "axis:i k:i!", rule: topK)
        r.add("TopK", since: [10, 11, 24], inputs: "11", outputs: "11", attributes: "axis:i largest:i sorted:i", rule: topK)
        r.add(
            "Unique", since: [11, 28], inputs: "1", outputs: "1???", attributes: "axis:i sorted:i",
            rule: { ctx in
                if let a = ctx.int("axis"), let x = ctx.shape(0), let axis = ShapeMath.axis(a, rank: x.count) {
                    var out = x
                    out[axis] = .unknown
                    ctx.setOutput(0, ctx.dtype(0), out)
                } else {
                    ctx.setOutput(0, ctx.dtype(0), [.unknown])
                }
                for o in 1..<4 { ctx.setOutput(o, .int64, [.unknown]) }
            })
        r.add("Trilu", since: [14], inputs: "1?", outputs: "1", attributes: "upper:i", rule: ElementwiseOps.unary)
        r.add(
            "ReverseSequence", since: [10, 28], inputs: "11", outputs: "1", attributes: "batch_axis:i time_axis:i",
            rule: ElementwiseOps.unary)
        r.add("CumSum", since: [11, 14], inputs: "11", outputs: "1", attributes: "exclusive:i reverse:i", rule: ElementwiseOps.unary)
        r.add("CumProd", since: [26], inputs: "11", outputs: "1", attributes: "exclusive:i reverse:i", rule: ElementwiseOps.unary)
        for name in ["ArgMax", "ArgMin"] {
            r.add(
                name, since: [1, 11, 12, 13], inputs: "1", outputs: "1",
                attributes: "axis:i keepdims:i select_last_index:i",
                rule: { ctx in
                    guard let x = ctx.shape(0) else {
                        ctx.setOutput(0, .int64, nil)
                        return
                    }
                    guard let axis = ShapeMath.axis(ctx.int("axis", default: 0), rank: x.count) else { return }
                    var out = x
                    if ctx.int("keepdims", default: 1) != 0 { out[axis] = .known(1) } else { out.remove(at: axis) }
                    ctx.setOutput(0, .int64, out)
                })
        }
    }

    static let gather: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), let idx = ctx.shape(1),
            let axis = ShapeMath.axis(ctx.int("axis", default: 0), rank: x.count)
        else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        ctx.setOutput(0, dtype, Array(x[..<axis]) + idx + Array(x[(axis + 1)...]))
        if x.count == 1, idx.count <= 1, let v = ctx.values(0), let i = ctx.ints(1) {
            var out: [Dim] = []
            for k in i {
                let j = k < 0 ? k + v.count : k
                guard j >= 0, j < v.count else { return }
                out.append(v[j])
            }
            ctx.setValues(0, out)
        }
    }

    static let gatherND: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let b = ctx.int("batch_dims", default: 0)
        guard let x = ctx.shape(0), let idx = ctx.shape(1), let last = idx.last?.value, b >= 0, last >= 0,
            b < 1 << 20, last < 1 << 20, b + last <= x.count
        else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        ctx.setOutput(0, dtype, Array(idx.dropLast()) + Array(x[(b + last)...]))
    }

    static let topK: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), let axis = ShapeMath.axis(ctx.int("axis", default: -1), rank: x.count) else {
            ctx.setOutput(0, dtype, nil)
            ctx.setOutput(1, .int64, nil)
            return
        }
        let k: Int? = ctx.opset < 10 ? ctx.int("k") : ctx.ints(1)?.first
        var out = x
        out[axis] = k.map { .known($0) } ?? .unknown
        ctx.setOutput(0, dtype, out)
        ctx.setOutput(1, .int64, out)
    }
}
