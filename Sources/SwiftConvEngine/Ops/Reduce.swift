import SwiftConvIR

/// ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare.
enum ReduceKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
