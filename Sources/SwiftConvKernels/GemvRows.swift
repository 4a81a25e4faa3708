/// Matrix-vector products over contiguous rows, the recurrent cells' gate pre-activations
/// at batch 1 (`KernelTable.gemvRows`).
public enum GemvRows {
    /// `out[n] = add[n] + bias[n] + dot(m[n, 0..<k], x)` for `rows` contiguous rows of length
    /// `k`: four rows at a time with eight-lane accumulators, so each load of `x` feeds four
    /// multiply-adds.
    public static func portable(
        _ m: UnsafePointer<Float>, rows: Int, k: Int, x: UnsafePointer<Float>, add: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        let body = k & ~7
        var n = 0
        while n + 4 <= rows {
            let r0 = m + n * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k
            var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0
            var i = 0
            while i < body {
                let v = load(x + i)
                a0 += load(r0 + i) * v
                a1 += load(r1 + i) * v
                a2 += load(r2 + i) * v
                a3 += load(r3 + i) * v
                i += 8
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while i < k {
                s0 += r0[i] * x[i]
                s1 += r1[i] * x[i]
                s2 += r2[i] * x[i]
                s3 += r3[i] * x[i]
                i += 1
            }
            out[n] = add[n] + bias[n] + s0
            out[n + 1] = add[n + 1] + bias[n + 1] + s1
            out[n + 2] = add[n + 2] + bias[n + 2] + s2
            out[n + 3] = add[n + 3] + bias[n + 3] + s3
            n += 4
        }
        while n < rows {
            var s: Float = 0
            for i in 0..<k { s += m[n * k + i] * x[i] }
            out[n] = add[n] + bias[n] + s
            n += 1
        }
    }
}
