/// Structural validation like `onnx.checker.check_model`.
public enum ModelChecker {
    /// Throws `SwiftConvError.validation` naming the first offending node and the reason.
    public static func check(_ model: Model) throws {
    }
}
