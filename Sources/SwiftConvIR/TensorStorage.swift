#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Immutable bytes of a tensor together with whatever keeps them alive.
///
/// Weights loaded from a file point into the buffer the file was read into; tensors built
/// from NumPy arrays point into the array. Copying a `Tensor` never copies these bytes.
public final class TensorStorage: @unchecked Sendable {
    /// Alignment of memory the library allocates itself (a cache line; enough for AVX-512).
    public static let alignment = 64

    /// The bytes; read-only unless the storage owns them.
    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let release: (() -> Void)?
    private let ownsAllocation: Bool
    /// Bytes actually allocated (a `BufferCache` size class), for returning them to the cache.
    private let capacity: Int
    /// The budget this allocation was charged to, credited back when it is freed.
    private let budget: AllocationBudget?

    /// Storage for `count` bytes allocated and owned by the library, zeroed unless the caller
    /// overwrites every byte before reading (`zeroed: false`). Charged to the current
    /// `AllocationBudget`; a negative count, a cap passed or memory refused by the system
    /// throws `resourceExhausted` (nothing is allocated).
    public init(allocating count: Int, zeroed: Bool) throws {
        guard count >= 0 else {
            throw SwiftConvError.resourceExhausted("cannot allocate a negative byte count (\(count))")
        }
        let budget = AllocationBudget.current
        try budget.charge(count)
        guard let (p, cap) = BufferCache.shared.take(count) else {
            budget.credit(count)
            throw SwiftConvError.resourceExhausted("failed to allocate memory: the system refused \(count) bytes")
        }
        if zeroed { memset(p, 0, max(count, 1)) }
        bytes = UnsafeRawBufferPointer(start: p, count: count)
        owner = nil
        release = nil
        ownsAllocation = true
        capacity = cap
        self.budget = budget
    }

    /// Storage for `count` zeroed bytes (see `init(allocating:zeroed:)`).
    public convenience init(zeroedByteCount count: Int) throws {
        try self.init(allocating: count, zeroed: true)
    }

    /// Storage for `count` bytes the caller overwrites before reading (no zeroing pass).
    public convenience init(uninitializedByteCount count: Int) throws {
        try self.init(allocating: count, zeroed: false)
    }

    /// A private copy of `source`. The bytes already exist in memory, so the copy is not
    /// charged to a budget; only the system refusing memory can fail it.
    public init(copying source: UnsafeRawBufferPointer) {
        guard let (p, cap) = BufferCache.shared.take(source.count) else {
            fatalError("out of memory copying \(source.count) bytes")
        }
        if source.count > 0, let base = source.baseAddress {
            p.copyMemory(from: base, byteCount: source.count)
        }
        bytes = UnsafeRawBufferPointer(start: p, count: source.count)
        owner = nil
        release = nil
        ownsAllocation = true
        capacity = cap
        budget = nil
    }

    /// A private copy of an array's bytes.
    public convenience init<T>(copyingArray array: [T]) {
        self.init(copying: array.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[...]) })
        withExtendedLifetime(array) {}
    }

    /// Bytes owned by `owner` (a file buffer, another storage); no copy.
    public init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
        release = nil
        ownsAllocation = false
        capacity = 0
        budget = nil
    }

    /// Caller memory; `release` runs once when the last tensor using it is gone.
    public init(external bytes: UnsafeRawBufferPointer, release: (() -> Void)?) {
        self.bytes = bytes
        owner = nil
        self.release = release
        ownsAllocation = false
        capacity = 0
        budget = nil
    }

    deinit {
        if ownsAllocation, let p = bytes.baseAddress { BufferCache.shared.give(UnsafeMutableRawPointer(mutating: p), capacity: capacity) }
        budget?.credit(bytes.count)
        release?()
    }

    /// Writable view; only for storage the library allocated (fresh outputs, folded constants).
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        precondition(ownsAllocation, "borrowed tensor memory is read-only")
        return UnsafeMutableRawBufferPointer(mutating: bytes)
    }

    /// True when the library allocated these bytes itself (so they may be written).
    public var isOwned: Bool { ownsAllocation }

    /// `count` bytes aligned to `alignment`, or nil when the system refuses them; freed
    /// with `deallocate`.
    ///
    /// Blocks below `BufferCache.minimumBytes` (the many small tensors of a run) come from
    /// `malloc`, whose per-thread caches serve them far faster than `posix_memalign`, with
    /// `alignment` bytes more to align the start; the block's own address is kept in the
    /// word before the aligned start.
    fileprivate static func allocate(_ count: Int) -> UnsafeMutableRawPointer? {
        if count < BufferCache.minimumBytes {
            guard let base = malloc(count + alignment) else { return nil }
            let start = (Int(bitPattern: base) + alignment) & ~(alignment - 1)
            let p = UnsafeMutableRawPointer(bitPattern: start)!
            p.storeBytes(of: base, toByteOffset: -MemoryLayout<UnsafeMutableRawPointer>.size, as: UnsafeMutableRawPointer.self)
            return p
        }
        var p: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&p, alignment, max(count, 1)) == 0 else { return nil }
        return p
    }

    /// Frees a block of `allocate(capacity)`.
    fileprivate static func deallocate(_ p: UnsafeMutableRawPointer, capacity: Int) {
        if capacity < BufferCache.minimumBytes {
            free(p.load(fromByteOffset: -MemoryLayout<UnsafeMutableRawPointer>.size, as: UnsafeMutableRawPointer.self))
        } else {
            free(p)
        }
    }

    /// Zero bytes, shared by every empty tensor.
    public static let empty = TensorStorage(copying: UnsafeRawBufferPointer(start: nil, count: 0))
}

