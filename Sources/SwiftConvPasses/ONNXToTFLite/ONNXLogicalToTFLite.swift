import SwiftConvIR

/// Comparisons and boolean logic: EQUAL, LESS, GREATER, LESS_EQUAL, GREATER_EQUAL (both
/// inputs of one type, numpy broadcasting, bool outputs), LOGICAL_NOT/AND/OR, and Xor as
/// NOT_EQUAL of two bool tensors.
extension ONNXToTFLiteRules {
    static let logical: [String: ToTFLiteRule] = [
        "Equal": { l in try lowerComparison(l, "EQUAL", types: [.float32, .int32, .int64, .bool]) },
        "Less": { l in try lowerComparison(l, "LESS", types: [.float32, .int32, .int64]) },
        "Greater": { l in try lowerComparison(l, "GREATER", types: [.float32, .int32, .int64]) },
        "LessOrEqual": { l in try lowerComparison(l, "LESS_EQUAL", types: [.float32, .int32, .int64]) },
        "GreaterOrEqual": { l in try lowerComparison(l, "GREATER_EQUAL", types: [.float32, .int32, .int64]) },
        "Not": { l in try lowerUnary(l, "LOGICAL_NOT", types: [.bool]) },
        "And": { l in try lowerComparison(l, "LOGICAL_AND", types: [.bool]) },
        "Or": { l in try lowerComparison(l, "LOGICAL_OR", types: [.bool]) },
        "Xor": { l in try lowerComparison(l, "NOT_EQUAL", types: [.bool]) },
    ]

    static func lowerComparison(_ l: ToTFLiteNode, _ op: String, types: [DType]) throws {
        let (x, _) = try operands(l, [0, 1], types)
        try l.bind(0, l.emit(op, x))
    }
}
