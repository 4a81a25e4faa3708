import SwiftConvIR

/// A value of ONNX test data (`onnx-data.proto`): a tensor, sequence, map or optional.
public indirect enum ONNXTestValue {
    case tensor(Tensor)
    /// `elementType` is the declared element type of an empty sequence, when known.
    case sequence([ONNXTestValue], elementType: ValueType?)
    /// Keys (int64 or string, 1-D) and the values sequence.
    case map(keys: Tensor, values: [ONNXTestValue])
    /// nil for an empty optional.
    case optional(ONNXTestValue?)
}

extension ONNXReader {
    /// Decodes a serialized test value whose declared type is `type`: a `TensorProto`,
    /// `SequenceProto`, `MapProto` or `OptionalProto` (onnx-data.proto, decoded by hand).
    public static func testValue(serialized bytes: UnsafeRawBufferPointer, type: ValueType?) throws -> ONNXTestValue {
        switch type {
        case .sequence(let e)?: return try sequence(bytes, 0..<bytes.count, elementType: e)
        case .map?: return try map(bytes, 0..<bytes.count)
        case .optional(let e)?: return try optional(bytes, 0..<bytes.count, elementType: e)
        default: return .tensor(try tensor(serialized: UnsafeRawBufferPointer(rebasing: bytes[0..<bytes.count])))
        }
    }

    static func fields(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ what: String) throws -> [WireField] {
        guard let f = WireScanner.fields(bytes, in: range) else {
            throw SwiftConvError.modelFormat("malformed \(what) in test data")
        }
        return f
    }

    static func varint(_ bytes: UnsafeRawBufferPointer, _ f: WireField) -> Int64 {
        var i = f.payload.lowerBound
        return Int64(bitPattern: WireScanner.readVarint(bytes, &i, f.payload.upperBound) ?? 0)
    }

    static func element(_ bytes: UnsafeRawBufferPointer, _ f: WireField, elementType: ValueType?) throws -> ONNXTestValue? {
        guard f.wireType == 2 else { return nil }
        switch f.number {
        case 3: return .tensor(try tensor(serialized: UnsafeRawBufferPointer(rebasing: bytes[f.payload])))
        case 5:
            if case .sequence(let e)? = elementType { return try sequence(bytes, f.payload, elementType: e) }
            return try sequence(bytes, f.payload, elementType: nil)
        case 6: return try map(bytes, f.payload)
        case 7:
            if case .optional(let e)? = elementType { return try optional(bytes, f.payload, elementType: e) }
            return try optional(bytes, f.payload, elementType: nil)
        default: return nil
        }
    }

    static func sequence(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, elementType: ValueType?) throws -> ONNXTestValue {
        var items: [ONNXTestValue] = []
        for f in try fields(bytes, range, "SequenceProto") {
            if let v = try element(bytes, f, elementType: elementType) { items.append(v) }
        }
        return .sequence(items, elementType: elementType)
    }

    static func optional(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, elementType: ValueType?) throws -> ONNXTestValue {
        for f in try fields(bytes, range, "OptionalProto") {
            if let v = try element(bytes, f, elementType: elementType) { return .optional(v) }
        }
        return .optional(nil)
    }

    static func map(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws -> ONNXTestValue {
        var keys: [Int64] = []
        var stringKeys: [[UInt8]] = []
        var values: [ONNXTestValue] = []
        for f in try fields(bytes, range, "MapProto") {
            switch (f.number, f.wireType) {
            case (3, 0): keys.append(varint(bytes, f))
            case (3, 2):
                var i = f.payload.lowerBound
                while i < f.payload.upperBound {
                    guard let v = WireScanner.readVarint(bytes, &i, f.payload.upperBound) else {
                        throw SwiftConvError.modelFormat("malformed MapProto keys in test data")
                    }
                    keys.append(Int64(bitPattern: v))
                }
            case (4, 2): stringKeys.append(Array(UnsafeRawBufferPointer(rebasing: bytes[f.payload])))
            case (5, 2):
                if case .sequence(let items, _) = try sequence(bytes, f.payload, elementType: nil) { values = items }
            default: break
            }
        }
        let k =
            stringKeys.isEmpty
            ? Tensor(dtype: .int64, shape: [keys.count], values: keys)
            : Tensor(shape: [stringKeys.count], strings: stringKeys)
        return .map(keys: k, values: values)
    }
}
