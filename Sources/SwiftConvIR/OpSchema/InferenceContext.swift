/// What a type rule sees of one node: its inputs' types, constants and known small
/// integer values, and where it writes the outputs' types.
///
/// A model is untrusted: shapes read through `shape(_:)` and written through `setOutput`
/// are passed through `ShapeMath.sanitized` (no negative dims, no absurd ranks), so rules may
/// use dims as sizes; arithmetic on attribute and value numbers must still be overflow-safe.
public struct InferenceContext {
    /// The node whose outputs are being inferred.
    public var node: Node
    /// The opset version imported for the node's domain.
    public let opset: Int64
    /// Input types by position; nil for omitted or untyped inputs.
    public let inputTypes: [ValueType?]
    /// Input values known at compile time (initializers, Constant outputs).
    public let inputConstants: [Tensor?]
    /// Known elements of small integer inputs (shape arithmetic); a scalar has one element.
    public let inputValues: [[Dim]?]
    /// Output types by position; rules fill them. A tensor whose element type is
    /// `.undefined` carries a shape only and is not reported in `valueInfo`.
    public var outputTypes: [ValueType?]
    /// Known elements of small integer outputs, for later shape arithmetic.
    public var outputValues: [[Dim]?]
    /// Infers a subgraph (If/Loop/Scan body) given its input types; returns its output types.
    let subgraphInferrer: ((inout Graph, [ValueType?]) -> [ValueType?])?

    /// A context for `node` read at `opset`, with what is known of its inputs.
    public init(
        node: Node, opset: Int64, inputTypes: [ValueType?], inputConstants: [Tensor?],
        inputValues: [[Dim]?], subgraphInferrer: ((inout Graph, [ValueType?]) -> [ValueType?])? = nil
    ) {
        self.node = node
        self.opset = opset
        self.inputTypes = inputTypes
        self.inputConstants = inputConstants
        self.inputValues = inputValues
        self.outputTypes = Array(repeating: nil, count: node.outputs.count)
        self.outputValues = Array(repeating: nil, count: node.outputs.count)
        self.subgraphInferrer = subgraphInferrer
    }

    // MARK: Inputs

    /// Inputs listed by the node, omitted ones included.
    public var inputCount: Int { node.inputs.count }
    /// Outputs listed by the node, omitted ones included.
    public var outputCount: Int { node.outputs.count }

    /// Whether input `i` is given (listed and not "").
    public func has(_ i: Int) -> Bool { i >= 0 && i < node.inputs.count && !node.inputs[i].isEmpty }
    /// Whether output `i` is asked for (listed and not "").
    public func hasOutput(_ i: Int) -> Bool { i >= 0 && i < node.outputs.count && !node.outputs[i].isEmpty }

    /// Type of input `i`, nil when omitted or unknown.
    public func type(_ i: Int) -> ValueType? { has(i) && i < inputTypes.count ? inputTypes[i] : nil }

    /// Element type of tensor input `i`, nil when unknown.
    public func dtype(_ i: Int) -> DType? {
        guard case .tensor(let t, _, _)? = type(i), t != .undefined else { return nil }
        return t
    }

    /// Shape of tensor input `i` when its rank is known.
    public func shape(_ i: Int) -> Shape? {
        if case .tensor(_, let s, _)? = type(i), let s { return ShapeMath.sanitized(s) }
        if let c = constant(i), c.shape.count <= ShapeMath.maxRank { return ShapeMath.sanitized(Shape(c.shape)) }
        return nil
    }

    /// Rank of input `i` when known.
    public func rank(_ i: Int) -> Int? { shape(i)?.count }

    /// The constant value of input `i` (initializer or Constant output), if any.
    public func constant(_ i: Int) -> Tensor? { has(i) && i < inputConstants.count ? inputConstants[i] : nil }

    /// Known elements of integer input `i` (from value propagation or a constant).
    public func values(_ i: Int) -> [Dim]? {
        if has(i), i < inputValues.count, let v = inputValues[i] { return v }
        if let c = constant(i), c.elementCount <= 1 << 16, c.shape.count <= 1, let ints = c.int64Values(),
            ints.count == c.elementCount
        {
            return ints.map { Dim.known(Int(clamping: $0)) }
        }
        return nil
    }

    /// Integer input `i` when every element is known.
    public func ints(_ i: Int) -> [Int]? { values(i)?.concrete }

    /// Numeric input `i` as doubles when it is a constant.
    public func doubles(_ i: Int) -> [Double]? {
        guard let c = constant(i), c.elementCount <= 1 << 16, let v = c.doubleValues(), v.count == c.elementCount
        else { return nil }
        return v
    }

    // MARK: Attributes

