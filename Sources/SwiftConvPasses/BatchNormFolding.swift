import SwiftConvIR

/// An inference-mode BatchNormalization after a Conv, ConvTranspose, Gemm or MatMul with
/// constant weights becomes part of that op: its per-channel affine map
/// `y = (x - mean) * s + bias`, `s = scale / sqrt(var + epsilon)`, is folded into the
/// weights (`W * s` per output channel) and the bias (`(B - mean) * s + bias`).
///
/// Exporters of training frameworks leave these pairs behind (a PyTorch model exported in
/// training mode, Keras models); folded, the pair costs one kernel and no extra pass over
/// the output. The output channel is axis 0 of a Conv weight `[M, C/g, k...]`, axis 1 of
/// a ConvTranspose weight `[C, M/g, k...]` within each group, and the column of a Gemm or
/// MatMul result. float32 and float64 weights only; the arithmetic is done in double, so
/// results match the unfolded pair within float rounding. A MatMul is folded only when
/// its input is known to be 2-D (it becomes a Gemm with a bias). A BatchNormalization
/// without such a producer stays for a later lowering.
public struct BatchNormFolding: ModelPass {
    public let name = "fold-batch-normalization"

    public init() {}

    public func run(on model: inout Model) throws -> Bool {
        let rewriter = PatternRewriter(
            name: name,
            chain: [OpPattern("Conv", "ConvTranspose", "Gemm", "MatMul"), OpPattern("BatchNormalization")]
        ) { match, context in
            let (op, bn) = (match[0], match[1])
            guard let affine = Self.channelAffine(of: bn, in: context.graph) else { return nil }
            switch op.opType {
            case "Conv", "ConvTranspose": return Self.foldConv(op, bn, affine, &context)
            default: return Self.foldGemm(op, bn, affine, &context)
            }
        }
        return try rewriter.run(on: &model)
    }

    /// The BatchNormalization as `y = x * scale[c] + shift[c]`; nil unless it is in inference
    /// form with constant float parameters of one length and a finite, non-zero scale.
    static func channelAffine(of bn: Node, in graph: Graph) -> (scale: [Double], shift: [Double])? {
        guard bn.inputs.count == 5, bn.outputs.first.map({ !$0.isEmpty }) == true,
            bn.outputs.dropFirst().allSatisfy(\.isEmpty), (bn.attribute("training_mode")?.int ?? 0) == 0,
            (bn.attribute("spatial")?.int ?? 1) == 1, (bn.attribute("is_test")?.int ?? 1) == 1
        else { return nil }
        var params: [[Double]] = []
        for name in bn.inputs[1...] {
            guard let t = graph.constantTensor(named: name), t.dtype == .float32 || t.dtype == .float64, t.shape.count == 1,
                let v = t.doubleValues()
            else { return nil }
            params.append(v)
        }
        let (gamma, beta, mean, variance) = (params[0], params[1], params[2], params[3])
        guard !gamma.isEmpty, [beta.count, mean.count, variance.count].allSatisfy({ $0 == gamma.count }) else { return nil }
        let epsilon = Double(bn.attribute("epsilon")?.float ?? 1e-5)
        var scale: [Double] = []
        var shift: [Double] = []
        for c in gamma.indices {
            let s = gamma[c] / (variance[c] + epsilon).squareRoot()
            // The unfolded op makes inf or NaN from every input here; folded, some would stay finite.
            guard s.isFinite, variance[c] + epsilon > 0 else { return nil }
            scale.append(s)
            shift.append(beta[c] - mean[c] * s)
        }
        return (scale, shift)
    }

    /// A float weight's elements in double, nil for other types.
    static func floats(_ t: Tensor) -> [Double]? {
        guard t.dtype == .float32 || t.dtype == .float64 else { return nil }
        return t.doubleValues()
    }

    /// `values` as a new weight of `dtype` named after `base`.
    static func weight(
        _ values: [Double], dtype: DType, shape: [Int], base: String, _ context: inout RewriteContext
    ) -> String {
        let name = context.freshName(base + "_bn_folded")
        let t =
            dtype == .float64
            ? Tensor(name: name, dtype: .float64, shape: shape, values: values)
            : Tensor(name: name, dtype: .float32, shape: shape, values: values.map(Float.init))
        context.addInitializer(t)
        return name
    }

