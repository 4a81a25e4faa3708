import SwiftConvIR

/// Conv and ConvTranspose.
enum ConvKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
