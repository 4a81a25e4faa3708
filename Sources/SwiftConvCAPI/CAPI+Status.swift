import CSwiftConv
import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The object behind `sc_status *`: a code, a message and the node's name, op type and
/// domain (when the error names a node), all owned by it.
final class StatusBox {
    let code: sc_code
    let message: UnsafeMutablePointer<CChar>
    let nodeName: UnsafeMutablePointer<CChar>?
    let opType: UnsafeMutablePointer<CChar>?
    let nodeDomain: UnsafeMutablePointer<CChar>?

    init(code: sc_code, message: String, node: SwiftConvError.NodeContext? = nil) {
        self.code = code
        self.message = cString(message)
        self.nodeName = node.map { cString($0.name) }
        self.opType = node.map { cString($0.opType) }
        self.nodeDomain = node.map { cString($0.domain) }
    }

    deinit {
        free(message)
        free(nodeName)
        free(opType)
        free(nodeDomain)
    }
}

extension SwiftConvError {
    /// The C status code of this error (swiftconv.h, `sc_code`).
    var statusCode: sc_code {
        switch kind {
        case .invalidArgument: return SC_ERR_INVALID_ARGUMENT
        case .modelFormat: return SC_ERR_MODEL_FORMAT
        case .validation: return SC_ERR_VALIDATION
        case .unsupportedOp: return SC_ERR_UNSUPPORTED_OP
        case .conversion: return SC_ERR_CONVERSION
        case .io: return SC_ERR_IO
        case .internal: return SC_ERR_INTERNAL
        case .resourceExhausted: return SC_ERR_RESOURCE_EXHAUSTED
        case .terminated: return SC_ERR_TERMINATED
        }
    }
}

/// Runs `body` and turns whatever it throws into a status the caller owns; NULL on success.
func withStatus(_ body: () throws -> Void) -> OpaquePointer? {
    do {
        try body()
        return nil
    } catch let error as SwiftConvError {
        return retainedHandle(StatusBox(code: error.statusCode, message: error.description, node: error.node))
    } catch {
        return retainedHandle(StatusBox(code: SC_ERR_INTERNAL, message: String(describing: error)))
    }
}

/// Unwraps a required pointer argument or throws `invalidArgument` naming it.
func required<T>(_ value: T?, _ what: String) throws -> T {
    guard let value else { throw SwiftConvError.invalidArgument("\(what) must not be NULL") }
    return value
}

@_cdecl("sc_status_code")
public func scStatusCode(_ status: OpaquePointer?) -> sc_code {
    guard let status else { return SC_OK }
    return object(status, as: StatusBox.self).code
}

@_cdecl("sc_status_message")
public func scStatusMessage(_ status: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let status else { return UnsafeRawPointer(emptyBytes).assumingMemoryBound(to: CChar.self) }
    return UnsafePointer(object(status, as: StatusBox.self).message)
}

@_cdecl("sc_status_release")
public func scStatusRelease(_ status: OpaquePointer?) {
    releaseHandle(status, as: StatusBox.self)
}

@_cdecl("sc_status_node_name")
public func scStatusNodeName(_ status: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let status else { return nil }
    return object(status, as: StatusBox.self).nodeName.map { UnsafePointer($0) }
}

@_cdecl("sc_status_op_type")
public func scStatusOpType(_ status: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let status else { return nil }
    return object(status, as: StatusBox.self).opType.map { UnsafePointer($0) }
}

@_cdecl("sc_status_node_domain")
public func scStatusNodeDomain(_ status: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let status else { return nil }
    return object(status, as: StatusBox.self).nodeDomain.map { UnsafePointer($0) }
}
