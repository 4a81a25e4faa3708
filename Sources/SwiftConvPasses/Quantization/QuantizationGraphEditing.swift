import SwiftConvIR

/// The `tflite.*` metadata keys of the TFLite importer/exporter contract that quantization reads
/// and writes (the passes do not depend on the TFLite module, so the keys are spelled here).
enum TFLiteMetadataKey {
    static let version = "tflite.version"
    static let isVariable = "tflite.is_variable"
    static let tensorIndex = "tflite.tensor_index"
    static let sparsity = "tflite.sparsity"
}

extension Tensor {
    /// A TFLite variable (LSTM state) or sparse constant: its storage is not the dense value,
    /// so quantization leaves it alone.
    var isVariableOrSparse: Bool {
        metadata.contains { ($0.key == TFLiteMetadataKey.isVariable && $0.value == "1") || $0.key == TFLiteMetadataKey.sparsity }
    }
}

extension Graph {
    /// The declared type of value `name` (interface or value_info), nil when undeclared.
    func declaredType(_ name: String) -> ValueType? {
        for list in [inputs, outputs, valueInfo] {
            if let v = list.first(where: { $0.name == name }) { return v.type }
        }
        return nil
    }

    /// Sets the declared type of `name` where it is declared, or declares it in value_info.
    mutating func setDeclaredType(_ name: String, _ type: ValueType) {
        if let i = inputs.firstIndex(where: { $0.name == name }) { inputs[i].type = type }
        if let i = outputs.firstIndex(where: { $0.name == name }) { outputs[i].type = type }
        if let i = valueInfo.firstIndex(where: { $0.name == name }) {
            valueInfo[i].type = type
        } else if !inputs.contains(where: { $0.name == name }) && !outputs.contains(where: { $0.name == name }) {
            valueInfo.append(ValueInfo(name: name, type: type))
        }
    }

    /// Adds `tensor` as an initializer and declares its type (with its quantization).
    mutating func addConstant(_ tensor: Tensor) {
        initializers.append(tensor)
        valueInfo.append(
            ValueInfo(
                name: tensor.name, type: .tensor(elementType: tensor.dtype, shape: Shape(tensor.shape), quantization: tensor.quantization)))
    }

    /// Replaces the initializer named `tensor.name` (keeping its metadata) and its declared type.
    mutating func replaceConstant(_ tensor: Tensor) {
        guard let i = initializers.firstIndex(where: { $0.name == tensor.name }) else { return }
        var t = tensor
        t.metadata = initializers[i].metadata
        initializers[i] = t
        setDeclaredType(t.name, .tensor(elementType: t.dtype, shape: Shape(t.shape), quantization: t.quantization))
    }
}

extension Node {
    /// A node of the `tflite` domain with no options.
    static func tflite(_ op: String, name: String, inputs: [String], outputs: [String]) -> Node {
        Node(name: name, opType: op, domain: OpDomain.tflite, inputs: inputs, outputs: outputs)
    }

    /// Sets attribute `name` to `value`, adding it when absent.
    mutating func setAttribute(_ name: String, _ value: AttributeValue) {
        if let i = attributes.firstIndex(where: { $0.name == name }) {
            attributes[i].value = value
        } else {
            attributes.append(Attribute(name: name, value: value))
        }
    }

    /// Every subgraph attribute's graph, rewritten by `body`.
    mutating func rewriteSubgraphs(_ body: (Graph) throws -> Graph) rethrows {
        for i in attributes.indices {
            switch attributes[i].value {
            case .graph(let g)?: attributes[i].value = .graph(try body(g))
            case .graphs(let gs)?: attributes[i].value = .graphs(try gs.map(body))
            default: break
            }
        }
    }

    /// Whether the node holds a subgraph (WHILE, IF, CALL_ONCE...).
    var hasSubgraphs: Bool {
        attributes.contains {
            switch $0.value {
            case .graph?, .graphs?: return true
            default: return false
            }
        }
    }
}
