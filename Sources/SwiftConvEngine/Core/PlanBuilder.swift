import SwiftConvIR

/// Chooses and builds kernels for a model's nodes, collecting every unsupported node so
/// that session creation reports them all at once.
final class PlanBuilder {
    let registry: KernelRegistry
    let opsets: [String: Int64]
    /// Each node no kernel can run, with why.
    private(set) var unsupported: [(node: SwiftConvError.NodeContext, why: String)] = []

    init(registry: KernelRegistry, opsets: [String: Int64]) {
        self.registry = registry
        self.opsets = opsets
    }

    /// Types declared in a graph (inputs, outputs, value_info).
    func knownTypes(_ graph: Graph) -> [String: ValueType] {
        var out: [String: ValueType] = [:]
        for v in graph.inputs + graph.outputs + graph.valueInfo {
            if let t = v.type { out[v.name] = t }
        }
        // A weight's quantization is its own or, for ONNX, the one its value_info declares.
        for t in graph.initializers {
            out[t.name] = .tensor(
                elementType: t.dtype, shape: Shape(t.shape),
                quantization: t.quantization ?? out[t.name]?.quantization)
        }
        return out
    }

    func makeKernel(
        node: Node, opsets: [String: Int64], constants: [Tensor?], inputTypes: [ValueType?],
        outputTypes: [ValueType?], captures: [String], visible: Set<String>, valueTypes: [String: ValueType] = [:]
    ) throws -> Kernel {
        let domain = node.canonicalDomain
        let domainName = domain.isEmpty ? "ai.onnx" : domain
        guard let opset = opsets[domain] else {
            unsupported.append(
                (
                    SwiftConvError.NodeContext(node),
                    "op \(node.opType) of domain '\(domainName)', which the model does not import"
                ))
            return UnsupportedKernel()
        }
        guard let (since, factory) = registry.lookup(domain: domain, op: node.opType, opset: opset) else {
            let versions = registry.versions(domain: domain, op: node.opType)
            let why = versions.isEmpty ? "no kernel" : "kernels only for opset versions \(versions)"
            unsupported.append((SwiftConvError.NodeContext(node), "op \(node.opType) (domain '\(domainName)', opset \(opset)): \(why)"))
            return UnsupportedKernel()
        }
        let ctx = KernelBuildContext(
            node: node, opset: opset, sinceVersion: since, constantInputs: constants, inputTypes: inputTypes,
            outputTypes: outputTypes,
            buildSubgraph: { [unowned self] g in
                try ExecutionPlan(graph: g, opsets: opsets, outerScope: visible, builder: self)
            },
            subgraphCaptures: captures, valueTypes: valueTypes)
        do {
            return try factory(ctx)
        } catch let e as SwiftConvError {
            if e.kind == .unsupportedOp {
                unsupported.append((ctx.nodeContext, "op \(node.opType) (domain '\(domainName)', opset \(opset)): \(e.message)"))
                return UnsupportedKernel()
            }
            throw e.at(ctx.nodeContext)
        }
    }
}

/// Stands in for an unsupported node while the plan is built; session creation then fails.
struct UnsupportedKernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        throw SwiftConvError.unsupportedOp("this node is not supported")
    }
}

extension PlanBuilder {
    /// The session-creation error for the unsupported nodes: one node is named as data,
    /// several are listed in the message.
    var unsupportedError: SwiftConvError? {
        guard let first = unsupported.first else { return nil }
        if unsupported.count == 1 { return SwiftConvError.unsupportedOp(first.why).at(first.node) }
        let lines = unsupported.map { "node '\($0.node.name)': \($0.why)" }
        return SwiftConvError.unsupportedOp("\(unsupported.count) node(s) cannot run:\n  " + lines.joined(separator: "\n  "))
    }
}
