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
    /// The attribute's name, unique within its node.
    public var name: String
    /// nil only for a pure reference (`refAttrName`) whose kind is in `referenceKind`.
    public var value: AttributeValue?
    /// Inside a function body: the name of the function attribute this one takes.
    public var refAttrName: String?
    /// The declared kind of a reference attribute (ONNX `AttributeType` number).
    public var referenceKind: Int32?
    /// Free-form documentation carried for round trips.
    public var docString: String = ""

    /// An attribute `name` holding `value` (nil only for a pure reference).
    public init(name: String, value: AttributeValue?) {
        self.name = name
        self.value = value
    }

    /// The value if it is an INT, else nil.
    public var int: Int64? { if case .int(let v)? = value { return v } else { return nil } }
    /// The value if it is a FLOAT, else nil.
    public var float: Float? { if case .float(let v)? = value { return v } else { return nil } }
    /// The value if it is INTS, else nil.
    public var ints: [Int64]? { if case .ints(let v)? = value { return v } else { return nil } }
    /// The value if it is FLOATS, else nil.
    public var floats: [Float]? { if case .floats(let v)? = value { return v } else { return nil } }
    /// The value if it is a TENSOR, else nil.
    public var tensor: Tensor? { if case .tensor(let v)? = value { return v } else { return nil } }
    /// The value if it is a GRAPH, else nil.
    public var graph: Graph? { if case .graph(let v)? = value { return v } else { return nil } }
    /// The value if it is a STRING, decoded as UTF-8 (invalid bytes replaced), else nil.
    public var string: String? {
        if case .string(let v)? = value { return String(decoding: v, as: UTF8.self) }
        return nil
    }
    /// The value if it is STRINGS, each decoded as UTF-8, else nil.
    public var strings: [String]? {
        if case .strings(let v)? = value { return v.map { String(decoding: $0, as: UTF8.self) } }
        return nil
    }
}

/// One operation. Inputs and outputs name values; "" marks an omitted optional one.
public struct Node: Sendable {
    /// The node's name (may be empty; unique within a graph when set).
    public var name: String
    /// The operator, looked up with `domain` in the op registry and the kernel registry.
    public var opType: String
    /// "" (or "ai.onnx") is the default ONNX domain.
    public var domain: String
    /// ONNX function overload identifier; "" for ordinary ops.
    public var overload: String = ""
    /// Names of the values read, in the op's input order.
    public var inputs: [String]
    /// Names of the values written, in the op's output order.
    public var outputs: [String]
    /// Attributes in file order.
    public var attributes: [Attribute]
    /// Free-form documentation carried for round trips.
    public var docString: String = ""
    /// Key/value metadata carried for round trips.
    public var metadata: [MetadataEntry] = []

    /// A node running `opType` of `domain`, reading `inputs` and writing `outputs`.
    public init(
        name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
        attributes: [Attribute] = []
    ) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The attribute called `name`, if the node has one.
    public func attribute(_ name: String) -> Attribute? { attributes.first { $0.name == name } }

    /// The normalized domain: "ai.onnx" and "" are the same domain.
    public var canonicalDomain: String { domain == "ai.onnx" ? "" : domain }
}

/// A graph: the model's main graph, or a subgraph held by an If/Loop/Scan attribute.
public struct Graph: Sendable {
    /// The graph's name.
    public var name: String
    /// Nodes in file order (not necessarily topological; see `GraphAnalysis`).
    public var nodes: [Node]
    /// Graph inputs; in ONNX IR < 4 initializers are listed here too.
    public var inputs: [ValueInfo]
    /// Graph outputs, in the order a run returns them.
    public var outputs: [ValueInfo]
    /// Constant tensors (weights), each named by the value it defines.
    public var initializers: [Tensor]
    /// Sparse constant tensors (ONNX `sparse_initializer`).
    public var sparseInitializers: [SparseTensor] = []
    /// Types of intermediate values (ONNX `value_info`), as read or as inferred.
    public var valueInfo: [ValueInfo] = []
    /// Free-form documentation carried for round trips.
    public var docString: String = ""
    /// Key/value metadata carried for round trips.
    public var metadata: [MetadataEntry] = []
    /// ONNX `quantization_annotation`: tensor name -> (key -> tensor name of the parameter).
    public var quantizationAnnotations: [TensorAnnotation] = []

