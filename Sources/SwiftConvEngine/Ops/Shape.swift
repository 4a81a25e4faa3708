import SwiftConvIR

/// Layout ops that move or reinterpret data: Reshape, Transpose, Concat, Split, Slice, Pad, Expand, Tile, Shape, Size, Identity.
enum ShapeKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Identity", since: [1, 13, 14, 16, 19, 21, 23, 24, 25]) { _ in IdentityKernel() }
        r.register("BitCast", since: [26]) { ctx in
            guard let to = DType(rawValue: Int32(truncatingIfNeeded: try ctx.int("to"))), to != .string, to != .undefined else {
                throw ctx.invalid("'to' must be a numeric element type")
            }
            return BitCastKernel(to: to)
        }
        r.register("Reshape", since: [1, 5, 13, 14, 19, 21, 23, 24, 25]) { ctx in
            if ctx.sinceVersion < 5 {
                guard let shape = ctx.ints("shape") else { throw ctx.missing("shape") }
                return ReshapeKernel(allowZero: false, constShape: shape.map { Int(truncatingIfNeeded: $0) })
            }
            return ReshapeKernel(
                allowZero: ctx.sinceVersion >= 14 && ctx.int("allowzero", default: 0) != 0,
                constShape: try ctx.constant(1).map { try intValues($0, "shape") })
        }
        r.register("Flatten", since: [1, 9, 11, 13, 21, 23, 24, 25]) { ctx in FlattenKernel(axis: ctx.int("axis", default: 1)) }
        r.register("Squeeze", since: [1, 11, 13, 21, 23, 24, 25]) { ctx in
            if ctx.sinceVersion < 13 { return SqueezeKernel(constAxes: ctx.ints("axes")?.map { Int($0) }, axesInput: false) }
            return SqueezeKernel(constAxes: try ctx.constant(1).map { try intValues($0, "axes") }, axesInput: true)
        }
        r.register("Unsqueeze", since: [1, 11, 13, 21, 23, 24, 25]) { ctx in
            if ctx.sinceVersion < 13 {
                guard let axes = ctx.ints("axes") else { throw ctx.missing("axes") }
                return UnsqueezeKernel(constAxes: axes.map { Int($0) })
            }
            return UnsqueezeKernel(constAxes: try ctx.constant(1).map { try intValues($0, "axes") })
        }
        r.register("Transpose", since: [1, 13, 21, 23, 24, 25]) { ctx in TransposeKernel(perm: ctx.ints("perm")?.map { Int($0) }) }
        r.register("Concat", since: [1, 4, 11, 13]) { ctx in
            ConcatKernel(axis: ctx.sinceVersion < 4 ? ctx.int("axis", default: 1) : try ctx.int("axis"))
        }
        r.register("Split", since: [1, 2, 11, 13, 18]) { ctx in
            let split: [Int]?
            if ctx.sinceVersion < 2, ctx.hasInput(1) {
                // Split-1 takes the split either as an attribute or as a second input.
                split = try ctx.constant(1).map { try intValues($0, "split") }
                return SplitKernel(
                    axis: ctx.int("axis", default: 0), constSplit: split, splitInput: true,
                    outputs: ctx.node.outputs.count)
            } else if ctx.sinceVersion < 13 {
                split = ctx.ints("split")?.map { Int($0) }
            } else {
                split = try ctx.constant(1).map { try intValues($0, "split") }
            }
            return SplitKernel(
                axis: ctx.int("axis", default: 0), constSplit: split,
                splitInput: ctx.sinceVersion >= 13, outputs: ctx.node.outputs.count)
        }
        r.register("Slice", since: [1, 10, 11, 13]) { ctx in
            if ctx.sinceVersion < 10 {
                guard let s = ctx.ints("starts") else { throw ctx.missing("starts") }
                guard let e = ctx.ints("ends") else { throw ctx.missing("ends") }
                return SliceKernel(
                    attrs: SliceKernel.Params(
                        starts: s.map { Int(truncatingIfNeeded: $0) },
                        ends: e.map { Int(truncatingIfNeeded: $0) },
                        axes: ctx.ints("axes")?.map { Int($0) }, steps: nil))
            }
            // Constant starts/ends/axes/steps are parsed once.
            var attrs: SliceKernel.Params? = nil
            if let s = ctx.constant(1), let e = ctx.constant(2),
                !ctx.hasInput(3) || ctx.constant(3) != nil, !ctx.hasInput(4) || ctx.constant(4) != nil
            {
                attrs = SliceKernel.Params(
                    starts: try intValues(s, "starts"), ends: try intValues(e, "ends"),
                    axes: try ctx.constant(3).map { try intValues($0, "axes") },
                    steps: try ctx.constant(4).map { try intValues($0, "steps") })
            }
            return SliceKernel(attrs: attrs, fromInputs: true)
        }
        r.register("Pad", since: [1, 2, 11, 13, 18, 19, 21, 23, 24, 25]) { ctx in
            let mode = ctx.string("mode", default: "constant")
            guard ["constant", "reflect", "edge", "wrap"].contains(mode), mode != "wrap" || ctx.sinceVersion >= 19 else {
                throw SwiftConvError.unsupportedOp("\(ctx.label): Pad mode '\(mode)' is not supported")
            }
            if ctx.sinceVersion < 11 {
                guard let pads = ctx.ints("pads") ?? ctx.ints("paddings") else { throw ctx.missing("pads") }
                return PadKernel(
                    mode: mode, constPads: pads.map { Int($0) }, attrValue: Double(ctx.float("value", default: 0)),
                    constAxes: nil)
            }
            return PadKernel(
                mode: mode, constPads: try ctx.constant(1).map { try intValues($0, "pads") }, attrValue: nil,
                constAxes: try ctx.constant(3).map { try intValues($0, "axes") })
        }
        r.register("Expand", since: [8, 13]) { ctx in ExpandKernel(constShape: try ctx.constant(1).map { try intValues($0, "shape") }) }
        r.register("Tile", since: [1, 6, 13]) { ctx in
            if ctx.sinceVersion < 6 { return Tile1Kernel() }
            return TileKernel(constRepeats: try ctx.constant(1).map { try intValues($0, "repeats") })
        }
        r.register("Shape", since: [1, 13, 15, 19, 21, 23, 24, 25]) { ctx in
            ctx.sinceVersion >= 15
                ? ShapeKernel(start: Int(ctx.int("start", default: 0)), end: ctx.attribute("end")?.int.map { Int($0) })
                : ShapeKernel(start: 0, end: nil)
        }
        r.register("Size", since: [1, 13, 19, 21, 23, 24, 25]) { _ in SizeKernel() }
    }
}

