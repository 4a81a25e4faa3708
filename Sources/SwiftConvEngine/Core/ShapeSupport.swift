import SwiftConvIR

/// A 16-byte element (complex128), moved as a unit by layout code.
struct Bytes16 {
    var lo: UInt64
    var hi: UInt64
}

/// Layout code written once for a plain type of the element's byte width, so that moving
/// data needs no per-dtype code (bfloat16 and float8 move like uint16 and uint8).
protocol ElementWidthVisitor {
    associatedtype Result
    func visit<E>(_ type: E.Type) throws -> Result
}

/// Dispatches on the byte width of `dtype`; strings and sub-byte types are rejected
/// (strings go through `onStringIndices`).
func dispatchWidth<V: ElementWidthVisitor>(_ dtype: DType, _ v: V) throws -> V.Result {
    switch dtype.bitWidth {
    case 8: return try v.visit(UInt8.self)
    case 16: return try v.visit(UInt16.self)
    case 32: return try v.visit(UInt32.self)
    case 64: return try v.visit(UInt64.self)
    case 128: return try v.visit(Bytes16.self)
    default: throw kernelUnsupported("element type \(dtype) is not supported by this op")
    }
}

extension Tensor {
    /// Base address of the elements as `E` (read only).
    @inlinable
    func elementBase<E>(_: E.Type) -> UnsafePointer<E>? {
        storage.bytes.baseAddress?.assumingMemoryBound(to: E.self)
    }

    /// Base address of a tensor this run allocated, as `E`.
    @inlinable
    func mutableElementBase<E>(_: E.Type) -> UnsafeMutablePointer<E>? {
        storage.mutableBytes.baseAddress?.assumingMemoryBound(to: E.self)
    }

    /// A view of `count` elements starting at element `offset`, sharing storage (no copy).
    func slicedView(elementOffset offset: Int, shape: [Int]) -> Tensor {
        let width = dtype.bitWidth / 8
        let count = SwiftConvIR.elementCount(shape) ?? 0
        let start = storage.bytes.baseAddress.map { UnsafeRawPointer($0) + offset * width }
        let bytes = UnsafeRawBufferPointer(start: count == 0 ? nil : start, count: count * width)
        return Tensor(dtype: dtype, shape: shape, storage: TensorStorage(borrowing: bytes, owner: storage))
    }
}

/// Runs a layout op on a string tensor by running it on the element indices (int64) and
/// mapping the result back; other tensors go straight through.
func onStringIndices(_ t: Tensor, _ op: (Tensor) throws -> Tensor) rethrows -> Tensor {
    guard t.dtype == .string else { return try op(t) }
    let result = try op(Tensor.from((0..<Int64(t.strings.count)).map { $0 }, shape: t.shape))
    return stringsGathered(t.strings, byIndices: result)
}

/// The multi-input, multi-output form of `onStringIndices` (Concat, Split): indices run
/// across the inputs in order.
func onStringIndices(_ ts: [Tensor], _ op: ([Tensor]) throws -> [Tensor]) rethrows -> [Tensor] {
    guard ts.contains(where: { $0.dtype == .string }) else { return try op(ts) }
    var pool: [[UInt8]] = []
    var indexed: [Tensor] = []
    for t in ts {
        let base = Int64(pool.count)
        pool += t.strings
        indexed.append(Tensor.from((0..<Int64(t.strings.count)).map { $0 + base }, shape: t.shape))
    }
    return try op(indexed).map { stringsGathered(pool, byIndices: $0) }
}

private func stringsGathered(_ pool: [[UInt8]], byIndices t: Tensor) -> Tensor {
    let idx = t.values(as: Int64.self)
    return Tensor(shape: t.shape, strings: idx.map { pool[Int($0)] })
}

/// Merges dimensions that are contiguous in both layouts and drops size-1 dimensions, so
/// that copy loops run over as few, as long runs as possible.
func simplifyLayout(shape: [Int], _ a: [Int], _ b: [Int]) -> (shape: [Int], a: [Int], b: [Int]) {
    var s: [Int] = [], sa: [Int] = [], sb: [Int] = []
    for d in 0..<shape.count where shape[d] != 1 {
        if let last = s.last, sa.last! == a[d] * shape[d], sb.last! == b[d] * shape[d] {
            s[s.count - 1] = last * shape[d]
            sa[sa.count - 1] = a[d]
            sb[sb.count - 1] = b[d]
        } else {
            s.append(shape[d])
            sa.append(a[d])
            sb.append(b[d])
        }
    }
    return (s, sa, sb)
}

