import SwiftConvIR

/// Gather/Scatter families, OneHot, NonZero, Compress, TopK, ArgMax/ArgMin, Unique, CumSum, Trilu.
enum IndexingKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Gather", since: [1, 11, 13]) { ctx in GatherKernel(axis: ctx.int("axis", default: 0)) }
        r.register("GatherElements", since: [11, 13]) { ctx in GatherElementsKernel(axis: ctx.int("axis", default: 0)) }
        r.register("GatherND", since: [11, 12, 13]) { ctx in GatherNDKernel(batchDims: Int(ctx.int("batch_dims", default: 0))) }
        r.register("Scatter", since: [9, 11]) { ctx in
            ScatterElementsKernel(axis: ctx.int("axis", default: 0), reduction: .none)
        }
        r.register("ScatterElements", since: [11, 13, 16, 18]) { ctx in
            ScatterElementsKernel(axis: ctx.int("axis", default: 0), reduction: try scatterReduction(ctx))
        }
        r.register("ScatterND", since: [11, 13, 16, 18]) { ctx in ScatterNDKernel(reduction: try scatterReduction(ctx)) }
        r.register("OneHot", since: [9, 11, 28]) { ctx in OneHotKernel(axis: Int(ctx.int("axis", default: -1))) }
        r.register("NonZero", since: [9, 13]) { _ in NonZeroKernel() }
        r.register("Compress", since: [9, 11, 28]) { ctx in CompressKernel(axis: ctx.attribute("axis")?.int) }
        r.register("TopK", since: [1, 10, 11, 24]) { ctx in
            TopKKernel(
                axis: ctx.int("axis", default: -1), attrK: ctx.sinceVersion < 10 ? Int(try ctx.int("k")) : nil,
                largest: ctx.sinceVersion < 11 || ctx.int("largest", default: 1) != 0,
                sorted: ctx.sinceVersion < 11 || ctx.int("sorted", default: 1) != 0)
        }
        for (op, isMax) in [("ArgMax", true), ("ArgMin", false)] {
            r.register(op, since: [1, 11, 12, 13]) { ctx in
                ArgExtremeKernel(
                    isMax: isMax, axis: ctx.int("axis", default: 0), keepDims: ctx.int("keepdims", default: 1) != 0,
                    selectLast: ctx.int("select_last_index", default: 0) != 0)
            }
        }
        r.register("Unique", since: [11, 28]) { ctx in
            UniqueKernel(axis: ctx.attribute("axis")?.int, sorted: ctx.int("sorted", default: 1) != 0)
        }
        r.register("CumSum", since: [11, 14]) { ctx in
            CumSumKernel(exclusive: ctx.int("exclusive", default: 0) != 0, reverse: ctx.int("reverse", default: 0) != 0)
        }
        r.register("TensorScatter", since: [24]) { ctx in
            let mode = ctx.string("mode", default: "linear")
            guard mode == "linear" || mode == "circular" else { throw ctx.invalid("unknown mode '\(mode)'") }
            return TensorScatterKernel(axis: ctx.int("axis", default: -2), circular: mode == "circular")
        }
        r.register("CumProd", since: [26]) { ctx in
            CumSumKernel(
                exclusive: ctx.int("exclusive", default: 0) != 0, reverse: ctx.int("reverse", default: 0) != 0,
                product: true)
        }
        r.register("Trilu", since: [14]) { ctx in TriluKernel(upper: ctx.int("upper", default: 1) != 0) }
        r.register("ReverseSequence", since: [10, 28]) { ctx in
            ReverseSequenceKernel(timeAxis: Int(ctx.int("time_axis", default: 0)), batchAxis: Int(ctx.int("batch_axis", default: 1)))
        }
    }

    static func scatterReduction(_ ctx: KernelBuildContext) throws -> ScatterReduction {
        guard ctx.sinceVersion >= 16 else { return .none }
        switch ctx.string("reduction", default: "none") {
        case "none": return .none
        case "add": return .add
        case "mul": return .mul
        case "max" where ctx.sinceVersion >= 18: return .max
        case "min" where ctx.sinceVersion >= 18: return .min
        case let other: throw SwiftConvError.unsupportedOp("\(ctx.label): reduction '\(other)' is not supported")
        }
    }
}

enum ScatterReduction { case none, add, mul, max, min }