/// Passes its input through (tensors, sequences and optionals alike).
struct IdentityKernel: SingleOutputKernel {
    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        guard let v = inputs.first ?? nil else { throw kernelError("input 0 is missing") }
        return v
    }
}

/// The output shape of Reshape: 0 copies the input dimension (unless `allowZero`), -1 is inferred.
func reshapeTarget(_ input: [Int], _ spec: [Int], allowZero: Bool) throws -> [Int] {
    var out = spec
    var infer = -1
    var known = 1
    for (i, d) in spec.enumerated() {
        if d == 0 && !allowZero {
            guard i < input.count else { throw kernelError("shape \(spec) copies dimension \(i) of a rank-\(input.count) input") }
            out[i] = input[i]
        } else if d == -1 {
            guard infer < 0 else { throw kernelError("shape \(spec) has more than one -1") }
            infer = i
            continue
        } else if d < 0 {
            throw kernelError("shape \(spec) has a negative dimension")
        }
        known = try Checked.multiply(known, out[i], "the element count of shape \(spec)")
    }
    let total = elementCount(input) ?? 0
    if infer >= 0 {
        guard known > 0, total % known == 0 else { throw kernelError("cannot reshape \(input) to \(spec)") }
        out[infer] = total / known
    }
    guard elementCount(out) == total else { throw kernelError("cannot reshape \(input) to \(spec)") }
    return out
}

struct ReshapeKernel: SingleOutputKernel {
    let allowZero: Bool
    let constShape: [Int]?

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let spec = try constShape ?? intValues(inputs.tensor(1), "shape")
        return .tensor(x.reshaped(try reshapeTarget(x.shape, spec, allowZero: allowZero)))
    }
}

struct FlattenKernel: SingleOutputKernel {
    let axis: Int64

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let a = axis < 0 ? Int(axis) + x.rank : Int(axis)
        guard a >= 0, a <= x.rank else { throw kernelError("axis \(axis) is out of range for rank \(x.rank)") }
        let outer = try checkedElementCount(Array(x.shape[..<a]))
        let inner = try checkedElementCount(Array(x.shape[a...]))
        return .tensor(x.reshaped([outer, inner]))
    }
}

