import SwiftConvIR

/// MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD, REDUCE_ANY, ARG_MAX, ARG_MIN.
///
/// ReduceSum takes its axes as an input from opset 13, the other reductions only from 18;
/// before that their axes must be constants and become an attribute.
extension TFLiteLoweringRules {
    static let reduce: [String: TFLiteLoweringRule] = [
        "MEAN": { l in try lowerReduce(l, "ReduceMean") },
        "SUM": { l in try lowerReduce(l, "ReduceSum") },
        "REDUCE_MAX": { l in try lowerReduce(l, "ReduceMax") },
        "REDUCE_MIN": { l in try lowerReduce(l, "ReduceMin") },
        "REDUCE_PROD": { l in try lowerReduce(l, "ReduceProd") },
        "REDUCE_ANY": { l in
            // ReduceMax takes bool only from opset 20: reduce 0/1 as int32.
            let x = l.cast(try l.input(0), to: .int32)
            try l.bind(0, l.cast(try reduction(l, "ReduceMax", x), to: .bool))
        },
        "ARG_MAX": { l in try lowerArg(l, "ArgMax") },
        "ARG_MIN": { l in try lowerArg(l, "ArgMin") },
    ]

    static func lowerReduce(_ l: NodeLowering, _ op: String) throws {
        try l.bind(0, try reduction(l, op, try l.input(0)))
    }

    static func reduction(_ l: NodeLowering, _ op: String, _ x: String) throws -> String {
        let keep = Attribute.int("keepdims", l.bool("keep_dims") ? 1 : 0)
        if op == "ReduceSum" || l.opset >= 18 {
            // ONNX wants the axes as a vector; TFLite also allows a scalar.
            return l.emit(op, [x, l.emit("Reshape", [try l.int64Input(1), l.int64s([-1])])], attributes: [keep])
        }
        let axes = try l.constantInts(1, what: "axis")
        return l.emit(op, [x], attributes: [keep, .ints("axes", axes)])
    }

    static func lowerArg(_ l: NodeLowering, _ op: String) throws {
        let axis = try l.constantInts(1, what: "axis")
        guard axis.count == 1 else { throw NotLowerable("needs one axis, not \(axis.count)") }
        let y = l.emit(op, [try l.input(0)], attributes: [.int("axis", axis[0]), .int("keepdims", 0)])
        let t = l.outputElementType(0) ?? .int64
        try l.bind(0, t == .int64 ? y : l.cast(y, to: t))
    }
}
