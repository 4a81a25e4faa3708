/// Normalizations: BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, LRN, LpNormalization, Dropout...
enum NormalizationOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "BatchNormalization", since: [1], inputs: "11111", outputs: "1????",
            attributes: "consumed_inputs:is! epsilon:f is_test:i momentum:f spatial:i", rule: batchNorm)
        r.add(
            "BatchNormalization", since: [6], inputs: "11111", outputs: "1????",
            attributes: "epsilon:f is_test:i momentum:f spatial:i", rule: batchNorm)
        r.add(
            "BatchNormalization", since: [7], inputs: "11111", outputs: "1????",
            attributes: "epsilon:f momentum:f spatial:i", rule: batchNorm)
        r.add(
            "BatchNormalization", since: [9], inputs: "11111", outputs: "1????",
            attributes: "epsilon:f momentum:f", rule: batchNorm)
        r.add(
            "BatchNormalization", since: [14, 15], inputs: "11111", outputs: "1??",
            attributes: "epsilon:f momentum:f training_mode:i", rule: batchNorm)
        r.add(
            "InstanceNormalization", since: [1, 6, 22], inputs: "111", outputs: "1", attributes: "epsilon:f",
            rule: ElementwiseOps.unary)
        r.add(
            "LayerNormalization", since: [17], inputs: "11?", outputs: "1??",
            attributes: "axis:i epsilon:f stash_type:i", rule: layerNorm)
        // onnxruntime's contrib residual Add + LayerNormalization; the session's LayerNormFusion writes it.
        r.add(
            "SkipLayerNormalization", domain: "com.microsoft", since: [1], inputs: "111??", outputs: "1???",
            attributes: "epsilon:f", rule: skipLayerNorm)
        r.add(
            "RMSNormalization", since: [23], inputs: "11", outputs: "1", attributes: "axis:i epsilon:f stash_type:i",
            rule: ElementwiseOps.unary)
        r.add(
            "GroupNormalization", since: [18, 21], inputs: "111", outputs: "1",
            attributes: "epsilon:f num_groups:i! stash_type:i", rule: ElementwiseOps.unary)
        r.add(
            "LRN", since: [1, 13], inputs: "1", outputs: "1", attributes: "alpha:f beta:f bias:f size:i!",
            rule: ElementwiseOps.unary)
        r.add(
            "LpNormalization", since: [1, 22], inputs: "1", outputs: "1", attributes: "axis:i p:i",
            rule: ElementwiseOps.unary)
        r.add(
            "MeanVarianceNormalization", since: [9, 13], inputs: "1", outputs: "1", attributes: "axes:is",
            rule: ElementwiseOps.unary)
        r.add("Dropout", since: [1, 6], inputs: "1", outputs: "1?", attributes: "is_test:i ratio:f", rule: dropout)
        r.add("Dropout", since: [7, 10], inputs: "1", outputs: "1?", attributes: "ratio:f", rule: dropout)
        r.add("Dropout", since: [12, 13, 22], inputs: "1??", outputs: "1?", attributes: "seed:i", rule: dropout)
    }

    static let batchNorm: TypeInferenceRule = { ctx in
        ctx.propagate(from: 0)
        // Running / saved statistics are per channel, typed like the mean input.
        let c = ctx.shape(0).flatMap { $0.count > 1 ? $0[1] : nil } ?? ctx.shape(3)?.first ?? .unknown
        for o in 1..<max(ctx.outputCount, 1) where ctx.hasOutput(o) {
            ctx.setOutput(o, ctx.dtype(3) ?? ctx.dtype(0), [c])
        }
    }

    /// The normalized sum and the sum (output 3) have the input's type; Mean and InvStdDev
    /// are left untyped.
    static let skipLayerNorm: TypeInferenceRule = { ctx in
        ctx.propagate(from: 0)
        if ctx.hasOutput(3), let t = ctx.dtype(0) { ctx.setOutput(3, t, ctx.shape(0)) }
    }

    static let layerNorm: TypeInferenceRule = { ctx in
        ctx.propagate(from: 0)
        guard let x = ctx.shape(0), let axis = ShapeMath.axis(ctx.int("axis", default: -1), rank: x.count) else {
            return
        }
        let stash = DType(rawValue: Int32(clamping: ctx.int("stash_type", default: 1))) ?? .float32
        let reduced = Array(x[..<axis]) + Array(repeating: Dim.known(1), count: x.count - axis)
        for o in [1, 2] where ctx.hasOutput(o) { ctx.setOutput(o, stash, reduced) }
    }

    static let dropout: TypeInferenceRule = { ctx in
        ctx.propagate(from: 0)
        if ctx.hasOutput(1) { ctx.setOutput(1, ctx.opset >= 10 ? .bool : ctx.dtype(0), ctx.shape(0)) }
    }
}
