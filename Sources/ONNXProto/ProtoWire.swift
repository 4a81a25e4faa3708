// The protobuf wire format runtime the generated messages (ONNXMessages.swift) call into.
// Written by hand, not generated: scripts/generate-onnx-proto.py only emits the messages.
// Decoding reads untrusted bytes: every length is checked against the bytes left, varints
// are at most 10 bytes, nesting is bounded, and every failure is a thrown ProtoDecodingError.

/// Why protobuf bytes could not be decoded: the message, field and byte offset, then the fault.
public struct ProtoDecodingError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// What every generated message offers: decoding from untrusted bytes and encoding.
public protocol ProtoMessage: Equatable, Sendable {
    init()
    /// The full protobuf name, e.g. "onnx.ModelProto" (for error messages).
    static var protoMessageName: String { get }
    /// Decodes serialized bytes; nesting deeper than `depthLimit` messages is an error.
    init(serializedBytes bytes: UnsafeRawBufferPointer, depthLimit: Int) throws
    /// The encoded message: known fields in field-number order, then the unknown fields.
    func serializedBytes() -> [UInt8]
}

/// The generated field-level codec of a message, which the wire runtime calls.
protocol ProtoFields: ProtoMessage {
    /// Merges the fields in `reader`'s current range into `self`.
    mutating func decodeFields(_ reader: inout ProtoReader) throws
    /// The encoded size of the fields (without an enclosing tag or length).
    func serializedSize() -> Int
    /// Writes the fields in field-number order, then the unknown fields kept at decoding.
    func encodeFields(_ writer: inout ProtoWriter)
}

extension ProtoFields {
    static func decode(_ bytes: UnsafeRawBufferPointer, depthLimit: Int) throws -> Self {
        var reader = ProtoReader(bytes, depthLimit: depthLimit, message: protoMessageName)
        var m = Self()
        try m.decodeFields(&reader)
        return m
    }

    func encode() -> [UInt8] {
        var writer = ProtoWriter()
        writer.bytes.reserveCapacity(serializedSize())
        encodeFields(&writer)
        return writer.bytes
    }
}

/// An immutable heap cell for a singular message field, so that messages may nest
/// themselves (TypeProto.Sequence holds a TypeProto) and stay cheap to copy.
final class ProtoBox<T: Sendable>: Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension ProtoBox: Equatable where T: Equatable {
    static func == (a: ProtoBox, b: ProtoBox) -> Bool { a === b || a.value == b.value }
}

/// Wire types of the protobuf encoding.
enum WireType {
    static let varint = 0
    static let fixed64 = 1
    static let lengthDelimited = 2
    static let fixed32 = 5
}

/// A cursor over protobuf bytes. `end` is the end of the message being decoded; nested
/// messages narrow it and restore it when they finish.
struct ProtoReader {
    let base: UnsafeRawBufferPointer
    var position = 0
    var end: Int
    var depth = 0
    let depthLimit: Int
    /// For error messages: the message being decoded, the field and where its tag starts.
    var message: String
    var field = 0
    var tagStart = 0

    init(_ base: UnsafeRawBufferPointer, depthLimit: Int, message: String) {
        self.base = base
        self.end = base.count
        self.depthLimit = depthLimit
        self.message = message
    }

    func failure(_ what: String) -> ProtoDecodingError {
        let at = field == 0 ? "" : " field \(field)"
        return ProtoDecodingError(description: "\(message)\(at) at byte \(tagStart): \(what)")
    }

