import SwiftConvIR

/// Cast and CastLike between every dtype, including strings, bfloat16, float8, float4 and
/// the 4-bit and 2-bit integers.
enum CastKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Cast", since: [1, 6, 9, 13, 19, 21, 23, 24, 25, 28]) { ctx in
            let raw = try ctx.int("to")
            guard let to = DType(rawValue: Int32(truncatingIfNeeded: raw)), to != .undefined else {
                throw ctx.invalid("unknown target type \(raw)")
            }
            return CastKernel(target: to, options: try options(ctx))
        }
        r.register("CastLike", since: [15, 19, 21, 23, 24, 25]) { ctx in
            CastKernel(target: nil, options: try options(ctx))
        }
    }

    static func options(_ ctx: KernelBuildContext) throws -> CastOptions {
        let saturate = ctx.sinceVersion >= 19 ? ctx.int("saturate", default: 1) != 0 : true
        let mode = ctx.string("round_mode", default: "up")
        guard let rounding = DTypeConversion.E8M0Rounding(rawValue: mode) else {
            throw ctx.invalid("round_mode must be up, down or nearest, got '\(mode)'")
        }
        return CastOptions(saturate: saturate, rounding: rounding)
    }
}

/// `saturate` (float8 targets) and `round_mode` (float8e8m0 targets).
struct CastOptions: Sendable {
    var saturate = true
    var rounding = DTypeConversion.E8M0Rounding.up
}

/// Cast to `target`, or to the type of input 1 (CastLike) when `target` is nil.
struct CastKernel: Kernel {
    let target: DType?
    let options: CastOptions

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let to = try target ?? inputs.tensor(1).dtype
        return [.tensor(try castTensor(x, to: to, options: options, threads: context.threads))]
    }
}

/// Whether the native cast path (typed loops) handles `dtype`.
private func isNative(_ dtype: DType) -> Bool {
    switch dtype {
    case .float32, .float64, .float16, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool:
        return true
    default: return false
    }
}

/// Converts `x` to `to` with ONNX Cast semantics: float to integer truncates toward zero,
/// integer narrowing wraps, anything non-zero (NaN included) is true.
func castTensor(_ x: Tensor, to: DType, options: CastOptions = CastOptions(), threads: ThreadPool = .serial) throws -> Tensor {
    if x.dtype == to { return x }
    if x.dtype == .string { return try castFromStrings(x, to: to, options: options, threads: threads) }
    if to == .string { return try castToStrings(x) }
    if isNative(x.dtype) && isNative(to) { return try castNative(x, to: to, threads) }

    if to.isInteger && to.bitWidth < 8 && (x.dtype.isInteger || x.dtype == .bool) && to != x.dtype {
        // Integer to int4/uint4/int2/uint2: keep the low bits (the value wraps).
        let wide = x.dtype.bitWidth < 8 ? try castTensor(x, to: .int8) : x
        let fields = try castNative(wide, to: .uint8, threads)
        let out = try Tensor.allocate(to, x.shape)
        fields.withElements(as: UInt8.self) { f in
            out.withMutableElements(as: UInt8.self) { DTypeConversion.pack(f, bitWidth: to.bitWidth, into: $0) }
        }
        return out
    }
    // Everything else goes through float32, which holds every value of the storage-only types.
    let floats: Tensor
    if x.dtype == .float32 {
        floats = x
    } else if isNative(x.dtype) {
        floats = try castNative(x, to: .float32, threads)
    } else {
        floats = try Tensor.allocate(.float32, x.shape)
        let ok = floats.withMutableElements(as: Float.self) { DTypeConversion.decode(x, into: $0) }
        guard ok else { throw kernelError("cannot cast from \(x.dtype)") }
    }
    if to == .float32 { return floats }
    if isNative(to) { return try castNative(floats, to: to, threads) }
    let out = try floats.withElements(as: Float.self) {
        try DTypeConversion.tensor(from: $0, dtype: to, shape: x.shape, saturate: options.saturate, rounding: options.rounding)
    }
    guard let out else { throw kernelError("cannot cast to \(to)") }
    return out
}

private struct CastFromFloat<S: FloatScalar>: SplitNumericVisitor {
    let x: Tensor, threads: ThreadPool
    func float<D: FloatScalar>(_: D.Type) throws -> Tensor {
        try unaryMap(x, S.self, D.dtype, threads) { (v: S) -> D in D(v) }
    }
    func integer<D: IntegerScalar>(_: D.Type) throws -> Tensor {
        if D.self == UInt64.self {
            return try unaryMap(x, S.self, D.dtype, threads) { (v: S) -> D in
                D(truncatingIfNeeded: DTypeConversion.castToUInt64(v))
            }
        }
        return try unaryMap(x, S.self, D.dtype, threads) { (v: S) -> D in
            D(truncatingIfNeeded: DTypeConversion.castToInt64(v))
        }
    }
}

