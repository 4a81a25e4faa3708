import SwiftConvIR

/// The operator versions LiteRT needs, computed from each op's input and output types, ranks
/// and options (the rules of TFLite's `tools/versioning/op_version.cc` for every op swiftconv
/// writes, float and quantized), written as the `tflite.version` node metadata that the
/// exporter puts in the operator codes. The one place versions are chosen: the ONNX -> TFLite
/// lowering emits ops without one and runs `TFLiteOpVersionPass` last; the quantizer calls
/// `update` after its rewrite.
public enum TFLiteOpVersions {
    /// The element type, shape and quantization of the values of one graph: declared, or the constant's.
    struct Types {
        private var declared: [String: ValueType] = [:]
        private var constants: [String: Tensor] = [:]

        init(_ graph: Graph) {
            for t in graph.initializers { constants[t.name] = t }
            // The first declaration wins, as inputs, outputs and value_info are searched in that order.
            for v in graph.inputs + graph.outputs + graph.valueInfo where declared[v.name] == nil {
                if let type = v.type { declared[v.name] = type }
            }
        }

        func dtype(_ name: String) -> DType? { declared[name]?.tensorElementType ?? constants[name]?.dtype }
        func quantization(_ name: String) -> QuantParams? { declared[name]?.quantization ?? constants[name]?.quantization }
        /// The dims as the file writes them (an unknown dim as nil), or nil when the rank is unknown.
        func dims(_ name: String) -> [Int?]? {
            if let s = declared[name]?.tensorShape { return s.map { if case .known(let d) = $0 { d } else { nil } } }
            return constants[name].map { $0.shape.map { Optional($0) } }
        }
    }

