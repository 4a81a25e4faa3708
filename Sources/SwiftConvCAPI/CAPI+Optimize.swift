import CSwiftConv
import SwiftConvEngine
import SwiftConvIR

/// Rewrites a copy of an ONNX model with the `OptimizationPipeline` of `level` (onnxruntime's
/// level numbers). The source is never changed; `out` is written only on success.
@_cdecl("sc_model_optimize")
public func scModelOptimize(_ model: OpaquePointer?, _ level: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let level = try GraphOptimizationLevel(code: level)
        let out = try required(out, "out")
        guard box.model.format == .onnx else {
            throw SwiftConvError.invalidArgument(
                "optimize rewrites ONNX models; this one is \(box.model.format.rawValue) (convert it to ONNX first)")
        }
        let wasValid = (try? ModelChecker.check(box.model)) != nil
        var optimized = box.model
        _ = try OptimizationPipeline.pipeline(for: level).run(on: &optimized)
        if wasValid {
            do {
                try ModelChecker.check(optimized)
            } catch let e as SwiftConvError {
                throw SwiftConvError.internal("optimizing made a valid model invalid: \(e.message)")
            }
        }
        out.pointee = retainedHandle(ModelBox(optimized))
    }
}
