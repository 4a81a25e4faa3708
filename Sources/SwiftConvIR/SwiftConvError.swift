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
    /// A size or allocation past a limit (`SessionOptions` caps, overflow of a byte count,
    /// or memory the system refused); the message names what was being allocated.
    case resourceExhausted(String)
    /// A run stopped on request (`RunOptions.terminate`, or Ctrl-C in the Python main thread).
    case terminated(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .modelFormat(let m), .validation(let m), .unsupportedOp(let m),
            .conversion(let m), .io(let m), .internal(let m), .resourceExhausted(let m), .terminated(let m):
            return m
        }
    }

    public var description: String { message }
}

extension SwiftConvError {
    /// The same kind of error with another message (to add context such as the node).
    public func withMessage(_ m: String) -> SwiftConvError {
        switch self {
        case .invalidArgument: return .invalidArgument(m)
        case .modelFormat: return .modelFormat(m)
        case .validation: return .validation(m)
        case .unsupportedOp: return .unsupportedOp(m)
        case .conversion: return .conversion(m)
        case .io: return .io(m)
        case .internal: return .internal(m)
        case .resourceExhausted: return .resourceExhausted(m)
        case .terminated: return .terminated(m)
        }
    }
}
