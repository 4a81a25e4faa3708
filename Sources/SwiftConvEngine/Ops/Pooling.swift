import SwiftConvIR

/// MaxPool, AveragePool, LpPool, global pools, MaxUnpool, MaxRoiPool.
enum PoolingKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
