import SwiftConvIR

/// 'dynamic' mode for ONNX, as onnxruntime's `quantize_dynamic`: weights become symmetric int8.
/// A MatMul or Gemm with a 2-D constant weight computes in integers: DynamicQuantizeLinear of
/// its input (uint8, a range per run), MatMulInteger with the int8 weight (one scale per output
/// column), a Cast of the int32 sums and a Mul by input scale * column scale, then the Gemm bias.
/// Conv, ConvTranspose, LSTM/GRU/RNN and Gather tables keep float compute on a DequantizeLinear
/// of their int8 weight (per output channel where there is one), the simpler form: it gives the
/// same 4x smaller file at float accuracy, where ConvInteger would need a DynamicQuantizeLinear,
/// a Cast and a per-channel rescale around every convolution (LSTM/GRU have no default-domain integer form).
enum ONNXDynamicQuantization {
    /// The rewrite; with `integerMatMul` false every weight is quantized weight-only (what int8
    /// mode does to the weights of ops it leaves float, an LSTM's).
    static func rewrite(_ graph: Graph, integerMatMul integer: Bool = true) throws -> Graph {
        var g = graph
        let constants = g.float32Initializers
        var b = QDQBuilder(graph: g)
        var body: [Node] = []
        for node in g.nodes {
            guard node.canonicalDomain.isEmpty else {
                body.append(node)
                continue
            }
            if integer, node.opType == "MatMul" || node.opType == "Gemm", let nodes = integerMatMul(node, constants, &b) {
                body += nodes
                continue
            }
            var n = node
            for (i, axis) in weightAxes(node, constants) {
                if let t = constants[node.inputs[i]], t.elementCount > 0, let w = b.symmetricWeight(t, axis: axis) { n.inputs[i] = w.name }
            }
            body.append(n)
        }
        g.initializers += b.constants
        g.nodes = b.constantNodes + body
        return g
    }

    /// The weight inputs of `node` quantized weight-only, with their per-channel axis.
    static func weightAxes(_ node: Node, _ constants: [String: Tensor]) -> [(Int, Int?)] {
        let weight = node.inputs.count > 1 ? constants[node.inputs[1]] : nil
        switch node.opType {
        case "Conv": return [(1, 0)]
        case "ConvTranspose": return [(1, (node.attribute("group")?.int ?? 1) == 1 ? 1 : nil)]
        // W and R are [directions, gates * hidden, size]: one scale per gate row.
        case "LSTM", "GRU", "RNN": return [(1, 1), (2, 1)]
        case "Gather": return [(0, nil)]
        case "MatMul": return [(1, weight?.shape.count == 2 ? 1 : nil)]
        case "Gemm": return weight?.shape.count == 2 ? [(1, (node.attribute("transB")?.int ?? 0) == 0 ? 1 : 0)] : []
        default: return []
        }
    }

    /// The integer form of a MatMul/Gemm with a 2-D constant weight; nil when it does not apply
    /// (a transposed Gemm input, a non-constant weight, or a Gemm bias scaled by a runtime beta).
    static func integerMatMul(_ node: Node, _ constants: [String: Tensor], _ b: inout QDQBuilder) -> [Node]? {
        guard node.inputs.count >= 2, node.outputs.count == 1, constants[node.inputs[0]] == nil,
            var weight = constants[node.inputs[1]], weight.shape.count == 2, weight.elementCount > 0
        else { return nil }
        var alpha: Float = 1
        var bias: String?
        if node.opType == "Gemm" {
            guard (node.attribute("transA")?.int ?? 0) == 0 else { return nil }
            alpha = node.attribute("alpha")?.float ?? 1
            let beta = node.attribute("beta")?.float ?? 1
            if (node.attribute("transB")?.int ?? 0) != 0 { weight = transposed(weight) }
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                if let c = constants[node.inputs[2]] {
                    var scaled = Tensor(
                        name: b.names.fresh(c.name + "_scaled"), dtype: .float32, shape: c.shape,
                        values: c.values(as: Float.self).map { $0 * beta })
                    if beta == 1 { scaled = c } else { b.constants.append(scaled) }
                    bias = scaled.name
                } else if beta == 1 {
                    bias = node.inputs[2]
                } else {
                    return nil
                }
            }
        }
        guard var q = QuantizedTensors.symmetricInt8(weight, axis: 1, name: b.names.fresh(node.inputs[1] + "_quantized")),
            let p = q.quantization
        else { return nil }
        q.quantization = nil
        let columnScales = Tensor(
            name: b.names.fresh(node.inputs[1] + "_scale"), dtype: .float32, shape: [p.scale.count], values: p.scale.map { $0 * alpha })
        b.constants += [q, columnScales]
        let base = node.name.isEmpty ? node.outputs[0] : node.name
        func fresh(_ suffix: String) -> String { b.names.fresh(base + suffix) }
        let (aq, aScale, aZero) = (fresh("_input_quantized"), fresh("_input_scale"), fresh("_input_zero_point"))
        let (sums, floatSums, scale) = (fresh("_int32"), fresh("_int32_float"), fresh("_scale"))
        let output = node.outputs[0]
        let product = bias == nil ? output : fresh("_without_bias")
        var nodes = [
            Node(
                name: fresh("_DynamicQuantizeLinear"), opType: "DynamicQuantizeLinear", inputs: [node.inputs[0]],
                outputs: [aq, aScale, aZero]),
            Node(name: fresh("_MatMulInteger"), opType: "MatMulInteger", inputs: [aq, q.name, aZero], outputs: [sums]),
            Node(
                name: fresh("_Cast"), opType: "Cast", inputs: [sums], outputs: [floatSums],
                attributes: [Attribute(name: "to", value: .int(Int64(DType.float32.rawValue)))]),
            Node(name: fresh("_scale_Mul"), opType: "Mul", inputs: [aScale, columnScales.name], outputs: [scale]),
            Node(name: fresh("_Mul"), opType: "Mul", inputs: [floatSums, scale], outputs: [product]),
        ]
        if let bias { nodes.append(Node(name: fresh("_bias_Add"), opType: "Add", inputs: [product, bias], outputs: [output])) }
        return nodes
    }

    /// A 2-D float32 tensor transposed.
    static func transposed(_ t: Tensor) -> Tensor {
        let (rows, cols) = (t.shape[0], t.shape[1])
        let v = t.values(as: Float.self)
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = v[r * cols + c] } }
        return Tensor(name: t.name, dtype: .float32, shape: [cols, rows], values: out)
    }
}
