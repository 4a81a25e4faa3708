import SwiftConvIR

/// Sequence and Optional ops.
enum SequenceKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
