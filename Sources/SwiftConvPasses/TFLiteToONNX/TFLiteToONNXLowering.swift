import SwiftConvIR

/// Lowers every `tflite`-domain node of a model to default-domain ONNX ops, keeping the
/// TFLite graph boundary (names, order, NHWC layout) as it is.
///
/// Each op family has its own file of rules (`TFLite<Family>Lowering.swift`); this file holds
/// the driver and what the rules share. Full-integer int8 ops that an integer rule computes
/// exactly (`TFLiteIntegerLowering.swift`) become integer ONNX ops; other quantized values are
/// lowered as QDQ: a rule sees float values (a quantized input gets a DequantizeLinear) and
/// each quantized output gets a QuantizeLinear with its declared scale and zero point. Every node that cannot be lowered
/// is collected and reported in one `.conversion` error, so no partial model comes out.
public struct TFLiteToONNXLowering: ModelPass {
    public let name = "lower-tflite-to-onnx"
    /// The default-domain opset the result imports (13 or later).
    public let opset: Int64

    public init(opset: Int64 = 13) { self.opset = opset }

    public func run(on model: inout Model) throws -> Bool {
        guard opset >= 13, opset <= (OpDomain.knownVersions[OpDomain.onnx]?.upperBound ?? 13) else {
            throw SwiftConvError.invalidArgument("the ONNX opset for a TFLite conversion must be 13 or later and known, not \(opset)")
        }
        let lowering = TFLiteLoweringState(opset: opset, names: UniqueNameGenerator(graph: model.graph))
        var map = ValueMap()
        for input in model.graph.runtimeInputs { map.set(input.name, ValueMap.Entry(source: input.name)) }
        let graph = try lowering.lower(model.graph, depth: 0, valueMap: &map)
        if !lowering.problems.isEmpty {
            let list = lowering.problems.map { "\($0.op) '\($0.name)': \($0.why)" }
            throw SwiftConvError.conversion(
                "\(list.count) TFLite node\(list.count == 1 ? "" : "s") cannot be converted to ONNX: " + list.joined(separator: "; "))
        }
        model.graph = graph
        model.format = .onnx
        model.opsetImports = [OpsetID(domain: OpDomain.onnx, version: opset)]
        if model.irVersion == 0 || model.irVersion < 7 { model.irVersion = opset >= 21 ? 10 : 8 }
        model.metadata.removeAll { $0.key.hasPrefix("tflite.") }
        map.store(in: &model)
        return true
    }
}

/// The passes that turn an imported TFLite model into an ONNX model: the lowering, then the
/// removal of the Identity and Transpose nodes it leaves where they cancel, then dead code;
/// last, the value map (`swiftconv.value_map`) loses the values those removed.
public enum TFLiteToONNX {
    /// The whole conversion as one pipeline.
    public static func pipeline(opset: Int64 = 13) -> PassPipeline {
        PassPipeline(
            name: "tflite-to-onnx",
            passes: [
                TFLiteToONNXLowering(opset: opset), IdentityElimination(), TransposeCancellation(), DeadCodeElimination(),
                ValueMapPruning(),
            ])
    }
}

/// Why one node cannot be lowered; collected per node, reported together.
struct NotLowerable: Error {
    var why: String
    init(_ why: String) { self.why = why }
}

/// One rule: emits the ONNX nodes for `node` through the lowering context.
typealias TFLiteLoweringRule = (_ node: NodeLowering) throws -> Void

/// Every family's rules by TFLite op type.
enum TFLiteLoweringRules {
    static let all: [String: TFLiteLoweringRule] = {
        var table: [String: TFLiteLoweringRule] = [:]
        for family in [conv, pooling, elementwise, activation, reduce, shape, indexing, image, quantize, recurrent, controlFlow] {
            table.merge(family) { first, _ in first }
        }
        return table
    }()
}

/// What is shared by the lowering of the main graph and its subgraphs.
final class TFLiteLoweringState {
    let opset: Int64
    var names: UniqueNameGenerator
    var problems: [(op: String, name: String, why: String)] = []

    init(opset: Int64, names: UniqueNameGenerator) {
        self.opset = opset
        self.names = names
    }

    /// Subgraphs may nest (WHILE bodies with IFs); the importer caps this, so do we.
    static let maxDepth = 32

