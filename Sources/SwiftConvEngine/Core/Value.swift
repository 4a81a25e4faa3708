import SwiftConvIR

/// A runtime value: what flows along a graph edge while a model runs.
///
/// Not `indirect` as a whole: a tensor value is stored inline, so producing one allocates no
/// box (the executor makes one per node output). Only the rare two-tensor map case is boxed.
public enum Value: @unchecked Sendable {
    case tensor(Tensor)
    /// An ONNX sequence; `elementType` is kept so that an empty sequence still has a type.
    case sequence([Value], elementType: ValueType?)
    /// An ONNX map (ZipMap, DictVectorizer): keys (int64 or string) and values, both 1-D.
    indirect case map(keys: Tensor, values: Tensor)
    /// An empty optional.
    case none(ValueType?)

    public var tensor: Tensor? {
        if case .tensor(let t) = self { return t }
        return nil
    }

    /// The ONNX Runtime type string of this value, for error messages and `get_outputs()`.
    public var typeDescription: String {
        switch self {
        case .tensor(let t): return "tensor(\(t.dtype.onnxTypeName))"
        case .sequence(let items, let t):
            if let first = items.first { return "seq(\(first.typeDescription))" }
            return "seq(\(t?.onnxTypeString ?? "undefined"))"
        case .map(let k, let v): return "map(\(k.dtype.onnxTypeName),tensor(\(v.dtype.onnxTypeName)))"
        case .none(let t): return "optional(\(t?.onnxTypeString ?? "undefined"))"
        }
    }
}
