import SwiftConvIR

/// BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, LRN, MeanVarianceNormalization, RMSNormalization.
enum NormalizationKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
