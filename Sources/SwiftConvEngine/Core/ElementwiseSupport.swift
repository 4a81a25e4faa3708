import SwiftConvIR

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

// MARK: - Vectorizable float32 transcendental functions

/// `exp(x)` for float32 in straight-line arithmetic (Cody-Waite range reduction and the
/// Cephes polynomial, about 1 ulp), so loops calling it vectorize, unlike libm's `expf`.
/// Inputs above 88 give exp(88), inputs below -87.3 (and -inf) give 0, NaN gives NaN.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let xc = x < -87.3 ? -87.3 : (x > 88 ? 88 : x)
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits.
    let t = xc * 1.44269504088896341 + 12582912
    let n = t - 12582912
    let r = xc - n * 0.693359375 - n * -2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let e = p * r * r + r + 1
    let k = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
    let y = e * Float(bitPattern: UInt32(bitPattern: (k &+ 127) &<< 23))
    return x < -87.3 ? 0 : y
}

/// The logistic function via `fastExp` (absolute error below 1e-7).
@inline(__always)
func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

/// `tanh(x)`: a rational approximation near zero (where `1 - 2/(e^2x + 1)` would cancel),
/// `fastExp` elsewhere; absolute error below 1e-7.
@inline(__always)
func fastTanh(_ x: Float) -> Float {
    let a = x.magnitude
    let s = a < 1 ? x : 1
    let x2 = s * s
    var p: Float = -2.76076847742355e-16
    p = p * x2 + 2.00018790482477e-13
    p = p * x2 + -8.60467152213735e-11
    p = p * x2 + 5.12229709037114e-08
    p = p * x2 + 1.48572235717979e-05
    p = p * x2 + 6.37261928875436e-04
    p = p * x2 + 4.89352455891786e-03
    var q: Float = 1.19825839466702e-06
    q = q * x2 + 1.18534705686654e-04
    q = q * x2 + 2.26843463243900e-03
    q = q * x2 + 4.89352518554385e-03
    let small = p * s / q
    let big = 1 - 2 / (fastExp(2 * a) + 1)
    return a < 0.625 ? small : (x < 0 ? -big : big)
}

/// `p[i] = sigmoid(p[i])` over `n` floats (a loop the compiler vectorizes).
func sigmoidInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = fastSigmoid(p[i]) }
}

/// `p[i] = tanh(p[i])` over `n` floats (a loop the compiler vectorizes).
func tanhInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = fastTanh(p[i]) }
}

/// `erf(x)` for float32 in straight-line arithmetic, so loops calling it vectorize (libm's
/// `erff` per element made Erf 13x onnxruntime's time). Below 0.9 an odd polynomial
/// x·P(x²); above, 1 - e^(-x²)·Q(1/(1 + x/2)), with `fastExp`. Both least-squares fits made
/// for this function; within 2.5 ulp and 1.3e-7 absolute of the exact erf. ±inf gives ±1,
/// NaN gives NaN, the sign of zero is kept.
@inline(__always)
func fastErf(_ x: Float) -> Float {
    let m = x.magnitude
    // erf(3.95) rounds to 1 in float32; a NaN fails the comparison and stays NaN.
    let a = m > 3.95 ? 3.95 : m
    let a2 = a * a
    var p: Float = -6.111437687650323e-4
    p = p * a2 + 5.016260780394077e-3
    p = p * a2 + -2.678198367357254e-2
    p = p * a2 + 1.1282230913639069e-1
    p = p * a2 + -3.761253356933594e-1
    p = p * a2 + 1.1283791065216064
    let small = p * a
    let t = 1 / (1 + 0.5 * a)
    var q: Float = -2.2857071459293365e-1
    q = q * t + 6.301568150520325e-1
    q = q * t + -5.6856587529182434e-2
    q = q * t + 3.9238542318344116e-1
    q = q * t + 2.6097866892814636e-1
    q = q * t + 1.6750937793403864e-3
    let large = 1 - q * fastExp(-a2)
    let r = a < 0.9 ? small : large
    return Float(bitPattern: r.bitPattern | (x.bitPattern & 0x8000_0000))
}

/// Exact GELU, `x/2 · (1 + erf(x/√2))`, via `fastErf`.
@inline(__always)
func fastGelu(_ x: Float) -> Float { 0.5 * x * (1 + fastErf(x * 0.707106781186547524)) }

/// GELU's tanh approximation, `x/2 · (1 + tanh(z))` with `z = √(2/π)·(x + 0.044715x³)`,
/// computed as `x / (1 + e^(-2z))` (the same value), which does not cancel where tanh(z)
/// is near -1.
@inline(__always)
func fastGeluTanh(_ x: Float) -> Float {
    x / (1 + fastExp(-1.59576912160573071 * (x + 0.044715 * x * x * x)))
}

// MARK: - SIMD float32 reductions

/// The largest of `n >= 1` floats, eight lanes at a time (a NaN may be skipped, as
/// onnxruntime's vectorized max does).
func maxFloat32(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0
    var best = p[0]
    if n >= 8 {
        var acc = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        i = 8
        while i + 8 <= n {
            acc = pointwiseMax(acc, UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        best = acc.max()
    }
    while i < n {
        if p[i] > best { best = p[i] }
        i += 1
    }
    return best
}

/// The sum of `n` floats in eight partial sums (the order onnxruntime's vectorized sums use,
/// not the sequential one).
func sumFloat32(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n {
        s += p[i]
        i += 1
    }
    return s
}