    /// The node's attribute `name`; the typed accessors below return nil on a kind mismatch.
    public func attribute(_ name: String) -> Attribute? { node.attribute(name) }
    /// An INT attribute, clamped into `Int`.
    public func int(_ name: String) -> Int? { node.attribute(name)?.int.map { Int(clamping: $0) } }
    /// An INT attribute, or `d` when absent.
    public func int(_ name: String, default d: Int) -> Int { int(name) ?? d }
    /// An INTS attribute, each clamped into `Int`.
    public func ints(_ name: String) -> [Int]? { node.attribute(name)?.ints?.map { Int(clamping: $0) } }
    /// A FLOAT attribute.
    public func float(_ name: String) -> Float? { node.attribute(name)?.float }
    /// A FLOATS attribute.
    public func floats(_ name: String) -> [Float]? { node.attribute(name)?.floats }
    /// A STRING attribute, decoded as UTF-8.
    public func string(_ name: String) -> String? { node.attribute(name)?.string }
    /// A STRING attribute, or `d` when absent.
    public func string(_ name: String, default d: String) -> String { string(name) ?? d }

    // MARK: Outputs

    /// Sets tensor output `o`; a nil `dtype` records the shape alone.
    public mutating func setOutput(_ o: Int, _ dtype: DType?, _ shape: Shape?) {
        guard o >= 0, o < outputTypes.count else { return }
        if dtype == nil && shape == nil { return }
        outputTypes[o] = .tensor(elementType: dtype ?? .undefined, shape: ShapeMath.sanitized(shape))
    }

    /// Sets output `o` to any type (sequence, map, optional...).
    public mutating func setOutputType(_ o: Int, _ type: ValueType?) {
        guard o >= 0, o < outputTypes.count else { return }
        outputTypes[o] = ShapeMath.sanitized(type)
    }

    /// Records known elements of integer output `o` (kept only when small).
    public mutating func setValues(_ o: Int, _ values: [Dim]?) {
        guard o >= 0, o < outputValues.count, let values, values.count <= 1 << 16 else { return }
        outputValues[o] = values
    }

    /// Output `o` has the type and shape of input `i`.
    public mutating func propagate(from i: Int, to o: Int = 0) {
        setOutput(o, dtype(i), shape(i))
    }

    /// Runs shape inference on a subgraph; nil when no driver is attached.
    public func inferSubgraph(_ g: inout Graph, inputTypes: [ValueType?]) -> [ValueType?]? {
        subgraphInferrer?(&g, inputTypes)
    }
}

// MARK: - Dimension arithmetic shared by the rules

/// Shape helpers used by type rules; all arithmetic is overflow-safe.
public enum ShapeMath {
    /// Largest rank inference works with; a longer shape is treated as of unknown rank. Real
    /// models stay far below it, and it bounds what a hostile shape costs per node.
    public static let maxRank = 1024

    /// `shape` as inference may use it: negative dims (invalid, or -1 written for "unknown")
    /// become unknown, and a rank above `maxRank` becomes an unknown rank.
    public static func sanitized(_ shape: Shape?) -> Shape? {
        guard let shape, shape.count <= maxRank else { return nil }
        guard shape.contains(where: { ($0.value ?? 0) < 0 }) else { return shape }
        return shape.map { ($0.value ?? 0) < 0 ? .unknown : $0 }
    }

    /// `type` with every tensor shape in it sanitized as above.
    public static func sanitized(_ type: ValueType?) -> ValueType? {
        switch type {
        case .tensor(let e, let s, _)?: return .tensor(elementType: e, shape: sanitized(s))
        case .sparseTensor(let e, let s)?: return .sparseTensor(elementType: e, shape: sanitized(s))
        case .sequence(let e)?: return .sequence(sanitized(e))
        case .optional(let e)?: return .optional(sanitized(e))
        case .map(let k, let v)?: return .map(key: k, value: sanitized(v))
        case .opaque?, nil: return type
        }
    }

    /// Element pairs of two 1-D value lists under numpy broadcasting (a length of 1 repeats);
    /// nil when the lengths cannot broadcast. Lengths 0 and 1 give no pairs.
    public static func broadcastPairs(_ a: [Dim], _ b: [Dim]) -> [(Dim, Dim)]? {
        if a.count == b.count { return Array(zip(a, b)) }
        if a.count == 1 { return b.map { (a[0], $0) } }
        if b.count == 1 { return a.map { ($0, b[0]) } }
        return nil
    }

    /// Normalizes a possibly negative axis into 0..<rank; nil when out of range.
    public static func axis(_ a: Int, rank: Int) -> Int? {
        let v = a < 0 ? a &+ rank : a
        return v >= 0 && v < rank ? v : nil
    }

