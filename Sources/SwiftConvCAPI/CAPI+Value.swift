import CSwiftConv
import SwiftConvEngine
import SwiftConvIR

/// The object behind `sc_value *`: an engine `Value` plus the handles its accessors hand out.
///
/// Tensors keep one `TensorBox` each, so that `sc_value_get_tensor` always returns the same
/// handle and a writable flag stays attached to the memory it describes.
final class ValueBox {
    let value: Value
    /// The tensor of a tensor value; keys then values of a map; empty otherwise.
    let tensors: [TensorBox]
    /// The elements of a sequence.
    let items: [ValueBox]

    init(tensor box: TensorBox) {
        value = .tensor(box.tensor)
        tensors = [box]
        items = []
    }

    init(sequence items: [ValueBox], elementType: ValueType?) {
        value = .sequence(items.map(\.value), elementType: elementType)
        tensors = []
        self.items = items
    }

    init(keys: TensorBox, values: TensorBox) {
        value = .map(keys: keys.tensor, values: values.tensor)
        tensors = [keys, values]
        items = []
    }

    init(none type: ValueType?) {
        value = .none(type)
        tensors = []
        items = []
    }

    /// Wraps a value computed by the engine; its tensors are read-only.
    convenience init(_ value: Value) {
        switch value {
        case .tensor(let t): self.init(tensor: TensorBox(t))
        case .sequence(let items, let type): self.init(sequence: items.map { ValueBox($0) }, elementType: type)
        case .map(let k, let v): self.init(keys: TensorBox(k), values: TensorBox(v))
        case .none(let type): self.init(none: type)
        }
    }

    /// Wraps `results[index]`, moving it out of the array: a top-level tensor is writable
    /// when the library allocated its memory and nothing else (model, input, another
    /// output, the plan) holds a reference to it.
    static func takingOutput(_ results: inout [Value], at index: Int) -> ValueBox {
        guard case .tensor(var t) = results[index] else { return ValueBox(results[index]) }
        // Drop the array's reference so that `t` is the only one this function holds.
        results[index] = .none(nil)
        let unique = isKnownUniquelyReferenced(&t.storage)
        return ValueBox(tensor: TensorBox(t, writable: unique))
    }

    var kind: sc_value_kind {
        switch value {
        case .none: return SC_VALUE_NONE
        case .tensor: return SC_VALUE_TENSOR
        case .sequence: return SC_VALUE_SEQUENCE
        case .map: return SC_VALUE_MAP
        }
    }
}

@_cdecl("sc_value_create_tensor")
public func scValueCreateTensor(_ tensor: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(tensor, "tensor"), as: TensorBox.self)
        let out = try required(out, "out")
        out.pointee = retainedHandle(ValueBox(tensor: box))
    }
}

@_cdecl("sc_value_create_sequence")
public func scValueCreateSequence(
    _ items: UnsafePointer<OpaquePointer?>?, _ count: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        guard count == 0 || items != nil else { throw SwiftConvError.invalidArgument("items must not be NULL") }
        var boxes = [ValueBox]()
        boxes.reserveCapacity(count)
        for i in 0..<count {
            boxes.append(object(try required(items![i], "items[\(i)]"), as: ValueBox.self))
        }
        out.pointee = retainedHandle(ValueBox(sequence: boxes, elementType: nil))
    }
}

@_cdecl("sc_value_create_none")
public func scValueCreateNone(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        out.pointee = retainedHandle(ValueBox(none: nil))
    }
}

@_cdecl("sc_value_create_map")
public func scValueCreateMap(
    _ keys: OpaquePointer?, _ values: OpaquePointer?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let k = object(try required(keys, "keys"), as: TensorBox.self)
        let v = object(try required(values, "values"), as: TensorBox.self)
        let out = try required(out, "out")
        guard k.tensor.dtype == .int64 || k.tensor.dtype == .string else {
            throw SwiftConvError.invalidArgument("map keys must be int64 or string, not \(k.tensor.dtype)")
        }
        guard k.tensor.shape.count == 1, v.tensor.shape.count == 1, k.tensor.shape == v.tensor.shape else {
            throw SwiftConvError.invalidArgument(
                "map keys and values must be 1-D of the same length; got \(k.tensor.shape) and \(v.tensor.shape)")
        }
        out.pointee = retainedHandle(ValueBox(keys: k, values: v))
    }
}

@_cdecl("sc_value_get_kind")
public func scValueGetKind(_ value: OpaquePointer?) -> sc_value_kind {
    guard let value else { return SC_VALUE_NONE }
    return object(value, as: ValueBox.self).kind
}

@_cdecl("sc_value_get_tensor")
public func scValueGetTensor(_ value: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(value, "value"), as: ValueBox.self)
        let out = try required(out, "out")
        guard box.kind == SC_VALUE_TENSOR else {
            throw SwiftConvError.invalidArgument("value is \(box.value.typeDescription), not a tensor")
        }
        out.pointee = retainedHandle(box.tensors[0])
    }
}

@_cdecl("sc_value_sequence_length")
public func scValueSequenceLength(_ value: OpaquePointer?) -> Int {
    guard let value else { return 0 }
    return object(value, as: ValueBox.self).items.count
}

@_cdecl("sc_value_sequence_at")
public func scValueSequenceAt(
    _ value: OpaquePointer?, _ index: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(value, "value"), as: ValueBox.self)
        let out = try required(out, "out")
        guard box.kind == SC_VALUE_SEQUENCE else {
            throw SwiftConvError.invalidArgument("value is \(box.value.typeDescription), not a sequence")
        }
        guard index >= 0, index < box.items.count else {
            throw SwiftConvError.invalidArgument("sequence index \(index) out of range 0..<\(box.items.count)")
        }
        out.pointee = retainedHandle(box.items[index])
    }
}

@_cdecl("sc_value_get_map")
public func scValueGetMap(
    _ value: OpaquePointer?, _ keys: UnsafeMutablePointer<OpaquePointer?>?,
    _ values: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(value, "value"), as: ValueBox.self)
        let keys = try required(keys, "keys")
        let values = try required(values, "values")
        guard box.kind == SC_VALUE_MAP else {
            throw SwiftConvError.invalidArgument("value is \(box.value.typeDescription), not a map")
        }
        keys.pointee = retainedHandle(box.tensors[0])
        values.pointee = retainedHandle(box.tensors[1])
    }
}

@_cdecl("sc_value_release")
public func scValueRelease(_ value: OpaquePointer?) {
    releaseHandle(value, as: ValueBox.self)
}
