import SwiftConvIR

/// DFT, STFT, window functions, MelWeightMatrix.
enum SignalKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
