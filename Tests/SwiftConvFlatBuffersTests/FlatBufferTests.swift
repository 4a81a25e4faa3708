import Foundation
import SwiftConvIR
import Testing

@testable import SwiftConvFlatBuffers

// MARK: Helpers

/// The fixtures written by tests/fixtures/flatbuffers/make_fixtures.py with the reference builder.
private let fixtureDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("tests/fixtures/flatbuffers")

private func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtureDirectory.appendingPathComponent(name)))
}

private func expected() throws -> [String: Any] {
    let data = try Data(contentsOf: fixtureDirectory.appendingPathComponent("expected.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// Runs `body` on a reader over `bytes`.
private func withReader<R>(_ bytes: [UInt8], maxTables: Int? = nil, _ body: (FlatBufferReader) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { try body(FlatBufferReader(bytes: $0, maxTables: maxTables)) }
}

/// The values of the "nested" schema of make_fixtures.py, read field by field.
private struct Nested: Equatable {
    var version: UInt32
    var description: String?
    var buffers: [[UInt8]?]
    var shape: [Int32]
    var names: [String]
    var optionsType: UInt8
    var stride: Int32
    var innerValue: Float
}

private func readNested(_ r: FlatBufferReader) throws -> Nested {
    let root = try r.root()
    var buffers: [[UInt8]?] = []
    if let v = try root.vector(field: 2) {
        for i in 0..<v.count { buffers.append(try v.table(at: i).bytes(field: 0).map { Array($0) }) }
    }
    var names: [String] = []
    if let v = try root.vector(field: 4) {
        for i in 0..<v.count { names.append(try v.string(at: i)) }
    }
    let union = try root.union(field: 6)
    let options = union?.value
    return Nested(
        version: try root.scalar(field: 0, default: 0),
        description: try root.string(field: 1),
        buffers: buffers,
        shape: try root.vector(field: 3)?.scalars() ?? [],
        names: names,
        optionsType: union?.type ?? 0,
        stride: try options?.scalar(field: 0, default: 0) ?? 0,
        innerValue: try options?.table(field: 1)?.scalar(field: 0, default: 0) ?? 0)
}

/// Writes `n` with our builder in the order make_fixtures.py uses.
private func buildNested(_ n: Nested, alignment: Int = 1) throws -> [UInt8] {
    var b = FlatBufferBuilder(capacity: 16)
    var buffers: [FBOffset] = []
    for data in n.buffers {
        let payload = data.flatMap { d in d.isEmpty ? nil : d.withUnsafeBytes { b.createBytes($0, alignment: alignment) } }
        b.startTable(fieldCount: 1)
        if let payload { b.add(field: 0, offset: payload) }
        buffers.append(b.endTable())
    }
    let bufferVector = b.createVector(offsets: buffers)
    let shape = b.createVector(n.shape)
    let names = b.createVector(offsets: n.names.map { b.createString($0) })
    let description = n.description.map { b.createString($0) }
    b.startTable(fieldCount: 1)
    b.add(field: 0, n.innerValue, default: 0)
    let inner = b.endTable()
    b.startTable(fieldCount: 2)
    b.add(field: 0, n.stride, default: 0)
    b.add(field: 1, offset: inner)
    let options = b.endTable()
    b.startTable(fieldCount: 7)
    b.add(field: 0, n.version, default: 0)
    if let description { b.add(field: 1, offset: description) }
    b.add(field: 2, offset: bufferVector)
    b.add(field: 3, offset: shape)
    b.add(field: 4, offset: names)
    b.add(field: 5, n.optionsType, default: 0)
    b.add(field: 6, offset: options)
    return try b.finish(root: b.endTable(), fileIdentifier: "TFL3")
}

/// Root{0 data:[Entry]}, Entry{0 data:[ubyte], 1 label:string} of make_fixtures.py: each
/// entry's bytes, its offset from the buffer start, and its label.
private func readAligned(_ r: FlatBufferReader) throws -> [(data: [UInt8], offset: Int, label: String)] {
    // A missing field is a format error here, as in a schema reader, not a test failure:
    // hostile buffers go through this too.
    func required<T>(_ value: T?, _ what: String) throws -> T {
        guard let value else { throw SwiftConvError.modelFormat("missing \(what)") }
        return value
    }
    let v = try required(try r.root().vector(field: 0), "entries")
    return try (0..<v.count).map { i in
        let entry = try v.table(at: i)
        let data = try required(try entry.bytes(field: 0), "data")
        let offset = try required(data.baseAddress, "data") - (try required(r.bytes.baseAddress, "buffer"))
        return (Array(data), offset, try required(try entry.string(field: 1), "label"))
    }
}

private func nestedFromJSON(_ j: [String: Any]) throws -> Nested {
    Nested(
        version: UInt32(try #require(j["version"] as? Int)),
        description: j["description"] as? String,
        buffers: try #require(j["buffers"] as? [[Int]]).map { $0.isEmpty ? nil : $0.map { UInt8($0) } },
        shape: try #require(j["shape"] as? [Int]).map { Int32($0) },
        names: try #require(j["names"] as? [String]),
        optionsType: UInt8(try #require(j["options_type"] as? Int)),
        stride: Int32(try #require(j["stride"] as? Int)),
        innerValue: Float(try #require(j["inner_value"] as? Double)))
}

// MARK: (b) Bytes from the reference Python builder

@Test func readsScalarsWrittenByTheReferenceBuilder() throws {
    let e = try #require(try expected()["scalars"] as? [String: Any])
    let bytes = try fixture("scalars.bin")
    try withReader(bytes) { r in
        #expect(r.identifier == "SCF1")
        let t = try r.root()
        #expect(try t.scalar(field: 0, default: false) == (e["bool"] as? Bool))
        #expect(try t.scalar(field: 1, default: Int8(0)) == Int8(try #require(e["int8"] as? Int)))
        #expect(try t.scalar(field: 2, default: UInt8(0)) == UInt8(try #require(e["uint8"] as? Int)))
        #expect(try t.scalar(field: 3, default: Int16(0)) == Int16(try #require(e["int16"] as? Int)))
        #expect(try t.scalar(field: 4, default: UInt16(0)) == UInt16(try #require(e["uint16"] as? Int)))
        #expect(try t.scalar(field: 5, default: Int32(0)) == Int32(try #require(e["int32"] as? Int)))
        #expect(try t.scalar(field: 6, default: UInt32(0)) == UInt32(try #require(e["uint32"] as? Int)))
        #expect(try t.scalar(field: 7, default: Int64(0)) == Int64(try #require(e["int64"] as? String)))
        #expect(try t.scalar(field: 8, default: UInt64(0)) == UInt64(try #require(e["uint64"] as? String)))
        #expect(try t.scalar(field: 9, default: Float(0)) == Float(try #require(e["float32"] as? Double)))
        #expect(try t.scalar(field: 10, default: Double(0)) == (e["float64"] as? Double))
        // Written equal to its default, so omitted from the vtable: the default comes back.
        #expect(!t.has(field: 11))
        #expect(try t.scalar(field: 11, default: Int32(7)) == Int32(try #require(e["defaulted_int32"] as? Int)))
        #expect(try t.scalar(field: 11, default: Int32(-1)) == -1)
        #expect(try t.string(field: 12) == (e["name"] as? String))
        // Slots past the vtable are absent, not errors.
        #expect(try t.scalar(field: 40, default: Int32(5)) == 5)
        #expect(try t.string(field: 40) == nil)
    }
}

@Test func readsNestedTablesVectorsAndUnionsWrittenByTheReferenceBuilder() throws {
    let want = try nestedFromJSON(try #require(try expected()["nested"] as? [String: Any]))
    let bytes = try fixture("nested.bin")
    let got = try withReader(bytes) { r in
        #expect(r.identifier == "TFL3")
        return try readNested(r)
    }
    #expect(got == want)
    // Our builder, called in the reference builder's order, writes the same bytes.
    #expect(try buildNested(want) == bytes)
}

@Test func builderWritesTheReferenceBuildersScalarTableByteForByte() throws {
    let e = try #require(try expected()["scalars"] as? [String: Any])
    var b = FlatBufferBuilder()
    let name = b.createString(try #require(e["name"] as? String))
    b.startTable(fieldCount: 13)
    b.add(field: 0, try #require(e["bool"] as? Bool), default: false)
    b.add(field: 1, Int8(try #require(e["int8"] as? Int)), default: 0)
    b.add(field: 2, UInt8(try #require(e["uint8"] as? Int)), default: 0)
    b.add(field: 3, Int16(try #require(e["int16"] as? Int)), default: 0)
    b.add(field: 4, UInt16(try #require(e["uint16"] as? Int)), default: 0)
    b.add(field: 5, Int32(try #require(e["int32"] as? Int)), default: 0)
    b.add(field: 6, UInt32(try #require(e["uint32"] as? Int)), default: 0)
    let int64 = try #require(e["int64"] as? String)
    let uint64 = try #require(e["uint64"] as? String)
    b.add(field: 7, try #require(Int64(int64)), default: 0)
    b.add(field: 8, try #require(UInt64(uint64)), default: 0)
    b.add(field: 9, Float(try #require(e["float32"] as? Double)), default: 0)
    b.add(field: 10, try #require(e["float64"] as? Double), default: 0)
    b.add(field: 11, Int32(7), default: 7)
    b.add(field: 12, offset: name)
    #expect(try b.finish(root: b.endTable(), fileIdentifier: "SCF1") == (try fixture("scalars.bin")))
}

@Test func readsAndWritesSixteenByteAlignedDataLikeTheReferenceBuilder() throws {
    let e = try #require(try expected()["aligned"] as? [String: Any])
    let payloads = try #require(e["payloads"] as? [[Int]]).map { $0.map { UInt8($0) } }
    let labels = try #require(e["labels"] as? [String])
    let bytes = try fixture("aligned.bin")
    let entries = try withReader(bytes, readAligned)
    #expect(entries.map(\.data) == payloads)
    #expect(entries.map(\.label) == labels)
    for entry in entries { #expect(entry.offset % 16 == 0, "data at byte \(entry.offset)") }

    var b = FlatBufferBuilder(capacity: 8)
    var offsets: [FBOffset] = []
    for (payload, label) in zip(payloads, labels) {
        let data = payload.withUnsafeBytes { b.createBytes($0, alignment: 16) }
        let name = b.createString(label)
        b.startTable(fieldCount: 2)
        b.add(field: 0, offset: data)
        b.add(field: 1, offset: name)
        offsets.append(b.endTable())
    }
    let vector = b.createVector(offsets: offsets)
    b.startTable(fieldCount: 1)
    b.add(field: 0, offset: vector)
    #expect(try b.finish(root: b.endTable(), fileIdentifier: "TFL3") == bytes)
}

// MARK: (a) Builder -> reader round trip

@Test func roundTripsEveryScalarDefaultsAndForcedDefaults() throws {
    var b = FlatBufferBuilder()
    b.startTable(fieldCount: 14)
    b.add(field: 0, true, default: false)
    b.add(field: 1, Int8.min, default: 0)
    b.add(field: 2, UInt8.max, default: 0)
    b.add(field: 3, Int16.min, default: 0)
    b.add(field: 4, UInt16.max, default: 0)
    b.add(field: 5, Int32.min, default: 0)
    b.add(field: 6, UInt32.max, default: 0)
    b.add(field: 7, Int64.min, default: 0)
    b.add(field: 8, UInt64.max, default: 0)
    b.add(field: 9, -Float.greatestFiniteMagnitude, default: 0)
    b.add(field: 10, Double.leastNonzeroMagnitude, default: 0)
    b.add(field: 11, Int32(3), default: 3) // omitted
    b.forceDefaults = true
    b.add(field: 12, Int32(3), default: 3) // written anyway
    let bytes = try b.finish(root: b.endTable())
    try withReader(bytes) { r in
        let t = try r.root()
        #expect(try t.scalar(field: 0, default: false) == true)
        #expect(try t.scalar(field: 1, default: Int8(0)) == Int8.min)
        #expect(try t.scalar(field: 2, default: UInt8(0)) == UInt8.max)
        #expect(try t.scalar(field: 3, default: Int16(0)) == Int16.min)
        #expect(try t.scalar(field: 4, default: UInt16(0)) == UInt16.max)
        #expect(try t.scalar(field: 5, default: Int32(0)) == Int32.min)
        #expect(try t.scalar(field: 6, default: UInt32(0)) == UInt32.max)
        #expect(try t.scalar(field: 7, default: Int64(0)) == Int64.min)
        #expect(try t.scalar(field: 8, default: UInt64(0)) == UInt64.max)
        #expect(try t.scalar(field: 9, default: Float(0)) == -Float.greatestFiniteMagnitude)
        #expect(try t.scalar(field: 10, default: Double(0)) == Double.leastNonzeroMagnitude)
        #expect(!t.has(field: 11))
        #expect(t.has(field: 12))
        #expect(try t.scalar(field: 12, default: Int32(0)) == 3)
        // Trailing absent slots are trimmed from the vtable: 13 slots, not 14.
        #expect(t.vtableSize == 4 + 2 * 13)
    }
}

@Test func roundTripsNestedTablesVectorsStringsAndAUnion() throws {
    let want = Nested(
        version: 3, description: "round trip", buffers: [nil, [9], [UInt8](repeating: 7, count: 33), nil],
        shape: [Int32.min, 0, Int32.max], names: ["a", "", "\u{1F600} x"], optionsType: 1, stride: -4, innerValue: 0.5)
    let bytes = try buildNested(want, alignment: 16)
    #expect(try withReader(bytes, readNested) == want)
    // Identical Buffer tables share one vtable.
    try withReader(bytes) { r in
        let v = try #require(try r.root().vector(field: 2))
        #expect(try v.table(at: 0).vtable == v.table(at: 3).vtable)
        #expect(try v.table(at: 1).vtable == v.table(at: 2).vtable)
    }
}

@Test func byteVectorsAreAlignedFromTheBufferStartAndNotCopied() throws {
    // An odd-length string of every length before the data shifts it through every residue.
    for pad in 0..<17 {
        var b = FlatBufferBuilder(capacity: 8)
        let payload: [UInt8] = (0..<21).map { UInt8($0 * 3) }
        let data = payload.withUnsafeBytes { b.createBytes($0, alignment: 16) }
        let filler = b.createString(String(repeating: "x", count: pad))
        b.startTable(fieldCount: 2)
        b.add(field: 0, offset: data)
        b.add(field: 1, offset: filler)
        let bytes = try b.finish(root: b.endTable(), fileIdentifier: "TFL3")
        try withReader(bytes) { r in
            let slice = try #require(try r.root().bytes(field: 0))
            #expect(Array(slice) == payload)
            let offset = try #require(slice.baseAddress) - (try #require(r.bytes.baseAddress))
            #expect(offset % 16 == 0, "data at byte \(offset) with \(pad) filler bytes")
            #expect(offset > 0 && offset + slice.count <= bytes.count)
        }
    }
}

@Test func builderRefusesABadIdentifierAndATablePast64KB() throws {
    var b = FlatBufferBuilder()
    b.startTable(fieldCount: 0)
    let root = b.endTable()
    #expect(throws: SwiftConvError.self) { try b.finish(root: root, fileIdentifier: "TFLITE") }
    #expect(try b.finish(root: root, fileIdentifier: "TFL3").count == 16)

    // A 70,000-byte inline struct: its table cannot be described by uint16 vtable entries.
    var big = FlatBufferBuilder()
    big.startTable(fieldCount: 1)
    big.addStruct(field: 0, bytes: [UInt8](repeating: 1, count: 70_000), alignment: 4)
    let table = big.endTable()
    let error = #expect(throws: SwiftConvError.self) { try big.finish(root: table) }
    #expect(error?.message.contains("64 KB") == true)
}

// MARK: (c) Hostile input

/// Runs one read of hostile bytes: it may succeed or throw `.modelFormat`, nothing else.
private func probe<R>(_ note: @autoclosure () -> String, _ read: () throws -> R) -> R? {
    do {
        return try read()
    } catch let e as SwiftConvError {
        #expect(e.kind == .modelFormat, "\(note()): \(e)")
    } catch {
        Issue.record("\(note()): \(error)")
    }
    return nil
}

/// Reads everything reachable in every way the API offers, as a careless reader would: each
/// slot as scalars of every width, string, bytes, struct, table and vector of tables/strings,
/// carrying on after each failed read.
private func readEverything(_ t: FBTable, _ note: String, slots: Int = 13) {
    for f in 0..<slots {
        _ = probe(note) { try t.scalar(field: f, default: UInt8(0)) }
        _ = probe(note) { try t.scalar(field: f, default: UInt32(0)) }
        _ = probe(note) { try t.scalar(field: f, default: Double(0)) }
        _ = probe(note) { try t.string(field: f) }
        _ = probe(note) { try t.bytes(field: f) }
        _ = probe(note) { try t.structBytes(field: f, size: 12) }
        if let v = probe(note, { try t.vector(field: f, elementSize: 4) }) ?? nil {
            for i in 0..<min(v.count, 64) {
                _ = probe(note) { try v.scalar(at: i) as Int32 }
                _ = probe(note) { try v.string(at: i) }
                if let sub = probe(note, { try v.table(at: i) }) { readEverything(sub, note, slots: slots) }
            }
        }
        if let sub = probe(note, { try t.table(field: f) }) ?? nil { readEverything(sub, note, slots: slots) }
    }
}

/// Reads every field of scalars.bin by its schema.
private func readScalars(_ r: FlatBufferReader) throws {
    let t = try r.root()
    _ = try t.scalar(field: 0, default: false)
    _ = try t.scalar(field: 1, default: Int8(0))
    _ = try t.scalar(field: 2, default: UInt8(0))
    _ = try t.scalar(field: 3, default: Int16(0))
    _ = try t.scalar(field: 4, default: UInt16(0))
    _ = try t.scalar(field: 5, default: Int32(0))
    _ = try t.scalar(field: 6, default: UInt32(0))
    _ = try t.scalar(field: 7, default: Int64(0))
    _ = try t.scalar(field: 8, default: UInt64(0))
    _ = try t.scalar(field: 9, default: Float(0))
    _ = try t.scalar(field: 10, default: Double(0))
    _ = try t.scalar(field: 11, default: Int32(7))
    _ = try t.string(field: 12)
}

/// Counts of hostile buffers tried and of those the schema reader refused, to show that the
/// mutations reach both outcomes.
private final class Outcomes {
    var total = 0
    var refused = 0
}

/// Reads `bytes` by its schema and then every other way: each read succeeds or throws
/// `.modelFormat`; anything else (another error kind, a trap) fails the test.
private func expectReadableOrModelFormat(_ bytes: [UInt8], _ note: String, schema: String, _ outcomes: Outcomes) {
    outcomes.total += 1
    bytes.withUnsafeBytes { raw in
        let r = FlatBufferReader(bytes: raw, maxTables: 5_000)
        _ = r.identifier
        let readBySchema = {
            switch schema {
            case "nested.bin": _ = try readNested(r)
            case "aligned.bin": _ = try readAligned(r)
            default: try readScalars(r)
            }
        }
        if probe(note, readBySchema) == nil { outcomes.refused += 1 }
        if let root = probe(note, { try r.root() }) { readEverything(root, note) }
    }
}

private let fixtureNames = ["scalars.bin", "nested.bin", "aligned.bin"]

/// A small deterministic generator (SplitMix64), so failures reproduce.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

@Test func everyTruncationThrowsModelFormatOrReads() throws {
    let outcomes = Outcomes()
    for name in fixtureNames {
        let bytes = try fixture(name)
        for n in 0..<bytes.count {
            expectReadableOrModelFormat(Array(bytes[..<n]), "\(name) cut to \(n) bytes", schema: name, outcomes)
        }
    }
    // Every cut loses part of a string, vector or table, except cuts into the zero padding
    // after the last data: 2 bytes after scalars.bin's last string's NUL, and 11 after
    // aligned.bin's first payload (the reference builder pads the buffer to 16 bytes).
    #expect(try fixture("scalars.bin").suffix(3) == [0, 0, 0])
    #expect(try fixture("aligned.bin").suffix(12) == [0x14] + [UInt8](repeating: 0, count: 11))
    #expect(outcomes.refused == outcomes.total - 2 - 11)
    // An empty buffer has no root.
    #expect(throws: SwiftConvError.self) { try withReader([]) { try $0.root() } }
}

@Test func everySingleByteFlipThrowsModelFormatOrReads() throws {
    let outcomes = Outcomes()
    for name in fixtureNames {
        let bytes = try fixture(name)
        for i in bytes.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var m = bytes
                m[i] ^= mask
                expectReadableOrModelFormat(m, "\(name) byte \(i) ^ \(mask)", schema: name, outcomes)
            }
        }
    }
    // Flipped values and padding still read; flipped offsets and lengths do not.
    #expect(outcomes.refused > outcomes.total / 10 && outcomes.refused < outcomes.total * 9 / 10, "\(outcomes.refused)/\(outcomes.total)")
}

@Test func seededRandomMutationsThrowModelFormatOrRead() throws {
    let sources = try fixtureNames.map { try fixture($0) }
    let outcomes = Outcomes()
    var rng = SplitMix64(state: 0x5EED)
    let extremes: [UInt32] = [0, 1, 3, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFC, 0xFFFF_FFFF]
    for round in 0..<4000 {
        var m = sources[round % sources.count]
        for _ in 0..<(1 + rng.below(4)) {
            switch rng.below(4) {
            case 0: m[rng.below(m.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 1: // an extreme 32-bit value at a 4-aligned spot: offsets, lengths, soffsets
                let at = rng.below(m.count / 4) * 4
                let v = extremes[rng.below(extremes.count)]
                for k in 0..<4 { m[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
            case 2: // an extreme 16-bit value: vtable sizes and field offsets
                let at = rng.below(m.count / 2) * 2
                let v = UInt16(truncatingIfNeeded: extremes[rng.below(extremes.count)])
                m[at] = UInt8(truncatingIfNeeded: v)
                m[at + 1] = UInt8(truncatingIfNeeded: v >> 8)
            default: m = Array(m[..<max(4, m.count - rng.below(16))])
            }
        }
        expectReadableOrModelFormat(m, "mutation round \(round)", schema: fixtureNames[round % sources.count], outcomes)
    }
    #expect(outcomes.total == 4000)
    #expect(outcomes.refused > 400 && outcomes.refused < 3600, "\(outcomes.refused)/\(outcomes.total)")
}

@Test func hugeOffsetsAndOutsideVtablesAreModelFormatErrorsNamingTheByte() throws {
    let bytes = try fixture("nested.bin")
    func modelFormatMessage(_ m: [UInt8], _ read: (FlatBufferReader) throws -> Void) -> String? {
        do {
            try withReader(m, read)
            return nil
        } catch let e as SwiftConvError {
            return e.kind == .modelFormat ? e.message : "wrong kind \(e)"
        } catch { return "\(error)" }
    }
    // Root offset past the end.
    var m = bytes
    m[0] = 0xF0
    m[3] = 0xFF
    #expect(modelFormatMessage(m) { _ = try $0.root() }?.contains("at byte 0") == true)
    // The root table's soffset pointing its vtable far before the buffer, then far after it.
    let root = Int(bytes[0]) | Int(bytes[1]) << 8
    for soffset: UInt32 in [0x7FFF_FFF0, 0x8000_0000, 0xFFFF_FFF0] {
        m = bytes
        for k in 0..<4 { m[root + k] = UInt8(truncatingIfNeeded: soffset >> (8 * k)) }
        let message = modelFormatMessage(m) { _ = try $0.root() }
        #expect(message?.contains("vtable") == true, "\(String(describing: message))")
    }
    // A vector claiming 2^32 - 1 elements.
    let shapeVector = try withReader(bytes) { try #require(try $0.root().vector(field: 3)).start - 4 }
    m = bytes
    for k in 0..<4 { m[shapeVector + k] = 0xFF }
    #expect(modelFormatMessage(m) { _ = try $0.root().vector(field: 3) }?.contains("\(shapeVector)") == true)
    // A string without its NUL.
    let description = try withReader(bytes) { r in
        let t = try r.root()
        return try #require(try t.fieldOffset(1, size: 4))
    }
    let stringAt = description + (Int(bytes[description]) | Int(bytes[description + 1]) << 8)
    m = bytes
    m[stringAt + 4 + 14] = 0x41
    #expect(modelFormatMessage(m) { _ = try $0.root().string(field: 1) }?.contains("NUL") == true)
}

@Test func vectorByteCountsThatOverflowAreModelFormatErrors() throws {
    let bytes = try fixture("nested.bin")
    let error = #expect(throws: SwiftConvError.self) {
        try withReader(bytes) { _ = try $0.root().vector(field: 3, elementSize: Int.max / 2) }
    }
    #expect(error?.kind == .modelFormat)
    #expect(error?.message.contains("overflows") == true)
    // The same vector read with its real element size is fine, and indices past it are errors.
    try withReader(bytes) { r in
        let v = try #require(try r.root().vector(field: 3))
        #expect(v.count == 4)
        #expect(throws: SwiftConvError.self) { try v.scalar(at: 4) as Int32 }
        #expect(throws: SwiftConvError.self) { try v.scalar(at: -1) as Int32 }
    }
}

@Test func deepNestingAndSharedSubtreesAreBounded() throws {
    // A chain of 100 tables, each holding the next in slot 0.
    var b = FlatBufferBuilder()
    b.startTable(fieldCount: 1)
    var child = b.endTable()
    for _ in 0..<100 {
        b.startTable(fieldCount: 1)
        b.add(field: 0, offset: child)
        child = b.endTable()
    }
    let chain = try b.finish(root: child)
    let depthError = #expect(throws: SwiftConvError.self) {
        try withReader(chain) { r in
            var t: FBTable? = try r.root()
            while let current = t { t = try current.table(field: 0) }
        }
    }
    #expect(depthError?.kind == .modelFormat)
    #expect(depthError?.message.contains("deeper than 64") == true)

    // 40 levels of a table whose vector holds the next table twice: 2^40 paths, one table each.
    var d = FlatBufferBuilder()
    d.startTable(fieldCount: 1)
    var level = d.endTable()
    for _ in 0..<40 {
        let pair = d.createVector(offsets: [level, level])
        d.startTable(fieldCount: 1)
        d.add(field: 0, offset: pair)
        level = d.endTable()
    }
    let dag = try d.finish(root: level)
    #expect(dag.count < 2000)
    let capError = #expect(throws: SwiftConvError.self) {
        try withReader(dag, maxTables: 10_000) { r in
            func walk(_ t: FBTable) throws {
                guard let v = try t.vector(field: 0) else { return }
                for i in 0..<v.count { try walk(try v.table(at: i)) }
            }
            try walk(try r.root())
        }
    }
    #expect(capError?.kind == .modelFormat)
    #expect(capError?.message.contains("more than 10000 tables") == true)
}
