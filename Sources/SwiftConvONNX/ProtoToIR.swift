import ONNXProto
import SwiftConvIR

/// Translates decoded ONNX protos into IR values, checking sizes as it goes so that
/// every IR tensor's bytes match its shape and type.
struct ProtoToIR {
    var decoder: Decoder

    func model(_ p: Onnx_ModelProto, inPlace: [Int: Range<Int>]) throws -> Model {
        var m = Model(
            format: .onnx, graph: try graph(p.graph, inPlace: inPlace),
            opsetImports: p.opsetImport.map { OpsetID(domain: $0.domain, version: $0.version) })
        m.functions = try p.functions.map(function)
        m.irVersion = p.irVersion
        m.producerName = p.producerName
        m.producerVersion = p.producerVersion
        m.domain = p.domain
        m.modelVersion = p.modelVersion
        m.docString = p.docString
        m.metadata = p.metadataProps.map(entry)
        // Not interpreted by swiftconv; kept verbatim so that a save loses nothing.
        for t in p.trainingInfo { m.preservedFields.append(PreservedField(fieldNumber: 20, bytes: t.serializedBytes())) }
        for c in p.configuration { m.preservedFields.append(PreservedField(fieldNumber: 26, bytes: c.serializedBytes())) }
        return m
    }

    func entry(_ e: Onnx_StringStringEntryProto) -> MetadataEntry { MetadataEntry(e.key, e.value) }

    func graph(_ p: Onnx_GraphProto, inPlace: [Int: Range<Int>] = [:]) throws -> Graph {
        var g = Graph(name: p.name)
        g.nodes = try p.node.map(node)
        g.inputs = try p.input.map(valueInfo)
        g.outputs = try p.output.map(valueInfo)
        g.valueInfo = try p.valueInfo.map(valueInfo)
        g.initializers = try p.initializer.enumerated().map { i, t in
            try tensor(t, rawRange: inPlace[i], context: "initializer")
        }
        g.sparseInitializers = try p.sparseInitializer.map(sparseTensor)
        g.docString = p.docString
        g.metadata = p.metadataProps.map(entry)
        g.quantizationAnnotations = p.quantizationAnnotation.map {
            TensorAnnotation(tensorName: $0.tensorName, parameters: $0.quantParameterTensorNames.map(entry))
        }
        QuantizationAnnotations.apply(to: &g)
        return g
    }

    func node(_ p: Onnx_NodeProto) throws -> Node {
        var n = Node(name: p.name, opType: p.opType, domain: p.domain, inputs: p.input, outputs: p.output)
        n.overload = p.overload
        n.docString = p.docString
        n.metadata = p.metadataProps.map(entry)
        n.attributes = try p.attribute.map { try attribute($0, node: n) }
        return n
    }

    func function(_ p: Onnx_FunctionProto) throws -> Function {
        var f = Function(
            name: p.name, domain: p.domain, inputs: p.input, outputs: p.output, attributeNames: p.attribute,
            nodes: try p.node.map(node), opsetImports: p.opsetImport.map { OpsetID(domain: $0.domain, version: $0.version) })
        f.overload = p.overload
        f.attributeDefaults = try p.attributeProto.map { try attribute($0, node: nil) }
        f.valueInfo = try p.valueInfo.map(valueInfo)
        f.docString = p.docString
        f.metadata = p.metadataProps.map(entry)
        return f
    }

