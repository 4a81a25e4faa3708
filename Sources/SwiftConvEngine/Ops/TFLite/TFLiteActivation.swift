import SwiftConvIR

/// TFLite activation builtins on float tensors, through the engine's activation kernels:
/// the RELU family as clamps, LOGISTIC/TANH/HARD_SWISH/GELU/ELU/LEAKY_RELU/PRELU, and
/// SOFTMAX (with `beta`) / LOG_SOFTMAX over the last axis.
enum TFLiteActivationKernels {
    static func register(into r: inout KernelRegistry) {
        let clamps: [(String, Double, Double)] = [
            ("RELU", 0, .infinity), ("RELU6", 0, 6), ("RELU_N1_TO_1", -1, 1), ("RELU_0_TO_1", 0, 1),
        ]
        for (op, low, high) in clamps {
            r.registerTFLite(op) { _ in
                let range = TFLiteFusedActivation(low: low, high: high)
                return TFLiteKernel { inputs, context in [.tensor(try range.apply(floatInput(inputs), context.threads))] }
            }
        }
        let unary: [(String, FloatUnaryOp)] = [("LOGISTIC", .sigmoid), ("TANH", .tanh), ("HARD_SWISH", .hardSwish), ("ELU", .elu(1))]
        for (op, fn) in unary {
            r.registerTFLite(op) { _ in floatUnary(FloatUnaryKernel(op: fn)) }
        }
        // GeluOptions.approximate (default false): the tanh approximation when set.
        r.registerTFLite("GELU") { ctx in floatUnary(FloatUnaryKernel(op: ctx.int("approximate", default: 0) != 0 ? .geluTanh : .gelu)) }
        // LeakyReluOptions.alpha defaults to 0 in the schema.
        r.registerTFLite("LEAKY_RELU") { ctx in floatUnary(FloatUnaryKernel(op: .leakyRelu(ctx.float("alpha", default: 0)))) }
        // TFLite's PRELU broadcasts alpha against the input both ways, like ONNX's PRelu.
        r.registerTFLite("PRELU") { _ in
            let k = PReluKernel(legacy: false)
            return TFLiteKernel { inputs, context in
                _ = try floatInput(inputs)
                return try k.run(inputs, context)
            }
        }
        r.registerTFLite("SOFTMAX") { ctx in
            let beta = ctx.float("beta", default: 1)
            let k = SoftmaxKernel(op: .softmax, axis: -1, coerced2D: false)
            return TFLiteKernel { inputs, context in
                var x = try floatInput(inputs)
                if beta != 1 { x = try unaryFloat32(x, context.threads) { $0 * beta } }
                return try k.run([.tensor(x)], context)
            }
        }
        r.registerTFLite("LOG_SOFTMAX") { _ in
            floatUnary(SoftmaxKernel(op: .logSoftmax, axis: -1, coerced2D: false))
        }
    }

    /// Input 0, which the float path requires to be float32 (other dtypes are the integer
    /// kernels' or unsupported).
    static func floatInput(_ inputs: [Value?]) throws -> Tensor {
        let x = try inputs.tensor(0)
        guard x.dtype == .float32 else { throw kernelUnsupported("\(x.dtype) input (float32 expected)") }
        return x
    }

    /// `k` run on a float32 input 0.
    static func floatUnary(_ k: some Kernel) -> Kernel {
        TFLiteKernel { inputs, context in
            _ = try floatInput(inputs)
            return try k.run(inputs, context)
        }
    }
}
