#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open, read-only descriptor of a regular file and its size.
///
/// Only regular files are opened: opening a FIFO for reading blocks until a writer
/// appears, and a device can be endless. The path is checked with `stat` before `open`,
/// the open is non-blocking, and the descriptor is checked again with `fstat`, so a file
/// swapped for a FIFO between the two calls is still refused without blocking.
public final class RegularFile {
    /// The path as given.
    public let path: String
    /// The open, non-blocking, read-only descriptor.
    public let descriptor: Int32
    /// The size in bytes when the file was opened; reads never go past it.
    public let size: Int

    /// Opens `path`; throws `SwiftConvError.io` for a missing or unreadable file and for
    /// anything that is not a regular file (external data turns it into a validation error).
    public init(path: String) throws {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else { throw SwiftConvError.io("cannot open '\(path)': \(Self.errnoText())") }
        try Self.requireRegular(st, path)
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SwiftConvError.io("cannot open '\(path)': \(Self.errnoText())") }
        guard fstat(fd, &st) == 0 else {
            let text = Self.errnoText()
            close(fd)
            throw SwiftConvError.io("cannot stat '\(path)': \(text)")
        }
        do {
            try Self.requireRegular(st, path)
        } catch {
            close(fd)
            throw error
        }
        descriptor = fd
        size = Int(st.st_size)
    }

    deinit { close(descriptor) }

    /// Reads exactly `count` bytes at `offset` into `destination`; the range must lie within `size`.
    public func read(into destination: UnsafeMutableRawPointer, count: Int, at offset: Int) throws {
        guard offset >= 0, count >= 0, count <= size - offset else {
            throw SwiftConvError.validation("'\(path)' is \(size) bytes; \(count) bytes at offset \(offset) lie past its end")
        }
        var done = 0
        while done < count {
            let n = pread(descriptor, destination + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SwiftConvError.io("cannot read '\(path)': \(Self.errnoText())")
            }
            if n == 0 { throw SwiftConvError.io("'\(path)' became shorter while it was read") }
            done += n
        }
    }

    static func requireRegular(_ st: stat, _ path: String) throws {
        let kind = st.st_mode & S_IFMT
        guard kind != S_IFREG else { return }
        throw SwiftConvError.io("'\(path)' is \(describe(kind)), not a regular file; only regular files can be read")
    }

    /// What a non-regular file is, for the error message.
    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFDIR: return "a directory"
        default: return "a special file"
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
