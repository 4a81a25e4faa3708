import SwiftConvIR

/// Runs one node on constant inputs: what `ConstantFolding` asks of an engine.
///
/// The passes cannot import the engine (the engine imports them), so the engine supplies
/// an implementation (`EngineConstantEvaluator`) and converters pass it in.
public protocol ConstantEvaluator {
    /// The node's outputs, one per listed output (any tensor for an omitted one), computed
    /// from `inputs` (one per listed input, nil for an omitted optional one) with the op's
    /// semantics at `opset`. Throws when the op cannot run or its inputs are invalid.
    func evaluate(_ node: Node, inputs: [Tensor?], opset: Int64) throws -> [Tensor]
}

/// Evaluates once, at conversion time, every node of the main graph whose inputs are all
/// constants, and replaces it by initializers holding its results.
///
/// Constants are initializers that are not graph inputs, Constant nodes and what this pass
/// has already folded, so a chain folds in one run. Shape arithmetic folds too: `Shape` and
/// `Size` of a value whose shape inference finds static are constants, and a `Gather` or
/// `Slice` that picks only the static dims of a partly dynamic shape is one as well (the
/// batch dim of `[batch, 32, 64]` stays a `Shape` node; the 32 and 64 become constants).
/// Those shapes come from inference over the ops, not from the model's declared value_info,
/// which nothing checks at run time: a wrong declaration must not become a wrong constant.
///
/// Left alone: nodes of other domains, nodes with subgraphs, random ops, DequantizeLinear
/// (unless `foldsDequantizeLinear`: folding it would lose the quantization of weights that
/// a converter keeps), results of more than `maxElements` elements, results that are not
/// tensors, and every node the evaluator fails on (a Reshape to an impossible shape stays,
/// to fail at run time as before). A folded graph output becomes a Constant node, since an
/// initializer cannot be one; so does every folded value of a model of IR version 1 to 3,
/// where an initializer must also be a graph input (one a caller could override). Inputs the
/// folded nodes leave unread stay as dead initializers for `DeadCodeElimination`; the graph's
/// nodes are left in topological order.
public struct ConstantFolding: ModelPass {
    public let name = "fold-constants"
    /// Runs the folded nodes.
    public var evaluator: any ConstantEvaluator
    /// Results with more elements than this are not folded (they would bloat the model).
    public var maxElements: Int
    /// Whether DequantizeLinear of constants is folded to float weights.
    public var foldsDequantizeLinear: Bool
    /// Constants with more elements than this are not read by folded nodes, so weights are
    /// never evaluated on (what keeps a session's shape folding cheap).
    public var maxInputElements: Int
    /// Whether the pass infers the model's value types again after folding; a session,
    /// whose value_info already types every value that stays, has no need to.
    public var reinfersShapes: Bool
    /// Whether a Reshape whose target is a Concat of constants and one single-element value
    /// computed at run time (a batch size read with `Shape`) gets a constant target with -1
    /// there (see `reshapeTarget`), leaving the arithmetic that fed it dead.
    public var rewritesReshapeTargets: Bool

    /// Ops whose result is not a function of their inputs.
    static let nondeterministic: Set<String> = [
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    ]

    /// A folding pass that evaluates nodes with `evaluator`.
    public init(
        evaluator: any ConstantEvaluator, maxElements: Int = 1 << 22, foldsDequantizeLinear: Bool = false,
        maxInputElements: Int = .max, reinfersShapes: Bool = true, rewritesReshapeTargets: Bool = false
    ) {
        self.evaluator = evaluator
        self.maxElements = maxElements
        self.foldsDequantizeLinear = foldsDequantizeLinear
        self.maxInputElements = maxInputElements
        self.reinfersShapes = reinfersShapes
        self.rewritesReshapeTargets = rewritesReshapeTargets
    }