    /// The next field's number and wire type, or nil at the end of the current message.
    mutating func nextTag() throws -> (field: Int, wire: Int)? {
        guard position < end else { return nil }
        tagStart = position
        let tag = try varint()
        field = Int(truncatingIfNeeded: tag >> 3)
        guard tag <= UInt64(UInt32.max), field > 0 else {
            throw failure("invalid field number \(tag >> 3)")
        }
        return (field, Int(tag & 7))
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw failure("truncated varint") }
            let byte = base[position]
            position += 1
            if shift == 63 && byte > 1 { throw failure("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    func expect(_ wire: Int, _ wanted: Int) throws {
        guard wire == wanted else { throw failure("wire type \(wire), expected \(wanted)") }
    }

    /// The payload of a length-delimited field, checked against the bytes left.
    mutating func lengthDelimited() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - position) else {
            throw failure("length \(n) runs past the end (\(end - position) bytes left)")
        }
        let range = position..<(position + Int(n))
        position = range.upperBound
        return range
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw failure("truncated fixed32") }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(littleEndian: v)
    }

    mutating func fixed64() throws -> UInt64 {
        guard end - position >= 8 else { throw failure("truncated fixed64") }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: v)
    }

    // MARK: Singular scalars

    mutating func readInt64(_ wire: Int) throws -> Int64 {
        try expect(wire, WireType.varint)
        return Int64(bitPattern: try varint())
    }

    mutating func readInt32(_ wire: Int) throws -> Int32 {
        try expect(wire, WireType.varint)
        return Int32(truncatingIfNeeded: try varint())
    }

    mutating func readUInt64(_ wire: Int) throws -> UInt64 {
        try expect(wire, WireType.varint)
        return try varint()
    }

    mutating func readUInt32(_ wire: Int) throws -> UInt32 {
        try expect(wire, WireType.varint)
        return UInt32(truncatingIfNeeded: try varint())
    }

    mutating func readBool(_ wire: Int) throws -> Bool {
        try expect(wire, WireType.varint)
        return try varint() != 0
    }

    mutating func readFloat(_ wire: Int) throws -> Float {
        try expect(wire, WireType.fixed32)
        return Float(bitPattern: try fixed32())
    }

    mutating func readDouble(_ wire: Int) throws -> Double {
        try expect(wire, WireType.fixed64)
        return Double(bitPattern: try fixed64())
    }

    mutating func readBytes(_ wire: Int) throws -> [UInt8] {
        try expect(wire, WireType.lengthDelimited)
        let range = try lengthDelimited()
        return [UInt8](UnsafeRawBufferPointer(rebasing: base[range]))
    }

    mutating func readString(_ wire: Int) throws -> String {
        try expect(wire, WireType.lengthDelimited)
        let range = try lengthDelimited()
        guard let s = String(validating: UnsafeRawBufferPointer(rebasing: base[range]), as: UTF8.self) else {
            throw failure("a string is not valid UTF-8")
        }
        return s
    }

    // MARK: Repeated scalars (packed or not, whatever the .proto says, as protobuf requires)

    /// Appends one element, or every element of a packed run, decoded by `element`.
    mutating func readRepeated<T>(
        _ wire: Int, elementWire: Int, into array: inout [T], _ element: (inout ProtoReader) throws -> T
    ) throws {
        if wire == WireType.lengthDelimited {
            let range = try lengthDelimited()
            let savedEnd = end
            end = range.upperBound
            position = range.lowerBound
            if elementWire == WireType.fixed32 {
                array.reserveCapacity(array.count + range.count / 4)
            } else if elementWire == WireType.fixed64 {
                array.reserveCapacity(array.count + range.count / 8)
            }
            while position < end { array.append(try element(&self)) }
            end = savedEnd
        } else {
            try expect(wire, elementWire)
            array.append(try element(&self))
        }
    }

    mutating func readRepeatedFloat(_ wire: Int, into array: inout [Float]) throws {
        try readRepeated(wire, elementWire: WireType.fixed32, into: &array) { Float(bitPattern: try $0.fixed32()) }
    }

    mutating func readRepeatedDouble(_ wire: Int, into array: inout [Double]) throws {
        try readRepeated(wire, elementWire: WireType.fixed64, into: &array) { Double(bitPattern: try $0.fixed64()) }
    }

    mutating func readRepeatedInt64(_ wire: Int, into array: inout [Int64]) throws {
        try readRepeated(wire, elementWire: WireType.varint, into: &array) { Int64(bitPattern: try $0.varint()) }
    }

    mutating func readRepeatedInt32(_ wire: Int, into array: inout [Int32]) throws {
        try readRepeated(wire, elementWire: WireType.varint, into: &array) { Int32(truncatingIfNeeded: try $0.varint()) }
    }

    mutating func readRepeatedUInt64(_ wire: Int, into array: inout [UInt64]) throws {
        try readRepeated(wire, elementWire: WireType.varint, into: &array) { try $0.varint() }
    }

    mutating func readRepeatedUInt32(_ wire: Int, into array: inout [UInt32]) throws {
        try readRepeated(wire, elementWire: WireType.varint, into: &array) { UInt32(truncatingIfNeeded: try $0.varint()) }
    }

    mutating func readRepeatedBool(_ wire: Int, into array: inout [Bool]) throws {
        try readRepeated(wire, elementWire: WireType.varint, into: &array) { try $0.varint() != 0 }
    }

    // MARK: Messages and unknown fields

    /// Merges a length-delimited nested message into `m`, one level deeper.
    mutating func readMessage<M: ProtoFields>(_ wire: Int, into m: inout M) throws {
        try expect(wire, WireType.lengthDelimited)
        let range = try lengthDelimited()
        guard depth < depthLimit else { throw failure("messages are nested more than \(depthLimit) deep") }
        let (savedEnd, savedMessage, savedField) = (end, message, field)
        end = range.upperBound
        position = range.lowerBound
        message = M.protoMessageName
        field = 0
        depth += 1
        try m.decodeFields(&self)
        depth -= 1
        (end, message, field) = (savedEnd, savedMessage, savedField)
    }

    /// Skips a field this schema does not know, appending its bytes (tag included) to `unknown`.
    mutating func skipField(_ wire: Int, into unknown: inout [UInt8]) throws {
        switch wire {
        case WireType.varint: _ = try varint()
        case WireType.fixed64: _ = try fixed64()
        case WireType.fixed32: _ = try fixed32()
        case WireType.lengthDelimited: _ = try lengthDelimited()
        case 3, 4: throw failure("groups (wire type \(wire)) are not supported")
        default: throw failure("invalid wire type \(wire)")
        }
        keepUnknown(into: &unknown)
    }

    /// Appends the field just read (tag included) to `unknown`: a closed enum's unknown value.
    func keepUnknown(into unknown: inout [UInt8]) {
        unknown.append(contentsOf: UnsafeRawBufferPointer(rebasing: base[tagStart..<position]))
    }
}

