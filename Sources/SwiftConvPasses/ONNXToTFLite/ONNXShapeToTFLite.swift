import SwiftConvIR

/// Layout and shape ops: TRANSPOSE, RESHAPE (Reshape with a constant or computed shape,
/// Flatten, Unsqueeze, Squeeze), EXPAND_DIMS, SQUEEZE, CONCATENATION, SHAPE, Size,
/// BROADCAST_TO (Expand), FILL (ConstantOfShape), TILE, RANGE and CAST.
///
/// The integer policy of the whole lowering: ONNX does its shape arithmetic in int64, TFLite
/// in int32, and int32 is what LiteRT's kernels and delegates take everywhere. So every integer
/// value a rule computes inside the graph (SHAPE, Size, a Cast to int64, Range) is int32; int64 stays only where the model has it at its boundary (int64 graph inputs such as
/// token ids, int64 graph outputs, which get a CAST back) and in int64 constants, which are
/// narrowed where they meet int32 values. A rule that gives a value another element type than
/// ONNX's records it with `bind(_:_:as:)`, so that the rules after it see the type it really has.
extension ONNXToTFLiteRules {
    static let shape: [String: ToTFLiteRule] = [
        "Transpose": lowerTranspose,
        "Reshape": lowerReshape,
        "Flatten": lowerFlatten,
        "Concat": lowerConcat,
        "Identity": { l in try l.bind(0, try l.input(0), as: l.elementType(0)) },
        "Dropout": lowerDropout,
        "Shape": lowerShape,
        "Size": lowerSize,
        "Unsqueeze": lowerUnsqueeze,
        "Squeeze": lowerSqueeze,
        "Expand": lowerExpand,
        "ConstantOfShape": lowerConstantOfShape,
        "Tile": lowerTile,
        "Range": lowerRange,
        "Cast": lowerCast,
    ]

