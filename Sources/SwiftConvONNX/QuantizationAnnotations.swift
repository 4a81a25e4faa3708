import SwiftConvIR

/// ONNX `quantization_annotation` <-> the quantization on value types.
///
/// An annotation names a value and, under the keys `SCALE_TENSOR` and `ZERO_POINT_TENSOR`,
/// the initializers holding its parameters. ONNX defines no key for the axis of per-channel
/// parameters, so swiftconv writes it under `AXIS_TENSOR` (an int64 scalar initializer);
/// other tools ignore keys they do not know.
enum QuantizationAnnotations {
    static let scaleKey = "SCALE_TENSOR"
    static let zeroPointKey = "ZERO_POINT_TENSOR"
    static let axisKey = "AXIS_TENSOR"

    /// The parameters an annotation describes for a value of `elementType` (nil when unknown),
    /// or nil when its tensors are not initializers or do not form valid parameters.
    static func params(_ a: TensorAnnotation, initializers: [String: Tensor], elementType: DType?) -> QuantParams? {
        func tensor(_ key: String) -> Tensor?? {
            guard let name = a.parameters.first(where: { $0.key == key })?.value else { return .some(nil) }
            guard let t = initializers[name] else { return nil }
            return .some(t)
        }
        guard let scale = tensor(scaleKey) ?? nil, let zeroPoint = tensor(zeroPointKey), let axisTensor = tensor(axisKey)
        else { return nil }
        guard let storage = zeroPoint?.dtype ?? elementType else { return nil }
        var axis: Int?
        if let axisTensor {
            guard axisTensor.shape.isEmpty, let v = axisTensor.int64Values()?.first, let ax = Int(exactly: v) else { return nil }
            axis = ax
        }
        guard let q = QuantParams.fromConstants(scale: scale, zeroPoint: zeroPoint, storageType: storage, axis: axis),
            q.violation(elementType: elementType ?? storage, shape: nil) == nil
        else { return nil }
        return q
    }

    /// On load: puts each annotation that names valid initializer parameters on its value's
    /// type, adding a `value_info` entry for a value that has none. Other annotations stay
    /// as they are (they are kept on the graph and written back unchanged).
    static func apply(to g: inout Graph) {
        guard !g.quantizationAnnotations.isEmpty else { return }
        var initializers: [String: Tensor] = [:]
        for t in g.initializers where initializers[t.name] == nil { initializers[t.name] = t }
        for a in g.quantizationAnnotations {
            let name = a.tensorName
            let declared = (g.inputs + g.outputs + g.valueInfo).first { $0.name == name && $0.type != nil }?.type
            if let declared, declared.tensorElementType == nil { continue }
            guard let q = params(a, initializers: initializers, elementType: declared?.tensorElementType),
                q.violation(elementType: q.storageType, shape: declared?.tensorShape) == nil
            else { continue }
            let annotate = { (v: inout ValueInfo) in
                guard v.name == name else { return }
                v.type = .tensor(elementType: q.storageType, shape: v.type?.tensorShape, quantization: q)
            }
            var found = false
            for i in g.inputs.indices where g.inputs[i].name == name {
                annotate(&g.inputs[i])
                found = true
            }
            for i in g.outputs.indices where g.outputs[i].name == name {
                annotate(&g.outputs[i])
                found = true
            }
            for i in g.valueInfo.indices where g.valueInfo[i].name == name {
                annotate(&g.valueInfo[i])
                found = true
            }
            if !found {
                g.valueInfo.append(ValueInfo(name: name, type: .tensor(elementType: q.storageType, shape: nil, quantization: q)))
            }
        }
    }

    /// On save: the annotations and extra initializers that describe every quantized value type.
    /// An annotation read with the model is kept when it still describes the type; otherwise
    /// parameters are written as initializers (an equal existing one is reused) with fresh names.
    /// A graph without quantized types gets its annotations back unchanged.
    static func annotations(for g: Graph) -> (annotations: [TensorAnnotation], initializers: [Tensor]) {
        var quantized: [(name: String, params: QuantParams)] = []
        var seen = Set<String>()
        for v in g.inputs + g.outputs + g.valueInfo {
            guard let q = v.type?.quantization, seen.insert(v.name).inserted else { continue }
            quantized.append((v.name, q))
        }
        guard !quantized.isEmpty else { return (g.quantizationAnnotations, []) }
        var initializers: [String: Tensor] = [:]
        for t in g.initializers where initializers[t.name] == nil { initializers[t.name] = t }
        let wanted = Dictionary(quantized.map { ($0.name, $0.params) }, uniquingKeysWith: { a, _ in a })
        var out: [TensorAnnotation] = []
        var covered = Set<String>()
        for a in g.quantizationAnnotations {
            if let q = wanted[a.tensorName] {
                guard params(a, initializers: initializers, elementType: q.storageType) == q, covered.insert(a.tensorName).inserted
                else { continue }
            }
            out.append(a)
        }
        var names = UniqueNameGenerator(graph: g)
        var added: [Tensor] = []
        func initializerName(for t: Tensor) -> String {
            if let same = (g.initializers + added).first(where: { sameContents($0, t) }) { return same.name }
            var named = t
            named.name = names.fresh(t.name)
            added.append(named)
            return named.name
        }
        for (name, q) in quantized where !covered.contains(name) {
            guard let zeroPoint = q.zeroPointTensor(name: name + "_zero_point") else { continue }
            var parameters = [
                MetadataEntry(scaleKey, initializerName(for: q.scaleTensor(name: name + "_scale"))),
                MetadataEntry(zeroPointKey, initializerName(for: zeroPoint)),
            ]
            if let axis = q.axis {
                let t = Tensor(name: name + "_axis", dtype: .int64, shape: [], values: [Int64(axis)])
                parameters.append(MetadataEntry(axisKey, initializerName(for: t)))
            }
            out.append(TensorAnnotation(tensorName: name, parameters: parameters))
        }
        return (out, added)
    }

    static func sameContents(_ a: Tensor, _ b: Tensor) -> Bool {
        guard a.dtype == b.dtype, a.shape == b.shape, a.externalData == nil, a.byteCount == b.byteCount else { return false }
        return a.storage.bytes.elementsEqual(b.storage.bytes)
    }
}
