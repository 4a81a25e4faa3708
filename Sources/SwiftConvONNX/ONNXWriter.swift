import ONNXProto
import SwiftConvIR

/// Writes the IR as ONNX `ModelProto` bytes.
///
/// Numeric tensors are written to `raw_data` (as `onnx.numpy_helper.from_array` does);
/// fields left empty in the IR are left unset, as `onnx.helper` leaves them.
public enum ONNXWriter {
    public static func serialize(_ model: Model) throws -> [UInt8] {
        do {
            return try IRToProto().model(model).serializedBytes()
        } catch let e as SwiftConvError {
            throw e
        } catch {
            throw SwiftConvError.internal("cannot serialize the model: \(error)")
        }
    }

    /// Writes atomically (temporary file in the same folder, then rename).
    public static func save(_ model: Model, to path: String) throws {
        try AtomicFile.write(try serialize(model), to: path)
    }
}

struct IRToProto {
    func model(_ m: Model) throws -> Onnx_ModelProto {
        var p = Onnx_ModelProto()
        if m.irVersion != 0 { p.irVersion = m.irVersion }
        p.opsetImport = m.opsetImports.map(opset)
        if !m.producerName.isEmpty { p.producerName = m.producerName }
        if !m.producerVersion.isEmpty { p.producerVersion = m.producerVersion }
        if !m.domain.isEmpty { p.domain = m.domain }
        if m.modelVersion != 0 { p.modelVersion = m.modelVersion }
        if !m.docString.isEmpty { p.docString = m.docString }
        p.graph = try graph(m.graph)
        p.metadataProps = m.metadata.map(entry)
        p.functions = try m.functions.map(function)
        for f in m.preservedFields {
            switch f.fieldNumber {
            case 20: p.trainingInfo.append(try Onnx_TrainingInfoProto(serializedBytes: f.bytes))
            case 26: p.configuration.append(try Onnx_DeviceConfigurationProto(serializedBytes: f.bytes))
            default: break
            }
        }
        return p
    }

    func opset(_ o: OpsetID) -> Onnx_OperatorSetIdProto {
        var p = Onnx_OperatorSetIdProto()
        p.domain = o.domain
        p.version = o.version
        return p
    }

    func entry(_ e: MetadataEntry) -> Onnx_StringStringEntryProto {
        var p = Onnx_StringStringEntryProto()
        p.key = e.key
        p.value = e.value
        return p
    }

    func graph(_ g: Graph) throws -> Onnx_GraphProto {
        var p = Onnx_GraphProto()
        p.node = try g.nodes.map(node)
        if !g.name.isEmpty { p.name = g.name }
        p.initializer = try g.initializers.map(tensor)
        p.sparseInitializer = try g.sparseInitializers.map(sparseTensor)
        if !g.docString.isEmpty { p.docString = g.docString }
        p.input = g.inputs.map(valueInfo)
        p.output = g.outputs.map(valueInfo)
        p.valueInfo = g.valueInfo.map(valueInfo)
        let quantization = QuantizationAnnotations.annotations(for: g)
        p.initializer += try quantization.initializers.map(tensor)
        p.quantizationAnnotation = quantization.annotations.map {
            var a = Onnx_TensorAnnotation()
            a.tensorName = $0.tensorName
            a.quantParameterTensorNames = $0.parameters.map(entry)
            return a
        }
        p.metadataProps = g.metadata.map(entry)
        return p
    }

    func node(_ n: Node) throws -> Onnx_NodeProto {
        var p = Onnx_NodeProto()
        p.input = n.inputs
        p.output = n.outputs
        if !n.name.isEmpty { p.name = n.name }
        p.opType = n.opType
        if !n.domain.isEmpty { p.domain = n.domain }
        if !n.overload.isEmpty { p.overload = n.overload }
        p.attribute = try n.attributes.map(attribute)
        if !n.docString.isEmpty { p.docString = n.docString }
        p.metadataProps = n.metadata.map(entry)
        return p
    }

    func function(_ f: Function) throws -> Onnx_FunctionProto {
        var p = Onnx_FunctionProto()
        p.name = f.name
        p.input = f.inputs
        p.output = f.outputs
        p.attribute = f.attributeNames
        p.attributeProto = try f.attributeDefaults.map(attribute)
        p.node = try f.nodes.map(node)
        if !f.docString.isEmpty { p.docString = f.docString }
        p.opsetImport = f.opsetImports.map(opset)
        p.domain = f.domain
        if !f.overload.isEmpty { p.overload = f.overload }
        p.valueInfo = f.valueInfo.map(valueInfo)
        p.metadataProps = f.metadata.map(entry)
        return p
    }

