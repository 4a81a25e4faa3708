import RealModule
import SwiftConvIR
import SwiftConvKernels

#if canImport(Glibc)
    import Glibc
#endif

/// Arithmetic and math on tensors: Add..Pow, Mod, unary math, Min/Max/Sum/Mean, Clip, Where, bitwise.
enum ElementwiseKernels {
    static func register(into r: inout KernelRegistry) {
        for (op, fn) in [("Add", BinaryArithmetic.Op.add), ("Sub", .sub), ("Mul", .mul), ("Div", .div)] {
            r.register(op, since: [1, 6, 7, 13, 14]) { ctx in
                try checkLegacyBroadcast(ctx)
                return BinaryArithmetic(op: fn)
            }
        }
        r.register("Pow", since: [1, 7, 12, 13, 15]) { ctx in
            try checkLegacyBroadcast(ctx)
            return PowKernel()
        }
        r.register("Mod", since: [10, 13, 28]) { ctx in ModKernel(fmod: ctx.int("fmod", default: 0) != 0) }

        let unary: [(String, FloatUnaryOp, [Int64])] = [
            ("Reciprocal", .reciprocal, [1, 6, 13]), ("Floor", .floor, [1, 6, 13]), ("Ceil", .ceil, [1, 6, 13]),
            ("Round", .round, [11, 22]), ("Sqrt", .sqrt, [1, 6, 13]), ("Exp", .exp, [1, 6, 13]),
            ("Log", .log, [1, 6, 13]), ("Sin", .sin, [7, 22]), ("Cos", .cos, [7, 22]), ("Tan", .tan, [7, 22]),
            ("Asin", .asin, [7, 22]), ("Acos", .acos, [7, 22]), ("Atan", .atan, [7, 22]), ("Sinh", .sinh, [9, 22]),
            ("Cosh", .cosh, [9, 22]), ("Asinh", .asinh, [9, 22]), ("Acosh", .acosh, [9, 22]),
            ("Atanh", .atanh, [9, 22]), ("Erf", .erf, [9, 13]),
        ]
        for (op, fn, versions) in unary {
            r.register(op, since: versions) { _ in FloatUnaryKernel(op: fn) }
        }
        for (op, fn) in [("Neg", SignedUnaryOp.neg), ("Abs", .abs), ("Sign", .sign)] {
            r.register(op, since: fn == .sign ? [9, 13] : [1, 6, 13]) { _ in SignedUnaryKernel(op: fn) }
        }

        r.register("Max", since: [1, 6, 8, 12, 13]) { _ in VariadicKernel(op: .max) }
        r.register("Min", since: [1, 6, 8, 12, 13]) { _ in VariadicKernel(op: .min) }
        r.register("Sum", since: [1, 6, 8, 13]) { _ in VariadicKernel(op: .sum) }
        r.register("Mean", since: [1, 6, 8, 13]) { _ in VariadicKernel(op: .mean) }
        r.register("Clip", since: [1, 6, 11, 12, 13]) { ctx in
            if ctx.sinceVersion < 11 {
                return ClipKernel(
                    attributeBounds: (
                        Double(ctx.float("min", default: -.infinity)),
                        Double(ctx.float("max", default: .infinity))
                    ))
            }
            return ClipKernel(attributeBounds: nil)
        }
        r.register("Where", since: [9, 16]) { _ in WhereKernel() }

        r.register("BitShift", since: [11, 28]) { ctx in
            switch ctx.string("direction", default: "") {
            case "LEFT": return BitwiseKernel(op: .shiftLeft)
            case "RIGHT": return BitwiseKernel(op: .shiftRight)
            case let d: throw ctx.invalid("direction must be LEFT or RIGHT, got '\(d)'")
            }
        }
        for (op, fn) in [("BitwiseAnd", BitwiseKernel.Op.and), ("BitwiseOr", .or), ("BitwiseXor", .xor), ("BitwiseNot", .not)] {
            r.register(op, since: [18]) { _ in BitwiseKernel(op: fn) }
        }
    }

