import SwiftConvFlatBuffers
import SwiftConvIR
import TFLiteSchema

/// Reads a TFLite FlatBuffer into the IR as it is: every operator a node of the `tflite`
/// (or `tflite.custom`) domain, every tensor a value (see the issue 9 spec for the contract).
///
/// The file is untrusted: every index, count and size is checked (the FlatBuffers reader
/// checks offsets; this checks what they mean) and every failure is a `.modelFormat` error
/// naming the subgraph, tensor or operator. Constant data is not copied: initializers
/// point into `bytes`, which `owner` keeps alive.
public enum TFLiteImporter {
    /// Nesting of control-flow subgraphs deeper than this is refused (it also ends cycles early).
    public static let maxSubgraphDepth = 32
    /// Largest zero state made for a variable tensor without data (LSTM states are kilobytes).
    public static let maxVariableBytes = 1 << 28

    /// Loads a model from `bytes`, which `owner` keeps alive as long as any weight points into them.
    public static func load(bytes: UnsafeRawBufferPointer, owner: AnyObject) throws -> SwiftConvIR.Model {
        guard bytes.count >= 8 else { throw SwiftConvError.modelFormat("TFLite: the file is \(bytes.count) bytes, too short for a model") }
        let reader = FlatBufferReader(bytes: bytes)
        guard reader.identifier == TFLiteSchema.fileIdentifier else {
            throw SwiftConvError.modelFormat("TFLite: the file identifier is not \"\(TFLiteSchema.fileIdentifier)\"")
        }
        do {
            var importer = try Importer(reader: reader, bytes: bytes, owner: owner)
            return try importer.model()
        } catch let e as SwiftConvError where !e.message.hasPrefix("TFLite") {
            // The FlatBuffers reader's messages name bytes, not the format: say which file kind it was.
            throw e.withMessage("TFLite: " + e.message)
        }
    }
}

/// One operator code: a builtin (code and name) or a custom op.
struct OpCode {
    let builtin: Int32
    let custom: String?
    let version: Int32
}

/// The state of one import: the file's tables and the names given to every tensor.
struct Importer {
    let bytes: UnsafeRawBufferPointer
    let owner: AnyObject
    let root: TFLiteSchema.Model
    let opcodes: [OpCode]
    let buffers: [TFLiteSchema.Buffer]
    let subgraphs: [SubGraph]
    /// names[s][t]: the IR value name of tensor t of subgraph s, unique over the whole model.
    let names: [[String]]
    var hasCustom = false

    init(reader: FlatBufferReader, bytes: UnsafeRawBufferPointer, owner: AnyObject) throws {
        self.bytes = bytes
        self.owner = owner
        root = try TFLiteSchema.Model.root(reader)
        let version = try root.version
        guard version == 3 else { throw SwiftConvError.modelFormat("TFLite: schema version \(version) is not supported (only 3)") }
        opcodes = try (root.operatorCodes ?? []).enumerated().map { i, c in
            let code = max(Int32(try c.deprecatedBuiltinCode), try c.builtinCode.rawValue)
            let custom = try c.customCode
            if code == BuiltinOperator.CUSTOM.rawValue, custom == nil {
                throw SwiftConvError.modelFormat("TFLite: operator code \(i) is CUSTOM without a custom_code")
            }
            return OpCode(builtin: code, custom: custom, version: try c.version)
        }
        buffers = try root.buffers ?? []
        subgraphs = try root.subgraphs ?? []
        guard !subgraphs.isEmpty else { throw SwiftConvError.modelFormat("TFLite: the model has no subgraph") }
        var generator = UniqueNameGenerator(graph: Graph())
        var names: [[String]] = []
        for (s, g) in subgraphs.enumerated() {
            let tensors = try g.tensors ?? []
            names.append(
                try tensors.enumerated().map { t, tensor in
                    let name = try tensor.name ?? ""
                    return generator.fresh(name.isEmpty ? (s == 0 ? "tensor_\(t)" : "subgraph\(s)_tensor_\(t)") : name)
                })
        }
        self.names = names
    }

