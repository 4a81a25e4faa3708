import SwiftConvIR

/// RESHAPE, TRANSPOSE, CONCATENATION, SQUEEZE, EXPAND_DIMS, PACK, UNPACK, SPLIT, SPLIT_V,
/// SHAPE, FILL, ZEROS_LIKE, ONES_LIKE, BROADCAST_TO, TILE, RANGE.
///
/// TFLite gives shapes, axes and multiples as int32 tensors; ONNX wants int64, so constants
/// are rewritten and computed ones cast.
extension TFLiteLoweringRules {
    static let shape: [String: TFLiteLoweringRule] = [
        "RESHAPE": lowerReshape,
        "TRANSPOSE": { l in
            let perm = try l.constantInts(1, what: "perm")
            try l.bind(0, l.emit("Transpose", [try l.input(0)], attributes: [.ints("perm", perm)]))
        },
        "CONCATENATION": { l in
            let inputs = try l.node.inputs.indices.map { try l.input($0) }
            let y = l.emit("Concat", inputs, attributes: [.int("axis", l.int("axis", 0))])
            try l.bind(0, try l.fusedActivation(y))
        },
        "SQUEEZE": { l in
            let axes = l.ints("squeeze_dims")
            try l.bind(0, l.emit("Squeeze", [try l.input(0)] + (axes.isEmpty ? [] : [l.int64s(axes)])))
        },
        "EXPAND_DIMS": { l in
            try l.bind(0, l.emit("Unsqueeze", [try l.input(0), l.emit("Reshape", [try l.int64Input(1), l.int64s([-1])])]))
        },
        "PACK": { l in
            let axis = l.int("axis", 0)
            let parts = try l.node.inputs.indices.map { l.emit("Unsqueeze", [try l.input($0), l.int64s([axis])]) }
            try l.bind(0, l.emit("Concat", parts, attributes: [.int("axis", axis)]))
        },
        "UNPACK": { l in
            let axis = l.int("axis", 0)
            let count = l.node.outputs.count
            let parts = l.emit(
                "Split", [try l.input(0), l.int64s([Int64](repeating: 1, count: count))], outputs: count,
                attributes: [.int("axis", axis)])
            for (k, p) in parts.enumerated() { try l.bind(k, l.emit("Squeeze", [p, l.int64s([axis])])) }
        },
        "SPLIT": { l in
            // Inputs (axis, value); equal parts.
            let axis = try l.constantInts(0, what: "axis")
            guard axis.count == 1 else { throw NotLowerable("needs one axis") }
            try lowerSplit(l, value: try l.input(1), axis: axis[0], sizes: nil)
        },
        "SPLIT_V": { l in
            // Inputs (value, size_splits, axis); one size may be -1 (the rest).
            let axis = try l.constantInts(2, what: "axis")
            guard axis.count == 1 else { throw NotLowerable("needs one axis") }
            var sizes = try l.constantInts(1, what: "size_splits")
            if let k = sizes.firstIndex(of: -1) {
                let r = try l.rank(0)
                let a = Int(axis[0] < 0 ? axis[0] + Int64(r) : axis[0])
                guard a >= 0, a < r, let total = l.shape(0)?[a].value else {
                    throw NotLowerable("size -1 needs the split axis' size")
                }
                sizes[k] = Int64(total) - sizes.filter { $0 >= 0 }.reduce(0, +)
            }
            try lowerSplit(l, value: try l.input(0), axis: axis[0], sizes: sizes)
        },
        "SHAPE": { l in
            let y = l.emit("Shape", [try l.input(0)])
            let t = l.outputElementType(0) ?? .int32
            try l.bind(0, t == .int64 ? y : l.cast(y, to: t))
        },
        "FILL": { l in try l.bind(0, l.emit("Expand", [try l.input(1), try l.int64Input(0)])) },
        "ZEROS_LIKE": { l in try lowerConstantLike(l, 0) },
        "ONES_LIKE": { l in try lowerConstantLike(l, 1) },
        "BROADCAST_TO": { l in try l.bind(0, l.emit("Expand", [try l.input(0), try l.int64Input(1)])) },
        "TILE": { l in try l.bind(0, l.emit("Tile", [try l.input(0), try l.int64Input(1)])) },
        "RANGE": { l in try l.bind(0, l.emit("Range", [try l.input(0), try l.input(1), try l.input(2)])) },
    ]

    static func lowerReshape(_ l: NodeLowering) throws {
        let x = try l.input(0)
        let shape: String
        if l.has(1) {
            shape = l.emit("Reshape", [try l.int64Input(1), l.int64s([-1])])
        } else if !l.ints("new_shape").isEmpty {
            shape = l.int64s(l.ints("new_shape"))
        } else if let s = l.outputShape(0), s.allSatisfy({ $0.value != nil }) {
            shape = l.int64s(s.map { Int64($0.value ?? 0) })
        } else {
            throw NotLowerable("no shape input, new_shape or static output shape")
        }
        try l.bind(0, l.emit("Reshape", [x, shape]))
    }

    static func lowerSplit(_ l: NodeLowering, value: String, axis: Int64, sizes: [Int64]?) throws {
        let count = l.node.outputs.count
        var inputs = [value]
        if let sizes {
            inputs.append(l.int64s(sizes))
        }
        var attributes = [Attribute.int("axis", axis)]
        // Equal parts: no split input; opset 18 wants their number.
        if sizes == nil && l.opset >= 18 { attributes.append(.int("num_outputs", Int64(count))) }
        let parts = l.emit("Split", inputs, outputs: count, attributes: attributes)
        for (k, p) in parts.enumerated() { try l.bind(k, p) }
    }

    static func lowerConstantLike(_ l: NodeLowering, _ value: Double) throws {
        guard let t = l.elementType(0) else { throw NotLowerable("the input type is unknown") }
        let fill: Tensor
        switch t {
        case .float32: fill = Tensor(dtype: t, shape: [1], values: [Float(value)])
        case .int32: fill = Tensor(dtype: t, shape: [1], values: [Int32(value)])
        case .int64: fill = Tensor(dtype: t, shape: [1], values: [Int64(value)])
        case .bool: fill = Tensor(dtype: t, shape: [1], values: [value != 0])
        default: throw NotLowerable("\(t) is not lowered")
        }
        let y = l.emit(
            "ConstantOfShape", [l.emit("Shape", [try l.input(0)])], attributes: [Attribute(name: "value", value: .tensor(fill))])
        try l.bind(0, y)
    }
}