    /// Opset < 7 binary ops broadcast only with `broadcast=1`, aligning B at `axis`; the
    /// numpy rule covers the trailing-axis case, other axes are not supported.
    static func checkLegacyBroadcast(_ ctx: KernelBuildContext) throws {
        guard ctx.sinceVersion < 7, ctx.int("broadcast", default: 0) != 0, let axis = ctx.attribute("axis")?.int else { return }
        if let a = ctx.inputType(0)?.tensorShape, let b = ctx.inputType(1)?.tensorShape,
            a.count - b.count == Int(axis) || Int(axis) == -b.count
        {
            return
        }
        throw SwiftConvError.unsupportedOp("\(ctx.label): legacy broadcast with axis \(axis)")
    }
}

// MARK: - Binary arithmetic

/// Add, Sub, Mul, Div with numpy broadcasting, for every numeric dtype and bfloat16.
/// Integer arithmetic wraps; integer division truncates toward zero and throws on zero.
struct BinaryArithmetic: SingleOutputKernel {
    enum Op { case add, sub, mul, div }
    let op: Op

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
        return .tensor(try BinaryArithmetic.apply(op, a, b, context.threads))
    }

    static func apply(_ op: Op, _ a: Tensor, _ b: Tensor, _ threads: ThreadPool) throws -> Tensor {
        if a.dtype == .float32 { return try binaryFloat32(op, a, b, threads) }
        if a.dtype == .bfloat16 {
            return try narrowedToBFloat16(try apply(op, widenedBFloat16(a), widenedBFloat16(b), threads))
        }
        struct Visit: SplitNumericVisitor {
            let a: Tensor, b: Tensor, op: Op, threads: ThreadPool
            func float<T: FloatScalar>(_: T.Type) throws -> Tensor {
                switch op {
                case .add: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x + y }
                case .sub: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x - y }
                case .mul: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x * y }
                case .div: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x / y }
                }
            }
            func integer<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                switch op {
                case .add: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x &+ y }
                case .sub: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x &- y }
                case .mul: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x &* y }
                case .div:
                    // Division by zero is recorded (not trapped) and reported after the loop.
                    let zero = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
                    zero.initialize(to: false)
                    defer { zero.deallocate() }
                    let t = try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in
                        if y == 0 {
                            zero.pointee = true
                            return 0
                        }
                        return x.dividedReportingOverflow(by: y).partialValue
                    }
                    if zero.pointee { throw kernelError("integer division by zero") }
                    return t
                }
            }
        }
        guard let out = try dispatchSplit(a.dtype, Visit(a: a, b: b, op: op, threads: threads)) else {
            throw kernelUnsupported("unsupported input type \(a.dtype)")
        }
        return out
    }
}

// MARK: - Pow

/// `Pow(X, Y)`: the result has X's type; Y may be any numeric type (opset 12+).
/// Floats use libm `pow` (negative bases with integral exponents work); integer bases with
/// integer exponents use exact wrapping exponentiation, with float exponents they truncate.
struct PowKernel: SingleOutputKernel {
    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        var a = try inputs.tensor(0), b = try inputs.tensor(1)
        if let out = try PowKernel.squareOrCube(a, b, context.threads) { return .tensor(out) }
        let narrow = a.dtype == .bfloat16
        a = try widenedBFloat16(a)
        b = try widenedBFloat16(b)
        let threads = context.threads
        struct Visit: SplitNumericVisitor {
            let a: Tensor, b: Tensor, threads: ThreadPool
            func float<T: FloatScalar>(_: T.Type) throws -> Tensor {
                if b.dtype == a.dtype {
                    return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in libmPow(x, y) }
                }
                let e = try exponentAsDouble(b)
                return try binaryMap(a, e, T.self, Double.self, a.dtype, threads) { (x: T, y: Double) -> T in
                    T(Glibc.pow(Double(x), y))
                }
            }
            func integer<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                if b.dtype.isInteger {
                    let e = b.dtype == .int64 ? b : try convertNumeric(b, to: Int64.self)
                    return try binaryMap(a, e, T.self, Int64.self, a.dtype, threads) { (x: T, n: Int64) -> T in
                        integerPow(x, n)
                    }
                }
                let e = try exponentAsDouble(b)
                return try binaryMap(a, e, T.self, Double.self, a.dtype, threads) { (x: T, y: Double) -> T in
                    T(truncatingIfNeeded: DTypeConversion.castToInt64(Glibc.pow(Double(x), y)))
                }
            }
            func exponentAsDouble(_ t: Tensor) throws -> Tensor {
                t.dtype == .float64 ? t : try convertNumeric(t, to: Double.self)
            }
        }
        guard let out = try dispatchSplit(a.dtype, Visit(a: a, b: b, threads: threads)) else {
            throw kernelUnsupported("unsupported base type \(a.dtype)")
        }
        return .tensor(narrow ? try narrowedToBFloat16(out) : out)
    }
}