    mutating func model() throws -> Model {
        var graph = try subgraph(0, stack: [])
        graph.name = try subgraphs[0].name ?? ""
        let ops =
            hasCustom
            ? [OpsetID(domain: OpDomain.tflite, version: 1), OpsetID(domain: OpDomain.tfliteCustom, version: 1)]
            : [OpsetID(domain: OpDomain.tflite, version: 1)]
        var model = Model(format: .tflite, graph: graph, opsetImports: ops)
        model.docString = try root.description ?? ""
        model.metadata.append(MetadataEntry(TFLiteKeys.signatureDefs, try signatureDefs().text))
        for (k, m) in (try root.metadata ?? []).enumerated() {
            let index = Int(try m.buffer)
            guard index < buffers.count else {
                throw SwiftConvError.modelFormat("TFLite: metadata \(k) names buffer \(index) of \(buffers.count)")
            }
            let data = try bufferBytes(index) ?? UnsafeRawBufferPointer(start: nil, count: 0)
            model.metadata.append(MetadataEntry(TFLiteKeys.metadataPrefix + (try m.name ?? ""), Base64.encode(data)))
        }
        return model
    }

    /// The signature defs as the JSON the spec defines (tensor indices checked).
    func signatureDefs() throws -> JSONValue {
        var out: [JSONValue] = []
        for (k, sig) in (try root.signatureDefs ?? []).enumerated() {
            let s = Int(try sig.subgraphIndex)
            guard s < subgraphs.count else {
                throw SwiftConvError.modelFormat("TFLite: signature def \(k) names subgraph \(s) of \(subgraphs.count)")
            }
            func maps(_ list: [TensorMap]?) throws -> JSONValue {
                .array(
                    try (list ?? []).map { m in
                        let t = Int(try m.tensorIndex)
                        guard t < names[s].count else {
                            throw SwiftConvError.modelFormat(
                                "TFLite: signature def \(k) names tensor \(t) of \(names[s].count) in subgraph \(s)")
                        }
                        return .object([("name", .string(try m.name ?? "")), ("tensor_index", .number(Int64(t)))])
                    })
            }
            out.append(
                .object([
                    ("signature_key", .string(try sig.signatureKey ?? "")), ("subgraph_index", .number(Int64(s))),
                    ("inputs", try maps(try sig.inputs)), ("outputs", try maps(try sig.outputs)),
                ]))
        }
        return .array(out)
    }

