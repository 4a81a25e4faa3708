/// One dimension of a shape: a number, a named symbol (`"batch"`), or unknown.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case known(Int)
    case symbolic(String)
    case unknown

    /// The size when it is known.
    public var value: Int? {
        if case .known(let v) = self { return v }
        return nil
    }

    /// The size, the symbol's name, or "?" when unknown.
    public var description: String {
        switch self {
        case .known(let v): return String(v)
        case .symbolic(let s): return s
        case .unknown: return "?"
        }
    }
}

/// A shape whose rank is known; unknown rank is modelled as `Shape?` = nil at use sites.
public typealias Shape = [Dim]

extension Array where Element == Dim {
    /// The concrete sizes, or nil when any dimension is not a number.
    public var concrete: [Int]? {
        var out = [Int]()
        out.reserveCapacity(count)
        for d in self {
            guard let v = d.value else { return nil }
            out.append(v)
        }
        return out
    }

    /// A fully known shape of `sizes`.
    public init(_ sizes: [Int]) { self = sizes.map { .known($0) } }
}

/// Number of elements of a concrete shape; nil on negative sizes or overflow.
///
/// The non-zero dimensions must multiply within `Int` even when another is zero (as numpy
/// requires): strides of such a shape would overflow even though it holds no elements.
public func elementCount(_ shape: [Int]) -> Int? {
    var n = 1
    var empty = false
    for d in shape {
        guard d >= 0 else { return nil }
        if d == 0 {
            empty = true
            continue
        }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return empty ? 0 : n
}
