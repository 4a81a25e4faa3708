/// The kind of an attribute; raw values follow ONNX `AttributeProto.AttributeType`.
public enum AttributeKind: Int32, Sendable, CustomStringConvertible {
    case float = 1, int = 2, string = 3, tensor = 4, graph = 5, floats = 6, ints = 7, strings = 8
    case tensors = 9, graphs = 10, sparseTensor = 11, sparseTensors = 12, type = 13, types = 14

    /// ONNX's spelling, as the checker prints it (`INTS`, `FLOAT`).
    public var description: String {
        switch self {
        case .float: return "FLOAT"
        case .int: return "INT"
        case .string: return "STRING"
        case .tensor: return "TENSOR"
        case .graph: return "GRAPH"
        case .floats: return "FLOATS"
        case .ints: return "INTS"
        case .strings: return "STRINGS"
        case .tensors: return "TENSORS"
        case .graphs: return "GRAPHS"
        case .sparseTensor: return "SPARSE_TENSOR"
        case .sparseTensors: return "SPARSE_TENSORS"
        case .type: return "TYPE_PROTO"
        case .types: return "TYPE_PROTOS"
        }
    }
}

extension AttributeValue {
    /// The kind of this value.
    public var kind: AttributeKind {
        switch self {
        case .float: return .float
        case .int: return .int
        case .string: return .string
        case .tensor: return .tensor
        case .graph: return .graph
        case .sparseTensor: return .sparseTensor
        case .type: return .type
        case .floats: return .floats
        case .ints: return .ints
        case .strings: return .strings
        case .tensors: return .tensors
        case .graphs: return .graphs
        case .sparseTensors: return .sparseTensors
        case .types: return .types
        }
    }
}

/// One declared attribute of an op.
public struct AttributeSpec: Sendable, Hashable {
    /// The attribute's name.
    public var name: String
    /// The kind a value of it must have.
    public var kind: AttributeKind
    /// True when a node must give it.
    public var required: Bool
    /// An attribute `name` of `kind`.
    public init(name: String, kind: AttributeKind, required: Bool = false) {
        self.name = name
        self.kind = kind
        self.required = required
    }
}

/// Whether a formal input/output must be given, may be omitted ("" or absent), or repeats.
public enum ParameterOption: Sendable, Hashable {
    case single, optional, variadic
}

/// Computes output types (and small known values) of one node from its inputs.
public typealias TypeInferenceRule = @Sendable (inout InferenceContext) -> Void

/// Everything swiftconv knows about one version of one op.
///
/// Shared by shape inference, the checker and (later) kernel selection; add per-op
/// data here rather than keeping parallel tables elsewhere.
public struct OpSchema: Sendable {
    /// Canonical domain: "" for ai.onnx.
    public var domain: String
    /// The op type.
    public var name: String
    /// The opset version of the domain that introduced this definition.
    public var sinceVersion: Int64
    /// Formal inputs in order, each single, optional or variadic.
    public var inputs: [ParameterOption]
    /// Formal outputs in order, each single, optional or variadic.
    public var outputs: [ParameterOption]
    /// Declared attributes.
    public var attributes: [AttributeSpec]
    /// Computes output types from input types, when the op has a rule.
    public var inferTypes: TypeInferenceRule?

    /// A schema for `domain::name` as defined since `sinceVersion`.
    public init(
        domain: String, name: String, sinceVersion: Int64, inputs: [ParameterOption],
        outputs: [ParameterOption], attributes: [AttributeSpec] = [], inferTypes: TypeInferenceRule? = nil
    ) {
        self.domain = domain == "ai.onnx" ? "" : domain
        self.name = name
        self.sinceVersion = sinceVersion
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.inferTypes = inferTypes
    }

    /// Fewest inputs a node may list.
    public var minInputs: Int { Self.minCount(inputs) }
    /// Most inputs a node may list (`Int.max` when the last one is variadic).
    public var maxInputs: Int { Self.maxCount(inputs) }
    /// Fewest outputs a node may list.
    public var minOutputs: Int { Self.minCount(outputs) }
    /// Most outputs a node may list (`Int.max` when the last one is variadic).
    public var maxOutputs: Int { Self.maxCount(outputs) }

    /// The declared attribute called `name`, if any.
    public func attribute(_ name: String) -> AttributeSpec? { attributes.first { $0.name == name } }

    /// The option governing position `index` (variadic tails cover every later position).
    public func inputOption(at index: Int) -> ParameterOption? { Self.option(inputs, index) }
    /// The option governing output position `index` (variadic tails cover every later position).
    public func outputOption(at index: Int) -> ParameterOption? { Self.option(outputs, index) }

