import SwiftConvIR

/// The operator versions LiteRT needs for the types an op runs on (the facts of TFLite's
/// `tools/versioning/op_version.cc` for the ops quantization produces), written as the
/// `tflite.version` node metadata that the exporter puts in the operator codes.
public enum TFLiteOpVersions {
    /// The element type of a value of `graph`: declared, or the constant's.
    struct Types {
        let graph: Graph
        let constants: [String: Tensor]

        init(_ graph: Graph) {
            self.graph = graph
            var c: [String: Tensor] = [:]
            for t in graph.initializers { c[t.name] = t }
            constants = c
        }

        func dtype(_ name: String) -> DType? { graph.declaredType(name)?.tensorElementType ?? constants[name]?.dtype }
        func quantization(_ name: String) -> QuantParams? { graph.declaredType(name)?.quantization ?? constants[name]?.quantization }
    }

    /// The version `node` needs, nil for an op this table does not know (its version is kept).
    static func version(_ node: Node, _ types: Types) -> Int? {
        func input(_ k: Int) -> DType? { k < node.inputs.count && !node.inputs[k].isEmpty ? types.dtype(node.inputs[k]) : nil }
        let x = input(0)
        let out = node.outputs.first.flatMap { types.dtype($0) }
        let flag: (String) -> Bool = { node.attribute($0)?.int.map { $0 != 0 } ?? false }
        let perChannelWeights = node.inputs.count > 1 && (types.quantization(node.inputs[1]).map { !$0.isPerTensor } ?? false)
        let hybrid = x == .float32 && input(1) == .int8 && out == .float32
        let int8 = x == .int8
        switch node.opType {
        case "CONV_2D":
            if int8 && input(1) == .int8 { return 3 }
            if hybrid { return perChannelWeights ? 5 : 2 }
            return nil
        case "DEPTHWISE_CONV_2D":
            if hybrid { return perChannelWeights ? 6 : 4 }
            if int8 && input(1) == .int8 { return 3 }
            return nil
        case "FULLY_CONNECTED":
            if hybrid && perChannelWeights { return 12 }
            if flag("keep_num_dims") { return 5 }
            if int8 && input(1) == .int8 { return 4 }
            if hybrid { return flag("asymmetric_quantize_inputs") ? 9 : 3 }
            return nil
        case "BATCH_MATMUL":
            if int8 { return 2 }
            if hybrid && flag("asymmetric_quantize_inputs") { return 4 }
            return nil
        case "UNIDIRECTIONAL_SEQUENCE_LSTM":
            if x == .float32 && input(2) == .int8 && out == .float32 { return flag("asymmetric_quantize_inputs") ? 3 : 2 }
            return nil
        case "TRANSPOSE_CONV":
            return input(1) == .int8 && node.inputs.count < 4 ? 2 : nil
        case "DEQUANTIZE":
            if x == .float16 || x == .int16 { return 3 }
            if int8 { return types.quantization(node.inputs[0]).map { $0.isPerTensor ? 2 : 5 } ?? 2 }
            return nil
        case "QUANTIZE":
            return out == .int16 ? 2 : 1
        case "ADD", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION", "SOFTMAX", "MEAN", "REDUCE_MAX", "REDUCE_MIN",
            "RELU6", "RSQRT", "LOGISTIC", "TANH", "GATHER", "SPLIT_V", "PACK", "MAXIMUM", "MINIMUM", "RELU", "SQUARED_DIFFERENCE",
            "GELU", "SUM", "PAD", "SLICE", "STRIDED_SLICE", "TRANSPOSE", "SUB", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
            "MIRROR_PAD":
            return int8 ? 2 : nil
        case "SPLIT":
            return input(1) == .int8 ? 2 : nil
        case "TILE":
            return int8 ? 3 : nil
        default:
            return nil
        }
    }

    /// Sets every node's version in `graph` and its subgraphs, then gives all nodes of one op
    /// the highest version any of them needs, as TFLiteConverter writes one operator code per op.
    public static func update(_ graph: inout Graph) {
        var highest: [String: Int] = [:]
        func assign(_ g: inout Graph) {
            let types = Types(g)
            for k in g.nodes.indices {
                g.nodes[k].rewriteSubgraphs { sub in
                    var s = sub
                    assign(&s)
                    return s
                }
                guard g.nodes[k].domain == OpDomain.tflite else { continue }
                let old = g.nodes[k].metadata.first { $0.key == TFLiteMetadataKey.version }.flatMap { Int($0.value) } ?? 1
                let v = version(g.nodes[k], types) ?? old
                setVersion(&g.nodes[k], v)
                highest[g.nodes[k].opType] = max(highest[g.nodes[k].opType] ?? 1, v)
            }
        }
        func merge(_ g: inout Graph) {
            for k in g.nodes.indices {
                g.nodes[k].rewriteSubgraphs { sub in
                    var s = sub
                    merge(&s)
                    return s
                }
                if g.nodes[k].domain == OpDomain.tflite, let v = highest[g.nodes[k].opType] { setVersion(&g.nodes[k], v) }
            }
        }
        assign(&graph)
        merge(&graph)
    }

    static func setVersion(_ node: inout Node, _ v: Int) {
        node.metadata.removeAll { $0.key == TFLiteMetadataKey.version }
        node.metadata.append(MetadataEntry(TFLiteMetadataKey.version, String(v)))
    }
}
