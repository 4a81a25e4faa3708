import SwiftConvIR
import SwiftConvKernels

#if canImport(Glibc)
    import Glibc
#endif

extension TensorStorage {
    /// Storage for `count` bytes whose contents the caller overwrites (no zeroing pass).
    public static func uninitialized(byteCount count: Int) throws -> TensorStorage {
        try TensorStorage(uninitializedByteCount: count)
    }
}

extension Tensor {
    /// A new library-owned tensor whose elements the caller fills in.
    ///
    /// The byte count is computed with checked arithmetic: a negative dimension, an element
    /// or byte count past `Int`, or a size past the run's limits throws `resourceExhausted`,
    /// so no kernel ever fills a buffer smaller than its shape says.
    public static func allocate(_ dtype: DType, _ shape: [Int], name: String = "") throws -> Tensor {
        let bytes = try checkedByteCount(dtype, shape)
        if dtype == .string {
            return Tensor(name: name, shape: shape, strings: Array(repeating: [], count: try checkedElementCount(shape)))
        }
        return Tensor(name: name, dtype: dtype, shape: shape, storage: try .uninitialized(byteCount: bytes))
    }

    /// A new tensor with every byte zero (0, 0.0, false).
    public static func zeros(_ dtype: DType, _ shape: [Int]) throws -> Tensor {
        let bytes = try checkedByteCount(dtype, shape)
        if dtype == .string {
            return Tensor(shape: shape, strings: Array(repeating: [], count: try checkedElementCount(shape)))
        }
        return Tensor(dtype: dtype, shape: shape, storage: try TensorStorage(zeroedByteCount: bytes))
    }

    /// A 0-d or 1-d tensor from Swift values.
    public static func from<T: TensorScalar>(_ values: [T], shape: [Int]? = nil) -> Tensor {
        Tensor(dtype: T.dtype, shape: shape ?? [values.count], values: values)
    }

    public var rank: Int { shape.count }

    /// Read access to the elements as `T` (the caller has checked `dtype`).
    @inlinable
    public func withElements<T, R>(as: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        let base = storage.bytes.baseAddress?.assumingMemoryBound(to: T.self)
        return try body(UnsafeBufferPointer(start: base, count: storage.bytes.count / MemoryLayout<T>.stride))
    }

    /// Write access to a tensor this run allocated.
    @inlinable
    public func withMutableElements<T, R>(as: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        let raw = storage.mutableBytes
        let base = raw.baseAddress?.assumingMemoryBound(to: T.self)
        return try body(UnsafeMutableBufferPointer(start: base, count: raw.count / MemoryLayout<T>.stride))
    }

    /// The same bytes under another shape (Reshape, Flatten, Squeeze): no copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var t = self
        t.shape = newShape
        t.name = ""
        return t
    }

    /// This tensor, or a copy in library memory when its bytes are not aligned for typed
    /// and SIMD loads (weights borrowed from a model file can start at any offset).
    public func alignedForKernels() -> Tensor {
        guard let base = storage.bytes.baseAddress, Int(bitPattern: base) % TensorStorage.alignment != 0 else { return self }
        var t = self
        t.storage = TensorStorage(copying: storage.bytes)
        return t
    }

    /// Scalar value of a one-element integer tensor.
    public func scalarInt() -> Int64? {
        guard elementCount == 1 else { return nil }
        return int64Values()?.first
    }
}

/// Row-major strides, in elements.
public func contiguousStrides(_ shape: [Int]) -> [Int] { Im2Col.rowMajorStrides(shape) }