    static func lowerTranspose(_ l: ToTFLiteNode) throws {
        // The permutation says the rank when the input's shape is not known.
        let rank = try l.ints("perm")?.count ?? l.rank(0)
        let perm = l.ints("perm")?.map { Int($0) } ?? Array((0..<rank).reversed())
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            throw NotLowerable("perm \(perm) is not a permutation of \(rank) axes")
        }
        try l.bind(0, l.emit("TRANSPOSE", [try l.input(0), l.int32s(perm)]), as: l.elementType(0))
    }

    /// A constant shape: ONNX's 0 (copy the input dim) becomes that dim when it is known, or -1
    /// once. A computed shape: a constant target when the output has at most one dim not known
    /// statically (it becomes -1), else the shape tensor itself, its zeros replaced at run time
    /// by the input's dims (allowzero=0).
    static func lowerReshape(_ l: ToTFLiteNode) throws {
        let x = try l.input(0)
        let dtype = l.elementType(0)
        guard l.constant(1) != nil else {
            if let out = l.outputShape(0), out.filter({ $0.value == nil }).count <= 1 {
                return try l.bind(0, l.emit("RESHAPE", [x, l.int32s(out.map { $0.value ?? -1 })]), as: dtype)
            }
            var target = try l.int32Input(1)
            if l.int("allowzero", 0) == 0 { target = try copyingZeros(l, target, of: x) }
            return try l.bind(0, l.emit("RESHAPE", [x, target]), as: dtype)
        }
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
        try l.bind(0, l.emit("RESHAPE", [x, l.int32s(target)]), as: dtype)
    }

    /// `target` (int32, ONNX Reshape's shape input) with each 0 replaced by the same dim of `x`.
    static func copyingZeros(_ l: ToTFLiteNode, _ target: String, of x: String) throws -> String {
        let isZero = l.emit("EQUAL", [target, l.int32s([0], shape: [])])
        var dims = shapeOf(l, x)
        if let length = l.staticShape(1), length.count == 1, let rank = l.shape(0)?.count {
            // Lengths known: line the input's dims up with the target's.
            let n = length[0]
            if n < rank { dims = l.emit("SLICE", [dims, l.int32s([0]), l.int32s([n])]) }
            if n > rank { dims = concatenate(l, [dims, l.int32s(Array(repeating: 0, count: n - rank))], axis: 0) }
        } else {
            // The input's dims followed by zeros, cut to the target's length at run time.
            let zeros = l.emit("FILL", [shapeOf(l, target), l.int32s([0], shape: [])])
            dims = l.emit("SLICE", [concatenate(l, [dims, zeros], axis: 0), l.int32s([0]), shapeOf(l, target)])
        }
        return l.emit("SELECT_V2", [isZero, dims, target])
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
        try l.bind(0, l.emit("RESHAPE", [try l.input(0), l.int32s(target)]), as: l.elementType(0))
    }

    static func lowerConcat(_ l: ToTFLiteNode) throws {
        var present = (0..<l.node.inputs.count).filter { l.has($0) }
        guard let first = present.first else { throw NotLowerable("it has no inputs") }
        // Empty constants add nothing, and a TFLite file cannot tell an empty constant from a
        // tensor computed at run time (both have no data).
        let nonEmpty = present.filter { l.constant($0).map { $0.elementCount > 0 } ?? true }
        if !nonEmpty.isEmpty { present = nonEmpty }
        var axis = Int(l.int("axis", 0))
        if axis < 0 { axis += try l.rank(first) }
        if let rank = l.shape(first)?.count, axis >= rank { throw NotLowerable("axis \(axis) is out of range for rank \(rank)") }
        guard axis >= 0 else { throw NotLowerable("axis \(axis) is out of range") }
        let (inputs, dtype) = try l.sameTypeInputs(present)
        if inputs.count == 1 { return try l.bind(0, inputs[0], as: dtype) }
        try l.bind(0, concatenate(l, inputs, axis: axis), as: dtype)
    }

    static func concatenate(_ l: ToTFLiteNode, _ inputs: [String], axis: Int) -> String {
        l.emit("CONCATENATION", inputs, attributes: [.int("axis", Int64(axis)), .string("fused_activation_function", "NONE")])
    }

    /// Inference Dropout is the identity; its mask output has no TFLite form.
    static func lowerDropout(_ l: ToTFLiteNode) throws {
        if l.node.outputs.count > 1, !l.node.outputs[1].isEmpty { throw NotLowerable("Dropout's mask output has no TFLite form") }
        try l.bind(0, try l.input(0), as: l.elementType(0))
    }

    /// The int32 SHAPE of `x`.
    static func shapeOf(_ l: ToTFLiteNode, _ x: String) -> String {
        l.emit("SHAPE", [x], attributes: [.string("out_type", "INT32")])
    }

    /// SHAPE (int32), or a constant when the dims are static; opset 15's start/end slice it.
    static func lowerShape(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        func clamp(_ v: Int64) -> Int { Int(max(0, min(Int64(rank), v < 0 ? v + Int64(rank) : v))) }
        let start = clamp(l.int("start", 0))
        let end = max(start, clamp(l.int("end", Int64(rank))))
        if let dims = l.staticShape(0) { return try l.bind(0, l.int32s(Array(dims[start..<end])), as: .int32) }
        var y = shapeOf(l, try l.input(0))
        if start > 0 || end < rank { y = l.emit("SLICE", [y, l.int32s([start]), l.int32s([end - start])]) }
        try l.bind(0, y, as: .int32)
    }

    /// The element count (int32 scalar): a constant when the shape is static, else the
    /// product of SHAPE.
    static func lowerSize(_ l: ToTFLiteNode) throws {
        if let dims = l.staticShape(0) {
            guard let n = elementCount(dims), Int32(exactly: n) != nil else { throw NotLowerable("the element count does not fit int32") }
            return try l.bind(0, l.int32s([n], shape: []), as: .int32)
        }
        let y = l.emit("REDUCE_PROD", [shapeOf(l, try l.input(0)), l.int32s([0])], attributes: [.int("keep_dims", 0)])
        try l.bind(0, y, as: .int32)
    }

    /// The axes of Unsqueeze/Squeeze (attribute before opset 13, input after), or nil when absent.
    static func axes(_ l: ToTFLiteNode) throws -> [Int]? {
        if l.opset < 13 { return l.ints("axes")?.map { Int($0) } }
        guard l.has(1) else { return nil }
        return try l.constantInts(1, what: "axes").map { Int($0) }
    }

    /// `axes` normalized against `rank` (negative ones counted from the end), checked distinct.
    static func normalized(_ axes: [Int], rank: Int?) throws -> [Int] {
        let out = try axes.map { a -> Int in
            guard a >= 0 || rank != nil else { throw NotLowerable("negative axis \(a) of an input of unknown rank") }
            let n = a < 0 ? a + rank! : a
            guard n >= 0, rank.map({ n < $0 }) ?? true else { throw NotLowerable("axis \(a) is out of range") }
            return n
        }
        guard Set(out).count == out.count else { throw NotLowerable("axes \(axes) repeat an axis") }
        return out
    }

    /// RESHAPE when the output shape is static, else one EXPAND_DIMS per new axis.
    static func lowerUnsqueeze(_ l: ToTFLiteNode) throws {
        guard let given = try axes(l) else { throw NotLowerable("axes are required") }
        let inRank = l.shape(0)?.count
        let axes = try normalized(given, rank: inRank.map { $0 + given.count }).sorted()
        let x = try l.input(0)
        if let out = l.outputShape(0), out.allSatisfy({ $0.value != nil }), !out.isEmpty {
            return try l.bind(0, l.emit("RESHAPE", [x, l.int32s(out.map { $0.value! })]), as: l.elementType(0))
        }
        // Inserting in increasing order puts each new axis where the output has it.
        let y = axes.reduce(x) { v, a in l.emit("EXPAND_DIMS", [v, l.int32s([a], shape: [])]) }
        try l.bind(0, y, as: l.elementType(0))
    }

    /// RESHAPE when the output shape is static (and not a scalar), else SQUEEZE.
    static func lowerSqueeze(_ l: ToTFLiteNode) throws {
        let x = try l.input(0)
        let dims = try axes(l).map { try normalized($0, rank: l.shape(0)?.count) } ?? []
        if let out = l.outputShape(0), !out.isEmpty, out.allSatisfy({ $0.value != nil }) {
            return try l.bind(0, l.emit("RESHAPE", [x, l.int32s(out.map { $0.value! })]), as: l.elementType(0))
        }
        let y = l.emit("SQUEEZE", [x], attributes: [.ints("squeeze_dims", dims.sorted())])
        try l.bind(0, y, as: l.elementType(0))
    }

    /// BROADCAST_TO. ONNX's Expand broadcasts both ways (a 1 in the shape keeps the input's
    /// dim), so a shape not known statically is first merged with the input's.
    static func lowerExpand(_ l: ToTFLiteNode) throws {
        let x = try l.input(0)
        let dtype = l.elementType(0)
        if let out = l.staticOutputShape(0) { return try l.bind(0, broadcast(l, x, to: l.int32s(out)), as: dtype) }
        guard let length = l.staticShape(1), length.count == 1 else { throw NotLowerable("the length of the shape input is unknown") }
        let n = length[0]
        let rank = try l.rank(0)
        let m = max(n, rank)
        var wanted = try l.int32Input(1)
        var have = shapeOf(l, x)
        if n < m { wanted = concatenate(l, [l.int32s(Array(repeating: 1, count: m - n)), wanted], axis: 0) }
        if rank < m { have = concatenate(l, [l.int32s(Array(repeating: 1, count: m - rank)), have], axis: 0) }
        let target = l.emit("SELECT_V2", [l.emit("EQUAL", [wanted, l.int32s([1], shape: [])]), have, wanted])
        try l.bind(0, broadcast(l, x, to: target), as: dtype)
    }

    /// BROADCAST_TO (its version, like every op's, is `TFLiteOpVersions`'s choice).
    static func broadcast(_ l: ToTFLiteNode, _ x: String, to shape: String) -> String {
        l.emit("BROADCAST_TO", [x, shape])
    }

    /// FILL with the `value` attribute (float32 0 by default), in the value's own type: the
    /// elements are data, only the dims come from shape arithmetic.
    static func lowerConstantOfShape(_ l: ToTFLiteNode) throws {
        var value = l.node.attribute("value")?.tensor ?? Tensor(dtype: .float32, shape: [1], values: [Float(0)])
        guard value.elementCount == 1 else { throw NotLowerable("value must hold one element") }
        guard [.float32, .int32, .int64, .bool].contains(value.dtype) else {
            throw NotLowerable("a \(value.dtype) value has no TFLite FILL")
        }
        value = Tensor(dtype: value.dtype, shape: [], storage: value.storage)
        let dims = try l.staticOutputShape(0).map { l.int32s($0) } ?? l.int32Input(0)
        try l.bind(0, l.emit("FILL", [dims, l.floatConstant(value)]), as: value.dtype)
    }

    static func lowerTile(_ l: ToTFLiteNode) throws {
        try l.bind(0, l.emit("TILE", [try l.input(0), try l.int32Input(1)]), as: l.elementType(0))
    }

    /// RANGE over scalars of one type (int64 ones as int32).
    static func lowerRange(_ l: ToTFLiteNode) throws {
        var (inputs, dtype) = try l.sameTypeInputs([0, 1, 2])
        switch dtype {
        case .float32?, .int32?: break
        case .int64?:
            inputs = try (0..<3).map { try l.int32Input($0) }
            dtype = .int32
        default: throw NotLowerable("a \(dtype.map { "\($0)" } ?? "untyped") Range has no TFLite form")
        }
        try l.bind(0, l.emit("RANGE", inputs), as: dtype)
    }

    /// CAST, or nothing when the value already has the type; a cast to int64 gives int32
    /// (the integer policy above) unless the value already is int64.
    static func lowerCast(_ l: ToTFLiteNode) throws {
        guard let raw = l.node.attribute("to")?.int, let to = DType(rawValue: Int32(truncatingIfNeeded: raw)) else {
            throw NotLowerable("attribute 'to' is missing or not a type")
        }
        let supported: [DType] = [.float32, .float16, .int32, .int64, .int16, .int8, .uint8, .uint16, .uint32, .bool]
        guard let from = l.elementType(0) else { throw NotLowerable("the input's element type is unknown") }
        guard supported.contains(from) else { throw NotLowerable("a cast from \(from) has no TFLite form") }
        guard supported.contains(to) else { throw NotLowerable("a cast to \(to) has no TFLite form") }
        let x = try l.input(0)
        var target = to
        if to == .int64 && from != .int64 { target = .int32 }
        if target == from { return try l.bind(0, x, as: from) }
        try l.bind(0, l.cast(x, to: target), as: target)
    }
}

