import SwiftConvIR

/// RNN, GRU, LSTM.
enum RecurrentKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
