/// Which value of a source model each value of a converted model holds, so that a
/// verification can compare the two models layer by layer (`ModelVerifier`, `sc.verify`).
///
/// Stored as model metadata under `swiftconv.value_map` (a TFLite model keeps metadata as
/// base64 buffers, so there it is `tflite.metadata.swiftconv.value_map`), as JSON:
/// `{"<candidate value>": {"source": "<source value>", "perm": [0, 2, 3, 1]}}`, where `perm`,
/// when present, says candidate = transpose(source, perm) (ONNX Transpose semantics).
/// Converters write it; passes that rename or re-layout a value keep it current.
public struct ValueMap: Sendable, Equatable {
    /// One candidate value's origin: the source value and the permutation between them.
    public struct Entry: Hashable, Sendable {
        /// The source model's value.
        public var source: String
        /// candidate = transpose(source, perm); nil when the layouts are the same.
        public var perm: [Int]?
        /// An entry for `source`, transposed by `perm` when given.
        public init(source: String, perm: [Int]? = nil) {
            self.source = source
            self.perm = perm
        }
    }

    /// The metadata key of an ONNX (or any IR) model.
    public static let metadataKey = "swiftconv.value_map"
    /// The metadata key of a TFLite model (its metadata entries are base64 buffers).
    public static let tfliteMetadataKey = "tflite.metadata.swiftconv.value_map"

    /// Candidate value names in the order they were added.
    public private(set) var names: [String] = []
    private var table: [String: Entry] = [:]

    /// An empty map.
    public init() {}

    /// Number of entries.
    public var count: Int { names.count }
    /// True when there are no entries.
    public var isEmpty: Bool { names.isEmpty }

    /// The origin of candidate value `name`, if recorded.
    public subscript(name: String) -> Entry? { table[name] }

    /// Records that candidate value `name` holds `entry` (replacing an earlier record).
    public mutating func set(_ name: String, _ entry: Entry) {
        if table.updateValue(entry, forKey: name) == nil { names.append(name) }
    }

    /// Records `new` = transpose(`old`, `perm`) (nil: a copy of `old`) when `old` has an
    /// origin and `new` has none yet; a rewrite calls it for each value it introduces.
    public mutating func derive(_ new: String, from old: String, perm: [Int]? = nil) {
        guard table[new] == nil, let e = table[old] else { return }
        var composed = e.perm
        if let perm {
            let base = e.perm ?? Array(0..<perm.count)
            guard perm.count == base.count, perm.allSatisfy({ $0 >= 0 && $0 < base.count }) else { return }
            composed = perm.map { base[$0] }
        }
        if let c = composed, c == Array(0..<c.count) { composed = nil }
        set(new, Entry(source: e.source, perm: composed))
    }

    /// Keeps only the entries whose candidate value `keep` accepts.
    public mutating func filter(_ keep: (String) -> Bool) {
        names = names.filter(keep)
        table = table.filter { keep($0.key) }
    }

    // MARK: model metadata

    /// The map `model` carries under either key; nil when it carries none.
    /// A value that is not a valid map is a validation error naming the key.
    public init?(model: Model) throws {
        if let text = model.metadata.first(where: { $0.key == Self.metadataKey })?.value {
            self = try ValueMap(json: text)
        } else if let encoded = model.metadata.first(where: { $0.key == Self.tfliteMetadataKey })?.value {
            guard let bytes = Base64.decode(encoded) else {
                throw SwiftConvError.validation("model metadata '\(Self.tfliteMetadataKey)' is not base64")
            }
            self = try ValueMap(json: String(decoding: bytes, as: UTF8.self))
        } else {
            return nil
        }
    }

    /// Writes the map into `model`'s metadata under the key of its format, replacing any
    /// earlier map; an empty map removes it.
    public func store(in model: inout Model) {
        model.metadata.removeAll { $0.key == Self.metadataKey || $0.key == Self.tfliteMetadataKey }
        guard !isEmpty else { return }
        let text = json
        if model.format == .tflite {
            let encoded = Array(text.utf8).withUnsafeBytes { Base64.encode($0) }
            model.metadata.append(MetadataEntry(Self.tfliteMetadataKey, encoded))
        } else {
            model.metadata.append(MetadataEntry(Self.metadataKey, text))
        }
    }

    // MARK: JSON

