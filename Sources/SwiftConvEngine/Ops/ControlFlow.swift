import SwiftConvIR

/// If, Loop, Scan.
enum ControlFlowKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
