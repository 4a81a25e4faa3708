import SwiftConvIR

/// MatMul, Gemm, Einsum.
enum MatMulKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
