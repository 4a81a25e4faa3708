/// Products too small for the packed GEMM (attention heads: a few dozen rows and columns).
public enum SmallMatMul {
    /// `c = a * b` for row-major float32 matrices: row by row, each row of `b` scaled and
    /// added in a loop that vectorizes along `n`.
    public static func portable(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int
    ) {
        for i in 0..<m {
            let ci = c + i * n, ai = a + i * k
            ci.update(repeating: 0, count: n)
            for p in 0..<k {
                let av = ai[p], bp = b + p * n
                for j in 0..<n { ci[j] += av * bp[j] }
            }
        }
    }
}
