import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The integer (int8/int16, full-integer and dynamic-range) paths of the `tflite` domain's
/// kernels, kept apart from the float paths: every `tflite` factory first asks here.
enum TFLiteIntegerKernels {
    /// The integer kernel for `ctx`'s node when its input or weight types call for one
    /// (TFLite's reference fixed-point arithmetic), nil for the float path.
    static func make(_ ctx: KernelBuildContext) throws -> Kernel? {
        guard ctx.node.domain == OpDomain.tflite else { return nil }
        let input = ctx.inputType(0)?.tensorElementType
        let quantized = isTFLiteQuantizedStorage(input)
        switch ctx.node.opType {
        case "FULLY_CONNECTED":
            if quantized { return try IntegerFullyConnectedKernel(ctx) }
            if input == .float32, isHybridWeight(ctx) { return try HybridFullyConnectedKernel(ctx) }
        case "CONV_2D":
            if quantized { return try IntegerConv2DKernel(ctx) }
            if input == .float32, isHybridWeight(ctx) { return try HybridConvKernel(ctx, depthwise: false) }
        case "DEPTHWISE_CONV_2D":
            if quantized { return try IntegerDepthwiseConvKernel(ctx) }
            if input == .float32, isHybridWeight(ctx) { return try HybridConvKernel(ctx, depthwise: true) }
        case "BATCH_MATMUL":
            if quantized { return try IntegerBatchMatMulKernel(ctx) }
            if input == .float32, isHybridWeight(ctx) { return try HybridBatchMatMulKernel(ctx) }
        case "UNIDIRECTIONAL_SEQUENCE_LSTM":
            if quantized { return try IntegerLSTMKernel(ctx) }
            // Input 2 (input-to-forget weights) is the one weight every LSTM has.
            let w = ctx.inputType(2)?.tensorElementType ?? ctx.constant(2)?.dtype
            if input == .float32, w == .int8, ctx.quantization(ofInput: 2) != nil { return try HybridLSTMKernel(ctx) }
        case "ADD", "SUB":
            if quantized { return try IntegerAddSubKernel(ctx) }
        case "MUL":
            if quantized { return try IntegerMulKernel(ctx) }
        case "MAX_POOL_2D", "AVERAGE_POOL_2D":
            if quantized { return try IntegerPoolKernel(ctx) }
        case "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1":
            if quantized { return try IntegerReluKernel(ctx) }
        case "LOGISTIC":
            if quantized { return try IntegerLookupTableKernel(ctx, IntegerLookupTableKernel.logistic) }
        case "TANH":
            if quantized { return try IntegerLookupTableKernel(ctx, IntegerLookupTableKernel.tanh) }
        case "GELU":
            if quantized {
                let approximate = ctx.int("approximate", default: 0) != 0
                return try IntegerLookupTableKernel(
                    ctx, approximate ? IntegerLookupTableKernel.geluTanh : IntegerLookupTableKernel.geluExact)
            }
        case "SOFTMAX":
            if quantized { return try IntegerSoftmaxKernel(ctx) }
        case "LEAKY_RELU":
            if quantized { return try IntegerLeakyReluKernel(ctx) }
        case "HARD_SWISH":
            if quantized { return try IntegerHardSwishKernel(ctx) }
        case "MEAN":
            if quantized { return try IntegerReduceKernel(ctx, .mean) }
        case "SUM":
            if quantized { return try IntegerReduceKernel(ctx, .sum) }
        case "REDUCE_MAX":
            if quantized { return try IntegerReduceKernel(ctx, .max) }
        case "REDUCE_MIN":
            if quantized { return try IntegerReduceKernel(ctx, .min) }
        case "CONCATENATION":
            if quantized { return try IntegerConcatKernel(ctx) }
        case "PAD", "PADV2":
            if quantized { return try IntegerPadKernel(ctx) }
        case "MAXIMUM", "MINIMUM":
            if quantized { return try IntegerMinMaxKernel(ctx) }
        case "RESIZE_BILINEAR":
            if quantized { return try IntegerResizeBilinearKernel(ctx) }
        case "RESIZE_NEAREST_NEIGHBOR":
            if quantized { return try IntegerResizeNearestKernel(ctx) }
        case "ABS":
            if quantized { return try IntegerAbsKernel(ctx) }
        case "SQUARED_DIFFERENCE":
            if quantized { return try IntegerSquaredDifferenceKernel(ctx) }
        case "TRANSPOSE_CONV":
            // Inputs: output shape, weights, activations, bias.
            if isTFLiteQuantizedStorage(ctx.inputType(2)?.tensorElementType) { return try IntegerTransposeConvKernel(ctx) }
            if ctx.inputType(2)?.tensorElementType == .float32, ctx.constant(1)?.dtype == .int8, ctx.quantization(ofInput: 1) != nil {
                return try HybridTransposeConvKernel(ctx)
            }
        case "PRELU":
            if quantized { return try IntegerPreluKernel(ctx) }
        case "RSQRT":
            if quantized { return try IntegerRsqrtKernel(ctx) }
        case "DIV":
            if quantized { return try IntegerDivKernel(ctx) }
        case "EXP":
            if quantized { return try IntegerTableKernel(ctx) { exp($0) } }
        case "LOG":
            if quantized { return try IntegerTableKernel(ctx) { log($0) } }
        case "SQRT":
            if quantized { return try IntegerTableKernel(ctx, truncate: true) { $0.squareRoot() } }
        case "REDUCE_PROD":
            if quantized { return try IntegerReduceProdKernel(ctx) }
        case "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL":
            // Unquantized int8 operands compare as plain integers on the float path.
            if input == .int8 || input == .uint8, ctx.quantization(ofInput: 0) != nil || ctx.quantization(ofInput: 1) != nil {
                return try IntegerCompareKernel(ctx)
            }
        case "LOG_SOFTMAX":
            if quantized { return try IntegerLogSoftmaxKernel(ctx) }
        default:
            break
        }
        return nil
    }

    /// Dynamic-range ops: float activations with int8 weights that carry a scale.
    static func isHybridWeight(_ ctx: KernelBuildContext) -> Bool {
        let t = ctx.inputType(1)?.tensorElementType ?? ctx.constant(1)?.dtype
        return t == .int8 && ctx.quantization(ofInput: 1) != nil
    }
}
