/// The type of a value flowing along a graph edge (ONNX `TypeProto`).
public indirect enum ValueType: Hashable, Sendable {
    /// A dense tensor; `shape` nil means the rank is unknown. `quantization`, when present,
    /// says how the stored integers map to real numbers (TFLite tensors, ONNX Q/DQ values).
    case tensor(elementType: DType, shape: Shape?, quantization: QuantParams? = nil)
    case sparseTensor(elementType: DType, shape: Shape?)
    case sequence(ValueType?)
    case map(key: DType, value: ValueType?)
    case optional(ValueType?)
    case opaque(domain: String, name: String)

    /// The element type of a dense tensor type; nil for other types.
    public var tensorElementType: DType? {
        if case .tensor(let t, _, _) = self { return t }
        return nil
    }

    /// The shape of a dense tensor type (nil when unknown or not a tensor).
    public var tensorShape: Shape? {
        if case .tensor(_, let s, _) = self { return s }
        return nil
    }

    /// The quantization of a tensor type (nil for float tensors and non-tensor types).
    public var quantization: QuantParams? {
        if case .tensor(_, _, let q) = self { return q }
        return nil
    }

    /// ONNX Runtime's spelling: `tensor(float)`, `seq(tensor(int64))`, `map(int64,tensor(float))`.
    public var onnxTypeString: String {
        switch self {
        case .tensor(let t, _, _): return "tensor(\(t.onnxTypeName))"
        case .sparseTensor(let t, _): return "sparse_tensor(\(t.onnxTypeName))"
        case .sequence(let e): return "seq(\(e?.onnxTypeString ?? "undefined"))"
        case .map(let k, let v): return "map(\(k.onnxTypeName),\(v?.onnxTypeString ?? "undefined"))"
        case .optional(let e): return "optional(\(e?.onnxTypeString ?? "undefined"))"
        case .opaque(let d, let n): return "opaque(\(d),\(n))"
        }
    }
}

/// Free-form denotations ONNX allows on types and dimensions; carried for fidelity only.
public struct TypeDenotation: Hashable, Sendable {
    /// A denotation of the whole type (`IMAGE`, `TEXT`), or "".
    public var type: String = ""
    /// One entry per dimension of a tensor type ("" where none).
    public var dims: [String] = []
    /// Denotations of the type and of each dimension.
    public init(type: String = "", dims: [String] = []) {
        self.type = type
        self.dims = dims
    }
    /// True when neither the type nor any dimension is denoted.
    public var isEmpty: Bool { type.isEmpty && dims.allSatisfy { $0.isEmpty } }
}

/// A named, typed graph value: a graph input, output or annotated intermediate.
public struct ValueInfo: Hashable, Sendable {
    /// The value's name.
    public var name: String
    /// nil when the file gives no type.
    public var type: ValueType?
    /// Free-form documentation carried for round trips.
    public var docString: String = ""
    /// Denotations carried for round trips.
    public var denotation: TypeDenotation = TypeDenotation()
    /// Key/value metadata carried for round trips.
    public var metadata: [MetadataEntry] = []

    /// A value `name` of `type` (nil when the file gives none).
    public init(name: String, type: ValueType?, docString: String = "") {
        self.name = name
        self.type = type
        self.docString = docString
    }
}

/// An ordered key/value pair (`StringStringEntryProto`); order is kept for round trips.
public struct MetadataEntry: Hashable, Sendable {
    /// The key.
    public var key: String
    /// The value.
    public var value: String
    /// An entry `key` = `value`.
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}
