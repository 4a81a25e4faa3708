import SwiftConvIR
import SwiftConvKernels

// Shared machinery of the elementwise, activation, logical and reduction kernels:
// dtype dispatch split by float/integer, "lanes" that compute float16/bfloat16 in Float,
// and broadcast loops that coalesce dimensions and split work across threads.

/// Elements below this count run on the calling thread.
let elementwiseGrain = 1 << 15

/// A visitor with separate float and integer paths (integer ops wrap, float ops do not).
protocol SplitNumericVisitor {
    associatedtype Result
    func float<T: FloatScalar>(_ type: T.Type) throws -> Result
    func integer<T: IntegerScalar>(_ type: T.Type) throws -> Result
}

/// Dispatches on float32/64, float16 and the eight integer dtypes; nil for others.
func dispatchSplit<V: SplitNumericVisitor>(_ dtype: DType, _ v: V) throws -> V.Result? {
    switch dtype {
    case .float32: return try v.float(Float.self)
    case .float64: return try v.float(Double.self)
    case .float16: return try v.float(Float16.self)
    case .int8: return try v.integer(Int8.self)
    case .int16: return try v.integer(Int16.self)
    case .int32: return try v.integer(Int32.self)
    case .int64: return try v.integer(Int64.self)
    case .uint8: return try v.integer(UInt8.self)
    case .uint16: return try v.integer(UInt16.self)
    case .uint32: return try v.integer(UInt32.self)
    case .uint64: return try v.integer(UInt64.self)
    default: return nil
    }
}

/// How a float dtype is stored and in which type it is computed: float16 and bfloat16
/// compute in Float (as onnxruntime does), so a chain of operations rounds only once.
protocol FloatLane {
    associatedtype Storage
    associatedtype Compute: FloatScalar
    static func load(_ s: Storage) -> Compute
    static func store(_ c: Compute) -> Storage
}

struct NativeLane<T: FloatScalar>: FloatLane {
    @inline(__always) static func load(_ s: T) -> T { s }
    @inline(__always) static func store(_ c: T) -> T { c }
}

struct HalfLane: FloatLane {
    @inline(__always) static func load(_ s: Float16) -> Float { Float(s) }
    @inline(__always) static func store(_ c: Float) -> Float16 { Float16(c) }
}

struct BFloat16Lane: FloatLane {
    @inline(__always) static func load(_ s: UInt16) -> Float { DTypeConversion.float(bfloat16: s) }
    @inline(__always) static func store(_ c: Float) -> UInt16 { DTypeConversion.bfloat16Bits(c) }
}

/// Runs generic code for the lane of a float dtype.
protocol FloatLaneVisitor {
    associatedtype Result
    func visit<L: FloatLane>(_ lane: L.Type) throws -> Result
}

/// Dispatches float32, float64, float16 and bfloat16; nil for other dtypes.
func dispatchFloatLane<V: FloatLaneVisitor>(_ dtype: DType, _ v: V) throws -> V.Result? {
    switch dtype {
    case .float32: return try v.visit(NativeLane<Float>.self)
    case .float64: return try v.visit(NativeLane<Double>.self)
    case .float16: return try v.visit(HalfLane.self)
    case .bfloat16: return try v.visit(BFloat16Lane.self)
    default: return nil
    }
}

/// `out[i] = f(x[i])` over a new tensor of `outType`, split across threads when large.
func unaryMap<A, R>(_ x: Tensor, _: A.Type, _ outType: DType, _ threads: ThreadPool, _ f: (A) -> R) throws -> Tensor {
    let out = try Tensor.allocate(outType, x.shape)
    x.withElements(as: A.self) { px in
        out.withMutableElements(as: R.self) { po in
            let n = min(po.count, px.count)
            threads.parallelFor(n, grain: elementwiseGrain) { range in
                for i in range { po[i] = f(px[i]) }
            }
        }
    }
    return out
}

/// Output shape and per-input strides of a broadcast, with adjacent dimensions merged
/// where every input walks them contiguously (or not at all), so inner runs are long.
struct BroadcastLayout {
    /// Coalesced output shape; never empty (a scalar is [1]).
    let shape: [Int]
    /// Per input, element strides over `shape` (0 where broadcast).
    let strides: [[Int]]
    let total: Int