/// Encoded sizes, to write each nested message's length before its fields.
enum ProtoSize {
    static func varint(_ v: UInt64) -> Int {
        var n = 1
        var v = v >> 7
        while v != 0 {
            n += 1
            v >>= 7
        }
        return n
    }

    static func int64(_ v: Int64) -> Int { varint(UInt64(bitPattern: v)) }
    /// Negative int32 values are sign-extended to ten bytes, as protobuf does.
    static func int32(_ v: Int32) -> Int { varint(UInt64(bitPattern: Int64(v))) }
    static func lengthDelimited(_ n: Int) -> Int { varint(UInt64(n)) + n }
    static func string(_ s: String) -> Int { lengthDelimited(s.utf8.count) }
    static func message<M: ProtoFields>(_ m: M) -> Int { lengthDelimited(m.serializedSize()) }

    static func packedVarints<T>(_ values: [T], _ size: (T) -> Int) -> Int {
        var n = 0
        for v in values { n += size(v) }
        return n
    }
}

/// Appends protobuf fields to a byte array.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }

    mutating func fixed32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func fixed64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func writeInt64(_ field: Int, _ v: Int64) {
        tag(field, WireType.varint)
        varint(UInt64(bitPattern: v))
    }

    mutating func writeInt32(_ field: Int, _ v: Int32) {
        tag(field, WireType.varint)
        varint(UInt64(bitPattern: Int64(v)))
    }

    mutating func writeUInt64(_ field: Int, _ v: UInt64) {
        tag(field, WireType.varint)
        varint(v)
    }

    mutating func writeUInt32(_ field: Int, _ v: UInt32) {
        tag(field, WireType.varint)
        varint(UInt64(v))
    }

    mutating func writeBool(_ field: Int, _ v: Bool) {
        tag(field, WireType.varint)
        varint(v ? 1 : 0)
    }

    mutating func writeFloat(_ field: Int, _ v: Float) {
        tag(field, WireType.fixed32)
        fixed32(v.bitPattern)
    }

    mutating func writeDouble(_ field: Int, _ v: Double) {
        tag(field, WireType.fixed64)
        fixed64(v.bitPattern)
    }

    mutating func writeBytes(_ field: Int, _ v: [UInt8]) {
        tag(field, WireType.lengthDelimited)
        varint(UInt64(v.count))
        bytes.append(contentsOf: v)
    }

    mutating func writeString(_ field: Int, _ v: String) {
        tag(field, WireType.lengthDelimited)
        varint(UInt64(v.utf8.count))
        bytes.append(contentsOf: v.utf8)
    }

    mutating func writeMessage<M: ProtoFields>(_ field: Int, _ m: M) {
        tag(field, WireType.lengthDelimited)
        varint(UInt64(m.serializedSize()))
        m.encodeFields(&self)
    }

    /// A packed run of fixed-width values (float, double) in little-endian order.
    mutating func writePackedFixed<T: BitwiseCopyable>(_ field: Int, _ values: [T]) {
        guard !values.isEmpty else { return }
        tag(field, WireType.lengthDelimited)
        varint(UInt64(values.count * MemoryLayout<T>.size))
        #if _endian(little)
            values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
            for v in values {
                withUnsafeBytes(of: v) { bytes.append(contentsOf: $0.reversed()) }
            }
        #endif
    }

    /// A packed run of varints; `encode` gives each value's 64-bit pattern.
    mutating func writePackedVarints<T>(_ field: Int, _ values: [T], size: (T) -> Int, _ encode: (T) -> UInt64) {
        guard !values.isEmpty else { return }
        tag(field, WireType.lengthDelimited)
        varint(UInt64(ProtoSize.packedVarints(values, size)))
        for v in values { varint(encode(v)) }
    }
}
