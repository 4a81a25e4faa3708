/// TFLite reductions (`tflite` domain): the axes are input 1 (int32, scalar or 1-D),
/// `keep_dims` keeps reduced axes as 1; ARG_MAX/ARG_MIN reduce one axis to indices.
enum TFLiteReduceOps {
    static func register(into r: inout OpRegistry) {
        let tfl = OpDomain.tflite
        for name in ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY"] {
            r.add(
                name, domain: tfl, since: [1], inputs: "11", outputs: "1", attributes: "keep_dims:i",
                rule: { ctx in ctx.setOutput(0, ctx.dtype(0), reducedShape(ctx, keepDims: ctx.int("keep_dims", default: 0) != 0)) })
        }
        for name in ["ARG_MAX", "ARG_MIN"] {
            r.add(
                name, domain: tfl, since: [1], inputs: "11", outputs: "1", attributes: "output_type:s",
                rule: { ctx in
                    // Only an explicit INT32/INT64 says; absent options read as the schema default FLOAT32.
                    let dtype = ctx.string("output_type").flatMap(TFLiteTensorType.dtype)
                    ctx.setOutput(0, dtype == .int32 || dtype == .int64 ? dtype : nil, reducedShape(ctx, keepDims: false))
                })
        }
    }

    /// Input 0's shape with the constant axes of input 1 removed (or kept as 1); nil when
    /// the rank or the axes are unknown, or an axis is out of range.
    static func reducedShape(_ ctx: InferenceContext, keepDims: Bool) -> Shape? {
        guard let shape = ctx.shape(0), let axes = ctx.ints(1) else { return nil }
        var reduced = Set<Int>()
        for a in axes {
            let n = a < 0 ? a + shape.count : a
            guard n >= 0, n < shape.count else { return nil }
            reduced.insert(n)
        }
        var out = Shape()
        for (i, dim) in shape.enumerated() {
            if !reduced.contains(i) {
                out.append(dim)
            } else if keepDims {
                out.append(.known(1))
            }
        }
        return out
    }
}