extension PowKernel {
    /// A float32 base to the power of a one-element 2 or 3 (LayerNorm's variance, GELU's
    /// cube) as products, which is what onnxruntime computes for these exponents, instead
    /// of a `powf` call per element. nil for every other case. The exponent must not raise
    /// the rank (a [1, 1] exponent broadcasts a [3] base to [1, 3]).
    static func squareOrCube(_ a: Tensor, _ b: Tensor, _ threads: ThreadPool) throws -> Tensor? {
        guard a.dtype == .float32, b.elementCount == 1, b.rank <= a.rank else { return nil }
        let e: Double
        switch b.dtype {
        case .float32: e = Double(b.floatPointer[0])
        case .float64: e = b.withElements(as: Double.self) { $0[0] }
        case .int64: e = Double(b.withElements(as: Int64.self) { $0[0] })
        case .int32: e = Double(b.withElements(as: Int32.self) { $0[0] })
        default: return nil
        }
        if e == 2 { return try unaryFloat32(a, threads) { $0 * $0 } }
        if e == 3 { return try unaryFloat32(a, threads) { $0 * $0 * $0 } }
        return nil
    }
}

@inline(__always)
func libmPow<T: FloatScalar>(_ x: T, _ y: T) -> T {
    if T.self == Double.self { return T(Glibc.pow(Double(x), Double(y))) }
    return T(Glibc.powf(Float(x), Float(y)))
}

@inline(__always)
func integerPow<T: FixedWidthInteger>(_ x: T, _ n: Int64) -> T {
    if n < 0 {
        // Only |x| == 1 has a non-zero integer result.
        if x == 1 { return 1 }
        if T.isSigned && x == 0 &- 1 { return n & 1 == 0 ? 1 : x }
        return 0
    }
    var result: T = 1, base = x, e = n
    while e > 0 {
        if e & 1 != 0 { result = result &* base }
        base = base &* base
        e >>= 1
    }
    return result
}

/// A copy of a numeric tensor converted to `T` (numeric conversion, truncating floats).
private struct ConvertNumeric<T: NumericScalar>: NumericVisitor {
    let t: Tensor
    func visit<S: NumericScalar>(_: S.Type) throws -> Tensor {
        try unaryMap(t, S.self, T.dtype, ThreadPool.serial) { (x: S) -> T in T(fromDouble: x.asDouble) }
    }
}

func convertNumeric<T: NumericScalar>(_ t: Tensor, to: T.Type) throws -> Tensor {
    if t.dtype == .bool {
        return try unaryMap(t, UInt8.self, T.dtype, ThreadPool.serial) { (x: UInt8) -> T in x != 0 ? 1 : 0 }
    }
    guard let out = try dispatchNumeric(t.dtype, ConvertNumeric<T>(t: t)) else {
        throw kernelUnsupported("unsupported input type \(t.dtype)")
    }
    return out
}

// MARK: - Mod

