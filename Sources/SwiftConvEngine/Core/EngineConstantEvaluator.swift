import SwiftConvIR
import SwiftConvPasses

/// Runs single nodes through the engine's kernels for `ConstantFolding`.
///
/// Each node gets its kernel straight from the registry with every input passed as a
/// constant, and runs once on one thread: no session, plan or shape inference per node,
/// since a converter folds hundreds of them.
public final class EngineConstantEvaluator: ConstantEvaluator, @unchecked Sendable {
    let registry: KernelRegistry
    private let pool = ThreadPool(threads: 1)

    /// An evaluator over `registry`'s kernels.
    public init(registry: KernelRegistry = Kernels.standard) { self.registry = registry }

    public func evaluate(_ node: Node, inputs: [Tensor?], opset: Int64) throws -> [Tensor] {
        let context = SwiftConvError.NodeContext(node)
        let domain = node.canonicalDomain
        guard node.subgraphs.isEmpty else {
            throw SwiftConvError.unsupportedOp("nodes with subgraphs are not evaluated on their own").at(context)
        }
        guard let (since, factory) = registry.lookup(domain: domain, op: node.opType, opset: opset) else {
            throw SwiftConvError.unsupportedOp(
                "no kernel for op \(node.opType) of domain '\(domain.isEmpty ? "ai.onnx" : domain)' at opset \(opset)"
            ).at(context)
        }
        // Kernels load typed (and SIMD) values: a weight borrowed from a file may sit anywhere.
        let constants = inputs.map { $0?.alignedForKernels() }
        let types = constants.map { t in
            t.map { ValueType.tensor(elementType: $0.dtype, shape: Shape($0.shape), quantization: $0.quantization) }
        }
        let build = KernelBuildContext(
            node: node, opset: opset, sinceVersion: since, constantInputs: constants, inputTypes: types,
            outputTypes: Array(repeating: nil, count: node.outputs.count),
            buildSubgraph: { _ in throw SwiftConvError.unsupportedOp("nodes with subgraphs are not evaluated on their own") })
        do {
            let kernel = try factory(build)
            let values = try kernel.run(constants.map { $0.map(Value.tensor) }, ExecutionContext(threads: pool))
            return try values.map { v in
                guard let t = v.tensor else { throw SwiftConvError.unsupportedOp("the result is a \(v.typeDescription), not a tensor") }
                return t
            }
        } catch let e as SwiftConvError {
            throw e.at(context)
        }
    }
}

extension ConstantFolding {
    /// Constant folding with the engine's kernels as the evaluator.
    public static func engine(maxElements: Int = 1 << 22, foldsDequantizeLinear: Bool = false) -> ConstantFolding {
        ConstantFolding(
            evaluator: EngineConstantEvaluator(), maxElements: maxElements, foldsDequantizeLinear: foldsDequantizeLinear)
    }
}
