import SwiftConvIR

/// Ops that select, slice, split or pad elements: GATHER, GATHER_ND, SLICE/STRIDED_SLICE,
/// SPLIT/SPLIT_V, PAD/PADV2/MIRROR_PAD (and edge/wrap padding from slices), SELECT_V2 (Where), ONE_HOT and CUMSUM. Integer
/// operands follow the policy of `ONNXShapeToTFLite.swift` (int32 inside the graph).
extension ONNXToTFLiteRules {
    static let indexing: [String: ToTFLiteRule] = [
        "Gather": lowerGather,
        "GatherND": lowerGatherND,
        "Slice": lowerSlice,
        "Split": lowerSplit,
        "Pad": lowerPad,
        "Where": lowerWhere,
        "OneHot": lowerOneHot,
        "CumSum": lowerCumSum,
    ]

    /// GATHER along `axis`. ONNX counts negative indices from the end and LiteRT rejects them:
    /// constant ones are made positive here, others at run time (`wrapped`).
    static func lowerGather(_ l: ToTFLiteNode) throws {
        var axis = Int(l.int("axis", 0))
        if axis < 0 { axis += try l.rank(0) }
        guard axis >= 0, l.shape(0).map({ axis < $0.count }) ?? true else { throw NotLowerable("axis \(axis) is out of range") }
        let data = try l.input(0)
        let dim = l.shape(0).flatMap { $0[axis].value }
        let indices: String
        if let c = l.constant(1), let values = c.int64Values(), c.dtype.isInteger, dim != nil || values.allSatisfy({ $0 >= 0 }) {
            let fixed = try values.map { v in try int32(v < 0 ? v + Int64(dim ?? 0) : v, "index") }
            indices = l.scope.constant(l.fresh() + "_indices", Tensor(dtype: .int32, shape: c.shape, values: fixed))
        } else {
            guard let t = l.elementType(1), [.int32, .int64].contains(t) else { throw NotLowerable("indices must be int32 or int64") }
            let given = l.constant(1) != nil ? try l.int32Input(1) : try l.input(1)
            let type: DType = l.constant(1) != nil ? .int32 : t
            indices = try wrapped(l, given, type: type, dim: dim.map { .constant($0) } ?? .of(data, axis: axis))
        }
        let y = l.emit("GATHER", [data, indices], attributes: [.int("axis", Int64(axis)), .int("batch_dims", 0)])
        try l.bind(0, y, as: l.elementType(0))
    }

    /// Where a dim's size comes from: known, or read at run time from a value's shape.
    enum DimSource {
        case constant(Int)
        case of(String, axis: Int)
    }

    /// `indices` with negative entries moved up by the dim's size: SELECT_V2(i < 0, i + n, i).
    static func wrapped(_ l: ToTFLiteNode, _ indices: String, type: DType, dim: DimSource) throws -> String {
        let n: String
        switch dim {
        case .constant(let size):
            n = integerScalar(l, size, type)
        case .of(let data, let axis):
            let shape = l.emit("SHAPE", [data], attributes: [.string("out_type", type == .int64 ? "INT64" : "INT32")])
            n = l.emit("GATHER", [shape, l.int32s([axis], shape: [])], attributes: [.int("axis", 0), .int("batch_dims", 0)])
        }
        let zero = integerScalar(l, 0, type)
        let negative = l.emit("LESS", [indices, zero])
        let shifted = l.emit("ADD", [indices, n], attributes: [.string("fused_activation_function", "NONE")])
        return l.emit("SELECT_V2", [negative, shifted, indices])
    }

    /// A scalar constant of type int64, or int32 for any other `type`.
    static func integerScalar(_ l: ToTFLiteNode, _ v: Int, _ type: DType) -> String {
        guard type == .int64 else { return l.int32s([v], shape: []) }
        return l.scope.constant(l.fresh() + "_const", Tensor(dtype: .int64, shape: [], values: [Int64(v)]))
    }

