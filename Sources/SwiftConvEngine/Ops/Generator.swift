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
        r.register("Range", since: [11]) { _ in RangeKernel() }
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
            return [.tensor(Tensor(shape: shape, strings: Array(repeating: value.strings[0], count: elementCount(shape) ?? 0)))]
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
            let n = max(Int(((limit - start) / delta).rounded(.up)), 0)
            let values = (0..<n).map { BFloat16Bits.fromFloat(Float(start + Double($0) * delta)) }
            return [.tensor(Tensor(dtype: .bfloat16, shape: [n], values: values))]
        }
        struct Make: NumericVisitor {
            let s: Tensor, l: Tensor, d: Tensor
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                let start = s.values(as: T.self)[0], limit = l.values(as: T.self)[0], delta = d.values(as: T.self)[0]
                guard delta != 0 else { throw kernelError("delta cannot be 0") }
                let span = (limit.asDouble - start.asDouble) / delta.asDouble
                guard span < Double(Int32.max) * 16 else { throw kernelError("range is too long") }
                let n = max(Int(span.rounded(.up)), 0)
                let out = try Tensor.allocate(T.dtype, [n])
                out.withMutableElements(as: T.self) { p in
                    if T.self is any BinaryInteger.Type {
                        var v = start
                        for i in 0..<n { p[i] = v; if i + 1 < n { v += delta } }
                    } else {
                        let a = start.asDouble, b = delta.asDouble
                        for i in 0..<n { p[i] = T(fromDouble: a + Double(i) * b) }
                    }
                }
                return out
            }
        }
        guard let out = try dispatchNumeric(s.dtype, Make(s: s, l: l, d: d)) else {
            throw kernelError("unsupported type \(s.dtype)")
        }
        return [.tensor(out)]
    }
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
        guard width > 0 else { throw kernelError("unsupported type \(dtype)") }
        let dst = out.storage.mutableBytes
        for i in 0..<rows {
            let j = i + k
            if j >= 0 && j < cols {
                (dst.baseAddress! + (i * cols + j) * width).copyMemory(from: one.storage.bytes.baseAddress!, byteCount: width)
            }
        }
        return [.tensor(out)]
    }
}
