import SwiftConvIR
import SwiftConvTFLite

/// The tensor table a tf.lite-style interpreter reports for the main graph: one entry per
/// tensor with its TFLite index, shapes, element type and quantization.
///
/// A TFLite model keeps each tensor's index and file shapes in value metadata (the
/// importer's contract, see `tflite.tensor_index`); any other model gets indices in graph
/// order (inputs, weights, node outputs) so the interpreter API works on it too.
struct InterpreterTensors {
    struct Entry {
        var index: Int
        var name: String
        var dtype: DType?
        /// Runtime dims as tf.lite reports them (an unknown dim is 1 there).
        var shape: [Int]
        /// The file's shape_signature (-1 for an unknown dim), else `shape`.
        var signature: [Int]
        var quantization: QuantParams?
        var constant: Bool
        /// A TFLite variable tensor (an LSTM's state): zeros at the start of every run here.
        var variable: Bool
        var sparsity: String?
    }

    var entries: [Entry] = []
    /// Tensor indices of the inputs a caller feeds and of the outputs, in graph order.
    var inputs: [Int] = []
    var outputs: [Int] = []

    static let indexKey = TFLiteKeys.tensorIndex
    static let shapeKey = TFLiteKeys.shape
    static let signatureKey = TFLiteKeys.shapeSignature
    static let sparsityKey = TFLiteKeys.sparsity

    init(_ model: Model) {
        let g = model.graph
        let weights = Set(g.initializers.map(\.name) + g.sparseInitializers.map(\.values.name))
        let declared = g.inputs + g.outputs + g.valueInfo
        let fromFile = declared.contains { info in info.metadata.contains { $0.key == Self.indexKey } }
        var byName = [String: Int]()
        if fromFile {
            var seen = Set<Int>()
            for info in declared {
                guard let text = Self.meta(info, Self.indexKey), let index = Int(text), index >= 0,
                    seen.insert(index).inserted
                else { continue }
                entries.append(Self.entry(info, index: index, constant: weights.contains(info.name)))
                byName[info.name] = index
            }
            entries.sort { $0.index < $1.index }
        } else {
            var infos = [String: ValueInfo]()
            for info in declared where infos[info.name] == nil { infos[info.name] = info }
            for t in g.initializers where infos[t.name] == nil { infos[t.name] = Self.info(ofWeight: t) }
            var order = g.inputs.map(\.name)
            order += g.initializers.map(\.name)
            for node in g.nodes { order += node.outputs.filter { !$0.isEmpty } }
            order += g.outputs.map(\.name)
            for name in order where byName[name] == nil {
                let index = entries.count
                byName[name] = index
                let info = infos[name] ?? ValueInfo(name: name, type: nil)
                entries.append(Self.entry(info, index: index, constant: weights.contains(name)))
            }
        }
        inputs = g.runtimeInputs.compactMap { byName[$0.name] }
        outputs = g.outputs.compactMap { byName[$0.name] }
    }

    private static func meta(_ info: ValueInfo, _ key: String) -> String? {
        info.metadata.last { $0.key == key }?.value
    }

    /// "1,28,28" as ints; "" is a scalar. nil when any part is not an int.
    static func dims(_ text: String?) -> [Int]? {
        guard let text else { return nil }
        if text.isEmpty { return [] }
        var dims = [Int]()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let d = Int(part.trimmingSpaces) else { return nil }
            dims.append(d)
        }
        return dims
    }

    private static func info(ofWeight tensor: Tensor) -> ValueInfo {
        ValueInfo(name: tensor.name, type: .tensor(elementType: tensor.dtype, shape: tensor.shape.map { .known($0) }))
    }

    private static func entry(_ info: ValueInfo, index: Int, constant: Bool) -> Entry {
        var dtype: DType? = nil
        var irShape: Shape? = nil
        var quantization: QuantParams? = nil
        switch info.type {
        case .tensor(let t, let s, let q)?:
            (dtype, irShape, quantization) = (t, s, q)
        case .sparseTensor(let t, let s)?:
            (dtype, irShape) = (t, s)
        default:
            break
        }
        let file = dims(meta(info, shapeKey))
        var shape: [Int]
        if let irShape {
            // A dim the IR knows wins (it is the resized one); else the file's, else 1 as tf.lite.
            shape = irShape.enumerated().map { i, d in
                if case .known(let v) = d { return v }
                if let file, file.count == irShape.count, file[i] >= 0 { return file[i] }
                return 1
            }
        } else {
            shape = file ?? []
        }
        let signature =
            dims(meta(info, signatureKey)) ?? file
            ?? irShape.map { s in s.map { d in if case .known(let v) = d { return v } else { return -1 } } } ?? shape
        if file == nil, irShape == nil { shape = signature.map { max($0, 1) } }
        return Entry(
            index: index, name: info.name, dtype: dtype, shape: shape, signature: signature, quantization: quantization,
            constant: constant, variable: meta(info, TFLiteKeys.isVariable) == "1", sparsity: meta(info, sparsityKey))
    }

    /// The table as JSON (schema next to `sc_interpreter_tensors_json` in swiftconv.h).
    func json(signatureDefs: String?) -> [UInt8] {
        var w = JSONWriter()
        w.object { w in
            w.key("tensors")
            w.array { w in
                for e in entries {
                    w.object { w in
                        w.key("index")
                        w.int(Int64(e.index))
                        w.key("name")
                        w.string(e.name)
                        w.key("dtype")
                        w.string(e.dtype.map { $0.numpyName })
                        w.key("shape")
                        w.array { w in for d in e.shape { w.int(Int64(d)) } }
                        w.key("shape_signature")
                        w.array { w in for d in e.signature { w.int(Int64(d)) } }
                        w.key("scales")
                        w.array { w in for s in e.quantization?.scale ?? [] { w.float(s) } }
                        w.key("zero_points")
                        w.array { w in for z in e.quantization?.zeroPoint ?? [] { w.int(z) } }
                        w.key("quantized_dimension")
                        w.int(Int64(e.quantization?.axis ?? 0))
                        w.key("constant")
                        w.bool(e.constant)
                        w.key("variable")
                        w.bool(e.variable)
                        w.key("sparsity")
                        w.string(e.sparsity)
                    }
                }
            }
            w.key("inputs")
            w.array { w in for i in inputs { w.int(Int64(i)) } }
            w.key("outputs")
            w.array { w in for i in outputs { w.int(Int64(i)) } }
            w.key("signature_defs")
            w.string(signatureDefs)
        }
        return w.bytes
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
