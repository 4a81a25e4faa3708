import SwiftConvIR

/// Reductions: ReduceMean/Sum/Max/Min/Prod as MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD
/// (int32 axes, `keep_dims`); ReduceL1/L2/SumSquare/LogSum/LogSumExp as compositions around
/// SUM; ArgMax/ArgMin as ARG_MAX/ARG_MIN (int64 indices) with EXPAND_DIMS for keepdims.
///
/// The axes are an attribute before opset 18 (ReduceSum: 13) and an input from then on;
/// they must be constant. No axes reduces every axis, unless `noop_with_empty_axes` makes
/// the op the identity.
extension ONNXToTFLiteRules {
    static let reduce: [String: ToTFLiteRule] = [
        "ReduceMean": { l in try lowerReduce(l, "MEAN", types: [.float32]) },
        "ReduceSum": { l in try lowerReduce(l, "SUM", types: [.float32, .int32, .int64]) },
        "ReduceMax": { l in try lowerReduce(l, "REDUCE_MAX", types: [.float32, .int32, .int64]) },
        "ReduceMin": { l in try lowerReduce(l, "REDUCE_MIN", types: [.float32, .int32, .int64]) },
        "ReduceProd": { l in try lowerReduce(l, "REDUCE_PROD", types: [.float32, .int32, .int64]) },
        "ReduceL1": { l in try lowerReduce(l, "SUM", types: [.float32], before: { l, x in l.emit("ABS", [x]) }) },
        "ReduceSumSquare": { l in try lowerReduce(l, "SUM", types: [.float32], before: { l, x in binary(l, "MUL", x, x) }) },
        "ReduceL2": { l in
            try lowerReduce(l, "SUM", types: [.float32], before: { l, x in binary(l, "MUL", x, x) }, after: { l, y in l.emit("SQRT", [y]) })
        },
        "ReduceLogSum": { l in try lowerReduce(l, "SUM", types: [.float32], after: { l, y in l.emit("LOG", [y]) }) },
        "ReduceLogSumExp": lowerReduceLogSumExp,
        "ArgMax": { l in try lowerArgExtreme(l, "ARG_MAX") },
        "ArgMin": { l in try lowerArgExtreme(l, "ARG_MIN") },
    ]

    /// The normalized axes a Reduce* node reduces (sorted, no repeats), or nil when it is the
    /// identity (empty axes with `noop_with_empty_axes`).
    static func reductionAxes(_ l: ToTFLiteNode) throws -> [Int]? {
        let rank = try l.rank(0)
        let fromInput = l.opset >= (l.node.opType == "ReduceSum" ? 13 : 18)
        var axes: [Int64]
        if fromInput {
            axes = l.has(1) ? try l.constantInts(1, what: "axes") : []
        } else {
            axes = l.ints("axes") ?? []
        }
        if axes.isEmpty {
            if fromInput && l.int("noop_with_empty_axes", 0) != 0 { return nil }
            return Array(0..<rank)
        }
        var normalized = Set<Int>()
        for a in axes {
            let n = a < 0 ? Int(a) + rank : Int(a)
            guard n >= 0, n < rank else { throw NotLowerable("axis \(a) is out of range for rank \(rank)") }
            normalized.insert(n)
        }
        return normalized.sorted()
    }

    /// One reduction `op` over the node's axes, with optional element-wise steps before and after.
    static func lowerReduce(
        _ l: ToTFLiteNode, _ op: String, types: [DType], before: ((ToTFLiteNode, String) throws -> String)? = nil,
        after: ((ToTFLiteNode, String) throws -> String)? = nil
    ) throws {
        try requireType(l, 0, types)
        var x = try l.input(0)
        if let before { x = try before(l, x) }
        guard let axes = try reductionAxes(l) else {
            // The identity, but the element-wise steps still apply (ReduceL2 is then |x|).
            return try l.bind(0, try after.map { try $0(l, x) } ?? x)
        }
        var y = reduction(l, op, x, axes, keep: l.int("keepdims", 1) != 0)
        if let after { y = try after(l, y) }
        try l.bind(0, y)
    }

    static func reduction(_ l: ToTFLiteNode, _ op: String, _ x: String, _ axes: [Int], keep: Bool) -> String {
        l.emit(op, [x, l.int32s(axes)], attributes: [.int("keep_dims", keep ? 1 : 0)])
    }

    /// log(Σ exp(x)) computed as m + log(Σ exp(x − m)) with m the maximum, so it cannot overflow.
    static func lowerReduceLogSumExp(_ l: ToTFLiteNode) throws {
        try requireType(l, 0, [.float32])
        let x = try l.input(0)
        guard let axes = try reductionAxes(l) else { return try l.bind(0, x) }
        let keep = l.int("keepdims", 1) != 0
        let peak = reduction(l, "REDUCE_MAX", x, axes, keep: true)
        let total = reduction(l, "SUM", l.emit("EXP", [binary(l, "SUB", x, peak)]), axes, keep: keep)
        let offset = keep ? peak : reduction(l, "REDUCE_MAX", x, axes, keep: false)
        try l.bind(0, binary(l, "ADD", l.emit("LOG", [total]), offset))
    }

    /// ARG_MAX/ARG_MIN give the first extreme's index, as ONNX's default; select_last_index=1
    /// has no TFLite form. keepdims puts the reduced axis back with EXPAND_DIMS.
    static func lowerArgExtreme(_ l: ToTFLiteNode, _ op: String) throws {
        try requireType(l, 0, [.float32, .int32, .int8, .uint8, .bool])
        guard l.int("select_last_index", 0) == 0 else { throw NotLowerable("select_last_index=1 has no TFLite form") }
        let rank = try l.rank(0)
        var axis = Int(l.int("axis", 0))
        if axis < 0 { axis += rank }
        guard axis >= 0, axis < rank else { throw NotLowerable("axis \(l.int("axis", 0)) is out of range for rank \(rank)") }
        let y = l.emit(op, [try l.input(0), l.int32s([axis])], attributes: [.string("output_type", "INT64")])
        guard l.int("keepdims", 1) != 0 else { return try l.bind(0, y) }
        try l.bind(0, l.emit("EXPAND_DIMS", [y, l.int32s([axis], shape: [])]))
    }
}
