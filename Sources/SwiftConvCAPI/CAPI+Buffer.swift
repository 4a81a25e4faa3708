import CSwiftConv

/// The object behind `sc_buffer *`: immutable bytes (a serialized model, JSON, text).
final class BufferBox {
    /// Never mutated, so its contiguous storage stays where it is for the box's lifetime.
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    convenience init(text: String) { self.init(Array(text.utf8)) }

    var baseAddress: UnsafePointer<UInt8> {
        if bytes.isEmpty { return UnsafePointer(emptyBytes) }
        return bytes.withUnsafeBufferPointer { $0.baseAddress! }
    }
}

@_cdecl("sc_buffer_data")
public func scBufferData(_ buffer: OpaquePointer?) -> UnsafePointer<UInt8>? {
    guard let buffer else { return nil }
    return object(buffer, as: BufferBox.self).baseAddress
}

@_cdecl("sc_buffer_size")
public func scBufferSize(_ buffer: OpaquePointer?) -> Int {
    guard let buffer else { return 0 }
    return object(buffer, as: BufferBox.self).bytes.count
}

@_cdecl("sc_buffer_release")
public func scBufferRelease(_ buffer: OpaquePointer?) {
    releaseHandle(buffer, as: BufferBox.self)
}
