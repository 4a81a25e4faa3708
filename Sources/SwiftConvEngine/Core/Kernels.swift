/// The standard kernel set: every op family registers itself here, one file per family
/// under `Ops/`. The executor never changes when a kernel is added or replaced.
public enum Kernels {
    public static let standard: KernelRegistry = {
        var r = KernelRegistry()
        r.registerFamily("Elementwise", ElementwiseKernels.register)
        r.registerFamily("Activation", ActivationKernels.register)
        r.registerFamily("Logical", LogicalKernels.register)
        r.registerFamily("Shape", ShapeKernels.register)
        r.registerFamily("Indexing", IndexingKernels.register)
        r.registerFamily("Cast", CastKernels.register)
        r.registerFamily("Quantized", QuantizedKernels.register)
        r.registerFamily("Conv", ConvKernels.register)
        r.registerFamily("Pooling", PoolingKernels.register)
        r.registerFamily("MatMul", MatMulKernels.register)
        r.registerFamily("Normalization", NormalizationKernels.register)
        r.registerFamily("Reduce", ReduceKernels.register)
        r.registerFamily("Recurrent", RecurrentKernels.register)
        r.registerFamily("ControlFlow", ControlFlowKernels.register)
        r.registerFamily("Sequence", SequenceKernels.register)
        r.registerFamily("Generator", GeneratorKernels.register)
        r.registerFamily("Image", ImageKernels.register)
        r.registerFamily("Signal", SignalKernels.register)
        r.registerFamily("String", StringKernels.register)
        r.registerFamily("ML", MLKernels.register)
        r.registerFamily("Training", TrainingKernels.register)
        r.registerFamily("Loss", LossKernels.register)
        r.registerFamily("TFLiteQuantize", TFLiteQuantizeKernels.register)
        return r
    }()
}
