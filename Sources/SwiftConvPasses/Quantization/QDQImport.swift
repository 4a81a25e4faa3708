import SwiftConvIR

/// The int8 parameters a quantized (QDQ) ONNX model fixes, in TFLite's terms: int8 storage,
/// uint8 parameters moved to int8 (zero point - 128, same scale, so the same real values).
/// `FullIntegerQuantization` takes them instead of calibrated ranges.
public struct FixedQuantization: Sendable {
    /// Per-tensor int8 parameters of float activations, by value name.
    public var activations: [String: QuantParams] = [:]
    /// The constants that were a DequantizeLinear of an 8-bit constant.
    var constants: [Constant] = []

    /// An 8-bit constant of the QDQ model: what its float form is made of.
    struct Constant: Sendable {
        /// One scale for the tensor, or one per index along the QDQ axis.
        var scales: [Float]
        /// int8 zero points, as many as scales.
        var zeroPoints: [Int64]
        var elementCount: Int
    }

    /// No parameters.
    public init() {}

    /// The parameters with activation names moved to the values of a converted model that
    /// hold them, as `map` says (layouts do not matter: the parameters are per tensor).
    public func renamed(by map: ValueMap) -> FixedQuantization {
        var out = self
        for name in map.names {
            if let source = map[name]?.source, let p = activations[source] { out.activations[name] = p }
        }
        return out
    }

    /// The parameters with the inputs of ops whose int8 kernels take their output's parameters
    /// (TRANSPOSE, RESHAPE, SQUEEZE, EXPAND_DIMS, CONCATENATION) given the output's when they
    /// have none: values the conversion made in between, such as the NHWC result of a Conv
    /// whose NCHW copy the source annotated, or the parts of a grouped Conv.
    public func filledBackThroughLayoutOps(_ graph: Graph) -> FixedQuantization {
        var out = self
        let constants = Set(graph.initializers.map(\.name))
        for node in graph.nodes.reversed() where node.canonicalDomain == OpDomain.tflite {
            guard ["TRANSPOSE", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION"].contains(node.opType),
                node.outputs.count == 1, let p = out.activations[node.outputs[0]]
            else { continue }
            let data = node.opType == "CONCATENATION" ? node.inputs : Array(node.inputs.prefix(1))
            for x in data where !x.isEmpty && !constants.contains(x) && out.activations[x] == nil {
                out.activations[x] = p
            }
        }
        return out
    }

    /// `t` (float32) as the int8 tensor the QDQ model stored, when one of its 8-bit constants
    /// dequantizes to exactly these values: one scale per index along `axis` of `t` (nil: one
    /// for the tensor), and for `symmetric` (TFLite's weights) zero points 0 and no -128.
    /// A layout change (OIHW -> OHWI) keeps the channel order, so the scales still fit; a
    /// grouped Conv's weights, one CONV_2D per group, are a run of the source's channels.
    func exactInt8(_ t: Tensor, axis: Int?, symmetric: Bool, name: String) -> Tensor? {
        guard t.dtype == .float32, t.elementCount > 0 else { return nil }
        if let axis, !(axis >= 0 && axis < t.shape.count && t.shape[axis] > 0) { return nil }
        let channels = axis.map { t.shape[$0] } ?? 1
        let inner = axis.map { t.shape[($0 + 1)...].reduce(1, *) } ?? t.elementCount
        let values = t.values(as: Float.self)
        for c in constants where c.elementCount % t.elementCount == 0 {
            if symmetric, c.zeroPoints.contains(where: { $0 != 0 }) { continue }
            // The source's channels split in `parts` runs of `channels` (1 run: the whole tensor).
            let parts = c.elementCount / t.elementCount
            let perChannel = c.scales.count > 1
            guard parts == 1 ? (c.scales.count == 1 || c.scales.count == channels) : c.scales.count == parts * channels,
                !perChannel || axis != nil
            else { continue }
            for part in 0..<parts {
                let run = perChannel ? part * channels..<(part + 1) * channels : 0..<1
                let (scales, zeroPoints) = (Array(c.scales[run]), Array(c.zeroPoints[run]))
                guard let q = Self.levels(values, scales, zeroPoints, channels: channels, inner: inner, symmetric: symmetric)
                else { continue }
                var out = Tensor(name: name, dtype: .int8, shape: t.shape, values: q)
                out.quantization =
                    perChannel
                    ? QuantParams(scale: scales, zeroPoint: zeroPoints, axis: axis, storageType: .int8)
                    : QuantParams(scale: scales[0], zeroPoint: zeroPoints[0], storageType: .int8)
                return out
            }
        }
        return nil
    }

    /// The int8 levels that dequantize to exactly `values` with these parameters, or nil.
    static func levels(
        _ values: [Float], _ scales: [Float], _ zeroPoints: [Int64], channels: Int, inner: Int, symmetric: Bool
    ) -> [Int8]? {
        let low: Int64 = symmetric ? -127 : -128
        var q = [Int8](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            let k = scales.count == 1 ? 0 : (i / inner) % channels
            let r = (v / scales[k]).rounded()
            guard r.isFinite, abs(r) <= 256 else { return nil }
            let level = Int64(r) + zeroPoints[k]
            // The very expression the float constant was made with, so equality is exact.
            guard level >= low, level <= 127, Float(level - zeroPoints[k]) * scales[k] == v else { return nil }
            q[i] = Int8(level)
        }
        return q
    }
}

/// Splits a quantized ONNX model in QDQ form (QuantizeLinear/DequantizeLinear pairs, as
/// onnxruntime's `quantize_static(quant_format=QDQ)` writes it) into the float model those
/// pairs annotate and the quantization they fix. (The integer ops, ConvInteger and
/// MatMulInteger, that TFLite -> ONNX writes for int8 kernels are not QDQ and not read here.)
///
/// - An activation pair `x -> QuantizeLinear -> DequantizeLinear` with the same constant
///   per-tensor parameters disappears: readers read `x`, and `x` gets the pair's parameters.
///   A pair whose range starts at 0 after a Conv, Gemm, MatMul or Add stands for a ReLU that
///   the quantizer folded into the clamp (onnxruntime removes such Relus), so a Relu comes back.
/// - A DequantizeLinear of a constant becomes the float constant it denotes, exactly
///   `scale * (q - zero_point)` per channel; 8-bit ones are kept so that the weights can
///   take their int8 values and scales back unchanged.
/// A pair int8 cannot state (16-bit, per-channel activations, a scale that is not finite and
/// positive) goes too, and its value stays float. Other Q/DQ nodes (block quantization, a Q
/// without its DQ, a DQ of a graph input) stay, and the conversion names them.
public enum QDQImport {
    /// Whether the main graph has QuantizeLinear or DequantizeLinear nodes.
    public static func isQDQ(_ model: Model) -> Bool {
        model.format == .onnx
            && model.graph.nodes.contains {
                $0.canonicalDomain.isEmpty && ($0.opType == "QuantizeLinear" || $0.opType == "DequantizeLinear")
            }
    }