    /// The ONNX version of a tflite graph: same inputs and outputs, lowered nodes.
    /// `valueMap` receives the values of the main graph that hold a tflite value.
    func lower(_ g: Graph, depth: Int, valueMap: inout ValueMap) throws -> Graph {
        guard depth <= Self.maxDepth else {
            throw SwiftConvError.conversion("TFLite subgraphs nest deeper than \(Self.maxDepth)")
        }
        let scope = GraphLowering(graph: g, state: self, depth: depth)
        for node in g.nodes {
            let canonical = node.canonicalDomain
            if canonical == OpDomain.tfliteCustom {
                problems.append((node.opType, node.name, "custom op: ONNX has no equivalent"))
                continue
            }
            guard canonical == OpDomain.tflite else {
                scope.nodes.append(node) // already ONNX
                continue
            }
            guard let rule = TFLiteLoweringRules.all[node.opType] else {
                problems.append((node.opType, node.name, "no ONNX lowering for this TFLite op"))
                continue
            }
            let lowering = NodeLowering(node: node, scope: scope)
            let mark = (scope.nodes.count, scope.initializers.count, scope.dequantized)
            do {
                // Full-integer ops the integer rules compute exactly; QDQ around float ops for the rest.
                let exact = try TFLiteLoweringRules.integer[node.opType]?(lowering) ?? false
                if !exact { try rule(lowering) }
                try lowering.checkOutputsBound()
            } catch let e as NotLowerable {
                scope.nodes.removeSubrange(mark.0...)
                scope.initializers.removeSubrange(mark.1...)
                scope.dequantized = mark.2
                problems.append((node.opType, node.name, e.why))
            }
        }
        var out = Graph(name: g.name, nodes: scope.nodes, inputs: g.inputs.map(Self.plain), outputs: g.outputs.map(Self.plain))
        out.initializers =
            g.initializers.map {
                var t = $0
                t.metadata.removeAll { $0.key.hasPrefix("tflite.") }
                return t
            } + scope.initializers
        out.docString = g.docString
        if depth == 0 {
            for name in scope.valueMap.names { if let e = scope.valueMap[name] { valueMap.set(name, e) } }
        }
        return out
    }

    /// The ONNX version of a subgraph (a control-flow body), whose values are not mapped.
    func lower(_ g: Graph, depth: Int) throws -> Graph {
        var unused = ValueMap()
        return try lower(g, depth: depth, valueMap: &unused)
    }

    /// A graph input or output without the importer's TFLite bookkeeping.
    static func plain(_ v: ValueInfo) -> ValueInfo {
        var v = v
        v.metadata.removeAll { $0.key.hasPrefix("tflite.") }
        return v
    }
}

/// The lowering of one graph: the types of its tflite values and the nodes emitted so far.
final class GraphLowering {
    let graph: Graph
    unowned let state: TFLiteLoweringState
    let depth: Int
    var types: [String: ValueType] = [:]
    var constants: [String: Tensor] = [:]
    var nodes: [Node] = []
    var initializers: [Tensor] = []
    /// Values of this graph that hold a tflite value (as they are or transposed).
    var valueMap = ValueMap()
    /// Float versions of quantized values already made, so a value is dequantized once.
    var dequantized: [String: String] = [:]
    /// The tflite graph's producers (values nothing produces are inputs, constants or variables).
    lazy var producers: [String: Int] = graph.producers

