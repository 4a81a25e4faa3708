/// A scalar a FlatBuffer stores inline, little-endian: the integers, `Float`, `Double` and
/// `Bool` (one byte, non-zero is true). `Bits` is the unsigned integer of the same width.
public protocol FlatBufferScalar: Equatable {
    /// The unsigned integer holding the value's bit pattern.
    associatedtype Bits: FixedWidthInteger & UnsignedInteger
    /// The value whose bit pattern is `fbBits`.
    init(fbBits: Bits)
    /// The value's bit pattern.
    var fbBits: Bits { get }
}

extension FlatBufferScalar {
    /// Bytes the scalar takes (and its alignment) in a FlatBuffer.
    public static var fbSize: Int { MemoryLayout<Bits>.size }
}

extension UInt8: FlatBufferScalar {
    public init(fbBits: UInt8) { self = fbBits }
    public var fbBits: UInt8 { self }
}
extension UInt16: FlatBufferScalar {
    public init(fbBits: UInt16) { self = fbBits }
    public var fbBits: UInt16 { self }
}
extension UInt32: FlatBufferScalar {
    public init(fbBits: UInt32) { self = fbBits }
    public var fbBits: UInt32 { self }
}
extension UInt64: FlatBufferScalar {
    public init(fbBits: UInt64) { self = fbBits }
    public var fbBits: UInt64 { self }
}
extension Int8: FlatBufferScalar {
    public init(fbBits: UInt8) { self = Int8(bitPattern: fbBits) }
    public var fbBits: UInt8 { UInt8(bitPattern: self) }
}
extension Int16: FlatBufferScalar {
    public init(fbBits: UInt16) { self = Int16(bitPattern: fbBits) }
    public var fbBits: UInt16 { UInt16(bitPattern: self) }
}
extension Int32: FlatBufferScalar {
    public init(fbBits: UInt32) { self = Int32(bitPattern: fbBits) }
    public var fbBits: UInt32 { UInt32(bitPattern: self) }
}
extension Int64: FlatBufferScalar {
    public init(fbBits: UInt64) { self = Int64(bitPattern: fbBits) }
    public var fbBits: UInt64 { UInt64(bitPattern: self) }
}
extension Float: FlatBufferScalar {
    public init(fbBits: UInt32) { self = Float(bitPattern: fbBits) }
    public var fbBits: UInt32 { bitPattern }
}
extension Double: FlatBufferScalar {
    public init(fbBits: UInt64) { self = Double(bitPattern: fbBits) }
    public var fbBits: UInt64 { bitPattern }
}
extension Bool: FlatBufferScalar {
    public init(fbBits: UInt8) { self = fbBits != 0 }
    public var fbBits: UInt8 { self ? 1 : 0 }
}
