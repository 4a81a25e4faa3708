#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, memory-mapped file. Weights point into it, so a large model is
/// never copied on load and only the pages actually used become resident.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let mapped: Bool

    public init(path: String) throws {
        self.path = path
        let file = try RegularFile(path: path)
        let size = file.size
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            mapped = false
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.descriptor, 0)
        guard let p, p != MAP_FAILED else {
            throw SwiftConvError.io("cannot map '\(path)': \(MappedFile.errnoText())")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        mapped = true
    }

    deinit {
        if mapped, let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Storage for `range` of the file that keeps the mapping alive.
    public func storage(_ range: Range<Int>) -> TensorStorage {
        TensorStorage(borrowing: UnsafeRawBufferPointer(rebasing: bytes[range]), owner: self)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