    init(graph: Graph, state: TFLiteLoweringState, depth: Int) {
        self.graph = graph
        self.state = state
        self.depth = depth
        let graphInputs = Set(graph.inputs.map(\.name))
        for t in graph.initializers where !graphInputs.contains(t.name) {
            constants[t.name] = t
            types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape), quantization: t.quantization)
        }
        for v in graph.valueInfo + graph.inputs + graph.outputs {
            if let t = v.type { types[v.name] = t }
        }
    }

    func fresh(_ base: String) -> String { state.names.fresh(base) }

    /// Adds a constant and returns its name.
    func constant(_ base: String, _ t: Tensor) -> String {
        var t = t
        t.name = fresh(base)
        initializers.append(t)
        constants[t.name] = t
        types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape))
        return t.name
    }

    func int64s(_ base: String, _ values: [Int64], scalar: Bool = false) -> String {
        constant(base, Tensor(dtype: .int64, shape: scalar ? [] : [values.count], values: values))
    }

    func float(_ base: String, _ value: Float) -> String {
        constant(base, Tensor(dtype: .float32, shape: [], values: [value]))
    }

    @discardableResult
    func emit(
        _ op: String, _ inputs: [String], _ outputs: [String], name: String? = nil, attributes: [Attribute] = []
    ) -> [String] {
        nodes.append(Node(name: name ?? fresh(outputs.first ?? op), opType: op, inputs: inputs, outputs: outputs, attributes: attributes))
        return outputs
    }

    /// The float32 value of a quantized one (a DequantizeLinear, emitted once), or the value itself.
    func float(of value: String) throws -> String {
        guard !value.isEmpty, let q = types[value]?.quantization else { return value }
        if let done = dequantized[value] { return done }
        if let c = constants[value], ![.int8, .uint8, .int32].contains(c.dtype), let folded = dequantizedConstant(c, q) {
            // DequantizeLinear takes only (u)int8 and int32 before opset 21: an int16 constant
            // (an integer LSTM's zero cell state) becomes its float value here.
            let out = constant(value + "_dequantized", folded)
            dequantized[value] = out
            return out
        }
        let (scale, zero) = quantizationConstants(q, base: value)
        let out = fresh(value + "_dequantized")
        var attributes: [Attribute] = []
        if let axis = q.axis { attributes.append(Attribute(name: "axis", value: .int(Int64(axis)))) }
        emit("DequantizeLinear", [value, scale, zero], [out], attributes: attributes)
        types[out] = .tensor(elementType: .float32, shape: types[value]?.tensorShape)
        dequantized[value] = out
        return out
    }

    /// `(c - zero point) * scale` of a quantized constant, per tensor or along its axis.
    func dequantizedConstant(_ c: Tensor, _ q: QuantParams) -> Tensor? {
        guard let raw = c.doubleValues(), !q.scale.isEmpty, q.scale.count == q.zeroPoint.count else { return nil }
        let axis = q.axis ?? 0
        let inner = c.shape.count > axis ? c.shape[(axis + 1)...].reduce(1, *) : 1
        let channels = q.isPerTensor ? 1 : q.scale.count
        let values: [Float] = raw.enumerated().map { i, v in
            let k = q.isPerTensor ? 0 : (i / max(inner, 1)) % channels
            return Float((v - Double(q.zeroPoint[k])) * Double(q.scale[k]))
        }
        return Tensor(dtype: .float32, shape: c.shape, values: values)
    }

    /// Scale and zero-point constants for Q/DQ: scalars per tensor, vectors per axis.
    func quantizationConstants(_ q: QuantParams, base: String) -> (scale: String, zeroPoint: String) {
        let shape = q.isPerTensor ? [Int]() : [q.scale.count]
        let scales = q.isPerTensor ? [q.scale.first ?? 1] : q.scale
        let zeros = q.isPerTensor ? [q.zeroPoint.first ?? 0] : q.zeroPoint
        let scale = constant(base + "_scale", Tensor(dtype: .float32, shape: shape, values: scales))
        let zero: String
        switch q.storageType {
        case .int8: zero = constant(base + "_zero_point", Tensor(dtype: .int8, shape: shape, values: zeros.map { Int8(clamping: $0) }))
        case .uint8:
            zero = constant(base + "_zero_point", Tensor(dtype: .uint8, shape: shape, values: zeros.map { UInt8(clamping: $0) }))
        case .int16:
            zero = constant(base + "_zero_point", Tensor(dtype: .int16, shape: shape, values: zeros.map { Int16(clamping: $0) }))
        default:
            zero = constant(base + "_zero_point", Tensor(dtype: .int32, shape: shape, values: zeros.map { Int32(clamping: $0) }))
        }
        return (scale, zero)
    }
}

/// What a rule sees of the node it lowers: its attributes with TFLite's defaults, its inputs
/// as float values, and where its outputs go.
final class NodeLowering {
    let node: Node
    let scope: GraphLowering
    private var bound: Set<Int> = []

    init(node: Node, scope: GraphLowering) {
        self.node = node
        self.scope = scope
    }

    var opset: Int64 { scope.state.opset }

    // MARK: attributes (absent means the schema default)