    func attribute(_ p: Onnx_AttributeProto, node: Node?) throws -> Attribute {
        let kind = p.hasType ? p.type.rawValue : inferKind(p)
        var a = Attribute(name: p.name, value: nil)
        a.docString = p.docString
        if p.hasRefAttrName {
            a.refAttrName = p.refAttrName
            a.referenceKind = Int32(kind)
            return a
        }
        let where_ = node.map { "node '\($0.name)' (\($0.opType)) attribute '\(p.name)'" } ?? "attribute '\(p.name)'"
        switch kind {
        case 1: a.value = .float(p.f)
        case 2: a.value = .int(p.i)
        case 3: a.value = .string(p.s)
        case 4: a.value = .tensor(try tensor(p.t, rawRange: nil, context: where_))
        case 5: a.value = .graph(try graph(p.g))
        case 11: a.value = .sparseTensor(try sparseTensor(p.sparseTensor))
        case 13: a.value = .type(p.hasTp ? try valueType(p.tp) : nil)
        case 6: a.value = .floats(p.floats)
        case 7: a.value = .ints(p.ints)
        case 8: a.value = .strings(p.strings)
        case 9: a.value = .tensors(try p.tensors.map { try tensor($0, rawRange: nil, context: where_) })
        case 10: a.value = .graphs(try p.graphs.map { try graph($0) })
        case 12: a.value = .sparseTensors(try p.sparseTensors.map(sparseTensor))
        case 14: a.value = .types(try p.typeProtos.map { try valueType($0) })
        default:
            throw SwiftConvError.validation("\(where_) has no value or an unknown type (\(kind))")
        }
        return a
    }

    /// Files written before `AttributeProto.type` existed: the kind is whichever field is set.
    func inferKind(_ p: Onnx_AttributeProto) -> Int {
        if p.hasF { return 1 }
        if p.hasI { return 2 }
        if p.hasS { return 3 }
        if p.hasT { return 4 }
        if p.hasG { return 5 }
        if p.hasSparseTensor { return 11 }
        if p.hasTp { return 13 }
        if !p.floats.isEmpty { return 6 }
        if !p.ints.isEmpty { return 7 }
        if !p.strings.isEmpty { return 8 }
        if !p.tensors.isEmpty { return 9 }
        if !p.graphs.isEmpty { return 10 }
        if !p.sparseTensors.isEmpty { return 12 }
        if !p.typeProtos.isEmpty { return 14 }
        return 0
    }

    func valueInfo(_ p: Onnx_ValueInfoProto) throws -> ValueInfo {
        var v = ValueInfo(name: p.name, type: p.hasType ? try valueType(p.type) : nil, docString: p.docString)
        v.metadata = p.metadataProps.map(entry)
        if p.hasType {
            var d = TypeDenotation(type: p.type.denotation)
            if case .tensorType(let t)? = p.type.value { d.dims = t.shape.dim.map(\.denotation) }
            if case .sparseTensorType(let t)? = p.type.value { d.dims = t.shape.dim.map(\.denotation) }
            v.denotation = d
        }
        return v
    }

    func valueType(_ p: Onnx_TypeProto) throws -> ValueType? {
        switch p.value {
        case .tensorType(let t)?:
            return .tensor(elementType: try dtype(t.elemType), shape: t.hasShape ? shape(t.shape) : nil)
        case .sparseTensorType(let t)?:
            return .sparseTensor(elementType: try dtype(t.elemType), shape: t.hasShape ? shape(t.shape) : nil)
        case .sequenceType(let s)?:
            return .sequence(s.hasElemType ? try valueType(s.elemType) : nil)
        case .mapType(let m)?:
            return .map(key: try dtype(m.keyType), value: m.hasValueType ? try valueType(m.valueType) : nil)
        case .optionalType(let o)?:
            return .optional(o.hasElemType ? try valueType(o.elemType) : nil)
        case .opaqueType(let o)?:
            return .opaque(domain: o.domain, name: o.name)
        case nil:
            return nil
        }
    }

    func shape(_ p: Onnx_TensorShapeProto) -> Shape {
        p.dim.map { d in
            switch d.value {
            case .dimValue(let v)?: return .known(Int(truncatingIfNeeded: v))
            case .dimParam(let s)?: return .symbolic(s)
            case nil: return .unknown
            }
        }
    }

    func dtype(_ raw: Int32) throws -> DType {
        guard let t = DType(rawValue: raw) else { throw SwiftConvError.validation("unknown element type \(raw)") }
        return t
    }