    /// The version `node` needs; 1 for an op op_version.cc gives no other rule.
    static func version(_ node: Node, _ types: Types) -> Int {
        func name(_ k: Int) -> String? { k < node.inputs.count && !node.inputs[k].isEmpty ? node.inputs[k] : nil }
        func input(_ k: Int) -> DType? { name(k).flatMap { types.dtype($0) } }
        func rank(_ k: Int) -> Int { name(k).flatMap { types.dims($0)?.count } ?? 0 }
        let x = input(0)
        let out = node.outputs.first.flatMap { types.dtype($0) }
        let flag: (String) -> Bool = { node.attribute($0)?.int.map { $0 != 0 } ?? false }
        // AddOptions/SubOptions.pot_scale_int16 defaults to true in schema.fbs.
        let powerOfTwoScales = node.attribute("pot_scale_int16")?.int.map { $0 != 0 } ?? true
        let activation = node.attribute("fused_activation_function")?.string.map { $0 != "NONE" } ?? false
        let perChannelWeights = name(1).flatMap { types.quantization($0) }.map { !$0.isPerTensor } ?? false
        let hybrid = x == .float32 && input(1) == .int8 && out == .float32
        let int16Quantized = x == .int16 && name(0).flatMap { types.quantization($0) } != nil
        /// op_version.cc's NeedBroadcastForBinaryInputs && GetInputMaxDims > 4; unknown dims count as different.
        func broadcastsAboveRank4() -> Bool {
            guard node.inputs.count >= 2, max(rank(0), rank(1)) > 4 else { return false }
            let a = name(0).flatMap { types.dims($0) }, b = name(1).flatMap { types.dims($0) }
            return a == nil || a != b || a!.contains(nil)
        }
        switch node.opType {
        case "CONV_2D":
            if x == .int16 && input(1) == .int8 && out == .int16 && flag("quantized_bias_type") { return 8 }
            if let c = name(0).flatMap({ types.dims($0) })?.last ?? nil, let f = name(1).flatMap({ types.dims($0) })?.last ?? nil,
                c != f
            {
                return 6 // grouped: the filter's input channels are fewer than the input's
            }
            if x == .int16 && input(1) == .int16 { return 4 }
            if x == .int8 && input(1) == .int8 && out == .int8 { return 3 }
            if x == .int8 && input(1) == .int4 && out == .int8 { return 7 }
            if hybrid { return perChannelWeights ? 5 : 2 }
            return 1
        case "DEPTHWISE_CONV_2D":
            if x == .int16 && input(1) == .int16 { return 5 }
            if hybrid { return perChannelWeights ? 6 : 4 }
            if x == .int8 && input(1) == .int8 && out == .int8 { return 3 }
            if x == .int8 && input(1) == .int4 && out == .int8 { return 7 }
            let dilated = [node.attribute("dilation_w_factor")?.int, node.attribute("dilation_h_factor")?.int].contains { ($0 ?? 1) != 1 }
            return dilated ? 2 : 1
        case "FULLY_CONNECTED":
            if hybrid && perChannelWeights { return 12 }
            if x == .int16 && input(1) == .int8 && out == .int16 && flag("quantized_bias_type") { return 11 }
            if x == .int16 && input(1) == .int16 && out == .int16 { return 7 }
            if node.inputs.count == 2 { return 6 } // no bias slot at all (an empty one counts as a bias)
            if flag("keep_num_dims") { return 5 }
            if x == .int8 && input(1) == .int8 && out == .int8 { return 4 }
            if x == .int8 && input(1) == .int4 && out == .int8 { return 10 }
            if hybrid { return flag("asymmetric_quantize_inputs") ? 9 : 3 }
            return node.attribute("weights_format")?.string == "SHUFFLED4x16INT8" ? 2 : 1
        case "TRANSPOSE_CONV":
            if x == .int16 && input(1) == .int8 && out == .int16 && flag("quantized_bias_type") { return 5 }
            if activation { return 4 }
            if name(3) != nil { return 3 } // a bias
            return input(1) == .int8 ? 2 : 1
        case "BATCH_MATMUL":
            if x == .int16 { return 3 }
            if x == .int8 { return 2 }
            return hybrid && flag("asymmetric_quantize_inputs") ? 4 : 1
        case "UNIDIRECTIONAL_SEQUENCE_LSTM":
            if x == .int16 && input(2) == .int8 && out == .int16 { return 5 }
            if flag("diagonal_recurrent_tensors") { return 4 }
            if x == .float32 && input(2) == .int8 && out == .float32 { return flag("asymmetric_quantize_inputs") ? 3 : 2 }
            return 1
        case "UNIDIRECTIONAL_SEQUENCE_RNN":
            return input(1) == .int8 && out == .float32 ? (flag("asymmetric_quantize_inputs") ? 3 : 2) : 1
        case "DEQUANTIZE":
            if x == .int4 { return 6 }
            if x == .float16 || x == .int16 { return 3 }
            if x == .int8 { return name(0).flatMap { types.quantization($0) }.map { $0.isPerTensor ? 2 : 5 } ?? 2 }
            return 1
        case "QUANTIZE":
            if x == .int4 || out == .int4 { return 4 }
            if node.outputs.first.flatMap({ types.quantization($0) }).map({ !$0.isPerTensor }) ?? false { return 3 }
            return out == .int16 ? 2 : 1
        case "ADD":
            if x == .int16 && !int16Quantized { return 5 }
            if x == .int64 { return 4 }
            if x == .int16 && out == .int16 && !powerOfTwoScales { return 3 }
            return x == .int8 ? 2 : 1
        case "SUB":
            if x == .int16 && out == .int16 && !powerOfTwoScales { return 5 }
            if x == .int64 { return 4 }
            if broadcastsAboveRank4() { return 3 }
            return x == .int8 ? 2 : 1
        case "MUL":
            if (x == .int16 && !int16Quantized) || x == .uint32 { return 7 }
            if x == .complex64 { return 6 }
            if x == .int64 { return 5 }
            if x == .int16 { return 4 }
            let scales = [name(0), name(1), node.outputs.first].map { $0.flatMap { types.quantization($0)?.scale.first } ?? 0 }
            if scales.allSatisfy({ $0 != 0 }) && scales[0] * scales[1] / scales[2] >= 1 { return 3 }
            return x == .int8 ? 2 : 1
        case "DIV":
            return broadcastsAboveRank4() ? 2 : 1
        case "MAXIMUM", "MINIMUM":
            if x == .int16 && out == .int16 { return 4 }
            if broadcastsAboveRank4() { return 3 }
            return x == .int8 ? 2 : 1
        case "MAX_POOL_2D", "AVERAGE_POOL_2D", "TANH", "LOGISTIC":
            if x == .int16 && out == .int16 { return 3 }
            return x == .int8 ? 2 : 1
        case "SOFTMAX", "MEAN", "MIRROR_PAD", "REDUCE_MAX", "REDUCE_MIN", "RELU6", "RSQRT", "CONCATENATION":
            if node.opType == "CONCATENATION" && x == .uint32 { return 4 }
            if x == .int16 { return 3 }
            return x == .int8 ? 2 : 1
        case "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SPLIT_V", "SUM", "LOG_SOFTMAX", "GREATER", "LESS_EQUAL", "SQUARED_DIFFERENCE":
            return x == .int8 ? 2 : 1
        case "LESS", "GREATER_EQUAL":
            if x == .int16 { return 3 }
            return x == .int8 ? 2 : 1
        case "EQUAL":
            if x == .int16 { return 4 }
            if x == .string { return 3 }
            return x == .int8 ? 2 : 1
        case "NOT_EQUAL":
            if x == .string { return 3 }
            return x == .int8 ? 2 : 1
        case "EXP", "LOG", "REDUCE_PROD":
            return x == .int8 || x == .int16 ? 2 : 1
        case "ABS":
            if x == .int32 { return 5 }
            if x == .int16 { return int16Quantized ? 3 : 4 }
            return x == .int8 || x == .uint8 ? 2 : 1
        case "RELU":
            if x == .int16 { return 3 }
            return x == .int8 || x == .uint8 ? 2 : 1
        case "LEAKY_RELU":
            return x == .int16 ? 2 : 1
        case "GELU":
            return x == .int8 || x == .uint8 ? 2 : 1
        case "SIGN":
            return x == .int32 ? 2 : 1
        case "ARG_MAX", "ARG_MIN":
            if x == .bool { return 3 }
            return x == .int8 ? 2 : 1
        case "GATHER":
            if x == .int4 { return 7 }
            if input(1) == .int16 { return 6 }
            if (node.attribute("batch_dims")?.int ?? 0) != 0 { return 5 }
            if x == .int16 { return 4 }
            if x == .bool { return 3 }
            return x == .int8 ? 2 : 1
        case "GATHER_ND":
            if x == .bool { return 5 }
            if input(1) == .int16 { return 4 }
            if x == .int16 { return 3 }
            return x == .string ? 2 : 1
        case "TRANSPOSE":
            if rank(0) > 5 { return 6 }
            if x == .int16 { return 5 }
            if rank(0) > 4 { return 4 }
            if x == .bool { return 3 }
            return x == .int8 ? 2 : 1
        case "SLICE":
            if x == .uint32 { return 6 }
            if rank(0) > 4 { return 5 }
            if x == .int16 { return 4 }
            if x == .string { return 3 }
            return x == .int8 ? 2 : 1
        case "STRIDED_SLICE":
            if flag("offset") { return 8 }
            if x == .uint32 { return 7 }
            if flag("ellipsis_mask") || flag("new_axis_mask") { return 6 }
            if x == .string { return 5 }
            if rank(0) > 4 { return 4 }
            if x == .bool { return 3 }
            return x == .int8 ? 2 : 1
        case "PAD", "PADV2":
            if rank(0) > 4 { return 4 }
            if x == .int16 { return 3 }
            return x == .int8 ? 2 : 1
        case "SPLIT":
            // The data is input 1; input 0 is the axis.
            switch input(1) {
            case .int16?: return 4
            case .int32?: return 3
            case .int8?: return 2
            default: return 1
            }
        case "PACK":
            if x == .int8 { return 2 }
            if x == .int16 && out == .int16 { return 3 }
            return x == .uint32 ? 4 : 1
        case "UNPACK":
            if x == .int8 || x == .uint8 { return 2 }
            if x == .bool { return 3 }
            return x == .int16 && out == .int16 ? 4 : 1
        case "TILE":
            if x == .int8 { return 3 }
            return x == .string ? 2 : 1
        case "SQUEEZE":
            return x == .string ? 2 : 1
        case "REVERSE_V2":
            if x == .int8 { return 3 }
            return x == .bool ? 2 : 1
        case "RESIZE_BILINEAR":
            if x == .int16 { return 4 }
            if flag("half_pixel_centers") { return 3 }
            return x == .int8 ? 2 : 1
        case "RESIZE_NEAREST_NEIGHBOR":
            if x == .int16 { return 4 }
            if flag("half_pixel_centers") || flag("align_corners") { return 3 }
            return x == .int8 ? 2 : 1
        case "SELECT":
            if x == .uint32 { return 4 }
            if (0..<3).contains(where: { rank($0) == 5 }) { return 3 }
            return x == .int8 ? 2 : 1
        case "SELECT_V2":
            return x == .uint32 ? 2 : 1
        case "FILL":
            switch input(1) {
            case .float16?: return 4
            case .int8?, .int16?: return 3
            case .bool?, .string?: return 2
            default: return 1
            }
        case "RANGE":
            return x == .int64 ? 2 : 1
        case "FLOOR_DIV":
            if x == .int16 || x == .int8 { return 3 }
            return x == .float32 ? 2 : 1
        case "FLOOR_MOD":
            return x == .int16 || x == .int8 ? 2 : 1
        case "BROADCAST_TO":
            // Version 1 was withdrawn: LiteRT registers BROADCAST_TO from version 2.
            return x == .int8 || x == .int16 ? 3 : 2
        case "CAST":
            let both = [x, out]
            if both.contains(.bfloat16) { return 7 }
            if x == .int4 && out == .float32 { return 6 }
            if both.contains(.float64) || both.contains(.float16) { return 5 }
            if both.contains(.uint16) { return 4 }
            if both.contains(.int8) { return 3 }
            return both.contains(.uint32) ? 2 : 1
        default:
            return 1
        }
    }

