import SwiftConvIR

/// Normalizations as compositions of TFLite builtins (TFLite has no layer or instance norm):
/// LayerNormalization and InstanceNormalization as MEAN, SQUARED_DIFFERENCE, RSQRT, MUL and
/// ADD; inference BatchNormalization as one MUL and one ADD per channel (constants folded
/// when the statistics are constants), shaped [C, 1, …] to broadcast over NCHW.
extension ONNXToTFLiteRules {
    static let normalization: [String: ToTFLiteRule] = [
        "LayerNormalization": lowerLayerNormalization,
        "InstanceNormalization": lowerInstanceNormalization,
        "BatchNormalization": lowerBatchNormalization,
    ]

    /// (x − mean)·rsqrt(variance + epsilon) over `axes`; the mean and rsqrt keep the reduced dims.
    static func standardize(_ l: ToTFLiteNode, _ x: String, axes: [Int], epsilon: Double) throws -> (
        y: String, mean: String, invStdDev: String
    ) {
        let mean = reduction(l, "MEAN", x, axes, keep: true)
        let variance = reduction(l, "MEAN", binary(l, "SQUARED_DIFFERENCE", x, mean), axes, keep: true)
        let invStdDev = l.emit("RSQRT", [try plus(l, variance, epsilon)])
        return (binary(l, "MUL", binary(l, "SUB", x, mean), invStdDev), mean, invStdDev)
    }

    /// Whether input `k` is a constant whose every element is `value`.
    static func isConstant(_ l: ToTFLiteNode, _ k: Int, allEqualTo value: Double) -> Bool {
        guard let v = l.constant(k)?.doubleValues() else { return false }
        return v.allSatisfy { $0 == value }
    }

    /// Y = standardize(X over axes [axis, rank)) · Scale + B; the optional Mean and InvStdDev
    /// outputs are the kept-dims statistics ONNX defines.
    static func lowerLayerNormalization(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let rank = try l.rank(0)
        var axis = Int(l.int("axis", -1))
        if axis < 0 { axis += rank }
        guard axis >= 0, axis < rank else { throw NotLowerable("axis \(l.int("axis", -1)) is out of range for rank \(rank)") }
        for k in 1...2 where l.has(k) && l.elementType(k) != .float32 { throw NotLowerable("input \(k) must be float32") }
        let s = try standardize(l, try l.input(0), axes: Array(axis..<rank), epsilon: Double(l.float("epsilon", 1e-5)))
        var y = s.y
        if !isConstant(l, 1, allEqualTo: 1) { y = binary(l, "MUL", y, try l.input(1)) }
        if l.has(2), !isConstant(l, 2, allEqualTo: 0) { y = binary(l, "ADD", y, try l.input(2)) }
        try l.bind(0, y)
        if l.node.outputs.count > 1, !l.node.outputs[1].isEmpty { try l.bind(1, s.mean) }
        if l.node.outputs.count > 2, !l.node.outputs[2].isEmpty { try l.bind(2, s.invStdDev) }
    }

    /// Input `k`, a vector of C values, shaped [C, 1, …] (rank − 1 dims) to broadcast over
    /// an NC… input of `rank`: a reshaped constant, or a RESHAPE.
    static func perChannel(_ l: ToTFLiteNode, _ k: Int, rank: Int) throws -> String {
        let ones = [Int](repeating: 1, count: max(rank - 2, 0))
        if let t = l.constant(k), let v = t.doubleValues() {
            guard t.shape.count <= 1 else { throw NotLowerable("input \(k) must be a vector") }
            return l.floatConstant(Tensor(dtype: .float32, shape: [v.count] + ones, values: v.map { Float($0) }))
        }
        guard try l.rank(k) == 1 else { throw NotLowerable("input \(k) must be a vector") }
        let x = try l.input(k)
        return ones.isEmpty ? x : l.emit("RESHAPE", [x, l.int32s([-1] + ones)])
    }

    /// standardize(X over its spatial axes) · scale[C, 1, …] + B[C, 1, …].
    static func lowerInstanceNormalization(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let rank = try l.rank(0)
        guard rank >= 3 else { throw NotLowerable("the input must have spatial dims (rank \(rank))") }
        for k in 1...2 where l.elementType(k) != .float32 { throw NotLowerable("input \(k) must be float32") }
        let s = try standardize(l, try l.input(0), axes: Array(2..<rank), epsilon: Double(l.float("epsilon", 1e-5)))
        let scaled = binary(l, "MUL", s.y, try perChannel(l, 1, rank: rank))
        try l.bind(0, binary(l, "ADD", scaled, try perChannel(l, 2, rank: rank)))
    }

    /// Inference BatchNormalization: X·a + b with a = scale/√(var + ε), b = B − mean·a.
    static func lowerBatchNormalization(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        guard l.int("training_mode", 0) == 0 else { throw NotLowerable("training_mode=1 has no TFLite form") }
        guard l.int("spatial", 1) == 1 else { throw NotLowerable("spatial=0 has no TFLite form") }
        guard l.node.outputs.dropFirst().allSatisfy(\.isEmpty) else { throw NotLowerable("the training outputs have no TFLite form") }
        let rank = try l.rank(0)
        guard rank >= 2 else { throw NotLowerable("the input must have a channel dim (rank \(rank))") }
        for k in 1...4 where l.elementType(k) != .float32 { throw NotLowerable("input \(k) must be float32") }
        let epsilon = Double(l.float("epsilon", 1e-5))
        let x = try l.input(0)
        let params = (1...4).map { l.constant($0)?.doubleValues() }
        if let scale = params[0], let bias = params[1], let mean = params[2], let variance = params[3] {
            let c = scale.count
            guard bias.count == c, mean.count == c, variance.count == c else {
                throw NotLowerable("scale, B, mean and var must have one value per channel")
            }
            let a = (0..<c).map { scale[$0] / (variance[$0] + epsilon).squareRoot() }
            let b = (0..<c).map { bias[$0] - mean[$0] * a[$0] }
            let shape = [c] + [Int](repeating: 1, count: rank - 2)
            let multiplier = l.floatConstant(Tensor(dtype: .float32, shape: shape, values: a.map { Float($0) }))
            let offset = l.floatConstant(Tensor(dtype: .float32, shape: shape, values: b.map { Float($0) }))
            return try l.bind(0, binary(l, "ADD", binary(l, "MUL", x, multiplier), offset))
        }
        let (scale, bias, mean, variance) = (
            try perChannel(l, 1, rank: rank), try perChannel(l, 2, rank: rank), try perChannel(l, 3, rank: rank),
            try perChannel(l, 4, rank: rank)
        )
        let a = binary(l, "MUL", scale, l.emit("RSQRT", [try plus(l, variance, epsilon)]))
        let b = binary(l, "SUB", bias, binary(l, "MUL", mean, a))
        try l.bind(0, binary(l, "ADD", binary(l, "MUL", x, a), b))
    }
}