    /// The map as compact JSON, entries in insertion order.
    public var json: String {
        var out = "{"
        for (k, name) in names.enumerated() {
            guard let e = table[name] else { continue }
            if k > 0 { out += ", " }
            out += JSONText.quoted(name) + ": {\"source\": " + JSONText.quoted(e.source)
            if let p = e.perm { out += ", \"perm\": [" + p.map(String.init).joined(separator: ", ") + "]" }
            out += "}"
        }
        return out + "}"
    }

    /// Parses the JSON form; members of an entry other than `source` and `perm` are ignored.
    public init(json text: String) throws {
        var p = ValueMapParser(Array(text.utf8))
        try p.expect(UInt8(ascii: "{"))
        if !p.consume(UInt8(ascii: "}")) {
            repeat {
                let name = try p.string()
                try p.expect(UInt8(ascii: ":"))
                set(name, try p.entry(for: name))
            } while p.consume(UInt8(ascii: ","))
            try p.expect(UInt8(ascii: "}"))
        }
        try p.end()
    }
}

/// A reader of exactly the value map's JSON shape (no Foundation in the library); every
/// error names the byte where reading stopped.
private struct ValueMapParser {
    let bytes: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ what: String) -> SwiftConvError {
        SwiftConvError.validation("\(ValueMap.metadataKey): \(what) at byte \(i)")
    }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func consume(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < bytes.count, bytes[i] == c else { return false }
        i += 1
        return true
    }

    mutating func expect(_ c: UInt8) throws {
        guard consume(c) else { throw fail("expected '\(Character(UnicodeScalar(c)))'") }
    }

    mutating func end() throws {
        skipSpace()
        guard i == bytes.count else { throw fail("trailing characters") }
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        i += 4
        return v
    }

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        var out = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() {
            out.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
            run.removeAll()
        }
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            guard c == UInt8(ascii: "\\") else {
                run.append(c)
                continue
            }
            guard i < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): run.append(e)
            case UInt8(ascii: "n"): run.append(0x0A)
            case UInt8(ascii: "r"): run.append(0x0D)
            case UInt8(ascii: "t"): run.append(0x09)
            case UInt8(ascii: "b"): run.append(0x08)
            case UInt8(ascii: "f"): run.append(0x0C)
            case UInt8(ascii: "u"):
                flush()
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                    bytes[i + 1] == UInt8(ascii: "u")
                {
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("bad surrogate pair") }
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(v) else { throw fail("\\u escape is not a character") }
                out.append(scalar)
            default: throw fail("unknown escape")
            }
        }
        flush()
        return String(out)
    }

    mutating func integer() throws -> Int {
        skipSpace()
        let start = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]), i - start < 9 { i += 1 }
        guard i > start, let v = Int(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            throw fail("expected a non-negative axis")
        }
        return v
    }

    /// Skips a scalar or an array of them (an entry member this version does not use).
    mutating func skipValue() throws {
        skipSpace()
        guard i < bytes.count, bytes[i] != UInt8(ascii: "{") else { throw fail("expected a scalar or an array") }
        if bytes[i] == UInt8(ascii: "\"") {
            _ = try string()
            return
        }
        if consume(UInt8(ascii: "[")) {
            if consume(UInt8(ascii: "]")) { return }
            repeat { try skipValue() } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
            return
        }
        let start = i
        while i < bytes.count, !",}] \t\r\n".utf8.contains(bytes[i]) { i += 1 }
        guard i > start else { throw fail("expected a value") }
    }

    mutating func entry(for name: String) throws -> ValueMap.Entry {
        try expect(UInt8(ascii: "{"))
        var source: String?
        var perm: [Int]?
        if !consume(UInt8(ascii: "}")) {
            repeat {
                let key = try string()
                try expect(UInt8(ascii: ":"))
                switch key {
                case "source": source = try string()
                case "perm":
                    skipSpace()
                    if bytes[i...].starts(with: "null".utf8) {
                        i += 4
                        perm = nil
                        continue
                    }
                    try expect(UInt8(ascii: "["))
                    var axes: [Int] = []
                    if !consume(UInt8(ascii: "]")) {
                        repeat { axes.append(try integer()) } while consume(UInt8(ascii: ","))
                        try expect(UInt8(ascii: "]"))
                    }
                    guard Set(axes) == Set(0..<axes.count) else { throw fail("perm \(axes) of '\(name)' is not a permutation") }
                    perm = axes
                default: try skipValue()
                }
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        }
        guard let source else { throw fail("entry '\(name)' has no source") }
        return ValueMap.Entry(source: source, perm: perm)
    }
}