/// Normalizes a list of axes against `rank`, rejecting duplicates.
/// Axes that each name a dimension of a tensor of `rank` (a scalar has none), without repeats.
func normalizeAxes(_ axes: [Int], rank: Int) throws -> [Int] {
    var out: [Int] = []
    for a in axes {
        guard rank > 0 else { throw kernelError("axis \(a) is out of range for a scalar") }
        let n = try normalizeAxis(Int64(a), rank: rank)
        guard !out.contains(n) else { throw kernelError("axis \(a) is repeated") }
        out.append(n)
    }
    return out
}

struct SqueezeKernel: SingleOutputKernel {
    let constAxes: [Int]?
    let axesInput: Bool

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        var axes = constAxes
        if axes == nil, axesInput, let t = inputs.optionalTensor(1) { axes = try intValues(t, "axes") }
        let shape: [Int]
        if let axes {
            // A mask, not a Set: this runs for every Squeeze of every run.
            var dropped = [Bool](repeating: false, count: x.rank)
            for a in try normalizeAxes(axes, rank: x.rank) {
                guard x.shape[a] == 1 else { throw kernelError("cannot squeeze axis \(a) of size \(x.shape[a])") }
                dropped[a] = true
            }
            shape = (0..<x.rank).filter { !dropped[$0] }.map { x.shape[$0] }
        } else {
            shape = x.shape.filter { $0 != 1 }
        }
        return .tensor(x.reshaped(shape))
    }
}

struct UnsqueezeKernel: SingleOutputKernel {
    let constAxes: [Int]?

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let axes = try constAxes ?? intValues(inputs.tensor(1), "axes")
        let rank = x.rank + axes.count
        var added = [Bool](repeating: false, count: rank)
        for a in try normalizeAxes(axes, rank: rank) { added[a] = true }
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        var k = 0
        for d in 0..<rank {
            if added[d] {
                shape.append(1)
            } else {
                shape.append(x.shape[k])
                k += 1
            }
        }
        return .tensor(x.reshaped(shape))
    }
}

/// Transposes `x` by `perm`; a permutation that keeps the order of the non-unit dimensions
/// is a reshape (no copy).
func transposed(_ x: Tensor, _ perm: [Int]) throws -> Tensor {
    let shape = perm.map { x.shape[$0] }
    let moved = perm.filter { x.shape[$0] != 1 }
    if moved == moved.sorted() { return x.reshaped(shape) }
    let s = contiguousStrides(x.shape)
    return try stridedGather(x, offset: 0, strides: perm.map { s[$0] }, shape: shape)
}

struct TransposeKernel: SingleOutputKernel {
    let perm: [Int]?

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let perm = perm ?? Array((0..<x.rank).reversed())
        guard perm.count == x.rank, perm.sorted() == Array(0..<x.rank) else {
            throw kernelError("perm \(perm) is not a permutation of the \(x.rank) axes")
        }
        return .tensor(try transposed(x, perm))
    }
}

/// Concatenates tensors of one dtype along `axis` (already normalized).
func concatenate(_ ts: [Tensor], axis a: Int) throws -> Tensor {
    if let out = try concatenateBytes(ts, axis: a) { return out }
    return try onStringIndices(ts) { ts in
        let first = ts[0]
        let shape = try concatenatedShape(ts, axis: a)
        let out = try Tensor.allocate(first.dtype, shape)
        let outer = shape[..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *)
        var offset = 0
        for t in ts {
            let w = t.shape[a] * inner
            try stridedCopy(
                from: t, offset: 0, strides: [w, 1], into: out, offset: offset,
                strides: [shape[a] * inner, 1], shape: [outer, w])
            offset += w
        }
        return [out]
    }[0]
}

/// The shape of `ts` joined along `axis`; every input must match the first outside it.
func concatenatedShape(_ ts: [Tensor], axis a: Int) throws -> [Int] {
    let first = ts[0]
    var shape = first.shape
    shape[a] = 0
    for t in ts {
        guard t.dtype == first.dtype else { throw kernelError("inputs mix \(first.dtype) and \(t.dtype)") }
        guard t.rank == first.rank else { throw kernelError("inputs have ranks \(first.rank) and \(t.rank)") }
        for d in 0..<t.rank where d != a && t.shape[d] != first.shape[d] {
            throw kernelError("input shapes \(first.shape) and \(t.shape) differ outside axis \(a)")
        }
        shape[a] = try Checked.add(shape[a], t.shape[a], "the concatenated axis")
    }
    return shape
}

