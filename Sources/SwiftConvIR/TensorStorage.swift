#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Immutable bytes of a tensor together with whatever keeps them alive.
///
/// Weights loaded from a file point into the memory-mapped file; tensors built from
/// NumPy arrays point into the array. Copying a `Tensor` never copies these bytes.
public final class TensorStorage: @unchecked Sendable {
    /// Alignment of memory the library allocates itself (a cache line; enough for AVX-512).
    public static let alignment = 64

    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let release: (() -> Void)?
    private let ownsAllocation: Bool

    /// Storage for `count` zeroed bytes allocated and owned by the library.
    public init(zeroedByteCount count: Int) {
        let p = TensorStorage.allocate(count)
        memset(p, 0, max(count, 1))
        bytes = UnsafeRawBufferPointer(start: p, count: count)
        owner = nil
        release = nil
        ownsAllocation = true
    }

    /// Storage for `count` bytes the caller overwrites before reading (no zeroing pass).
    public init(uninitializedByteCount count: Int) {
        bytes = UnsafeRawBufferPointer(start: TensorStorage.allocate(count), count: count)
        owner = nil
        release = nil
        ownsAllocation = true
    }

    /// A private copy of `source`.
    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(zeroedByteCount: source.count)
        if source.count > 0, let base = source.baseAddress {
            UnsafeMutableRawPointer(mutating: bytes.baseAddress!).copyMemory(from: base, byteCount: source.count)
        }
    }

    /// A private copy of an array's bytes.
    public convenience init<T>(copyingArray array: [T]) {
        self.init(copying: array.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[...]) })
        withExtendedLifetime(array) {}
    }

    /// Bytes owned by `owner` (a mapped file, another storage); no copy.
    public init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
        release = nil
        ownsAllocation = false
    }

    /// Caller memory; `release` runs once when the last tensor using it is gone.
    public init(external bytes: UnsafeRawBufferPointer, release: (() -> Void)?) {
        self.bytes = bytes
        owner = nil
        self.release = release
        ownsAllocation = false
    }

    deinit {
        if ownsAllocation { free(UnsafeMutableRawPointer(mutating: bytes.baseAddress)) }
        release?()
    }

    /// Writable view; only for storage the library allocated (fresh outputs, folded constants).
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        precondition(ownsAllocation, "borrowed tensor memory is read-only")
        return UnsafeMutableRawBufferPointer(mutating: bytes)
    }

    public var isOwned: Bool { ownsAllocation }

    private static func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer? = nil
        let rc = posix_memalign(&p, alignment, max(count, 1))
        guard rc == 0, let ptr = p else { fatalError("out of memory allocating \(count) bytes") }
        return ptr
    }

    public static let empty = TensorStorage(zeroedByteCount: 0)
}
