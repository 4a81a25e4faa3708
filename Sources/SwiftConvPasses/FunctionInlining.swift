import SwiftConvIR

/// Replaces calls of model-local functions with their bodies, recursively and inside
/// subgraphs, renaming each body's values so that two calls never collide and
/// substituting attribute references. The functions stay in the model, uncalled.
///
/// Runs before anything else in a session: kernels exist for ops, not for functions.
public struct FunctionInlining: ModelPass {
    public let name = "inline-functions"

    /// Calls nested deeper than this are refused (a function calling itself never ends).
    public static let maxDepth = 32

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        guard !model.functions.isEmpty else { return false }
        var inliner = Inliner(model: model)
        model.graph.nodes = try inliner.inlineNodes(model.graph.nodes, depth: 0)
        return inliner.calls > 0
    }
}

/// The state of one inlining run: the functions by (domain, name) and a call counter for prefixes.
private struct Inliner {
    let functions: [String: Function]
    var calls = 0

    init(model: Model) {
        var f: [String: Function] = [:]
        for fn in model.functions { f["\(fn.domain)::\(fn.name)"] = fn }
        functions = f
    }

    func function(for node: Node) -> Function? {
        functions["\(node.domain)::\(node.opType)"] ?? (node.domain.isEmpty ? functions["ai.onnx::\(node.opType)"] : nil)
    }

    mutating func inlineNodes(_ nodes: [Node], depth: Int) throws -> [Node] {
        guard depth < FunctionInlining.maxDepth else {
            throw SwiftConvError.validation("model-local functions call each other more than \(FunctionInlining.maxDepth) deep")
        }
        var out: [Node] = []
        for var n in nodes {
            n.attributes = try n.attributes.map { a in
                var a = a
                switch a.value {
                case .graph(var sub)?:
                    sub.nodes = try inlineNodes(sub.nodes, depth: depth)
                    a.value = .graph(sub)
                case .graphs(let subs)?:
                    a.value = .graphs(
                        try subs.map {
                            var s = $0
                            s.nodes = try inlineNodes(s.nodes, depth: depth)
                            return s
                        })
                default: break
                }
                return a
            }
            guard let fn = function(for: n) else {
                out.append(n)
                continue
            }
            out += try inlineNodes(expand(n, fn), depth: depth + 1)
        }
        return out
    }

    /// The body of `fn` for one call: formal names bound to the call's actual names.
    mutating func expand(_ call: Node, _ fn: Function) -> [Node] {
        calls += 1
        let prefix = "\(fn.name)__\(calls)__"
        var rename: [String: String] = ["": ""]
        for (i, formal) in fn.inputs.enumerated() { rename[formal] = i < call.inputs.count ? call.inputs[i] : "" }
        for (i, formal) in fn.outputs.enumerated() { rename[formal] = i < call.outputs.count ? call.outputs[i] : "" }
        var attrs: [String: Attribute] = [:]
        for a in fn.attributeDefaults { attrs[a.name] = a }
        for a in call.attributes { attrs[a.name] = a }
        func name(_ s: String) -> String {
            if let r = rename[s] { return r }
            let r = prefix + s
            rename[s] = r
            return r
        }
        return fn.nodes.map { body in
            var n = body
            n.name = prefix + body.name
            n.inputs = body.inputs.map(name)
            n.outputs = body.outputs.map(name)
            n.attributes = body.attributes.compactMap { a in
                guard let ref = a.refAttrName else { return a }
                guard var actual = attrs[ref] else { return nil }
                actual.name = a.name
                return actual
            }
            return n
        }
    }
}