    func sparseTensor(_ p: Onnx_SparseTensorProto) throws -> SparseTensor {
        let values = try tensor(p.values, rawRange: nil, context: "sparse tensor values")
        let indices = try tensor(p.indices, rawRange: nil, context: "sparse tensor indices")
        let dims = try p.dims.map { d -> Int in
            guard d >= 0, d <= Int64(Int32.max) * 1024 else {
                throw SwiftConvError.validation("sparse tensor '\(values.name)' has an invalid dimension \(d)")
            }
            return Int(d)
        }
        return SparseTensor(values: values, indices: indices, shape: dims)
    }

    /// A TensorProto as an IR tensor. `rawRange` is where its raw_data lies in the source buffer
    /// when the reader kept it out of the decoded proto.
    func tensor(_ p: Onnx_TensorProto, rawRange: Range<Int>?, context: String) throws -> Tensor {
        let label = "\(context) '\(p.name)'"
        guard let dt = DType(rawValue: p.dataType), dt != .undefined else {
            throw SwiftConvError.validation("\(label) has an unknown or undefined data type \(p.dataType)")
        }
        var shape = [Int]()
        shape.reserveCapacity(p.dims.count)
        for d in p.dims {
            guard d >= 0, d <= Int64(Int.max) else { throw SwiftConvError.validation("\(label) has a negative dimension \(d)") }
            shape.append(Int(d))
        }
        guard let count = elementCount(shape), let nbytes = dt.byteCount(elements: count) else {
            throw SwiftConvError.validation("\(label) has dimensions \(shape) whose size overflows")
        }
        var t: Tensor
        if dt == .string {
            guard p.stringData.count == count else {
                throw SwiftConvError.validation("\(label) has \(p.stringData.count) strings for shape \(shape) (\(count) elements)")
            }
            t = Tensor(name: p.name, shape: shape, strings: p.stringData)
        } else if p.hasDataLocation && p.dataLocation == .external {
            let ref = try externalReference(p, label: label)
            let storage = try decoder.externalData.storage(for: ref, byteCount: nbytes, label: label)
            t = Tensor(name: p.name, dtype: dt, shape: shape, storage: storage)
            t.externalData = ref
        } else if let r = rawRange {
            guard r.count == nbytes else {
                throw SwiftConvError.validation("\(label) has \(r.count) bytes of raw_data; shape \(shape) of \(dt) needs \(nbytes)")
            }
            t = Tensor(
                name: p.name, dtype: dt, shape: shape,
                storage: TensorStorage(borrowing: UnsafeRawBufferPointer(rebasing: decoder.bytes[r]), owner: decoder.owner))
        } else if p.hasRawData {
            guard p.rawData.count == nbytes else {
                throw SwiftConvError.validation(
                    "\(label) has \(p.rawData.count) bytes of raw_data; shape \(shape) of \(dt) needs \(nbytes)")
            }
            let storage = p.rawData.withUnsafeBytes { TensorStorage(copying: $0) }
            t = Tensor(name: p.name, dtype: dt, shape: shape, storage: storage)
        } else {
            t = Tensor(
                name: p.name, dtype: dt, shape: shape,
                storage: try TypedFieldData.storage(p, dtype: dt, count: count, nbytes: nbytes, label: label))
        }
        t.docString = p.docString
        t.metadata = p.metadataProps.map(entry)
        return t
    }

    func externalReference(_ p: Onnx_TensorProto, label: String) throws -> ExternalDataReference {
        var ref = ExternalDataReference(location: "")
        for e in p.externalData {
            switch e.key {
            case "location": ref.location = e.value
            case "offset":
                guard let v = Int(e.value), v >= 0 else {
                    throw SwiftConvError.validation("\(label) has an invalid external data offset '\(e.value)'")
                }
                ref.offset = v
            case "length":
                guard let v = Int(e.value), v >= 0 else {
                    throw SwiftConvError.validation("\(label) has an invalid external data length '\(e.value)'")
                }
                ref.length = v
            case "checksum": ref.checksum = e.value
            default: break
            }
        }
        guard !ref.location.isEmpty else { throw SwiftConvError.validation("\(label) uses external data but gives no location") }
        return ref
    }
}
