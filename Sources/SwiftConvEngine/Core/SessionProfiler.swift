import Glibc
import SwiftConvIR

/// Timings of a session's runs and of each node in them, written as onnxruntime's profile
/// (`SessionOptions.enable_profiling`, `end_profiling()`): a JSON array of Chrome trace
/// events, so the tools that read onnxruntime's profiles (chrome://tracing, Perfetto,
/// onnxruntime's own scripts) read ours.
///
/// One session_initialization event, then per run one "model_run" event (category
/// Session) and per executed node one "<node name>_kernel_time" event (category Node,
/// `args.op_name` the op type), timestamps in microseconds from the start of session
/// creation. The nodes are the ones the session executes: after its graph rewrites, a fused
/// Conv + Relu is one FusedConv event, as in onnxruntime. Nodes of control-flow subgraphs
/// are recorded too. Several threads may record at once; at most `maxEvents` are kept
/// (later ones are counted, and the count is the last event's `args.dropped_events`).
public final class SessionProfiler: @unchecked Sendable {
    /// The events kept at most, about 100 MB of JSON.
    public static let maxEvents = 1 << 20

    struct Event {
        /// The session event's name, or the node's ("" when it has none).
        let name: String
        let node: Bool
        /// The node's position among those its graph executes (names an unnamed node).
        let position: Int
        let opType: String
        let start: UInt64
        let duration: UInt64
        /// The recording thread (`pthread_self`), what trace viewers group events by.
        let thread: UInt
    }

    /// Nanoseconds since the Unix epoch when the session's creation started (what
    /// `get_profiling_start_time_ns` returns).
    public let startTimeNanos: UInt64
    /// CLOCK_MONOTONIC at the same moment: event times count from here.
    let origin: UInt64
    private var events: [Event] = []
    private var dropped = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    /// A profiler whose clock starts when the session's creation did (`creation`, from
    /// `now()`, and `creationWallClock`, from `wallClock()`), recording that creation as one
    /// event until `created`.
    init(creation: UInt64, creationWallClock: UInt64, created: UInt64) {
        origin = creation
        startTimeNanos = creationWallClock
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        record(name: "session_initialization", node: false, opType: "", start: creation, end: created)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    @inline(__always)
    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }

    /// CLOCK_REALTIME in nanoseconds since the epoch.
    static func wallClock() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }

    /// Records one event from `start` to `end` (both `now()` values) on the calling thread.
    func record(name: String, node: Bool, position: Int = 0, opType: String, start: UInt64, end: UInt64) {
        let event = Event(
            name: name, node: node, position: position, opType: opType, start: start,
            duration: end >= start ? end - start : 0,
            thread: UInt(bitPattern: Int(bitPattern: pthread_self())))
        pthread_mutex_lock(mutex)
        if events.count < SessionProfiler.maxEvents {
            events.append(event)
        } else {
            dropped += 1
        }
        pthread_mutex_unlock(mutex)
    }

    /// Records the execution of `node`, the `position`-th node its graph executes, from
    /// `start` until now; its event name is written by `json()`, not on the run's path.
    func recordNode(_ node: SwiftConvError.NodeContext, position: Int, start: UInt64) {
        record(name: node.name, node: true, position: position, opType: node.opType, start: start, end: SessionProfiler.now())
    }

    /// A node event's name: "<node name>_kernel_time", "<op type>_<position>_kernel_time" for
    /// a node without a name.
    static func nodeEventName(_ e: Event) -> String {
        (e.name.isEmpty ? "\(e.opType)_\(e.position)" : e.name) + "_kernel_time"
    }

    /// The events so far as onnxruntime's profile JSON (UTF-8).
    public func json() -> [UInt8] {
        pthread_mutex_lock(mutex)
        let snapshot = events, lost = dropped
        pthread_mutex_unlock(mutex)
        let pid = getpid()
        var out = "[\n"
        for (i, e) in snapshot.enumerated() {
            let ts = e.start >= origin ? (e.start - origin) / 1000 : 0
            out += "{\"cat\" : \"\(e.node ? "Node" : "Session")\",\"pid\" :\(pid),\"tid\" :\(e.thread),"
            out +=
                "\"dur\" :\(e.duration / 1000),\"ts\" :\(ts),\"ph\" : \"X\",\"name\" :\(JSONText.quoted(e.node ? SessionProfiler.nodeEventName(e) : e.name)),"
            var args: [String] = []
            if e.node {
                args.append("\"op_name\" : \(JSONText.quoted(e.opType))")
                args.append("\"provider\" : \"CPUExecutionProvider\"")
            }
            if i == snapshot.count - 1 && lost > 0 { args.append("\"dropped_events\" : \(lost)") }
            out += "\"args\" : {\(args.joined(separator: ","))}}"
            out += i == snapshot.count - 1 ? "\n" : ",\n"
        }
        out += "]\n"
        return Array(out.utf8)
    }
}
