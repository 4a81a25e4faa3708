import CSwiftConv
import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The object behind `sc_tensor *`: a tensor plus the C views `sc_tensor_describe` hands out.
final class TensorBox {
    let tensor: Tensor
    let shape: UnsafeMutablePointer<Int64>
    let name: UnsafeMutablePointer<CChar>
    /// Whether the caller may write into the memory (`sc_tensor_is_writable`): set only for
    /// run outputs held by nothing else.
    let writable: Bool

    init(_ tensor: Tensor, writable: Bool = false) {
        self.tensor = tensor
        self.writable = writable && tensor.storage.isOwned
        shape = .allocate(capacity: max(tensor.shape.count, 1))
        for (i, d) in tensor.shape.enumerated() { shape[i] = Int64(d) }
        name = cString(tensor.name)
    }

    deinit {
        shape.deallocate()
        free(name)
    }
}

/// Releases a caller's borrowed buffer exactly once, whichever path a call takes.
final class BorrowedRelease {
    private var callback: (() -> Void)?

    init(_ release: sc_release_fn?, owner: UnsafeMutableRawPointer?) {
        if let release { callback = { release(owner) } }
    }

    /// Gives the callback away (to a storage that calls it later); afterwards `fire` does nothing.
    func take() -> (() -> Void)? {
        defer { callback = nil }
        return callback
    }

    func fire() { take()?() }

    deinit { fire() }
}

/// Byte layout of a caller's strided buffer: where it starts and ends relative to `data`.
private struct StridedExtent {
    var lowest = 0
    var highest = 0

    init(shape: [Int], strides: [Int], itemSize: Int) throws {
        for (d, s) in zip(shape, strides) where d > 1 {
            let (reach, overflow) = s.multipliedReportingOverflow(by: d - 1)
            guard !overflow else { throw SwiftConvError.invalidArgument("strides overflow") }
            let (next, o2) = (reach < 0 ? lowest : highest).addingReportingOverflow(reach)
            guard !o2 else { throw SwiftConvError.invalidArgument("strides overflow") }
            if reach < 0 { lowest = next } else { highest = next }
        }
        let (end, o3) = highest.addingReportingOverflow(itemSize)
        guard !o3 else { throw SwiftConvError.invalidArgument("strides overflow") }
        highest = end
    }

    var span: Int { highest - lowest }
}

