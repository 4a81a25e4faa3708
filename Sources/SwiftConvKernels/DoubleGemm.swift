/// Double-precision matrix multiply, portable Swift: the float64 path of the convolution and
/// recurrent ops, where exactness matters more than speed. Rows of C split over threads.
extension Gemm {
    /// `C = alpha * A * B + beta * C` with A `m x k`, B `k x n`, C row-major with row stride
    /// `ldc`; each element of C is one sum in depth order. `beta` 0 never reads C.
    public static func dgemm(
        m: Int, n: Int, k: Int, alpha: Double = 1, a: StridedMatrix<Double>, b: StridedMatrix<Double>,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int,
        parallel: ParallelFor = serialFor
    ) {
        if m <= 0 || n <= 0 { return }
        parallel(m) { rows in
            for i in rows {
                let crow = c + i * ldc
                let arow = a.base + i * a.rowStride
                if b.rowStride == 1 {
                    // Columns of B contiguous: one dot product per element.
                    for j in 0..<n {
                        let bcol = b.base + j * b.colStride
                        var s = 0.0
                        for p in 0..<k { s += arow[p * a.colStride] * bcol[p] }
                        crow[j] = beta == 0 ? alpha * s : alpha * s + beta * crow[j]
                    }
                    continue
                }
                // Rows of B swept into an accumulator row, keeping the same summation order.
                withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { acc in
                    let t = acc.baseAddress!
                    t.initialize(repeating: 0, count: n)
                    for p in 0..<k {
                        let av = arow[p * a.colStride]
                        let brow = b.base + p * b.rowStride
                        if b.colStride == 1 {
                            for j in 0..<n { t[j] += av * brow[j] }
                        } else {
                            for j in 0..<n { t[j] += av * brow[j * b.colStride] }
                        }
                    }
                    for j in 0..<n { crow[j] = beta == 0 ? alpha * t[j] : alpha * t[j] + beta * crow[j] }
                }
            }
        }
    }
}