    /// Sets every node's version in `graph` and its subgraphs, never below the version it has
    /// (as op_version.cc's UpdateOpVersion: an imported file may need a rule not modelled here),
    /// then gives all nodes of one op the highest version any of them needs, as TFLiteConverter
    /// writes one operator code per op. Returns whether any version changed.
    @discardableResult
    public static func update(_ graph: inout Graph) -> Bool {
        var highest: [String: Int] = [:]
        var changed = false
        func current(_ node: Node) -> Int? { node.metadata.first { $0.key == TFLiteMetadataKey.version }.flatMap { Int($0.value) } }
        func assign(_ g: inout Graph) {
            let types = Types(g)
            for k in g.nodes.indices {
                g.nodes[k].rewriteSubgraphs { sub in
                    var s = sub
                    assign(&s)
                    return s
                }
                guard g.nodes[k].domain == OpDomain.tflite else { continue }
                let v = max(current(g.nodes[k]) ?? 1, version(g.nodes[k], types))
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
                guard g.nodes[k].domain == OpDomain.tflite, let v = highest[g.nodes[k].opType] else { continue }
                if current(g.nodes[k]) != v {
                    setVersion(&g.nodes[k], v)
                    changed = true
                }
            }
        }
        assign(&graph)
        merge(&graph)
        return changed
    }

    static func setVersion(_ node: inout Node, _ v: Int) {
        node.metadata.removeAll { $0.key == TFLiteMetadataKey.version }
        node.metadata.append(MetadataEntry(TFLiteMetadataKey.version, String(v)))
    }
}

/// Writes every TFLite node's operator version (`TFLiteOpVersions`); the last step of the
/// ONNX -> TFLite pipeline, after shape inference has typed every value the rules read.
public struct TFLiteOpVersionPass: ModelPass {
    public let name = "tflite-op-versions"

    public init() {}

    public func run(on model: inout Model) throws -> Bool { TFLiteOpVersions.update(&model.graph) }
}