    static func int32(_ v: Int64, _ what: String) throws -> Int32 {
        guard let n = Int32(exactly: v) else { throw NotLowerable("\(what) \(v) does not fit int32") }
        return n
    }

    /// GATHER_ND with batch_dims 0 and constant, non-negative or known-dim indices, or computed
    /// ones (which LiteRT must find in range).
    static func lowerGatherND(_ l: ToTFLiteNode) throws {
        guard l.int("batch_dims", 0) == 0 else { throw NotLowerable("batch_dims other than 0 is not lowered") }
        let data = try l.input(0)
        let indices: String
        if let c = l.constant(1), let values = c.int64Values(), c.dtype.isInteger, let last = c.shape.last, last > 0 {
            let dims = l.shape(0)
            let fixed = try values.enumerated().map { i, v -> Int32 in
                guard v < 0 else { return try int32(v, "index") }
                guard let dim = dims.flatMap({ i % last < $0.count ? $0[i % last].value : nil }) else {
                    throw NotLowerable("negative index \(v) on a dim of unknown size")
                }
                return try int32(v + Int64(dim), "index")
            }
            indices = l.scope.constant(l.fresh() + "_indices", Tensor(dtype: .int32, shape: c.shape, values: fixed))
        } else {
            indices = try l.input(1)
        }
        try l.bind(0, l.emit("GATHER_ND", [data, indices]), as: l.elementType(0))
    }

    // MARK: Slice

    /// The starts, ends, axes and steps of a Slice (attributes before opset 10, inputs after).
    struct SliceSpec {
        var starts: [Int64]?
        var ends: [Int64]?
        var axes: [Int]
        var steps: [Int64]
    }