/// Copies the `shape` block at `srcOffset` with `srcStrides` (elements; 0 and negative
/// strides allowed) into `dst` at `dstOffset` with `dstStrides`. `dst` must be library-owned.
func stridedCopy(
    from src: Tensor, offset srcOffset: Int, strides srcStrides: [Int],
    into dst: Tensor, offset dstOffset: Int, strides dstStrides: [Int], shape: [Int]
) throws {
    guard let n = elementCount(shape), n > 0 else { return }
    let l = simplifyLayout(shape: shape, srcStrides, dstStrides)
    struct Copy: ElementWidthVisitor {
        let src: Tensor, dst: Tensor, so: Int, dO: Int, shape: [Int], ss: [Int], ds: [Int]
        func visit<E>(_: E.Type) throws {
            guard let s = src.elementBase(E.self), let d = dst.mutableElementBase(E.self) else { return }
            // A transpose (contiguous writes, the contiguous source axis elsewhere) goes through tiles.
            let last = shape.count - 1
            if last >= 1, ds[last] == 1, ss[last] != 1, shape[last] >= 8,
                let k = (0..<last).last(where: { ss[$0] == 1 }), shape[k] >= 8
            {
                tiledTranspose(s + so, ss, d + dO, ds, shape, k)
            } else {
                stridedLoop(s + so, ss, d + dO, ds, shape)
            }
        }
    }
    try dispatchWidth(src.dtype, Copy(src: src, dst: dst, so: srcOffset, dO: dstOffset, shape: l.shape, ss: l.a, ds: l.b))
}