/// Indices of an index input, made non-negative against `dim`; throws when out of range.
func normalizedIndices(_ t: Tensor, dim: Int, _ what: String = "index") throws -> [Int] {
    var idx = try intValues(t, what)
    for i in idx.indices {
        let v = idx[i] < 0 ? idx[i] + dim : idx[i]
        guard v >= 0, v < dim else { throw kernelError("\(what) \(idx[i]) is out of range [-\(dim), \(dim - 1)]") }
        idx[i] = v
    }
    return idx
}

/// Picks blocks along `axis`: output block k of every outer row is input block `idx[k]`.
/// The output shape is `x.shape` with the axis replaced by `idxShape`.
func gatherAlongAxis(_ x: Tensor, axis a: Int, indices idx: [Int], idxShape: [Int]) throws -> Tensor {
    try onStringIndices(x) { x in
        let shape = Array(x.shape[..<a]) + idxShape + Array(x.shape[(a + 1)...])
        let out = try Tensor.allocate(x.dtype, shape)
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *), dim = x.shape[a]
        struct Copy: ElementWidthVisitor {
            let x: Tensor, out: Tensor, idx: [Int], outer: Int, inner: Int, dim: Int
            func visit<E>(_: E.Type) throws {
                guard let s = x.elementBase(E.self), let d = out.mutableElementBase(E.self) else { return }
                var o = 0
                for r in 0..<outer {
                    let row = s + r * dim * inner
                    if inner == 1 {
                        for k in idx {
                            d[o] = row[k]
                            o += 1
                        }
                    } else {
                        for k in idx {
                            (d + o).update(from: row + k * inner, count: inner)
                            o += inner
                        }
                    }
                }
            }
        }
        if out.elementCount > 0 {
            try dispatchWidth(x.dtype, Copy(x: x, out: out, idx: idx, outer: outer, inner: inner, dim: dim))
        }
        return out
    }
}

struct GatherKernel: SingleOutputKernel {
    let axis: Int64

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0), i = try inputs.tensor(1)
        guard x.rank >= 1 else { throw kernelError("Gather needs data of rank >= 1") }
        let a = try normalizeAxis(axis, rank: x.rank)
        let idx = try normalizedIndices(i, dim: x.shape[a])
        return .tensor(try gatherAlongAxis(x, axis: a, indices: idx, idxShape: i.shape))
    }
}

/// Visits every index of `shape` in row-major order, passing the offset under `strides`.
@inline(__always)
func forEachOffset(_ shape: [Int], _ strides: [Int], _ body: (Int, Int) throws -> Void) rethrows {
    guard let n = elementCount(shape), n > 0 else { return }
    var index = [Int](repeating: 0, count: shape.count)
    var off = 0
    for linear in 0..<n {
        try body(linear, off)
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            off += strides[d]
            if index[d] < shape[d] { break }
            off -= strides[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
}

struct GatherElementsKernel: SingleOutputKernel {
    let axis: Int64

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0), i = try inputs.tensor(1)
        let a = try normalizeAxis(axis, rank: x.rank)
        guard i.rank == x.rank else { throw kernelError("indices rank \(i.rank) differs from data rank \(x.rank)") }
        for d in 0..<x.rank where d != a && i.shape[d] > x.shape[d] {
            throw kernelError("indices shape \(i.shape) exceeds data shape \(x.shape)")
        }
        let idx = try normalizedIndices(i, dim: x.shape[a])
        var strides = contiguousStrides(x.shape)
        let axisStride = strides[a]
        strides[a] = 0
        return .tensor(
            try onStringIndices(x) { x in
                let out = try Tensor.allocate(x.dtype, i.shape)
                struct Copy: ElementWidthVisitor {
                    let x: Tensor, out: Tensor, idx: [Int], shape: [Int], strides: [Int], axisStride: Int
                    func visit<E>(_: E.Type) throws {
                        guard let s = x.elementBase(E.self), let d = out.mutableElementBase(E.self) else { return }
                        forEachOffset(shape, strides) { k, off in d[k] = s[off + idx[k] * axisStride] }
                    }
                }
                try dispatchWidth(x.dtype, Copy(x: x, out: out, idx: idx, shape: i.shape, strides: strides, axisStride: axisStride))
                return out
            })
    }
}

