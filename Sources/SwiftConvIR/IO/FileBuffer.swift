/// A whole file read once into library memory (64-byte aligned).
///
/// Weights point into this buffer, so loading costs one read and no further copies. It
/// is read rather than memory-mapped so that another process truncating or rewriting the
/// file cannot crash us (a mapped page past the new end raises SIGBUS).
public final class FileBuffer: @unchecked Sendable {
    /// The path the bytes were read from.
    public let path: String
    let storage: TensorStorage
    /// The bytes read.
    public var bytes: UnsafeRawBufferPointer { storage.bytes }

    /// The folder holding the file ("." for a bare file name): where its external data is looked up.
    public var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Reads `path`; `range` limits the read to part of the file (external data).
    ///
    /// Only a regular file is read, and nothing is allocated until `range` is known to
    /// lie within the file, so a hostile length cannot make us allocate more than the
    /// file holds.
    public init(path: String, range: Range<Int>? = nil) throws {
        self.path = path
        let file = try RegularFile(path: path)
        let want = range ?? 0..<file.size
        guard want.lowerBound >= 0, want.upperBound <= file.size else {
            throw SwiftConvError.validation(
                "'\(path)' is \(file.size) bytes; bytes \(want.lowerBound)..<\(want.upperBound) lie past its end")
        }
        storage = try TensorStorage(uninitializedByteCount: want.count)
        if want.count > 0 {
            try file.read(into: storage.mutableBytes.baseAddress!, count: want.count, at: want.lowerBound)
        }
    }

    /// Storage for `range` of the buffer that keeps the whole buffer alive.
    public func storage(_ range: Range<Int>) -> TensorStorage {
        TensorStorage(borrowing: UnsafeRawBufferPointer(rebasing: bytes[range]), owner: self)
    }
}
