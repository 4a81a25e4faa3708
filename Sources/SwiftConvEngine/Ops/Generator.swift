import SwiftConvIR

/// Constant, ConstantOfShape, Range, EyeLike, random generators, Bernoulli.
enum GeneratorKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