/// Data offsets of the tuples of a GatherND/ScatterND index tensor (last dimension `m`),
/// counting `batchDims` leading batch dimensions.
func tupleOffsets(_ data: [Int], _ indices: Tensor, batchDims b: Int) throws -> (offsets: [Int], block: Int) {
    guard indices.rank >= 1, let m = indices.shape.last, b >= 0, b < indices.rank, m <= data.count - b else {
        throw kernelError("indices shape \(indices.shape) does not fit data shape \(data)")
    }
    for d in 0..<b where indices.shape[d] != data[d] { throw kernelError("batch dimensions of \(indices.shape) and \(data) differ") }
    let raw = try intValues(indices, "indices")
    let strides = contiguousStrides(data)
    let tuples = m == 0 ? try checkedElementCount(indices.shape.dropLast()) : raw.count / m
    try checkTemporary(tuples, of: Int.self, "the index tuples")
    let batches = data[..<b].reduce(1, *)
    let perBatch = batches == 0 ? 0 : tuples / batches
    let batchStride = b == 0 ? 0 : strides[b - 1]
    var offsets = [Int](repeating: 0, count: tuples)
    for t in 0..<tuples {
        var off = perBatch == 0 ? 0 : (t / perBatch) * batchStride
        for j in 0..<m {
            let dim = data[b + j]
            var v = raw[t * m + j]
            if v < 0 { v += dim }
            guard v >= 0, v < dim else { throw kernelError("index \(raw[t * m + j]) is out of range for dimension \(dim)") }
            off += v * strides[b + j]
        }
        offsets[t] = off
    }
    return (offsets, data[(b + m)...].reduce(1, *))
}

/// Copies `count` elements from each of `offsets` in `x` to consecutive places of a new tensor.
func gatherBlocks(_ x: Tensor, offsets: [Int], block: Int, shape: [Int]) throws -> Tensor {
    try onStringIndices(x) { x in
        let out = try Tensor.allocate(x.dtype, shape)
        struct Copy: ElementWidthVisitor {
            let x: Tensor, out: Tensor, offsets: [Int], block: Int
            func visit<E>(_: E.Type) throws {
                guard let s = x.elementBase(E.self), let d = out.mutableElementBase(E.self) else { return }
                for (k, off) in offsets.enumerated() { (d + k * block).update(from: s + off, count: block) }
            }
        }
        if out.elementCount > 0 { try dispatchWidth(x.dtype, Copy(x: x, out: out, offsets: offsets, block: block)) }
        return out
    }
}

struct GatherNDKernel: Kernel {
    let batchDims: Int

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), i = try inputs.tensor(1)
        let (offsets, block) = try tupleOffsets(x.shape, i, batchDims: batchDims)
        let m = i.shape.last ?? 0
        let shape = Array(i.shape.dropLast()) + Array(x.shape[(batchDims + m)...])
        return [.tensor(try gatherBlocks(x, offsets: offsets, block: block, shape: shape))]
    }
}

/// A private, writable copy of `x`.
func copied(_ x: Tensor) throws -> Tensor {
    if x.dtype == .string { return Tensor(shape: x.shape, strings: x.strings) }
    let out = try Tensor.allocate(x.dtype, x.shape)
    if x.byteCount > 0 {
        out.storage.mutableBytes.baseAddress!.copyMemory(from: x.storage.bytes.baseAddress!, byteCount: x.byteCount)
    }
    return out
}

/// Applies updates to `out` at element offsets: `out[dst[k] + j] (op)= upd[k * block + j]`.
func scatterBlocks(into out: Tensor, updates: Tensor, offsets: [Int], block: Int, reduction: ScatterReduction) throws {
    guard out.dtype == updates.dtype else { throw kernelError("updates are \(updates.dtype), data is \(out.dtype)") }
    if reduction == .none {
        struct Copy: ElementWidthVisitor {
            let out: Tensor, upd: Tensor, offsets: [Int], block: Int
            func visit<E>(_: E.Type) throws {
                guard let s = upd.elementBase(E.self), let d = out.mutableElementBase(E.self) else { return }
                for (k, off) in offsets.enumerated() { (d + off).update(from: s + k * block, count: block) }
            }
        }
        try dispatchWidth(out.dtype, Copy(out: out, upd: updates, offsets: offsets, block: block))
        return
    }
    struct Reduce: NumericVisitor {
        let out: Tensor, upd: Tensor, offsets: [Int], block: Int, reduction: ScatterReduction
        func visit<T: NumericScalar>(_ type: T.Type) throws {
            guard let s = upd.elementBase(T.self), let d = out.mutableElementBase(T.self) else { return }
            for (k, off) in offsets.enumerated() {
                for j in 0..<block {
                    let u = s[k * block + j]
                    switch reduction {
                    case .add: d[off + j] = T.wrappingSum(d[off + j], u)
                    case .mul: d[off + j] = T.wrappingProduct(d[off + j], u)
                    case .max: d[off + j] = Swift.max(d[off + j], u)
                    case .min: d[off + j] = Swift.min(d[off + j], u)
                    case .none: d[off + j] = u
                    }
                }
            }
        }
    }
    guard try dispatchNumeric(out.dtype, Reduce(out: out, upd: updates, offsets: offsets, block: block, reduction: reduction)) != nil else {
        throw kernelUnsupported("reduction is not supported for \(out.dtype)")
    }
}

