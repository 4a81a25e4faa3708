/// Control flow: If, Loop, Scan. Their bodies are inferred with the outer scope visible.
enum ControlFlowOps {
    static let versions: [Int64] = [1, 11, 13, 16, 19, 21, 23, 24, 25]

    static func register(into r: inout OpRegistry) {
        r.add("If", since: versions, inputs: "1", outputs: "v", attributes: "else_branch:g! then_branch:g!", rule: ifRule)
        r.add("Loop", since: versions, inputs: "??v", outputs: "v", attributes: "body:g!", rule: loop)
        r.add(
            "Scan", since: [8], inputs: "?v", outputs: "v",
            attributes: "body:g! directions:is num_scan_inputs:i!", rule: nil)
        r.add(
            "Scan", since: [9, 11, 16, 19, 21, 23, 24, 25], inputs: "v", outputs: "v",
            attributes:
                "body:g! num_scan_inputs:i! scan_input_axes:is scan_input_directions:is scan_output_axes:is scan_output_directions:is",
            rule: scan)
    }

    /// Runs inference on graph attribute `name` and stores the annotated graph back on the node.
    static func inferBody(_ ctx: inout InferenceContext, _ name: String, inputs: [ValueType?]) -> [ValueType?]? {
        guard let i = ctx.node.attributes.firstIndex(where: { $0.name == name }), var g = ctx.node.attributes[i].graph
        else { return nil }
        let out = ctx.inferSubgraph(&g, inputTypes: inputs)
        ctx.node.attributes[i].value = .graph(g)
        return out
    }

    /// The common type of two branch outputs: dims that disagree become unknown.
    static func merge(_ a: ValueType?, _ b: ValueType?) -> ValueType? {
        guard let a else { return b }
        guard let b else { return a }
        guard case .tensor(let ta, let sa, _) = a, case .tensor(let tb, let sb, _) = b else { return a == b ? a : nil }
        let t = ta == tb ? ta : (ta == .undefined ? tb : (tb == .undefined ? ta : DType.undefined))
        guard let sa, let sb, sa.count == sb.count else { return .tensor(elementType: t, shape: nil) }
        return .tensor(elementType: t, shape: zip(sa, sb).map { $0 == $1 ? $0 : .unknown })
    }

    static let ifRule: TypeInferenceRule = { ctx in
        let thenOut = inferBody(&ctx, "then_branch", inputs: []) ?? []
        let elseOut = inferBody(&ctx, "else_branch", inputs: []) ?? []
        for o in 0..<ctx.outputCount {
            ctx.setOutputType(o, merge(o < thenOut.count ? thenOut[o] : nil, o < elseOut.count ? elseOut[o] : nil))
        }
    }

    static let loop: TypeInferenceRule = { ctx in
        let carried = max(ctx.inputCount - 2, 0)
        var bodyInputs: [ValueType?] = [.tensor(elementType: .int64, shape: []), .tensor(elementType: .bool, shape: [])]
        for i in 0..<carried {
            // A carried value may change shape between iterations; keep only its rank.
            bodyInputs.append(ctx.type(i + 2).map(relaxDims))
        }
        guard let out = inferBody(&ctx, "body", inputs: bodyInputs) else { return }
        for o in 0..<ctx.outputCount {
            let bodyIndex = o + 1
            guard bodyIndex < out.count else { continue }
            if o < carried {
                ctx.setOutputType(o, out[bodyIndex] ?? ctx.type(o + 2))
            } else if case .tensor(let t, let s, _)? = out[bodyIndex] {
                ctx.setOutputType(o, .tensor(elementType: t, shape: s.map { [.unknown] + $0 }))
            }
        }
    }

    static func relaxDims(_ t: ValueType) -> ValueType {
        guard case .tensor(let e, let s, _) = t else { return t }
        return .tensor(elementType: e, shape: s.map { Shape(repeating: .unknown, count: $0.count) })
    }

    static let scan: TypeInferenceRule = { ctx in
        let m = ctx.int("num_scan_inputs", default: 0)
        guard m >= 0, m <= ctx.inputCount else { return }
        let n = ctx.inputCount - m
        let inAxes = ctx.ints("scan_input_axes") ?? Array(repeating: 0, count: m)
        var bodyInputs: [ValueType?] = (0..<n).map { ctx.type($0) }
        var length: Dim = .unknown
        for j in 0..<m {
            guard case .tensor(let t, let s, _)? = ctx.type(n + j), let s, j < inAxes.count,
                let a = ShapeMath.axis(inAxes[j], rank: s.count)
            else {
                bodyInputs.append(nil)
                continue
            }
            if length == .unknown { length = s[a] }
            var sliced = s
            sliced.remove(at: a)
            bodyInputs.append(.tensor(elementType: t, shape: sliced))
        }
        guard let out = inferBody(&ctx, "body", inputs: bodyInputs) else { return }
        let outAxes = ctx.ints("scan_output_axes") ?? []
        for o in 0..<min(ctx.outputCount, out.count) {
            if o < n {
                ctx.setOutputType(o, out[o])
                continue
            }
            guard case .tensor(let t, let s, _)? = out[o], let s else { continue }
            let k = o - n
            let axisRaw = k < outAxes.count ? outAxes[k] : 0
            guard let a = ShapeMath.axis(axisRaw, rank: s.count + 1) else { continue }
            var stacked = s
            stacked.insert(length, at: a)
            ctx.setOutputType(o, .tensor(elementType: t, shape: stacked))
        }
    }
}
