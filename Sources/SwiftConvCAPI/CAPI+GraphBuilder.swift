import CSwiftConv
import SwiftConvIR

/// The object behind `sc_graph_builder *`: a graph under construction plus the model header
/// `sc_graph_builder_finish` wraps it in. Front ends build IR models with it, without ONNX bytes.
final class GraphBuilderBox {
    var graph: Graph
    let opsetImports: [OpsetID]
    let irVersion: Int64
    let producerName: String

    init(graphName: String, opsetImports: [OpsetID], irVersion: Int64, producerName: String) {
        graph = Graph(name: graphName)
        self.opsetImports = opsetImports
        self.irVersion = irVersion
        self.producerName = producerName
    }

    /// The model as built so far; the builder stays usable.
    func model() -> Model {
        var model = Model(format: .onnx, graph: graph, opsetImports: opsetImports)
        model.irVersion = irVersion > 0 ? irVersion : Self.defaultIRVersion(opsetImports)
        model.producerName = producerName
        return model
    }

    /// The IR version the ONNX release that introduced the model's default-domain opset wrote,
    /// so that runtimes of that generation accept the model (onnx's own version table).
    static func defaultIRVersion(_ imports: [OpsetID]) -> Int64 {
        guard let opset = imports.first(where: { OpDomain.canonical($0.domain).isEmpty })?.version else { return 8 }
        switch opset {
        case ...8: return 3
        case 9: return 4
        case 10: return 5
        case 11: return 6
        case 12...14: return 7
        case 15...18: return 8
        case 19...20: return 9
        case 21...22: return 10
        default: return 11
        }
    }

    /// Appends `attribute` to node `index`; an index out of range is an `invalidArgument`.
    func addAttribute(_ attribute: Attribute, toNode index: Int) throws {
        guard index >= 0, index < graph.nodes.count else {
            throw SwiftConvError.invalidArgument("[graph_builder] node index \(index) out of range 0..<\(graph.nodes.count)")
        }
        graph.nodes[index].attributes.append(attribute)
    }
}

/// `count` C strings as Swift strings; NULL entries are an error naming `what`.
private func cStrings(_ pointer: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int, _ what: String) throws -> [String] {
    guard count == 0 || pointer != nil else { throw SwiftConvError.invalidArgument("\(what) must not be NULL") }
    return try (0..<count).map { String(cString: try required(pointer![$0], "\(what)[\($0)]")) }
}

/// A required, non-empty C string argument.
private func nonEmptyString(_ pointer: UnsafePointer<CChar>?, _ what: String) throws -> String {
    let text = String(cString: try required(pointer, what))
    guard !text.isEmpty else { throw SwiftConvError.invalidArgument("\(what) must not be empty") }
    return text
}

/// `count` elements at `pointer`, which may be NULL only when `count` is 0.
private func elements<T>(_ pointer: UnsafePointer<T>?, _ count: Int, _ what: String) throws -> [T] {
    guard count >= 0 else { throw SwiftConvError.invalidArgument("\(what): negative count") }
    guard count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: try required(pointer, what), count: count))
}

private func builder(_ handle: OpaquePointer?) throws -> GraphBuilderBox {
    object(try required(handle, "builder"), as: GraphBuilderBox.self)
}

@_cdecl("sc_graph_builder_create")
public func scGraphBuilderCreate(
    _ graphName: UnsafePointer<CChar>?, _ irVersion: Int64, _ producerName: UnsafePointer<CChar>?,
    _ opsetDomains: UnsafePointer<UnsafePointer<CChar>?>?, _ opsetVersions: UnsafePointer<Int64>?, _ opsetCount: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        let name = try nonEmptyString(graphName, "graph_name")
        guard irVersion >= 0 else { throw SwiftConvError.invalidArgument("ir_version \(irVersion) is negative") }
        let domains = try cStrings(opsetDomains, opsetCount, "opset_domains")
        let versions = try elements(opsetVersions, opsetCount, "opset_versions")
        var imports = [OpsetID]()
        for (domain, version) in zip(domains, versions) {
            guard version >= 1 else {
                throw SwiftConvError.invalidArgument("opset version \(version) for domain '\(domain)' must be at least 1")
            }
            guard !imports.contains(where: { OpDomain.canonical($0.domain) == OpDomain.canonical(domain) }) else {
                throw SwiftConvError.invalidArgument("domain '\(domain)' is imported twice")
            }
            imports.append(OpsetID(domain: domain, version: version))
        }
        let producer = producerName.map { String(cString: $0) } ?? ""
        out.pointee = retainedHandle(
            GraphBuilderBox(graphName: name, opsetImports: imports, irVersion: irVersion, producerName: producer))
    }
}

@_cdecl("sc_graph_builder_release")
public func scGraphBuilderRelease(_ handle: OpaquePointer?) {
    releaseHandle(handle, as: GraphBuilderBox.self)
}

