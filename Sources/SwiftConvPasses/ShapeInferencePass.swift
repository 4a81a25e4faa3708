import SwiftConvIR

/// Records in value_info the types shape inference finds (`ShapeInference.infer`), so that a
/// rewritten model is saved with the types of its new values. Declared types stay.
public struct ShapeInferencePass: ModelPass {
    public let name = "infer-shapes"

    public init() {}

    /// Whether any value got a type it did not have.
    public func run(on model: inout Model) throws -> Bool {
        func typed(_ g: Graph) -> Int { (g.valueInfo + g.outputs).filter { $0.type != nil }.count + g.valueInfo.count }
        let before = typed(model.graph)
        try ShapeInference.infer(&model)
        return typed(model.graph) != before
    }
}
