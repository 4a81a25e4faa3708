import SwiftConvIR

/// Activations and the Softmax family.
enum ActivationKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
