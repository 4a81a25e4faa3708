#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes whole files so that a reader sees the old file or the new one, never half of one.
public enum AtomicFile {
    /// Writes `bytes` to a temporary file beside `path`, fsyncs it, then renames it over `path`.
    /// On any failure the temporary file is removed and `path` is untouched.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write(contentsOf: [$0], to: path) }
    }

    /// The same for several pieces written back to back (header, tensors, ...).
    public static func write(contentsOf pieces: [UnsafeRawBufferPointer], to path: String) throws {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SwiftConvError.io("cannot create a temporary file in '\(dir)': \(errnoText())") }
        let tmpPath = String(cString: template.map { UInt8(bitPattern: $0) } + [])
        var ok = false
        defer {
            if !ok { unlink(tmpPath) }
        }
        do {
            defer { close(fd) }
            for piece in pieces {
                var offset = 0
                while offset < piece.count {
                    let n = Glibc.write(fd, piece.baseAddress! + offset, piece.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw SwiftConvError.io("cannot write '\(path)': \(errnoText())")
                    }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw SwiftConvError.io("cannot sync '\(path)': \(errnoText())") }
            _ = fchmod(fd, 0o644)
        }
        guard rename(tmpPath, path) == 0 else {
            throw SwiftConvError.io("cannot replace '\(path)': \(errnoText())")
        }
        ok = true
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