    public func run(on model: inout Model) throws -> Bool {
        let g = model.graph
        guard !g.nodes.isEmpty else { return false }
        let opset = model.opsetVersion(for: "") ?? OpDomain.knownVersions[""]!.upperBound
        // Inference runs only for a graph that asks shapes, since it costs as much as the rest.
        let asksShapes = g.nodes.contains { ["Shape", "Size"].contains($0.opType) && $0.canonicalDomain.isEmpty }
        let types = asksShapes ? Self.verifiedTypes(of: model) : [:]
        let ordered = try g.topologicallyOrderedNodes()
        let graphInputs = Set(g.inputs.map(\.name))
        let graphOutputs = Set(g.outputs.map(\.name))
        let asConstantNodes = model.irVersion > 0 && model.irVersion < 4

        var known: [String: Tensor] = [:]
        for t in g.initializers where !graphInputs.contains(t.name) && t.elementCount <= maxInputElements {
            known[t.name] = t
        }
        // Shapes with some dynamic dims, by value name: `Gather`/`Slice` may still pick static ones.
        var partial: [String: [Dim]] = [:]
        var folded = [Bool](repeating: false, count: ordered.count)
        var any = false
        // Evaluation allocates through tensors, so an oversized intermediate fails instead of
        // taking memory; 16 bytes is the widest element (complex128).
        let budget = AllocationBudget(maxTensorBytes: max(maxElements, 1) &* 16, maxTotalBytes: max(maxElements, 1) &* 64)

        for (k, node) in ordered.enumerated() where isFoldable(node, graphInputs: graphInputs) {
            // A Constant node that must stay one still feeds the folding of its readers.
            let keepsConstant =
                node.opType == "Constant" && (asConstantNodes || node.outputs.contains(where: graphOutputs.contains))
            let results: [Tensor]?
            switch node.opType {
            case "Shape":
                let dims = Self.shapeDims(node, types[node.inputs.first ?? ""])
                if let values = dims?.concrete {
                    results = [Tensor(dtype: .int64, shape: [values.count], values: values.map(Int64.init))]
                } else {
                    results = nil
                    if let dims { partial[node.outputs[0]] = dims }
                }
            case "Size":
                results = types[node.inputs.first ?? ""]?.tensorShape?.concrete.flatMap(elementCount).map {
                    [Tensor(dtype: .int64, shape: [], values: [Int64($0)])]
                }
            default:
                results = nil
            }
            var outputs = results
            if outputs == nil, let dims = partial[node.inputs.first ?? ""], ["Gather", "Slice"].contains(node.opType),
                node.inputs.dropFirst().allSatisfy({ $0.isEmpty || known[$0] != nil })
            {
                let picked = pickedDims(node, from: dims, known: known, opset: opset, budget: budget)
                if let values = picked?.values.concrete {
                    outputs = [Tensor(dtype: .int64, shape: picked!.shape, values: values.map(Int64.init))]
                } else if let picked, picked.shape.count <= 1 {
                    partial[node.outputs[0]] = picked.values
                }
            }
            if outputs == nil, node.inputs.allSatisfy({ $0.isEmpty || known[$0] != nil }),
                node.inputs.allSatisfy({ $0.isEmpty || known[$0]!.elementCount <= maxInputElements }),
                !producesTooMuch(node, types: types)
            {
                let inputs = node.inputs.map { $0.isEmpty ? nil : known[$0] }
                outputs = try? AllocationBudget.withCurrent(budget) { try evaluator.evaluate(node, inputs: inputs, opset: opset) }
            }
            guard let outputs, outputs.count >= node.outputs.count,
                outputs.allSatisfy({ $0.dtype != .undefined && $0.elementCount <= maxElements })
            else { continue }
            for (o, name) in node.outputs.enumerated() where !name.isEmpty {
                var t = outputs[o]
                t.name = name
                t.externalData = nil
                known[name] = t
            }
            if keepsConstant { continue }
            folded[k] = true
            any = true
        }
        var initializers: [Tensor] = []
        var targets: [Int: String] = [:]
        if rewritesReshapeTargets, !asConstantNodes {
            var names = UniqueNameGenerator(graph: g)
            var producer: [String: Int] = [:]
            for (k, node) in ordered.enumerated() where !folded[k] { for o in node.outputs where !o.isEmpty { producer[o] = k } }
            for (k, node) in ordered.enumerated() where !folded[k] && node.opType == "Reshape" {
                guard node.canonicalDomain.isEmpty, node.inputs.count == 2, known[node.inputs[1]] == nil,
                    let p = producer[node.inputs[1]],
                    var target = reshapeTarget(ordered[p], known: known, types: types)
                else { continue }
                target.name = names.fresh(node.inputs[1] + "_static")
                initializers.append(target)
                targets[k] = target.name
            }
        }
        guard any || !targets.isEmpty else { return false }

        var nodes: [Node] = []
        for (k, node) in ordered.enumerated() {
            guard folded[k] else {
                var node = node
                if let target = targets[k] { node.inputs[1] = target }
                nodes.append(node)
                continue
            }
            for name in node.outputs where !name.isEmpty {
                let t = known[name]!
                if asConstantNodes || graphOutputs.contains(name) {
                    var unnamed = t
                    unnamed.name = ""
                    nodes.append(
                        Node(
                            name: node.name, opType: "Constant", inputs: [], outputs: [name],
                            attributes: [Attribute(name: "value", value: .tensor(unnamed))]))
                } else {
                    initializers.append(t)
                }
            }
        }
        model.graph.nodes = nodes
        model.graph.initializers += initializers
        if reinfersShapes { try ShapeInference.infer(&model) }
        return true
    }

