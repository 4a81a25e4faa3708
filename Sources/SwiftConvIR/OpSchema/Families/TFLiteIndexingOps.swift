/// TFLite builtins that select, slice, pad or rearrange elements (`tflite` domain); like the
/// layout ops they move elements of any dtype, quantized ones included.
enum TFLiteIndexingOps {
    static func register(into r: inout OpRegistry) {
        let tfl = OpDomain.tflite
        r.add(
            "GATHER", domain: tfl, since: [1], inputs: "11", outputs: "1", attributes: "axis:i batch_dims:i",
            rule: { ctx in
                var shape: Shape? = nil
                if let p = ctx.shape(0), let i = ctx.shape(1) {
                    let axis = ctx.int("axis", default: 0), b = ctx.int("batch_dims", default: 0)
                    let a = axis < 0 ? axis + p.count : axis
                    let bd = b < 0 ? b + i.count : b
                    if a >= 0, a < p.count, bd >= 0, bd <= a, bd <= i.count {
                        shape = Array(p[..<a]) + Array(i[bd...]) + Array(p[(a + 1)...])
                    }
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        r.add("GATHER_ND", domain: tfl, since: [1], inputs: "11", outputs: "1", rule: { ctx in ctx.setOutput(0, ctx.dtype(0), nil) })
        r.add(
            "SCATTER_ND", domain: tfl, since: [1], inputs: "111", outputs: "1",
            rule: { ctx in ctx.setOutput(0, ctx.dtype(1), ctx.values(2)) })
        r.add(
            "WHERE", domain: tfl, since: [1], inputs: "1", outputs: "1",
            rule: { ctx in ctx.setOutput(0, .int64, ctx.shape(0).map { [.unknown, .known($0.count)] }) })
        r.add(
            "STRIDED_SLICE", domain: tfl, since: [1], inputs: "1111", outputs: "1",
            attributes: "begin_mask:i end_mask:i ellipsis_mask:i new_axis_mask:i shrink_axis_mask:i offset:i",
            rule: { ctx in ctx.setOutput(0, ctx.dtype(0), nil) })
        r.add(
            "SLICE", domain: tfl, since: [1], inputs: "111", outputs: "1",
            rule: { ctx in
                var shape: Shape? = nil
                if let s = ctx.shape(0), let begin = ctx.ints(1), let size = ctx.ints(2), begin.count == s.count, size.count == s.count {
                    shape = (0..<s.count).map { d in
                        size[d] >= 0
                            ? .known(size[d])
                            : (s[d].value.map { ShapeMath.add(.known($0), .known(0 &- begin[d])) } ?? .unknown)
                    }
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
            })
        for name in ["PAD", "PADV2", "MIRROR_PAD"] {
            r.add(
                name, domain: tfl, since: [1], inputs: name == "PADV2" ? "111" : "11", outputs: "1",
                attributes: name == "MIRROR_PAD" ? "mode:s" : "",
                rule: { ctx in
                    var shape: Shape? = nil
                    // The paddings are a [rank, 2] constant, which `ints` (vectors only) does not read.
                    let pads = ctx.ints(1) ?? ctx.doubles(1).flatMap { v in v.allSatisfy({ abs($0) < 1e15 }) ? v.map { Int($0) } : nil }
                    if let s = ctx.shape(0), let p = pads, p.count == 2 * s.count {
                        shape = (0..<s.count).map { d in ShapeMath.add(ShapeMath.add(s[d], .known(p[2 * d])), .known(p[2 * d + 1])) }
                    }
                    ctx.setOutput(0, ctx.dtype(0), shape)
                })
        }
        // DYNAMIC_UPDATE_SLICE: the operand with `update` written at `start_indices` (XLA's
        // semantics: each start clamped so the update fits); the output is the operand's shape.
        r.add(
            "DYNAMIC_UPDATE_SLICE", domain: tfl, since: [1], inputs: "111", outputs: "1",
            rule: { ctx in ctx.setOutput(0, ctx.dtype(0), ctx.shape(0)) })
        r.add("REVERSE_V2", domain: tfl, since: [1], inputs: "11", outputs: "1", rule: ElementwiseOps.unary)
        r.add(
            "CUMSUM", domain: tfl, since: [1], inputs: "11", outputs: "1", attributes: "exclusive:i reverse:i",
            rule: ElementwiseOps.unary)
        r.add(
            "TOPK_V2", domain: tfl, since: [1], inputs: "11", outputs: "11",
            rule: { ctx in
                var shape: Shape? = nil
                if var s = ctx.shape(0), !s.isEmpty, let k = ctx.ints(1)?.first {
                    s[s.count - 1] = .known(k)
                    shape = s
                }
                ctx.setOutput(0, ctx.dtype(0), shape)
                // The indices' type is the file's (int32 by TFLite's converter).
                ctx.setOutput(1, nil, shape)
            })
        r.add(
            "ONE_HOT", domain: tfl, since: [1], inputs: "1111", outputs: "1", attributes: "axis:i",
            rule: { ctx in
                var shape: Shape? = nil
                if var s = ctx.shape(0), let depth = ctx.ints(1)?.first {
                    let axis = ctx.int("axis", default: -1)
                    let a = axis < 0 ? s.count : axis
                    if a <= s.count {
                        s.insert(.known(depth), at: a)
                        shape = s
                    }
                }
                ctx.setOutput(0, ctx.dtype(2), shape)
            })
        for name in ["SPACE_TO_DEPTH", "DEPTH_TO_SPACE"] {
            r.add(
                name, domain: tfl, since: [1], inputs: "1", outputs: "1", attributes: "block_size:i",
                rule: { ctx in
                    var shape: Shape? = nil
                    let b = ctx.int("block_size", default: 0)
                    let (area, overflow) = b.multipliedReportingOverflow(by: b)
                    if let s = ctx.shape(0), s.count == 4, b > 0, !overflow, let dims = s.concrete {
                        let toDepth = name == "SPACE_TO_DEPTH"
                        let (h, w, c) = (dims[1], dims[2], dims[3])
                        if toDepth, h % b == 0, w % b == 0 {
                            shape = [s[0], .known(h / b), .known(w / b), ShapeMath.mul(.known(c), .known(area))]
                        } else if !toDepth, c % area == 0 {
                            shape = [s[0], ShapeMath.mul(.known(h), .known(b)), ShapeMath.mul(.known(w), .known(b)), .known(c / area)]
                        }
                    }
                    ctx.setOutput(0, ctx.dtype(0), shape)
                })
        }
    }
}
