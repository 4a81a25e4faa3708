import Glibc

// The portable float32 transcendental loops of `KernelTable.generic` (exp, sigmoid, tanh,
// erf, GELU, Swish, softmax rows), in straight-line arithmetic the compiler vectorizes
// (libm's expf/tanhf/erff per element made Sigmoid 10x and Erf 13x onnxruntime's time).
// elementwise_avx2.c computes the same formulas eight lanes at a time.

/// The portable loops: `y[i] = f(x[i])` for `i < n`; `x` and `y` may be the same array.
enum Transcendental {
    static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = fastExp(x[i]) }
    }
    static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = fastSigmoid(x[i]) }
    }
    static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = fastTanh(x[i]) }
    }
    static func erf(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = fastErf(x[i]) }
    }
    static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = fastGelu(x[i]) }
    }
    static func geluTanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = fastGeluTanh(x[i]) }
    }
    /// `y[i] = x[i] * sigmoid(alpha * x[i])`.
    static func swish(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, alpha: Float) {
        for i in 0..<n {
            let v = x[i]
            y[i] = v * fastSigmoid(alpha * v)
        }
    }

    /// One softmax row: `y = exp(x - max) / sum` (`log`: `x - max - log(sum)`); the max and
    /// the sum in SIMD lanes, the exponentials landing in `y` first so that loop is a plain
    /// vectorized pass. `x` and `y` must not overlap.
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
        guard n > 0 else { return }
        let best = maxFloat32(x, n)
        for k in 0..<n { y[k] = fastExp(x[k] - best) }
        let sum = sumFloat32(y, n)
        if log {
            let logSum = Float(Glibc.logf(sum))
            for k in 0..<n { y[k] = x[k] - best - logSum }
        } else {
            let scale = 1 / sum
            for k in 0..<n { y[k] *= scale }
        }
    }
}

// MARK: - Scalar formulas (vectorized by the compiler in the loops above)

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

/// The logistic function via `fastExp` (absolute error below 1e-7). 0 below -88.72, where
/// e^-x overflows float32, as onnxruntime and the AVX2 loop give (so swish(-inf) is NaN there too).
@inline(__always)
func fastSigmoid(_ x: Float) -> Float { x < -88.72 ? 0 : 1 / (1 + fastExp(-x)) }

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
public func maxFloat32(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
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
public func sumFloat32(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
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
