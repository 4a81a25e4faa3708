/// Every error swiftconv raises. Each case maps to one C status code and one Python class.
public enum SwiftConvError: Error, CustomStringConvertible, Sendable {
    /// A bad argument from the caller (wrong name, dtype or shape).
    case invalidArgument(String)
    /// Bytes that are not a readable model (truncated, corrupt, hostile).
    case modelFormat(String)
    /// A readable model that breaks the format's rules; the message names the node.
    case validation(String)
    /// An operator swiftconv cannot run or convert; the message names op, domain, version, node.
    case unsupportedOp(String)
    case conversion(String)
    /// A file-system failure (missing file, permission, disk full).
    case io(String)
    /// A bug in swiftconv.
    case `internal`(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .modelFormat(let m), .validation(let m), .unsupportedOp(let m),
            .conversion(let m), .io(let m), .internal(let m):
            return m
        }
    }

    public var description: String { message }
}
