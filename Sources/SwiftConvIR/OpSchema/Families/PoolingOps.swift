/// Pooling: Max/Average/Lp pools, their global forms, MaxRoiPool, MaxUnpool.
enum PoolingOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "MaxPool", since: [1], inputs: "1", outputs: "1", attributes: "auto_pad:s kernel_shape:is! pads:is strides:is",
            rule: pool)
        r.add(
            "MaxPool", since: [8], inputs: "1", outputs: "1?",
            attributes: "auto_pad:s kernel_shape:is! pads:is storage_order:i strides:is", rule: pool)
        r.add(
            "MaxPool", since: [10, 11, 12, 22], inputs: "1", outputs: "1?",
            attributes: "auto_pad:s ceil_mode:i dilations:is kernel_shape:is! pads:is storage_order:i strides:is",
            rule: pool)
        r.add(
            "AveragePool", since: [1, 7], inputs: "1", outputs: "1",
            attributes: "auto_pad:s count_include_pad:i kernel_shape:is! pads:is strides:is", rule: pool)
        r.add(
            "AveragePool", since: [10, 11, 19, 22], inputs: "1", outputs: "1",
            attributes: "auto_pad:s ceil_mode:i count_include_pad:i dilations:is kernel_shape:is! pads:is strides:is",
            rule: pool)
        r.add(
            "LpPool", since: [1, 2, 11, 18, 22], inputs: "1", outputs: "1",
            attributes: "auto_pad:s ceil_mode:i dilations:is kernel_shape:is! p:i pads:is strides:is", rule: pool)
        for name in ["GlobalAveragePool", "GlobalMaxPool"] {
            r.add(name, since: [1, 22], inputs: "1", outputs: "1", rule: globalPool)
        }
        r.add("GlobalLpPool", since: [1, 2, 22], inputs: "1", outputs: "1", attributes: "p:i", rule: globalPool)
        r.add(
            "MaxRoiPool", since: [1, 22], inputs: "11", outputs: "1", attributes: "pooled_shape:is! spatial_scale:f",
            rule: { ctx in
                let rois = ctx.shape(1)?.first ?? .unknown
                let c = ctx.shape(0).flatMap { $0.count > 1 ? $0[1] : nil } ?? .unknown
                let pooled = ctx.ints("pooled_shape") ?? []
                ctx.setOutput(0, ctx.dtype(0), [rois, c] + ShapeMath.dims(pooled))
            })
        r.add(
            "MaxUnpool", since: [9, 11, 22], inputs: "11?", outputs: "1", attributes: "kernel_shape:is! pads:is strides:is",
            rule: { ctx in
                let dtype = ctx.dtype(0)
                if ctx.has(2) {
                    // An explicit output_shape wins; when it is not a constant only the rank is known.
                    ctx.setOutput(0, dtype, ctx.values(2) ?? ctx.shape(0).flatMap { ShapeMath.unknownShape(rank: $0.count) })
                    return
                }
                guard let x = ctx.shape(0), x.count > 2, let k = ctx.ints("kernel_shape"), k.count == x.count - 2 else {
                    ctx.setOutput(0, dtype, nil)
                    return
                }
                let n = k.count
                let strides = ctx.ints("strides") ?? Array(repeating: 1, count: n)
                let pads = ctx.ints("pads") ?? Array(repeating: 0, count: 2 * n)
                guard strides.count == n, pads.count == 2 * n, ShapeMath.sane(strides + pads + k) else {
                    ctx.setOutput(0, dtype, nil)
                    return
                }
                var out: Shape = [x[0], x[1]]
                for i in 0..<n {
                    guard let v = x[i + 2].value, v >= 0, v < 1 << 31 else {
                        out.append(.unknown)
                        continue
                    }
                    out.append(.known((v - 1) * strides[i] + k[i] - pads[i] - pads[i + n]))
                }
                ctx.setOutput(0, dtype, out)
            })
    }

    static let pool: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), x.count >= 2 else {
            ctx.setOutput(0, dtype, nil)
            ctx.setOutput(1, .int64, nil)
            return
        }
        var out: Shape = [x[0], x[1]]
        if let k = ctx.ints("kernel_shape"),
            let spatial = ConvOps.windowShape(
                ctx, spatial: Array(x.dropFirst(2)), kernel: k,
                ceilMode: ctx.int("ceil_mode", default: 0) != 0)
        {
            out += spatial
        } else {
            out += Array(repeating: .unknown, count: x.count - 2)
        }
        ctx.setOutput(0, dtype, out)
        if ctx.hasOutput(1) { ctx.setOutput(1, .int64, out) }
    }

    static let globalPool: TypeInferenceRule = { ctx in
        guard let x = ctx.shape(0), x.count >= 2 else {
            ctx.setOutput(0, ctx.dtype(0), nil)
            return
        }
        ctx.setOutput(0, ctx.dtype(0), [x[0], x[1]] + Array(repeating: .known(1), count: x.count - 2))
    }
}
