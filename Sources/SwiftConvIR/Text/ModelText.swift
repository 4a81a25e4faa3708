/// Human-readable renderings of a model.
public enum ModelText {
    /// Inputs, outputs, op histogram, parameter count and bytes.
    public static func summary(_ model: Model) -> String { "" }

    /// Text like `onnx.helper.printable_graph`.
    public static func printableGraph(_ model: Model) -> String { "" }
}