/// `Mod`: with fmod=0 the result takes the divisor's sign (Python/numpy `mod`), with fmod=1
/// the dividend's (C `fmod`). Integer modulo by zero is an error, as in onnxruntime.
struct ModKernel: SingleOutputKernel {
    let fmod: Bool

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
        struct Visit: FloatLaneVisitor {
            let a: Tensor, b: Tensor, fmod: Bool, threads: ThreadPool
            func visit<L: FloatLane>(_: L.Type) throws -> Tensor {
                if fmod {
                    return try binaryMap(a, b, L.Storage.self, L.Storage.self, a.dtype, threads) { (x, y) -> L.Storage in
                        L.store(L.load(x).truncatingRemainder(dividingBy: L.load(y)))
                    }
                }
                return try binaryMap(a, b, L.Storage.self, L.Storage.self, a.dtype, threads) { (x, y) -> L.Storage in
                    let d = L.load(y)
                    var r = L.load(x).truncatingRemainder(dividingBy: d)
                    if r != 0 {
                        if (r < 0) != (d < 0) { r += d }
                    } else {
                        r = d < 0 ? -0.0 : 0
                    }
                    return L.store(r)
                }
            }
        }
        struct IntVisit: IntegerVisitor {
            let a: Tensor, b: Tensor, fmod: Bool, threads: ThreadPool
            func visit<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                // Modulo by zero is recorded (not trapped) and reported after the loop.
                let zero = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
                zero.initialize(to: false)
                defer { zero.deallocate() }
                let t = try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in
                    if y == 0 {
                        zero.pointee = true
                        return 0
                    }
                    var r = x.remainderReportingOverflow(dividingBy: y).partialValue
                    if !fmod && r != 0 && (r < 0) != (y < 0) { r = r &+ y }
                    return r
                }
                if zero.pointee { throw kernelError("integer modulo by zero") }
                return t
            }
        }
        if let out = try dispatchFloatLane(a.dtype, Visit(a: a, b: b, fmod: fmod, threads: context.threads))
            ?? dispatchInteger(a.dtype, IntVisit(a: a, b: b, fmod: fmod, threads: context.threads))
        {
            return .tensor(out)
        }
        throw kernelUnsupported("unsupported input type \(a.dtype)")
    }
}

// MARK: - Unary float math and activations

/// Float-only unary functions (math and activations), with their attributes.
enum FloatUnaryOp: Sendable, Equatable {
    case reciprocal, floor, ceil, round, sqrt, exp, log, sin, cos, tan, asin, acos, atan
    case sinh, cosh, asinh, acosh, atanh, erf
    case relu, sigmoid, tanh, softsign, softplus, hardSwish, mish, gelu, geluTanh
    case leakyRelu(Float), elu(Float), celu(Float), thresholdedRelu(Float)
    case selu(alpha: Float, gamma: Float), hardSigmoid(alpha: Float, beta: Float)
    case shrink(bias: Float, lambd: Float)