private struct CastFromInteger<S: IntegerScalar>: SplitNumericVisitor {
    let x: Tensor, threads: ThreadPool
    func float<D: FloatScalar>(_: D.Type) throws -> Tensor {
        try unaryMap(x, S.self, D.dtype, threads) { (v: S) -> D in D(v) }
    }
    func integer<D: IntegerScalar>(_: D.Type) throws -> Tensor {
        try unaryMap(x, S.self, D.dtype, threads) { (v: S) -> D in D(truncatingIfNeeded: v) }
    }
}

private struct CastSource: SplitNumericVisitor {
    let x: Tensor, to: DType, threads: ThreadPool
    func float<S: FloatScalar>(_: S.Type) throws -> Tensor? {
        if to == .bool { return try unaryMap(x, S.self, .bool, threads) { (v: S) -> Bool in v != 0 } }
        return try dispatchSplit(to, CastFromFloat<S>(x: x, threads: threads))
    }
    func integer<S: IntegerScalar>(_: S.Type) throws -> Tensor? {
        if to == .bool { return try unaryMap(x, S.self, .bool, threads) { (v: S) -> Bool in v != 0 } }
        return try dispatchSplit(to, CastFromInteger<S>(x: x, threads: threads))
    }
}

/// Typed conversion loops between the float, integer and bool dtypes.
private func castNative(_ x: Tensor, to: DType, _ threads: ThreadPool) throws -> Tensor {
    // bool reads as uint8 (0 or 1).
    var source = x
    if x.dtype == .bool { source.dtype = .uint8 }
    guard let out = try dispatchSplit(source.dtype, CastSource(x: source, to: to, threads: threads)) ?? nil else {
        throw kernelError("cannot cast from \(x.dtype) to \(to)")
    }
    return out
}

/// Numbers as numpy's `astype(str)` prints them (shortest round-trip form).
private func castToStrings(_ x: Tensor) throws -> Tensor {
    func strings<T>(_: T.Type, _ f: (T) -> String) -> [[UInt8]] {
        x.withElements(as: T.self) { p in (0..<min(p.count, x.elementCount)).map { Array(f(p[$0]).utf8) } }
    }
    func floatText<F: BinaryFloatingPoint & CustomStringConvertible>(_ v: F) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        return v.description
    }
    let values: [[UInt8]]
    switch x.dtype {
    case .float32: values = strings(Float.self, floatText)
    case .float64: values = strings(Double.self, floatText)
    case .float16: values = strings(Float16.self, floatText)
    case .int8: values = strings(Int8.self) { String($0) }
    case .int16: values = strings(Int16.self) { String($0) }
    case .int32: values = strings(Int32.self) { String($0) }
    case .int64: values = strings(Int64.self) { String($0) }
    case .uint8: values = strings(UInt8.self) { String($0) }
    case .uint16: values = strings(UInt16.self) { String($0) }
    case .uint32: values = strings(UInt32.self) { String($0) }
    case .uint64: values = strings(UInt64.self) { String($0) }
    case .bool: values = strings(UInt8.self) { $0 != 0 ? "True" : "False" }
    default:
        guard let f = DTypeConversion.floats(x) else { throw kernelError("cannot cast \(x.dtype) to string") }
        values = f.map { Array(floatText($0).utf8) }
    }
    return Tensor(shape: x.shape, strings: values)
}

/// Parses decimal text (integers exactly, "nan"/"inf" case-insensitively) into `to`.
private func castFromStrings(_ x: Tensor, to: DType, options: CastOptions, threads: ThreadPool) throws -> Tensor {
    let n = x.elementCount
    guard x.strings.count >= n else { throw kernelError("string tensor holds \(x.strings.count) of \(n) elements") }
    if to.isInteger && to.bitWidth >= 8 || to == .bool {
        var values = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            let s = String(decoding: x.strings[i], as: UTF8.self)
            if to == .uint64, let u = UInt64(s) {
                values[i] = Int64(bitPattern: u)
            } else if let v = Int64(s) {
                values[i] = v
            } else if let d = Double(s) {
                values[i] = to == .bool ? (d != 0 ? 1 : 0) : DTypeConversion.castToInt64(d)
            } else {
                throw kernelError("cannot parse '\(s)' as \(to)")
            }
        }
        return try castNative(Tensor(dtype: .int64, shape: x.shape, values: values), to: to, threads)
    }
    var values = [Double](repeating: 0, count: n)
    for i in 0..<n {
        let s = String(decoding: x.strings[i], as: UTF8.self)
        guard let d = Double(s) ?? Double(s.lowercased()) else { throw kernelError("cannot parse '\(s)' as \(to)") }
        values[i] = d
    }
    return try castTensor(Tensor(dtype: .float64, shape: x.shape, values: values), to: to, options: options, threads: threads)
}
