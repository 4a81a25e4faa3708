import SwiftConvIR

/// The ai.onnx.preview.training domain: Adagrad, Adam, Momentum, Gradient.
enum TrainingKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
