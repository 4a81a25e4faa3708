/// Int32 dot products of int16 operands for the quantized TFLite kernels.
///
/// The kernels store activations and weights as int16 values already offset by their zero
/// points (`x - zx`, `w - zw`, each within ±255), so a product sum needs no row-sum
/// corrections and padding taps are plain zeros. Integer sums are exact in any order, so the
/// AVX2 slots and these portable loops give identical accumulators.
public enum IntegerGemm {
    /// `k` of a packed row: rounded up to a multiple of 16 (the AVX2 loop's step), the tail
    /// zero-filled.
    public static func paddedDepth(_ k: Int) -> Int { (k + 15) & ~15 }

    /// `out[i * ldo + j] = Σ_t x[i * ldx + t] * w[j * ldw + t]` for i < m, j < n, t < k.
    public static func portableGemmNT(
        m: Int, n: Int, k: Int, x: UnsafePointer<Int16>, ldx: Int, w: UnsafePointer<Int16>, ldw: Int,
        out: UnsafeMutablePointer<Int32>, ldo: Int
    ) {
        for i in 0..<m {
            let xr = x + i * ldx
            for j in 0..<n {
                let wr = w + j * ldw
                var s: Int32 = 0
                for t in 0..<k { s &+= Int32(xr[t]) &* Int32(wr[t]) }
                out[i * ldo + j] = s
            }
        }
    }

    /// `acc[c] = Σ_t x[xOffsets[t] + c] * f[fOffsets[t] + c]` for c < channels.
    public static func portableDepthwisePixel(
        channels: Int, taps: Int, x: UnsafePointer<Int16>, xOffsets: UnsafePointer<Int>, f: UnsafePointer<Int16>,
        fOffsets: UnsafePointer<Int>, acc: UnsafeMutablePointer<Int32>
    ) {
        for c in 0..<channels { acc[c] = 0 }
        for t in 0..<taps {
            let xr = x + xOffsets[t], fr = f + fOffsets[t]
            for c in 0..<channels { acc[c] &+= Int32(xr[c]) &* Int32(fr[c]) }
        }
    }
}

extension IntegerGemm {
    /// TFLite's per-channel requantization into 8-bit outputs:
    /// `out[i] = clamp(M(acc[i] + bias[i]) + zeroPoint, lo, hi)` as a byte (an int8's or uint8's
    /// bit pattern), M being `FixedPoint.multiplyByQuantizedMultiplier` with `mantissa[i]`,
    /// `shift[i]`, or its single-rounding variant.
    public static func portableRequantize(
        count: Int, acc: UnsafePointer<Int32>, bias: UnsafePointer<Int32>?, mantissa: UnsafePointer<Int32>,
        shift: UnsafePointer<Int32>, singleRounding: Bool, zeroPoint: Int32, lo: Int32, hi: Int32,
        out: UnsafeMutablePointer<UInt8>
    ) {
        for i in 0..<count {
            let a = acc[i] &+ (bias?[i] ?? 0)
            let scaled =
                singleRounding
                ? FixedPoint.multiplyByQuantizedMultiplierSingleRounding(a, mantissa[i], Int(shift[i]))
                : FixedPoint.multiplyByQuantizedMultiplier(a, mantissa[i], Int(shift[i]))
            out[i] = UInt8(truncatingIfNeeded: min(max(scaled &+ zeroPoint, lo), hi))
        }
    }
}

/// TFLite's quantized 8-bit ADD/SUB parameters (reference `AddElementwise`): input offsets, the
/// common left shift, the two input multipliers and the output one, output zero point, clamp.
public struct QuantizedAdd: Sendable {
    public var offset1: Int32, offset2: Int32, leftShift: Int32
    public var m1: FixedPoint.Multiplier, m2: FixedPoint.Multiplier, mOut: FixedPoint.Multiplier
    public var zeroPoint: Int32, lo: Int32, hi: Int32

    public init(
        offset1: Int32, offset2: Int32, leftShift: Int32, m1: FixedPoint.Multiplier, m2: FixedPoint.Multiplier,
        mOut: FixedPoint.Multiplier, zeroPoint: Int32, lo: Int32, hi: Int32
    ) {
        (self.offset1, self.offset2, self.leftShift) = (offset1, offset2, leftShift)
        (self.m1, self.m2, self.mOut) = (m1, m2, mOut)
        (self.zeroPoint, self.lo, self.hi) = (zeroPoint, lo, hi)
    }

    /// One output from stored inputs `p`, `q` (already widened).
    @inlinable @inline(__always)
    public func apply(_ p: Int32, _ q: Int32) -> Int32 {
        let s1 = m1.apply((p &+ offset1) &<< leftShift)
        let s2 = m2.apply((q &+ offset2) &<< leftShift)
        return min(max(mOut.apply(s1 &+ s2) &+ zeroPoint, lo), hi)
    }

    /// Same-shape operands of `count` bytes (int8 when `signed`, else uint8) into `out`.
    public func portableRun(
        count: Int, x: UnsafePointer<UInt8>, y: UnsafePointer<UInt8>, signed: Bool, out: UnsafeMutablePointer<UInt8>
    ) {
        for i in 0..<count {
            let p = signed ? Int32(Int8(bitPattern: x[i])) : Int32(x[i])
            let q = signed ? Int32(Int8(bitPattern: y[i])) : Int32(y[i])
            out[i] = UInt8(truncatingIfNeeded: apply(p, q))
        }
    }
}
