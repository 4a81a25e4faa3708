import SwiftConvIR

/// AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D in NCHW between transposes.
///
/// TFLite's average leaves padding out of the count (count_include_pad = 0); its L2 pool is
/// the square root of the average of squares, not ONNX's LpPool (a root of the sum).
extension TFLiteLoweringRules {
    static let pooling: [String: TFLiteLoweringRule] = [
        "AVERAGE_POOL_2D": { l in try lowerPool(l, op: "AveragePool") },
        "MAX_POOL_2D": { l in try lowerPool(l, op: "MaxPool") },
        "L2_POOL_2D": { l in try lowerPool(l, op: "L2") },
    ]

    static func lowerPool(_ l: NodeLowering, op: String) throws {
        guard try l.rank(0) == 4 else { throw NotLowerable("needs a rank-4 input") }
        let kernel = [Int(l.int("filter_height", 1)), Int(l.int("filter_width", 1))]
        let strides = [Int(l.int("stride_h", 1)), Int(l.int("stride_w", 1))]
        var attributes = [Attribute.ints("kernel_shape", kernel), .ints("strides", strides)]
        attributes += try l.paddingAttributes(kernel: kernel, strides: strides, dilations: [1, 1])
        var x = l.toNCHW(try l.input(0))
        let y: String
        switch op {
        case "L2":
            x = l.emit("Mul", [x, x])
            y = l.emit("Sqrt", [l.emit("AveragePool", [x], attributes: attributes + [.int("count_include_pad", 0)])])
        case "AveragePool":
            y = l.emit(op, [x], attributes: attributes + [.int("count_include_pad", 0)])
        default:
            y = l.emit(op, [x], attributes: attributes)
        }
        try l.bind(0, l.toNHWC(try l.fusedActivation(y)))
    }
}