    /// Applies the function to every element; float16/bfloat16 compute in Float.
    func apply<L: FloatLane>(_ x: Tensor, _: L.Type, _ threads: ThreadPool) throws -> Tensor {
        typealias T = L.Compute
        func each(_ f: (T) -> T) throws -> Tensor {
            try unaryMap(x, L.Storage.self, x.dtype, threads) { (s: L.Storage) -> L.Storage in L.store(f(L.load(s))) }
        }
        // float32 sigmoid, tanh, erf and GELU in straight-line arithmetic the compiler
        // vectorizes (libm's expf/tanhf/erff per element made Sigmoid 10x and Erf 13x
        // onnxruntime's time); all within 1.3e-7 absolute.
        if x.dtype == .float32 && L.Storage.self == Float.self {
            switch self {
            case .sigmoid: return try unaryFloat32(x, threads, kernel: KernelTable.best.sigmoid)
            case .tanh: return try unaryFloat32(x, threads, kernel: KernelTable.best.tanh)
            case .erf: return try unaryFloat32(x, threads, kernel: KernelTable.best.erf)
            case .gelu: return try unaryFloat32(x, threads, kernel: KernelTable.best.gelu)
            case .geluTanh: return try unaryFloat32(x, threads, kernel: KernelTable.best.geluTanh)
            default: break
            }
        }
        switch self {
        case .reciprocal: return try each { 1 / $0 }
        case .floor: return try each { $0.rounded(.down) }
        case .ceil: return try each { $0.rounded(.up) }
        case .round: return try each { $0.rounded(.toNearestOrEven) }
        case .sqrt: return try each { $0.squareRoot() }
        case .exp: return try each { T.exp($0) }
        case .log: return try each { T.log($0) }
        case .sin: return try each { T.sin($0) }
        case .cos: return try each { T.cos($0) }
        case .tan: return try each { T.tan($0) }
        case .asin: return try each { T.asin($0) }
        case .acos: return try each { T.acos($0) }
        case .atan: return try each { T.atan($0) }
        case .sinh: return try each { T.sinh($0) }
        case .cosh: return try each { T.cosh($0) }
        case .asinh: return try each { T.asinh($0) }
        case .acosh: return try each { T.acosh($0) }
        case .atanh: return try each { T.atanh($0) }
        case .erf: return try each { T.erf($0) }
        case .relu: return try each { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) }
        case .sigmoid: return try each { sigmoidValue($0) }
        case .tanh: return try each { T.tanh($0) }
        case .softsign: return try each { $0 / (1 + $0.magnitude) }
        case .softplus: return try each { softplusValue($0) }
        case .hardSwish:
            let sixth = 1 / T(6) // alpha of the ONNX definition; a multiply, not a division per value
            return try each { $0 * Swift.max(0, Swift.min(1, $0 * sixth + 0.5)) }
        case .mish: return try each { $0 * T.tanh(softplusValue($0)) }
        case .gelu:
            let r = 1 / T(2).squareRoot()
            return try each { 0.5 * $0 * (1 + T.erf($0 * r)) }
        case .geluTanh:
            let k = (2 / T.pi).squareRoot()
            return try each { 0.5 * $0 * (1 + T.tanh(k * ($0 + 0.044715 * $0 * $0 * $0))) }
        case .leakyRelu(let a):
            let alpha = T(a)
            return try each { $0 < 0 ? alpha * $0 : $0 }
        case .elu(let a):
            let alpha = T(a)
            return try each { $0 < 0 ? alpha * T.expMinusOne($0) : $0 }
        case .celu(let a):
            let alpha = T(a)
            return try each { Swift.max(0, $0) + Swift.min(0, alpha * T.expMinusOne($0 / alpha)) }
        case .thresholdedRelu(let a):
            let alpha = T(a)
            return try each { $0 > alpha ? $0 : 0 }
        case .selu(let a, let g):
            let alpha = T(a), gamma = T(g)
            return try each { $0 > 0 ? gamma * $0 : gamma * alpha * T.expMinusOne($0) }
        case .hardSigmoid(let a, let b):
            let alpha = T(a), beta = T(b)
            return try each { Swift.max(0, Swift.min(1, alpha * $0 + beta)) }
        case .shrink(let b, let l):
            let bias = T(b), lambd = T(l)
            return try each { $0 < -lambd ? $0 + bias : ($0 > lambd ? $0 - bias : 0) }
        }
    }
}

@inline(__always)
func sigmoidValue<T: FloatScalar>(_ x: T) -> T {
    if x >= 0 { return 1 / (1 + T.exp(-x)) }
    let e = T.exp(x)
    return e / (1 + e)
}

@inline(__always)
func softplusValue<T: FloatScalar>(_ x: T) -> T {
    x > 0 ? x + T.log(onePlus: T.exp(-x)) : T.log(onePlus: T.exp(x))
}

/// A float unary function over float16/32/64 and bfloat16.
struct FloatUnaryKernel: SingleOutputKernel {
    let op: FloatUnaryOp

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        struct Visit: FloatLaneVisitor {
            let x: Tensor, op: FloatUnaryOp, threads: ThreadPool
            func visit<L: FloatLane>(_ lane: L.Type) throws -> Tensor { try op.apply(x, lane, threads) }
        }
        guard let out = try dispatchFloatLane(x.dtype, Visit(x: x, op: op, threads: context.threads)) else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        return .tensor(out)
    }
}