/// Concat of byte-sized fixed-width elements as one memcpy per input and outer index
/// (shape tensors, activations); nil for strings and sub-byte types.
func concatenateBytes(_ ts: [Tensor], axis a: Int) throws -> Tensor? {
    let first = ts[0]
    let width = first.dtype.bitWidth / 8
    guard first.dtype != .string, width > 0, first.dtype.bitWidth % 8 == 0, a >= 0, a < first.rank else { return nil }
    let shape = try concatenatedShape(ts, axis: a)
    let out = try Tensor.allocate(first.dtype, shape)
    let outer = shape[..<a].reduce(1, *)
    let rowBytes = shape[a...].reduce(1, *) * width
    guard rowBytes > 0, outer > 0, let dst = out.storage.mutableBytes.baseAddress else { return out }
    var offset = 0
    for t in ts {
        let w = t.shape[a...].reduce(1, *) * width
        if w > 0, let src = t.storage.bytes.baseAddress {
            for o in 0..<outer { (dst + o * rowBytes + offset).copyMemory(from: src + o * w, byteCount: w) }
        }
        offset += w
    }
    return out
}

struct ConcatKernel: SingleOutputKernel {
    let axis: Int64

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let ts = try (0..<inputs.count).map { try inputs.tensor($0) }
        guard let first = ts.first else { throw kernelError("Concat needs at least one input") }
        guard first.rank > 0 else { throw kernelError("cannot concatenate scalars (rank 0)") }
        return .tensor(try concatenate(ts, axis: normalizeAxis(axis, rank: first.rank)))
    }
}

/// The part of `x` in [start, start + count) along `axis`: a view when contiguous.
func sliceAlongAxis(_ x: Tensor, axis a: Int, start: Int, count: Int) throws -> Tensor {
    var shape = x.shape
    shape[a] = count
    let outer = x.shape[..<a].reduce(1, *)
    let inner = x.shape[(a + 1)...].reduce(1, *)
    if x.dtype != .string, outer == 1 || count == 0 || inner == 0 {
        return x.slicedView(elementOffset: count == 0 || inner == 0 ? 0 : start * inner, shape: shape)
    }
    var strides = contiguousStrides(x.shape)
    strides[a] = inner
    return try stridedGather(x, offset: start * inner, strides: strides, shape: shape)
}

struct SplitKernel: Kernel {
    let axis: Int64
    let constSplit: [Int]?
    let splitInput: Bool
    let outputs: Int

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let dim = x.shape[a]
        var sizes = constSplit
        if sizes == nil, splitInput, let t = inputs.optionalTensor(1) { sizes = try intValues(t, "split") }
        if sizes == nil {
            // Equal parts; the last one is smaller when the axis does not divide evenly (opset 18).
            let chunk = (dim + outputs - 1) / max(outputs, 1)
            sizes = (0..<outputs).map { i in min(chunk, max(0, dim - i * chunk)) }
        }
        let parts = sizes!
        // Summed with overflow checks: sizes that wrap around to the axis length must not pass.
        guard parts.count == outputs, parts.allSatisfy({ $0 >= 0 }), (try? parts.reduce(0) { try Checked.add($0, $1) }) == dim else {
            throw kernelError("split \(parts) does not divide axis \(a) of size \(dim) into \(outputs) outputs")
        }
        var start = 0
        var out: [Value] = []
        for n in parts {
            out.append(.tensor(try sliceAlongAxis(x, axis: a, start: start, count: n)))
            start += n
        }
        return out
    }
}