    func attribute(_ a: Attribute) throws -> Onnx_AttributeProto {
        var p = Onnx_AttributeProto()
        p.name = a.name
        if !a.docString.isEmpty { p.docString = a.docString }
        if let ref = a.refAttrName {
            p.refAttrName = ref
            if let k = a.referenceKind, let t = Onnx_AttributeProto.AttributeType(rawValue: Int(k)) { p.type = t }
            return p
        }
        guard let value = a.value else { return p }
        switch value {
        case .float(let v):
            p.f = v
            p.type = .float
        case .int(let v):
            p.i = v
            p.type = .int
        case .string(let v):
            p.s = v
            p.type = .string
        case .tensor(let t):
            p.t = try tensor(t)
            p.type = .tensor
        case .graph(let g):
            p.g = try graph(g)
            p.type = .graph
        case .sparseTensor(let s):
            p.sparseTensor = try sparseTensor(s)
            p.type = .sparseTensor
        case .type(let t):
            p.tp = typeProto(t)
            p.type = .typeProto
        case .floats(let v):
            p.floats = v
            p.type = .floats
        case .ints(let v):
            p.ints = v
            p.type = .ints
        case .strings(let v):
            p.strings = v
            p.type = .strings
        case .tensors(let v):
            p.tensors = try v.map(tensor)
            p.type = .tensors
        case .graphs(let v):
            p.graphs = try v.map(graph)
            p.type = .graphs
        case .sparseTensors(let v):
            p.sparseTensors = try v.map(sparseTensor)
            p.type = .sparseTensors
        case .types(let v):
            p.typeProtos = v.map(typeProto)
            p.type = .typeProtos
        }
        return p
    }

    func valueInfo(_ v: ValueInfo) -> Onnx_ValueInfoProto {
        var p = Onnx_ValueInfoProto()
        p.name = v.name
        if let t = v.type {
            var tp = typeProto(t)
            if !v.denotation.type.isEmpty { tp.denotation = v.denotation.type }
            if !v.denotation.dims.allSatisfy(\.isEmpty) {
                switch tp.value {
                case .tensorType(var tt)?:
                    denote(&tt.shape, v.denotation.dims)
                    tp.tensorType = tt
                case .sparseTensorType(var tt)?:
                    denote(&tt.shape, v.denotation.dims)
                    tp.sparseTensorType = tt
                default: break
                }
            }
            p.type = tp
        } else if !v.denotation.type.isEmpty {
            p.type.denotation = v.denotation.type
        }
        if !v.docString.isEmpty { p.docString = v.docString }
        p.metadataProps = v.metadata.map(entry)
        return p
    }

    /// Puts per-dimension denotations back on a shape ("" means none).
    func denote(_ shape: inout Onnx_TensorShapeProto, _ dims: [String]) {
        for (i, d) in dims.enumerated() where i < shape.dim.count && !d.isEmpty { shape.dim[i].denotation = d }
    }

    func typeProto(_ t: ValueType?) -> Onnx_TypeProto {
        var p = Onnx_TypeProto()
        guard let t else { return p }
        switch t {
        case .tensor(let e, let s, _):
            var tt = Onnx_TypeProto.Tensor()
            tt.elemType = e.rawValue
            if let s { tt.shape = shape(s) }
            p.tensorType = tt
        case .sparseTensor(let e, let s):
            var tt = Onnx_TypeProto.SparseTensor()
            tt.elemType = e.rawValue
            if let s { tt.shape = shape(s) }
            p.sparseTensorType = tt
        case .sequence(let e):
            var s = Onnx_TypeProto.Sequence()
            if let e { s.elemType = typeProto(e) }
            p.sequenceType = s
        case .map(let k, let v):
            var m = Onnx_TypeProto.Map()
            m.keyType = k.rawValue
            if let v { m.valueType = typeProto(v) }
            p.mapType = m
        case .optional(let e):
            var o = Onnx_TypeProto.Optional()
            if let e { o.elemType = typeProto(e) }
            p.optionalType = o
        case .opaque(let d, let n):
            var o = Onnx_TypeProto.Opaque()
            if !d.isEmpty { o.domain = d }
            if !n.isEmpty { o.name = n }
            p.opaqueType = o
        }
        return p
    }

    func shape(_ s: Shape) -> Onnx_TensorShapeProto {
        var p = Onnx_TensorShapeProto()
        p.dim = s.map { d in
            var pd = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .known(let v): pd.dimValue = Int64(v)
            case .symbolic(let n): pd.dimParam = n
            case .unknown: break
            }
            return pd
        }
        return p
    }

    func tensor(_ t: Tensor) throws -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.dims = t.shape.map(Int64.init)
        p.dataType = t.dtype.rawValue
        if !t.name.isEmpty { p.name = t.name }
        if !t.docString.isEmpty { p.docString = t.docString }
        if t.dtype == .string {
            p.stringData = t.strings
        } else {
            p.rawData = [UInt8](t.storage.bytes)
        }
        p.metadataProps = t.metadata.map(entry)
        return p
    }

    func sparseTensor(_ s: SparseTensor) throws -> Onnx_SparseTensorProto {
        var p = Onnx_SparseTensorProto()
        p.values = try tensor(s.values)
        p.indices = try tensor(s.indices)
        p.dims = s.shape.map(Int64.init)
        return p
    }
}