struct ScatterElementsKernel: Kernel {
    let axis: Int64
    let reduction: ScatterReduction

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), i = try inputs.tensor(1), u = try inputs.tensor(2)
        let a = try normalizeAxis(axis, rank: x.rank)
        guard i.shape == u.shape, i.rank == x.rank else { throw kernelError("indices \(i.shape) and updates \(u.shape) do not match") }
        for d in 0..<x.rank where d != a && i.shape[d] > x.shape[d] {
            throw kernelError("indices shape \(i.shape) exceeds data shape \(x.shape)")
        }
        let idx = try normalizedIndices(i, dim: x.shape[a])
        var strides = contiguousStrides(x.shape)
        let axisStride = strides[a]
        strides[a] = 0
        var offsets = [Int](repeating: 0, count: idx.count)
        forEachOffset(i.shape, strides) { k, off in offsets[k] = off + idx[k] * axisStride }
        if x.dtype == .string {
            var s = x.strings
            for (k, off) in offsets.enumerated() { s[off] = u.strings[k] }
            return [.tensor(Tensor(shape: x.shape, strings: s))]
        }
        let out = try copied(x)
        try scatterBlocks(into: out, updates: u, offsets: offsets, block: 1, reduction: reduction)
        return [.tensor(out)]
    }
}

struct ScatterNDKernel: Kernel {
    let reduction: ScatterReduction

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), i = try inputs.tensor(1), u = try inputs.tensor(2)
        let (offsets, block) = try tupleOffsets(x.shape, i, batchDims: 0)
        let m = i.shape.last ?? 0
        guard u.shape == Array(i.shape.dropLast()) + Array(x.shape[m...]) else {
            throw kernelError("updates shape \(u.shape) does not fit indices \(i.shape) and data \(x.shape)")
        }
        if x.dtype == .string {
            var s = x.strings
            for (k, off) in offsets.enumerated() { for j in 0..<block { s[off + j] = u.strings[k * block + j] } }
            return [.tensor(Tensor(shape: x.shape, strings: s))]
        }
        let out = try copied(x)
        try scatterBlocks(into: out, updates: u, offsets: offsets, block: block, reduction: reduction)
        return [.tensor(out)]
    }
}

struct OneHotKernel: Kernel {
    let axis: Int

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let i = try inputs.tensor(0), dt = try inputs.tensor(1), v = try inputs.tensor(2)
        guard let depthValue = dt.doubleValues()?.first ?? (dt.dtype == .float16 ? dt.values(as: Float16.self).first.map(Double.init) : nil)
        else {
            throw kernelError("depth must be a numeric scalar")
        }
        let depth = try Checked.int(depthValue, "depth")
        guard depth > 0 else { throw kernelError("depth must be positive, got \(depth)") }
        guard v.elementCount == 2 else { throw kernelError("values must hold [off_value, on_value]") }
        let a = axis < 0 ? axis + i.rank + 1 : axis
        guard a >= 0, a <= i.rank else { throw kernelError("axis \(axis) is out of range") }
        guard let idx = i.doubleValues() ?? (i.dtype == .float16 ? i.values(as: Float16.self).map(Double.init) : nil) else {
            throw kernelError("indices must be numeric")
        }
        var shape = i.shape
        shape.insert(depth, at: a)
        let outer = i.shape[..<a].reduce(1, *), inner = i.shape[a...].reduce(1, *)
        return [
            .tensor(
                try onStringIndices(v) { v in
                    let out = try Tensor.allocate(v.dtype, shape)
                    struct Fill: ElementWidthVisitor {
                        let v: Tensor, out: Tensor, idx: [Double], outer: Int, inner: Int, depth: Int
                        func visit<E>(_: E.Type) throws {
                            guard let s = v.elementBase(E.self), let d = out.mutableElementBase(E.self) else { return }
                            d.update(repeating: s[0], count: out.elementCount)
                            for o in 0..<outer {
                                for k in 0..<inner {
                                    // NaN, infinite and out-of-range indices are hot nowhere, as in onnxruntime.
                                    guard var j = Int(exactly: idx[o * inner + k].rounded(.towardZero)) else { continue }
                                    if j < 0 { j += depth }
                                    if j >= 0 && j < depth { d[(o * depth + j) * inner + k] = s[1] }
                                }
                            }
                        }
                    }
                    if out.elementCount > 0 {
                        try dispatchWidth(v.dtype, Fill(v: v, out: out, idx: idx, outer: outer, inner: inner, depth: depth))
                    }
                    return out
                })
        ]
    }
}