    func int(_ name: String, _ fallback: Int64) -> Int64 { node.attribute(name)?.int ?? fallback }
    func float(_ name: String, _ fallback: Float) -> Float { node.attribute(name)?.float ?? fallback }
    func bool(_ name: String) -> Bool { (node.attribute(name)?.int ?? 0) != 0 }
    func string(_ name: String, _ fallback: String) -> String { node.attribute(name)?.string ?? fallback }
    func ints(_ name: String) -> [Int64] { node.attribute(name)?.ints ?? [] }

    // MARK: inputs

    func has(_ k: Int) -> Bool { k < node.inputs.count && !node.inputs[k].isEmpty }

    /// The raw (tflite) name of input `k`.
    func raw(_ k: Int) throws -> String {
        guard has(k) else { throw NotLowerable("input \(k) is missing") }
        return node.inputs[k]
    }

    /// Input `k` as a value the float op reads: dequantized when quantized; "" when omitted.
    func input(_ k: Int) throws -> String {
        guard has(k) else { return "" }
        return try scope.float(of: node.inputs[k])
    }

    func type(_ k: Int) -> ValueType? { has(k) ? scope.types[node.inputs[k]] : nil }

    /// The element type the lowered input has (float32 for quantized values).
    func elementType(_ k: Int) -> DType? {
        guard let t = type(k) else { return nil }
        return t.quantization != nil ? .float32 : t.tensorElementType
    }

    func shape(_ k: Int) -> Shape? { type(k)?.tensorShape }

    func rank(_ k: Int) throws -> Int {
        guard let s = shape(k) else { throw NotLowerable("the rank of input \(k) is unknown") }
        return s.count
    }

    func outputShape(_ k: Int) -> Shape? {
        k < node.outputs.count ? scope.types[node.outputs[k]]?.tensorShape : nil
    }

    func outputElementType(_ k: Int) -> DType? {
        k < node.outputs.count ? scope.types[node.outputs[k]]?.tensorElementType : nil
    }

    /// The constant behind input `k`, if it is one.
    func constant(_ k: Int) -> Tensor? { has(k) ? scope.constants[node.inputs[k]] : nil }

    /// The integer values of constant input `k`.
    func constantInts(_ k: Int, what: String) throws -> [Int64] {
        guard let t = constant(k), t.dtype == .int32 || t.dtype == .int64, let v = t.int64Values() else {
            throw NotLowerable("\(what) (input \(k)) must be a constant int32 or int64 tensor")
        }
        return v
    }

    /// Input `k` as an int64 value (ONNX wants int64 shapes, axes and pads): a constant
    /// when it is one, else a Cast.
    func int64Input(_ k: Int) throws -> String {
        if let t = constant(k), let v = t.int64Values() {
            return scope.constant(node.inputs[k] + "_int64", Tensor(dtype: .int64, shape: t.shape, values: v))
        }
        let x = try raw(k)
        if scope.types[x]?.tensorElementType == .int64 { return x }
        return cast(x, to: .int64)
    }

    /// Weight input `k` transposed by `perm` (ONNX `Transpose` semantics): a new constant for
    /// constants (quantized ones stay integer, with the DequantizeLinear axis moved along),
    /// float16 constants cast to float32, anything else through a Transpose node.
    ///
    /// `dequantizedNow`: a quantized weight becomes its float32 value in the file instead of
    /// an int8 constant behind DequantizeLinear. Dynamic-range matrix products need it:
    /// onnxruntime fuses DequantizeLinear(weight) + MatMul into its own uint8 quantization of
    /// the input at its default level, which moves results by about 2e-2 from what the model
    /// (and LiteRT) computes; a float weight leaves nothing to fuse.
    func weight(_ k: Int, perm: [Int], dequantizedNow: Bool = false) throws -> String {
        let name = try raw(k)
        guard let t = constant(k) else {
            return emit("Transpose", [try input(k)], attributes: [.ints("perm", perm)])
        }
        guard t.shape.count == perm.count, let moved = t.transposed(perm) else {
            throw NotLowerable("weight '\(name)' of shape \(t.shape) cannot be transposed by \(perm)")
        }
        if let q = scope.types[name]?.quantization {
            var q2 = q
            if let axis = q.axis {
                guard let newAxis = perm.firstIndex(of: axis) else { throw NotLowerable("weight '\(name)': bad quantization axis") }
                q2.axis = newAxis
            }
            if dequantizedNow, let folded = scope.dequantizedConstant(moved, q2) {
                return scope.constant(name + "_onnx", folded)
            }
            var quantized = moved
            quantized.quantization = q2
            let c = scope.constant(name + "_onnx", quantized)
            scope.types[c] = .tensor(elementType: t.dtype, shape: Shape(moved.shape), quantization: q2)
            return try scope.float(of: c)
        }
        let c = scope.constant(name + "_onnx", moved)
        if t.dtype == .float16 { return cast(c, to: .float32) }
        return c
    }