    /// SLICE when every step is 1 and the bounds are constants it can take, STRIDED_SLICE
    /// otherwise (begin/end masks for the axes not sliced and for the int64 end sentinels).
    /// Computed starts or ends are put in place at run time with a GATHER.
    static func lowerSlice(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        let dims = l.shape(0) ?? []
        var spec: SliceSpec
        if l.opset < 10 {
            guard let starts = l.ints("starts"), let ends = l.ints("ends") else { throw NotLowerable("starts and ends are required") }
            spec = SliceSpec(
                starts: starts, ends: ends, axes: l.ints("axes")?.map { Int($0) } ?? Array(0..<starts.count),
                steps: Array(repeating: 1, count: starts.count))
        } else {
            let starts = l.constant(1).flatMap { $0.int64Values() }
            let ends = l.constant(2).flatMap { $0.int64Values() }
            guard let count = starts?.count ?? ends?.count ?? l.staticShape(1)?.first else {
                throw NotLowerable("the number of sliced axes is unknown")
            }
            let axes = l.has(3) ? try l.constantInts(3, what: "axes").map { Int($0) } : Array(0..<count)
            let steps = l.has(4) ? try l.constantInts(4, what: "steps") : Array(repeating: 1, count: count)
            spec = SliceSpec(starts: starts, ends: ends, axes: axes, steps: steps)
        }
        let n = spec.axes.count
        guard spec.steps.count == n, spec.starts.map({ $0.count == n }) ?? true, spec.ends.map({ $0.count == n }) ?? true else {
            throw NotLowerable("starts, ends, axes and steps differ in length")
        }
        // LiteRT's SLICE and STRIDED_SLICE take up to 5 dims.
        guard rank >= 1, rank <= 5 else { throw NotLowerable("rank \(rank) is outside TFLite's 1 to 5 for slicing") }
        spec.axes = try normalized(spec.axes, rank: rank)
        guard spec.steps.allSatisfy({ $0 != 0 }) else { throw NotLowerable("a step is 0") }
        let x = try l.input(0)
        let dtype = l.elementType(0)
        let big = Int64(Int32.max)

        // SLICE: unit steps, constant bounds, a start known non-negative and an end that is the
        // dim's end or known to lie within it.
        if let starts = spec.starts, let ends = spec.ends, spec.steps.allSatisfy({ $0 == 1 }) {
            var begin = Array(repeating: 0, count: rank)
            var size = Array(repeating: -1, count: rank)
            var fits = true
            for (j, d) in spec.axes.enumerated() {
                let dim = d < dims.count ? dims[d].value.map(Int64.init) : nil
                var s = starts[j], e = ends[j]
                if let dim {
                    if s < 0 { s += dim }
                    if e < 0 { e += dim }
                    s = max(0, min(dim, s))
                    e = max(0, min(dim, e))
                    begin[d] = Int(s)
                    size[d] = e == dim ? -1 : Int(max(0, e - s))
                } else if s >= 0, s < big, e >= big {
                    begin[d] = Int(s)
                } else {
                    fits = false
                }
            }
            if fits { return try l.bind(0, l.emit("SLICE", [x, l.int32s(begin), l.int32s(size)]), as: dtype) }
        }

        var beginMask = 0, endMask = 0
        var strides = Array(repeating: 1, count: rank)
        for d in 0..<rank where !spec.axes.contains(d) {
            beginMask |= 1 << d
            endMask |= 1 << d
        }
        for (j, d) in spec.axes.enumerated() {
            strides[d] = Int(clamping: spec.steps[j])
            // INT64_MAX going forwards (MIN going backwards) means "to the end" (from the start):
            // a mask bit. Sentinels the other way, clamped to int32, make the same empty slice
            // in TFLite as in ONNX, both clamping bounds to the dim.
            let forwards = spec.steps[j] > 0
            if let e = spec.ends?[j], forwards ? e >= big : e <= -big { endMask |= 1 << d }
            if let s = spec.starts?[j], forwards ? s <= -big : s >= big { beginMask |= 1 << d }
        }
        let begin = try sliceBounds(l, spec.starts, input: 1, spec: spec, rank: rank)
        let end = try sliceBounds(l, spec.ends, input: 2, spec: spec, rank: rank)
        let y = l.emit(
            "STRIDED_SLICE", [x, begin, end, l.int32s(strides)],
            attributes: [
                .int("begin_mask", Int64(beginMask)), .int("end_mask", Int64(endMask)), .int("ellipsis_mask", 0),
                .int("new_axis_mask", 0), .int("shrink_axis_mask", 0), .int("offset", 0),
            ])
        try l.bind(0, y, as: dtype)
    }

    /// A full-rank int32 begin or end vector: constants clamped to int32 (TFLite clamps them to
    /// the dim, as ONNX does), or the computed input moved to its axes by a GATHER.
    static func sliceBounds(_ l: ToTFLiteNode, _ values: [Int64]?, input k: Int, spec: SliceSpec, rank: Int) throws -> String {
        if let values {
            var full = Array(repeating: 0, count: rank)
            for (j, d) in spec.axes.enumerated() { full[d] = Int(Int32(clamping: values[j])) }
            return l.int32s(full)
        }
        var v = try l.input(k)
        if l.elementType(k) == .int64 {
            // Bring int64 sentinels into int32's range before narrowing.
            let low = l.scope.constant(l.fresh() + "_min", Tensor(dtype: .int64, shape: [], values: [Int64(Int32.min)]))
            let high = l.scope.constant(l.fresh() + "_max", Tensor(dtype: .int64, shape: [], values: [Int64(Int32.max)]))
            v = l.cast(l.emit("MINIMUM", [l.emit("MAXIMUM", [v, low]), high]), to: .int32)
        } else if l.elementType(k) != .int32 {
            throw NotLowerable("input \(k) must be an integer tensor")
        }
        if spec.axes == Array(0..<rank) { return v }
        // Entry n of [v, 0] is the 0 the axes not sliced read (their mask bits are set anyway).
        let padded = concatenate(l, [v, l.int32s([0])], axis: 0)
        let n = spec.axes.count
        var positions = Array(repeating: n, count: rank)
        for (j, d) in spec.axes.enumerated() { positions[d] = j }
        return l.emit("GATHER", [padded, l.int32s(positions)], attributes: [.int("axis", 0), .int("batch_dims", 0)])
    }