@_cdecl("sc_graph_builder_add_value")
public func scGraphBuilderAddValue(
    _ handle: OpaquePointer?, _ role: sc_graph_value_role, _ name: UnsafePointer<CChar>?, _ dtypeCode: sc_dtype,
    _ dims: UnsafePointer<Int64>?, _ dimParams: UnsafePointer<UnsafePointer<CChar>?>?, _ rank: Int64
) -> OpaquePointer? {
    withStatus {
        let box = try builder(handle)
        let name = try nonEmptyString(name, "name")
        guard let dtype = DType(rawValue: Int32(truncatingIfNeeded: dtypeCode.rawValue)),
            UInt32(dtype.rawValue) == dtypeCode.rawValue
        else {
            throw SwiftConvError.invalidArgument("value '\(name)': unknown dtype code \(dtypeCode.rawValue)")
        }
        guard rank >= -1 else { throw SwiftConvError.invalidArgument("value '\(name)': rank \(rank) (use -1 for unknown)") }
        var shape: Shape? = nil
        if rank >= 0 {
            guard rank == 0 || dims != nil else { throw SwiftConvError.invalidArgument("value '\(name)': dims must not be NULL") }
            var known = Shape()
            for i in 0..<Int(rank) {
                if let param = dimParams?[i] {
                    known.append(.symbolic(String(cString: param)))
                } else if dims![i] >= 0, dims![i] <= Int64(Int.max) {
                    known.append(.known(Int(dims![i])))
                } else if dims![i] == -1 {
                    known.append(.unknown)
                } else {
                    throw SwiftConvError.invalidArgument("value '\(name)': dimension \(i) is \(dims![i])")
                }
            }
            shape = known
        }
        let type: ValueType?
        if dtype == .undefined {
            guard shape == nil else {
                throw SwiftConvError.invalidArgument("value '\(name)': a shape needs an element type")
            }
            type = nil
        } else {
            type = .tensor(elementType: dtype, shape: shape)
        }
        let info = ValueInfo(name: name, type: type)
        switch role {
        case SC_GRAPH_INPUT: box.graph.inputs.append(info)
        case SC_GRAPH_OUTPUT: box.graph.outputs.append(info)
        case SC_GRAPH_VALUE_INFO: box.graph.valueInfo.append(info)
        default: throw SwiftConvError.invalidArgument("value '\(name)': unknown role \(role.rawValue)")
        }
    }
}

/// A non-tensor value type from ONNX Runtime's spelling (`ValueType.onnxTypeString`):
/// `tensor(float)`, `seq(tensor(int64))`, `map(int64,tensor(float))`, `seq(map(string,tensor(float)))`,
/// `optional(...)`; tensors in it have an unknown shape.
func parseValueType(_ text: Substring) throws -> ValueType {
    func inner(_ prefix: String) -> Substring? {
        guard text.hasPrefix(prefix + "("), text.hasSuffix(")") else { return nil }
        return text.dropFirst(prefix.count + 1).dropLast()
    }
    func elementType(_ name: Substring) throws -> DType {
        guard let t = DType.allCases.first(where: { $0 != .undefined && $0.onnxTypeName == name }) else {
            throw SwiftConvError.invalidArgument("type '\(text)': unknown element type '\(name)'")
        }
        return t
    }
    if let e = inner("tensor") { return .tensor(elementType: try elementType(e), shape: nil) }
    if let e = inner("sparse_tensor") { return .sparseTensor(elementType: try elementType(e), shape: nil) }
    if let e = inner("seq") { return .sequence(try parseValueType(e)) }
    if let e = inner("optional") { return .optional(try parseValueType(e)) }
    if let e = inner("map"), let comma = e.firstIndex(of: ",") {
        let key = try elementType(e[..<comma])
        guard key.isInteger || key == .string else {
            throw SwiftConvError.invalidArgument("type '\(text)': a map key must be an integer or string type")
        }
        return .map(key: key, value: try parseValueType(e[e.index(after: comma)...]))
    }
    throw SwiftConvError.invalidArgument("type '\(text)' is not tensor(..), seq(..), map(..,..) or optional(..)")
}

@_cdecl("sc_graph_builder_add_typed_value")
public func scGraphBuilderAddTypedValue(
    _ handle: OpaquePointer?, _ role: sc_graph_value_role, _ name: UnsafePointer<CChar>?,
    _ type: UnsafePointer<CChar>?
) -> OpaquePointer? {
    withStatus {
        let box = try builder(handle)
        let name = try nonEmptyString(name, "name")
        let text = try nonEmptyString(type, "type").filter { !$0.isWhitespace }
        let info = ValueInfo(name: name, type: try parseValueType(Substring(text)))
        switch role {
        case SC_GRAPH_INPUT: box.graph.inputs.append(info)
        case SC_GRAPH_OUTPUT: box.graph.outputs.append(info)
        case SC_GRAPH_VALUE_INFO: box.graph.valueInfo.append(info)
        default: throw SwiftConvError.invalidArgument("value '\(name)': unknown role \(role.rawValue)")
        }
    }
}

