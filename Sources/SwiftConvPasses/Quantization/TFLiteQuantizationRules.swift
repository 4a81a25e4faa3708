import SwiftConvIR

/// Which ops each quantization mode changes and how: the facts of TFLite's kernels (int8 paths,
/// hybrid paths, the output parameters some int8 kernels require), as TFLiteConverter and
/// `tensorflow/lite/tools/optimize/operator_property.cc` state them.
enum TFLiteQuantizationRules {
    /// The weights of a hybrid (dynamic-range) op.
    struct HybridWeights {
        /// Input slots of the weights and the per-channel axis of each (nil: per tensor).
        var weights: [(slot: Int, axis: Int?)]
        /// Whether the op gets `asymmetric_quantize_inputs` (TFLiteConverter sets it where the option exists).
        var asymmetricInputs: Bool
        /// Quantize every weight once one qualifies (an LSTM cannot mix float and int8 weights).
        var allOrNothing = false
    }

    /// The hybrid weights of `node`, nil when its op has no dynamic-range kernel.
    static func hybridWeights(_ node: Node) -> HybridWeights? {
        switch node.opType {
        case "CONV_2D": return HybridWeights(weights: [(1, 0)], asymmetricInputs: false)
        case "DEPTHWISE_CONV_2D": return HybridWeights(weights: [(1, 3)], asymmetricInputs: false)
        case "FULLY_CONNECTED": return HybridWeights(weights: [(1, 0)], asymmetricInputs: true)
        case "BATCH_MATMUL": return HybridWeights(weights: [(1, nil)], asymmetricInputs: true)
        case "TRANSPOSE_CONV": return HybridWeights(weights: [(1, nil)], asymmetricInputs: false)
        case "UNIDIRECTIONAL_SEQUENCE_LSTM":
            // Input-to-gate (1-4), recurrent-to-gate (5-8), peephole (9-11) and projection (16) weights.
            let slots = Array(1...11) + [16]
            return HybridWeights(weights: slots.map { ($0, nil) }, asymmetricInputs: true, allOrNothing: true)
        default: return nil
        }
    }

    /// How an int8 op's output gets its quantization parameters.
    enum OutputParams {
        /// From the calibrated range of the output.
        case calibrated
        /// Those of the data input at this slot (LiteRT's kernel requires them equal).
        case sameAsInput(Int)
        /// Fixed by LiteRT's kernel.
        case fixed(scale: Float, zeroPoint: Int64)
        /// Calibrated over all inputs and the output, and every input requantized to them.
        case sharedWithInputs
    }

    /// An op's int8 form.
    struct Int8Op {
        var output: OutputParams
        /// Weight slot and its per-channel axis: symmetric int8 per channel.
        var weight: (slot: Int, axis: Int)? = nil
        /// Bias slot: int32 with scale input scale * weight scale.
        var bias: Int? = nil
    }

    /// The int8 form of `node`'s op, nil when LiteRT (or this quantizer) has none; such ops
    /// stay float between DEQUANTIZE and QUANTIZE.
    static func int8Op(_ node: Node) -> Int8Op? {
        switch node.opType {
        case "CONV_2D", "FULLY_CONNECTED": return Int8Op(output: .calibrated, weight: (1, 0), bias: 2)
        case "DEPTHWISE_CONV_2D": return Int8Op(output: .calibrated, weight: (1, 3), bias: 2)
        case "ADD", "SUB", "MUL", "SQUARED_DIFFERENCE", "BATCH_MATMUL", "MEAN", "SUM", "RSQRT", "GELU", "HARD_SWISH",
            "LEAKY_RELU", "RELU", "RELU6", "RELU_N1_TO_1":
            return Int8Op(output: .calibrated)
        case "LOGISTIC", "SOFTMAX": return Int8Op(output: .fixed(scale: 1.0 / 256, zeroPoint: -128))
        case "TANH": return Int8Op(output: .fixed(scale: 1.0 / 128, zeroPoint: 0))
        case "LOG_SOFTMAX": return Int8Op(output: .fixed(scale: 16.0 / 256, zeroPoint: 127))
        case "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "STRIDED_SLICE", "SLICE",
            "GATHER", "SPLIT_V", "PAD", "REDUCE_MAX", "REDUCE_MIN", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
            "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "TILE", "BROADCAST_TO", "MIRROR_PAD":
            return Int8Op(output: .sameAsInput(0))
        case "SPLIT": return Int8Op(output: .sameAsInput(1))
        case "CONCATENATION", "PACK", "MAXIMUM", "MINIMUM": return Int8Op(output: .sharedWithInputs)
        default: return nil
        }
    }
}