    init(outShape: [Int], inputShapes: [[Int]]) {
        var shape = [Int]()
        var strides = [[Int]](repeating: [], count: inputShapes.count)
        let full = inputShapes.map { broadcastStrides($0, to: outShape) }
        for d in 0..<outShape.count where outShape[d] != 1 {
            if let last = shape.last,
                (0..<full.count).allSatisfy({ strides[$0].last! == full[$0][d] * outShape[d] })
            {
                shape[shape.count - 1] = last * outShape[d]
                for k in 0..<full.count { strides[k][strides[k].count - 1] = full[k][d] }
            } else {
                shape.append(outShape[d])
                for k in 0..<full.count { strides[k].append(full[k][d]) }
            }
        }
        if shape.isEmpty {
            shape = [1]
            strides = strides.map { _ in [0] }
        }
        self.shape = shape
        self.strides = strides
        self.total = outShape.reduce(1, *)
    }

    var inner: Int { shape[shape.count - 1] }
    var rows: Int { inner == 0 ? 0 : total / inner }

    /// Offset of input `k` at the start of row `row` (rows run along the last dimension).
    @inline(__always)
    func offset(row: Int, input k: Int) -> Int {
        var r = row, off = 0
        let s = strides[k]
        var d = shape.count - 2
        while d >= 0 {
            let n = shape[d]
            off += (r % n) * s[d]
            r /= n
            d -= 1
        }
        return off
    }
}

