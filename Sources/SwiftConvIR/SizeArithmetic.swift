/// Checked arithmetic for every size computed from model data (shapes, attributes, run-time
/// inputs): element and byte counts, strides, output dimensions, and floats that must
/// become integers. A hostile model chooses these numbers, so an overflow, a negative size
/// or a NaN is an error here rather than a trap or a wrapped-around buffer size later.
///
/// Errors are `resourceExhausted` for sizes too large to exist and `invalidArgument` for
/// values that make no sense (NaN, negative); the executor adds the node's name.
public enum Checked {
    /// `a + b`, or an error naming `what`.
    @inlinable
    public static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "a size") throws -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        if o { throw SwiftConvError.resourceExhausted("\(what()) overflows: \(a) + \(b)") }
        return r
    }

    /// `a - b`, or an error naming `what`.
    @inlinable
    public static func subtract(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "a size") throws -> Int {
        let (r, o) = a.subtractingReportingOverflow(b)
        if o { throw SwiftConvError.resourceExhausted("\(what()) overflows: \(a) - \(b)") }
        return r
    }

    /// `a * b`, or an error naming `what`.
    @inlinable
    public static func multiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "a size") throws -> Int {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        if o { throw SwiftConvError.resourceExhausted("\(what()) overflows: \(a) * \(b)") }
        return r
    }

    /// The product of `values` (all >= 0), or an error naming `what`. The non-zero factors
    /// must multiply within `Int` even when one is zero, so that a shape this accepts has
    /// strides that fit (numpy refuses such shapes too).
    public static func product(_ values: [Int], _ what: @autoclosure () -> String = "a size") throws -> Int {
        var n = 1
        var empty = false
        for v in values {
            guard v >= 0 else { throw SwiftConvError.invalidArgument("\(what()) has a negative factor \(v) in \(values)") }
            if v == 0 {
                empty = true
                continue
            }
            n = try multiply(n, v, what())
        }
        return empty ? 0 : n
    }

    /// A float that must be an integer (a count, an index, a dimension): NaN, infinity or a
    /// value outside `Int` is an error instead of the trap a plain `Int(x)` would be.
    @inlinable
    public static func int<F: BinaryFloatingPoint>(_ x: F, _ what: @autoclosure () -> String = "a value") throws -> Int {
        guard x.isFinite else { throw SwiftConvError.invalidArgument("\(what()) must be a finite number, not \(x)") }
        // Int(exactly:) of the bound is not representable; compare against 2^63 in the float type.
        let limit = F(sign: .plus, exponent: 63, significand: 1)
        guard x < limit, x >= -limit else {
            throw SwiftConvError.resourceExhausted("\(what()) is out of range: \(x)")
        }
        return Int(x)
    }

    /// `x` rounded toward zero and clamped to `range` (NaN is an error): for floats used as
    /// positions, where ONNX clamps out-of-range values (GridSample, RoiAlign, Resize).
    @inlinable
    public static func clampedInt<F: BinaryFloatingPoint>(
        _ x: F, _ range: ClosedRange<Int>,
        _ what: @autoclosure () -> String = "a value"
    ) throws -> Int {
        guard !x.isNaN else { throw SwiftConvError.invalidArgument("\(what()) must not be NaN") }
        if x <= F(range.lowerBound) { return range.lowerBound }
        if x >= F(range.upperBound) { return range.upperBound }
        return Int(x)
    }

    /// An Int64 from a model (attribute, shape tensor) that must be a non-negative size.
    @inlinable
    public static func dimension(_ v: Int64, _ what: @autoclosure () -> String = "a dimension") throws -> Int {
        guard v >= 0 else { throw SwiftConvError.invalidArgument("\(what()) must be >= 0, not \(v)") }
        return Int(v)
    }
}

/// Non-throwing forms for static shape inference, where a size that does not fit `Int` is
/// simply unknown: a model that would overflow at run time fails there, with an error.
extension Checked {
    /// The sum of `values` (any sign), or nil on overflow.
    public static func sumOrNil(_ values: Int...) -> Int? {
        var total = 0
        for v in values {
            let (r, o) = total.addingReportingOverflow(v)
            if o { return nil }
            total = r
        }
        return total
    }

    /// The product of `values` (any sign), or nil on overflow.
    public static func productOrNil(_ values: Int...) -> Int? {
        var total = 1
        for v in values {
            let (r, o) = total.multipliedReportingOverflow(by: v)
            if o { return nil }
            total = r
        }
        return total
    }
}

/// Elements of `shape`, or `resourceExhausted` when the count does not fit `Int` (a negative
/// dimension is `invalidArgument`).
public func checkedElementCount(_ shape: [Int]) throws -> Int {
    try Checked.product(shape, "the element count of shape \(shape)")
}

/// Bytes of a `dtype` tensor of `shape` (packed for sub-byte types), checked as above.
public func checkedByteCount(_ dtype: DType, _ shape: [Int]) throws -> Int {
    let n = try checkedElementCount(shape)
    // An empty shape's other dims must still span a byte count that fits (numpy's rule).
    let span = shape.reduce(1) { $1 == 0 ? $0 : $0 * $1 }
    guard let bytes = dtype.byteCount(elements: n), dtype.byteCount(elements: span) != nil else {
        throw SwiftConvError.resourceExhausted("a \(dtype) tensor of shape \(shape) needs more bytes than fit in memory")
    }
    return bytes
}
