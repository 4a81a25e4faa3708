import SwiftConvIR

/// Dtype-agnostic block copies along one axis (slice, stack, concat, split), used by the
/// control-flow and sequence kernels, which move whole sub-tensors of any element type.
enum AxisBlocks {
    /// Bytes per element; throws for packed sub-byte types, which cannot be cut per element.
    static func elementBytes(_ dtype: DType) throws -> Int {
        guard dtype == .string || (dtype.bitWidth > 0 && dtype.bitWidth % 8 == 0) else {
            throw kernelUnsupported("element type \(dtype) is not supported here")
        }
        return dtype.bitWidth / 8
    }

    /// (outer count, inner element count) around `axis` of `shape`.
    static func split(_ shape: [Int], _ axis: Int) -> (outer: Int, inner: Int) {
        var outer = 1, inner = 1
        for i in 0..<axis { outer *= shape[i] }
        for i in (axis + 1)..<max(shape.count, axis + 1) { inner *= shape[i] }
        return (outer, inner)
    }

    /// Concatenates `parts` along `axis` (all the same dtype and rank, equal elsewhere).
    static func concat(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else { throw kernelError("nothing to concatenate") }
        var shape = first.shape
        guard axis >= 0, axis < shape.count else { throw kernelError("axis \(axis) is out of range for rank \(shape.count)") }
        var total = 0
        for p in parts {
            guard p.dtype == first.dtype, p.rank == first.rank else {
                throw kernelError("cannot concatenate \(p.dtype)\(p.shape) with \(first.dtype)\(first.shape)")
            }
            for d in 0..<shape.count where d != axis && p.shape[d] != shape[d] {
                throw kernelError("cannot concatenate shapes \(p.shape) and \(first.shape) along axis \(axis)")
            }
            total += p.shape[axis]
        }
        shape[axis] = total
        let (outer, inner) = split(shape, axis)
        if first.dtype == .string {
            var out: [[UInt8]] = []
            out.reserveCapacity(outer * total * inner)
            for o in 0..<outer {
                for p in parts {
                    let n = p.shape[axis] * inner
                    out.append(contentsOf: p.strings[(o * n)..<(o * n + n)])
                }
            }
            return Tensor(shape: shape, strings: out)
        }
        let eb = try elementBytes(first.dtype)
        let result = try Tensor.allocate(first.dtype, shape)
        guard let dst = result.storage.mutableBytes.baseAddress else { return result }
        var offset = 0
        for o in 0..<outer {
            for p in parts {
                let n = p.shape[axis] * inner * eb
                if n > 0, let src = p.storage.bytes.baseAddress {
                    (dst + offset).copyMemory(from: src + o * n, byteCount: n)
                }
                offset += n
            }
        }
        return result
    }

    /// Stacks equal-shaped `parts` along a new `axis` (0...rank).
    static func stack(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else { throw kernelError("nothing to stack") }
        var expanded = first.shape
        guard axis >= 0, axis <= expanded.count else { throw kernelError("axis \(axis) is out of range") }
        expanded.insert(1, at: axis)
        var reshaped: [Tensor] = []
        reshaped.reserveCapacity(parts.count)
        for p in parts {
            guard p.shape == first.shape else { throw kernelError("cannot stack shapes \(p.shape) and \(first.shape)") }
            reshaped.append(p.reshaped(expanded))
        }
        return try concat(reshaped, axis: axis)
    }

    /// `t[..., start..<start+count, ...]` along `axis`, keeping the axis.
    static func slice(_ t: Tensor, axis: Int, start: Int, count: Int) throws -> Tensor {
        var shape = t.shape
        let len = shape[axis]
        guard start >= 0, count >= 0, start + count <= len else { throw kernelError("slice out of range") }
        shape[axis] = count
        let (outer, inner) = split(t.shape, axis)
        if t.dtype == .string {
            var out: [[UInt8]] = []
            out.reserveCapacity(outer * count * inner)
            for o in 0..<outer {
                let base = (o * len + start) * inner
                out.append(contentsOf: t.strings[base..<(base + count * inner)])
            }
            return Tensor(shape: shape, strings: out)
        }
        if outer == 1 && start == 0 && count == len { return t.reshaped(shape) }
        let eb = try elementBytes(t.dtype)
        let result = try Tensor.allocate(t.dtype, shape)
        let n = count * inner * eb
        if n > 0, let dst = result.storage.mutableBytes.baseAddress, let src = t.storage.bytes.baseAddress {
            for o in 0..<outer {
                (dst + o * n).copyMemory(from: src + (o * len + start) * inner * eb, byteCount: n)
            }
        }
        return result
    }

