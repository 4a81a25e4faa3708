/// An attribute value (ONNX `AttributeProto`), one case per kind.
public indirect enum AttributeValue: Sendable {
    case float(Float)
    case int(Int64)
    /// Bytes, usually UTF-8 text.
    case string([UInt8])
    case tensor(Tensor)
    case graph(Graph)
    case sparseTensor(SparseTensor)
    case type(ValueType?)
    case floats([Float])
    case ints([Int64])
    case strings([[UInt8]])
    case tensors([Tensor])
    case graphs([Graph])
    case sparseTensors([SparseTensor])
    case types([ValueType?])
}

/// A named node attribute; inside a function it may instead refer to the caller's attribute.
public struct Attribute: Sendable {
    public var name: String
    /// nil only for a pure reference (`refAttrName`) whose kind is in `referenceKind`.
    public var value: AttributeValue?
    /// Inside a function body: the name of the function attribute this one takes.
    public var refAttrName: String?
    /// The declared kind of a reference attribute (ONNX `AttributeType` number).
    public var referenceKind: Int32?
    public var docString: String = ""

    public init(name: String, value: AttributeValue?) {
        self.name = name
        self.value = value
    }

    public var int: Int64? { if case .int(let v)? = value { return v } else { return nil } }
    public var float: Float? { if case .float(let v)? = value { return v } else { return nil } }
    public var ints: [Int64]? { if case .ints(let v)? = value { return v } else { return nil } }
    public var floats: [Float]? { if case .floats(let v)? = value { return v } else { return nil } }
    public var tensor: Tensor? { if case .tensor(let v)? = value { return v } else { return nil } }
    public var graph: Graph? { if case .graph(let v)? = value { return v } else { return nil } }
    public var string: String? {
        if case .string(let v)? = value { return String(decoding: v, as: UTF8.self) }
        return nil
    }
    public var strings: [String]? {
        if case .strings(let v)? = value { return v.map { String(decoding: $0, as: UTF8.self) } }
        return nil
    }
}

/// One operation. Inputs and outputs name values; "" marks an omitted optional one.
public struct Node: Sendable {
    public var name: String
    public var opType: String
    /// "" (or "ai.onnx") is the default ONNX domain.
    public var domain: String
    public var overload: String = ""
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]
    public var docString: String = ""
    public var metadata: [MetadataEntry] = []

    public init(name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [Attribute] = []) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    public func attribute(_ name: String) -> Attribute? { attributes.first { $0.name == name } }

    /// The normalized domain: "ai.onnx" and "" are the same domain.
    public var canonicalDomain: String { domain == "ai.onnx" ? "" : domain }
}

/// A graph: the model's main graph, or a subgraph held by an If/Loop/Scan attribute.
public struct Graph: Sendable {
    public var name: String
    public var nodes: [Node]
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    public var initializers: [Tensor]
    public var sparseInitializers: [SparseTensor] = []
    /// Types of intermediate values (ONNX `value_info`), as read or as inferred.
    public var valueInfo: [ValueInfo] = []
    public var docString: String = ""
    public var metadata: [MetadataEntry] = []
    /// ONNX `quantization_annotation`: tensor name -> (key -> tensor name of the parameter).
    public var quantizationAnnotations: [TensorAnnotation] = []

    public init(name: String = "", nodes: [Node] = [], inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
                initializers: [Tensor] = []) {
        self.name = name
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
    }

    public func initializer(named name: String) -> Tensor? { initializers.first { $0.name == name } }

    /// Graph inputs that are not also initializers (ONNX IR < 4 lists weights as inputs too).
    public var runtimeInputs: [ValueInfo] {
        let weights = Set(initializers.map(\.name))
        return inputs.filter { !weights.contains($0.name) }
    }
}

public struct TensorAnnotation: Sendable {
    public var tensorName: String
    public var parameters: [MetadataEntry]
    public init(tensorName: String, parameters: [MetadataEntry]) {
        self.tensorName = tensorName
        self.parameters = parameters
    }
}

/// A domain and the opset version of it that a model or function imports.
public struct OpsetID: Hashable, Sendable {
    public var domain: String
    public var version: Int64
    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// A model-local function (ONNX `FunctionProto`): a node whose (domain, name) match expands to `nodes`.
public struct Function: Sendable {
    public var name: String
    public var domain: String
    public var overload: String = ""
    public var inputs: [String]
    public var outputs: [String]
    /// Attribute names without defaults.
    public var attributeNames: [String]
    /// Attributes with default values.
    public var attributeDefaults: [Attribute] = []
    public var nodes: [Node]
    public var opsetImports: [OpsetID]
    public var valueInfo: [ValueInfo] = []
    public var docString: String = ""
    public var metadata: [MetadataEntry] = []

    public init(name: String, domain: String, inputs: [String], outputs: [String], attributeNames: [String] = [],
                nodes: [Node], opsetImports: [OpsetID]) {
        self.name = name
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributeNames = attributeNames
        self.nodes = nodes
        self.opsetImports = opsetImports
    }
}

/// The file format a model was read from and is written back to by default.
public enum ModelFormat: String, Sendable, CaseIterable {
    case onnx
    case tflite
}

/// A whole model: the format-independent unit every reader produces and every writer takes.
public struct Model: Sendable {
    public var format: ModelFormat
    public var graph: Graph
    public var opsetImports: [OpsetID]
    public var functions: [Function] = []
    public var irVersion: Int64 = 0
    public var producerName: String = ""
    public var producerVersion: String = ""
    public var domain: String = ""
    public var modelVersion: Int64 = 0
    public var docString: String = ""
    public var metadata: [MetadataEntry] = []
    /// Parts of the source file swiftconv does not interpret (ONNX training_info,
    /// device configuration), kept as serialized bytes so that a save loses nothing.
    public var preservedFields: [PreservedField] = []

    public init(format: ModelFormat, graph: Graph, opsetImports: [OpsetID]) {
        self.format = format
        self.graph = graph
        self.opsetImports = opsetImports
    }

    /// The opset version imported for `domain` ("" and "ai.onnx" alike), if any.
    public func opsetVersion(for domain: String) -> Int64? {
        let d = domain == "ai.onnx" ? "" : domain
        return opsetImports.first { ($0.domain == "ai.onnx" ? "" : $0.domain) == d }?.version
    }
}

/// A field of the source format kept verbatim: its field number and encoded payload.
public struct PreservedField: Sendable {
    public var fieldNumber: Int
    public var bytes: [UInt8]
    public init(fieldNumber: Int, bytes: [UInt8]) {
        self.fieldNumber = fieldNumber
        self.bytes = bytes
    }
}