    /// The data of buffer `index`, nil when it is empty. Data past the 2 GB FlatBuffer limit
    /// (`offset`/`size`) is read from the file, checked against it.
    func bufferBytes(_ index: Int) throws -> UnsafeRawBufferPointer? {
        let b = buffers[index]
        let offset = try b.offset
        if offset > 1 {
            let size = try b.size
            guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else {
                throw SwiftConvError.modelFormat(
                    "TFLite: buffer \(index) (\(size) bytes at offset \(offset)) lies outside the \(bytes.count)-byte file")
            }
            return size == 0 ? nil : UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<(Int(offset) + Int(size))])
        }
        guard let data = try b.data, data.count > 0 else { return nil }
        return data
    }

    /// Subgraph `s` as an IR graph; `stack` holds the subgraphs being imported above it.
    mutating func subgraph(_ s: Int, stack: [Int]) throws -> Graph {
        guard s >= 0, s < subgraphs.count else {
            throw SwiftConvError.modelFormat("TFLite: subgraph \(s) does not exist (the model has \(subgraphs.count))")
        }
        guard !stack.contains(s) else {
            throw SwiftConvError.modelFormat(
                "TFLite: subgraph \(s) calls itself (cycle \((stack + [s]).map(String.init).joined(separator: " -> ")))")
        }
        guard stack.count <= TFLiteImporter.maxSubgraphDepth else {
            throw SwiftConvError.modelFormat("TFLite: control-flow subgraphs nest deeper than \(TFLiteImporter.maxSubgraphDepth)")
        }
        let sg = subgraphs[s]
        let tensors = try sg.tensors ?? []
        let names = self.names[s]
        func where_(_ t: Int) -> String { "subgraph \(s), tensor \(t) ('\(names[t])')" }
        func checkTensor(_ t: Int32, _ what: @autoclosure () -> String) throws -> Int {
            guard t >= 0, Int(t) < tensors.count else {
                throw SwiftConvError.modelFormat("TFLite: subgraph \(s): \(what()) names tensor \(t) of \(tensors.count)")
            }
            return Int(t)
        }
        var infos: [ValueInfo] = []
        var initializers: [SwiftConvIR.Tensor] = []
        for (t, tensor) in tensors.enumerated() {
            let (info, constant) = try value(tensor, t, name: names[t], where: where_(t))
            infos.append(info)
            if let constant { initializers.append(constant) }
        }
        let inputs = try (sg.inputs ?? []).map { try checkTensor($0, "input list") }
        let outputs = try (sg.outputs ?? []).map { try checkTensor($0, "output list") }
        var graph = Graph(name: try sg.name ?? "")
        graph.inputs = inputs.map { infos[$0] }
        graph.outputs = outputs.map { infos[$0] }
        let interface = Set(inputs + outputs)
        graph.valueInfo = infos.indices.filter { !interface.contains($0) }.map { infos[$0] }
        graph.initializers = initializers
        for (k, op) in (try sg.operators ?? []).enumerated() {
            let at = "TFLite: subgraph \(s), operator \(k)"
            let index = Int(try op.opcodeIndex)
            guard index < opcodes.count else { throw SwiftConvError.modelFormat("\(at): opcode index \(index) of \(opcodes.count)") }
            let code = opcodes[index]
            let ins = try (op.inputs ?? []).map { $0 == -1 ? "" : names[try checkTensor($0, "operator \(k)'s inputs")] }
            let outs = try (op.outputs ?? []).map { names[try checkTensor($0, "operator \(k)'s outputs")] }
            var node = Node(name: outs.first ?? "", opType: "", domain: OpDomain.tflite, inputs: ins, outputs: outs)
            if code.builtin == BuiltinOperator.CUSTOM.rawValue {
                hasCustom = true
                node.opType = code.custom ?? ""
                node.domain = OpDomain.tfliteCustom
                if let options = try customOptions(op, at: at) {
                    node.attributes.append(Attribute(name: TFLiteKeys.customOptions, value: .string(Array(options))))
                }
            } else {
                guard let name = BuiltinOperator(rawValue: code.builtin).name else {
                    throw SwiftConvError.unsupportedOp("\(at): builtin operator code \(code.builtin) is not in this TFLite schema")
                }
                node.opType = name
                if let d = BuiltinOptionsTables.table(forOperator: code.builtin) {
                    let union = d.union == 1 ? try op.builtinOptionsType.rawValue : try op.builtinOptions2Type.rawValue
                    let table = union == d.unionType ? (d.union == 1 ? try op.builtinOptions : try op.builtinOptions2) : nil
                    do {
                        node.attributes = try TFLiteOptions.attributes(of: table, d) { index in
                            guard let i = Int(exactly: index) else { throw SwiftConvError.modelFormat("\(at): subgraph index \(index)") }
                            var g = try self.subgraph(i, stack: stack + [s])
                            g.name = g.name.isEmpty ? "subgraph_\(i)" : g.name
                            g.metadata.append(MetadataEntry(TFLiteKeys.subgraphIndex, String(i)))
                            return g
                        }
                    } catch let e as SwiftConvError where e.kind == .modelFormat && !e.message.hasPrefix("TFLite: subgraph") {
                        throw SwiftConvError.modelFormat("\(at) (\(name)): \(e.message)")
                    }
                }
            }
            node.metadata.append(MetadataEntry(TFLiteKeys.version, String(code.version)))
            if let inter = try op.intermediates, !inter.isEmpty {
                let list = try inter.map { JSONValue.string(names[try checkTensor($0, "operator \(k)'s intermediates")]) }
                node.metadata.append(MetadataEntry(TFLiteKeys.intermediates, JSONValue.array(list).text))
            }
            graph.nodes.append(node)
        }
        // A variable tensor that an operator writes (an LSTM state made by DEQUANTIZE from
        // float16 data) or that the caller feeds has no initial value of its own.
        let written = Set(graph.nodes.flatMap(\.outputs) + graph.inputs.map(\.name))
        graph.initializers.removeAll { t in
            written.contains(t.name) && t.metadata.contains { $0.key == TFLiteKeys.isVariable && $0.value == "1" }
        }
        // A constant with no elements (a RESHAPE's shape [0] to a scalar) has an empty buffer,
        // which the file cannot tell apart from "no data". When no operator writes it and the
        // caller does not feed it, it is that empty constant, as LiteRT reads it.
        let defined = written.union(graph.initializers.map(\.name))
        let read = Set(graph.nodes.flatMap(\.inputs))
        for info in infos where read.contains(info.name) && !defined.contains(info.name) {
            guard case .tensor(let dtype, let dims?, _)? = info.type, dtype != .string, let shape = dims.concrete, shape.contains(0)
            else { continue }
            var empty = SwiftConvIR.Tensor(name: info.name, dtype: dtype, shape: shape, storage: try TensorStorage(zeroedByteCount: 0))
            empty.quantization = info.type?.quantization
            empty.metadata = info.metadata
            graph.initializers.append(empty)
        }
        return graph
    }

    /// The custom options of `op`: in the FlatBuffer, or past it in a model over 2 GB.
    func customOptions(_ op: Operator, at: String) throws -> UnsafeRawBufferPointer? {
        let offset = try op.largeCustomOptionsOffset
        if offset > 1 {
            let size = try op.largeCustomOptionsSize
            guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else {
                throw SwiftConvError.modelFormat("\(at): custom options (\(size) bytes at \(offset)) lie outside the file")
            }
            return UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<(Int(offset) + Int(size))])
        }
        return try op.customOptions
    }

    /// The value (and the constant, if it has data) of tensor `t`.
    func value(_ tensor: TFLiteSchema.Tensor, _ t: Int, name: String, where at: String) throws -> (ValueInfo, SwiftConvIR.Tensor?) {
        let shape = try (tensor.shape ?? []).map(Int.init)
        let signature = try tensor.shapeSignature?.map(Int.init)
        for d in shape + (signature ?? []) where d < -1 {
            throw SwiftConvError.modelFormat("TFLite: \(at) has dimension \(d)")
        }
        if let signature {
            guard signature.count == shape.count else {
                throw SwiftConvError.modelFormat("TFLite: \(at): shape_signature has rank \(signature.count), shape \(shape.count)")
            }
        }
        let irShape: Shape = (signature ?? shape).map { $0 == -1 ? .unknown : .known($0) }
        let tflType = try tensor.type
        var type: ValueType
        let dtype = TFLiteTypes.dtype(tflType)
        if let dtype {
            type = .tensor(elementType: dtype, shape: irShape, quantization: try quantization(tensor, dtype, rank: shape.count, at: at))
        } else if let opaque = TFLiteTypes.opaqueType(tflType) {
            type = opaque
        } else {
            throw SwiftConvError.modelFormat("TFLite: \(at) has tensor type \(tflType.rawValue), which this schema does not know")
        }
        var info = ValueInfo(name: name, type: type)
        info.metadata.append(MetadataEntry(TFLiteKeys.tensorIndex, String(t)))
        info.metadata.append(MetadataEntry(TFLiteKeys.shape, shape.map(String.init).joined(separator: ",")))
        if let signature {
            info.metadata.append(MetadataEntry(TFLiteKeys.shapeSignature, signature.map(String.init).joined(separator: ",")))
        }
        if try tensor.isVariable { info.metadata.append(MetadataEntry(TFLiteKeys.isVariable, "1")) }
        let sparsity = try tensor.sparsity.map { try sparsityJSON($0, at: at) }
        if let sparsity { info.metadata.append(MetadataEntry(TFLiteKeys.sparsity, sparsity.text)) }

        let bufferIndex = Int(try tensor.buffer)
        guard bufferIndex < buffers.count else {
            throw SwiftConvError.modelFormat("TFLite: \(at) names buffer \(bufferIndex) of \(buffers.count)")
        }
        guard bufferIndex != 0, let data = try bufferBytes(bufferIndex) else {
            if try tensor.isVariable, let dtype { return (info, try variableState(name, dtype, shape, info: info, at: at)) }
            return (info, nil)
        }
        guard let dtype else { throw SwiftConvError.modelFormat("TFLite: \(at): a \(tflType.name ?? "") tensor cannot hold data") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw SwiftConvError.modelFormat("TFLite: \(at): a constant with unknown dimensions") }
        let count: Int
        do { count = try checkedElementCount(shape) } catch { throw SwiftConvError.modelFormat("TFLite: \(at): element count overflows") }
        var constant: SwiftConvIR.Tensor
        if dtype == .string {
            constant = SwiftConvIR.Tensor(name: name, shape: shape, strings: try strings(data, count: count, at: at))
        } else if sparsity != nil {
            // Sparse: the buffer holds only the stored values; the dense shape stays on the value.
            guard dtype.bitWidth >= 8, data.count % (dtype.bitWidth / 8) == 0 else {
                throw SwiftConvError.modelFormat("TFLite: \(at): sparse data of \(data.count) bytes is not whole \(dtype) elements")
            }
            constant = SwiftConvIR.Tensor(
                name: name, dtype: dtype, shape: [data.count / (dtype.bitWidth / 8)], storage: TensorStorage(borrowing: data, owner: owner))
        } else {
            guard let expected = dtype.byteCount(elements: count), expected == data.count else {
                throw SwiftConvError.modelFormat(
                    "TFLite: \(at): buffer \(bufferIndex) holds \(data.count) bytes, shape \(shape) of \(dtype) needs \(dtype.byteCount(elements: count).map(String.init) ?? "too many")"
                )
            }
            constant = SwiftConvIR.Tensor(name: name, dtype: dtype, shape: shape, storage: TensorStorage(borrowing: data, owner: owner))
        }
        constant.quantization = type.quantization
        constant.metadata = info.metadata
        return (info, constant)
    }

    /// The initial value of a variable tensor without data (an LSTM's state): zeros, or for an
    /// int8 tensor its zero point in every byte (LiteRT's `ResetVariableTensor`), i.e. the
    /// real value 0 that a quantized LSTM's output state starts from.
    ///
    /// LiteRT keeps what a kernel wrote into such a tensor for the next `invoke`, so its second
    /// run of a Keras (stateless) LSTM starts from the first run's final state; here every run
    /// starts from zeros, which is what the source model computes and what LiteRT gives after
    /// `reset_all_variables()`. The state's size comes from the file's shape, so it is capped.
    func variableState(_ name: String, _ dtype: DType, _ shape: [Int], info: ValueInfo, at: String) throws -> SwiftConvIR.Tensor {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw SwiftConvError.modelFormat("TFLite: \(at): a variable tensor with unknown dimensions")
        }
        guard let count = try? checkedElementCount(shape), let bytes = dtype.byteCount(elements: count),
            bytes <= TFLiteImporter.maxVariableBytes
        else {
            throw SwiftConvError.modelFormat(
                "TFLite: \(at): variable tensor of shape \(shape) is larger than \(TFLiteImporter.maxVariableBytes) bytes")
        }
        var state = SwiftConvIR.Tensor(name: name, dtype: dtype, shape: shape, storage: try TensorStorage(zeroedByteCount: bytes))
        if dtype == .int8, let zp = info.type?.quantization?.zeroPoint.first, zp != 0 {
            state = SwiftConvIR.Tensor(
                name: name, dtype: dtype, shape: shape, values: [Int8](repeating: Int8(truncatingIfNeeded: zp), count: count))
        }
        state.quantization = info.type?.quantization
        state.metadata = info.metadata
        return state
    }

    /// Per-tensor or per-axis parameters from `scale`/`zero_point`; min/max only is ignored.
    func quantization(_ tensor: TFLiteSchema.Tensor, _ dtype: DType, rank: Int, at: String) throws -> QuantParams? {
        guard let q = try tensor.quantization, let scale = try q.scale, !scale.isEmpty else { return nil }
        var zero = try q.zeroPoint ?? []
        if zero.isEmpty { zero = Array(repeating: 0, count: scale.count) }
        guard zero.count == scale.count else {
            throw SwiftConvError.modelFormat("TFLite: \(at) has \(scale.count) scales and \(zero.count) zero points")
        }
        if scale.count == 1 { return QuantParams(scale: scale, zeroPoint: zero, axis: nil, storageType: dtype) }
        let axis = Int(try q.quantizedDimension)
        guard axis >= 0, axis < max(rank, 1) else {
            throw SwiftConvError.modelFormat("TFLite: \(at): quantized_dimension \(axis) is outside rank \(rank)")
        }
        return QuantParams(scale: scale, zeroPoint: zero, axis: axis, storageType: dtype)
    }

    /// A TFLite string tensor: int32 count n, n+1 int32 offsets from the buffer start, then the bytes.
    func strings(_ data: UnsafeRawBufferPointer, count: Int, at: String) throws -> [[UInt8]] {
        func int32(_ i: Int) throws -> Int {
            guard i >= 0, i <= data.count - 4 else { throw SwiftConvError.modelFormat("TFLite: \(at): string buffer is truncated") }
            return Int(Int32(littleEndian: data.loadUnaligned(fromByteOffset: i, as: Int32.self)))
        }
        let n = try int32(0)
        guard n == count else { throw SwiftConvError.modelFormat("TFLite: \(at): string buffer holds \(n) strings, shape needs \(count)") }
        guard n <= (data.count - 4) / 4 else { throw SwiftConvError.modelFormat("TFLite: \(at): string buffer is truncated") }
        var out: [[UInt8]] = []
        out.reserveCapacity(n)
        for k in 0..<n {
            let start = try int32(4 + 4 * k)
            let end = try int32(8 + 4 * k)
            guard start >= 0, start <= end, end <= data.count else {
                throw SwiftConvError.modelFormat("TFLite: \(at): string \(k) spans bytes \(start)..<\(end) of \(data.count)")
            }
            out.append(Array(data[start..<end]))
        }
        return out
    }

    /// The sparsity parameters as JSON: traversal_order, block_map and per-dimension metadata.
    func sparsityJSON(_ p: SparsityParameters, at: String) throws -> JSONValue {
        func ints(_ v: [Int32]?) -> JSONValue { .array((v ?? []).map { .number(Int64($0)) }) }
        func indexVector(_ type: SparseIndexVector, _ table: FBTable?) throws -> JSONValue {
            guard let table else { return .null }
            let values: [Int64]
            switch type {
            case .Int32Vector: values = try Int32Vector(table).values?.map(Int64.init) ?? []
            case .Uint16Vector: values = try Uint16Vector(table).values?.map(Int64.init) ?? []
            case .Uint8Vector: values = try Uint8Vector(table).values.map { $0.map(Int64.init) } ?? []
            default: throw SwiftConvError.modelFormat("TFLite: \(at): sparse index vector type \(type.rawValue)")
            }
            return .object([("type", .string(type.name ?? "")), ("values", .array(values.map { .number($0) }))])
        }
        let dims = try (p.dimMetadata ?? []).map { d -> JSONValue in
            .object([
                ("format", .string(try d.format.name ?? String(try d.format.rawValue))), ("dense_size", .number(Int64(try d.denseSize))),
                ("array_segments", try indexVector(try d.arraySegmentsType, try d.arraySegments)),
                ("array_indices", try indexVector(try d.arrayIndicesType, try d.arrayIndices)),
            ])
        }
        return .object([
            ("traversal_order", ints(try p.traversalOrder)), ("block_map", ints(try p.blockMap)), ("dim_metadata", .array(dims)),
        ])
    }
}
