/// TFLite layout builtins (`tflite` domain): they move or reinterpret elements of any dtype,
/// quantized int8 included (bytes kept as they are).
enum TFLiteShapeOps {
    static func register(into r: inout OpRegistry) {
        let tfl = OpDomain.tflite
        r.add(
            "RESHAPE", domain: tfl, since: [1], inputs: "1?", outputs: "1", attributes: "new_shape:is",
            rule: { ctx in
                let spec = ctx.ints(1) ?? (ctx.has(1) ? nil : ctx.ints("new_shape"))
                ctx.setOutput(0, ctx.dtype(0), spec.flatMap { reshaped(ctx.shape(0), $0) })
            })
        r.add(
            "TRANSPOSE", domain: tfl, since: [1], inputs: "11", outputs: "1",
            rule: { ctx in
                var shape: Shape? = nil
                if let s = ctx.shape(0), let perm = ctx.ints(1), perm.sorted() == Array(0..<s.count) { shape = perm.map { s[$0] } }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        r.add(
            "CONCATENATION", domain: tfl, since: [1], inputs: "v", outputs: "1", attributes: "axis:i fused_activation_function:s",
            rule: { ctx in
                var shape: Shape? = nil
                let shapes = (0..<ctx.inputCount).map { ctx.shape($0) }
                if let first = shapes.first ?? nil, shapes.allSatisfy({ $0?.count == first.count }) {
                    let axis = ctx.int("axis", default: 0)
                    let a = axis < 0 ? axis + first.count : axis
                    if a >= 0, a < first.count {
                        shape = first
                        shape?[a] = shapes.dropFirst().reduce(first[a]) { ShapeMath.add($0, $1?[a] ?? .unknown) }
                    }
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        r.add(
            "SQUEEZE", domain: tfl, since: [1], inputs: "1", outputs: "1", attributes: "squeeze_dims:is",
            rule: { ctx in
                var shape: Shape? = nil
                if let s = ctx.shape(0) {
                    let dims = Set((ctx.ints("squeeze_dims") ?? []).map { $0 < 0 ? $0 + s.count : $0 })
                    if dims.isEmpty {
                        if s.allSatisfy({ $0.value != nil }) { shape = s.filter { $0 != .known(1) } }
                    } else {
                        shape = s.enumerated().filter { !dims.contains($0.offset) }.map(\.element)
                    }
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        r.add(
            "EXPAND_DIMS", domain: tfl, since: [1], inputs: "11", outputs: "1",
            rule: { ctx in
                var shape: Shape? = nil
                if var s = ctx.shape(0), let axis = ctx.ints(1)?.first {
                    let a = axis < 0 ? axis + s.count + 1 : axis
                    if a >= 0, a <= s.count {
                        s.insert(.known(1), at: a)
                        shape = s
                    }
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        r.add(
            "PACK", domain: tfl, since: [1], inputs: "v", outputs: "1", attributes: "values_count:i axis:i",
            rule: { ctx in
                var shape: Shape? = nil
                if var s = ctx.shape(0) {
                    let axis = ctx.int("axis", default: 0)
                    let a = axis < 0 ? axis + s.count + 1 : axis
                    if a >= 0, a <= s.count {
                        s.insert(.known(ctx.inputCount), at: a)
                        shape = s
                    }
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        r.add(
            "UNPACK", domain: tfl, since: [1], inputs: "1", outputs: "v", attributes: "num:i axis:i",
            rule: { ctx in
                var shape: Shape? = nil
                if var s = ctx.shape(0) {
                    let axis = ctx.int("axis", default: 0)
                    let a = axis < 0 ? axis + s.count : axis
                    if a >= 0, a < s.count {
                        s.remove(at: a)
                        shape = s
                    }
                }
                for o in 0..<ctx.outputCount { ctx.setOutput(o, ctx.dtype(0), shape) }
            })
        r.add(
            "SPLIT", domain: tfl, since: [1], inputs: "11", outputs: "v", attributes: "num_splits:i",
            rule: { ctx in
                var shape: Shape? = nil
                if var s = ctx.shape(1), let axis = ctx.ints(0)?.first, ctx.outputCount > 0 {
                    let a = axis < 0 ? axis + s.count : axis
                    if a >= 0, a < s.count {
                        s[a] = s[a].value.map { $0 % ctx.outputCount == 0 ? .known($0 / ctx.outputCount) : .unknown } ?? .unknown
                        shape = s
                    }
                }
                for o in 0..<ctx.outputCount { ctx.setOutput(o, ctx.dtype(1), shape) }
            })
        r.add(
            "SPLIT_V", domain: tfl, since: [1], inputs: "111", outputs: "v", attributes: "num_splits:i",
            rule: { ctx in
                let s = ctx.shape(0)
                let axis = ctx.ints(2)?.first
                let sizes = ctx.ints(1)
                for o in 0..<ctx.outputCount {
                    var shape: Shape? = nil
                    if var s, let axis, let sizes, sizes.count == ctx.outputCount, sizes[o] >= 0 {
                        let a = axis < 0 ? axis + s.count : axis
                        if a >= 0, a < s.count {
                            s[a] = .known(sizes[o])
                            shape = s
                        }
                    }
                    ctx.setOutput(o, ctx.dtype(0), shape)
                }
            })
        r.add(
            "SHAPE", domain: tfl, since: [1], inputs: "1", outputs: "1", attributes: "out_type:s",
            rule: { ctx in
                // Only an explicit INT32/INT64 says; absent options read as the schema default FLOAT32.
                let dtype = ctx.string("out_type").flatMap(TFLiteTensorType.dtype)
                ctx.setOutput(0, dtype == .int32 || dtype == .int64 ? dtype : nil, ctx.rank(0).map { [.known($0)] })
                if let s = ctx.shape(0) { ctx.setValues(0, s) }
            })
        r.add(
            "FILL", domain: tfl, since: [1], inputs: "11", outputs: "1",
            rule: { ctx in ctx.setOutput(0, ctx.dtype(1), ctx.values(0)) })
        for name in ["ZEROS_LIKE", "ONES_LIKE"] {
            r.add(name, domain: tfl, since: [1], inputs: "1", outputs: "1", rule: ElementwiseOps.unary)
        }
        r.add(
            "BROADCAST_TO", domain: tfl, since: [1], inputs: "11", outputs: "1",
            rule: { ctx in ctx.setOutput(0, ctx.dtype(0), ctx.values(1)) })
        r.add(
            "TILE", domain: tfl, since: [1], inputs: "11", outputs: "1",
            rule: { ctx in
                var shape: Shape? = nil
                if let s = ctx.shape(0), let m = ctx.ints(1), m.count == s.count {
                    shape = zip(s, m).map { ShapeMath.mul($0, .known($1)) }
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        r.add(
            "RANGE", domain: tfl, since: [1], inputs: "111", outputs: "1",
            rule: { ctx in ctx.setOutput(0, ctx.dtype(0), [.unknown]) })
    }

    /// `shape` reshaped by a TFLite spec (one -1 inferred; 0 is a real zero, unlike ONNX).
    static func reshaped(_ shape: Shape?, _ spec: [Int]) -> Shape? {
        guard spec.filter({ $0 == -1 }).count <= 1, spec.allSatisfy({ $0 >= -1 }) else { return nil }
        guard let wildcard = spec.firstIndex(of: -1) else { return spec.map { .known($0) } }
        var out: Shape = spec.map { .known($0) }
        out[wildcard] = .unknown
        if let shape, let total = ShapeMath.product(shape), total.symbols.isEmpty {
            let rest = spec.filter { $0 != -1 }.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            if rest > 0, total.known % rest == 0 { out[wildcard] = .known(total.known / rest) }
        }
        return out
    }
}