/// Flat indices of the elements that are not zero (false, 0, 0.0 and -0.0 are zero).
func nonZeroPositions(_ x: Tensor) throws -> [Int] {
    struct Find: NumericVisitor {
        let x: Tensor
        func visit<T: NumericScalar>(_ type: T.Type) throws -> [Int] {
            try x.withElements(as: T.self) { p in try positions(x.elementCount) { p[$0] != 0 } }
        }
    }
    /// Counted first, so the array is checked before it is made (an input of many non-zeros
    /// needs eight bytes per element).
    func positions(_ n: Int, _ isNonZero: (Int) -> Bool) throws -> [Int] {
        var count = 0
        for i in 0..<n where isNonZero(i) { count += 1 }
        try checkTemporary(count, of: Int.self, "the non-zero positions")
        var out: [Int] = []
        out.reserveCapacity(count)
        for i in 0..<n where isNonZero(i) { out.append(i) }
        return out
    }
    if let r = try dispatchNumeric(x.dtype, Find(x: x)) { return r }
    if x.dtype == .string { return x.strings.indices.filter { !x.strings[$0].isEmpty } }
    if x.dtype == .bfloat16 {
        return try x.withElements(as: UInt16.self) { p in try positions(x.elementCount) { p[$0] & 0x7FFF != 0 } }
    }
    guard x.dtype.bitWidth == 8 else { throw kernelUnsupported("unsupported type \(x.dtype)") }
    return try x.withElements(as: UInt8.self) { p in try positions(x.elementCount) { p[$0] != 0 } }
}

struct NonZeroKernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let pos = try nonZeroPositions(x)
        let rank = x.rank
        let n = pos.count
        let strides = contiguousStrides(x.shape)
        let out = try Tensor.zeros(.int64, [rank, n])
        if rank == 0 { return [.tensor(out)] }
        out.withMutableElements(as: Int64.self) { out in
            for (k, p) in pos.enumerated() {
                var rest = p
                for d in 0..<rank {
                    out[d * n + k] = Int64(rest / strides[d])
                    rest %= strides[d]
                }
            }
        }
        return [.tensor(out)]
    }
}

struct CompressKernel: Kernel {
    let axis: Int64?

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var x = try inputs.tensor(0)
        let c = try inputs.tensor(1)
        let cond = try nonZeroPositions(c)
        var a = 0
        if let axis { a = try normalizeAxis(axis, rank: x.rank) } else { x = x.reshaped([x.elementCount]) }
        let dim = x.shape[a]
        guard c.elementCount <= dim || cond.allSatisfy({ $0 < dim }) else {
            throw kernelError("condition selects beyond the axis length \(dim)")
        }
        let idx = cond.filter { $0 < dim }
        return [.tensor(try gatherAlongAxis(x, axis: a, indices: idx, idxShape: [idx.count]))]
    }
}

/// Splits `shape` around `axis` into (outer, dim, inner).
/// A scalar has no axis to split (normalizeAxis accepts axis 0 of rank 0 for ops that allow it).
func axisSplit(_ shape: [Int], _ a: Int) throws -> (outer: Int, dim: Int, inner: Int) {
    guard a >= 0, a < shape.count else { throw kernelError("axis \(a) is out of range for shape \(shape)") }
    return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
}

