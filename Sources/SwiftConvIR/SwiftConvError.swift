/// Every error swiftconv raises: a kind (one C status code and one Python class each), a
/// message, and the node it concerns when there is one.
public struct SwiftConvError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in the terms a caller acts on.
    public enum Kind: String, Sendable, CaseIterable {
        /// A bad argument from the caller (wrong name, dtype or shape).
        case invalidArgument
        /// Bytes that are not a readable model (truncated, corrupt, hostile).
        case modelFormat
        /// A readable model that breaks the format's rules.
        case validation
        /// An operator (or an operator on these input types) swiftconv cannot run or convert.
        case unsupportedOp
        /// A model swiftconv cannot translate to the target format.
        case conversion
        /// A file-system failure (missing file, permission, disk full).
        case io
        /// A bug in swiftconv.
        case `internal`
        /// A size or allocation past a limit (`SessionOptions` caps, overflow of a byte count,
        /// or memory the system refused); the message names what was being allocated.
        case resourceExhausted
        /// A run stopped on request (`RunOptions.terminate`, or Ctrl-C in the Python main thread).
        case terminated
    }

    /// The node an error concerns, kept as fields so that callers need not parse the message.
    public struct NodeContext: Sendable, Equatable {
        /// The node's name ("" when it has none).
        public var name: String
        /// The node's op type.
        public var opType: String
        /// The canonical domain ("" for the default ONNX domain).
        public var domain: String
        /// The node's position in its graph, named in messages when the node has no name.
        public var index: Int?
        /// The model-local function whose body holds the node, if any.
        public var function: String?

        /// The context of node `name` running `opType` of `domain`.
        public init(name: String, opType: String, domain: String = "", index: Int? = nil, function: String? = nil) {
            self.name = name
            self.opType = opType
            self.domain = domain
            self.index = index
            self.function = function
        }

        /// "node 'name' (Op)", "node #3 (com.microsoft.Op)" or "function 'f' node 'name' (Op)".
        public var label: String {
            let id = name.isEmpty ? index.map { "#\($0)" } ?? "''" : "'\(name)'"
            let op = domain.isEmpty ? opType : "\(domain).\(opType)"
            return (function.map { "function '\($0)' " } ?? "") + "node \(id) (\(op))"
        }
    }

    /// What went wrong, as a class of error (one C status code and one Python exception each).
    public let kind: Kind
    /// The message without the node; `description` adds it.
    public let message: String
    /// The node the error concerns, when it concerns one.
    public let node: NodeContext?

    /// An error of `kind` saying `message`, about `node` when given.
    public init(_ kind: Kind, _ message: String, node: NodeContext? = nil) {
        self.kind = kind
        self.message = message
        self.node = node
    }

    /// "node 'name' (Op): message" when the error names a node, else the message.
    public var description: String { node.map { "\($0.label): \(message)" } ?? message }

    /// The same error naming `node`, unless it names one already; a stopped run names none.
    public func at(_ node: NodeContext) -> SwiftConvError {
        guard self.node == nil, kind != .terminated else { return self }
        return SwiftConvError(kind, message, node: node)
    }

    /// The same kind and node with another message.
    public func withMessage(_ m: String) -> SwiftConvError { SwiftConvError(kind, m, node: node) }
}

extension SwiftConvError {
    /// A bad argument from the caller.
    public static func invalidArgument(_ m: String) -> SwiftConvError { SwiftConvError(.invalidArgument, m) }
    /// Bytes that are not a readable model.
    public static func modelFormat(_ m: String) -> SwiftConvError { SwiftConvError(.modelFormat, m) }
    /// A readable model that breaks the format's rules.
    public static func validation(_ m: String) -> SwiftConvError { SwiftConvError(.validation, m) }
    /// An operator, type or mode swiftconv cannot run or convert.
    public static func unsupportedOp(_ m: String) -> SwiftConvError { SwiftConvError(.unsupportedOp, m) }
    /// A conversion that cannot be done.
    public static func conversion(_ m: String) -> SwiftConvError { SwiftConvError(.conversion, m) }
    /// A file-system failure.
    public static func io(_ m: String) -> SwiftConvError { SwiftConvError(.io, m) }
    /// A bug in swiftconv.
    public static func `internal`(_ m: String) -> SwiftConvError { SwiftConvError(.internal, m) }
    /// A size or allocation past a limit.
    public static func resourceExhausted(_ m: String) -> SwiftConvError { SwiftConvError(.resourceExhausted, m) }
    /// A run stopped on request.
    public static func terminated(_ m: String) -> SwiftConvError { SwiftConvError(.terminated, m) }
}

extension SwiftConvError.NodeContext {
    /// The context of `node`, at `index` in its graph when known.
    public init(_ node: Node, index: Int? = nil, function: String? = nil) {
        self.init(name: node.name, opType: node.opType, domain: node.canonicalDomain, index: index, function: function)
    }
}
