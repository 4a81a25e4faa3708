import SwiftConvIR

/// TFLite reductions through the engine's reduction kernels: the axes are input 1 (scalar
/// or 1-D int32, negative counted from the end, repeats allowed), an empty axes list reduces
/// nothing; ARG_MAX/ARG_MIN pick the first extreme along one axis.
enum TFLiteReduceKernels {
    static func register(into r: inout KernelRegistry) {
        let ops: [(String, ReduceKernel.Op)] = [
            ("MEAN", .mean), ("SUM", .sum), ("REDUCE_MAX", .max), ("REDUCE_MIN", .min), ("REDUCE_PROD", .prod),
            ("REDUCE_ANY", .max),
        ]
        for (name, op) in ops {
            r.registerTFLite(name) { ctx in
                try ctx.requireUnquantizedInputs()
                let keepDims = ctx.int("keep_dims", default: 0) != 0
                let anyOnly = name == "REDUCE_ANY"
                let fixed = try ctx.constant(1).map { try axesValues($0) }
                return TFLiteKernel { inputs, context in
                    let x = try inputs.tensor(0)
                    if anyOnly != (x.dtype == .bool) { throw kernelUnsupported("\(name) on \(x.dtype)") }
                    let axes = try fixed ?? axesValues(inputs.tensor(1))
                    let k = ReduceKernel(op: op, fixedAxes: axes, axesFromInput: false, keepDims: keepDims, noopWithEmptyAxes: true)
                    return try k.run([.tensor(x)], context)
                }
            }
        }
        for (name, isMax) in [("ARG_MAX", true), ("ARG_MIN", false)] {
            r.registerTFLite(name) { ctx in
                // The declared output type decides; `output_type` (INT64 by TFLite's converter) otherwise.
                let declared = ctx.outputTypes.first??.tensorElementType
                let outType: DType =
                    declared == .int32 || (declared != .int64 && TFLiteTensorType.dtype(ctx.string("output_type", default: "")) == .int32)
                    ? .int32 : .int64
                return TFLiteKernel { inputs, context in
                    let x = try inputs.tensor(0)
                    let axis = try axesValues(inputs.tensor(1))
                    guard axis.count == 1 else { throw kernelError("\(name): axis must hold one value, got \(axis.count)") }
                    let k = ArgExtremeKernel(isMax: isMax, axis: axis[0], keepDims: false, selectLast: false)
                    let out = try k.run([.tensor(x)], context).outputTensor(0)
                    return [.tensor(outType == .int32 ? try castTensor(out, to: .int32, threads: context.threads) : out)]
                }
            }
        }
    }

    /// The values of an int32/int64 axes tensor.
    static func axesValues(_ t: Tensor) throws -> [Int64] {
        guard t.dtype == .int32 || t.dtype == .int64, let v = t.int64Values() else {
            throw kernelError("axes must be int32 or int64, got \(t.dtype)")
        }
        return v
    }
}
