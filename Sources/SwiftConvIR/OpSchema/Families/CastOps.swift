/// Cast and CastLike: the shape of the input, the element type asked for.
enum CastOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "Cast", since: [1], inputs: "1", outputs: "1", attributes: "to:s!",
            rule: { ctx in
                let t = ctx.string("to").flatMap(dtype(named:))
                ctx.setOutput(0, t, ctx.shape(0))
                ctx.setValues(0, ctx.values(0))
            })
        r.add(
            "Cast", since: [6, 9, 13, 19, 21, 23, 24, 25, 28], inputs: "1", outputs: "1",
            attributes: "to:i! saturate:i round_mode:s",
            rule: { ctx in
                let t = ctx.int("to").flatMap { DType(rawValue: Int32(clamping: $0)) }
                ctx.setOutput(0, t == .undefined ? nil : t, ctx.shape(0))
                if let t, t.isInteger { ctx.setValues(0, ctx.values(0)) }
            })
        r.add(
            "CastLike", since: [15, 19, 21, 23, 24, 25], inputs: "11", outputs: "1",
            attributes: "saturate:i round_mode:s",
            rule: { ctx in
                ctx.setOutput(0, ctx.dtype(1), ctx.shape(0))
            })
    }

    /// Cast-1 names types by string (`"FLOAT"`).
    static func dtype(named s: String) -> DType? {
        switch s.uppercased() {
        case "FLOAT": return .float32
        case "DOUBLE": return .float64
        case "FLOAT16": return .float16
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
