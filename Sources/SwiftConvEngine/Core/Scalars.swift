import RealModule
import SwiftConvIR

/// A Swift type that can be the element of a tensor.
public protocol TensorScalar: Sendable {
    static var dtype: DType { get }
}

/// Element types with arithmetic: every numeric dtype the kernels compute in natively.
public protocol NumericScalar: TensorScalar, Numeric, Comparable {
    init(fromDouble: Double)
    var asDouble: Double { get }
    /// `a + b`, wrapping around on integer overflow (ONNX integer arithmetic wraps; Swift's traps).
    static func wrappingSum(_ a: Self, _ b: Self) -> Self
    /// `a * b`, wrapping around on integer overflow.
    static func wrappingProduct(_ a: Self, _ b: Self) -> Self
}

extension NumericScalar where Self: BinaryFloatingPoint {
    @inlinable public static func wrappingSum(_ a: Self, _ b: Self) -> Self { a + b }
    @inlinable public static func wrappingProduct(_ a: Self, _ b: Self) -> Self { a * b }
}

extension NumericScalar where Self: FixedWidthInteger {
    @inlinable public static func wrappingSum(_ a: Self, _ b: Self) -> Self { a &+ b }
    @inlinable public static func wrappingProduct(_ a: Self, _ b: Self) -> Self { a &* b }
}

/// Floating-point element types; transcendental functions come from swift-numerics.
public protocol FloatScalar: NumericScalar, BinaryFloatingPoint, Real {}

/// Integer element types.
public protocol IntegerScalar: NumericScalar, FixedWidthInteger {}

extension Float: FloatScalar {
    public static var dtype: DType { .float32 }
    @inlinable public init(fromDouble d: Double) { self.init(d) }
    @inlinable public var asDouble: Double { Double(self) }
}
extension Double: FloatScalar {
    public static var dtype: DType { .float64 }
    @inlinable public init(fromDouble d: Double) { self = d }
    @inlinable public var asDouble: Double { self }
}
extension Float16: FloatScalar {
    public static var dtype: DType { .float16 }
    @inlinable public init(fromDouble d: Double) { self.init(d) }
    @inlinable public var asDouble: Double { Double(self) }
}

extension IntegerScalar {
    /// Saturating conversion from Double; NaN becomes 0 (as ONNX Cast leaves it undefined).
    @inlinable public init(fromDouble d: Double) {
        if d.isNaN {
            self = 0
        } else if d >= Double(Self.max) {
            self = .max
        } else if d <= Double(Self.min) {
            self = .min
        } else {
            self.init(d)
        }
    }
    @inlinable public var asDouble: Double { Double(self) }
}
extension Int8: IntegerScalar { public static var dtype: DType { .int8 } }
extension Int16: IntegerScalar { public static var dtype: DType { .int16 } }
extension Int32: IntegerScalar { public static var dtype: DType { .int32 } }
extension Int64: IntegerScalar { public static var dtype: DType { .int64 } }
extension UInt8: IntegerScalar { public static var dtype: DType { .uint8 } }
extension UInt16: IntegerScalar { public static var dtype: DType { .uint16 } }
extension UInt32: IntegerScalar { public static var dtype: DType { .uint32 } }
extension UInt64: IntegerScalar { public static var dtype: DType { .uint64 } }
extension Bool: TensorScalar { public static var dtype: DType { .bool } }

/// Runs generic code for the Swift type of a dtype: `visit<T>` is specialized per type.
public protocol NumericVisitor {
    associatedtype Result
    func visit<T: NumericScalar>(_ type: T.Type) throws -> Result
}

public protocol FloatVisitor {
    associatedtype Result
    func visit<T: FloatScalar>(_ type: T.Type) throws -> Result
}

public protocol IntegerVisitor {
    associatedtype Result
    func visit<T: IntegerScalar>(_ type: T.Type) throws -> Result
}

/// Dispatches on every numeric dtype; nil when `dtype` is not one (bool, string, bfloat16...).
public func dispatchNumeric<V: NumericVisitor>(_ dtype: DType, _ v: V) throws -> V.Result? {
    switch dtype {
    case .float32: return try v.visit(Float.self)
    case .float64: return try v.visit(Double.self)
    case .float16: return try v.visit(Float16.self)
    case .int8: return try v.visit(Int8.self)
    case .int16: return try v.visit(Int16.self)
    case .int32: return try v.visit(Int32.self)
    case .int64: return try v.visit(Int64.self)
    case .uint8: return try v.visit(UInt8.self)
    case .uint16: return try v.visit(UInt16.self)
    case .uint32: return try v.visit(UInt32.self)
    case .uint64: return try v.visit(UInt64.self)
    default: return nil
    }
}

public func dispatchFloat<V: FloatVisitor>(_ dtype: DType, _ v: V) throws -> V.Result? {
    switch dtype {
    case .float32: return try v.visit(Float.self)
    case .float64: return try v.visit(Double.self)
    case .float16: return try v.visit(Float16.self)
    default: return nil
    }
}

public func dispatchInteger<V: IntegerVisitor>(_ dtype: DType, _ v: V) throws -> V.Result? {
    switch dtype {
    case .int8: return try v.visit(Int8.self)
    case .int16: return try v.visit(Int16.self)
    case .int32: return try v.visit(Int32.self)
    case .int64: return try v.visit(Int64.self)
    case .uint8: return try v.visit(UInt8.self)
    case .uint16: return try v.visit(UInt16.self)
    case .uint32: return try v.visit(UInt32.self)
    case .uint64: return try v.visit(UInt64.self)
    default: return nil
    }
}
