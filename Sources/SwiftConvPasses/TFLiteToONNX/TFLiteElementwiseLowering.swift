import SwiftConvIR

/// The element-wise TFLite ops: arithmetic (with fused activations), math, comparison,
/// logic, select and cast. Broadcasting is numpy's in both formats.
extension TFLiteLoweringRules {
    static let elementwise: [String: TFLiteLoweringRule] = {
        var table: [String: TFLiteLoweringRule] = [:]
        for (tflite, onnx) in [("ADD", "Add"), ("SUB", "Sub"), ("MUL", "Mul"), ("DIV", "Div")] {
            table[tflite] = { l in try l.bind(0, try l.fusedActivation(l.emit(onnx, [try l.input(0), try l.input(1)]))) }
        }
        let binary = [
            ("MAXIMUM", "Max"), ("MINIMUM", "Min"), ("POW", "Pow"), ("EQUAL", "Equal"), ("LESS", "Less"),
            ("LESS_EQUAL", "LessOrEqual"), ("GREATER", "Greater"), ("GREATER_EQUAL", "GreaterOrEqual"),
            ("LOGICAL_AND", "And"), ("LOGICAL_OR", "Or"),
        ]
        for (tflite, onnx) in binary {
            table[tflite] = { l in try l.bind(0, l.emit(onnx, [try l.input(0), try l.input(1)])) }
        }
        let unary = [
            ("ABS", "Abs"), ("NEG", "Neg"), ("SQRT", "Sqrt"), ("EXP", "Exp"), ("LOG", "Log"), ("SIN", "Sin"),
            ("COS", "Cos"), ("FLOOR", "Floor"), ("CEIL", "Ceil"), ("ROUND", "Round"), ("SIGN", "Sign"),
            ("LOGICAL_NOT", "Not"),
        ]
        for (tflite, onnx) in unary {
            table[tflite] = { l in try l.bind(0, l.emit(onnx, [try l.input(0)])) }
        }
        table["NOT_EQUAL"] = { l in try l.bind(0, l.emit("Not", [l.emit("Equal", [try l.input(0), try l.input(1)])])) }
        table["RSQRT"] = { l in try l.bind(0, l.emit("Reciprocal", [l.emit("Sqrt", [try l.input(0)])])) }
        table["SQUARE"] = { l in
            let x = try l.input(0)
            try l.bind(0, l.emit("Mul", [x, x]))
        }
        table["SQUARED_DIFFERENCE"] = { l in
            let d = l.emit("Sub", [try l.input(0), try l.input(1)])
            try l.bind(0, l.emit("Mul", [d, d]))
        }
        table["SELECT"] = { l in try l.bind(0, l.emit("Where", [try l.input(0), try l.input(1), try l.input(2)])) }
        table["SELECT_V2"] = table["SELECT"]
        table["ADD_N"] = { l in try l.bind(0, l.emit("Sum", try l.node.inputs.indices.map { try l.input($0) })) }
        table["CAST"] = { l in
            guard let t = l.outputElementType(0) else { throw NotLowerable("the output type is unknown") }
            try l.bind(0, l.cast(try l.input(0), to: t))
        }
        table["FLOOR_MOD"] = lowerFloorMod
        table["FLOOR_DIV"] = lowerFloorDiv
        return table
    }()

    /// The remainder with the divisor's sign (Python's %): ONNX Mod with fmod = 0 for
    /// integers; for floats fmod's result moved by the divisor where the signs differ.
    static func lowerFloorMod(_ l: NodeLowering) throws {
        let (a, b) = (try l.input(0), try l.input(1))
        guard let t = l.elementType(0) else { throw NotLowerable("the input type is unknown") }
        guard t.isFloatingPoint else { return try l.bind(0, l.emit("Mod", [a, b], attributes: [.int("fmod", 0)])) }
        let r = l.emit("Mod", [a, b], attributes: [.int("fmod", 1)])
        let zero = try l.scalar(0, t)
        let wrong = l.emit("And", [l.emit("Not", [l.emit("Equal", [r, zero])]), l.emit("Less", [l.emit("Mul", [r, b]), zero])])
        try l.bind(0, l.emit("Where", [wrong, l.emit("Add", [r, b]), r]))
    }

    /// Division rounded toward negative infinity: Floor(a / b) for floats; for integers
    /// (a - a mod b) / b, exact where ONNX's integer Div truncates.
    static func lowerFloorDiv(_ l: NodeLowering) throws {
        let (a, b) = (try l.input(0), try l.input(1))
        guard let t = l.elementType(0) else { throw NotLowerable("the input type is unknown") }
        if t.isFloatingPoint { return try l.bind(0, l.emit("Floor", [l.emit("Div", [a, b])])) }
        let r = l.emit("Mod", [a, b], attributes: [.int("fmod", 0)])
        try l.bind(0, l.emit("Div", [l.emit("Sub", [a, r]), b]))
    }
}