    /// Numpy broadcasting of two shapes; nil when they cannot broadcast.
    public static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
        let n = max(a.count, b.count)
        var out = Shape(repeating: .unknown, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? Dim.known(1) : a[i - (n - a.count)]
            let db = i < n - b.count ? Dim.known(1) : b[i - (n - b.count)]
            guard let d = broadcast(da, db) else { return nil }
            out[i] = d
        }
        return out
    }

    /// One broadcast dimension; nil when both are different concrete sizes neither of which is 1.
    public static func broadcast(_ a: Dim, _ b: Dim) -> Dim? {
        if a == b { return a }
        if a == .known(1) { return b }
        if b == .known(1) { return a }
        switch (a, b) {
        case (.known, .known): return nil
        case (.known, _): return a
        case (_, .known): return b
        default: return .unknown
        }
    }

    /// Broadcast of many shapes; nil if any is unknown or incompatible.
    public static func broadcast(_ shapes: [Shape?]) -> Shape? {
        guard var acc = shapes.first ?? nil else { return nil }
        for s in shapes.dropFirst() {
            guard let s, let b = broadcast(acc, s) else { return nil }
            acc = b
        }
        return acc
    }

    /// Sum of two dims; unknown unless both are numbers.
    public static func add(_ a: Dim, _ b: Dim) -> Dim {
        guard let x = a.value, let y = b.value else { return .unknown }
        let (r, o) = x.addingReportingOverflow(y)
        return o ? .unknown : .known(r)
    }

    /// Product of two dims; a factor of 1 keeps the other dim (symbolic included).
    public static func mul(_ a: Dim, _ b: Dim) -> Dim {
        if a == .known(1) { return b }
        if b == .known(1) { return a }
        guard let x = a.value, let y = b.value else { return .unknown }
        let (r, o) = x.multipliedReportingOverflow(by: y)
        return o ? .unknown : .known(r)
    }

    /// Product of dimensions as (known factor, symbolic names); nil if any is unknown or overflows.
    public static func product(_ dims: some Sequence<Dim>) -> (known: Int, symbols: [String])? {
        var k = 1
        var syms: [String] = []
        for d in dims {
            switch d {
            case .known(let v):
                let (r, o) = k.multipliedReportingOverflow(by: v)
                if o || v < 0 { return nil }
                k = r
            case .symbolic(let s): syms.append(s)
            case .unknown: return nil
            }
        }
        return (k, syms.sorted())
    }

    /// Product of dims as one Dim: known, a lone symbol, or unknown.
    public static func productDim(_ dims: some Sequence<Dim>) -> Dim {
        guard let p = product(dims) else { return .unknown }
        if p.symbols.isEmpty { return .known(p.known) }
        if p.symbols.count == 1, p.known == 1 { return .symbolic(p.symbols[0]) }
        return .unknown
    }

    /// `numerator / denominator` when it is exact in terms of known factors and symbols.
    public static func quotient(_ num: (known: Int, symbols: [String]), _ den: (known: Int, symbols: [String])) -> Dim {
        var rest = num.symbols
        for s in den.symbols {
            guard let i = rest.firstIndex(of: s) else { return .unknown }
            rest.remove(at: i)
        }
        guard den.known != 0, !(num.known == .min && den.known == -1), num.known % den.known == 0 else { return .unknown }
        let k = num.known / den.known
        if rest.isEmpty { return .known(k) }
        if rest.count == 1, k == 1 { return .symbolic(rest[0]) }
        return .unknown
    }

    /// Output size of a sliding window (conv/pool) along one axis.
    public static func windowOutput(
        input: Dim, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int,
        ceilMode: Bool = false
    ) -> Dim {
        guard let n = input.value, n >= 0, stride > 0, dilation > 0, kernel > 0, kernel < 1 << 30, dilation < 1 << 30,
            padBegin > -(1 << 40), padBegin < 1 << 40, padEnd > -(1 << 40), padEnd < 1 << 40, n < 1 << 50
        else { return .unknown }
        let effective = (kernel - 1) * dilation + 1
        let span = n + padBegin + padEnd - effective
        guard span >= 0 else { return .unknown }
        if ceilMode {
            // ceil(span / stride) + 1, written so that a huge stride cannot overflow.
            var out = span / stride + (span % stride == 0 ? 0 : 1) + 1
            // The last window must start inside the input or the left padding (ONNX/PyTorch rule).
            let (lastStart, overflow) = (out - 1).multipliedReportingOverflow(by: stride)
            if overflow || lastStart >= n + padBegin { out -= 1 }
            return .known(out)
        }
        return .known(span / stride + 1)
    }

    /// Attribute-sized integers small enough that plain arithmetic on them cannot overflow.
    public static func sane(_ values: [Int]) -> Bool { values.allSatisfy { $0 > -(1 << 31) && $0 < 1 << 31 } }

    /// A dimension from a computed double: unknown when not finite, negative or absurdly large.
    public static func dim(_ v: Double) -> Dim {
        guard v.isFinite, v >= 0, v < Double(1 << 53) else { return .unknown }
        return .known(Int(v))
    }

    /// `rank` unknown dims; nil for a negative rank or one above `maxRank`.
    public static func unknownShape(rank: Int) -> Shape? {
        rank >= 0 && rank <= maxRank ? Shape(repeating: .unknown, count: rank) : nil
    }

    /// A shape from known values, treating negatives as unknown.
    public static func dims(_ values: [Int]) -> Shape { values.map { $0 >= 0 ? .known($0) : .unknown } }
}