struct TopKKernel: Kernel {
    let axis: Int64
    let attrK: Int?
    let largest: Bool
    let sorted: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let k: Int
        if let attrK {
            k = attrK
        } else {
            guard let v = try inputs.tensor(1).int64Values()?.first else { throw kernelError("K must be an integer") }
            k = Int(v)
        }
        let (outer, dim, inner) = try axisSplit(x.shape, a)
        guard k >= 0, k <= dim else { throw kernelError("k \(k) is out of range for axis of size \(dim)") }
        var shape = x.shape
        shape[a] = k
        let indices = try Tensor.allocate(.int64, shape)
        struct Select: NumericVisitor {
            let x: Tensor, indices: Tensor, shape: [Int], k: Int, outer: Int, dim: Int, inner: Int, largest: Bool
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                let values = try Tensor.allocate(T.dtype, shape)
                guard values.elementCount > 0, let s = x.elementBase(T.self),
                    let dv = values.mutableElementBase(T.self), let di = indices.mutableElementBase(Int64.self)
                else { return values }
                var order = [Int](repeating: 0, count: dim)
                var column = [T](repeating: s[0], count: dim)
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * dim * inner + i
                        for j in 0..<dim {
                            column[j] = s[base + j * inner]
                            order[j] = j
                        }
                        // Ties keep the lower index first; NaN counts as the largest value.
                        let before: (Int, Int) -> Bool =
                            largest
                            ? { p, q in
                                let u = column[p], v = column[q]
                                if u != u { return v == v || p < q }
                                if v != v { return false }
                                return u > v || (u == v && p < q)
                            }
                            : { p, q in
                                let u = column[p], v = column[q]
                                if v != v { return u == u || p < q }
                                if u != u { return false }
                                return u < v || (u == v && p < q)
                            }
                        if k < dim / 4 {
                            order.withUnsafeMutableBufferPointer { b in partialSort(b, k, before) }
                        } else {
                            order.sort(by: before)
                        }
                        let ob = o * k * inner + i
                        for j in 0..<k {
                            dv[ob + j * inner] = column[order[j]]
                            di[ob + j * inner] = Int64(order[j])
                        }
                    }
                }
                return values
            }
        }
        guard
            let values = try dispatchNumeric(
                x.dtype,
                Select(
                    x: x, indices: indices, shape: shape, k: k, outer: outer,
                    dim: dim, inner: inner, largest: largest))
        else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        return [.tensor(values), .tensor(indices)]
    }
}

/// Moves the first `k` elements in `before` order to the front of `b`, sorted.
func partialSort(_ b: UnsafeMutableBufferPointer<Int>, _ k: Int, _ before: (Int, Int) -> Bool) {
    guard k > 0 else { return }
    // Max-heap (by `before`) of the best k seen so far.
    func siftDown(_ start: Int, _ n: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && before(b[m], b[l]) { m = l }
            if r < n && before(b[m], b[r]) { m = r }
            if m == i { return }
            b.swapAt(i, m)
            i = m
        }
    }
    for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i, k) }
    for j in k..<b.count where before(b[j], b[0]) {
        b.swapAt(0, j)
        siftDown(0, k)
    }
    var n = k
    while n > 1 {
        b.swapAt(0, n - 1)
        n -= 1
        siftDown(0, n)
    }
}

struct ArgExtremeKernel: Kernel {
    let isMax: Bool
    let axis: Int64
    let keepDims: Bool
    let selectLast: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let (outer, dim, inner) = try axisSplit(x.shape, a)
        guard dim > 0 else { throw kernelError("cannot reduce an empty axis") }
        var shape = x.shape
        if keepDims { shape[a] = 1 } else { shape.remove(at: a) }
        let out = try Tensor.allocate(.int64, shape)
        struct Find: NumericVisitor {
            let x: Tensor, out: Tensor, outer: Int, dim: Int, inner: Int, isMax: Bool, selectLast: Bool
            func visit<T: NumericScalar>(_ type: T.Type) throws {
                guard let s = x.elementBase(T.self), let d = out.mutableElementBase(Int64.self) else { return }
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * dim * inner + i
                        var best = s[base], at = 0
                        for j in 1..<max(dim, 1) {
                            let v = s[base + j * inner]
                            let better = isMax ? (selectLast ? v >= best : v > best) : (selectLast ? v <= best : v < best)
                            if better {
                                best = v
                                at = j
                            }
                        }
                        d[o * inner + i] = Int64(at)
                    }
                }
            }
        }
        guard
            try dispatchNumeric(
                x.dtype,
                Find(
                    x: x, out: out, outer: outer, dim: dim, inner: inner, isMax: isMax,
                    selectLast: selectLast)) != nil
        else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}

