import SwiftConvFlatBuffers
import SwiftConvIR
import TFLiteSchema

/// Builtin options tables <-> IR attributes, driven by the generated descriptors
/// (`BuiltinOptionsTables`), so that no op needs hand-written code either way.
enum TFLiteOptions {
    /// The IR attribute name of a field: subgraph indices lose their `_index` suffix.
    static func attributeName(_ field: OptionFieldDescriptor) -> String {
        if case .subgraph = field.kind, field.name.hasSuffix("_index") { return String(field.name.dropLast(6)) }
        return field.name
    }

    static func elementSize(_ s: IntegerStorage) -> Int {
        switch s {
        case .int8, .uint8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32: return 4
        case .int64, .uint64: return 8
        }
    }

    /// The integer in `slot`, widened; a uint64 past Int64.max is an error (no trap).
    static func readInt(_ t: FBTable?, _ slot: Int, _ s: IntegerStorage, default d: Double) throws -> Int64 {
        let def = Int64(exactly: d) ?? 0
        guard let t else { return def }
        switch s {
        case .int8: return Int64(try t.scalar(field: slot, default: Int8(truncatingIfNeeded: def)))
        case .uint8: return Int64(try t.scalar(field: slot, default: UInt8(truncatingIfNeeded: def)))
        case .int16: return Int64(try t.scalar(field: slot, default: Int16(truncatingIfNeeded: def)))
        case .uint16: return Int64(try t.scalar(field: slot, default: UInt16(truncatingIfNeeded: def)))
        case .int32: return Int64(try t.scalar(field: slot, default: Int32(truncatingIfNeeded: def)))
        case .uint32: return Int64(try t.scalar(field: slot, default: UInt32(truncatingIfNeeded: def)))
        case .int64: return try t.scalar(field: slot, default: def)
        case .uint64:
            let v = try t.scalar(field: slot, default: UInt64(truncatingIfNeeded: def))
            guard let r = Int64(exactly: v) else { throw SwiftConvError.modelFormat("option field \(slot) holds \(v), past Int64") }
            return r
        }
    }

    static func readInts(_ v: FBVector, _ s: IntegerStorage) throws -> [Int64] {
        switch s {
        case .int8: return try v.scalars(Int8.self).map(Int64.init)
        case .uint8: return try v.scalars(UInt8.self).map(Int64.init)
        case .int16: return try v.scalars(Int16.self).map(Int64.init)
        case .uint16: return try v.scalars(UInt16.self).map(Int64.init)
        case .int32: return try v.scalars(Int32.self).map(Int64.init)
        case .uint32: return try v.scalars(UInt32.self).map(Int64.init)
        case .int64: return try v.scalars(Int64.self)
        case .uint64:
            return try v.scalars(UInt64.self).map {
                guard let r = Int64(exactly: $0) else { throw SwiftConvError.modelFormat("option vector holds \($0), past Int64") }
                return r
            }
        }
    }

    static func enumName(_ raw: Int64, _ cases: [(value: Int64, name: String)]) -> String {
        cases.first { $0.value == raw }?.name ?? String(raw)
    }

    /// The attributes of options table `table` (nil: all schema defaults) described by `d`.
    /// Absent vectors and strings are left out (they have no default); deprecated fields too.
    /// `subgraph` turns a subgraph index into the imported graph.
    static func attributes(
        of table: FBTable?, _ d: OptionsTableDescriptor, subgraph: (Int64) throws -> Graph
    ) throws -> [Attribute] {
        var out: [Attribute] = []
        for f in d.fields where !f.deprecated {
            let name = attributeName(f)
            let value: AttributeValue?
            switch f.kind {
            case .int(let s): value = .int(try readInt(table, f.slot, s, default: f.defaultValue))
            case .bool: value = .int((try table?.scalar(field: f.slot, default: f.defaultValue != 0) ?? (f.defaultValue != 0)) ? 1 : 0)
            case .float: value = .float(try table?.scalar(field: f.slot, default: Float(f.defaultValue)) ?? Float(f.defaultValue))
            case .double: value = .float(Float(try table?.scalar(field: f.slot, default: f.defaultValue) ?? f.defaultValue))
            case .enumeration(let s, let cases):
                value = .string(Array(enumName(try readInt(table, f.slot, s, default: f.defaultValue), cases).utf8))
            case .intVector(let s):
                value = try table?.vector(field: f.slot, elementSize: elementSize(s)).map { .ints(try readInts($0, s)) }
            case .floatVector:
                value = try table?.vector(field: f.slot, elementSize: 4).map { .floats(try $0.scalars(Float.self)) }
            case .enumVector(let s, let cases):
                value = try table?.vector(field: f.slot, elementSize: elementSize(s)).map {
                    .strings(try readInts($0, s).map { Array(enumName($0, cases).utf8) })
                }
            case .string: value = try table?.string(field: f.slot).map { .string(Array($0.utf8)) }
            case .bytes: value = try table?.bytes(field: f.slot).map { .string(Array($0)) }
            case .subgraph(let s): value = .graph(try subgraph(try readInt(table, f.slot, s, default: f.defaultValue)))
            case .unsupported: value = nil
            }
            if let value { out.append(Attribute(name: name, value: value)) }
        }
        return out
    }

