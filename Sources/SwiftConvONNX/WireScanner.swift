import SwiftConvIR

/// One top-level field of a protobuf message, located but not decoded.
struct WireField {
    let number: Int
    let wireType: Int
    /// The whole field, tag included.
    let whole: Range<Int>
    /// For length-delimited fields, the payload; otherwise the value bytes.
    let payload: Range<Int>
}

/// Splits protobuf bytes into top-level fields without decoding them.
///
/// The generated codec copies every `bytes` field it decodes; the reader uses this scanner to
/// find tensor `raw_data` first, so weights stay where they are (in the file buffer).
/// Every length is checked against the buffer, so hostile input cannot read past it.
enum WireScanner {
    /// The fields of `bytes[range]`; nil when the bytes use groups or are malformed
    /// (the caller then falls back to a plain decode, which reports the error).
    static func fields(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> [WireField]? {
        var out = [WireField]()
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let start = i
            guard let tag = readVarint(bytes, &i, end) else { return nil }
            let number = Int(truncatingIfNeeded: tag >> 3)
            let wireType = Int(tag & 7)
            guard number > 0 else { return nil }
            let payloadStart: Int
            switch wireType {
            case 0:
                payloadStart = i
                guard readVarint(bytes, &i, end) != nil else { return nil }
            case 1:
                payloadStart = i
                guard end - i >= 8 else { return nil }
                i += 8
            case 5:
                payloadStart = i
                guard end - i >= 4 else { return nil }
                i += 4
            case 2:
                guard let len = readVarint(bytes, &i, end), len <= UInt64(end - i) else { return nil }
                payloadStart = i
                i += Int(len)
            default:
                return nil
            }
            out.append(WireField(number: number, wireType: wireType, whole: start..<i, payload: payloadStart..<i))
        }
        return out
    }

    static func readVarint(_ bytes: UnsafeRawBufferPointer, _ i: inout Int, _ end: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < end {
            let b = bytes[i]
            i += 1
            if shift == 63 && b > 1 { return nil }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// Concatenates the given fields' bytes (tags included) into a new buffer.
    static func concatenate(_ bytes: UnsafeRawBufferPointer, _ fields: [WireField]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(fields.reduce(0) { $0 + $1.whole.count })
        for f in fields { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[f.whole])) }
        return out
    }
}