struct UniqueKernel: Kernel {
    let axis: Int64?
    let sorted: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var x = try inputs.tensor(0)
        var a = 0
        if let axis { a = try normalizeAxis(axis, rank: x.rank) } else { x = x.reshaped([x.elementCount]) }
        // bfloat16 is ordered through float32; the output takes the original elements.
        var keys = x
        if x.dtype == .bfloat16 {
            keys = Tensor.from(x.values(as: UInt16.self).map(BFloat16Bits.toFloat), shape: x.shape)
        }
        let (outer, dim, inner) = try axisSplit(x.shape, a)
        struct Group: NumericVisitor {
            let x: Tensor, outer: Int, dim: Int, inner: Int, sorted: Bool
            /// Returns (first index, count) per unique item in output order, and the inverse map.
            func visit<T: NumericScalar>(_ type: T.Type) throws -> ([(Int, Int)], [Int]) {
                let v = x.values(as: T.self)
                func compare(_ p: Int, _ q: Int) -> Int {
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let u = v[(o * dim + p) * inner + i], w = v[(o * dim + q) * inner + i]
                            if u < w { return -1 }
                            if w < u { return 1 }
                        }
                    }
                    return 0
                }
                let order = (0..<dim).sorted { p, q in
                    let c = compare(p, q)
                    return c < 0 || (c == 0 && p < q)
                }
                var groups: [(Int, Int)] = []
                var groupOf = [Int](repeating: 0, count: dim)
                for (n, p) in order.enumerated() {
                    if n == 0 || compare(order[n - 1], p) != 0 { groups.append((p, 0)) }
                    groups[groups.count - 1].1 += 1
                    groupOf[p] = groups.count - 1
                }
                if !sorted {
                    let perm = groups.indices.sorted { groups[$0].0 < groups[$1].0 }
                    var rank = [Int](repeating: 0, count: groups.count)
                    for (r, g) in perm.enumerated() { rank[g] = r }
                    groups = perm.map { groups[$0] }
                    for p in 0..<dim { groupOf[p] = rank[groupOf[p]] }
                }
                return (groups, groupOf)
            }
        }
        guard
            let (groups, inverse) = try dispatchNumeric(
                keys.dtype,
                Group(
                    x: keys, outer: outer, dim: dim, inner: inner,
                    sorted: sorted))
        else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        let first = groups.map(\.0)
        let y = try gatherAlongAxis(x, axis: a, indices: first, idxShape: [first.count])
        return [
            .tensor(y), .tensor(Tensor.from(first.map { Int64($0) })), .tensor(Tensor.from(inverse.map { Int64($0) })),
            .tensor(Tensor.from(groups.map { Int64($0.1) })),
        ]
    }
}

/// CumSum, and CumProd when `product` is set.
struct CumSumKernel: Kernel {
    let exclusive: Bool
    let reverse: Bool
    var product = false

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard let axisValue = try inputs.tensor(1).int64Values()?.first else { throw kernelError("axis must be an integer scalar") }
        let a = try normalizeAxis(axisValue, rank: x.rank)
        let (outer, dim, inner) = try axisSplit(x.shape, a)
        struct Sum: NumericVisitor {
            let x: Tensor, outer: Int, dim: Int, inner: Int, exclusive: Bool, reverse: Bool, product: Bool
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                let identity = product ? T(fromDouble: 1) : T.zero
                let combine: (T, T) -> T = product ? T.wrappingProduct : T.wrappingSum
                let out = try Tensor.allocate(T.dtype, x.shape)
                guard out.elementCount > 0, let s = x.elementBase(T.self), let d = out.mutableElementBase(T.self) else { return out }
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * dim * inner + i
                        var acc = identity
                        for n in 0..<dim {
                            let j = reverse ? dim - 1 - n : n
                            let p = base + j * inner
                            if exclusive {
                                d[p] = acc
                                acc = combine(acc, s[p])
                            } else {
                                acc = combine(acc, s[p])
                                d[p] = acc
                            }
                        }
                    }
                }
                return out
            }
        }
        guard
            let out = try dispatchNumeric(
                x.dtype,
                Sum(
                    x: x, outer: outer, dim: dim, inner: inner, exclusive: exclusive,
                    reverse: reverse, product: product))
        else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}

struct TriluKernel: Kernel {
    let upper: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        var k = 0
        if let t = inputs.optionalTensor(1) {
            guard let v = t.int64Values()?.first else { throw kernelError("k must be an integer scalar") }
            k = Int(v)
        }
        guard x.rank >= 2 else { throw kernelError("input must have rank 2 or more") }
        let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
        // Beyond these bounds every row keeps all or nothing; clamping keeps `i + k` from overflowing.
        k = min(max(k, -rows - 1), cols + 1)
        let width = x.dtype.bitWidth / 8
        guard x.dtype != .string, width > 0 else { throw kernelUnsupported("unsupported type \(x.dtype)") }
        let out = try copied(x)
        guard out.elementCount > 0 else { return [.tensor(out)] }
        let p = out.storage.mutableBytes.baseAddress!
        let matrices = x.elementCount / (rows * cols)
        for m in 0..<matrices {
            for i in 0..<rows {
                // Columns to clear in row i: j < i + k (upper) or j > i + k (lower).
                let lo = upper ? 0 : min(cols, max(0, i + k + 1))
                let hi = upper ? min(cols, max(0, i + k)) : cols
                if hi > lo {
                    (p + ((m * rows + i) * cols + lo) * width).initializeMemory(as: UInt8.self, repeating: 0, count: (hi - lo) * width)
                }
            }
        }
        return [.tensor(out)]
    }
}