    /// The float model and the quantization its Q/DQ pairs fix.
    public static func split(_ model: Model) throws -> (model: Model, fixed: FixedQuantization) {
        var splitter = QDQSplitter(graph: model.graph)
        try splitter.run()
        var out = model
        out.graph = splitter.graph
        return (out, splitter.fixed)
    }
}

/// Ops after which a pair that clamps at zero was a ReLU onnxruntime folded into the quantizer.
private let reluFoldingProducers: Set<String> = ["Conv", "Gemm", "MatMul", "Add"]

private struct QDQSplitter {
    var graph: Graph
    var fixed = FixedQuantization()
    var names: UniqueNameGenerator

    init(graph: Graph) {
        self.graph = graph
        names = UniqueNameGenerator(graph: graph)
    }

    /// The parameters of a Q or DQ node from constant inputs, with their integer type.
    func params(_ node: Node, integerType: DType?) -> QuantParams? {
        guard node.inputs.count >= 2, node.attribute("block_size")?.int ?? 0 == 0,
            let scale = graph.constantTensor(named: node.inputs[1])
        else { return nil }
        var zeroPoint: Tensor? = nil
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            guard var z = graph.constantTensor(named: node.inputs[2]) else { return nil }
            // onnxruntime writes a [1] scale beside a scalar zero point.
            if z.elementCount == scale.elementCount { z.shape = scale.shape }
            zeroPoint = z
        }
        guard let storage = zeroPoint?.dtype ?? integerType else { return nil }
        return QuantParams.fromConstants(
            scale: scale, zeroPoint: zeroPoint, storageType: storage, axis: Int(node.attribute("axis")?.int ?? 1))
    }

    /// Per-tensor 8-bit parameters as int8 ones (uint8: zero point - 128), nil otherwise.
    static func int8(_ p: QuantParams) -> QuantParams? {
        guard p.isPerTensor, p.scale.count == 1 else { return nil }
        switch p.storageType {
        case .int8: return p
        case .uint8: return QuantParams(scale: p.scale[0], zeroPoint: p.zeroPoint[0] - 128, storageType: .int8)
        default: return nil
        }
    }

