import SwiftConvIR

/// GATHER, GATHER_ND, STRIDED_SLICE, SLICE, PAD, PADV2, MIRROR_PAD, REVERSE_V2, CUMSUM, TOPK_V2,
/// ONE_HOT, SPACE_TO_DEPTH, DEPTH_TO_SPACE, DYNAMIC_UPDATE_SLICE, SCATTER_ND, WHERE.
extension TFLiteLoweringRules {
    static let indexing: [String: TFLiteLoweringRule] = [
        "GATHER": { l in
            guard l.int("batch_dims", 0) == 0 else { throw NotLowerable("batch_dims \(l.int("batch_dims", 0)) is not lowered") }
            try l.bind(0, l.emit("Gather", [try l.input(0), try l.int64Input(1)], attributes: [.int("axis", l.int("axis", 0))]))
        },
        "GATHER_ND": { l in try l.bind(0, l.emit("GatherND", [try l.input(0), try l.int64Input(1)])) },
        "STRIDED_SLICE": lowerStridedSlice,
        "SLICE": lowerSlice,
        "DYNAMIC_UPDATE_SLICE": lowerDynamicUpdateSlice,
        "SCATTER_ND": lowerScatterND,
        // WHERE with one input: the coordinates of the true (non-zero) elements, [n, rank] int64.
        "WHERE": { l in
            guard l.node.inputs.count == 1 else { throw NotLowerable("WHERE with \(l.node.inputs.count) inputs is not lowered") }
            let coordinates = l.emit("Transpose", [l.emit("NonZero", [try l.input(0)])], attributes: [.ints("perm", [1, 0])])
            let t = l.outputElementType(0) ?? .int64
            try l.bind(0, t == .int64 ? coordinates : l.cast(coordinates, to: t))
        },
        "PAD": { l in try lowerPad(l, mode: "constant") },
        "PADV2": { l in try lowerPad(l, mode: "constant") },
        "MIRROR_PAD": { l in
            guard l.string("mode", "REFLECT") == "REFLECT" else { return try lowerSymmetricPad(l) }
            try lowerPad(l, mode: "reflect")
        },
        "REVERSE_V2": { l in
            let axes = try l.constantInts(1, what: "axis")
            let y = l.emit(
                "Slice",
                [
                    try l.input(0), l.int64s(axes.map { _ in -1 }), l.int64s(axes.map { _ in Int64.min }), l.int64s(axes),
                    l.int64s(axes.map { _ in -1 }),
                ])
            try l.bind(0, y)
        },
        "CUMSUM": { l in
            let y = l.emit(
                "CumSum", [try l.input(0), try l.int64Input(1)],
                attributes: [.int("exclusive", l.bool("exclusive") ? 1 : 0), .int("reverse", l.bool("reverse") ? 1 : 0)])
            try l.bind(0, y)
        },
        "TOPK_V2": { l in
            let k = l.emit("Reshape", [try l.int64Input(1), l.int64s([1])])
            let outs = l.emit(
                "TopK", [try l.input(0), k], outputs: 2, attributes: [.int("axis", -1), .int("largest", 1), .int("sorted", 1)])
            try l.bind(0, outs[0])
            let t = l.outputElementType(1) ?? .int32
            try l.bind(1, t == .int64 ? outs[1] : l.cast(outs[1], to: t))
        },
        "ONE_HOT": { l in
            // Inputs (indices, depth, on_value, off_value); ONNX wants values = [off, on].
            let values = l.emit(
                "Concat",
                [
                    l.emit("Reshape", [try l.input(3), l.int64s([1])]), l.emit("Reshape", [try l.input(2), l.int64s([1])]),
                ], attributes: [.int("axis", 0)])
            // A negative index is all off in TFLite but counts from the end in ONNX: move it out of range.
            let indices = try l.input(0)
            let t = l.elementType(0) ?? .int32
            let depth = l.cast(try l.input(1), to: t)
            let kept = l.emit("Where", [l.emit("Less", [indices, try l.scalar(0, t)]), depth, indices])
            try l.bind(0, l.emit("OneHot", [kept, try l.input(1), values], attributes: [.int("axis", l.int("axis", -1))]))
        },
        "SPACE_TO_DEPTH": { l in
            let y = l.emit("SpaceToDepth", [l.toNCHW(try l.input(0))], attributes: [.int("blocksize", l.int("block_size", 1))])
            try l.bind(0, l.toNHWC(y))
        },
        "DEPTH_TO_SPACE": { l in
            // TensorFlow's depth order (block row, block column, channel) is ONNX's DCR.
            let y = l.emit(
                "DepthToSpace", [l.toNCHW(try l.input(0))],
                attributes: [.int("blocksize", l.int("block_size", 1)), .string("mode", "DCR")])
            try l.bind(0, l.toNHWC(y))
        },
    ]