    /// The constant target of a Reshape fed by `concat`, when its pieces are 1-D int64
    /// constants of positive dims and exactly one value of one element that only a run
    /// knows: that dim becomes -1, which Reshape infers from the element count, giving the
    /// same value whenever the original target is valid. The piece's size comes from the
    /// verified types, not from declarations.
    private func reshapeTarget(_ concat: Node, known: [String: Tensor], types: [String: ValueType]) -> Tensor? {
        guard concat.opType == "Concat", concat.canonicalDomain.isEmpty, [0, -1].contains(concat.attribute("axis")?.int ?? 0)
        else { return nil }
        var dims: [Int64] = []
        var unknown = 0
        for piece in concat.inputs {
            if let t = known[piece] {
                guard t.dtype == .int64, t.shape.count == 1 else { return nil }
                let values = t.values(as: Int64.self)
                guard values.allSatisfy({ $0 > 0 }) else { return nil }
                dims += values
            } else if case .tensor(.int64, [.known(1)]?, _)? = types[piece] {
                dims.append(-1)
                unknown += 1
            } else {
                return nil
            }
        }
        guard unknown == 1 else { return nil }
        return Tensor(dtype: .int64, shape: [dims.count], values: dims)
    }

    /// Whether `node` may be folded at all, whatever its inputs.
    private func isFoldable(_ node: Node, graphInputs: Set<String>) -> Bool {
        node.canonicalDomain.isEmpty && node.subgraphs.isEmpty && !Self.nondeterministic.contains(node.opType)
            && (foldsDequantizeLinear || node.opType != "DequantizeLinear")
            && node.outputs.contains(where: { !$0.isEmpty }) && !node.outputs.contains(where: graphInputs.contains)
    }

    /// Whether inference already says an output of `node` is larger than the limit.
    private func producesTooMuch(_ node: Node, types: [String: ValueType]) -> Bool {
        node.outputs.contains { name in
            guard let dims = types[name]?.tensorShape?.concrete else { return false }
            return (elementCount(dims) ?? .max) > maxElements
        }
    }

    /// The dims a Gather or Slice takes from a partly known shape: the node runs on the
    /// positions 0, 1, 2, ... in place of the shape, so its result says which dim lands where,
    /// with the op's own rules for negative indices, clamping and steps.
    private func pickedDims(
        _ node: Node, from dims: [Dim], known: [String: Tensor], opset: Int64, budget: AllocationBudget
    ) -> (shape: [Int], values: [Dim])? {
        let positions = Tensor(dtype: .int64, shape: [dims.count], values: (0..<dims.count).map(Int64.init))
        let inputs = [positions] + node.inputs.dropFirst().map { $0.isEmpty ? nil : known[$0] }
        guard
            let result = try? AllocationBudget.withCurrent(budget, { try evaluator.evaluate(node, inputs: inputs, opset: opset) })
                .first,
            result.dtype == .int64, result.elementCount <= dims.count &* 16
        else { return nil }
        var values: [Dim] = []
        for p in result.values(as: Int64.self) {
            guard p >= 0, p < dims.count else { return nil }
            values.append(dims[Int(p)])
        }
        return (result.shape, values)
    }

    /// The dims a Shape node reports: its input's shape cut to `start..<end` (opset 15),
    /// with negative bounds counted from the end and both clamped to the rank.
    static func shapeDims(_ node: Node, _ type: ValueType?) -> [Dim]? {
        guard let shape = type?.tensorShape else { return nil }
        let rank = shape.count
        func bound(_ name: String, default d: Int) -> Int {
            guard let v = node.attribute(name)?.int else { return d }
            let b = v < 0 ? Int(clamping: v) &+ rank : Int(clamping: v)
            return min(max(b, 0), rank)
        }
        let start = bound("start", default: 0), end = bound("end", default: rank)
        return start < end ? Array(shape[start..<end]) : []
    }

    /// Types of the main graph's values as inference derives them from the graph inputs
    /// (whose shapes a run checks) and the ops, ignoring declared value_info and output types.
    static func verifiedTypes(of model: Model) -> [String: ValueType] {
        var probe = model
        probe.graph.valueInfo = []
        for i in probe.graph.outputs.indices { probe.graph.outputs[i].type = nil }
        ShapeInference.infer(&probe, registry: .standard)
        var types: [String: ValueType] = [:]
        for v in probe.graph.inputs + probe.graph.valueInfo + probe.graph.outputs {
            if let t = v.type { types[v.name] = t }
        }
        for t in probe.graph.initializers where types[t.name] == nil {
            types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape))
        }
        return types
    }
}