/// Neg, Abs, Sign (and Relu/Shrink on integers): defined for every numeric type.
enum SignedUnaryOp: Sendable, Equatable { case neg, abs, sign, relu, shrink(bias: Float, lambd: Float) }

struct SignedUnaryKernel: SingleOutputKernel {
    let op: SignedUnaryOp

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let threads = context.threads
        struct Visit: SplitNumericVisitor {
            let x: Tensor, op: SignedUnaryOp, threads: ThreadPool
            func float<T: FloatScalar>(_: T.Type) throws -> Tensor {
                switch op {
                case .neg: return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in -v }
                case .abs: return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in v.magnitude }
                case .sign: return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in v > 0 ? 1 : (v < 0 ? -1 : v) }
                case .relu: return try FloatUnaryOp.relu.apply(x, NativeLane<T>.self, threads)
                case .shrink(let b, let l): return try FloatUnaryOp.shrink(bias: b, lambd: l).apply(x, NativeLane<T>.self, threads)
                }
            }
            func integer<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                switch op {
                case .neg: return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in 0 &- v }
                case .abs: return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in v < 0 ? 0 &- v : v }
                case .sign: return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in v > 0 ? 1 : (v < 0 ? 0 &- 1 : 0) }
                case .relu: return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in v > 0 ? v : 0 }
                case .shrink(let b, let l):
                    // Integer Shrink compares and offsets in float, as the reference does.
                    return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in
                        let f = Float(v)
                        let r: Float = f < -l ? f + b : (f > l ? f - b : 0)
                        return T(truncatingIfNeeded: DTypeConversion.castToInt64(r))
                    }
                }
            }
        }
        if x.dtype == .bfloat16 {
            switch op {
            case .relu: return try FloatUnaryKernel(op: .relu).runSingle(inputs, context)
            case .shrink(let b, let l): return try FloatUnaryKernel(op: .shrink(bias: b, lambd: l)).runSingle(inputs, context)
            default:
                let out = try SignedUnaryKernel(op: op).run([.tensor(widenedBFloat16(x))], context)
                return .tensor(try narrowedToBFloat16(try out.outputTensor(0)))
            }
        }
        if x.dtype == .float32 && op == .relu {
            // NaN passes through, -0 becomes +0, as in the generic path.
            return .tensor(try unaryFloat32(x, threads) { $0 > 0 || $0 != $0 ? $0 : 0 })
        }
        guard let out = try dispatchSplit(x.dtype, Visit(x: x, op: op, threads: threads)) else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        return .tensor(out)
    }
}

// MARK: - Variadic Min / Max / Sum / Mean

/// Folds any number of inputs pairwise with numpy broadcasting.
/// Min/Max propagate NaN (as numpy's minimum/maximum do).
struct VariadicKernel: SingleOutputKernel {
    enum Op { case min, max, sum, mean }
    let op: Op

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        var tensors = [Tensor]()
        for i in 0..<inputs.count where inputs[i] != nil { tensors.append(try inputs.tensor(i)) }
        guard let first = tensors.first else { throw kernelError("needs at least one input") }
        for t in tensors where t.dtype != first.dtype {
            throw kernelError("input types differ: \(first.dtype) and \(t.dtype)")
        }
        if first.dtype == .bfloat16 {
            let out = try fold(tensors.map(widenedBFloat16), context.threads)
            return .tensor(try narrowedToBFloat16(out))
        }
        return .tensor(try fold(tensors, context.threads))
    }

    func fold(_ tensors: [Tensor], _ threads: ThreadPool) throws -> Tensor {
        struct Visit: SplitNumericVisitor {
            let a: Tensor, b: Tensor, op: Op, threads: ThreadPool
            func float<T: FloatScalar>(_: T.Type) throws -> Tensor {
                switch op {
                case .min: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x < y || x.isNaN ? x : y }
                case .max: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x > y || x.isNaN ? x : y }
                case .sum, .mean: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x + y }
                }
            }
            func integer<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                switch op {
                case .min: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in Swift.min(x, y) }
                case .max: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in Swift.max(x, y) }
                case .sum, .mean: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x &+ y }
                }
            }
        }
        var acc = tensors[0]
        for t in tensors.dropFirst() {
            guard let r = try dispatchSplit(acc.dtype, Visit(a: acc, b: t, op: op, threads: threads)) else {
                throw kernelUnsupported("unsupported input type \(acc.dtype)")
            }
            acc = r
        }
        if op == .mean {
            struct Divide: FloatVisitor {
                let t: Tensor, n: Int
                func visit<T: FloatScalar>(_: T.Type) throws -> Tensor {
                    let d = T(n)
                    t.withMutableElements(as: T.self) { p in for i in 0..<p.count { p[i] /= d } }
                    return t
                }
            }
            struct IntDivide: IntegerVisitor {
                let t: Tensor, n: Int
                func visit<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                    let d = T(truncatingIfNeeded: n)
                    t.withMutableElements(as: T.self) { p in
                        for i in 0..<p.count { p[i] = p[i].dividedReportingOverflow(by: d).partialValue }
                    }
                    return t
                }
            }
            if tensors.count > 1 {
                acc =
                    try dispatchFloat(acc.dtype, Divide(t: acc, n: tensors.count))
                    ?? dispatchInteger(acc.dtype, IntDivide(t: acc, n: tensors.count)) ?? acc
            }
        }
        return acc
    }
}

