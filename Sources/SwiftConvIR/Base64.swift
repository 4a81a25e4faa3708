/// Base64 (RFC 4648, padded): binary payloads in string metadata (TFLite metadata buffers kept
/// as `tflite.metadata.<name>` entries, the value map of a converted TFLite model).
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// `bytes` as padded base64 text.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i])
            let b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[((b0 & 3) << 4) | (b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[((b1 & 15) << 2) | (b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[b2 & 63] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text`, or nil when it is not padded base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var lookup = [Int](repeating: -1, count: 256)
        for (k, c) in alphabet.enumerated() { lookup[Int(c)] = k }
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            var v = [0, 0, 0, 0]
            var pad = 0
            for k in 0..<4 {
                let c = chars[i + k]
                if c == UInt8(ascii: "=") && i + 4 == chars.count && k >= 2 {
                    pad += 1
                } else {
                    guard pad == 0, lookup[Int(c)] >= 0 else { return nil }
                    v[k] = lookup[Int(c)]
                }
            }
            let n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3]
            out.append(UInt8(n >> 16))
            if pad < 2 { out.append(UInt8((n >> 8) & 255)) }
            if pad < 1 { out.append(UInt8(n & 255)) }
            i += 4
        }
        return out
    }
}
