import SwiftConvIR

/// The ai.onnx.ml domain: tree ensembles, linear models, SVMs, scalers, encoders, ZipMap.
enum MLKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