    static func option(_ params: [ParameterOption], _ index: Int) -> ParameterOption? {
        if index < params.count { return params[index] }
        if params.last == .variadic { return .variadic }
        return nil
    }

    static func minCount(_ params: [ParameterOption]) -> Int {
        // A variadic after other parameters may be empty (Loop, SequenceMap), but the optionals
        // before it keep their positions; a lone variadic needs one element (Concat, Sum).
        // Otherwise trailing optionals may be dropped.
        var n = params.count
        if n > 1, params[n - 1] == .variadic { return n - 1 }
        while n > 0, params[n - 1] == .optional { n -= 1 }
        return n
    }

    static func maxCount(_ params: [ParameterOption]) -> Int {
        params.last == .variadic ? Int.max : params.count
    }
}

/// Op schemas keyed by (domain, op type), each with its since-versions.
public struct OpRegistry: Sendable {
    private struct Key: Hashable {
        var domain: String
        var name: String
    }
    private var entries: [Key: [OpSchema]] = [:]
    private var familyOf: [Key: String] = [:]
    private var currentFamily: String?

    /// An empty registry.
    public init() {}

    /// The registry of every op family swiftconv knows.
    public static let standard: OpRegistry = {
        var r = OpRegistry()
        r.addFamily("Elementwise", ElementwiseOps.register)
        r.addFamily("Activation", ActivationOps.register)
        r.addFamily("Logical", LogicalOps.register)
        r.addFamily("Cast", CastOps.register)
        r.addFamily("Conv", ConvOps.register)
        r.addFamily("Pooling", PoolingOps.register)
        r.addFamily("Normalization", NormalizationOps.register)
        r.addFamily("Reduce", ReduceOps.register)
        r.addFamily("Shape", ShapeOps.register)
        r.addFamily("MatMul", MatMulOps.register)
        r.addFamily("Quantized", QuantizedOps.register)
        r.addFamily("Recurrent", RecurrentOps.register)
        r.addFamily("ControlFlow", ControlFlowOps.register)
        r.addFamily("Generator", GeneratorOps.register)
        r.addFamily("Signal", SignalOps.register)
        r.addFamily("ML", MLOps.register)
        r.addFamily("Training", TrainingOps.register)
        r.addFamily("Image", ImageOps.register)
        r.addFamily("Indexing", IndexingOps.register)
        r.addFamily("Loss", LossOps.register)
        r.addFamily("Sequence", SequenceOps.register)
        r.addFamily("String", StringOps.register)
        r.addFamily("TFLiteConv", TFLiteConvOps.register)
        r.addFamily("TFLitePooling", TFLitePoolingOps.register)
        r.addFamily("TFLiteImage", TFLiteImageOps.register)
        r.addFamily("TFLiteRecurrent", TFLiteRecurrentOps.register)
        r.addFamily("TFLiteControlFlow", TFLiteControlFlowOps.register)
        r.addFamily("TFLiteElementwise", TFLiteElementwiseOps.register)
        r.addFamily("TFLiteActivation", TFLiteActivationOps.register)
        r.addFamily("TFLiteReduce", TFLiteReduceOps.register)
        r.addFamily("TFLiteShape", TFLiteShapeOps.register)
        r.addFamily("TFLiteIndexing", TFLiteIndexingOps.register)
        return r
    }()

    /// Registers one family's schemas, recording `name` (its file is `Families/<name>Ops.swift`)
    /// as the family of each op it adds.
    public mutating func addFamily(_ name: String, _ register: (inout OpRegistry) -> Void) {
        currentFamily = name
        register(&self)
        currentFamily = nil
    }

    /// Adds (or replaces) one version of an op.
    public mutating func register(_ schema: OpSchema) {
        let key = Key(domain: schema.domain, name: schema.name)
        var list = entries[key, default: []]
        list.removeAll { $0.sinceVersion == schema.sinceVersion }
        list.append(schema)
        list.sort { $0.sinceVersion < $1.sinceVersion }
        entries[key] = list
        if let currentFamily { familyOf[key] = currentFamily }
    }

    /// The family whose file registers the op (nil when unknown or registered outside a family).
    public func family(domain: String, opType: String) -> String? {
        familyOf[Key(domain: domain == "ai.onnx" ? "" : domain, name: opType)]
    }

    /// Every family name, sorted.
    public var families: [String] { Set(familyOf.values).sorted() }

    /// The newest version of `opType` not above `version`, the model's import of `domain`.
    public func schema(domain: String, opType: String, version: Int64) -> OpSchema? {
        let key = Key(domain: domain == "ai.onnx" ? "" : domain, name: opType)
        return entries[key]?.last { $0.sinceVersion <= version }
    }

