import SwiftConvIR

/// A read-only, bounds-checked view of a FlatBuffer (https://flatbuffers.dev/internals/).
///
/// The buffer is untrusted: every offset, vtable, vector length and string is checked against
/// it before it is read, nesting is limited to `maxDepth` tables and a whole read to
/// `maxTables` tables, so a corrupt or hostile file throws `SwiftConvError.modelFormat`
/// (naming what is wrong and its byte offset) and never traps. Nothing is copied: the caller
/// keeps `bytes` alive while the reader and the values it returns are in use.
public struct FlatBufferReader {
    /// The whole buffer.
    public let bytes: UnsafeRawBufferPointer
    /// Tables deeper than this below the root are refused (this also ends cycles).
    public let maxDepth: Int
    /// Tables one reader may open in all, so that shared subtrees cannot multiply the work.
    public let maxTables: Int
    let visits: VisitCounter

    /// A reader over `bytes`, with limits on nesting and on the tables opened. The default
    /// table cap, one per byte (at least 65,536), lets a reader open every table of a valid
    /// buffer (4 bytes or more each) several times, yet bounds the work on shared subtrees.
    public init(bytes: UnsafeRawBufferPointer, maxDepth: Int = 64, maxTables: Int? = nil) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.maxTables = maxTables ?? max(65_536, bytes.count)
        self.visits = VisitCounter()
    }

    /// The 4-byte file identifier at bytes 4..<8 (nil when the buffer is shorter). The format
    /// cannot tell whether a buffer has one; compare it with the identifier you expect.
    public var identifier: String? {
        guard bytes.count >= 8 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[4..<8]), as: UTF8.self)
    }

    /// The root table, which the uoffset at byte 0 points to.
    public func root() throws -> FBTable {
        try table(at: try reference(at: 0, "the root offset"), depth: 0)
    }

    // MARK: Checked primitives

    /// Throws unless `size` bytes at `offset` lie inside the buffer.
    func check(_ offset: Int, _ size: Int, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, size >= 0, size <= bytes.count, offset <= bytes.count - size else {
            throw SwiftConvError.modelFormat(
                "FlatBuffer: \(what()) at byte \(offset) (\(size) bytes) is outside the \(bytes.count)-byte buffer")
        }
    }

    /// The scalar at `offset`, which the caller has checked.
    func load<T: FlatBufferScalar>(_ offset: Int, as: T.Type = T.self) -> T {
        T(fbBits: T.Bits(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.Bits.self)))
    }

    /// The scalar at `offset`, checked.
    func checkedLoad<T: FlatBufferScalar>(_ offset: Int, _ what: @autoclosure () -> String) throws -> T {
        try check(offset, T.fbSize, what())
        return load(offset)
    }

    /// Where the uoffset stored at `offset` points (relative to itself, forward only).
    func reference(at offset: Int, _ what: @autoclosure () -> String) throws -> Int {
        let u: UInt32 = try checkedLoad(offset, what())
        let target = offset + Int(u)
        try check(target, 4, "the target of \(what()) stored at byte \(offset)")
        return target
    }

    /// The table at `position`, its vtable checked; `depth` counts tables from the root.
    func table(at position: Int, depth: Int) throws -> FBTable {
        guard depth <= maxDepth else {
            throw SwiftConvError.modelFormat("FlatBuffer: table at byte \(position) is nested deeper than \(maxDepth) tables")
        }
        visits.count += 1
        guard visits.count <= maxTables else {
            throw SwiftConvError.modelFormat("FlatBuffer: more than \(maxTables) tables read (at byte \(position))")
        }
        guard position % 4 == 0 else { throw SwiftConvError.modelFormat("FlatBuffer: table at byte \(position) is not 4-byte aligned") }
        let soffset: Int32 = try checkedLoad(position, "table")
        let vtable = position - Int(soffset)
        guard vtable % 2 == 0 else {
            throw SwiftConvError.modelFormat("FlatBuffer: vtable at byte \(vtable) of the table at byte \(position) is not 2-byte aligned")
        }
        let vtableSize = Int(try checkedLoad(vtable, "the vtable of the table at byte \(position)") as UInt16)
        let tableSize = Int(try checkedLoad(vtable + 2, "the vtable of the table at byte \(position)") as UInt16)
        guard vtableSize >= 4, vtableSize % 2 == 0 else {
            throw SwiftConvError.modelFormat("FlatBuffer: vtable at byte \(vtable) declares a size of \(vtableSize) bytes")
        }
        try check(vtable, vtableSize, "the vtable of the table at byte \(position)")
        guard tableSize >= 4 else {
            throw SwiftConvError.modelFormat("FlatBuffer: vtable at byte \(vtable) declares a table of \(tableSize) bytes")
        }
        try check(position, tableSize, "table")
        return FBTable(reader: self, position: position, vtable: vtable, vtableSize: vtableSize, tableSize: tableSize, depth: depth)
    }

    /// The string at `position`: a uint32 length, UTF-8 bytes and a NUL. Invalid UTF-8 is
    /// repaired (U+FFFD), as names need not be valid to be reported.
    func string(at position: Int) throws -> String {
        let length = Int(try checkedLoad(position, "string length") as UInt32)
        try check(position + 4, length + 1, "string of \(length) bytes")
        guard bytes[position + 4 + length] == 0 else {
            throw SwiftConvError.modelFormat("FlatBuffer: string at byte \(position) does not end in NUL")
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(position + 4)..<(position + 4 + length)]), as: UTF8.self)
    }

    /// The vector at `position` whose elements take `elementSize` bytes, its body checked.
    func vector(at position: Int, elementSize: Int, depth: Int) throws -> FBVector {
        let count = Int(try checkedLoad(position, "vector length") as UInt32)
        let body: Int
        do {
            body = try Checked.multiply(count, elementSize, "the vector at byte \(position)")
        } catch let e as SwiftConvError {
            throw SwiftConvError.modelFormat("FlatBuffer: \(e.message)")
        }
        try check(position + 4, body, "the body of the vector at byte \(position) (\(count) elements of \(elementSize) bytes)")
        return FBVector(reader: self, start: position + 4, count: count, elementSize: elementSize, depth: depth)
    }
}

