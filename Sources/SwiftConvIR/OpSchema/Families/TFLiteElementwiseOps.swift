/// TFLite arithmetic, math, comparison, logical and selection builtins (`tflite` domain):
/// numpy broadcasting, and `fused_activation_function` on the arithmetic ones.
enum TFLiteElementwiseOps {
    static let binary = [
        "ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD",
    ]
    static let unary = ["ABS", "NEG", "SQRT", "RSQRT", "EXP", "LOG", "SIN", "COS", "SQUARE", "FLOOR", "CEIL", "ROUND", "SIGN"]
    static let comparisons = ["EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"]

    static func register(into r: inout OpRegistry) {
        let tfl = OpDomain.tflite
        for name in binary {
            r.add(
                name, domain: tfl, since: [1], inputs: "11", outputs: "1",
                attributes: "fused_activation_function:s pot_scale_int16:i",
                rule: { ElementwiseOps.broadcastRule(&$0, typeFrom: 0) })
        }
        for name in unary {
            r.add(name, domain: tfl, since: [1], inputs: "1", outputs: "1", rule: ElementwiseOps.unary)
        }
        for name in comparisons {
            r.add(
                name, domain: tfl, since: [1], inputs: "11", outputs: "1",
                rule: { ctx in ctx.setOutput(0, .bool, ShapeMath.broadcast([ctx.shape(0), ctx.shape(1)])) })
        }
        for name in ["LOGICAL_AND", "LOGICAL_OR"] {
            r.add(
                name, domain: tfl, since: [1], inputs: "11", outputs: "1",
                rule: { ctx in ctx.setOutput(0, .bool, ShapeMath.broadcast([ctx.shape(0), ctx.shape(1)])) })
        }
        r.add("LOGICAL_NOT", domain: tfl, since: [1], inputs: "1", outputs: "1", rule: ElementwiseOps.unary)
        // CAST converts to its output tensor's declared type: TFLite's converter usually writes
        // no CastOptions, so `out_data_type` is often the schema default (FLOAT32), not the target.
        r.add(
            "CAST", domain: tfl, since: [1], inputs: "1", outputs: "1", attributes: "in_data_type:s out_data_type:s",
            rule: { ctx in ctx.setOutput(0, nil, ctx.shape(0)) })
        // SELECT (v1) takes a condition of x's shape or a 1-D one choosing along x's first axis.
        r.add("SELECT", domain: tfl, since: [1], inputs: "111", outputs: "1", rule: { ctx in ctx.setOutput(0, ctx.dtype(1), ctx.shape(1)) })
        r.add(
            "SELECT_V2", domain: tfl, since: [1], inputs: "111", outputs: "1",
            rule: { ctx in ctx.setOutput(0, ctx.dtype(1), ShapeMath.broadcast([ctx.shape(0), ctx.shape(1), ctx.shape(2)])) })
        r.add("ADD_N", domain: tfl, since: [1], inputs: "v", outputs: "1", rule: ElementwiseOps.variadicRule)
    }
}

/// TFLite's `TensorType` enum, by the value names the importer writes into attributes
/// (`CAST`'s `out_data_type`, `ARG_MAX`'s `output_type`, `SHAPE`'s `out_type`).
public enum TFLiteTensorType {
    /// The element type a TensorType name stands for; nil for names without one (RESOURCE…).
    public static func dtype(_ name: String) -> DType? {
        switch name {
        case "FLOAT32": return .float32
        case "FLOAT16": return .float16
        case "FLOAT64": return .float64
        case "BFLOAT16": return .bfloat16
        case "INT8": return .int8
        case "INT16": return .int16
        case "INT32": return .int32
        case "INT64": return .int64
        case "UINT8": return .uint8
        case "UINT16": return .uint16
        case "UINT32": return .uint32
        case "UINT64": return .uint64
        case "BOOL": return .bool
        case "STRING": return .string
        default: return nil
        }
    }
}