/// `out[i] = f(a[i], b[i])` with numpy broadcasting into a new tensor of `outType`.
func binaryMap<A, B, R>(
    _ a: Tensor, _ b: Tensor, _: A.Type, _: B.Type, _ outType: DType,
    _ threads: ThreadPool, _ f: (A, B) -> R
) throws -> Tensor {
    let shape = a.shape == b.shape ? a.shape : try broadcastShapes(a.shape, b.shape)
    let out = try Tensor.allocate(outType, shape)
    a.withElements(as: A.self) { pa in
        b.withElements(as: B.self) { pb in
            out.withMutableElements(as: R.self) { po in
                let n = po.count
                guard n > 0 else { return }
                if pa.count == n && pb.count == n {
                    threads.parallelFor(n, grain: elementwiseGrain) { range in
                        for i in range { po[i] = f(pa[i], pb[i]) }
                    }
                } else if pb.count == 1 && pa.count == n {
                    let y = pb[0]
                    threads.parallelFor(n, grain: elementwiseGrain) { range in
                        for i in range { po[i] = f(pa[i], y) }
                    }
                } else if pa.count == 1 && pb.count == n {
                    let x = pa[0]
                    threads.parallelFor(n, grain: elementwiseGrain) { range in
                        for i in range { po[i] = f(x, pb[i]) }
                    }
                } else {
                    let layout = BroadcastLayout(outShape: shape, inputShapes: [a.shape, b.shape])
                    let inner = layout.inner
                    let da = layout.strides[0][layout.shape.count - 1]
                    let db = layout.strides[1][layout.shape.count - 1]
                    threads.parallelFor(layout.rows, grain: max(1, elementwiseGrain / max(inner, 1))) { rows in
                        for r in rows {
                            var ia = layout.offset(row: r, input: 0), ib = layout.offset(row: r, input: 1)
                            let o = r * inner
                            if da == 1 && db == 0 {
                                let y = pb[ib]
                                for k in 0..<inner { po[o + k] = f(pa[ia + k], y) }
                            } else if da == 0 && db == 1 {
                                let x = pa[ia]
                                for k in 0..<inner { po[o + k] = f(x, pb[ib + k]) }
                            } else {
                                for k in 0..<inner {
                                    po[o + k] = f(pa[ia], pb[ib])
                                    ia += da
                                    ib += db
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// `out[i] = f(a[i], b[i], c[i])` with numpy broadcasting of three inputs.
func ternaryMap<A, B, C, R>(
    _ a: Tensor, _ b: Tensor, _ c: Tensor, _: A.Type, _: B.Type, _: C.Type,
    _ outType: DType, _ threads: ThreadPool, _ f: (A, B, C) -> R
) throws -> Tensor {
    let shape = try broadcastShapes([a.shape, b.shape, c.shape])
    let out = try Tensor.allocate(outType, shape)
    let layout = BroadcastLayout(outShape: shape, inputShapes: [a.shape, b.shape, c.shape])
    a.withElements(as: A.self) { pa in
        b.withElements(as: B.self) { pb in
            c.withElements(as: C.self) { pc in
                out.withMutableElements(as: R.self) { po in
                    guard po.count > 0 else { return }
                    let inner = layout.inner
                    let last = layout.shape.count - 1
                    let da = layout.strides[0][last], db = layout.strides[1][last], dc = layout.strides[2][last]
                    threads.parallelFor(layout.rows, grain: max(1, elementwiseGrain / max(inner, 1))) { rows in
                        for r in rows {
                            var ia = layout.offset(row: r, input: 0)
                            var ib = layout.offset(row: r, input: 1)
                            var ic = layout.offset(row: r, input: 2)
                            let o = r * inner
                            for k in 0..<inner {
                                po[o + k] = f(pa[ia], pb[ib], pc[ic])
                                ia += da
                                ib += db
                                ic += dc
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Converts a bfloat16 tensor to float32 (other tensors are returned as they are).
func widenedBFloat16(_ t: Tensor) throws -> Tensor {
    guard t.dtype == .bfloat16 else { return t }
    return try unaryMap(t, UInt16.self, .float32, ThreadPool.serial) { DTypeConversion.float(bfloat16: $0) }
}

/// Converts a float32 tensor back to bfloat16.
func narrowedToBFloat16(_ t: Tensor) throws -> Tensor {
    try unaryMap(t, Float.self, .bfloat16, ThreadPool.serial) { DTypeConversion.bfloat16Bits($0) }
}

extension Array where Element == Value {
    /// Output `i` of a kernel's result as a tensor.
    func outputTensor(_ i: Int) throws -> Tensor {
        guard i < count, case .tensor(let t) = self[i] else { throw kernelError("output \(i) is not a tensor") }
        return t
    }
}

extension ThreadPool {
    /// A pool that runs everything on the calling thread.
    static let serial = ThreadPool(threads: 1)
}

// MARK: - float32 fast paths

/// `out = a op b` for float32 with numpy broadcasting, written against raw pointers with
/// the op and the stride pattern chosen outside the loops, so each inner loop is a plain
/// vectorizable pass (the generic `binaryMap` reaches here only through protocol dispatch).
func binaryFloat32(_ op: BinaryArithmetic.Op, _ a: Tensor, _ b: Tensor, _ threads: ThreadPool) throws -> Tensor {
    let shape = a.shape == b.shape ? a.shape : try broadcastShapes(a.shape, b.shape)
    let out = try Tensor.allocate(.float32, shape)
    let n = out.elementCount
    guard n > 0 else { return out }
    let pa = a.floatPointer, pb = b.floatPointer, po = out.mutableFloatPointer
    let na = a.elementCount, nb = b.elementCount
    if (na == n || na == 1) && (nb == n || nb == 1) {
        let sa = na == n ? 1 : 0, sb = nb == n ? 1 : 0
        threads.parallelFor(n, grain: elementwiseGrain) { r in
            floatBinaryRun(op, pa + r.lowerBound * sa, sa, pb + r.lowerBound * sb, sb, po + r.lowerBound, r.count)
        }
        return out
    }
    // One operand repeated along the other's leading axes (a bias [64] added to [1, 32, 64]):
    // each row of the larger against the whole smaller one, no layout to compute.
    if nb > 0, shape == a.shape, isTrailingBlock(b.shape, of: a.shape) {
        threads.parallelFor(n / nb, grain: max(1, elementwiseGrain / nb)) { rows in
            for r in rows { floatBinaryRun(op, pa + r * nb, 1, pb, 1, po + r * nb, nb) }
        }
        return out
    }
    if na > 0, shape == b.shape, isTrailingBlock(a.shape, of: b.shape) {
        threads.parallelFor(n / na, grain: max(1, elementwiseGrain / na)) { rows in
            for r in rows { floatBinaryRun(op, pa, 1, pb + r * na, 1, po + r * na, na) }
        }
        return out
    }
    let layout = BroadcastLayout(outShape: shape, inputShapes: [a.shape, b.shape])
    let inner = layout.inner, last = layout.shape.count - 1
    let da = layout.strides[0][last], db = layout.strides[1][last]
    threads.parallelFor(layout.rows, grain: max(1, elementwiseGrain / max(inner, 1))) { rows in
        for r in rows {
            let ia = layout.offset(row: r, input: 0), ib = layout.offset(row: r, input: 1)
            let o = po + r * inner
            if da <= 1 && db <= 1 {
                floatBinaryRun(op, pa + ia, da, pb + ib, db, o, inner)
            } else {
                for k in 0..<inner { floatBinaryRun(op, pa + ia + k * da, 0, pb + ib + k * db, 0, o + k, 1) }
            }
        }
    }
    return out
}

/// Whether `small`, without its leading 1s, is the trailing dimensions of `big`: then
/// broadcasting repeats all of `small` once per index of `big`'s leading axes.
func isTrailingBlock(_ small: [Int], of big: [Int]) -> Bool {
    var lead = 0
    while lead < small.count && small[lead] == 1 { lead += 1 }
    let tail = small.count - lead
    guard tail <= big.count else { return false }
    for d in 0..<tail where small[lead + d] != big[big.count - tail + d] { return false }
    return true
}

/// One run of `n` outputs; `sx`/`sy` are 1 for a contiguous operand, 0 for a repeated one.
@inline(__always)
func floatBinaryRun(
    _ op: BinaryArithmetic.Op, _ x: UnsafePointer<Float>, _ sx: Int, _ y: UnsafePointer<Float>, _ sy: Int,
    _ o: UnsafeMutablePointer<Float>, _ n: Int
) {
    switch op {
    case .add: floatBinaryLoop(x, sx, y, sy, o, n) { $0 + $1 }
    case .sub: floatBinaryLoop(x, sx, y, sy, o, n) { $0 - $1 }
    case .mul: floatBinaryLoop(x, sx, y, sy, o, n) { $0 * $1 }
    case .div: floatBinaryLoop(x, sx, y, sy, o, n) { $0 / $1 }
    }
}

@inline(__always)
private func floatBinaryLoop(
    _ x: UnsafePointer<Float>, _ sx: Int, _ y: UnsafePointer<Float>, _ sy: Int,
    _ o: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Float, Float) -> Float
) {
    if sx == 1 && sy == 1 {
        for i in 0..<n { o[i] = f(x[i], y[i]) }
    } else if sx == 1 {
        let c = y[0]
        for i in 0..<n { o[i] = f(x[i], c) }
    } else if sy == 1 {
        let c = x[0]
        for i in 0..<n { o[i] = f(c, y[i]) }
    } else {
        let v = f(x[0], y[0])
        for i in 0..<n { o[i] = v }
    }
}

/// `out[i] = f(x[i])` over a float32 tensor, split across threads when large; `f` is
/// inlined into a pointer loop.
@inline(__always)
func unaryFloat32(_ x: Tensor, _ threads: ThreadPool, _ f: (Float) -> Float) throws -> Tensor {
    let out = try Tensor.allocate(.float32, x.shape)
    let n = out.elementCount
    let px = x.floatPointer, po = out.mutableFloatPointer
    threads.parallelFor(n, grain: elementwiseGrain) { r in
        for i in r { po[i] = f(px[i]) }
    }
    return out
}

// MARK: - float32 transcendental loops

/// `p[i] = sigmoid(p[i])` over `n` floats, with this CPU's kernel (`KernelTable.sigmoid`).
func sigmoidInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { KernelTable.best.sigmoid(p, p, n) }

/// `p[i] = tanh(p[i])` over `n` floats, with this CPU's kernel (`KernelTable.tanh`).
func tanhInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { KernelTable.best.tanh(p, p, n) }

/// `out[i] = f(x[i])` over a float32 tensor with a `KernelTable` loop, one call per thread's run.
func unaryFloat32(_ x: Tensor, _ threads: ThreadPool, kernel: KernelTable.FloatLoop) throws -> Tensor {
    let out = try Tensor.allocate(.float32, x.shape)
    let px = x.floatPointer, po = out.mutableFloatPointer
    threads.parallelFor(out.elementCount, grain: elementwiseGrain) { r in
        kernel(px + r.lowerBound, po + r.lowerBound, r.count)
    }
    return out
}
