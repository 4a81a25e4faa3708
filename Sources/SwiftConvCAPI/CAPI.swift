// The C ABI of libswiftconv (Sources/CSwiftConv/include/swiftconv.h), one file per
// header section. Handles are retained Swift objects passed as opaque pointers.
import CSwiftConv

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The library version reported by `sc_version`; the Python package checks it matches its own.
let libraryVersion = "0.1.0"

nonisolated(unsafe) private let versionCString: UnsafeMutablePointer<CChar> = strdup(libraryVersion)!

@_cdecl("sc_version")
public func scVersion() -> UnsafePointer<CChar>? {
    UnsafePointer(versionCString)
}

@_cdecl("sc_abi_version")
public func scABIVersion() -> Int32 {
    Int32(SC_ABI_VERSION)
}

// MARK: - Handles

/// Hands `object` to C with one retain; the matching `release(_:)` balances it.
func retainedHandle(_ object: AnyObject) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

/// The object behind a handle, without changing its retain count.
func object<T: AnyObject>(_ handle: OpaquePointer, as type: T.Type) -> T {
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

func releaseHandle<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) {
    guard let handle else { return }
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).release()
}

/// A NUL-terminated copy of `text` owned by the caller of this function (free with `free`).
func cString(_ text: String) -> UnsafeMutablePointer<CChar> {
    guard let p = strdup(text) else { fatalError("out of memory copying a string") }
    return p
}

/// One byte of static storage: the data pointer of empty buffers and empty strings.
nonisolated(unsafe) let emptyBytes: UnsafeMutablePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.initialize(to: 0)
    return p
}()
