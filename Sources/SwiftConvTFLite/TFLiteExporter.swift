import SwiftConvFlatBuffers
import SwiftConvIR
import TFLiteSchema

/// Writes a model whose nodes are all in the `tflite` / `tflite.custom` domains as a TFLite
/// FlatBuffer (schema version 3, identifier "TFL3").
///
/// It is the importer's inverse: tensor indices (`tflite.tensor_index`), written shapes
/// (`tflite.shape`, `tflite.shape_signature`), operator versions, signature defs and model
/// metadata come back as they were read, so a load and a save keep what LiteRT sees.
public enum TFLiteExporter {
    /// Constant data past this total is refused: FlatBuffers address 2 GB, and writing buffers
    /// after the FlatBuffer (`Buffer.offset`) is not implemented.
    public static let maxConstantBytes = Int(Int32.max) - (64 << 20)

    /// The bytes of a .tflite file holding `model`.
    public static func serialize(_ model: SwiftConvIR.Model) throws -> [UInt8] {
        var foreign: [String] = []
        collectForeignNodes(model.graph, into: &foreign)
        if !foreign.isEmpty {
            throw SwiftConvError.unsupportedOp(
                "TFLite export: \(foreign.count) node(s) outside the tflite domains: " + foreign.joined(separator: ", "))
        }
        var writer = Writer()
        return try writer.write(model)
    }

    static func collectForeignNodes(_ g: Graph, into out: inout [String]) {
        for n in g.nodes {
            if n.domain != OpDomain.tflite && n.domain != OpDomain.tfliteCustom {
                out.append("'\(n.name)' (\(n.domain.isEmpty ? "ai.onnx" : n.domain)::\(n.opType))")
            }
            for a in n.attributes {
                if case .graph(let sub)? = a.value { collectForeignNodes(sub, into: &out) }
                if case .graphs(let subs)? = a.value { subs.forEach { collectForeignNodes($0, into: &out) } }
            }
        }
    }
}

/// The state of one export.
struct Writer {
    var b = FlatBufferBuilder(capacity: 1 << 16)
    /// Graphs in subgraph order; graph attributes are appended as they are met.
    var graphs: [Graph] = []
    /// Per written subgraph: old tensor index (from `tflite.tensor_index`) -> new index.
    var indexMaps: [[Int: Int]] = []
    /// Per written subgraph: value name -> new tensor index.
    var nameMaps: [[String: Int32]] = []
    /// Per written subgraph: the original subgraph index, when the importer recorded it.
    var originalIndex: [Int?] = []
    var opcodeKeys: [String: Int] = [:]
    var opcodes: [(code: Int32, custom: String?, version: Int32)] = []
    /// Buffer tables; 0 is the empty sentinel.
    var buffers: [FBOffset] = []
    var constantBytes = 0

    /// "parent subgraph/node index/attribute name" -> the subgraph index of that graph attribute.
    var attributeSlots: [String: Int] = [:]

    /// Numbers every graph attribute (depth first) as a subgraph, giving each the index it was
    /// read from where that index is free, so that a load and save keeps the subgraph order.
    mutating func planSubgraphs(_ main: Graph) {
        var found: [(graph: Graph, parent: Int, node: Int, attribute: String)] = [(main, -1, -1, "")]
        var k = 0
        while k < found.count {
            let g = found[k].graph
            for (j, n) in g.nodes.enumerated() {
                for a in n.attributes { if case .graph(let sub)? = a.value { found.append((sub, k, j, a.name)) } }
            }
            k += 1
        }
        var slot = [Int?](repeating: nil, count: found.count)
        var taken = Set<Int>([0])
        slot[0] = 0
        for (i, f) in found.enumerated().dropFirst() {
            if let old = f.graph.metadata.first(where: { $0.key == TFLiteKeys.subgraphIndex }).flatMap({ Int($0.value) }),
                old > 0, old < found.count, !taken.contains(old)
            {
                slot[i] = old
                taken.insert(old)
            }
        }
        var next = 1
        for i in found.indices where slot[i] == nil {
            while taken.contains(next) { next += 1 }
            slot[i] = next
            taken.insert(next)
        }
        graphs = [Graph](repeating: Graph(), count: found.count)
        for (i, f) in found.enumerated() {
            let s = slot[i] ?? 0
            graphs[s] = f.graph
            if f.parent >= 0 { attributeSlots["\(slot[f.parent] ?? 0)/\(f.node)/\(f.attribute)"] = s }
        }
    }