// MARK: the integer policy, for every family's rules

extension ToTFLiteNode {
    /// The static dims of output `k` as ONNX shape inference knows them, or nil.
    func staticOutputShape(_ k: Int) -> [Int]? {
        guard let s = outputShape(k) else { return nil }
        let dims = s.compactMap(\.value)
        return dims.count == s.count ? dims : nil
    }

    /// The graph output that output `k` is, if it is one.
    func graphOutput(_ k: Int) -> ValueInfo? {
        guard k < node.outputs.count else { return nil }
        return scope.graph.outputs.first { $0.name == node.outputs[k] }
    }

    /// Makes `value`, of element type `dtype`, the ONNX output `k`, and records that type for
    /// the rules that read it. A graph output keeps its ONNX element type: an int32 value for
    /// an int64 output is CAST back.
    func bind(_ k: Int, _ value: String, as dtype: DType?) throws {
        var value = value
        var dtype = dtype
        if let out = graphOutput(k), let declared = out.type?.tensorElementType ?? outputType(k)?.tensorElementType,
            let have = dtype, have != declared
        {
            value = cast(value, to: declared)
            dtype = declared
        }
        try bind(k, value)
        guard let dtype, k < node.outputs.count else { return }
        scope.types[node.outputs[k]] = .tensor(elementType: dtype, shape: outputShape(k))
    }

    /// Inputs `ks` in one element type, as TFLite's kernels want: when int32 values meet int64
    /// ones, the int64 constants are narrowed and other int64 values CAST to int32.
    func sameTypeInputs(_ ks: [Int]) throws -> (names: [String], type: DType?) {
        let types = ks.map { elementType($0) }
        let distinct = Set(types.compactMap { $0 })
        guard distinct.count > 1 else { return (try ks.map { try input($0) }, distinct.first) }
        guard distinct == [.int32, .int64] else {
            throw NotLowerable("its inputs' types differ (\(distinct.map { "\($0)" }.sorted().joined(separator: ", ")))")
        }
        return (try ks.map { try int32Input($0) }, .int32)
    }
}
