/// Sequence and Optional ops, SequenceMap included.
enum SequenceOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "SequenceConstruct", since: [11], inputs: "v", outputs: "1",
            rule: { ctx in
                ctx.setOutputType(0, .sequence(ctx.type(0)))
            })
        r.add(
            "SequenceEmpty", since: [11], inputs: "", outputs: "1", attributes: "dtype:i",
            rule: { ctx in
                ctx.setOutputType(0, .sequence(.tensor(elementType: GeneratorOps.dtypeAttribute(ctx) ?? .float32, shape: nil)))
            })
        r.add(
            "SequenceAt", since: [11], inputs: "11", outputs: "1",
            rule: { ctx in
                if case .sequence(let e)? = ctx.type(0) { ctx.setOutputType(0, e) }
            })
        r.add("SequenceLength", since: [11], inputs: "1", outputs: "1", rule: { $0.setOutput(0, .int64, []) })
        r.add("SequenceInsert", since: [11], inputs: "11?", outputs: "1", rule: { $0.setOutputType(0, $0.type(0)) })
        r.add("SequenceErase", since: [11], inputs: "1?", outputs: "1", rule: { $0.setOutputType(0, $0.type(0)) })
        r.add(
            "SplitToSequence", since: [11, 24], inputs: "1?", outputs: "1", attributes: "axis:i keepdims:i",
            rule: { ctx in
                if let t = ctx.dtype(0) { ctx.setOutputType(0, .sequence(.tensor(elementType: t, shape: nil))) }
            })
        r.add(
            "ConcatFromSequence", since: [11], inputs: "1", outputs: "1", attributes: "axis:i! new_axis:i",
            rule: { ctx in
                if case .sequence(.tensor(let t, _, _)?)? = ctx.type(0) { ctx.setOutput(0, t, nil) }
            })
        r.add("SequenceMap", since: [17], inputs: "1v", outputs: "v", attributes: "body:g!", rule: nil)
        r.add(
            "Optional", since: [15, 28], inputs: "?", outputs: "1", attributes: "type:tp",
            rule: { ctx in
                if let t = ctx.type(0) {
                    ctx.setOutputType(0, .optional(t))
                } else if case .type(let t)? = ctx.attribute("type")?.value {
                    ctx.setOutputType(0, .optional(t))
                }
            })
        r.add(
            "OptionalGetElement", since: [15, 18, 28], inputs: "1", outputs: "1",
            rule: { ctx in
                if case .optional(let e)? = ctx.type(0) { ctx.setOutputType(0, e) } else { ctx.setOutputType(0, ctx.type(0)) }
            })
        r.add("OptionalHasElement", since: [15, 18, 28], inputs: "?", outputs: "1", rule: { $0.setOutput(0, .bool, []) })
    }
}