    mutating func run() throws {
        let producers = graph.producers
        var removed = Set<Int>()
        var alias: [String: String] = [:]
        var newConstants: [Tensor] = []
        var relus: [Node] = []
        var reluOf: [String: String] = [:]
        for (k, node) in graph.nodes.enumerated() where node.canonicalDomain.isEmpty && node.opType == "DequantizeLinear" {
            guard node.outputs.count == 1, !node.inputs.isEmpty else { continue }
            let x = node.inputs[0]
            if let q = graph.constantTensor(named: x) {
                guard let p = params(node, integerType: q.dtype), p.storageType == q.dtype,
                    let t = try dequantized(q, p, name: node.outputs[0], node: node)
                else { continue }
                newConstants.append(t)
                removed.insert(k)
                if q.dtype == .int8 || q.dtype == .uint8 {
                    let zeroPoints = p.zeroPoint.map { q.dtype == .uint8 ? $0 - 128 : $0 }
                    fixed.constants.append(.init(scales: p.scale, zeroPoints: zeroPoints, elementCount: q.elementCount))
                }
                continue
            }
            guard let pk = producers[x], graph.nodes[pk].canonicalDomain.isEmpty, graph.nodes[pk].opType == "QuantizeLinear"
            else { continue }
            let quantize = graph.nodes[pk]
            guard let pq = params(quantize, integerType: .uint8), let pd = params(node, integerType: pq.storageType),
                pq == pd, let f = quantize.inputs.first, !f.isEmpty
            else { continue }
            removed.insert(k)
            // Pairs TFLite's int8 cannot state (16-bit, per channel) and scales that are not finite
            // and positive (onnxruntime calibrating a value that held -inf) leave the value float.
            guard let p = Self.int8(pq), p.violation(elementType: .int8, shape: nil) == nil else {
                alias[node.outputs[0]] = f
                continue
            }
            var source = f
            if p.zeroPoint[0] == -128, let fp = producers[f], reluFoldingProducers.contains(graph.nodes[fp].opType),
                graph.nodes[fp].canonicalDomain.isEmpty
            {
                if let done = reluOf[f] {
                    source = done
                } else {
                    let relu = names.fresh(f + "_relu")
                    relus.append(Node(name: relu, opType: "Relu", inputs: [f], outputs: [relu]))
                    fixed.activations[relu] = p
                    reluOf[f] = relu
                    source = relu
                }
            }
            alias[node.outputs[0]] = source
            // Two pairs with different parameters on one value: the first pair's stay.
            if fixed.activations[f] == nil { fixed.activations[f] = p }
        }
        guard !removed.isEmpty else { return }
        var nodes: [Node] = []
        for (k, node) in graph.nodes.enumerated() where !removed.contains(k) {
            var n = node
            n.inputs = n.inputs.map { alias[$0] ?? $0 }
            nodes.append(n)
            // A restored Relu goes right after the value it clamps.
            nodes += relus.filter { n.outputs.contains($0.inputs[0]) }
        }
        graph.nodes = nodes
        graph.initializers += newConstants
        try keepOutputNames(alias)
        graph.removeDeadCode()
    }

    /// Graph outputs that were DequantizeLinear outputs keep their names: the value they
    /// alias takes the name when it is an inner value, else an Identity copies it.
    mutating func keepOutputNames(_ alias: [String: String]) throws {
        let interface = Set(graph.inputs.map(\.name) + graph.outputs.map(\.name) + graph.initializers.map(\.name))
        for output in graph.outputs {
            guard let source = alias[output.name] else { continue }
            if !interface.contains(source), !graph.namesReadBySubgraphs.contains(source) {
                for k in graph.nodes.indices {
                    graph.nodes[k].inputs = graph.nodes[k].inputs.map { $0 == source ? output.name : $0 }
                    graph.nodes[k].outputs = graph.nodes[k].outputs.map { $0 == source ? output.name : $0 }
                }
                if let p = fixed.activations.removeValue(forKey: source) { fixed.activations[output.name] = p }
            } else {
                graph.nodes.append(Node(name: names.fresh(output.name), opType: "Identity", inputs: [source], outputs: [output.name]))
                if let p = fixed.activations[source] { fixed.activations[output.name] = p }
            }
        }
    }

    /// The float32 constant `scale * (q - zero_point)` of an integer constant, per channel
    /// along the parameters' axis; nil for types it does not read.
    func dequantized(_ q: Tensor, _ p: QuantParams, name: String, node: Node) throws -> Tensor? {
        // Read at their own width: an Int64 copy of a large weight would be 8x its size.
        let count = q.elementCount
        guard q.dtype.bitWidth >= 8, q.byteCount == count * (q.dtype.bitWidth / 8) else { return nil }
        let level: (Int) -> Int64
        switch q.dtype {
        case .int8:
            let v = q.values(as: Int8.self)
            level = { Int64(v[$0]) }
        case .uint8:
            let v = q.values(as: UInt8.self)
            level = { Int64(v[$0]) }
        case .int16:
            let v = q.values(as: Int16.self)
            level = { Int64(v[$0]) }
        case .uint16:
            let v = q.values(as: UInt16.self)
            level = { Int64(v[$0]) }
        case .int32:
            let v = q.values(as: Int32.self)
            level = { Int64(v[$0]) }
        default:
            return nil
        }
        let rank = q.shape.count
        var inner = count
        var channels = 1
        if let a = p.axis {
            let axis = a < 0 ? a + rank : a
            guard axis >= 0, axis < rank, q.shape[axis] == p.scale.count else {
                throw SwiftConvError.conversion(
                    "DequantizeLinear '\(node.name)': \(p.scale.count) scales do not match axis \(a) of \(q.shape)")
            }
            channels = q.shape[axis]
            inner = q.shape[(axis + 1)...].reduce(1, *)
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let c = channels == 1 ? 0 : (i / inner) % channels
            values[i] = Float(level(i) - p.zeroPoint[c]) * p.scale[c]
        }
        return Tensor(name: name, dtype: .float32, shape: q.shape, values: values)
    }
}
