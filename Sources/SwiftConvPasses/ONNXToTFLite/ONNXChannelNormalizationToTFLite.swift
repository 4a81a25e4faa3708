import SwiftConvIR

/// BatchNormalization, InstanceNormalization, LRN: channel-wise normalizations.
///
/// TFLite has no op for the first two. A BatchNormalization left after folding is a MUL and
/// an ADD by per-channel constants ([C, 1, ...] in ONNX layout, ONNX ops in the layout run so
/// that `TransposeCancellation` moves transposes through them); InstanceNormalization is
/// computed channels-last with MEANs over the spatial axes; LRN is a 1x1 CONV_2D of the
/// squares with a banded filter (the channel window) and a POW, ops both LiteRT and our
/// engine run.
extension ONNXToTFLiteRules {
    static let channelNormalization: [String: ToTFLiteRule] = [
        "BatchNormalization": lowerChannelsLastBatchNormalization,
        "InstanceNormalization": lowerChannelsLastInstanceNormalization,
        "LRN": lowerLRN,
    ]

    static func lowerChannelsLastBatchNormalization(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        guard rank >= 2, l.elementType(0) == .float32 else { throw NotLowerable("needs a float32 input of rank 2 or more") }
        guard l.int("training_mode", 0) == 0, l.node.outputs.dropFirst().allSatisfy(\.isEmpty) else {
            throw NotLowerable("training mode (running statistics outputs) has no TFLite form")
        }
        let gamma = try l.constantFloats(1, what: "scale"), beta = try l.constantFloats(2, what: "B")
        let mean = try l.constantFloats(3, what: "input_mean"), variance = try l.constantFloats(4, what: "input_var")
        let c = gamma.count
        guard c > 0, beta.count == c, mean.count == c, variance.count == c else {
            throw NotLowerable("scale, B, mean and var must be vectors of the same length")
        }
        let epsilon = l.float("epsilon", 1e-5)
        let scale = (0..<c).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        let shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
        let shape = [c] + [Int](repeating: 1, count: rank - 2)
        let a = l.floatConstant(Tensor(dtype: .float32, shape: shape, values: scale))
        let b = l.floatConstant(Tensor(dtype: .float32, shape: shape, values: shift))
        let x = try l.input(0)
        if l.layoutRun {
            try l.bind(0, l.emitONNX("Add", [l.emitONNX("Mul", [x, a]), b]))
        } else {
            let fused: [Attribute] = [.string("fused_activation_function", "NONE")]
            try l.bind(0, l.emit("ADD", [l.emit("MUL", [x, a], attributes: fused), b], attributes: fused))
        }
    }

    static func lowerChannelsLastInstanceNormalization(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        guard rank >= 3, l.elementType(0) == .float32 else { throw NotLowerable("needs a float32 input of rank 3 or more") }
        let gamma = try l.constantFloats(1, what: "scale"), beta = try l.constantFloats(2, what: "B")
        guard gamma.count == beta.count, gamma.count > 0 else { throw NotLowerable("scale and B must be vectors of the same length") }
        let fused: [Attribute] = [.string("fused_activation_function", "NONE")]
        let axes = l.int32s(Array(1..<(rank - 1)))
        let x = l.toChannelsLast(try l.input(0), rank: rank)
        let centered = l.emit("SUB", [x, l.emit("MEAN", [x, axes], attributes: [.int("keep_dims", 1)])], attributes: fused)
        let variance = l.emit("MEAN", [l.emit("MUL", [centered, centered], attributes: fused), axes], attributes: [.int("keep_dims", 1)])
        let epsilon = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [l.float("epsilon", 1e-5)]))
        let inverse = l.emit("RSQRT", [l.emit("ADD", [variance, epsilon], attributes: fused)])
        let scale = l.floatConstant(Tensor(dtype: .float32, shape: [gamma.count], values: gamma))
        let shift = l.floatConstant(Tensor(dtype: .float32, shape: [beta.count], values: beta))
        let normalized = l.emit("MUL", [centered, l.emit("MUL", [inverse, scale], attributes: fused)], attributes: fused)
        try l.bind(0, l.toChannelsFirst(l.emit("ADD", [normalized, shift], attributes: fused), rank: rank))
    }

    static func lowerLRN(_ l: ToTFLiteNode) throws {
        guard try l.rank(0) == 4, l.elementType(0) == .float32, let c = l.shape(0)?[1].value else {
            throw NotLowerable("needs a float32 4-D input with a static channel count")
        }
        let size = Int(l.int("size", 0))
        guard size >= 1, c <= 4096 else { throw NotLowerable("size must be positive and the channels at most 4096") }
        let (alpha, beta, bias) = (l.float("alpha", 1e-4), l.float("beta", 0.75), l.float("bias", 1))
        // Output channel o sums the squares of channels o - floor((size-1)/2) ... o + ceil((size-1)/2).
        let (below, above) = ((size - 1) / 2, size - 1 - (size - 1) / 2)
        var band = [Float](repeating: 0, count: c * c)
        for o in 0..<c {
            for i in max(o - below, 0)...min(o + above, c - 1) { band[o * c + i] = alpha / Float(size) }
        }
        let fused: [Attribute] = [.string("fused_activation_function", "NONE")]
        let x = l.toChannelsLast(try l.input(0), rank: 4)
        let squares = l.emit("MUL", [x, x], attributes: fused)
        let sums = l.emit(
            "CONV_2D",
            [
                squares, l.floatConstant(Tensor(dtype: .float32, shape: [c, 1, 1, c], values: band)),
                l.floatConstant(Tensor(dtype: .float32, shape: [c], values: [Float](repeating: bias, count: c))),
            ],
            attributes: [
                .string("padding", "VALID"), .int("stride_h", 1), .int("stride_w", 1), .int("dilation_h_factor", 1),
                .int("dilation_w_factor", 1),
            ] + fused)
        let power = l.emit("POW", [sums, l.floatConstant(Tensor(dtype: .float32, shape: [], values: [-beta]))])
        try l.bind(0, l.toChannelsFirst(l.emit("MUL", [x, power], attributes: fused), rank: 4))
    }
}
