import SwiftConvIR

/// Layout and shape ops: TRANSPOSE, RESHAPE (Reshape, Flatten), CONCATENATION.
extension ONNXToTFLiteRules {
    static let shape: [String: ToTFLiteRule] = [
        "Transpose": lowerTranspose,
        "Reshape": lowerReshape,
        "Flatten": lowerFlatten,
        "Concat": lowerConcat,
        "Identity": { l in try l.bind(0, try l.input(0)) },
        "Dropout": lowerDropout,
    ]

    static func lowerTranspose(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        let perm = l.ints("perm")?.map { Int($0) } ?? Array((0..<rank).reversed())
        guard perm.count == rank, Set(perm) == Set(0..<rank) else { throw NotLowerable("perm \(perm) is not a permutation of \(rank) axes") }
        try l.bind(0, l.emit("TRANSPOSE", [try l.input(0), l.int32s(perm)]))
    }

    /// ONNX's 0 (copy the input dim) becomes that dim when it is known, or -1 once.
    static func lowerReshape(_ l: ToTFLiteNode) throws {
        var target = try l.constantInts(1, what: "shape").map { Int($0) }
        let input = l.shape(0)
        if l.int("allowzero", 0) == 0 {
            for (i, d) in target.enumerated() where d == 0 {
                if let dim = input.flatMap({ i < $0.count ? $0[i].value : nil }) {
                    target[i] = dim
                } else if !target.contains(-1) {
                    target[i] = -1
                } else {
                    throw NotLowerable("shape \(target) copies an unknown dim besides a -1")
                }
            }
        }
        try l.bind(0, l.emit("RESHAPE", [try l.input(0), l.int32s(target)]))
    }

    static func lowerFlatten(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        var axis = Int(l.int("axis", 1))
        if axis < 0 { axis += rank }
        guard axis >= 0, axis <= rank, let dims = l.shape(0) else { throw NotLowerable("axis \(axis) is out of range") }
        let outer = dims[..<axis].reduce(Optional(1)) { p, d in p.flatMap { a in d.value.map { a * $0 } } }
        let inner = dims[axis...].reduce(Optional(1)) { p, d in p.flatMap { a in d.value.map { a * $0 } } }
        let target: [Int]
        switch (outer, inner) {
        case (let o?, let i?): target = [o, i]
        case (nil, let i?): target = [-1, i]
        case (let o?, nil): target = [o, -1]
        default: throw NotLowerable("both halves of the flattened shape are unknown")
        }
        try l.bind(0, l.emit("RESHAPE", [try l.input(0), l.int32s(target)]))
    }

    static func lowerConcat(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        var axis = Int(l.int("axis", 0))
        if axis < 0 { axis += rank }
        let inputs = try (0..<l.node.inputs.count).filter { l.has($0) }.map { try l.input($0) }
        try l.bind(
            0, l.emit("CONCATENATION", inputs, attributes: [.int("axis", Int64(axis)), .string("fused_activation_function", "NONE")]))
    }

    /// Inference Dropout is the identity; its mask output has no TFLite form.
    static func lowerDropout(_ l: ToTFLiteNode) throws {
        if l.node.outputs.count > 1, !l.node.outputs[1].isEmpty { throw NotLowerable("Dropout's mask output has no TFLite form") }
        try l.bind(0, try l.input(0))
    }
}
