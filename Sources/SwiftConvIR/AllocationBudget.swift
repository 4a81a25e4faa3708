import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one session run (or one session creation) may allocate: a cap on any single tensor
/// and on the bytes its tensors hold at once.
///
/// A hostile model can ask for any shape; without these caps a request the system grants
/// lazily (overcommit) would only fail later, as the OOM killer ending the process. Storage
/// allocated while a budget is current (`withCurrent`) is charged to it and credits it back
/// when freed, so the count is of live bytes, not of every allocation a run made.
public final class AllocationBudget: @unchecked Sendable {
    /// Largest single tensor, in bytes.
    public let maxTensorBytes: Int
    /// Most bytes the run's tensors may hold at once.
    public let maxTotalBytes: Int
    private let live = Atomic<Int>(0)

    /// A budget allowing `maxTensorBytes` per allocation and `maxTotalBytes` held at once.
    public init(maxTensorBytes: Int, maxTotalBytes: Int) {
        self.maxTensorBytes = maxTensorBytes
        self.maxTotalBytes = maxTotalBytes
    }

    /// Bytes currently held by storage charged to this budget.
    public var liveBytes: Int { live.load(ordering: .relaxed) }

    /// Reserves `count` bytes or throws `resourceExhausted` saying which cap it would pass.
    func charge(_ count: Int) throws {
        guard count <= maxTensorBytes else {
            throw SwiftConvError.resourceExhausted(
                "a tensor of \(count) bytes is larger than the limit of \(maxTensorBytes) bytes per tensor (SessionOptions.max_tensor_bytes)"
            )
        }
        let before = live.wrappingAdd(count, ordering: .relaxed).oldValue
        if before > maxTotalBytes - count {
            live.wrappingSubtract(count, ordering: .relaxed)
            throw SwiftConvError.resourceExhausted(
                "allocating \(count) more bytes would pass the run's limit of \(maxTotalBytes) bytes (\(before) in use; SessionOptions.max_run_bytes)"
            )
        }
    }

    func credit(_ count: Int) {
        live.wrappingSubtract(count, ordering: .relaxed)
    }

    /// Physical memory of this machine, the default for both caps.
    public static let physicalMemoryBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max }
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: size)
        return overflow ? Int.max : bytes
    }()

    /// Caps used where no session set any: one tensor may take half the machine's memory,
    /// all of a run's tensors together all of it.
    public static let defaultMaxTensorBytes = physicalMemoryBytes / 2
    /// The default cap on bytes held at once: all of physical memory.
    public static let defaultMaxTotalBytes = physicalMemoryBytes

    /// Charged when no budget is current (library calls outside a session run).
    static let unbound = AllocationBudget(maxTensorBytes: defaultMaxTensorBytes, maxTotalBytes: Int.max)

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The budget storage allocated on this thread is charged to.
    public static var current: AllocationBudget {
        guard let p = pthread_getspecific(key) else { return unbound }
        return Unmanaged<AllocationBudget>.fromOpaque(p).takeUnretainedValue()
    }

    /// Runs `body` with `budget` current on this thread (nested calls restore the outer one).
    public static func withCurrent<R>(_ budget: AllocationBudget, _ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(budget).toOpaque())
        defer { pthread_setspecific(key, previous) }
        return try withExtendedLifetime(budget) { try body() }
    }
}