    /// TFLite's paddings are [rank, 2] (begin, end per axis); ONNX's pads are all begins, then all ends.
    /// DYNAMIC_UPDATE_SLICE (XLA's semantics: each start clamped to [0, operand - update]):
    /// ONNX has no such op, so the update padded out to the operand's shape at the clamped
    /// start replaces the operand where a mask padded the same way is true.
    static func lowerDynamicUpdateSlice(_ l: NodeLowering) throws {
        let x = try l.input(0)
        let update = try l.input(1)
        let operandShape = l.emit("Shape", [x])
        let updateShape = l.emit("Shape", [update])
        let room = l.emit("Sub", [operandShape, updateShape])
        let start = l.emit("Min", [l.emit("Max", [try l.int64Input(2), l.int64s([0])]), room])
        let pads = l.emit("Concat", [start, l.emit("Sub", [room, start])], attributes: [.int("axis", 0)])
        let ones = Tensor(dtype: .bool, shape: [1], values: [true])
        let mask = l.emit("ConstantOfShape", [updateShape], attributes: [Attribute(name: "value", value: .tensor(ones))])
        let y = l.emit("Where", [l.emit("Pad", [mask, pads]), l.emit("Pad", [update, pads]), x])
        try l.bind(0, y)
    }

    static func lowerPad(_ l: NodeLowering, mode: String) throws {
        let pads: String
        if let p = l.constant(1), let v = p.int64Values(), v.count % 2 == 0 {
            let n = v.count / 2
            pads = l.int64s((0..<n).map { v[2 * $0] } + (0..<n).map { v[2 * $0 + 1] })
        } else {
            let t = l.emit("Transpose", [try l.int64Input(1)], attributes: [.ints("perm", [1, 0])])
            pads = l.emit("Reshape", [t, l.int64s([-1])])
        }
        var inputs = [try l.input(0), pads]
        if l.has(2) { inputs.append(l.emit("Reshape", [try l.input(2), l.int64s([])])) }
        try l.bind(0, l.emit("Pad", inputs, attributes: [.string("mode", mode)]))
    }

    /// SYMMETRIC mirror padding (the edge repeated, which ONNX Pad has no mode for): per
    /// axis, the first `before` and last `after` entries reversed and concatenated around it.
    static func lowerSymmetricPad(_ l: NodeLowering) throws {
        let pads = try l.constantInts(1, what: "paddings")
        guard pads.count % 2 == 0 else { throw NotLowerable("paddings must be [rank, 2]") }
        var x = try l.input(0)
        for axis in 0..<(pads.count / 2) {
            let (before, after) = (pads[2 * axis], pads[2 * axis + 1])
            guard before >= 0, after >= 0 else { throw NotLowerable("negative paddings") }
            if before == 0 && after == 0 { continue }
            let a = l.int64s([Int64(axis)])
            var parts: [String] = []
            if before > 0 {
                parts.append(l.emit("Slice", [x, l.int64s([before - 1]), l.int64s([Int64.min]), a, l.int64s([-1])]))
            }
            parts.append(x)
            if after > 0 {
                parts.append(l.emit("Slice", [x, l.int64s([-1]), l.int64s([-after - 1]), a, l.int64s([-1])]))
            }
            x = l.emit("Concat", parts, attributes: [.int("axis", Int64(axis))])
        }
        try l.bind(0, x)
    }

