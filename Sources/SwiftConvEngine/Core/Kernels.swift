/// The standard kernel set: every op family registers itself here, one file per family
/// under `Ops/`. The executor never changes when a kernel is added or replaced.
public enum Kernels {
    public static let standard: KernelRegistry = {
        var r = KernelRegistry()
        ElementwiseKernels.register(into: &r)
        ActivationKernels.register(into: &r)
        LogicalKernels.register(into: &r)
        ShapeKernels.register(into: &r)
        IndexingKernels.register(into: &r)
        CastKernels.register(into: &r)
        QuantizedKernels.register(into: &r)
        ConvKernels.register(into: &r)
        PoolingKernels.register(into: &r)
        MatMulKernels.register(into: &r)
        NormalizationKernels.register(into: &r)
        ReduceKernels.register(into: &r)
        RecurrentKernels.register(into: &r)
        ControlFlowKernels.register(into: &r)
        SequenceKernels.register(into: &r)
        GeneratorKernels.register(into: &r)
        ImageKernels.register(into: &r)
        SignalKernels.register(into: &r)
        StringKernels.register(into: &r)
        MLKernels.register(into: &r)
        TrainingKernels.register(into: &r)
        LossKernels.register(into: &r)
        return r
    }()
}
