/// TFLite's control flow (domain `tflite`): WHILE, IF, CALL_ONCE. The subgraphs are graph
/// attributes (the options' `*_subgraph_index` fields without `_index`).
enum TFLiteControlFlowOps {
    static func register(into r: inout OpRegistry) {
        let tfl = OpDomain.tflite
        r.add(
            "WHILE", domain: tfl, since: [1], inputs: "v", outputs: "v", attributes: "cond_subgraph:g! body_subgraph:g!"
        ) { ctx in
            // A loop value keeps its dtype; its shape is the body's declared one when it has one.
            let body = ctx.attribute("body_subgraph")?.graph
            for o in 0..<ctx.outputCount {
                let declared = body.flatMap { o < $0.outputs.count ? $0.outputs[o].type : nil }
                if let declared, declared.tensorShape != nil {
                    ctx.setOutputType(o, declared)
                } else {
                    ctx.setOutput(o, ctx.dtype(o), nil)
                }
            }
        }
        r.add(
            "IF", domain: tfl, since: [1], inputs: "1v", outputs: "v", attributes: "then_subgraph:g! else_subgraph:g!"
        ) { ctx in
            let then = ctx.attribute("then_subgraph")?.graph
            for o in 0..<ctx.outputCount {
                ctx.setOutputType(o, then.flatMap { o < $0.outputs.count ? $0.outputs[o].type : nil })
            }
        }
        r.add("CALL_ONCE", domain: tfl, since: [1], inputs: "", outputs: "", attributes: "init_subgraph:g!", rule: nil)
    }
}
