/// A minimal JSON text builder (the library avoids Foundation); output is always valid UTF-8.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Per open container: whether a value was already written (so the next needs a comma).
    private var hasValue: [Bool] = []
    /// True between `key` and its value, which then takes no comma.
    private var afterKey = false

    /// Writes the comma a new value or key needs inside the current container.
    private mutating func beginValue() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = hasValue.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            hasValue[hasValue.count - 1] = true
        }
    }

    /// An object key; the value written next belongs to it.
    mutating func key(_ name: String) {
        beginValue()
        appendQuoted(Array(name.utf8))
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) { container("{", "}", body) }
    mutating func array(_ body: (inout JSONWriter) -> Void) { container("[", "]", body) }

    private mutating func container(_ open: Unicode.Scalar, _ close: Unicode.Scalar, _ body: (inout JSONWriter) -> Void) {
        beginValue()
        bytes.append(UInt8(ascii: open))
        hasValue.append(false)
        body(&self)
        hasValue.removeLast()
        bytes.append(UInt8(ascii: close))
    }

    mutating func string(_ value: String) {
        beginValue()
        appendQuoted(Array(value.utf8))
    }
    /// Raw bytes as a JSON string; invalid UTF-8 becomes U+FFFD.
    mutating func string(bytes value: [UInt8]) {
        beginValue()
        appendQuoted(value)
    }
    mutating func string(_ value: String?) { if let value { string(value) } else { null() } }
    mutating func int(_ value: Int64) {
        beginValue()
        bytes.append(contentsOf: String(value).utf8)
    }
    /// The shortest text that reads back as the same Float; NaN and infinities as Python's json writes them.
    mutating func float(_ value: Float) {
        beginValue()
        let text = value.isNaN ? "NaN" : value.isInfinite ? (value < 0 ? "-Infinity" : "Infinity") : "\(value)"
        bytes.append(contentsOf: text.utf8)
    }
    /// The shortest text that reads back as the same Double; NaN and infinities as Python's json writes them.
    mutating func double(_ value: Double) {
        beginValue()
        let text = value.isNaN ? "NaN" : value.isInfinite ? (value < 0 ? "-Infinity" : "Infinity") : "\(value)"
        bytes.append(contentsOf: text.utf8)
    }
    mutating func bool(_ value: Bool) {
        beginValue()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }
    mutating func null() {
        beginValue()
        bytes.append(contentsOf: "null".utf8)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func appendQuoted(_ raw: [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Decoding repairs invalid UTF-8 with U+FFFD.
        for scalar in String(decoding: raw, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\"": bytes.append(contentsOf: "\\\"".utf8)
            case "\\": bytes.append(contentsOf: "\\\\".utf8)
            case "\n": bytes.append(contentsOf: "\\n".utf8)
            case "\r": bytes.append(contentsOf: "\\r".utf8)
            case "\t": bytes.append(contentsOf: "\\t".utf8)
            case "\u{08}": bytes.append(contentsOf: "\\b".utf8)
            case "\u{0C}": bytes.append(contentsOf: "\\f".utf8)
            // Legal in JSON but not in JavaScript source; escaped so the text can be embedded in HTML views.
            case "\u{2028}": bytes.append(contentsOf: "\\u2028".utf8)
            case "\u{2029}": bytes.append(contentsOf: "\\u2029".utf8)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let v = Int(scalar.value)
                    bytes.append(contentsOf: "\\u00".utf8)
                    bytes.append(JSONWriter.hexDigits[v >> 4])
                    bytes.append(JSONWriter.hexDigits[v & 0xF])
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