    /// SCATTER_ND(indices, updates, shape): `updates` summed into zeros of `shape` at `indices`,
    /// duplicates added. ONNX's ScatterND adds duplicates from opset 16 (reduction 'add');
    /// before it, only constant indices without duplicates are lowered (a plain ScatterND).
    static func lowerScatterND(_ l: NodeLowering) throws {
        guard let t = l.elementType(1) else { throw NotLowerable("the updates' element type is unknown") }
        let shape = try l.int64Input(2)
        guard t != .string, let bytes = t.byteCount(elements: 1) else { throw NotLowerable("updates of type \(t) are not lowered") }
        let zero = Tensor(dtype: t, shape: [1], storage: try TensorStorage(zeroedByteCount: bytes))
        let zeros = l.emit("ConstantOfShape", [shape], attributes: [Attribute(name: "value", value: .tensor(zero))])
        var attributes: [Attribute] = []
        if l.opset >= 16 {
            attributes.append(.string("reduction", "add"))
        } else {
            guard let indices = l.constant(0), let k = indices.shape.last, k > 0, let flat = indices.int64Values() else {
                throw NotLowerable("SCATTER_ND adds duplicate indices, which ONNX's ScatterND does from opset 16; convert with opset=16")
            }
            var seen = Set<ArraySlice<Int64>>()
            for start in stride(from: 0, to: flat.count, by: k) where !seen.insert(flat[start..<(start + k)]).inserted {
                throw NotLowerable(
                    "SCATTER_ND's indices repeat a position, which ONNX's ScatterND adds only from opset 16; convert with opset=16")
            }
        }
        try l.bind(0, l.emit("ScatterND", [zeros, try l.int64Input(0), try l.input(1)], attributes: attributes))
    }

    /// SLICE(input, begin, size): size -1 runs to the end.
    static func lowerSlice(_ l: NodeLowering) throws {
        guard let begin = l.constant(1)?.int64Values(), let size = l.constant(2)?.int64Values() else {
            // Computed begin/size: ends = begin + size, or the end where size is -1.
            let (b, n) = (try l.int64Input(1), try l.int64Input(2))
            let ends = l.emit("Where", [l.emit("Less", [n, l.int64s([0])]), l.int64s([Int64.max]), l.emit("Add", [b, n])])
            return try l.bind(0, l.emit("Slice", [try l.input(0), b, ends]))
        }
        guard begin.count == size.count else { throw NotLowerable("begin and size differ in length") }
        let ends = zip(begin, size).map { $1 < 0 ? Int64.max : $0 + $1 }
        let axes = (0..<Int64(begin.count)).map { $0 }
        try l.bind(0, l.emit("Slice", [try l.input(0), l.int64s(begin), l.int64s(ends), l.int64s(axes)]))
    }

    /// STRIDED_SLICE with constant begin/end/strides: masks become open bounds, shrunk axes a
    /// Squeeze after the Slice. The ellipsis and new-axis masks are not lowered.
    static func lowerStridedSlice(_ l: NodeLowering) throws {
        let begin = try l.constantInts(1, what: "begin")
        let end = try l.constantInts(2, what: "end")
        let strides = try l.constantInts(3, what: "strides")
        guard begin.count == end.count, end.count == strides.count else { throw NotLowerable("begin, end and strides differ in length") }
        guard l.int("ellipsis_mask", 0) == 0, l.int("new_axis_mask", 0) == 0 else {
            throw NotLowerable("ellipsis_mask and new_axis_mask are not lowered")
        }
        let (beginMask, endMask, shrink) = (l.int("begin_mask", 0), l.int("end_mask", 0), l.int("shrink_axis_mask", 0))
        let offset = l.bool("offset")
        var starts: [Int64] = []
        var ends: [Int64] = []
        var squeezed: [Int64] = []
        for i in begin.indices {
            let step = strides[i]
            guard step != 0 else { throw NotLowerable("stride 0") }
            let bit = Int64(1) << Int64(i)
            if shrink & bit != 0 {
                starts.append(begin[i])
                ends.append(begin[i] == -1 ? Int64.max : begin[i] + 1)
                squeezed.append(Int64(i))
                continue
            }
            starts.append(beginMask & bit != 0 ? (step > 0 ? 0 : Int64.max) : begin[i])
            if endMask & bit != 0 {
                ends.append(step > 0 ? Int64.max : Int64.min)
            } else {
                ends.append(offset ? begin[i] + end[i] : end[i])
            }
        }
        let axes = (0..<Int64(begin.count)).map { $0 }
        let steps = strides.indices.map { shrink & (Int64(1) << Int64($0)) != 0 ? 1 : strides[$0] }
        var y = l.emit("Slice", [try l.input(0), l.int64s(starts), l.int64s(ends), l.int64s(axes), l.int64s(steps)])
        if !squeezed.isEmpty { y = l.emit("Squeeze", [y, l.int64s(squeezed)]) }
        try l.bind(0, y)
    }
}
