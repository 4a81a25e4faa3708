import SwiftConvIR

/// A finished object (table, vector or string) in a `FlatBufferBuilder`: its distance from
/// the end of the buffer, which stays valid while the buffer grows toward the front.
public struct FBOffset: Equatable {
    /// Bytes from the object to the end of the buffer.
    public let fromEnd: Int
}

/// Writes a FlatBuffer back to front, as the format's reference builders do: children first,
/// then the tables that point forward to them, then the root offset.
///
/// Calls must nest like the format's (no object started inside an open table); a misuse is a
/// programming error and traps. What the format cannot hold (a buffer past `maxSize`, 2 GB,
/// or a table past 64 KB) is an error at `finish`.
public struct FlatBufferBuilder {
    /// Data lives in `buffer[head...]`; free space is before `head`.
    private var buffer: [UInt8]
    private var head: Int
    /// The largest alignment requested so far; `finish` pads the total to it.
    private var minAlign = 1
    /// While a table is open: each slot's position (bytes from the end), 0 when absent.
    private var slots: [Int] = []
    private var tableStart: Int?
    /// Vtables written so far (bytes from the end), for reuse by identical tables.
    private var vtables: [Int] = []
    /// The first thing written that the format cannot hold, reported by `finish`.
    private var failure: String?
    /// Whether scalars equal to their default are written anyway.
    public var forceDefaults = false
    /// Largest buffer `finish` accepts.
    public static let maxSize = Int(Int32.max)

    /// An empty builder with room for `capacity` bytes before it grows.
    public init(capacity: Int = 1024) {
        buffer = [UInt8](repeating: 0, count: max(capacity, 16))
        head = buffer.count
    }

    /// Bytes written so far.
    public var size: Int { buffer.count - head }

    // MARK: Raw writing