// MARK: - Clip

/// `Clip(x, min, max)` = min(max(x, min), max): bounds from attributes (opset < 11) or
/// optional scalar inputs; min > max gives max everywhere, as numpy's clip does.
struct ClipKernel: SingleOutputKernel {
    let attributeBounds: (Double, Double)?

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let lo = inputs.optionalTensor(1), hi = inputs.optionalTensor(2)
        for b in [lo, hi] {
            if let b, b.dtype != x.dtype { throw kernelError("bound type \(b.dtype) differs from input type \(x.dtype)") }
            if let b, b.elementCount != 1 { throw kernelError("min and max must be scalars, got shape \(b.shape)") }
        }
        if x.dtype == .float32 {
            let l = attributeBounds.map { Float($0.0) } ?? lo.map { $0.floatPointer[0] } ?? -.infinity
            let h = attributeBounds.map { Float($0.1) } ?? hi.map { $0.floatPointer[0] } ?? .infinity
            // Select form keeps NaN and gives `h` everywhere when l > h, and vectorizes.
            return .tensor(
                try unaryFloat32(x, context.threads) { v in
                    let t = v < l ? l : v
                    return t > h ? h : t
                })
        }
        if x.dtype == .bfloat16 {
            let out = try ClipKernel(attributeBounds: attributeBounds).run(
                [.tensor(widenedBFloat16(x)), lo.map { .tensor(try widenedBFloat16($0)) }, hi.map { .tensor(try widenedBFloat16($0)) }],
                context)
            return .tensor(try narrowedToBFloat16(try out.outputTensor(0)))
        }
        struct Visit: SplitNumericVisitor {
            let x: Tensor, lo: Tensor?, hi: Tensor?, attributes: (Double, Double)?, threads: ThreadPool
            func bounds<T: NumericScalar>(_: T.Type, lowest: T, highest: T) -> (T, T) {
                if let (l, h) = attributes { return (T(fromDouble: l), T(fromDouble: h)) }
                let l = lo.map { t in t.withElements(as: T.self) { $0[0] } } ?? lowest
                let h = hi.map { t in t.withElements(as: T.self) { $0[0] } } ?? highest
                return (l, h)
            }
            func float<T: FloatScalar>(_: T.Type) throws -> Tensor {
                let (l, h) = bounds(T.self, lowest: -.infinity, highest: .infinity)
                return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in
                    v.isNaN ? v : Swift.min(Swift.max(v, l), h)
                }
            }
            func integer<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                let (l, h) = bounds(T.self, lowest: .min, highest: .max)
                return try unaryMap(x, T.self, x.dtype, threads) { (v: T) -> T in Swift.min(Swift.max(v, l), h) }
            }
        }
        guard let out = try dispatchSplit(x.dtype, Visit(x: x, lo: lo, hi: hi, attributes: attributeBounds, threads: context.threads))
        else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        return .tensor(out)
    }
}