    mutating func write(_ model: Model) throws -> [UInt8] {
        buffers.append(emptyBuffer())
        planSubgraphs(model.graph)
        var subgraphOffsets: [FBOffset] = []
        for k in graphs.indices { subgraphOffsets.append(try subgraph(graphs[k])) }
        let codes = opcodes.map { op -> FBOffset in
            let custom = op.custom.map { b.createString($0) }
            b.startTable(fieldCount: OperatorCode.slotCount)
            b.add(field: 0, Int8(clamping: min(op.code, 127)), default: 0)
            if let custom { b.add(field: 1, offset: custom) }
            b.add(field: 2, op.version, default: 1)
            b.add(field: 3, op.code, default: 0)
            return b.endTable()
        }
        var metadata: [FBOffset] = []
        for entry in model.metadata where entry.key.hasPrefix(TFLiteKeys.metadataPrefix) {
            guard let data = Base64.decode(entry.value) else {
                throw SwiftConvError.invalidArgument("TFLite export: model metadata '\(entry.key)' is not base64")
            }
            let buffer = buffers.count
            buffers.append(try dataBuffer(data))
            let name = b.createString(String(entry.key.dropFirst(TFLiteKeys.metadataPrefix.count)))
            b.startTable(fieldCount: TFLiteSchema.Metadata.slotCount)
            b.add(field: 0, offset: name)
            b.add(field: 1, UInt32(buffer), default: 0)
            metadata.append(b.endTable())
        }
        let signatures = try signatureDefs(model)
        let codesVector = b.createVector(offsets: codes)
        let subgraphsVector = b.createVector(offsets: subgraphOffsets)
        let description = model.docString.isEmpty ? nil : b.createString(model.docString)
        let buffersVector = b.createVector(offsets: buffers)
        let metadataVector = metadata.isEmpty ? nil : b.createVector(offsets: metadata)
        let signaturesVector = signatures.isEmpty ? nil : b.createVector(offsets: signatures)
        b.startTable(fieldCount: TFLiteSchema.Model.slotCount)
        b.forceDefaults = true
        b.add(field: 0, UInt32(3), default: 0)
        b.forceDefaults = false
        b.add(field: 1, offset: codesVector)
        b.add(field: 2, offset: subgraphsVector)
        if let description { b.add(field: 3, offset: description) }
        b.add(field: 4, offset: buffersVector)
        if let metadataVector { b.add(field: 6, offset: metadataVector) }
        if let signaturesVector { b.add(field: 7, offset: signaturesVector) }
        let root = b.endTable()
        return try b.finish(root: root, fileIdentifier: TFLiteSchema.fileIdentifier)
    }

    mutating func emptyBuffer() -> FBOffset {
        b.startTable(fieldCount: TFLiteSchema.Buffer.slotCount)
        return b.endTable()
    }

    mutating func dataBuffer(_ data: [UInt8]) throws -> FBOffset {
        constantBytes += data.count
        guard constantBytes <= TFLiteExporter.maxConstantBytes else {
            throw SwiftConvError.invalidArgument(
                "TFLite export: constants past \(TFLiteExporter.maxConstantBytes) bytes (models over 2 GB) are not supported")
        }
        let v = data.withUnsafeBytes { b.createBytes($0, alignment: 16) }
        b.startTable(fieldCount: TFLiteSchema.Buffer.slotCount)
        b.add(field: 0, offset: v)
        return b.endTable()
    }

    mutating func dataBuffer(_ data: UnsafeRawBufferPointer) throws -> FBOffset {
        constantBytes += data.count
        guard constantBytes <= TFLiteExporter.maxConstantBytes else {
            throw SwiftConvError.invalidArgument(
                "TFLite export: constants past \(TFLiteExporter.maxConstantBytes) bytes (models over 2 GB) are not supported")
        }
        let v = b.createBytes(data, alignment: 16)
        b.startTable(fieldCount: TFLiteSchema.Buffer.slotCount)
        b.add(field: 0, offset: v)
        return b.endTable()
    }

