import SwiftConvIR
import SwiftConvKernels

/// The element types the convolution and recurrent kernels compute in: float32 (float16
/// converts to it) and float64, each with its GEMM and convolution lowering.
protocol ComputeFloat: FloatScalar {
    /// `t` (any float dtype) as a tensor of this type, converted when it is not one already.
    static func converted(_ t: Tensor) throws -> Tensor
    /// `C = A * B + beta * C` (see `Gemm.sgemm`, `Gemm.dgemm`).
    static func gemm(
        m: Int, n: Int, k: Int, a: StridedMatrix<Self>, b: StridedMatrix<Self>, beta: Self,
        c: UnsafeMutablePointer<Self>, ldc: Int, parallel: ParallelFor)
    /// See `Im2Col.unfold`.
    static func unfold(
        _ x: UnsafePointer<Self>, channels: Int, _ window: ConvWindow, _ col: UnsafeMutablePointer<Self>,
        parallel: ParallelFor)
    /// See `Im2Col.fold`.
    static func fold(
        _ col: UnsafePointer<Self>, channels: Int, _ window: ConvWindow, _ y: UnsafeMutablePointer<Self>,
        parallel: ParallelFor)
}

extension Float: ComputeFloat {
    static func converted(_ t: Tensor) throws -> Tensor { try convertToFloat32(t) }
    static func gemm(
        m: Int, n: Int, k: Int, a: StridedMatrix<Float>, b: StridedMatrix<Float>, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int, parallel: ParallelFor
    ) {
        Gemm.sgemm(m: m, n: n, k: k, a: a, b: b, beta: beta, c: c, ldc: ldc, parallel: parallel)
    }
    static func unfold(
        _ x: UnsafePointer<Float>, channels: Int, _ window: ConvWindow, _ col: UnsafeMutablePointer<Float>,
        parallel: ParallelFor
    ) {
        KernelTable.best.im2col(x, channels, window, col, parallel)
    }
    static func fold(
        _ col: UnsafePointer<Float>, channels: Int, _ window: ConvWindow, _ y: UnsafeMutablePointer<Float>,
        parallel: ParallelFor
    ) {
        KernelTable.best.col2im(col, channels, window, y, parallel)
    }
}

extension Double: ComputeFloat {
    static func converted(_ t: Tensor) throws -> Tensor {
        switch t.dtype {
        case .float64: return t
        case .float32: return try mapUnary(t, Float.self, Double.self) { Double($0) }
        case .float16: return try mapUnary(t, Float16.self, Double.self) { Double($0) }
        default: throw kernelUnsupported("unsupported input type \(t.dtype)")
        }
    }
    static func gemm(
        m: Int, n: Int, k: Int, a: StridedMatrix<Double>, b: StridedMatrix<Double>, beta: Double,
        c: UnsafeMutablePointer<Double>, ldc: Int, parallel: ParallelFor
    ) {
        Gemm.dgemm(m: m, n: n, k: k, a: a, b: b, beta: beta, c: c, ldc: ldc, parallel: parallel)
    }
    static func unfold(
        _ x: UnsafePointer<Double>, channels: Int, _ window: ConvWindow, _ col: UnsafeMutablePointer<Double>,
        parallel: ParallelFor
    ) {
        Im2Col.unfold(x, channels: channels, window, col, parallel: parallel)
    }
    static func fold(
        _ col: UnsafePointer<Double>, channels: Int, _ window: ConvWindow, _ y: UnsafeMutablePointer<Double>,
        parallel: ParallelFor
    ) {
        Im2Col.fold(col, channels: channels, window, y, parallel: parallel)
    }
}

extension Tensor {
    /// Base pointer of the elements as `T`, which must be the tensor's element type (a dummy for empty tensors).
    func elementPointer<T: ComputeFloat>(as _: T.Type) -> UnsafePointer<T> {
        UnsafePointer(
            storage.bytes.baseAddress.map { $0.assumingMemoryBound(to: T.self) }
                ?? UnsafePointer(emptyElements.assumingMemoryBound(to: T.self)))
    }
    func mutableElementPointer<T: ComputeFloat>(as _: T.Type) -> UnsafeMutablePointer<T> {
        storage.mutableBytes.baseAddress.map { $0.assumingMemoryBound(to: T.self) } ?? emptyElements.assumingMemoryBound(to: T.self)
    }
}

/// What `elementPointer` returns for an empty tensor: never read or written.
private let emptyElements = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)

/// `withCheckedScratch` for elements of `T`: scratch sized by model data, as tensor storage.
func withCheckedElements<T: ComputeFloat, R>(_ count: Int, of _: T.Type, _ body: (UnsafeMutablePointer<T>) throws -> R) throws -> R {
    let storage = try TensorStorage(uninitializedByteCount: Checked.multiply(max(count, 1), MemoryLayout<T>.stride, "scratch memory"))
    return try withExtendedLifetime(storage) {
        try body(storage.mutableBytes.baseAddress!.assumingMemoryBound(to: T.self))
    }
}
