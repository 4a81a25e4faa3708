import SwiftConvIR

extension InferenceSession {
    /// The graph outputs as onnxruntime reports them: each declared output with an unknown
    /// rank or dim filled in from what shape inference found when the session was created.
    public var outputInfo: [ValueInfo] {
        zip(outputs, inferredOutputTypes).map { declared, inferred in
            var out = declared
            guard case .tensor(let element, let shape, _)? = declared.type, case .tensor(_, let found?, _)? = inferred else {
                return out
            }
            guard let shape else {
                out.type = .tensor(elementType: element, shape: found)
                return out
            }
            guard shape.count == found.count else { return out }
            let merged: Shape = zip(shape, found).map { dim, inferredDim in
                if case .unknown = dim { return inferredDim }
                return dim
            }
            out.type = .tensor(elementType: element, shape: merged)
            return out
        }
    }

    /// Initializers listed as graph inputs, which a caller may feed to override them: as in
    /// onnxruntime, only from IR version 4 on (earlier, every initializer is also an input).
    public var overridableInputInfo: [ValueInfo] {
        guard model.irVersion >= 4 else { return [] }
        let required = Set(requiredInputInfo.map(\.name))
        return inputs.filter { !required.contains($0.name) }
    }

    /// `value` with the element types a caller cannot spell (empty sequences, empty
    /// optionals) taken from the input's declared `type`.
    static func typed(_ value: Value, as type: ValueType?) -> Value {
        switch (value, type) {
        case (_, .optional(let inner)?):
            if case .none(nil) = value { return .none(inner) }
            return typed(value, as: inner)
        case (.sequence(let items, nil), .sequence(let element)?):
            return .sequence(items.map { typed($0, as: element) }, elementType: element)
        default:
            return value
        }
    }
}