    /// Signature defs from `tflite.signature_defs`, their tensor indices renumbered as written.
    mutating func signatureDefs(_ model: Model) throws -> [FBOffset] {
        guard let text = model.metadata.first(where: { $0.key == TFLiteKeys.signatureDefs })?.value else { return [] }
        let json = try JSONValue.parse(text, what: "metadata \(TFLiteKeys.signatureDefs)")
        var out: [FBOffset] = []
        for sig in json.array ?? [] {
            let oldSubgraph = Int(sig["subgraph_index"]?.int ?? 0)
            guard let s = originalIndex.firstIndex(where: { $0 == oldSubgraph }) ?? (oldSubgraph == 0 ? 0 : nil) else { continue }
            func maps(_ key: String) -> [FBOffset] {
                (sig[key]?.array ?? []).compactMap { m -> FBOffset? in
                    // An imported signature names tensors by their old index; a converter's by value name.
                    let new: Int
                    if let old = m["tensor_index"]?.int, let mapped = indexMaps[s][Int(old)] {
                        new = mapped
                    } else if let value = m["tensor"]?.string, let mapped = nameMaps[s][value] {
                        new = Int(mapped)
                    } else {
                        return nil
                    }
                    let name = b.createString(m["name"]?.string ?? "")
                    b.startTable(fieldCount: TensorMap.slotCount)
                    b.add(field: 0, offset: name)
                    b.add(field: 1, UInt32(new), default: 0)
                    return b.endTable()
                }
            }
            let inputs = b.createVector(offsets: maps("inputs"))
            let outputs = b.createVector(offsets: maps("outputs"))
            let key = b.createString(sig["signature_key"]?.string ?? "")
            b.startTable(fieldCount: SignatureDef.slotCount)
            b.add(field: 0, offset: inputs)
            b.add(field: 1, offset: outputs)
            b.add(field: 2, offset: key)
            b.add(field: 4, UInt32(s), default: 0)
            out.append(b.endTable())
        }
        return out
    }

    /// One value of a graph to write as a tensor.
    struct Value {
        var name: String
        var info: ValueInfo?
        var constant: Tensor?
        var oldIndex: Int?
        /// An initializer marked variable: written without data, flagged is_variable.
        var variable = false
    }

    /// The inputs of each op that LiteRT requires to be variable tensors (recurrent states).
    static let stateInputs: [String: [Int]] = ["UNIDIRECTIONAL_SEQUENCE_LSTM": [18, 19]]

    /// Writes `g` as the next subgraph (its graph attributes were numbered by `planSubgraphs`).
    mutating func subgraph(_ g: Graph) throws -> FBOffset {
        let s = indexMaps.count
        originalIndex.append(g.metadata.first { $0.key == TFLiteKeys.subgraphIndex }.flatMap { Int($0.value) } ?? (s == 0 ? 0 : nil))
        // Every value: typed ones first-seen in interface, value_info, constants, then node order.
        var values: [Value] = []
        var position: [String: Int] = [:]
        func note(_ name: String, info: ValueInfo? = nil, constant: Tensor? = nil) {
            guard !name.isEmpty else { return }
            let k: Int
            if let p = position[name] {
                k = p
            } else {
                k = values.count
                position[name] = k
                values.append(Value(name: name))
            }
            if let info, values[k].info == nil { values[k].info = info }
            if let constant { values[k].constant = constant }
        }
        for v in g.inputs + g.outputs + g.valueInfo { note(v.name, info: v) }
        // A variable tensor's zero state is made on import; the file holds no data for it.
        for t in g.initializers {
            let variable = t.metadata.contains { $0.key == TFLiteKeys.isVariable && $0.value == "1" }
            note(t.name, constant: variable ? nil : t)
            if variable, let k = position[t.name] {
                values[k].variable = true
                // A converter's variable may have no value_info: its type is the initializer's.
                if values[k].info == nil {
                    values[k].info = ValueInfo(
                        name: t.name, type: .tensor(elementType: t.dtype, shape: Shape(t.shape), quantization: t.quantization))
                }
            }
        }
        for n in g.nodes { (n.inputs + n.outputs).forEach { note($0) } }
        // LiteRT takes an LSTM's state inputs only as variable tensors; a converter computes
        // them (zeros of the run's batch), and an op-written variable restarts from that value.
        let written = Set(g.nodes.flatMap(\.outputs))
        for n in g.nodes where n.canonicalDomain == OpDomain.tflite {
            for i in Self.stateInputs[n.opType] ?? [] where i < n.inputs.count && written.contains(n.inputs[i]) {
                if let k = position[n.inputs[i]] { values[k].variable = true }
            }
        }
        for k in values.indices {
            let md = values[k].info?.metadata ?? values[k].constant?.metadata ?? []
            values[k].oldIndex = md.first { $0.key == TFLiteKeys.tensorIndex }.flatMap { Int($0.value) }
        }
        // Keep the file's tensor order where the importer recorded it (signature defs use it).
        let order = values.indices.sorted { (values[$0].oldIndex ?? Int.max, $0) < (values[$1].oldIndex ?? Int.max, $1) }
        var newIndex: [String: Int32] = [:]
        var indexMap: [Int: Int] = [:]
        for (new, k) in order.enumerated() {
            newIndex[values[k].name] = Int32(new)
            if let old = values[k].oldIndex { indexMap[old] = new }
        }
        indexMaps.append(indexMap)
        nameMaps.append(newIndex)
        var tensors: [FBOffset] = []
        for k in order { tensors.append(try tensor(values[k])) }

        var operators: [FBOffset] = []
        for (j, n) in g.nodes.enumerated() { operators.append(try op(n, newIndex, at: "\(s)/\(j)")) }
        let tensorsVector = b.createVector(offsets: tensors)
        let inputs = b.createVector(try g.inputs.map { try index($0.name, newIndex) })
        let outputs = b.createVector(try g.outputs.map { try index($0.name, newIndex) })
        let operatorsVector = b.createVector(offsets: operators)
        let name = g.name.isEmpty ? nil : b.createString(g.name)
        b.startTable(fieldCount: SubGraph.slotCount)
        b.add(field: 0, offset: tensorsVector)
        b.add(field: 1, offset: inputs)
        b.add(field: 2, offset: outputs)
        b.add(field: 3, offset: operatorsVector)
        if let name { b.add(field: 4, offset: name) }
        return b.endTable()
    }