// MARK: - Where

/// `Where(cond, X, Y)` with three-way broadcasting, for any fixed-size dtype and strings.
struct WhereKernel: SingleOutputKernel {
    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let c = try inputs.tensor(0), x = try inputs.tensor(1), y = try inputs.tensor(2)
        guard c.dtype == .bool else { throw kernelError("condition must be bool, got \(c.dtype)") }
        guard x.dtype == y.dtype else { throw kernelError("X and Y types differ: \(x.dtype) and \(y.dtype)") }
        let threads = context.threads
        func select<T>(_: T.Type) throws -> Tensor {
            try ternaryMap(c, x, y, Bool.self, T.self, T.self, x.dtype, threads) { $0 ? $1 : $2 }
        }
        switch x.dtype {
        case .string:
            let shape = try broadcastShapes([c.shape, x.shape, y.shape])
            let layout = BroadcastLayout(outShape: shape, inputShapes: [c.shape, x.shape, y.shape])
            let conds = c.values(as: Bool.self)
            var out = [[UInt8]]()
            out.reserveCapacity(layout.total)
            let last = layout.shape.count - 1
            for r in 0..<layout.rows {
                for k in 0..<layout.inner {
                    let ic = layout.offset(row: r, input: 0) + k * layout.strides[0][last]
                    let ix = layout.offset(row: r, input: 1) + k * layout.strides[1][last]
                    let iy = layout.offset(row: r, input: 2) + k * layout.strides[2][last]
                    out.append(conds[ic] ? x.strings[ix] : y.strings[iy])
                }
            }
            return .tensor(Tensor(shape: shape, strings: out))
        default:
            switch x.dtype.bitWidth {
            case 8: return .tensor(try select(UInt8.self))
            case 16: return .tensor(try select(UInt16.self))
            case 32: return .tensor(try select(UInt32.self))
            case 64: return .tensor(try select(UInt64.self))
            default: throw kernelUnsupported("unsupported input type \(x.dtype)")
            }
        }
    }
}

// MARK: - Bitwise

/// BitShift (out-of-range shift amounts give 0, or -1 for negative signed values shifted
/// right) and BitwiseAnd/Or/Xor/Not on every integer type.
struct BitwiseKernel: Kernel {
    enum Op { case shiftLeft, shiftRight, and, or, xor, not }
    let op: Op

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0)
        let threads = context.threads
        if op == .not {
            struct Not: IntegerVisitor {
                let a: Tensor, threads: ThreadPool
                func visit<T: IntegerScalar>(_: T.Type) throws -> Tensor { try unaryMap(a, T.self, a.dtype, threads) { (v: T) -> T in ~v } }
            }
            guard let out = try dispatchInteger(a.dtype, Not(a: a, threads: threads)) else {
                throw kernelUnsupported("unsupported input type \(a.dtype)")
            }
            return [.tensor(out)]
        }
        let b = try inputs.tensor(1)
        guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
        struct Visit: IntegerVisitor {
            let a: Tensor, b: Tensor, op: Op, threads: ThreadPool
            func visit<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                let width = T(truncatingIfNeeded: T.bitWidth)
                switch op {
                case .shiftLeft:
                    return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, s: T) -> T in
                        s < 0 || s >= width ? 0 : x &<< s
                    }
                case .shiftRight:
                    return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, s: T) -> T in
                        s < 0 || s >= width ? (x < 0 ? 0 &- 1 : 0) : x &>> s
                    }
                case .and: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x & y }
                case .or: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x | y }
                case .xor: return try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in x ^ y }
                case .not: return a
                }
            }
        }
        guard let out = try dispatchInteger(a.dtype, Visit(a: a, b: b, op: op, threads: threads)) else {
            throw kernelUnsupported("unsupported input type \(a.dtype)")
        }
        return [.tensor(out)]
    }
}