    /// A graph of `nodes` with the given interface and constants.
    public init(
        name: String = "", nodes: [Node] = [], inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
        initializers: [Tensor] = []
    ) {
        self.name = name
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
    }

    /// The initializer called `name`, if any.
    public func initializer(named name: String) -> Tensor? { initializers.first { $0.name == name } }

    /// Graph inputs that are not also initializers (ONNX IR < 4 lists weights as inputs too).
    public var runtimeInputs: [ValueInfo] {
        let weights = Set(initializers.map(\.name))
        return inputs.filter { !weights.contains($0.name) }
    }
}

/// One ONNX `quantization_annotation` entry: the tensor it describes and named parameters.
public struct TensorAnnotation: Sendable {
    /// The annotated value.
    public var tensorName: String
    /// Parameter kinds (`SCALE_TENSOR`, `ZERO_POINT_TENSOR`) mapped to the names of the tensors holding them.
    public var parameters: [MetadataEntry]
    /// An annotation of `tensorName` with `parameters`.
    public init(tensorName: String, parameters: [MetadataEntry]) {
        self.tensorName = tensorName
        self.parameters = parameters
    }
}

/// A domain and the opset version of it that a model or function imports.
public struct OpsetID: Hashable, Sendable {
    /// The domain; "" and "ai.onnx" both mean the default ONNX domain.
    public var domain: String
    /// The opset version imported.
    public var version: Int64
    /// An import of `version` of `domain`.
    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// A model-local function (ONNX `FunctionProto`): a node whose (domain, name) match expands to `nodes`.
public struct Function: Sendable {
    /// The function's name: nodes with this op type (and `domain`) call it.
    public var name: String
    /// The domain of the op the function defines.
    public var domain: String
    /// ONNX function overload identifier; "" when none.
    public var overload: String = ""
    /// Formal input names, bound to the calling node's inputs by position.
    public var inputs: [String]
    /// Formal output names, bound to the calling node's outputs by position.
    public var outputs: [String]
    /// Attribute names without defaults.
    public var attributeNames: [String]
    /// Attributes with default values.
    public var attributeDefaults: [Attribute] = []
    /// The body.
    public var nodes: [Node]
    /// Opsets the body's nodes are read with.
    public var opsetImports: [OpsetID]
    /// Types of values inside the body, when the file gives them.
    public var valueInfo: [ValueInfo] = []
    /// Free-form documentation carried for round trips.
    public var docString: String = ""
    /// Key/value metadata carried for round trips.
    public var metadata: [MetadataEntry] = []

    /// A function `domain::name` with the given formal parameters and body.
    public init(
        name: String, domain: String, inputs: [String], outputs: [String], attributeNames: [String] = [],
        nodes: [Node], opsetImports: [OpsetID]
    ) {
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
    /// The format the model was read from; its writer is chosen by it.
    public var format: ModelFormat
    /// The main graph.
    public var graph: Graph
    /// The opsets the model's nodes are read with, one per domain.
    public var opsetImports: [OpsetID]
    /// Model-local functions, called by nodes whose op matches their name and domain.
    public var functions: [Function] = []
    /// ONNX IR version of the file (0 when the format has none).
    public var irVersion: Int64 = 0
    /// The tool that made the model.
    public var producerName: String = ""
    /// The version of that tool.
    public var producerVersion: String = ""
    /// Reverse-DNS namespace of the model (ONNX `domain`), not an op domain.
    public var domain: String = ""
    /// The model's own version number.
    public var modelVersion: Int64 = 0
    /// Free-form documentation carried for round trips.
    public var docString: String = ""
    /// Key/value metadata (ONNX `metadata_props`), in file order.
    public var metadata: [MetadataEntry] = []
    /// Parts of the source file swiftconv does not interpret (ONNX training_info,
    /// device configuration), kept as serialized bytes so that a save loses nothing.
    public var preservedFields: [PreservedField] = []

    /// A model in `format` with `graph` and its opset imports.
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
    /// The field's number in the source format's top-level message.
    public var fieldNumber: Int
    /// The field's encoded payload, as read.
    public var bytes: [UInt8]
    /// A preserved field `fieldNumber` holding `bytes`.
    public init(fieldNumber: Int, bytes: [UInt8]) {
        self.fieldNumber = fieldNumber
        self.bytes = bytes
    }
}