struct ReverseSequenceKernel: Kernel {
    let timeAxis: Int
    let batchAxis: Int

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let lens = try intValues(inputs.tensor(1), "sequence_lens")
        guard x.rank >= 2, Set([timeAxis, batchAxis]) == [0, 1] else {
            throw kernelError("time_axis and batch_axis must be 0 and 1 of an input of rank 2 or more")
        }
        let batch = x.shape[batchAxis], time = x.shape[timeAxis]
        guard lens.count == batch, lens.allSatisfy({ $0 >= 0 && $0 <= time }) else {
            throw kernelError("sequence_lens \(lens) does not fit batch \(batch) and time \(time)")
        }
        let s = contiguousStrides(x.shape)
        let st = s[timeAxis], sb = s[batchAxis]
        return [
            .tensor(
                try onStringIndices(x) { x in
                    let out = try copied(x)
                    let rest = Array(x.shape[2...]), restStrides = Array(s[2...])
                    for b in 0..<batch where lens[b] > 1 {
                        try stridedCopy(
                            from: x, offset: b * sb + (lens[b] - 1) * st, strides: [-st] + restStrides,
                            into: out, offset: b * sb, strides: [st] + restStrides, shape: [lens[b]] + rest)
                    }
                    return out
                })
        ]
    }
}

/// Writes `update` into a copy of a KV cache along `axis`, at a per-batch start index
/// (`write_indices`, default 0), wrapping around in circular mode.
struct TensorScatterKernel: Kernel {
    let axis: Int64
    let circular: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let cache = try inputs.tensor(0), update = try inputs.tensor(1)
        guard cache.dtype == update.dtype, cache.dtype != .string, cache.dtype.bitWidth % 8 == 0 else {
            throw kernelError("cache and update must have the same fixed-width type")
        }
        let a = try normalizeAxis(axis, rank: cache.rank)
        guard a >= 1, update.rank == cache.rank else { throw kernelError("axis must not be the batch axis; ranks must match") }
        for d in 0..<cache.rank where d != a && cache.shape[d] != update.shape[d] {
            throw kernelError("cache shape \(cache.shape) and update shape \(update.shape) differ in dimension \(d)")
        }
        let maxLength = cache.shape[a], length = update.shape[a]
        guard length <= maxLength else { throw kernelError("update is longer than the cache along axis \(a)") }
        let batch = cache.shape[0]
        var starts = [Int64](repeating: 0, count: batch)
        if let w = inputs.optionalTensor(2) {
            guard let v = w.int64Values(), v.count == batch else { throw kernelError("write_indices must hold one index per batch") }
            starts = v
        }
        let width = cache.dtype.bitWidth / 8
        let out = try Tensor.allocate(cache.dtype, cache.shape)
        let dst = out.storage.mutableBytes
        if dst.count > 0 { dst.baseAddress!.copyMemory(from: cache.storage.bytes.baseAddress!, byteCount: dst.count) }
        let inner = cache.shape[(a + 1)...].reduce(1, *) * width
        let outerPerBatch = cache.shape[1..<a].reduce(1, *)
        let src = update.storage.bytes
        for b in 0..<batch where length > 0 {
            // Reduced before adding positions, so that no start index overflows.
            let start = circular ? Int(starts[b] % Int64(maxLength) + Int64(maxLength)) % maxLength : Int(starts[b])
            guard start >= 0, start <= maxLength - length || circular else {
                throw kernelError("write index \(starts[b]) leaves no room for \(length) entries in the cache (length \(maxLength))")
            }
            for o in 0..<outerPerBatch {
                let prefix = b * outerPerBatch + o
                for s in 0..<length {
                    let pos = circular ? (start + s) % maxLength : start + s
                    if inner == 0 { continue }
                    (dst.baseAddress! + (prefix * maxLength + pos) * inner)
                        .copyMemory(from: src.baseAddress! + (prefix * length + s) * inner, byteCount: inner)
                }
            }
        }
        return [.tensor(out)]
    }
}
