import SwiftConvIR

/// Small helpers to build IR graphs in tests.
public func tensorInfo(_ name: String, _ dtype: DType, _ dims: [Dim]?) -> ValueInfo {
    ValueInfo(name: name, type: .tensor(elementType: dtype, shape: dims))
}

public func d(_ v: Int) -> Dim { .known(v) }
public func s(_ name: String) -> Dim { .symbolic(name) }

public func int64Tensor(_ name: String, _ values: [Int64], shape: [Int]? = nil) -> Tensor {
    Tensor(name: name, dtype: .int64, shape: shape ?? [values.count], values: values)
}

public func floatTensor(_ name: String, shape: [Int]) -> Tensor {
    Tensor(
        name: name, dtype: .float32, shape: shape,
        storage: TensorStorage(copyingArray: [Float](repeating: 0, count: elementCount(shape) ?? 0)))
}

public func attr(_ name: String, _ v: Int64) -> Attribute { Attribute(name: name, value: .int(v)) }
public func attr(_ name: String, _ v: [Int64]) -> Attribute { Attribute(name: name, value: .ints(v)) }
public func attrF(_ name: String, _ v: Float) -> Attribute { Attribute(name: name, value: .float(v)) }
public func attr(_ name: String, _ v: String) -> Attribute { Attribute(name: name, value: .string(Array(v.utf8))) }

public func makeModel(
    _ nodes: [Node], inputs: [ValueInfo], outputs: [String], initializers: [Tensor] = [],
    opset: Int64 = 17, extraOpsets: [OpsetID] = []
) -> Model {
    let g = Graph(
        name: "g", nodes: nodes, inputs: inputs,
        outputs: outputs.map { ValueInfo(name: $0, type: nil) }, initializers: initializers)
    var m = Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: "", version: opset)] + extraOpsets)
    m.irVersion = 8
    return m
}

/// Runs inference and returns the type of `name` wherever it was recorded.
public func inferredType(_ model: Model, _ name: String) -> ValueType? {
    var m = model
    try? ShapeInference.infer(&m)
    return (m.graph.valueInfo + m.graph.outputs).first { $0.name == name }?.type
}

public func inferredShape(_ model: Model, _ name: String) -> Shape? { inferredType(model, name)?.tensorShape }

/// The validation message `body` throws, nil when it returns, or a note on any other error.
public func validationFailure(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let e as SwiftConvError {
        guard e.kind == .validation else { return "wrong error kind: \(e)" }
        return e.description
    } catch {
        return "unexpected \(error)"
    }
}