    // MARK: Split

    /// SPLIT for equal parts, SPLIT_V for given sizes; opset 18's num_outputs splits in parts
    /// of ceil(dim / n), the last one smaller, which needs the dim.
    static func lowerSplit(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        var axis = Int(l.int("axis", 0))
        if axis < 0 { axis += rank }
        guard axis >= 0, axis < rank else { throw NotLowerable("axis \(axis) is out of range") }
        let count = l.node.outputs.count
        let dim = l.shape(0).flatMap { $0[axis].value }
        var sizes: [Int]?
        if l.opset < 13 {
            sizes = l.ints("split")?.map { Int($0) }
        } else if l.has(1) {
            sizes = try l.constantInts(1, what: "split").map { Int($0) }
        } else if let parts = l.node.attribute("num_outputs")?.int, parts > 0 {
            guard let dim else { throw NotLowerable("num_outputs splits a dim of unknown size") }
            let chunk = (dim + Int(parts) - 1) / Int(parts)
            sizes = (0..<Int(parts)).map { max(0, min(chunk, dim - $0 * chunk)) }
        }
        if let sizes {
            guard sizes.count == count, sizes.allSatisfy({ $0 >= 0 }) else {
                throw NotLowerable("split \(sizes) does not match \(count) outputs")
            }
            if let dim, sizes.reduce(0, +) != dim { throw NotLowerable("split \(sizes) does not add up to \(dim)") }
        }
        let x = try l.input(0)
        let dtype = l.elementType(0)
        if count == 1 { return try l.bind(0, x, as: dtype) }
        let outputs: [String]
        if let sizes, Set(sizes).count > 1 {
            outputs = l.emit(
                "SPLIT_V", [x, l.int32s(sizes), l.int32s([axis], shape: [])], outputs: count, attributes: [.int("num_splits", Int64(count))]
            )
        } else {
            outputs = l.emit("SPLIT", [l.int32s([axis], shape: []), x], outputs: count, attributes: [.int("num_splits", Int64(count))])
        }
        for (k, y) in outputs.enumerated() { try l.bind(k, y, as: dtype) }
    }

    // MARK: Pad

    /// constant → PAD (zero) or PADV2; reflect → MIRROR_PAD REFLECT; edge and wrap, which
    /// TFLite lacks, → a CONCATENATION per padded axis of slices of the input (edge: its first
    /// and last element TILEd; wrap: its last and first elements). Negative pads (crops) are
    /// not lowered.
    static func lowerPad(_ l: ToTFLiteNode) throws {
        let mode = l.string("mode", "constant")
        let rank = try l.rank(0)
        let x = try l.input(0)
        let dtype = l.elementType(0)
        // Constant pads as ([begin, end] per axis).
        var constantPads: [(Int, Int)]?
        if l.opset < 11 {
            guard let pads = l.ints("pads") else { throw NotLowerable("pads is required") }
            constantPads = try padPairs(pads, axes: Array(0..<rank), rank: rank)
        } else if l.constant(1) != nil {
            let pads = try l.constantInts(1, what: "pads")
            let axes = l.has(3) ? try normalized(l.constantInts(3, what: "axes").map { Int($0) }, rank: rank) : Array(0..<rank)
            constantPads = try padPairs(pads, axes: axes, rank: rank)
        }
        if mode == "edge" || mode == "wrap" {
            guard let constantPads else { throw NotLowerable("mode '\(mode)' is lowered only with constant pads") }
            var y = x
            for (axis, (before, after)) in constantPads.enumerated() where before > 0 || after > 0 {
                y =
                    try mode == "edge"
                    ? edgePadded(l, y, axis: axis, rank: rank, before, after) : wrapPadded(l, y, axis: axis, rank: rank, before, after)
            }
            return try l.bind(0, y, as: dtype)
        }
        var paddings: String
        if let constantPads {
            paddings = l.int32s(constantPads.flatMap { [$0.0, $0.1] }, shape: [rank, 2])
        } else {
            guard !l.has(3) else { throw NotLowerable("computed pads with axes are not lowered") }
            // [begin..., end...] → [[begin, end], ...] at run time.
            paddings = l.emit("RESHAPE", [try l.int32Input(1), l.int32s([2, rank])])
            paddings = l.emit("TRANSPOSE", [paddings, l.int32s([1, 0])])
        }
        switch mode {
        case "constant":
            var value: String?
            if l.opset < 11 {
                let v = l.float("value", 0)
                if v != 0 { value = l.floatConstant(Tensor(dtype: .float32, shape: [], values: [v])) }
            } else if l.has(2) {
                if let c = l.constant(2), let v = c.doubleValues() ?? c.int64Values()?.map(Double.init), v.allSatisfy({ $0 == 0 }) {
                    value = nil
                } else {
                    // PADV2 takes any one-element tensor.
                    value = try l.input(2)
                }
            }
            if let value { return try l.bind(0, l.emit("PADV2", [x, paddings, value]), as: dtype) }
            try l.bind(0, l.emit("PAD", [x, paddings]), as: dtype)
        case "reflect":
            try l.bind(0, l.emit("MIRROR_PAD", [x, paddings], attributes: [.string("mode", "REFLECT")]), as: dtype)
        default:
            throw NotLowerable("mode '\(mode)' is unknown")
        }
    }

