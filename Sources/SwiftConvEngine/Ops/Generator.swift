import SwiftConvIR

/// Constant, ConstantOfShape, Range, EyeLike, random generators, Bernoulli.
enum GeneratorKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Constant", since: [1, 9, 11, 12, 13, 19, 21, 23, 24, 25]) { ctx in
            ConstantKernel(value: .tensor(try constantValue(ctx)))
        }
        r.register("ConstantOfShape", since: [9, 20, 21, 23, 24, 25]) { ctx in
            let value = ctx.tensor("value") ?? Tensor.from([Float(0)], shape: [1])
            guard value.elementCount == 1 else { throw ctx.invalid("value must hold exactly one element") }
            return ConstantOfShapeKernel(value: value)
        }
        r.register("Range", since: [11, 27]) { ctx in
            // Float16 and bfloat16 ranges are computed in double and rounded once, which is the
            // default stash_type (float); other stash types are not implemented.
            guard ctx.int("stash_type", default: 1) == 1 else {
                throw SwiftConvError.unsupportedOp("\(ctx.label): Range stash_type other than 1 (float) is not supported")
            }
            return RangeKernel()
        }
        r.register("EyeLike", since: [9, 22]) { ctx in
            let dtype = ctx.attribute("dtype")?.int.flatMap { DType(rawValue: Int32($0)) }
            return EyeLikeKernel(dtype: dtype, k: Int(ctx.int("k", default: 0)))
        }
    }

    /// The value of a Constant node, from whichever attribute it has.
    static func constantValue(_ ctx: KernelBuildContext) throws -> Tensor {
        for a in ctx.node.attributes {
            switch (a.name, a.value) {
            case ("value", .tensor(let t)?): return t
            case ("sparse_value", .sparseTensor(let s)?): return try SparseTensorDensifier.dense(s)
            case ("value_float", .float(let v)?): return Tensor.from([v], shape: [])
            case ("value_floats", .floats(let v)?): return Tensor.from(v)
            case ("value_int", .int(let v)?): return Tensor.from([v], shape: [])
            case ("value_ints", .ints(let v)?): return Tensor.from(v)
            case ("value_string", .string(let v)?): return Tensor(shape: [], strings: [v])
            case ("value_strings", .strings(let v)?): return Tensor(shape: [v.count], strings: v)
            default: continue
            }
        }
        throw ctx.invalid("Constant has no value attribute")
    }
}

struct ConstantKernel: Kernel {
    let value: Value
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] { [value] }
}

struct ConstantOfShapeKernel: Kernel {
    let value: Tensor

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let shape = try intValues(inputs.tensor(0), "shape")
        guard shape.allSatisfy({ $0 >= 0 }), elementCount(shape) != nil else { throw kernelError("invalid shape \(shape)") }
        if value.dtype == .string {
            let n = try checkedElementCount(shape)
            try checkTemporary(n, of: [UInt8].self, "the strings")
            return [.tensor(Tensor(shape: shape, strings: Array(repeating: value.strings[0], count: n)))]
        }
        let out = try Tensor.allocate(value.dtype, shape)
        try fillElements(out, with: value)
        return [.tensor(out)]
    }
}