    static func foldConv(
        _ conv: Node, _ bn: Node, _ affine: (scale: [Double], shift: [Double]), _ context: inout RewriteContext
    ) -> [Node]? {
        guard conv.inputs.count >= 2, conv.outputs.count == 1, let w = context.graph.constantTensor(named: conv.inputs[1]),
            w.shape.count >= 3, var weights = floats(w), weights.count == w.elementCount, weights.count > 0
        else { return nil }
        let channels = affine.scale.count
        let inner = weights.count / (w.shape[0] * w.shape[1])
        var channelOf: (Int, Int) -> Int // (row of axis 0, row of axis 1) -> output channel
        if conv.opType == "Conv" {
            guard w.shape[0] == channels else { return nil }
            channelOf = { m, _ in m }
        } else {
            let group = Int(clamping: conv.attribute("group")?.int ?? 1)
            guard group > 0, w.shape[0] % group == 0, w.shape[1] &* group == channels else { return nil }
            let (inPerGroup, outPerGroup) = (w.shape[0] / group, w.shape[1])
            channelOf = { c, j in (c / inPerGroup) * outPerGroup + j }
        }
        var bias = [Double](repeating: 0, count: channels)
        if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
            guard let b = context.graph.constantTensor(named: conv.inputs[2]), b.dtype == w.dtype, let v = floats(b),
                v.count == channels
            else { return nil }
            bias = v
        }
        for a in 0..<w.shape[0] {
            for b in 0..<w.shape[1] {
                let s = affine.scale[channelOf(a, b)]
                let start = (a * w.shape[1] + b) * inner
                for i in start..<(start + inner) { weights[i] *= s }
            }
        }
        let newBias = (0..<channels).map { bias[$0] * affine.scale[$0] + affine.shift[$0] }
        let wName = weight(weights, dtype: w.dtype, shape: w.shape, base: conv.inputs[1], &context)
        let bName = weight(newBias, dtype: w.dtype, shape: [channels], base: conv.inputs[1] + "_bias", &context)
        var folded = conv
        folded.inputs = [conv.inputs[0], wName, bName]
        folded.outputs = [bn.outputs[0]]
        return [folded]
    }

    static func foldGemm(
        _ op: Node, _ bn: Node, _ affine: (scale: [Double], shift: [Double]), _ context: inout RewriteContext
    ) -> [Node]? {
        let isGemm = op.opType == "Gemm"
        guard op.inputs.count >= 2, op.outputs.count == 1, let w = context.graph.constantTensor(named: op.inputs[1]),
            w.shape.count == 2, var weights = floats(w), weights.count == w.elementCount
        else { return nil }
        let transposedB = isGemm && (op.attribute("transB")?.int ?? 0) != 0
        let channels = affine.scale.count
        guard (transposedB ? w.shape[0] : w.shape[1]) == channels else { return nil }
        if !isGemm {
            // MatMul broadcasts over leading dims of its input; a Gemm takes exactly 2-D.
            let declared = (context.graph.inputs + context.graph.valueInfo).first { $0.name == op.inputs[0] }
            guard declared?.type?.tensorShape?.count == 2 else { return nil }
        }
        var bias = [Double](repeating: 0, count: channels)
        if isGemm, op.inputs.count > 2, !op.inputs[2].isEmpty {
            guard let c = context.graph.constantTensor(named: op.inputs[2]), c.dtype == w.dtype, let v = floats(c),
                c.shape.count <= 1 || (c.shape.count == 2 && c.shape[0] == 1), v.count == 1 || v.count == channels
            else { return nil }
            let beta = Double(op.attribute("beta")?.float ?? 1)
            bias = (0..<channels).map { beta * v[v.count == 1 ? 0 : $0] }
        }
        for i in weights.indices {
            weights[i] *= affine.scale[transposedB ? i / w.shape[1] : i % w.shape[1]]
        }
        let newBias = (0..<channels).map { bias[$0] * affine.scale[$0] + affine.shift[$0] }
        let wName = weight(weights, dtype: w.dtype, shape: w.shape, base: op.inputs[1], &context)
        let bName = weight(newBias, dtype: w.dtype, shape: [channels], base: op.inputs[1] + "_bias", &context)
        var gemm = Node(name: op.name, opType: "Gemm", inputs: [op.inputs[0], wName, bName], outputs: [bn.outputs[0]])
        if isGemm {
            // Beta is now in the bias.
            gemm.attributes = op.attributes.filter { $0.name != "beta" }
        }
        return [gemm]
    }
}