@inline(__always)
func stridedLoop<E>(_ src: UnsafePointer<E>, _ ss: [Int], _ dst: UnsafeMutablePointer<E>, _ ds: [Int], _ shape: [Int]) {
    let rank = shape.count
    if rank == 0 {
        dst.pointee = src.pointee
        return
    }
    let inner = shape[rank - 1], si = ss[rank - 1], di = ds[rank - 1]
    var outer = 1
    for d in 0..<(rank - 1) { outer *= shape[d] }
    var index = [Int](repeating: 0, count: rank)
    var so = 0, dO = 0
    for _ in 0..<outer {
        if si == 1 && di == 1 {
            (dst + dO).update(from: src + so, count: inner)
        } else if si == 0 && di == 1 {
            (dst + dO).update(repeating: src[so], count: inner)
        } else {
            var a = so, b = dO
            for _ in 0..<inner {
                dst[b] = src[a]
                a += si
                b += di
            }
        }
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            so += ss[d]
            dO += ds[d]
            if index[d] < shape[d] { break }
            so -= ss[d] * shape[d]
            dO -= ds[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
}

/// `stridedLoop` for a layout whose source is contiguous along axis `k` and whose destination
/// is contiguous along the last axis: 32x32 tiles keep both sides in cache.
func tiledTranspose<E>(_ src: UnsafePointer<E>, _ ss: [Int], _ dst: UnsafeMutablePointer<E>, _ ds: [Int], _ shape: [Int], _ k: Int) {
    let last = shape.count - 1
    let rows = shape[k], cols = shape[last]
    let srcCol = ss[last], dstRow = ds[k]
    let outerDims = (0..<last).filter { $0 != k }
    let outerShape = outerDims.map { shape[$0] }
    let tile = 32
    forEachOffsetPair(outerShape, outerDims.map { ss[$0] }, outerDims.map { ds[$0] }) { so, dO in
        var i0 = 0
        while i0 < rows {
            let i1 = min(i0 + tile, rows)
            var j0 = 0
            while j0 < cols {
                let j1 = min(j0 + tile, cols)
                for i in i0..<i1 {
                    let s = src + so + i
                    let d = dst + dO + i * dstRow
                    for j in j0..<j1 { d[j] = s[j * srcCol] }
                }
                j0 = j1
            }
            i0 = i1
        }
    }
}

/// Visits every index of `shape` in row-major order with its offsets under two stride sets.
@inline(__always)
func forEachOffsetPair(_ shape: [Int], _ a: [Int], _ b: [Int], _ body: (Int, Int) -> Void) {
    guard let n = elementCount(shape), n > 0 else { return }
    var index = [Int](repeating: 0, count: shape.count)
    var oa = 0, ob = 0
    for _ in 0..<n {
        body(oa, ob)
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            oa += a[d]
            ob += b[d]
            if index[d] < shape[d] { break }
            oa -= a[d] * shape[d]
            ob -= b[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
}

/// Copies `src` into a new contiguous tensor of `shape`, reading element
/// `srcOffset + sum(i[d] * srcStrides[d])` for output index `i`.
func stridedGather(_ src: Tensor, offset: Int, strides: [Int], shape: [Int]) throws -> Tensor {
    try onStringIndices(src) { src in
        let out = try Tensor.allocate(src.dtype, shape)
        try stridedCopy(
            from: src, offset: offset, strides: strides, into: out, offset: 0,
            strides: contiguousStrides(shape), shape: shape)
        return out
    }
}

/// Builds a new tensor of `shape` where output index `i` reads source element
/// `sum(maps[d][i[d]])` (maps hold offsets already scaled by the source strides):
/// Pad's edge/reflect/wrap modes and nearest-neighbour resizing. `makeMaps` runs once the
/// output is allocated, so maps sized by a shape too large to exist are never built.
func indexMapGather(_ src: Tensor, shape: [Int], maps makeMaps: () throws -> [[Int]]) throws -> Tensor {
    try onStringIndices(src) { src in
        let out = try Tensor.allocate(src.dtype, shape)
        guard let n = elementCount(shape), n > 0 else { return out }
        let maps = try makeMaps()
        struct Copy: ElementWidthVisitor {
            let src: Tensor, dst: Tensor, maps: [[Int]], shape: [Int]
            func visit<E>(_: E.Type) throws {
                guard let s = src.elementBase(E.self), let d = dst.mutableElementBase(E.self) else { return }
                let rank = shape.count
                if rank == 0 {
                    d.pointee = s.pointee
                    return
                }
                let inner = maps[rank - 1]
                let outer = shape.dropLast().reduce(1, *)
                var index = [Int](repeating: 0, count: rank)
                var base = 0
                for r in 0..<(rank - 1) { base += maps[r][0] }
                var o = 0
                for _ in 0..<outer {
                    inner.withUnsafeBufferPointer { m in
                        for k in 0..<m.count { d[o + k] = s[base + m[k]] }
                    }
                    o += inner.count
                    var r = rank - 2
                    while r >= 0 {
                        base -= maps[r][index[r]]
                        index[r] += 1
                        if index[r] < shape[r] {
                            base += maps[r][index[r]]
                            break
                        }
                        index[r] = 0
                        base += maps[r][0]
                        r -= 1
                    }
                }
            }
        }
        try dispatchWidth(src.dtype, Copy(src: src, dst: out, maps: maps, shape: shape))
        return out
    }
}

/// Fills every element of `t` (library-owned) with the first element of `value`
/// (same dtype), or zero bytes when `value` is nil.
func fillElements(_ t: Tensor, with value: Tensor?) throws {
    guard t.elementCount > 0 else { return }
    guard let v = value, v.elementCount > 0 else {
        let raw = t.storage.mutableBytes
        if let b = raw.baseAddress { b.initializeMemory(as: UInt8.self, repeating: 0, count: raw.count) }
        return
    }
    struct Fill: ElementWidthVisitor {
        let t: Tensor, v: Tensor
        func visit<E>(_: E.Type) throws {
            guard let s = v.elementBase(E.self), let d = t.mutableElementBase(E.self) else { return }
            d.update(repeating: s.pointee, count: t.elementCount)
        }
    }
    try dispatchWidth(t.dtype, Fill(t: t, v: v))
}

/// Integer values of a shape-like input (int32/int64), as Int.
func intValues(_ t: Tensor, _ what: String) throws -> [Int] {
    guard let v = t.int64Values() else { throw kernelError("\(what) must be an integer tensor, got \(t.dtype)") }
    return v.map { Int(truncatingIfNeeded: $0) }
}

/// Converts between bfloat16 bits and Float (round to nearest even, NaN kept quiet).
enum BFloat16Bits {
    @inline(__always) static func toFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }
    @inline(__always) static func fromFloat(_ f: Float) -> UInt16 {
        if f.isNaN { return 0x7FC0 }
        let bits = f.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}

/// A one-element tensor of `dtype` holding `value` (Pad's and ConstantOfShape's fill values).
func scalarTensor(_ dtype: DType, _ value: Double) throws -> Tensor {
    struct Make: NumericVisitor {
        let value: Double
        func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor { Tensor.from([T(fromDouble: value)], shape: []) }
    }
    if let t = try dispatchNumeric(dtype, Make(value: value)) { return t }
    switch dtype {
    case .bool: return Tensor.from([value != 0], shape: [])
    case .bfloat16: return Tensor(dtype: .bfloat16, shape: [], values: [BFloat16Bits.fromFloat(Float(value))])
    case .string: return Tensor(shape: [], strings: [Array(String(value).utf8)])
    default: throw kernelError("cannot make a \(dtype) value")
    }
}