    /// Writes options table `d` from `node`'s attributes (absent ones take the schema default).
    /// `subgraph` gives the index a graph attribute is written at.
    static func write(
        _ d: OptionsTableDescriptor, node: Node, into b: inout FlatBufferBuilder, subgraph: (Graph) throws -> Int
    ) throws -> FBOffset {
        func bad(_ f: OptionFieldDescriptor, _ m: String) -> SwiftConvError {
            SwiftConvError.invalidArgument("attribute '\(attributeName(f))' of \(d.name): \(m)").at(SwiftConvError.NodeContext(node))
        }
        func int(_ f: OptionFieldDescriptor, _ a: Attribute) throws -> Int64 {
            if let v = a.int { return v }
            if let v = a.float, let i = Int64(exactly: v) { return i }
            throw bad(f, "expected an integer")
        }
        func enumValue(_ f: OptionFieldDescriptor, _ s: String, _ cases: [(value: Int64, name: String)]) throws -> Int64 {
            if let c = cases.first(where: { $0.name == s }) { return c.value }
            if let v = Int64(s) { return v }
            throw bad(f, "'\(s)' is not a value of the enum")
        }
        // Vectors and strings first: nothing may be created while the table is open.
        var offsets: [Int: FBOffset] = [:]
        var scalars: [(OptionFieldDescriptor, Attribute)] = []
        for f in d.fields where !f.deprecated {
            guard let a = node.attribute(attributeName(f)), a.value != nil else { continue }
            switch f.kind {
            case .intVector(let s):
                guard let v = a.ints else { throw bad(f, "expected ints") }
                offsets[f.slot] = try createInts(v, s, &b, { bad(f, $0) })
            case .floatVector:
                guard let v = a.floats else { throw bad(f, "expected floats") }
                offsets[f.slot] = b.createVector(v)
            case .enumVector(let s, let cases):
                guard let v = a.strings else { throw bad(f, "expected strings") }
                offsets[f.slot] = try createInts(try v.map { try enumValue(f, $0, cases) }, s, &b, { bad(f, $0) })
            case .string:
                guard let v = a.string else { throw bad(f, "expected a string") }
                offsets[f.slot] = b.createString(v)
            case .bytes:
                guard case .string(let v)? = a.value else { throw bad(f, "expected bytes") }
                offsets[f.slot] = v.withUnsafeBytes { b.createBytes($0) }
            default: scalars.append((f, a))
            }
        }
        b.startTable(fieldCount: d.slotCount)
        for (slot, o) in offsets { b.add(field: slot, offset: o) }
        for (f, a) in scalars {
            switch f.kind {
            case .int(let s): try addInt(try int(f, a), s, f, &b, { bad(f, $0) })
            case .bool: b.add(field: f.slot, try int(f, a) != 0, default: f.defaultValue != 0)
            case .float:
                guard let v = a.float ?? a.int.map(Float.init) else { throw bad(f, "expected a float") }
                b.add(field: f.slot, v, default: Float(f.defaultValue))
            case .double:
                guard let v = a.float ?? a.int.map(Float.init) else { throw bad(f, "expected a float") }
                b.add(field: f.slot, Double(v), default: f.defaultValue)
            case .enumeration(let s, let cases):
                guard let name = a.string else { throw bad(f, "expected the name of an enum value") }
                try addInt(try enumValue(f, name, cases), s, f, &b, { bad(f, $0) })
            case .subgraph(let s):
                guard let g = a.graph else { throw bad(f, "expected a graph") }
                try addInt(Int64(try subgraph(g)), s, f, &b, { bad(f, $0) })
            default: break
            }
        }
        return b.endTable()
    }

    private static func addInt(
        _ v: Int64, _ s: IntegerStorage, _ f: OptionFieldDescriptor, _ b: inout FlatBufferBuilder, _ bad: (String) -> SwiftConvError
    ) throws {
        let d = Int64(exactly: f.defaultValue) ?? 0
        func put<T: FlatBufferScalar & FixedWidthInteger>(_: T.Type) throws {
            guard let x = T(exactly: v) else { throw bad("\(v) does not fit \(T.self)") }
            b.add(field: f.slot, x, default: T(truncatingIfNeeded: d))
        }
        switch s {
        case .int8: try put(Int8.self)
        case .uint8: try put(UInt8.self)
        case .int16: try put(Int16.self)
        case .uint16: try put(UInt16.self)
        case .int32: try put(Int32.self)
        case .uint32: try put(UInt32.self)
        case .int64: try put(Int64.self)
        case .uint64: try put(UInt64.self)
        }
    }

    private static func createInts(
        _ v: [Int64], _ s: IntegerStorage, _ b: inout FlatBufferBuilder, _ bad: (String) -> SwiftConvError
    ) throws -> FBOffset {
        func make<T: FlatBufferScalar & FixedWidthInteger>(_: T.Type) throws -> FBOffset {
            b.createVector(
                try v.map {
                    guard let x = T(exactly: $0) else { throw bad("\($0) does not fit \(T.self)") }
                    return x
                })
        }
        switch s {
        case .int8: return try make(Int8.self)
        case .uint8: return try make(UInt8.self)
        case .int16: return try make(Int16.self)
        case .uint16: return try make(UInt16.self)
        case .int32: return try make(Int32.self)
        case .uint32: return try make(UInt32.self)
        case .int64: return try make(Int64.self)
        case .uint64: return try make(UInt64.self)
        }
    }
}
