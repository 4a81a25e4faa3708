import SwiftConvIR

/// Puts the quantization that Q/DQ-style nodes imply on the types of the values they touch.
///
/// ONNX states quantization as node inputs (a scale and a zero point beside each integer
/// tensor) instead of on the tensor. When those inputs are constants (initializers or
/// `Constant` nodes), this pass copies them onto the value's type: the outputs of
/// QuantizeLinear, the inputs of DequantizeLinear, and the integer inputs and output of
/// QLinearConv and QLinearMatMul, per tensor or per channel along the op's axis. A value
/// with no type entry gets a `value_info` one with the stored element type.
/// ConvInteger and MatMulInteger carry zero points but no scales, so they state no
/// quantization. A value that already carries different quantization is a validation error.
/// Only the main graph is annotated; the model's results do not change.
public struct QuantizationAnnotation: ModelPass {
    public let name = "annotate-quantization"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        var annotator = Annotator(graph: model.graph)
        for (k, node) in model.graph.nodes.enumerated() where node.canonicalDomain.isEmpty {
            try annotator.annotate(node, index: k)
        }
        guard annotator.changed else { return false }
        model.graph = annotator.graph
        return true
    }
}

/// One (integer value, scale input, zero point input) triple of a quantized op.
private struct QuantizedOperand {
    var value: String
    var scale: Int
    var zeroPoint: Int
    /// The channel axis for per-channel scales, counted from the start (>= 0) or end (< 0).
    var axis: Int
}

private struct Annotator {
    var graph: Graph
    var changed = false
    var constants: [String: Tensor] = [:]

    init(graph: Graph) {
        self.graph = graph
        for t in graph.initializers where constants[t.name] == nil { constants[t.name] = t }
        // Graph inputs that shadow initializers can be fed other values (IR < 4 style defaults).
        for v in graph.inputs { constants[v.name] = nil }
        for n in graph.nodes where n.opType == "Constant" && n.canonicalDomain.isEmpty && n.outputs.count == 1 {
            if let t = n.attribute("value")?.tensor {
                constants[n.outputs[0]] = t
            } else if let f = n.attribute("value_float")?.float {
                constants[n.outputs[0]] = Tensor(dtype: .float32, shape: [], values: [f])
            }
        }
    }

    mutating func annotate(_ node: Node, index: Int) throws {
        let axis = Int(node.attribute("axis")?.int ?? 1)
        if node.attribute("block_size")?.int ?? 0 > 0 { return }
        let input = { (i: Int) in i < node.inputs.count ? node.inputs[i] : "" }
        let operands: [QuantizedOperand]
        var storage: [String: DType] = [:]
        switch node.opType {
        case "QuantizeLinear":
            guard node.outputs.count == 1 else { return }
            operands = [QuantizedOperand(value: node.outputs[0], scale: 1, zeroPoint: 2, axis: axis)]
            // Without a zero point the output type is `output_dtype`, else uint8.
            if constant(input(2)) == nil {
                let od = node.attribute("output_dtype")?.int ?? 0
                storage[node.outputs[0]] = od == 0 ? .uint8 : DType(rawValue: Int32(truncatingIfNeeded: od))
            }
        case "DequantizeLinear":
            operands = [QuantizedOperand(value: input(0), scale: 1, zeroPoint: 2, axis: axis)]
        case "QLinearConv":
            guard node.outputs.count == 1 else { return }
            operands = [
                QuantizedOperand(value: input(0), scale: 1, zeroPoint: 2, axis: 1),
                QuantizedOperand(value: input(3), scale: 4, zeroPoint: 5, axis: 0),
                QuantizedOperand(value: node.outputs[0], scale: 6, zeroPoint: 7, axis: 1),
            ]
        case "QLinearMatMul":
            guard node.outputs.count == 1 else { return }
            // Per-row scales for A, per-column scales for B.
            operands = [
                QuantizedOperand(value: input(0), scale: 1, zeroPoint: 2, axis: -2),
                QuantizedOperand(value: input(3), scale: 4, zeroPoint: 5, axis: -1),
                QuantizedOperand(value: node.outputs[0], scale: 6, zeroPoint: 7, axis: -1),
            ]
        default:
            return
        }
        for op in operands where !op.value.isEmpty {
            guard let scale = constant(input(op.scale)) else { continue }
            let zeroPoint = constant(input(op.zeroPoint))
            if !input(op.zeroPoint).isEmpty, zeroPoint == nil { continue }
            let current = declaredType(op.value)
            guard let elementType = zeroPoint?.dtype ?? storage[op.value] ?? current?.tensorElementType,
                elementType != .undefined
            else { continue }
            var axis: Int? = op.axis
            let rank = current?.tensorShape?.count
            if op.axis < 0 { axis = rank.map { $0 + op.axis } }
            if let a = axis, a < 0 || (rank.map { a >= $0 } ?? false) { axis = nil }
            guard let q = QuantParams.fromConstants(scale: scale, zeroPoint: zeroPoint, storageType: elementType, axis: axis),
                q.violation(elementType: elementType, shape: current?.tensorShape) == nil
            else { continue }
            try setQuantization(q, on: op.value, from: Self.describe(node, index: index))
        }
    }

    /// "node 'name' (OpType)" or "node #k (OpType)", as the checker names nodes.
    static func describe(_ node: Node, index: Int) -> String {
        "node \(node.name.isEmpty ? "#\(index)" : "'\(node.name)'") (\(node.opType))"
    }

    func constant(_ name: String) -> Tensor? { name.isEmpty ? nil : constants[name] }

    /// The declared type of `name`: a graph input or output, a value_info entry or an initializer.
    func declaredType(_ name: String) -> ValueType? {
        if let t = (graph.inputs + graph.outputs + graph.valueInfo).first(where: { $0.name == name && $0.type != nil })?.type {
            return t
        }
        return graph.initializer(named: name).map { .tensor(elementType: $0.dtype, shape: Shape($0.shape)) }
    }

    mutating func setQuantization(_ q: QuantParams, on name: String, from node: String) throws {
        let current = declaredType(name)
        if let e = current?.tensorElementType, e != .undefined, e != q.storageType { return }
        if let existing = current?.quantization {
            guard existing == q else {
                throw SwiftConvError.validation(
                    "value '\(name)': \(node) implies quantization \(q), "
                        + "but the value already carries \(existing)")
            }
            return
        }
        let typed = ValueType.tensor(elementType: q.storageType, shape: current?.tensorShape, quantization: q)
        var found = false
        for i in graph.inputs.indices where graph.inputs[i].name == name {
            graph.inputs[i].type = typed
            found = true
        }
        for i in graph.outputs.indices where graph.outputs[i].name == name {
            graph.outputs[i].type = typed
            found = true
        }
        for i in graph.valueInfo.indices where graph.valueInfo[i].name == name {
            graph.valueInfo[i].type = typed
            found = true
        }
        if !found { graph.valueInfo.append(ValueInfo(name: name, type: typed)) }
        changed = true
    }
}