struct SliceKernel: SingleOutputKernel {
    struct Params {
        var starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
    }
    let attrs: Params?
    var fromInputs = false

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        var p: Params
        if let attrs {
            p = attrs
        } else {
            p = Params(
                starts: try intValues(inputs.tensor(1), "starts"), ends: try intValues(inputs.tensor(2), "ends"),
                axes: try inputs.optionalTensor(3).map { try intValues($0, "axes") },
                steps: try inputs.optionalTensor(4).map { try intValues($0, "steps") })
        }
        let n = p.starts.count
        let axes = p.axes ?? Array(0..<n)
        let steps = p.steps ?? [Int](repeating: 1, count: n)
        guard p.ends.count == n, axes.count == n, steps.count == n else {
            throw kernelError("starts, ends, axes and steps have different lengths")
        }
        var start = [Int](repeating: 0, count: x.rank)
        var step = [Int](repeating: 1, count: x.rank)
        var count = x.shape
        for (i, a) in try normalizeAxes(axes, rank: x.rank).enumerated() {
            let dim = x.shape[a], st = steps[i]
            guard st != 0 else { throw kernelError("slice step cannot be 0") }
            var b = p.starts[i], e = p.ends[i]
            if b < 0 { b = b &+ dim }
            if e < 0 { e = e &+ dim }
            // Counts are ceil(span / |step|) written so that no step (Int.min, Int.max) overflows.
            if st > 0 {
                b = min(max(b, 0), dim)
                e = min(max(e, 0), dim)
                count[a] = e > b ? (e - b - 1) / st + 1 : 0
            } else {
                b = min(max(b, 0), dim - 1)
                e = min(max(e, -1), dim - 1)
                count[a] = b > e ? Int(UInt(b - e - 1) / st.magnitude) + 1 : 0
            }
            start[a] = b
            // A step only matters between two picked elements; then |step| < dim and strides fit.
            step[a] = count[a] > 1 ? st : 1
        }
        let s = contiguousStrides(x.shape)
        var offset = 0
        for d in 0..<x.rank where count[d] > 0 { offset += start[d] * s[d] }
        if count == x.shape && step.allSatisfy({ $0 == 1 }) { return .tensor(x) }
        if count.contains(0) { return .tensor(try Tensor.allocate(x.dtype, count)) }
        // A block that is contiguous in the input is returned as a view.
        if x.dtype != .string {
            let first = count.firstIndex { $0 != 1 } ?? x.rank
            // Every later axis must be whole and forward: a reversed whole axis starts at its end,
            // and a view from there would read past the buffer.
            if first == x.rank
                || step[first] == 1 && ((first + 1)..<x.rank).allSatisfy({ count[$0] == x.shape[$0] && step[$0] == 1 })
            {
                return .tensor(x.slicedView(elementOffset: offset, shape: count))
            }
        }
        return .tensor(try stridedGather(x, offset: offset, strides: (0..<x.rank).map { s[$0] * step[$0] }, shape: count))
    }
}

struct PadKernel: Kernel {
    let mode: String
    let constPads: [Int]?
    let attrValue: Double?
    let constAxes: [Int]?

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let rank = x.rank
        let given = try constPads ?? intValues(inputs.tensor(1), "pads")
        var axes = constAxes
        if axes == nil, let t = inputs.optionalTensor(3) { axes = try intValues(t, "axes") }
        var before = [Int](repeating: 0, count: rank), after = before
        if let axes {
            guard given.count == 2 * axes.count else { throw kernelError("pads has \(given.count) values for \(axes.count) axes") }
            for (i, a) in try normalizeAxes(axes, rank: rank).enumerated() {
                before[a] = given[i]
                after[a] = given[i + axes.count]
            }
        } else {
            guard given.count == 2 * rank else { throw kernelError("pads has \(given.count) values for rank \(rank)") }
            before = Array(given[..<rank])
            after = Array(given[rank...])
        }
        let shape = try (0..<rank).map {
            try Checked.add(Checked.add(x.shape[$0], before[$0], "the padded shape"), after[$0], "the padded shape")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw kernelError("pads \(given) remove more than the input \(x.shape)") }
        if mode == "constant" {
            guard x.dtype != .string || shape == x.shape else { throw kernelUnsupported("constant padding of strings is not supported") }
            var value: Tensor? = nil
            if let v = attrValue {
                value = try scalarTensor(x.dtype, v)
            } else if let t = inputs.optionalTensor(2) {
                guard t.dtype == x.dtype else { throw kernelError("constant_value is \(t.dtype), input is \(x.dtype)") }
                value = t
            }
            return [
                .tensor(
                    try onStringIndices(x) { x in
                        let out = try Tensor.allocate(x.dtype, shape)
                        try fillElements(out, with: value)
                        // Copy the part of the input that survives.
                        let sIn = contiguousStrides(x.shape), sOut = contiguousStrides(shape)
                        var region = [Int](), inOff = 0, outOff = 0
                        for d in 0..<rank {
                            // Written so that pads near Int.min/Int.max whose sum fits do not overflow here.
                            let lo = before[d] >= 0 ? 0 : before[d] <= -x.shape[d] ? x.shape[d] : -before[d]
                            let hi = after[d] < 0 ? x.shape[d] + after[d] : x.shape[d]
                            region.append(max(0, hi - lo))
                            guard hi > lo else { return out }
                            inOff += lo * sIn[d]
                            outOff += max(0, before[d]) * sOut[d]
                        }
                        try stridedCopy(from: x, offset: inOff, strides: sIn, into: out, offset: outOff, strides: sOut, shape: region)
                        return out
                    })
            ]
        }
        let sIn = contiguousStrides(x.shape)
        for d in 0..<rank {
            let n = x.shape[d]
            if n == 0 && shape[d] > 0 { throw kernelError("cannot \(mode)-pad an empty axis") }
            if mode == "reflect" && (before[d] > 0 || after[d] > 0) {
                // onnxruntime's rule: reflection repeats no edge, so each pad stays below the (sliced) length.
                let kept = n + min(before[d], 0) + min(after[d], 0)
                guard kept >= 2, before[d] < kept, after[d] < kept else {
                    throw kernelError("reflect pads \(before[d]) and \(after[d]) of axis \(d) must be smaller than its length \(kept)")
                }
            }
        }
        return [
            .tensor(
                try indexMapGather(x, shape: shape) {
                    (0..<rank).map { d in
                        let n = x.shape[d]
                        return (0..<shape[d]).map { o in
                            let i = o - before[d]
                            let j: Int
                            switch mode {
                            case "edge": j = min(max(i, 0), n - 1)
                            case "wrap": j = ((i % n) + n) % n
                            default:
                                if n == 1 {
                                    j = 0
                                } else {
                                    let period = 2 * (n - 1)
                                    let m = ((i % period) + period) % period
                                    j = m < n ? m : period - m
                                }
                            }
                            return j * sIn[d]
                        }
                    }
                })
        ]
    }
}