/// The tables a reader has opened, shared by every value it returns.
final class VisitCounter {
    var count = 0
}

/// A table in a FlatBuffer: fields are looked up by vtable slot (the schema's field index).
public struct FBTable {
    let reader: FlatBufferReader
    /// Byte offset of the table in the buffer.
    public let position: Int
    let vtable: Int
    let vtableSize: Int
    let tableSize: Int
    let depth: Int

    /// The field's offset inside the table, or nil when the vtable omits it.
    func fieldOffset(_ field: Int, size: Int) throws -> Int? {
        guard field >= 0, field < (vtableSize - 4) / 2 else { return nil }
        let offset = Int(reader.load(vtable + 4 + 2 * field, as: UInt16.self))
        if offset == 0 { return nil }
        guard offset >= 4, size <= tableSize - offset else {
            throw SwiftConvError.modelFormat(
                "FlatBuffer: field \(field) of the table at byte \(position) (offset \(offset), \(size) bytes) "
                    + "is outside the table's \(tableSize) bytes")
        }
        return position + offset
    }

    /// Whether the vtable stores field `field` (false also when it lies outside the table, which
    /// reading it reports).
    public func has(field: Int) -> Bool {
        (try? fieldOffset(field, size: 0)) != nil
    }

    /// The scalar in slot `field`, or `default` when it is absent.
    public func scalar<T: FlatBufferScalar>(field: Int, default value: T) throws -> T {
        guard let at = try fieldOffset(field, size: T.fbSize) else { return value }
        return reader.load(at)
    }

    /// The bytes of the struct of `size` bytes stored inline in slot `field`, or nil.
    public func structBytes(field: Int, size: Int) throws -> UnsafeRawBufferPointer? {
        guard size >= 0, let at = try fieldOffset(field, size: size) else { return nil }
        return UnsafeRawBufferPointer(rebasing: reader.bytes[at..<(at + size)])
    }