    /// Every registered since-version of an op, ascending; empty when unknown.
    public func versions(domain: String, opType: String) -> [Int64] {
        entries[Key(domain: domain == "ai.onnx" ? "" : domain, name: opType)]?.map(\.sinceVersion) ?? []
    }

    /// Whether any version of the op is registered.
    public func contains(domain: String, opType: String) -> Bool {
        entries[Key(domain: domain == "ai.onnx" ? "" : domain, name: opType)] != nil
    }

    /// All registered (domain, op type) pairs, sorted.
    public var opNames: [(domain: String, name: String)] {
        entries.keys.sorted { ($0.domain, $0.name) < ($1.domain, $1.name) }.map { ($0.domain, $0.name) }
    }
}

/// Domains swiftconv recognizes and the opset versions it knows for each.
public enum OpDomain {
    /// The default ONNX domain (also spelled "ai.onnx").
    public static let onnx = ""
    /// ONNX's traditional machine-learning domain.
    public static let ml = "ai.onnx.ml"
    /// ONNX's preview training domain (optimizers, gradients).
    public static let training = "ai.onnx.preview.training"
    /// ONNX's preview domain.
    public static let preview = "ai.onnx.preview"
    /// onnxruntime's contrib domain (FusedConv and the like).
    public static let microsoft = "com.microsoft"
    /// TFLite's builtin operators imported as they are (NHWC, fused activations, TFLite's
    /// semantics): op type = the `BuiltinOperator` name (`CONV_2D`), attributes = the fields of
    /// its builtin options table. One version; a node's TFLite op version is in its metadata.
    public static let tflite = "tflite"
    /// TFLite custom operators (Flex ops included): op type = the custom code. No kernels.
    public static let tfliteCustom = "tflite.custom"

    /// Versions known for the standard domains (as of onnx 1.23: ai.onnx 28, ai.onnx.ml 5).
    public static let knownVersions: [String: ClosedRange<Int64>] = [
        onnx: 1...28,
        ml: 1...5,
        training: 1...1,
        preview: 1...1,
        tflite: 1...1,
    ]

    /// Domains accepted without a version check; their ops are treated as custom.
    public static let customDomains: Set<String> = [
        microsoft, "com.microsoft.nchwc", "ai.onnx.contrib", "org.pytorch.aten", tfliteCustom,
    ]

    /// The canonical spelling: "ai.onnx" becomes "".
    public static func canonical(_ domain: String) -> String { domain == "ai.onnx" ? "" : domain }
}

// MARK: - Compact registration used by the family files

extension OpRegistry {
    /// Registers `name` once per since-version with the same signature and rule.
    ///
    /// `inputs`/`outputs` use one character per formal parameter: `1` single, `?` optional,
    /// `v` variadic. `attributes` is a space-separated list of `name:kind`, `!` marking
    /// required ones; kinds are `f i s t g fs is ss ts gs st tp`.
    mutating func add(
        _ name: String, domain: String = "", since: [Int64], inputs: String, outputs: String,
        attributes: String = "", rule: TypeInferenceRule?
    ) {
        let ins = Self.parseParams(inputs)
        let outs = Self.parseParams(outputs)
        let attrs = Self.parseAttributes(attributes)
        for v in since {
            register(
                OpSchema(
                    domain: domain, name: name, sinceVersion: v, inputs: ins, outputs: outs,
                    attributes: attrs, inferTypes: rule))
        }
    }

    static func parseParams(_ s: String) -> [ParameterOption] {
        s.map { c in c == "?" ? .optional : (c == "v" ? .variadic : .single) }
    }

    static func parseAttributes(_ s: String) -> [AttributeSpec] {
        s.split(separator: " ").map { item in
            var text = Substring(item)
            let required = text.hasSuffix("!")
            if required { text = text.dropLast() }
            let parts = text.split(separator: ":")
            let kind: AttributeKind
            switch parts.count > 1 ? String(parts[1]) : "" {
            case "f": kind = .float
            case "i": kind = .int
            case "s": kind = .string
            case "t": kind = .tensor
            case "g": kind = .graph
            case "fs": kind = .floats
            case "is": kind = .ints
            case "ss": kind = .strings
            case "ts": kind = .tensors
            case "gs": kind = .graphs
            case "st": kind = .sparseTensor
            case "tp": kind = .type
            default: preconditionFailure("bad attribute spec '\(item)'")
            }
            return AttributeSpec(name: String(parts[0]), kind: kind, required: required)
        }
    }
}