    // MARK: emitting

    func fresh(_ base: String? = nil) -> String { scope.fresh(base ?? (node.outputs.first ?? node.opType)) }

    /// Emits one node with a fresh output and returns that output.
    @discardableResult
    func emit(_ op: String, _ inputs: [String], attributes: [Attribute] = []) -> String {
        scope.emit(op, inputs, [fresh()], attributes: attributes)[0]
    }

    func emit(_ op: String, _ inputs: [String], outputs count: Int, attributes: [Attribute] = []) -> [String] {
        scope.emit(op, inputs, (0..<count).map { _ in fresh() }, attributes: attributes)
    }

    func cast(_ x: String, to t: DType) -> String {
        let y = emit("Cast", [x], attributes: [.int("to", Int64(t.rawValue))])
        scope.types[y] = .tensor(elementType: t, shape: scope.types[x]?.tensorShape)
        return y
    }

    func int64s(_ values: [Int64], scalar: Bool = false) -> String { scope.int64s(fresh() + "_const", values, scalar: scalar) }
    func float(_ value: Float) -> String { scope.float(fresh() + "_const", value) }

    /// A scalar constant of `t` for arithmetic with a value of that type.
    func scalar(_ value: Double, _ t: DType) throws -> String {
        let base = fresh() + "_const"
        switch t {
        case .float32: return scope.constant(base, Tensor(dtype: .float32, shape: [], values: [Float(value)]))
        case .int32: return scope.constant(base, Tensor(dtype: .int32, shape: [], values: [Int32(value)]))
        case .int64: return scope.constant(base, Tensor(dtype: .int64, shape: [], values: [Int64(value)]))
        default: throw NotLowerable("no \(t) scalar constants in this lowering")
        }
    }

    /// NHWC -> NCHW for a rank-4 value.
    func toNCHW(_ x: String) -> String { emit("Transpose", [x], attributes: [.ints("perm", [0, 3, 1, 2])]) }
    /// NCHW -> NHWC for a rank-4 value.
    func toNHWC(_ x: String) -> String { emit("Transpose", [x], attributes: [.ints("perm", [0, 2, 3, 1])]) }

    /// `x` followed by the ONNX form of a TFLite fused activation.
    func activation(_ x: String, _ name: String) throws -> String {
        switch name {
        case "NONE": return x
        case "RELU": return emit("Relu", [x])
        case "RELU6": return emit("Clip", [x, float(0), float(6)])
        case "RELU_N1_TO_1": return emit("Clip", [x, float(-1), float(1)])
        case "TANH": return emit("Tanh", [x])
        default: throw NotLowerable("fused activation \(name) has no ONNX lowering")
        }
    }

    func fusedActivation(_ x: String) throws -> String { try activation(x, string("fused_activation_function", "NONE")) }

    // MARK: outputs

    /// Makes `value` the node's output `k`: a QuantizeLinear to the declared quantization when
    /// the output is quantized, an Identity (removed later) when the name differs.
    func bind(_ k: Int, _ value: String) throws {
        guard k < node.outputs.count else { throw NotLowerable("output \(k) does not exist") }
        bound.insert(k)
        let out = node.outputs[k]
        guard !out.isEmpty else { return }
        scope.valueMap.set(out, ValueMap.Entry(source: out))
        recordUntransposed(value, of: out)
        if let q = scope.types[out]?.quantization, q.storageType != .int32 {
            if q.storageType == .int16 && opset < 21 {
                throw NotLowerable("int16 QuantizeLinear needs opset 21 (converting to \(opset))")
            }
            let (scale, zero) = scope.quantizationConstants(q, base: out)
            var attributes: [Attribute] = []
            if let axis = q.axis { attributes.append(.int("axis", Int64(axis))) }
            scope.emit("QuantizeLinear", [value, scale, zero], [out], attributes: attributes)
            return
        }
        if value == out { return }
        scope.emit("Identity", [value], [out])
    }