    func index(_ name: String, _ map: [String: Int32]) throws -> Int32 {
        guard let i = map[name] else { throw SwiftConvError.invalidArgument("TFLite export: value '\(name)' is not in its graph") }
        return i
    }

    /// The shape to write as `shape` and, when dims are unknown or the file had one, `shape_signature`.
    func shapes(_ v: Value, _ irShape: Shape?) -> (shape: [Int32], signature: [Int32]?) {
        let md = v.info?.metadata ?? v.constant?.metadata ?? []
        func parse(_ key: String) -> [Int]? {
            guard let text = md.first(where: { $0.key == key })?.value else { return nil }
            if text.isEmpty { return [] }
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            return parts.contains(nil) ? nil : parts.compactMap { $0 }
        }
        let dims: [Dim] = irShape ?? v.constant.map { Shape($0.shape) } ?? []
        let fileShape = parse(TFLiteKeys.shape)
        let fileSignature = parse(TFLiteKeys.shapeSignature)
        let agrees: ([Int]) -> Bool = { s in
            s.count == dims.count && zip(s, dims).allSatisfy { f, d in d.value.map { $0 == f || f == -1 } ?? true }
        }
        let shape: [Int]
        if let fileShape, fileShape.count == dims.count,
            zip(fileShape, dims).allSatisfy({ f, d in d.value.map { $0 == f } ?? true })
        {
            shape = fileShape
        } else {
            shape = dims.map { $0.value ?? 1 }
        }
        var signature: [Int]?
        if let fileSignature, agrees(fileSignature) {
            signature = fileSignature
        } else if dims.contains(where: { $0.value == nil }) {
            signature = dims.map { $0.value ?? -1 }
        }
        return (shape.map { Int32(clamping: $0) }, signature.map { $0.map { Int32(clamping: $0) } })
    }

