import SwiftConvIR

/// Ops that work on element coordinates: Trilu (a mask of column − row against k, then
/// SELECT_V2), GatherElements (full coordinates built from RANGEs, then GATHER_ND), ScatterND
/// (SCATTER_ND, which sums into zeros, merged with the data) and NonZero (WHERE, transposed).
extension ONNXToTFLiteRules {
    static let coordinate: [String: ToTFLiteRule] = [
        "Trilu": lowerTrilu,
        "GatherElements": lowerGatherElements,
        "ScatterND": lowerScatterND,
        "NonZero": lowerNonZero,
    ]

    /// Largest constant mask Trilu bakes into the model; bigger or unknown sizes are computed.
    static let largestConstantMask = 1 << 20

    /// Keeps the elements with column − row ≥ k (upper) or ≤ k (lower) of the last two dims and
    /// zeroes the rest with SELECT_V2, so infinities outside the triangle become 0 as in ONNX
    /// (a multiplication by a 0/1 mask would give NaN). The mask is a constant when the two dims
    /// and k are known, else computed from RANGEs.
    static func lowerTrilu(_ l: ToTFLiteNode) throws {
        let dtype = try requireType(l, 0, [.float32, .int32, .int64, .bool, .int8, .uint8])
        let rank = try l.rank(0)
        guard rank >= 2 else { throw NotLowerable("the input must have rank 2 or more") }
        let upper = l.int("upper", 1) != 0
        let x = try l.input(0)
        let dims = l.shape(0).map { ($0[rank - 2].value, $0[rank - 1].value) }
        var k: Int?
        if !l.has(1) {
            k = 0
        } else if l.constant(1) != nil {
            let v = try l.constantInts(1, what: "k")
            guard v.count == 1 else { throw NotLowerable("k must hold one value") }
            k = Int(max(Int64(Int32.min), min(Int64(Int32.max), v[0])))
        }
        let zero: String
        if dtype == .bool || dtype == .int8 || dtype == .uint8 {
            zero = l.floatConstant(Tensor(dtype: dtype, shape: [], values: [UInt8(0)]))
        } else {
            zero = try scalar(l, 0, dtype)
        }
        let mask: String
        if let k, let (n, m) = dims.flatMap({ d in d.0.flatMap { a in d.1.map { (a, $0) } } }), n * m <= largestConstantMask {
            var keep = [UInt8](repeating: 0, count: n * m)
            for i in 0..<n {
                for j in 0..<m where upper ? j - i >= k : j - i <= k { keep[i * m + j] = 1 }
            }
            mask = l.floatConstant(Tensor(dtype: .bool, shape: [n, m], values: keep))
        } else {
            let size = { (axis: Int, known: Int?) -> String in
                if let known { return l.int32s([known], shape: []) }
                let shape = shapeOf(l, x)
                return l.emit("GATHER", [shape, l.int32s([axis], shape: [])], attributes: [.int("axis", 0), .int("batch_dims", 0)])
            }
            let (one, origin) = (l.int32s([1], shape: []), l.int32s([0], shape: []))
            let rows = l.emit("RANGE", [origin, size(rank - 2, dims?.0), one])
            let columns = l.emit("RANGE", [origin, size(rank - 1, dims?.1), one])
            let offset = binary(l, "SUB", columns, l.emit("EXPAND_DIMS", [rows, l.int32s([1], shape: [])]))
            let diagonal: String
            if let k {
                diagonal = l.int32s([k], shape: [])
            } else {
                guard let t = l.elementType(1), t == .int32 || t == .int64 else { throw NotLowerable("k must be an integer") }
                // A scalar or one-element k broadcasts against the offsets as it is.
                diagonal = try l.int32Input(1)
            }
            mask = l.emit(upper ? "GREATER_EQUAL" : "LESS_EQUAL", [offset, diagonal])
        }
        try l.bind(0, l.emit("SELECT_V2", [mask, x, zero]), as: dtype)
    }

    /// The int32 size of dim `axis` of input `k`: a constant when known, else read at run time.
    static func dimSize(_ l: ToTFLiteNode, input k: Int, axis: Int) throws -> String {
        if let d = l.shape(k)?[axis].value { return l.int32s([d], shape: []) }
        let shape = shapeOf(l, try l.input(k))
        return l.emit("GATHER", [shape, l.int32s([axis], shape: [])], attributes: [.int("axis", 0), .int("batch_dims", 0)])
    }