/// Copies a strided array (byte strides, possibly negative or zero) into C order at `dst`.
private func copyStrided(
    from src: UnsafeRawPointer, shape: [Int], strides: [Int], itemSize: Int,
    to dst: UnsafeMutableRawPointer
) {
    let rank = shape.count
    if rank == 0 {
        dst.copyMemory(from: src, byteCount: itemSize)
        return
    }
    let rows = shape.dropLast().reduce(1, *)
    let inner = shape[rank - 1]
    let innerStride = strides[rank - 1]
    var index = [Int](repeating: 0, count: rank - 1)
    var srcRow = src
    var out = dst
    for _ in 0..<rows {
        if innerStride == itemSize {
            out.copyMemory(from: srcRow, byteCount: inner * itemSize)
            out += inner * itemSize
        } else {
            var p = srcRow
            switch itemSize {
            case 1:
                for _ in 0..<inner {
                    out.storeBytes(of: p.load(as: UInt8.self), as: UInt8.self)
                    out += 1
                    p += innerStride
                }
            case 2:
                for _ in 0..<inner {
                    out.storeBytes(of: p.loadUnaligned(as: UInt16.self), as: UInt16.self)
                    out += 2
                    p += innerStride
                }
            case 4:
                for _ in 0..<inner {
                    out.storeBytes(of: p.loadUnaligned(as: UInt32.self), as: UInt32.self)
                    out += 4
                    p += innerStride
                }
            case 8:
                for _ in 0..<inner {
                    out.storeBytes(of: p.loadUnaligned(as: UInt64.self), as: UInt64.self)
                    out += 8
                    p += innerStride
                }
            default:
                for _ in 0..<inner {
                    out.copyMemory(from: p, byteCount: itemSize)
                    out += itemSize
                    p += innerStride
                }
            }
        }
        // Advance the outer odometer (all dimensions but the last).
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            srcRow += strides[axis]
            if index[axis] < shape[axis] { break }
            srcRow -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

/// Memory alignment a typed kernel needs for one element of `dtype` (its scalar size).
private func elementAlignment(_ dtype: DType) -> Int {
    switch dtype {
    case .complex64: return 4
    case .complex128: return 8
    default: return max(dtype.bitWidth / 8, 1)
    }
}

@_cdecl("sc_tensor_create_borrowed")
public func scTensorCreateBorrowed(
    _ dtypeCode: sc_dtype, _ shapePointer: UnsafePointer<Int64>?, _ rank: Int, _ stridesPointer: UnsafePointer<Int64>?,
    _ data: UnsafeMutableRawPointer?, _ nbytes: Int, _ owner: UnsafeMutableRawPointer?, _ release: sc_release_fn?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    // Whatever happens below, the caller's release runs exactly once (here on failure).
    let borrowed = BorrowedRelease(release, owner: owner)
    return withStatus {
        let out = try required(out, "out")
        guard let dtype = DType(rawValue: Int32(truncatingIfNeeded: dtypeCode.rawValue)), dtype != .undefined else {
            throw SwiftConvError.invalidArgument("unknown dtype code \(dtypeCode.rawValue)")
        }
        guard dtype != .string else {
            throw SwiftConvError.invalidArgument("string tensors cannot be created from a borrowed buffer")
        }
        guard rank == 0 || shapePointer != nil else { throw SwiftConvError.invalidArgument("shape must not be NULL") }
        var shape = [Int]()
        shape.reserveCapacity(rank)
        for i in 0..<rank {
            let d = shapePointer![i]
            guard d >= 0, d <= Int64(Int.max) else { throw SwiftConvError.invalidArgument("negative dimension \(d)") }
            shape.append(Int(d))
        }
        guard let count = elementCount(shape), let byteCount = dtype.byteCount(elements: count) else {
            throw SwiftConvError.invalidArgument("shape \(shape) is too large")
        }
        if count == 0 {
            borrowed.fire()
            out.pointee = retainedHandle(TensorBox(Tensor(dtype: dtype, shape: shape, storage: try TensorStorage(zeroedByteCount: 0))))
            return
        }
        guard let data else { throw SwiftConvError.invalidArgument("data must not be NULL for a non-empty tensor") }

        let itemSize = dtype.bitWidth / 8
        var strides: [Int]? = nil
        if let stridesPointer {
            let given = (0..<rank).map { Int(truncatingIfNeeded: stridesPointer[$0]) }
            // Dimensions of size 1 may carry any stride (numpy does that); they do not break contiguity.
            var expected = itemSize
            var contiguous = true
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                if shape[axis] != 1 && given[axis] != expected { contiguous = false }
                expected &*= shape[axis]
            }
            if !contiguous {
                guard dtype.bitWidth % 8 == 0 else {
                    throw SwiftConvError.invalidArgument("\(dtype) tensors must be packed and C-contiguous")
                }
                strides = given
            }
        }

        let tensor: Tensor
        if let strides {
            let extent = try StridedExtent(shape: shape, strides: strides, itemSize: itemSize)
            guard extent.span <= nbytes else {
                throw SwiftConvError.invalidArgument("strided layout spans \(extent.span) bytes but nbytes is \(nbytes)")
            }
            let storage = try TensorStorage(zeroedByteCount: byteCount)
            copyStrided(
                from: UnsafeRawPointer(data), shape: shape, strides: strides, itemSize: itemSize,
                to: storage.mutableBytes.baseAddress!)
            borrowed.fire()
            tensor = Tensor(dtype: dtype, shape: shape, storage: storage)
        } else {
            guard nbytes >= byteCount else {
                throw SwiftConvError.invalidArgument("shape \(shape) of \(dtype) needs \(byteCount) bytes but nbytes is \(nbytes)")
            }
            let bytes = UnsafeRawBufferPointer(start: data, count: byteCount)
            if Int(bitPattern: data) % elementAlignment(dtype) != 0 {
                // Kernels load typed elements, which must be aligned: copy once instead.
                let storage = TensorStorage(copying: bytes)
                borrowed.fire()
                tensor = Tensor(dtype: dtype, shape: shape, storage: storage)
            } else {
                tensor = Tensor(dtype: dtype, shape: shape, storage: TensorStorage(external: bytes, release: borrowed.take()))
            }
        }
        out.pointee = retainedHandle(TensorBox(tensor))
    }
}

@_cdecl("sc_tensor_describe")
public func scTensorDescribe(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<sc_tensor_desc>?) {
    guard let out else { return }
    guard let handle else {
        out.pointee = sc_tensor_desc(
            dtype: SC_DTYPE_UNDEFINED, rank: 0, shape: nil, data: nil, nbytes: 0,
            name: UnsafeRawPointer(emptyBytes).assumingMemoryBound(to: CChar.self))
        return
    }
    let box = object(handle, as: TensorBox.self)
    let t = box.tensor
    let isString = t.dtype == .string
    out.pointee = sc_tensor_desc(
        dtype: sc_dtype(rawValue: UInt32(t.dtype.rawValue)),
        rank: t.shape.count,
        shape: UnsafePointer(box.shape),
        data: isString ? nil : UnsafeMutableRawPointer(mutating: t.storage.bytes.baseAddress),
        nbytes: isString ? 0 : t.storage.bytes.count,
        name: UnsafePointer(box.name))
}

@_cdecl("sc_tensor_string_at")
public func scTensorStringAt(
    _ handle: OpaquePointer?, _ index: Int, _ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ size: UnsafeMutablePointer<Int>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(handle, "tensor"), as: TensorBox.self)
        let data = try required(data, "data")
        let size = try required(size, "size")
        guard box.tensor.dtype == .string else {
            throw SwiftConvError.invalidArgument("tensor '\(box.tensor.name)' is \(box.tensor.dtype), not string")
        }
        let strings = box.tensor.strings
        guard index >= 0, index < strings.count else {
            throw SwiftConvError.invalidArgument("string index \(index) out of range 0..<\(strings.count)")
        }
        // Elements live in `box.tensor`, which is never mutated, so these pointers stay valid with the handle.
        let element = strings[index]
        data.pointee = element.isEmpty ? UnsafePointer(emptyBytes) : element.withUnsafeBufferPointer { $0.baseAddress! }
        size.pointee = element.count
    }
}