    /// Where the uoffset in slot `field` points, or nil when absent.
    func target(_ field: Int) throws -> Int? {
        guard let at = try fieldOffset(field, size: 4) else { return nil }
        return try reader.reference(at: at, "field \(field) of the table at byte \(position)")
    }

    /// The table in slot `field`, or nil. A union's value is such a table; its type is the
    /// `UInt8` scalar in the slot before it.
    public func table(field: Int) throws -> FBTable? {
        guard let t = try target(field) else { return nil }
        return try reader.table(at: t, depth: depth + 1)
    }

    /// The union whose value is in slot `field` and whose type (a `UInt8`, 0 for none) is in
    /// the slot before it, as schemas lay unions out; nil when either is absent or the type is 0.
    public func union(field: Int) throws -> (type: UInt8, value: FBTable)? {
        guard field >= 1 else { return nil }
        let type = try scalar(field: field - 1, default: UInt8(0))
        guard type != 0, let value = try table(field: field) else { return nil }
        return (type, value)
    }

    /// The string in slot `field`, or nil.
    public func string(field: Int) throws -> String? {
        guard let t = try target(field) else { return nil }
        return try reader.string(at: t)
    }

    /// The vector in slot `field`, or nil. `elementSize` is its element's size in bytes
    /// (4 for tables and strings, the struct size for structs); the whole body is checked.
    public func vector(field: Int, elementSize: Int = 4) throws -> FBVector? {
        guard let t = try target(field) else { return nil }
        guard elementSize > 0 else { throw SwiftConvError.invalidArgument("FlatBuffer: vector element size must be > 0") }
        return try reader.vector(at: t, elementSize: elementSize, depth: depth)
    }

    /// The `[ubyte]` vector in slot `field` as a slice of the buffer (no copy), or nil.
    public func bytes(field: Int) throws -> UnsafeRawBufferPointer? {
        guard let v = try vector(field: field, elementSize: 1) else { return nil }
        return UnsafeRawBufferPointer(rebasing: reader.bytes[v.start..<(v.start + v.count)])
    }
}

/// A vector in a FlatBuffer whose body has been checked to lie inside the buffer.
public struct FBVector {
    let reader: FlatBufferReader
    /// Byte offset of the first element.
    public let start: Int
    /// Number of elements.
    public let count: Int
    /// Bytes per element, as given when the vector was opened.
    public let elementSize: Int
    let depth: Int

    /// Byte offset of element `index` of `size` bytes, checked against the vector.
    func element(_ index: Int, size: Int) throws -> Int {
        guard index >= 0, index < count else {
            throw SwiftConvError.modelFormat("FlatBuffer: index \(index) is outside the vector of \(count) at byte \(start - 4)")
        }
        guard size <= elementSize else {
            throw SwiftConvError.invalidArgument("FlatBuffer: reading \(size)-byte elements of a vector of \(elementSize)-byte elements")
        }
        return start + index * elementSize
    }

    /// The scalar at `index`.
    public func scalar<T: FlatBufferScalar>(at index: Int) throws -> T {
        reader.load(try element(index, size: T.fbSize))
    }

    /// All elements as scalars of `T` (which must be `elementSize` bytes wide).
    public func scalars<T: FlatBufferScalar>(_ type: T.Type = T.self) throws -> [T] {
        try (0..<count).map { try scalar(at: $0) }
    }

    /// The table at `index`.
    public func table(at index: Int) throws -> FBTable {
        let at = try element(index, size: 4)
        return try reader.table(at: try reader.reference(at: at, "vector element \(index)"), depth: depth + 1)
    }

    /// The string at `index`.
    public func string(at index: Int) throws -> String {
        let at = try element(index, size: 4)
        return try reader.string(at: try reader.reference(at: at, "vector element \(index)"))
    }

    /// The bytes of the struct at `index` (`elementSize` bytes, no copy).
    public func structBytes(at index: Int) throws -> UnsafeRawBufferPointer {
        let at = try element(index, size: elementSize)
        return UnsafeRawBufferPointer(rebasing: reader.bytes[at..<(at + elementSize)])
    }
}