    /// GATHER_ND with, for every element of the indices, its full coordinate in the data: its
    /// own position on every axis but `axis`, where it is the (wrapped) index.
    static func lowerGatherElements(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        guard rank >= 1, try l.rank(1) == rank else { throw NotLowerable("data and indices must have the same rank") }
        let axis = try normalized([Int(l.int("axis", 0))], rank: rank)[0]
        let data = try l.input(0)
        let dim = l.shape(0).flatMap { $0[axis].value }
        let index: String
        if let c = l.constant(1), let values = c.int64Values(), c.dtype.isInteger, dim != nil || values.allSatisfy({ $0 >= 0 }) {
            let fixed = try values.map { v in try int32(v < 0 ? v + Int64(dim ?? 0) : v, "index") }
            index = l.scope.constant(l.fresh() + "_indices", Tensor(dtype: .int32, shape: c.shape, values: fixed))
        } else {
            guard let t = l.elementType(1), [.int32, .int64].contains(t) else { throw NotLowerable("indices must be int32 or int64") }
            var given = try l.input(1)
            if t == .int64 { given = l.cast(given, to: .int32) }
            index = try wrapped(l, given, type: .int32, dim: dim.map { .constant($0) } ?? .of(data, axis: axis))
        }
        if rank == 1 {
            let y = l.emit("GATHER", [data, index], attributes: [.int("axis", 0), .int("batch_dims", 0)])
            return try l.bind(0, y, as: l.elementType(0))
        }
        let shape = l.staticShape(1).map { l.int32s($0) } ?? shapeOf(l, index)
        var coordinates: [String] = []
        for d in 0..<rank {
            if d == axis {
                coordinates.append(index)
                continue
            }
            var along: String
            if let n = l.shape(1)?[d].value {
                along = l.int32s(Array(0..<n), shape: (0..<rank).map { $0 == d ? n : 1 })
            } else {
                let n = try dimSize(l, input: 1, axis: d)
                along = l.emit("RANGE", [l.int32s([0], shape: []), n, l.int32s([1], shape: [])])
                along = l.emit("RESHAPE", [along, l.int32s((0..<rank).map { $0 == d ? -1 : 1 })])
            }
            coordinates.append(broadcast(l, along, to: shape))
        }
        let full = l.emit("PACK", coordinates, attributes: [.int("values_count", Int64(rank)), .int("axis", Int64(rank))])
        try l.bind(0, l.emit("GATHER_ND", [data, full]), as: l.elementType(0))
    }

    /// SCATTER_ND adds the updates into zeros of the data's shape. reduction none: a second
    /// SCATTER_ND of ones marks the written elements, which SELECT_V2 takes from the first one
    /// and the rest from the data; add: the data plus the scattered sums. Negative indices are
    /// moved up by their dim. mul, max and min have no TFLite form.
    static func lowerScatterND(_ l: ToTFLiteNode) throws {
        let dtype = try requireType(l, 0, [.float32, .int32, .int64])
        guard l.elementType(2) == dtype else { throw NotLowerable("updates must have the data's type") }
        let reduction = l.string("reduction", "none")
        guard reduction == "none" || reduction == "add" else {
            throw NotLowerable("reduction '\(reduction)' has no TFLite form (SCATTER_ND only adds)")
        }
        let rank = try l.rank(0)
        guard let depth = l.shape(1)?.last?.value, depth >= 1, depth <= rank else {
            throw NotLowerable("the last dim of indices must be known and between 1 and the data's rank")
        }
        let data = try l.input(0)
        let dims = l.shape(0).map { Array($0[..<depth]).map(\.value) }
        let indices: String
        if let c = l.constant(1), let values = c.int64Values(), c.dtype.isInteger {
            let fixed = try values.enumerated().map { i, v -> Int32 in
                guard v < 0 else { return try int32(v, "index") }
                guard let dim = dims?[i % depth] else { throw NotLowerable("negative index \(v) on a dim of unknown size") }
                return try int32(v + Int64(dim), "index")
            }
            indices = l.scope.constant(l.fresh() + "_indices", Tensor(dtype: .int32, shape: c.shape, values: fixed))
        } else {
            guard let t = l.elementType(1), [.int32, .int64].contains(t) else { throw NotLowerable("indices must be int32 or int64") }
            var given = try l.input(1)
            if t == .int64 { given = l.cast(given, to: .int32) }
            let sizes: String
            if let known = dims?.compactMap({ $0 }), known.count == depth {
                sizes = l.int32s(known)
            } else {
                sizes = l.emit("SLICE", [shapeOf(l, data), l.int32s([0]), l.int32s([depth])])
            }
            let negative = l.emit("LESS", [given, l.int32s([0], shape: [])])
            indices = l.emit("SELECT_V2", [negative, binary(l, "ADD", given, sizes), given])
        }
        let shape = l.staticShape(0).map { l.int32s($0) } ?? shapeOf(l, data)
        let updates = try l.input(2)
        let scattered = l.emit("SCATTER_ND", [indices, updates, shape])
        if reduction == "add" { return try l.bind(0, binary(l, "ADD", data, scattered), as: dtype) }
        let ones = l.emit("FILL", [l.staticShape(2).map { l.int32s($0) } ?? shapeOf(l, updates), l.int32s([1], shape: [])])
        let written = l.emit("GREATER", [l.emit("SCATTER_ND", [indices, ones, shape]), l.int32s([0], shape: [])])
        try l.bind(0, l.emit("SELECT_V2", [written, scattered, data]), as: dtype)
    }

    /// WHERE gives the coordinates of the true elements as int64 [n, rank]; ONNX wants them as
    /// [rank, n]. Non-bool inputs are compared with zero first.
    static func lowerNonZero(_ l: ToTFLiteNode) throws {
        let dtype = try requireType(l, 0, [.float32, .int32, .int64, .bool])
        let rank = try l.rank(0)
        guard rank >= 1 else { throw NotLowerable("a scalar input is not lowered") }
        var x = try l.input(0)
        if dtype != .bool { x = l.emit("NOT_EQUAL", [x, try scalar(l, 0, dtype)]) }
        let coordinates = l.emit("WHERE", [x])
        try l.bind(0, l.emit("TRANSPOSE", [coordinates, l.int32s([1, 0])]), as: .int64)
    }
}
