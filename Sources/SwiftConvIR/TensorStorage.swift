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
    /// Bytes actually allocated (a `BufferCache` size class), for returning them to the cache.
    private let capacity: Int

    /// Storage for `count` zeroed bytes allocated and owned by the library.
    public init(zeroedByteCount count: Int) {
        let (p, cap) = BufferCache.shared.take(count)
        memset(p, 0, max(count, 1))
        bytes = UnsafeRawBufferPointer(start: p, count: count)
        owner = nil
        release = nil
        ownsAllocation = true
        capacity = cap
    }

    /// Storage for `count` bytes the caller overwrites before reading (no zeroing pass).
    public init(uninitializedByteCount count: Int) {
        let (p, cap) = BufferCache.shared.take(count)
        bytes = UnsafeRawBufferPointer(start: p, count: count)
        owner = nil
        release = nil
        ownsAllocation = true
        capacity = cap
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
        capacity = 0
    }

    /// Caller memory; `release` runs once when the last tensor using it is gone.
    public init(external bytes: UnsafeRawBufferPointer, release: (() -> Void)?) {
        self.bytes = bytes
        owner = nil
        self.release = release
        ownsAllocation = false
        capacity = 0
    }

    deinit {
        if ownsAllocation, let p = bytes.baseAddress { BufferCache.shared.give(UnsafeMutableRawPointer(mutating: p), capacity: capacity) }
        release?()
    }

    /// Writable view; only for storage the library allocated (fresh outputs, folded constants).
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        precondition(ownsAllocation, "borrowed tensor memory is read-only")
        return UnsafeMutableRawBufferPointer(mutating: bytes)
    }

    public var isOwned: Bool { ownsAllocation }

    fileprivate static func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer? = nil
        let rc = posix_memalign(&p, alignment, max(count, 1))
        guard rc == 0, let ptr = p else { fatalError("out of memory allocating \(count) bytes") }
        return ptr
    }

    public static let empty = TensorStorage(zeroedByteCount: 0)
}

/// Recycles large tensor buffers between nodes and runs.
///
/// Activations are allocated and released on every node; glibc serves blocks above its
/// mmap threshold with fresh mappings, so without reuse every run pays mmap, munmap and a
/// page fault per touched page. Freed blocks of at least `minimumBytes` are kept here by
/// size class (rounded up to 4 KiB) and handed out again for requests of the same class.
/// The cache is bounded (`limitBytes` in total, `perClass` blocks per class; beyond that
/// blocks are freed) and guarded by a mutex, since several threads may run sessions.
final class BufferCache: @unchecked Sendable {
    static let shared = BufferCache()

    static let minimumBytes = 32 << 10
    static let limitBytes = 128 << 20
    static let perClass = 8

    private var blocks: [Int: [UnsafeMutableRawPointer]] = [:]
    private var cachedBytes = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    /// A block of at least `count` bytes and its capacity (what `give` must be passed).
    func take(_ count: Int) -> (UnsafeMutableRawPointer, Int) {
        guard count >= BufferCache.minimumBytes else { return (TensorStorage.allocate(count), count) }
        let capacity = (count + 4095) & ~4095
        pthread_mutex_lock(mutex)
        if let p = blocks[capacity]?.popLast() {
            cachedBytes -= capacity
            pthread_mutex_unlock(mutex)
            return (p, capacity)
        }
        pthread_mutex_unlock(mutex)
        return (TensorStorage.allocate(capacity), capacity)
    }

    func give(_ p: UnsafeMutableRawPointer, capacity: Int) {
        if capacity >= BufferCache.minimumBytes {
            pthread_mutex_lock(mutex)
            if cachedBytes + capacity <= BufferCache.limitBytes, blocks[capacity, default: []].count < BufferCache.perClass {
                blocks[capacity, default: []].append(p)
                cachedBytes += capacity
                pthread_mutex_unlock(mutex)
                return
            }
            pthread_mutex_unlock(mutex)
        }
        free(p)
    }
}