    /// ONNX pads [b1, b2, ..., e1, e2, ...] over `axes` as a (begin, end) pair per axis of `rank`.
    static func padPairs(_ pads: [Int64], axes: [Int], rank: Int) throws -> [(Int, Int)] {
        guard pads.count == 2 * axes.count else { throw NotLowerable("pads has \(pads.count) values for \(axes.count) axes") }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw NotLowerable("negative pads (crops) are not lowered") }
        var pairs = Array(repeating: (0, 0), count: rank)
        for (j, d) in axes.enumerated() {
            pairs[d] = (Int(try int32(pads[j], "pad")), Int(try int32(pads[j + axes.count], "pad")))
        }
        return pairs
    }

    /// Elements [begin, end) of `x` along `axis`, every element of the other axes; a nil end
    /// reads to the end, a negative begin counts from it (so dynamic dims need no SHAPE).
    static func sliceAlong(_ l: ToTFLiteNode, _ x: String, axis: Int, rank: Int, begin: Int, end: Int?) -> String {
        let others = ((1 << rank) - 1) & ~(1 << axis)
        var starts = Array(repeating: 0, count: rank)
        var ends = starts
        starts[axis] = begin
        ends[axis] = end ?? 0
        return l.emit(
            "STRIDED_SLICE", [x, l.int32s(starts), l.int32s(ends), l.int32s(Array(repeating: 1, count: rank))],
            attributes: [
                .int("begin_mask", Int64(others)), .int("end_mask", Int64(end == nil ? others | (1 << axis) : others)),
                .int("ellipsis_mask", 0), .int("new_axis_mask", 0), .int("shrink_axis_mask", 0), .int("offset", 0),
            ])
    }

    /// `x` with its first element along `axis` repeated `before` times in front and its last
    /// one `after` times behind (ONNX's edge mode, one axis at a time, which fills the corners
    /// as ONNX does).
    static func edgePadded(_ l: ToTFLiteNode, _ x: String, axis: Int, rank: Int, _ before: Int, _ after: Int) throws -> String {
        func repeated(_ v: String, _ times: Int) -> String {
            times == 1 ? v : l.emit("TILE", [v, l.int32s((0..<rank).map { $0 == axis ? times : 1 })])
        }
        var parts: [String] = []
        if before > 0 { parts.append(repeated(sliceAlong(l, x, axis: axis, rank: rank, begin: 0, end: 1), before)) }
        parts.append(x)
        if after > 0 { parts.append(repeated(sliceAlong(l, x, axis: axis, rank: rank, begin: -1, end: nil), after)) }
        return concatenate(l, parts, axis: axis)
    }

    /// `x` with its last `before` elements along `axis` in front and its first `after` ones
    /// behind (ONNX's wrap mode), for pads no wider than the dim.
    static func wrapPadded(_ l: ToTFLiteNode, _ x: String, axis: Int, rank: Int, _ before: Int, _ after: Int) throws -> String {
        guard let dim = l.shape(0)?[axis].value, before <= dim, after <= dim else {
            throw NotLowerable("mode 'wrap' is lowered only for pads no wider than a dim of known size (axis \(axis))")
        }
        var parts: [String] = []
        if before > 0 { parts.append(sliceAlong(l, x, axis: axis, rank: rank, begin: -before, end: nil)) }
        parts.append(x)
        if after > 0 { parts.append(sliceAlong(l, x, axis: axis, rank: rank, begin: 0, end: after)) }
        return concatenate(l, parts, axis: axis)
    }

    // MARK: Where, OneHot, CumSum

    static func lowerWhere(_ l: ToTFLiteNode) throws {
        guard l.elementType(0) == .bool else { throw NotLowerable("the condition must be bool") }
        let (values, dtype) = try l.sameTypeInputs([1, 2])
        try l.bind(0, l.emit("SELECT_V2", [try l.input(0)] + values), as: dtype)
    }

    /// ONE_HOT. ONNX counts negative indices from the end of depth; TFLite writes them off.
    static func lowerOneHot(_ l: ToTFLiteNode) throws {
        guard let valuesType = l.elementType(2), [.float32, .int32, .int64, .bool, .int8, .uint8].contains(valuesType) else {
            throw NotLowerable("values of this type have no TFLite ONE_HOT")
        }
        let rank = try l.rank(0)
        var axis = Int(l.int("axis", -1))
        if axis < 0 { axis += rank + 1 }
        guard axis >= 0, axis <= rank else { throw NotLowerable("axis \(axis) is out of range") }
        var indices = try l.input(0)
        switch l.elementType(0) {
        case .int32?, .int64?: break
        case .float32?: indices = l.cast(indices, to: .int32)
        default: throw NotLowerable("indices must be integers or float32")
        }
        let indexType: DType = l.elementType(0) == .int64 ? .int64 : .int32
        guard let c = l.constant(1), c.elementCount == 1, let d = c.doubleValues()?.first,
            d >= 1, d <= Double(Int32.max)
        else { throw NotLowerable("depth must be a positive constant") }
        let depth = Int(d)
        indices = try wrapped(l, indices, type: indexType, dim: .constant(depth))
        guard l.staticShape(2) == [2] else { throw NotLowerable("values must hold two elements") }
        let values = try l.input(2)
        let gather = { (i: Int) in
            l.emit("GATHER", [values, l.int32s([i], shape: [])], attributes: [.int("axis", 0), .int("batch_dims", 0)])
        }
        let (off, on) = (gather(0), gather(1))
        let depthValue = l.int32s([depth], shape: [])
        try l.bind(0, l.emit("ONE_HOT", [indices, depthValue, on, off], attributes: [.int("axis", Int64(axis))]), as: valuesType)
    }

    static func lowerCumSum(_ l: ToTFLiteNode) throws {
        guard let t = l.elementType(0), [.float32, .int32, .int64].contains(t) else {
            throw NotLowerable("only float32, int32 and int64 CumSum")
        }
        let rank = try l.rank(0)
        let given = try l.constantInts(1, what: "axis")
        guard given.count == 1 else { throw NotLowerable("axis must hold one value") }
        let axis = try normalized([Int(given[0])], rank: rank)[0]
        let y = l.emit(
            "CUMSUM", [try l.input(0), l.int32s([axis], shape: [])],
            attributes: [.int("exclusive", l.int("exclusive", 0)), .int("reverse", l.int("reverse", 0))])
        try l.bind(0, y, as: t)
    }
}