/// Recycles large tensor buffers between nodes and runs.
///
/// Activations are allocated and released on every node; glibc serves blocks above its
/// mmap threshold with fresh mappings, so without reuse every run pays mmap, munmap and a
/// page fault per touched page. Freed blocks of at least `minimumBytes` (capacities rounded
/// up to 4 KiB) are kept here, most recently freed last, and a request takes the most
/// recently freed block that holds it without wasting more than half of it. The most recent
/// block is the one most likely still in cache: a node's output then lands in memory its
/// predecessors just used, and a run touches about as many bytes as it keeps live, instead of
/// one buffer per distinct tensor size (mobilenet_v2 and v3 ran 2-3% faster).
/// The cache is bounded (`limitBytes` in total, `limitBlocks` blocks; the oldest go first)
/// and guarded by a mutex, since several threads may run sessions.
final class BufferCache: @unchecked Sendable {
    static let shared = BufferCache()

    static let minimumBytes = 32 << 10
    static let limitBytes = 128 << 20
    static let limitBlocks = 96

    /// Free blocks and their capacities, the most recently freed last.
    private var free: [(block: UnsafeMutableRawPointer, capacity: Int)] = []
    private var cachedBytes = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        free.reserveCapacity(BufferCache.limitBlocks + 1)
    }

    /// A block of at least `count` bytes and its capacity (what `give` must be passed).
    func take(_ count: Int) -> (UnsafeMutableRawPointer, Int)? {
        guard count >= BufferCache.minimumBytes else { return TensorStorage.allocate(count).map { ($0, count) } }
        guard count <= Int.max / 2 - 4095 else { return nil }
        let capacity = (count + 4095) & ~4095
        pthread_mutex_lock(mutex)
        if let i = free.lastIndex(where: { $0.capacity >= capacity && $0.capacity <= 2 * capacity }) {
            let found = free.remove(at: i)
            cachedBytes -= found.capacity
            pthread_mutex_unlock(mutex)
            return (found.block, found.capacity)
        }
        pthread_mutex_unlock(mutex)
        return TensorStorage.allocate(capacity).map { ($0, capacity) }
    }

    func give(_ p: UnsafeMutableRawPointer, capacity: Int) {
        guard capacity >= BufferCache.minimumBytes, capacity <= BufferCache.limitBytes else {
            TensorStorage.deallocate(p, capacity: capacity)
            return
        }
        pthread_mutex_lock(mutex)
        free.append((p, capacity))
        cachedBytes += capacity
        var evicted: [(block: UnsafeMutableRawPointer, capacity: Int)] = []
        while cachedBytes > BufferCache.limitBytes || free.count > BufferCache.limitBlocks {
            let oldest = free.removeFirst()
            cachedBytes -= oldest.capacity
            evicted.append(oldest)
        }
        pthread_mutex_unlock(mutex)
        for e in evicted { TensorStorage.deallocate(e.block, capacity: e.capacity) }
    }
}