    mutating func tensor(_ v: Value) throws -> FBOffset {
        let type = v.info?.type
        var tflType: TensorType
        var irShape: Shape? = nil
        var quant = v.constant?.quantization
        switch type {
        case .tensor(let dtype, let shape, let q)?:
            guard let t = TFLiteTypes.tensorType(dtype) else {
                throw SwiftConvError.invalidArgument("TFLite export: value '\(v.name)' has element type \(dtype), which TFLite lacks")
            }
            tflType = t
            irShape = shape
            quant = q ?? quant
        case .opaque(let domain, let name)? where domain == OpDomain.tflite:
            guard let t = TensorType(name: name) else { throw SwiftConvError.invalidArgument("TFLite export: value '\(v.name)': \(name)") }
            tflType = t
            irShape = []
        default:
            guard let c = v.constant, let t = TFLiteTypes.tensorType(c.dtype) else {
                throw SwiftConvError.invalidArgument("TFLite export: value '\(v.name)' has no tensor type to write")
            }
            tflType = t
            irShape = Shape(c.shape)
        }
        let md = v.info?.metadata ?? v.constant?.metadata ?? []
        let sparsityJSON = md.first { $0.key == TFLiteKeys.sparsity }?.value
        var bufferIndex = 0
        if let c = v.constant {
            bufferIndex = buffers.count
            if c.dtype == .string {
                buffers.append(try dataBuffer(Writer.encodeStrings(c.strings)))
            } else {
                buffers.append(try dataBuffer(c.storage.bytes))
            }
        }
        let (shape, signature) = shapes(v, irShape)
        let shapeVector = b.createVector(shape)
        let signatureVector = signature.map { b.createVector($0) }
        let name = b.createString(v.name)
        let quantization = try quant.map { try quantizationTable($0) }
        let sparsity = try sparsityJSON.map { try sparsityTable($0, value: v.name) }
        b.startTable(fieldCount: TFLiteSchema.Tensor.slotCount)
        b.add(field: 0, offset: shapeVector)
        b.add(field: 1, tflType.rawValue, default: 0)
        b.add(field: 2, UInt32(bufferIndex), default: 0)
        b.add(field: 3, offset: name)
        if let quantization { b.add(field: 4, offset: quantization) }
        let variable = v.variable || md.contains { $0.key == TFLiteKeys.isVariable && $0.value == "1" }
        if variable { b.add(field: 5, true, default: false) }
        if let sparsity { b.add(field: 6, offset: sparsity) }
        if let signatureVector { b.add(field: 7, offset: signatureVector) }
        b.add(field: 8, irShape != nil, default: false)
        return b.endTable()
    }

    mutating func quantizationTable(_ q: QuantParams) throws -> FBOffset {
        let scale = b.createVector(q.scale)
        let zero = b.createVector(q.zeroPoint)
        b.startTable(fieldCount: QuantizationParameters.slotCount)
        b.add(field: 2, offset: scale)
        b.add(field: 3, offset: zero)
        b.add(field: 6, Int32(clamping: q.axis ?? 0), default: 0)
        return b.endTable()
    }

    /// A SparsityParameters table from the importer's JSON description.
    mutating func sparsityTable(_ text: String, value: String) throws -> FBOffset {
        let json = try JSONValue.parse(text, what: "sparsity of '\(value)'")
        func int32s(_ v: JSONValue?) throws -> [Int32] {
            try (v?.array ?? []).map {
                guard let i = $0.int, let x = Int32(exactly: i) else {
                    throw SwiftConvError.invalidArgument("sparsity of '\(value)': expected int32 values")
                }
                return x
            }
        }
        func indexVector(_ v: JSONValue?) throws -> (UInt8, FBOffset)? {
            guard let v, let typeName = v["type"]?.string, let type = SparseIndexVector(name: typeName) else { return nil }
            let values = try int32s(v["values"])
            let vector: FBOffset
            switch type {
            case .Uint16Vector: vector = b.createVector(values.map { UInt16(truncatingIfNeeded: $0) })
            case .Uint8Vector: vector = b.createVector(values.map { UInt8(truncatingIfNeeded: $0) })
            default: vector = b.createVector(values)
            }
            b.startTable(fieldCount: 1)
            b.add(field: 0, offset: vector)
            return (type.rawValue, b.endTable())
        }
        var dims: [FBOffset] = []
        for d in json["dim_metadata"]?.array ?? [] {
            let segments = try indexVector(d["array_segments"])
            let indices = try indexVector(d["array_indices"])
            let format = d["format"]?.string.flatMap { DimensionType(name: $0) } ?? .DENSE
            b.startTable(fieldCount: DimensionMetadata.slotCount)
            b.add(field: 0, format.rawValue, default: 0)
            b.add(field: 1, Int32(clamping: d["dense_size"]?.int ?? 0), default: 0)
            if let segments {
                b.add(field: 2, segments.0, default: 0)
                b.add(field: 3, offset: segments.1)
            }
            if let indices {
                b.add(field: 4, indices.0, default: 0)
                b.add(field: 5, offset: indices.1)
            }
            dims.append(b.endTable())
        }
        let traversal = b.createVector(try int32s(json["traversal_order"]))
        let blockMap = try int32s(json["block_map"])
        let blockVector = blockMap.isEmpty ? nil : b.createVector(blockMap)
        let dimVector = b.createVector(offsets: dims)
        b.startTable(fieldCount: SparsityParameters.slotCount)
        b.add(field: 0, offset: traversal)
        if let blockVector { b.add(field: 1, offset: blockVector) }
        b.add(field: 2, offset: dimVector)
        return b.endTable()
    }