@_cdecl("sc_tensor_release")
public func scTensorRelease(_ handle: OpaquePointer?) {
    releaseHandle(handle, as: TensorBox.self)
}

@_cdecl("sc_tensor_retain")
public func scTensorRetain(_ handle: OpaquePointer?) -> OpaquePointer? {
    guard let handle else { return nil }
    _ = Unmanaged<TensorBox>.fromOpaque(UnsafeRawPointer(handle)).retain()
    return handle
}

@_cdecl("sc_tensor_is_writable")
public func scTensorIsWritable(_ handle: OpaquePointer?) -> Int32 {
    guard let handle else { return 0 }
    return object(handle, as: TensorBox.self).writable ? 1 : 0
}

@_cdecl("sc_tensor_create_strings")
public func scTensorCreateStrings(
    _ shapePointer: UnsafePointer<Int64>?, _ rank: Int, _ data: UnsafePointer<UnsafePointer<UInt8>?>?,
    _ sizes: UnsafePointer<Int>?, _ count: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        guard rank == 0 || shapePointer != nil else { throw SwiftConvError.invalidArgument("shape must not be NULL") }
        var shape = [Int]()
        for i in 0..<rank {
            let d = shapePointer![i]
            guard d >= 0, d <= Int64(Int.max) else { throw SwiftConvError.invalidArgument("negative dimension \(d)") }
            shape.append(Int(d))
        }
        guard let expected = elementCount(shape), expected == count else {
            throw SwiftConvError.invalidArgument("shape \(shape) does not hold \(count) strings")
        }
        guard count == 0 || (data != nil && sizes != nil) else {
            throw SwiftConvError.invalidArgument("data and sizes must not be NULL")
        }
        var strings = [[UInt8]]()
        strings.reserveCapacity(count)
        for i in 0..<count {
            let n = sizes![i]
            guard n == 0 || data![i] != nil else { throw SwiftConvError.invalidArgument("data[\(i)] must not be NULL") }
            strings.append(n == 0 ? [] : Array(UnsafeBufferPointer(start: data![i], count: n)))
        }
        out.pointee = retainedHandle(TensorBox(Tensor(shape: shape, strings: strings)))
    }
}
