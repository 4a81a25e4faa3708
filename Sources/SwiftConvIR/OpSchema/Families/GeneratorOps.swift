/// Ops that make tensors: Constant, ConstantOfShape, Range, EyeLike, random generators.
enum GeneratorOps {
    static func register(into r: inout OpRegistry) {
        r.add("Constant", since: [1, 9], inputs: "", outputs: "1", attributes: "value:t!", rule: constant)
        r.add("Constant", since: [11], inputs: "", outputs: "1", attributes: "sparse_value:st value:t", rule: constant)
        r.add(
            "Constant", since: [12, 13, 19, 21, 23, 24, 25], inputs: "", outputs: "1",
            attributes: "sparse_value:st value:t value_float:f value_floats:fs value_int:i value_ints:is value_string:s value_strings:ss",
            rule: constant)
        r.add(
            "ConstantOfShape", since: [9, 20, 21, 23, 24, 25], inputs: "1", outputs: "1", attributes: "value:t",
            rule: { ctx in
                let value = ctx.attribute("value")?.tensor
                let dtype = value?.dtype ?? .float32
                guard let dims = ctx.values(0) else {
                    ctx.setOutput(0, dtype, ctx.shape(0).flatMap { $0.first?.value }.flatMap { ShapeMath.unknownShape(rank: $0) })
                    return
                }
                ctx.setOutput(0, dtype, dims.map { if let v = $0.value, v < 0 { return .unknown } else { return $0 } })
                // A small integer fill (e.g. ones for Expand) is tracked as values.
                if dims.count == 1, let n = dims[0].value, n >= 0, n <= 64, dtype.isInteger,
                    let fill = value?.int64Values()?.first ?? (value == nil ? 0 : nil)
                {
                    ctx.setValues(0, Array(repeating: .known(Int(clamping: fill)), count: n))
                }
            })
        r.add("Range", since: [11], inputs: "111", outputs: "1", rule: range)
        r.add("Range", since: [27], inputs: "111", outputs: "1", attributes: "stash_type:i", rule: range)
        r.add(
            "EyeLike", since: [9, 22], inputs: "1", outputs: "1", attributes: "dtype:i k:i",
            rule: { ctx in
                ctx.setOutput(0, dtypeAttribute(ctx) ?? ctx.dtype(0), ctx.shape(0))
            })
        for name in ["RandomNormal", "RandomUniform"] {
            r.add(
                name, since: [1, 22], inputs: "", outputs: "1",
                attributes: name == "RandomNormal" ? "dtype:i mean:f scale:f seed:f shape:is!" : "dtype:i high:f low:f seed:f shape:is!",
                rule: { ctx in ctx.setOutput(0, dtypeAttribute(ctx) ?? .float32, ctx.ints("shape").map(ShapeMath.dims)) })
        }
        for name in ["RandomNormalLike", "RandomUniformLike"] {
            r.add(
                name, since: [1, 22], inputs: "1", outputs: "1",
                attributes: name == "RandomNormalLike" ? "dtype:i mean:f scale:f seed:f" : "dtype:i high:f low:f seed:f",
                rule: { ctx in ctx.setOutput(0, dtypeAttribute(ctx) ?? ctx.dtype(0), ctx.shape(0)) })
        }
        r.add(
            "Bernoulli", since: [15, 22], inputs: "1", outputs: "1", attributes: "dtype:i seed:f",
            rule: { ctx in
                ctx.setOutput(0, dtypeAttribute(ctx) ?? ctx.dtype(0), ctx.shape(0))
            })
        r.add(
            "Multinomial", since: [7, 22], inputs: "1", outputs: "1", attributes: "dtype:i sample_size:i seed:f",
            rule: { ctx in
                let batch = ctx.shape(0)?.first ?? .unknown
                ctx.setOutput(0, dtypeAttribute(ctx) ?? .int32, [batch, .known(ctx.int("sample_size", default: 1))])
            })
    }

    static func dtypeAttribute(_ ctx: InferenceContext) -> DType? {
        guard let v = ctx.int("dtype"), let t = DType(rawValue: Int32(clamping: v)), t != .undefined else { return nil }
        return t
    }

    /// The tensor a Constant node produces, or nil when its attributes do not describe one.
    static func constantTensor(of node: Node) -> Tensor? {
        for a in node.attributes {
            switch (a.name, a.value) {
            case ("value", .tensor(let t)?): return t
            case ("value_float", .float(let f)?): return Tensor(dtype: .float32, shape: [], values: [f])
            case ("value_floats", .floats(let f)?): return Tensor(dtype: .float32, shape: [f.count], values: f)
            case ("value_int", .int(let i)?): return Tensor(dtype: .int64, shape: [], values: [i])
            case ("value_ints", .ints(let i)?): return Tensor(dtype: .int64, shape: [i.count], values: i)
            case ("value_string", .string(let s)?): return Tensor(shape: [], strings: [s])
            case ("value_strings", .strings(let s)?): return Tensor(shape: [s.count], strings: s)
            case ("sparse_value", .sparseTensor(let s)?):
                return Tensor(dtype: s.values.dtype, shape: s.shape, storage: .empty)
            default: continue
            }
        }
        return nil
    }

    static let constant: TypeInferenceRule = { ctx in
        guard let t = constantTensor(of: ctx.node) else { return }
        ctx.setOutput(0, t.dtype, Shape(t.shape))
        if t.shape.count <= 1, t.elementCount <= 1 << 16, t.byteCount >= t.dtype.byteCount(elements: t.elementCount) ?? .max,
            let v = t.int64Values()
        {
            ctx.setValues(0, v.map { .known(Int(clamping: $0)) })
        }
    }

    static let range: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0) ?? ctx.dtype(1)
        guard let s = ctx.doubles(0)?.first, let l = ctx.doubles(1)?.first, let d = ctx.doubles(2)?.first, d != 0,
            s.isFinite, l.isFinite, d.isFinite
        else {
            ctx.setOutput(0, dtype, [.unknown])
            return
        }
        let count = max(((l - s) / d).rounded(.up), 0)
        guard count < Double(Int32.max) else {
            ctx.setOutput(0, dtype, [.unknown])
            return
        }
        let n = Int(count)
        ctx.setOutput(0, dtype, [.known(n)])
        if let t = dtype, t.isInteger, n <= 64, abs(s) < 1e15, abs(d) < 1e15 {
            ctx.setValues(0, (0..<n).map { .known(Int(s) + $0 * Int(d)) })
        }
    }
}