    /// TFLite's string tensor layout: int32 count, count+1 int32 offsets, then the bytes.
    static func encodeStrings(_ strings: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        func put(_ v: Int) { withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { out.append(contentsOf: $0) } }
        put(strings.count)
        var offset = 4 * (strings.count + 2)
        put(offset)
        for s in strings {
            offset += s.count
            put(offset)
        }
        for s in strings { out.append(contentsOf: s) }
        return out
    }

    mutating func opcode(_ code: Int32, custom: String?, version: Int32) -> UInt32 {
        let key = "\(code)/\(custom ?? "")/\(version)"
        if let k = opcodeKeys[key] { return UInt32(k) }
        opcodes.append((code, custom, version))
        opcodeKeys[key] = opcodes.count - 1
        return UInt32(opcodes.count - 1)
    }

    /// Operator `n`; `at` is "subgraph/node index", the key prefix of its graph attributes.
    mutating func op(_ n: Node, _ newIndex: [String: Int32], at: String) throws -> FBOffset {
        let context = SwiftConvError.NodeContext(n)
        let version = n.metadata.first { $0.key == TFLiteKeys.version }.flatMap { Int32($0.value) } ?? 1
        let opcodeIndex: UInt32
        var options: (union: Int, type: UInt8, table: FBOffset)?
        var customOptions: FBOffset?
        if n.domain == OpDomain.tfliteCustom {
            opcodeIndex = opcode(BuiltinOperator.CUSTOM.rawValue, custom: n.opType, version: version)
            if case .string(let bytes)? = n.attribute(TFLiteKeys.customOptions)?.value {
                customOptions = bytes.withUnsafeBytes { b.createBytes($0) }
            }
        } else {
            guard let code = BuiltinOperator(name: n.opType) else {
                throw SwiftConvError.unsupportedOp("TFLite export: '\(n.opType)' is not a TFLite builtin operator").at(context)
            }
            opcodeIndex = opcode(code.rawValue, custom: nil, version: version)
            if let d = BuiltinOptionsTables.table(forOperator: code.rawValue) {
                let table = try TFLiteOptions.write(d, node: n, into: &b) { name, _ in
                    guard let s = self.attributeSlots["\(at)/\(name)"] else {
                        throw SwiftConvError.internal("TFLite export: graph attribute '\(name)' was not planned")
                    }
                    return s
                }
                options = (d.union, d.unionType, table)
            }
        }
        let inputs = b.createVector(try n.inputs.map { $0.isEmpty ? Int32(-1) : try index($0, newIndex) })
        let outputs = b.createVector(try n.outputs.map { try index($0, newIndex) })
        var intermediates: FBOffset?
        if let text = n.metadata.first(where: { $0.key == TFLiteKeys.intermediates })?.value {
            let names = try JSONValue.parse(text, what: "intermediates of '\(n.name)'").array ?? []
            intermediates = b.createVector(try names.compactMap(\.string).map { try index($0, newIndex) })
        }
        b.startTable(fieldCount: Operator.slotCount)
        b.add(field: 0, opcodeIndex, default: 0)
        b.add(field: 1, offset: inputs)
        b.add(field: 2, offset: outputs)
        if let options {
            b.add(field: options.union == 1 ? 3 : 11, options.type, default: 0)
            b.add(field: options.union == 1 ? 4 : 12, offset: options.table)
        }
        if let customOptions { b.add(field: 5, offset: customOptions) }
        if let intermediates { b.add(field: 8, offset: intermediates) }
        return b.endTable()
    }
}