struct RangeKernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let s = try inputs.tensor(0), l = try inputs.tensor(1), d = try inputs.tensor(2)
        guard s.dtype == l.dtype, s.dtype == d.dtype, s.elementCount == 1, l.elementCount == 1, d.elementCount == 1 else {
            throw kernelError("start, limit and delta must be scalars of one type")
        }
        if s.dtype == .bfloat16 {
            let f = { (t: Tensor) in Double(BFloat16Bits.toFloat(t.values(as: UInt16.self)[0])) }
            let (start, limit, delta) = (f(s), f(l), f(d))
            guard delta != 0 else { throw kernelError("delta cannot be 0") }
            let n = try rangeCount((limit - start) / delta)
            let out = try Tensor.allocate(.bfloat16, [n])
            out.withMutableElements(as: UInt16.self) { p in
                for i in 0..<n { p[i] = BFloat16Bits.fromFloat(Float(start + Double(i) * delta)) }
            }
            return [.tensor(out)]
        }
        struct Make: NumericVisitor {
            let s: Tensor, l: Tensor, d: Tensor
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                let start = s.values(as: T.self)[0], limit = l.values(as: T.self)[0], delta = d.values(as: T.self)[0]
                guard delta != 0 else { throw kernelError("delta cannot be 0") }
                let n: Int
                if T.self is any BinaryInteger.Type, let a = s.int64Values()?.first, let b = l.int64Values()?.first,
                    let c = d.int64Values()?.first
                {
                    n = try integerRangeCount(start: a, limit: b, delta: c)
                } else {
                    n = try rangeCount((limit.asDouble - start.asDouble) / delta.asDouble)
                }
                let out = try Tensor.allocate(T.dtype, [n])
                out.withMutableElements(as: T.self) { p in
                    if T.self is any BinaryInteger.Type {
                        var v = start
                        // Wrapping: uint64 counts are computed in Double and may round one past the limit.
                        for i in 0..<n {
                            p[i] = v
                            v = T.wrappingSum(v, delta)
                        }
                    } else {
                        let a = start.asDouble, b = delta.asDouble
                        for i in 0..<n { p[i] = T(fromDouble: a + Double(i) * b) }
                    }
                }
                return out
            }
        }
        guard let out = try dispatchNumeric(s.dtype, Make(s: s, l: l, d: d)) else {
            throw kernelUnsupported("unsupported type \(s.dtype)")
        }
        return [.tensor(out)]
    }
}

/// Elements of a Range spanning `span` deltas: ceil(span), none when it is negative, an error
/// when it is NaN or infinite (as in onnxruntime) or too large to allocate.
func rangeCount(_ span: Double) throws -> Int {
    guard span.isFinite else { throw kernelError("the number of elements (\(span)) is not finite") }
    guard span > 0 else { return 0 }
    guard span < Double(Int32.max) * 16 else { throw SwiftConvError.resourceExhausted("range of \(span) elements is too long") }
    return Int(span.rounded(.up))
}

/// `rangeCount` for integers, exact (a Double span rounds past 2^53 and could overshoot the limit).
func integerRangeCount(start: Int64, limit: Int64, delta: Int64) throws -> Int {
    let span = Int128(limit) - Int128(start), step = Int128(delta)
    guard span != 0, (span > 0) == (step > 0) else { return 0 }
    let n = (span.magnitude + step.magnitude - 1) / step.magnitude
    guard n < UInt128(Int32.max) * 16 else { throw SwiftConvError.resourceExhausted("range of \(n) elements is too long") }
    return Int(n)
}

struct EyeLikeKernel: Kernel {
    let dtype: DType?
    let k: Int

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank == 2 else { throw kernelError("input must be 2-D, got shape \(x.shape)") }
        let dtype = self.dtype ?? x.dtype
        let out = try Tensor.zeros(dtype, x.shape)
        let one = try scalarTensor(dtype, 1)
        let (rows, cols) = (x.shape[0], x.shape[1])
        let width = dtype.bitWidth / 8
        guard width > 0 else { throw kernelUnsupported("unsupported type \(dtype)") }
        let dst = out.storage.mutableBytes
        // Beyond these bounds the diagonal misses the matrix; clamping keeps `i + k` from overflowing.
        let k = min(max(self.k, -rows), cols)
        for i in max(0, -k)..<max(0, min(rows, cols - k)) {
            let j = i + k
            if j >= 0 && j < cols {
                (dst.baseAddress! + (i * cols + j) * width).copyMemory(from: one.storage.bytes.baseAddress!, byteCount: width)
            }
        }
        return [.tensor(out)]
    }
}