    /// `t[..., index, ...]` along `axis`, dropping the axis.
    static func take(_ t: Tensor, axis: Int, index: Int) throws -> Tensor {
        var shape = t.shape
        let s = try slice(t, axis: axis, start: index, count: 1)
        shape.remove(at: axis)
        return s.reshaped(shape)
    }
}

extension Value {
    /// The value's type, as a subgraph or sequence element type.
    var valueType: ValueType? {
        switch self {
        case .tensor(let t): return .tensor(elementType: t.dtype, shape: nil)
        case .sequence(let items, let e): return .sequence(items.first?.valueType ?? e)
        case .map(let k, let v): return .map(key: k.dtype, value: .tensor(elementType: v.dtype, shape: nil))
        case .none(let t): return .optional(t)
        }
    }
}

extension ExecutionContext {
    /// The context a subgraph runs in (one level deeper).
    var nested: ExecutionContext { ExecutionContext(threads: threads, control: control, depth: depth + 1, profiler: profiler) }
}

/// A compiled subgraph plus where its outer-scope values are found in the owning node's inputs.
struct Subgraph: @unchecked Sendable {
    let plan: ExecutionPlan
    /// For each of `plan.captureNames`, the index in the kernel's `inputs`.
    let captureIndex: [Int]

    init(_ ctx: KernelBuildContext, attribute: String) throws {
        let g = try ctx.graph(attribute)
        plan = try ctx.buildSubgraph(g)
        let base = ctx.node.inputs.count
        captureIndex = try plan.captureNames.map { name in
            guard let i = ctx.subgraphCaptures.firstIndex(of: name) else {
                throw ctx.invalid("subgraph '\(attribute)' reads '\(name)', which is not visible")
            }
            return base + i
        }
    }

    var graph: Graph { plan.graph }

    /// Runs the subgraph; `inputs` follow its graph inputs.
    func run(_ inputs: [Value?], outer: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var captures: [Value] = []
        captures.reserveCapacity(captureIndex.count)
        for i in captureIndex {
            guard i < outer.count, let v = outer[i] else { throw kernelError("an outer-scope value of a subgraph is missing") }
            captures.append(v)
        }
        return try plan.execute(inputs: inputs, captures: captures, context: context.nested)
    }
}

/// Conversions between Double arrays and float/numeric tensors, for kernels that compute
/// in Double (signal, optimizers, ML models) where input size is small.
enum DoubleBridge {
    /// Writes Double values into a new tensor of a numeric dtype.
    static func tensor(_ values: [Double], dtype: DType, shape: [Int]) throws -> Tensor {
        struct Fill: NumericVisitor {
            let values: [Double], shape: [Int]
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                let out = try Tensor.allocate(T.dtype, shape)
                out.withMutableElements(as: T.self) { p in for i in 0..<p.count { p[i] = T(fromDouble: values[i]) } }
                return out
            }
        }
        guard let t = try dispatchNumeric(dtype, Fill(values: values, shape: shape)) else {
            throw kernelUnsupported("unsupported output type \(dtype)")
        }
        return t
    }

    /// Reads a float tensor as Doubles (float16/32/64).
    static func values(_ t: Tensor) throws -> [Double] {
        struct Read: FloatVisitor {
            let t: Tensor
            func visit<T: FloatScalar>(_ type: T.Type) throws -> [Double] { t.withElements(as: T.self) { $0.map(\.asDouble) } }
        }
        guard let v = try dispatchFloat(t.dtype, Read(t: t)) else { throw kernelError("expected a float tensor, got \(t.dtype)") }
        return v
    }
}