@_cdecl("sc_graph_builder_add_initializer")
public func scGraphBuilderAddInitializer(
    _ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
    _ tensor: OpaquePointer?
) -> OpaquePointer? {
    withStatus {
        let box = try builder(handle)
        let name = try nonEmptyString(name, "name")
        // The tensor value shares its storage, so the weight is the caller's memory (and keeps its owner alive).
        var weight = object(try required(tensor, "tensor"), as: TensorBox.self).tensor
        weight.name = name
        box.graph.initializers.append(weight)
    }
}

@_cdecl("sc_graph_builder_add_node")
public func scGraphBuilderAddNode(
    _ handle: OpaquePointer?, _ opType: UnsafePointer<CChar>?, _ domain: UnsafePointer<CChar>?,
    _ name: UnsafePointer<CChar>?, _ inputs: UnsafePointer<UnsafePointer<CChar>?>?, _ inputCount: Int,
    _ outputs: UnsafePointer<UnsafePointer<CChar>?>?, _ outputCount: Int, _ index: UnsafeMutablePointer<Int>?
) -> OpaquePointer? {
    withStatus {
        let box = try builder(handle)
        let index = try required(index, "index")
        let node = Node(
            name: name.map { String(cString: $0) } ?? "",
            opType: try nonEmptyString(opType, "op_type"),
            domain: domain.map { String(cString: $0) } ?? "",
            inputs: try cStrings(inputs, inputCount, "inputs"),
            outputs: try cStrings(outputs, outputCount, "outputs"))
        box.graph.nodes.append(node)
        index.pointee = box.graph.nodes.count - 1
    }
}

/// Adds attribute `name` made by `value` to node `index`: the shared body of the attribute setters.
private func addAttribute(
    _ handle: OpaquePointer?, _ index: Int, _ name: UnsafePointer<CChar>?,
    _ value: () throws -> AttributeValue
) -> OpaquePointer? {
    withStatus {
        let box = try builder(handle)
        let name = try nonEmptyString(name, "name")
        try box.addAttribute(Attribute(name: name, value: try value()), toNode: index)
    }
}

@_cdecl("sc_graph_builder_set_attribute_int")
public func scGraphBuilderSetAttributeInt(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ value: Int64
) -> OpaquePointer? {
    addAttribute(handle, node, name) { .int(value) }
}

@_cdecl("sc_graph_builder_set_attribute_float")
public func scGraphBuilderSetAttributeFloat(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ value: Float
) -> OpaquePointer? {
    addAttribute(handle, node, name) { .float(value) }
}

@_cdecl("sc_graph_builder_set_attribute_string")
public func scGraphBuilderSetAttributeString(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ data: UnsafePointer<UInt8>?, _ size: Int
) -> OpaquePointer? {
    addAttribute(handle, node, name) { .string(try elements(data, size, "data")) }
}

@_cdecl("sc_graph_builder_set_attribute_ints")
public func scGraphBuilderSetAttributeInts(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ values: UnsafePointer<Int64>?, _ count: Int
) -> OpaquePointer? {
    addAttribute(handle, node, name) { .ints(try elements(values, count, "values")) }
}

@_cdecl("sc_graph_builder_set_attribute_floats")
public func scGraphBuilderSetAttributeFloats(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ values: UnsafePointer<Float>?, _ count: Int
) -> OpaquePointer? {
    addAttribute(handle, node, name) { .floats(try elements(values, count, "values")) }
}

@_cdecl("sc_graph_builder_set_attribute_strings")
public func scGraphBuilderSetAttributeStrings(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ data: UnsafePointer<UnsafePointer<UInt8>?>?, _ sizes: UnsafePointer<Int>?, _ count: Int
) -> OpaquePointer? {
    addAttribute(handle, node, name) {
        let pointers = try elements(data, count, "data")
        let lengths = try elements(sizes, count, "sizes")
        return .strings(
            try zip(pointers, lengths).enumerated().map { i, item in
                try elements(item.0, item.1, "data[\(i)]")
            })
    }
}

@_cdecl("sc_graph_builder_set_attribute_tensor")
public func scGraphBuilderSetAttributeTensor(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ tensor: OpaquePointer?
) -> OpaquePointer? {
    addAttribute(handle, node, name) { .tensor(object(try required(tensor, "tensor"), as: TensorBox.self).tensor) }
}

@_cdecl("sc_graph_builder_set_attribute_graph")
public func scGraphBuilderSetAttributeGraph(
    _ handle: OpaquePointer?, _ node: Int, _ name: UnsafePointer<CChar>?,
    _ subgraph: OpaquePointer?
) -> OpaquePointer? {
    addAttribute(handle, node, name) { .graph(try builder(try required(subgraph, "subgraph")).graph) }
}

@_cdecl("sc_graph_builder_finish")
public func scGraphBuilderFinish(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = try builder(handle)
        let out = try required(out, "out")
        let model = box.model()
        try ModelChecker.check(model)
        out.pointee = retainedHandle(ModelBox(model))
    }
}