struct ExpandKernel: SingleOutputKernel {
    let constShape: [Int]?

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let spec = try constShape ?? intValues(inputs.tensor(1), "shape")
        let shape = try broadcastShapes(x.shape, spec)
        if shape == x.shape { return .tensor(x) }
        return .tensor(try stridedGather(x, offset: 0, strides: broadcastStrides(x.shape, to: shape), shape: shape))
    }
}

struct TileKernel: Kernel {
    let constRepeats: [Int]?

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let repeats = try constRepeats ?? intValues(inputs.tensor(1), "repeats")
        guard repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw kernelError("repeats \(repeats) does not fit rank \(x.rank)")
        }
        // Tile is a broadcast of [1, d0, 1, d1, ...] to [r0, d0, r1, d1, ...].
        let s = contiguousStrides(x.shape)
        var shape: [Int] = [], strides: [Int] = []
        for d in 0..<x.rank {
            shape += [repeats[d], x.shape[d]]
            strides += [0, s[d]]
        }
        let out = try stridedGather(x, offset: 0, strides: strides, shape: shape)
        return [.tensor(out.reshaped(try (0..<x.rank).map { try Checked.multiply(x.shape[$0], repeats[$0], "the tiled shape") }))]
    }
}

/// Tile-1: repeats the input `tiles` times along `axis` (both scalar inputs).
struct Tile1Kernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let tiles = try intValues(inputs.tensor(1), "tiles"), axes = try intValues(inputs.tensor(2), "axis")
        guard tiles.count == 1, axes.count == 1 else { throw kernelError("tiles and axis must be scalars") }
        let axis = try normalizeAxis(Int64(axes[0]), rank: x.rank)
        var repeats = [Int](repeating: 1, count: x.rank)
        repeats[axis] = tiles[0]
        return try TileKernel(constRepeats: repeats).run([.tensor(x)], context)
    }
}

struct ShapeKernel: SingleOutputKernel {
    let start: Int
    let end: Int?

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let r = x.rank
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
        let b = clamp(start), e = clamp(end ?? r)
        let dims = b < e ? x.shape[b..<e].map { Int64($0) } : []
        return .tensor(Tensor.from(dims))
    }
}

struct SizeKernel: SingleOutputKernel {
    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        return .tensor(Tensor.from([Int64(x.elementCount)], shape: []))
    }
}

/// Reinterprets the bits of each element as another type of the same width: no copy.
struct BitCastKernel: Kernel {
    let to: DType

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype != .string, x.dtype.bitWidth == to.bitWidth else {
            throw kernelError("cannot bit-cast \(x.dtype) (\(x.dtype.bitWidth) bits) to \(to) (\(to.bitWidth) bits)")
        }
        var out = x.reshaped(x.shape)
        out.dtype = to
        return [.tensor(out)]
    }
}
