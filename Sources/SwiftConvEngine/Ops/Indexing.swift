import SwiftConvIR

/// Gather/Scatter families, OneHot, NonZero, Compress, TopK, ArgMax/ArgMin, Unique, CumSum, Trilu.
enum IndexingKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