    /// Records that a rule wrote output `k` itself (control flow, whose outputs keep their types).
    func markBound(_ k: Int) {
        bound.insert(k)
        if k < node.outputs.count, !node.outputs[k].isEmpty {
            scope.valueMap.set(node.outputs[k], ValueMap.Entry(source: node.outputs[k]))
        }
    }

    /// When `value` (the result bound to tflite value `out`) is a Transpose of a value this
    /// node made, that value holds `out` in the other layout: record it, since cancelling
    /// transposes later keeps it and removes `out`.
    private func recordUntransposed(_ value: String, of out: String) {
        guard value != out, let t = scope.nodes.last(where: { $0.outputs.contains(value) }), t.opType == "Transpose",
            t.canonicalDomain.isEmpty, t.inputs.count == 1, let p = t.attribute("perm")?.ints,
            scope.valueMap[t.inputs[0]] == nil, scope.producers[t.inputs[0]] == nil,
            !scope.graph.inputs.contains(where: { $0.name == t.inputs[0] })
        else { return }
        var inverse = [Int](repeating: 0, count: p.count)
        for (k, v) in p.enumerated() {
            guard v >= 0, v < p.count else { return }
            inverse[Int(v)] = k
        }
        scope.valueMap.set(t.inputs[0], ValueMap.Entry(source: out, perm: inverse))
    }

    func checkOutputsBound() throws {
        for k in node.outputs.indices where !node.outputs[k].isEmpty && !bound.contains(k) {
            throw NotLowerable("output \(k) was not produced")
        }
    }
}

extension Attribute {
    static func int(_ name: String, _ v: Int64) -> Attribute { Attribute(name: name, value: .int(v)) }
    static func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name: name, value: .ints(v.map { Int64($0) })) }
    static func ints(_ name: String, _ v: [Int64]) -> Attribute { Attribute(name: name, value: .ints(v)) }
    static func float(_ name: String, _ v: Float) -> Attribute { Attribute(name: name, value: .float(v)) }
    static func string(_ name: String, _ v: String) -> Attribute { Attribute(name: name, value: .string(Array(v.utf8))) }
}

extension Tensor {
    /// This tensor with its axes permuted (ONNX Transpose: output axis i is input axis
    /// perm[i]); nil for a bad permutation or a string tensor.
    func transposed(_ perm: [Int]) -> Tensor? {
        let rank = shape.count
        guard perm.count == rank, Set(perm) == Set(0..<rank), dtype != .string, dtype.bitWidth % 8 == 0 else { return nil }
        let size = dtype.bitWidth / 8
        let count = elementCount
        guard storage.bytes.count == count * size else { return nil }
        let outShape = perm.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        // Byte strides of the source in output-axis order; the last output axis is copied in a
        // tight loop (weights of big models are tens of megabytes).
        let strides = perm.map { inStrides[$0] * size }
        var out = [UInt8](repeating: 0, count: count * size)
        guard count > 0 else {
            return Tensor(name: name, dtype: dtype, shape: outShape, storage: TensorStorage(copyingArray: out))
        }
        let inner = rank > 0 ? outShape[rank - 1] : 1
        let innerStride = rank > 0 ? strides[rank - 1] : 0
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        let src = storage.bytes
        withExtendedLifetime(storage) {
            out.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                var o = 0
                while o < count * size {
                    var offset = 0
                    for i in 0..<index.count { offset += index[i] * strides[i] }
                    var p = s + offset
                    for _ in 0..<inner {
                        (d + o).copyMemory(from: p, byteCount: size)
                        o += size
                        p += innerStride
                    }
                    var i = index.count - 1
                    while i >= 0 {
                        index[i] += 1
                        if index[i] < outShape[i] { break }
                        index[i] = 0
                        i -= 1
                    }
                }
            }
        }
        var t = Tensor(name: name, dtype: dtype, shape: outShape, storage: TensorStorage(copyingArray: out))
        t.quantization = quantization
        return t
    }
}
