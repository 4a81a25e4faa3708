import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Splits loops across `threadCount` threads (the caller's included).
///
/// Models with many small nodes run one short parallel loop after another; waking a
/// sleeping thread for each (as `DispatchQueue.concurrentPerform` does) costs more than
/// the loops themselves. So the pool keeps `threadCount - 1` workers of its own, started
/// on first use, that poll for the next loop for a while after each one before they sleep
/// (yielding their core between polls after the first few, see `workerLoop`), and hands
/// out chunks through one atomic word. A loop that finds the pool busy (another thread's
/// run, or a nested loop) runs on the calling thread instead of waiting.
///
/// A loop is cut into one chunk per thread, claimed by whichever thread is free. Finer
/// chunks would even out a late worker, but cost kernels that stream data per chunk: the
/// implicit-GEMM convolution reads all of its weights once per chunk of pixels (9 MB on
/// resnet18's 7x7 layers), and four chunks per thread did not measure faster.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    private let group: WorkerGroup?

    /// `threads` 0 means one per core.
    public init(threads: Int) {
        let cores = max(1, Int(sysconfCores()))
        threadCount = threads <= 0 ? cores : threads
        // Spinning only pays when every worker has a core of its own.
        group = threadCount > 1 ? WorkerGroup(workers: threadCount - 1, spin: threadCount <= cores) : nil
    }

    deinit { group?.shutdown() }

    /// Calls `body` on disjoint ranges covering 0..<count; ranges hold at least `grain` items.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(grain, 1)))
        guard chunks > 1, let group else {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            if !group.run(count: count, chunks: chunks, body) { body(0..<count) }
        }
    }
}

/// The worker threads of one `ThreadPool` and the job they share.
///
/// `state` packs the job's generation (bits 32...), chunk count (bits 16..<32) and the next
/// unclaimed chunk (bits 0..<16); a worker claims a chunk by compare-and-swap, so it can
/// never take a chunk of a job other than the one whose generation it saw. The job's
/// closure and size are written before `state` publishes them and stay put until every
/// chunk has reported to `done`.
private final class WorkerGroup: @unchecked Sendable {
    let workers: Int
    let spin: Bool
    let state = Atomic<Int>(0)
    let done = Atomic<Int>(0)
    let busy = Atomic<Bool>(false)
    let sleepers = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    var started = false
    var generation = 0
    var job: ((Range<Int>) -> Void)?
    var count = 0
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let cond: UnsafeMutablePointer<pthread_cond_t>

    /// How long an idle worker polls for the next job before it sleeps.
    static let spinNanoseconds: UInt64 = 1_000_000
    /// Polls an idle worker makes back to back before it yields its core between polls.
    static let busyPolls = 512

    init(workers: Int, spin: Bool) {
        self.workers = workers
        self.spin = spin
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(cond)
        mutex.deallocate()
        cond.deallocate()
    }

    /// Runs `chunks` chunks of `body` over 0..<count; false when the pool is busy.
    func run(count: Int, chunks: Int, _ body: @escaping (Range<Int>) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        if !started { startWorkers() }
        job = body
        self.count = count
        generation = (generation + 1) & 0x7FFF_FFFF
        done.store(0, ordering: .relaxed)
        state.store(generation << 32 | chunks << 16, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
        work(generation: generation)
        var polls = 0
        while done.load(ordering: .acquiring) < chunks {
            polls += 1
            if polls > 4096 { sched_yield() }
        }
        job = nil
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Claims and runs chunks of the job of `generation` until none are left.
    func work(generation g: Int) {
        while true {
            let s = state.load(ordering: .acquiring)
            let next = s & 0xFFFF, chunks = (s >> 16) & 0xFFFF
            guard s >> 32 == g, next < chunks else { return }
            guard state.compareExchange(expected: s, desired: s + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            let n = count
            let lo = n * next / chunks, hi = n * (next + 1) / chunks
            if lo < hi { job!(lo..<hi) }
            done.add(1, ordering: .releasing)
        }
    }

    func startWorkers() {
        started = true
        for _ in 0..<workers {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            pthread_create(
                &thread, nil,
                { context in
                    let group = Unmanaged<WorkerGroup>.fromOpaque(context!).takeRetainedValue()
                    group.workerLoop()
                    return nil
                }, context)
            pthread_detach(thread)
        }
    }

    func workerLoop() {
        var seen = 0
        while !stopping.load(ordering: .relaxed) {
            var g = state.load(ordering: .acquiring) >> 32
            // A few microseconds of plain polling catch the next loop of a busy run at once;
            // past them the worker yields between polls until the deadline. On an idle core a
            // yield returns at once, so the next loop is still seen within a microsecond or so
            // and no futex wake-up is paid; on a core other processes want, they run instead
            // of the poll (plain spinning there measured slower the longer it lasted: 30 us
            // beat 100 us beat 1 ms on a loaded two-core machine), and the caller does the
            // chunks this worker is late for.
            if g == seen && spin {
                let deadline = monotonicNanoseconds() + WorkerGroup.spinNanoseconds
                var polls = 0
                while g == seen && !stopping.load(ordering: .relaxed) {
                    polls += 1
                    if polls > WorkerGroup.busyPolls {
                        if monotonicNanoseconds() > deadline { break }
                        sched_yield()
                    }
                    g = state.load(ordering: .acquiring) >> 32
                }
            }
            if g == seen {
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while state.load(ordering: .sequentiallyConsistent) >> 32 == seen && !stopping.load(ordering: .sequentiallyConsistent) {
                    pthread_cond_wait(cond, mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
                continue
            }
            seen = g
            work(generation: g)
        }
    }

    /// Lets the workers exit (each holds a reference, so the group outlives them).
    func shutdown() {
        pthread_mutex_lock(mutex)
        stopping.store(true, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }
}

private func monotonicNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

#if canImport(Glibc)
    private func sysconfCores() -> Int { sysconf(Int32(_SC_NPROCESSORS_ONLN)) }
#else
    private func sysconfCores() -> Int { 1 }
#endif