    private mutating func reserve(_ n: Int) {
        guard head < n else { return }
        let used = size
        var capacity = buffer.count
        while capacity - used < n { capacity *= 2 }
        var grown = [UInt8](repeating: 0, count: capacity)
        let from = head
        buffer.withUnsafeBytes { src in
            grown.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                (d + capacity - used).copyMemory(from: s + from, byteCount: used)
            }
        }
        buffer = grown
        head = capacity - used
    }

    /// Pads with zeros so that after `additional` more bytes the size is a multiple of `alignment`
    /// (a power of two).
    public mutating func align(_ alignment: Int, additional: Int = 0) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        minAlign = max(minAlign, alignment)
        let padding = (alignment - (size + additional) % alignment) % alignment
        reserve(padding + additional)
        head -= padding
        buffer.replaceSubrange(head..<(head + padding), with: repeatElement(0, count: padding))
    }

    private mutating func place<T: FlatBufferScalar>(_ value: T) {
        reserve(T.fbSize)
        head -= T.fbSize
        let bits = value.fbBits.littleEndian
        let at = head
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: bits, toByteOffset: at, as: T.Bits.self) }
    }

    private mutating func place(bytes: some Collection<UInt8>) {
        reserve(bytes.count)
        head -= bytes.count
        let at = head
        // Tensor data is tens of megabytes: copy contiguous bytes in one go.
        let copied: Bool? = bytes.withContiguousStorageIfAvailable { src in
            buffer.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                (d + at).copyMemory(from: s, byteCount: src.count)
            }
            return true
        }
        if copied == nil { buffer.replaceSubrange(at..<(at + bytes.count), with: bytes) }
    }

    /// Writes `value`, aligned to its size.
    public mutating func prepend<T: FlatBufferScalar>(_ value: T) {
        align(T.fbSize)
        place(value)
    }

    /// Writes a uoffset pointing forward to `offset`.
    public mutating func prepend(offset: FBOffset) {
        align(4)
        precondition(offset.fromEnd <= size, "offset to an object not yet written")
        place(UInt32(truncatingIfNeeded: size + 4 - offset.fromEnd))
    }

    // MARK: Tables

    /// Opens a table with `fieldCount` vtable slots.
    public mutating func startTable(fieldCount: Int) {
        precondition(tableStart == nil, "a table is already open")
        slots = [Int](repeating: 0, count: fieldCount)
        tableStart = size
    }

    private mutating func mark(_ field: Int) {
        precondition(tableStart != nil && field >= 0 && field < slots.count, "field \(field) outside the open table")
        slots[field] = size
    }

    /// Adds scalar `value` in slot `field`, unless it equals `default` (and defaults are not forced).
    public mutating func add<T: FlatBufferScalar>(field: Int, _ value: T, default defaultValue: T) {
        if value == defaultValue && !forceDefaults { return }
        prepend(value)
        mark(field)
    }

    /// Adds a reference to `offset` in slot `field`.
    public mutating func add(field: Int, offset: FBOffset) {
        prepend(offset: offset)
        mark(field)
    }

    /// Adds the bytes of a struct in slot `field`, aligned to `alignment`.
    public mutating func addStruct(field: Int, bytes: [UInt8], alignment: Int) {
        align(alignment, additional: bytes.count)
        place(bytes: bytes)
        mark(field)
    }

    /// Closes the open table, writing its vtable or reusing an identical one.
    public mutating func endTable() -> FBOffset {
        guard let start = tableStart else { preconditionFailure("no table is open") }
        prepend(Int32(0)) // the soffset to the vtable, patched below
        let tableEnd = size
        var used = slots.count
        while used > 0 && slots[used - 1] == 0 { used -= 1 }
        // vtable entries are uint16: a bigger table cannot be written (counts and uoffsets that
        // do not fit 32 bits imply a buffer past maxSize, which finish refuses).
        if tableEnd - start > Int(UInt16.max) || 4 + 2 * used > Int(UInt16.max) {
            failure = failure ?? "a table of \(tableEnd - start) bytes and \(used) fields is past the format's 64 KB limit"
        }
        var vtable: [UInt16] = [UInt16(truncatingIfNeeded: 4 + 2 * used), UInt16(truncatingIfNeeded: tableEnd - start)]
        for s in slots[..<used] { vtable.append(s == 0 ? 0 : UInt16(truncatingIfNeeded: tableEnd - s)) }
        tableStart = nil

        let vtableBytes = vtable.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        var vtableAt = vtables.first { at in
            guard at >= vtableBytes.count else { return false }
            let i = buffer.count - at
            return buffer[i..<(i + vtableBytes.count)].elementsEqual(vtableBytes)
        }
        if vtableAt == nil {
            for v in vtable.reversed() { prepend(v) }
            vtableAt = size
            vtables.append(size)
        }
        // The vtable is at table - soffset; both are counted from the end here.
        let soffset = Int32(truncatingIfNeeded: vtableAt! - tableEnd)
        let at = buffer.count - tableEnd
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(bitPattern: soffset).littleEndian, toByteOffset: at, as: UInt32.self) }
        return FBOffset(fromEnd: tableEnd)
    }

    // MARK: Strings and vectors

    /// Writes a string (length, UTF-8 bytes, NUL).
    public mutating func createString(_ s: String) -> FBOffset {
        let utf8 = Array(s.utf8)
        align(4, additional: utf8.count + 1)
        place(UInt8(0))
        place(bytes: utf8)
        place(UInt32(truncatingIfNeeded: utf8.count))
        return FBOffset(fromEnd: size)
    }

    /// Writes a vector of scalars.
    public mutating func createVector<T: FlatBufferScalar>(_ values: [T]) -> FBOffset {
        align(4, additional: values.count * T.fbSize)
        align(T.fbSize, additional: values.count * T.fbSize)
        for v in values.reversed() { place(v) }
        place(UInt32(truncatingIfNeeded: values.count))
        return FBOffset(fromEnd: size)
    }

    /// Writes a vector of references (to tables or strings).
    public mutating func createVector(offsets: [FBOffset]) -> FBOffset {
        align(4, additional: offsets.count * 4)
        for o in offsets.reversed() { prepend(offset: o) }
        place(UInt32(truncatingIfNeeded: offsets.count))
        return FBOffset(fromEnd: size)
    }

    /// Writes a `[ubyte]` vector whose data starts at a multiple of `alignment` (a power of two)
    /// from the start of the finished buffer: TFLite wants 16 for tensor data.
    public mutating func createBytes(_ bytes: UnsafeRawBufferPointer, alignment: Int = 1) -> FBOffset {
        align(4, additional: bytes.count)
        align(alignment, additional: bytes.count)
        place(bytes: bytes)
        place(UInt32(truncatingIfNeeded: bytes.count))
        return FBOffset(fromEnd: size)
    }

    /// Writes a vector of structs given as `count` packed elements in `bytes`, aligned to `alignment`.
    public mutating func createStructVector(_ bytes: [UInt8], count: Int, alignment: Int) -> FBOffset {
        align(4, additional: bytes.count)
        align(alignment, additional: bytes.count)
        place(bytes: bytes)
        place(UInt32(truncatingIfNeeded: count))
        return FBOffset(fromEnd: size)
    }

    // MARK: Finishing

    /// The finished buffer with `root` as its root table and, when given, a 4-byte file
    /// identifier at bytes 4..<8. Throws when the identifier is not 4 bytes or the buffer
    /// is past `maxSize`.
    public mutating func finish(root: FBOffset, fileIdentifier: String? = nil) throws -> [UInt8] {
        precondition(tableStart == nil, "a table is still open")
        let identifier = fileIdentifier.map { Array($0.utf8) }
        if let identifier, identifier.count != 4 {
            throw SwiftConvError.invalidArgument("FlatBuffer file identifier must be 4 bytes, not '\(fileIdentifier!)'")
        }
        align(minAlign, additional: 4 + (identifier == nil ? 0 : 4))
        if let identifier { place(bytes: identifier) }
        prepend(offset: root)
        if let failure { throw SwiftConvError.resourceExhausted("FlatBuffer: \(failure)") }
        guard size <= Self.maxSize else {
            throw SwiftConvError.resourceExhausted("FlatBuffer of \(size) bytes is past the format's 2 GB limit")
        }
        return Array(buffer[head...])
    }
}
