import SwiftConvIR

/// Cast and CastLike between every dtype, including bfloat16, float8 and 4-bit types.
enum CastKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
