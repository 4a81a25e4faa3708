import Dispatch

/// Splits loops across `threadCount` threads (the caller's included).
///
/// Built on Dispatch's `concurrentPerform`, which never oversubscribes the machine and
/// keeps no threads spinning between runs.
public final class ThreadPool: Sendable {
    public let threadCount: Int

    /// `threads` 0 means one per core.
    public init(threads: Int) {
        let cores = max(1, Int(sysconfCores()))
        threadCount = threads <= 0 ? cores : threads
    }

    /// Calls `body` on disjoint ranges covering 0..<count; ranges hold at least `grain` items.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(grain, 1)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks
                let hi = count * (c + 1) / chunks
                if lo < hi { body(lo..<hi) }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
private func sysconfCores() -> Int { sysconf(Int32(_SC_NPROCESSORS_ONLN)) }
#else
private func sysconfCores() -> Int { 1 }
#endif
