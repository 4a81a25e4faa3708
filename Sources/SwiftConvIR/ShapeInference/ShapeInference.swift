/// Static shape and type inference over a model's main graph.
public enum ShapeInference {
    /// Fills `model.graph.valueInfo` with the types it can infer; leaves existing entries alone.
    public static func infer(_ model: inout Model) throws {
    }
}
