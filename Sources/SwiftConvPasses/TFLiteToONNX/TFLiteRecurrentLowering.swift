import SwiftConvIR

/// UNIDIRECTIONAL_SEQUENCE_LSTM as ONNX LSTM.
///
/// TFLite keeps one weight per gate in the order input, forget, cell, output; ONNX wants
/// them stacked as input, output, forget, cell. The state inputs are TFLite variable tensors
/// that start at zero, which is ONNX's default initial state. Layer normalization,
/// projection and CIFG (no input gate) have no ONNX LSTM form and are reported.
extension TFLiteLoweringRules {
    static let recurrent: [String: TFLiteLoweringRule] = [
        "UNIDIRECTIONAL_SEQUENCE_LSTM": lowerLSTM
    ]

    static func lowerLSTM(_ l: NodeLowering) throws {
        var missing: [String] = []
        if (20...23).contains(where: l.has) { missing.append("layer normalization") }
        if l.has(16) || l.has(17) { missing.append("projection") }
        if !l.has(1) || !l.has(5) { missing.append("CIFG (coupled input and forget gates)") }
        guard missing.isEmpty else { throw NotLowerable("ONNX LSTM has no " + missing.joined(separator: ", ")) }
        guard try l.rank(0) == 3, let w = l.shape(2), w.count == 2, let hidden = w[0].value else {
            throw NotLowerable("needs a rank-3 input and rank-2 gate weights of known size")
        }
        let timeMajor = l.bool("time_major")
        let order = [0, 3, 1, 2] // ONNX i, o, f, c from TFLite i, f, c, o
        func stacked(_ first: Int) throws -> String {
            let parts = try order.map { try l.input(first + $0) }
            return l.emit("Unsqueeze", [l.emit("Concat", parts, attributes: [.int("axis", 0)]), l.int64s([0])])
        }
        let weights = try stacked(1)
        let recurrent = try stacked(5)
        let zeros = l.scope.constant(
            l.fresh() + "_recurrent_bias", Tensor(dtype: .float32, shape: [4 * hidden], values: [Float](repeating: 0, count: 4 * hidden)))
        let biases = try order.map { k -> String in
            if l.has(12 + k) { return try l.input(12 + k) }
            return l.scope.constant(
                l.fresh() + "_bias", Tensor(dtype: .float32, shape: [hidden], values: [Float](repeating: 0, count: hidden)))
        }
        let bias = l.emit("Unsqueeze", [l.emit("Concat", biases + [zeros], attributes: [.int("axis", 0)]), l.int64s([0])])
        var x = try l.input(0)
        if !timeMajor { x = l.emit("Transpose", [x], attributes: [.ints("perm", [1, 0, 2])]) }
        var inputs = [x, weights, recurrent, bias, "", try state(l, 18), try state(l, 19)]
        if l.has(9) || l.has(10) || l.has(11) {
            guard l.has(9), l.has(10), l.has(11) else { throw NotLowerable("peepholes must be all present or all absent") }
            inputs.append(
                l.emit(
                    "Unsqueeze",
                    [l.emit("Concat", [try l.input(9), try l.input(11), try l.input(10)], attributes: [.int("axis", 0)]), l.int64s([0])]))
        }
        while inputs.last == "" { inputs.removeLast() }
        let act: String
        switch l.string("fused_activation_function", "TANH") {
        case "TANH": act = "Tanh"
        case "RELU": act = "Relu"
        case "LOGISTIC": act = "Sigmoid"
        case let other: throw NotLowerable("cell activation \(other) is not lowered")
        }
        var attributes: [Attribute] = [
            .int("hidden_size", Int64(hidden)),
            Attribute(name: "activations", value: .strings(["Sigmoid", act, act].map { Array($0.utf8) })),
        ]
        let clip = l.float("cell_clip", 0)
        if clip > 0 { attributes.append(.float("clip", clip)) }
        let y = l.emit("LSTM", inputs, attributes: attributes)
        var out = l.emit("Squeeze", [y, l.int64s([1])])
        if !timeMajor { out = l.emit("Transpose", [out], attributes: [.ints("perm", [1, 0, 2])]) }
        try l.bind(0, out)
    }

    /// An initial state [B, H] as ONNX's [1, B, H]; "" (zeros) for a TFLite variable tensor
    /// that nothing writes, which LiteRT zeroes at allocation.
    static func state(_ l: NodeLowering, _ k: Int) throws -> String {
        guard l.has(k) else { return "" }
        let name = l.node.inputs[k]
        let fed = l.scope.graph.inputs.contains { $0.name == name } || l.scope.producers[name] != nil
        guard fed || l.constant(k) != nil else { return "" }
        return l.emit("Unsqueeze", [try l.input(k), l.int64s([0])])
    }
}
