#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file read once into library memory (64-byte aligned).
///
/// Weights point into this buffer, so loading costs one read and no further copies. It
/// is read rather than memory-mapped so that another process truncating or rewriting the
/// file cannot crash us (a mapped page past the new end raises SIGBUS).
public final class FileBuffer: @unchecked Sendable {
    public let path: String
    let storage: TensorStorage
    public var bytes: UnsafeRawBufferPointer { storage.bytes }

    /// Reads `path`; `range` limits the read to part of the file (external data).
    public init(path: String, range: Range<Int>? = nil) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SwiftConvError.io("cannot open '\(path)': \(FileBuffer.errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SwiftConvError.io("cannot stat '\(path)': \(FileBuffer.errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SwiftConvError.io("'\(path)' is not a regular file") }
        let size = Int(st.st_size)
        let want = range ?? 0..<size
        guard want.lowerBound >= 0, want.upperBound <= size else {
            throw SwiftConvError.validation("'\(path)' is \(size) bytes; bytes \(want.lowerBound)..<\(want.upperBound) lie past its end")
        }
        storage = try TensorStorage(uninitializedByteCount: want.count)
        let dst = storage.mutableBytes
        var done = 0
        while done < want.count {
            let n = pread(fd, dst.baseAddress! + done, want.count - done, off_t(want.lowerBound + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SwiftConvError.io("cannot read '\(path)': \(FileBuffer.errnoText())")
            }
            if n == 0 { throw SwiftConvError.io("'\(path)' became shorter while it was read") }
            done += n
        }
    }

    /// Storage for `range` of the buffer that keeps the whole buffer alive.
    public func storage(_ range: Range<Int>) -> TensorStorage {
        TensorStorage(borrowing: UnsafeRawBufferPointer(rebasing: bytes[range]), owner: self)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
