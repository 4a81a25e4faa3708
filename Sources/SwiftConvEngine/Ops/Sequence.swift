import SwiftConvIR

/// Sequence and Optional ops.
enum SequenceKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("SequenceConstruct", since: [11]) { _ in SequenceConstruct() }
        r.register("SequenceEmpty", since: [11]) { ctx in
            let code = Int32(ctx.int("dtype", default: Int64(DType.float32.rawValue)))
            guard let dt = DType(rawValue: code) else { throw ctx.invalid("unknown dtype \(code)") }
            return SequenceEmpty(elementType: .tensor(elementType: dt, shape: nil))
        }
        r.register("SequenceAt", since: [11]) { _ in SequenceAt() }
        r.register("SequenceInsert", since: [11]) { _ in SequenceInsert() }
        r.register("SequenceErase", since: [11]) { _ in SequenceErase() }
        r.register("SequenceLength", since: [11]) { _ in SequenceLength() }
        r.register("SplitToSequence", since: [11, 24]) { ctx in
            SplitToSequence(axis: ctx.int("axis", default: 0), keepDims: ctx.int("keepdims", default: 1) != 0)
        }
        r.register("ConcatFromSequence", since: [11]) { ctx in
            ConcatFromSequence(axis: try ctx.int("axis"), newAxis: ctx.int("new_axis", default: 0) != 0)
        }
        r.register("SequenceMap", since: [17]) { ctx in
            SequenceMap(
                body: try Subgraph(ctx, attribute: "body"), listed: ctx.node.inputs.count,
                outputTypes: try ctx.graph("body").outputs.map(\.type))
        }
        r.register("Optional", since: [15, 28]) { ctx in
            var element: ValueType? = nil
            if case .type(let t)? = ctx.attribute("type")?.value { element = t }
            return OptionalConstruct(elementType: element ?? ctx.inputType(0))
        }
        r.register("OptionalHasElement", since: [15, 18, 28]) { _ in OptionalHasElement() }
        r.register("OptionalGetElement", since: [15, 18, 28]) { _ in OptionalGetElement() }
    }
}

extension Array where Element == Value? {
    /// Sequence input `i`.
    func sequence(_ i: Int) throws -> (items: [Value], elementType: ValueType?) {
        guard i < count, let v = self[i] else { throw kernelError("input \(i) is missing") }
        guard case .sequence(let items, let t) = v else { throw kernelError("input \(i) must be a sequence, got \(v.typeDescription)") }
        return (items, t)
    }
}

/// A position input: an integer scalar in [-n, n) (or [-n, n] where `allowEnd`).
func sequencePosition(_ v: Value?, count n: Int, allowEnd: Bool) throws -> Int? {
    guard case .tensor(let t)? = v else { return nil }
    guard let p = t.scalarInt() else { throw kernelError("position must be a one-element integer tensor") }
    let q = p < 0 ? Int(p) + n : Int(p)
    guard q >= 0, q < n || (allowEnd && q == n) else { throw kernelError("position \(p) is out of range for a sequence of \(n)") }
    return q
}

struct SequenceConstruct: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let items = try inputs.indices.map { Value.tensor(try inputs.tensor($0)) }
        guard let first = items.first?.tensor else { throw kernelError("SequenceConstruct needs at least one input") }
        for v in items where v.tensor?.dtype != first.dtype { throw kernelError("sequence elements must share one element type") }
        return [.sequence(items, elementType: .tensor(elementType: first.dtype, shape: nil))]
    }
}

struct SequenceEmpty: Kernel {
    let elementType: ValueType
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        [.sequence([], elementType: elementType)]
    }
}

struct SequenceAt: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let (items, _) = try inputs.sequence(0)
        guard let p = try sequencePosition(inputs.count > 1 ? inputs[1] : nil, count: items.count, allowEnd: false) else {
            throw kernelError("position is missing")
        }
        return [items[p]]
    }
}

struct SequenceInsert: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var (items, type) = try inputs.sequence(0)
        let t = try inputs.tensor(1)
        if let e = items.first?.tensor ?? nil, e.dtype != t.dtype {
            throw kernelError("cannot insert a \(t.dtype) tensor into a sequence of \(e.dtype)")
        }
        let p = try sequencePosition(inputs.count > 2 ? inputs[2] : nil, count: items.count, allowEnd: true) ?? items.count
        items.insert(.tensor(t), at: p)
        if type == nil { type = .tensor(elementType: t.dtype, shape: nil) }
        return [.sequence(items, elementType: type)]
    }
}

struct SequenceErase: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var (items, type) = try inputs.sequence(0)
        guard !items.isEmpty else { throw kernelError("cannot erase from an empty sequence") }
        let p = try sequencePosition(inputs.count > 1 ? inputs[1] : nil, count: items.count, allowEnd: false) ?? items.count - 1
        items.remove(at: p)
        return [.sequence(items, elementType: type)]
    }
}

struct SequenceLength: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let (items, _) = try inputs.sequence(0)
        return [.tensor(.from([Int64(items.count)], shape: []))]
    }
}

struct SplitToSequence: Kernel {
    let axis: Int64
    let keepDims: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let a = try normalizeAxis(axis, rank: x.rank)
        guard x.rank > 0 else { throw kernelError("cannot split a scalar") }
        let len = x.shape[a]
        var items: [Value] = []
        if let s = inputs.optionalTensor(1) {
            guard let v = s.int64Values() else { throw kernelError("split must be an integer tensor") }
            var sizes: [Int] = []
            if s.rank == 0 {
                guard v.count == 1, v[0] > 0 else { throw kernelError("split must be positive") }
                var left = len
                while left > 0 {
                    sizes.append(min(Int(v[0]), left))
                    left -= sizes.last!
                }
            } else {
                guard v.allSatisfy({ $0 >= 0 }), (try? v.reduce(0) { try Checked.add($0, Int($1)) }) == len else {
                    throw kernelError("split sizes \(v) do not add up to \(len)")
                }
                sizes = v.map { Int($0) }
            }
            var start = 0
            for n in sizes {
                items.append(.tensor(try AxisBlocks.slice(x, axis: a, start: start, count: n)))
                start += n
            }
        } else {
            for i in 0..<len {
                items.append(
                    .tensor(
                        keepDims
                            ? try AxisBlocks.slice(x, axis: a, start: i, count: 1)
                            : try AxisBlocks.take(x, axis: a, index: i)))
            }
        }
        return [.sequence(items, elementType: .tensor(elementType: x.dtype, shape: nil))]
    }
}

struct ConcatFromSequence: Kernel {
    let axis: Int64
    let newAxis: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let (items, _) = try inputs.sequence(0)
        let tensors = try items.map { v -> Tensor in
            guard case .tensor(let t) = v else { throw kernelError("sequence elements must be tensors") }
            return t
        }
        guard let first = tensors.first else { throw kernelError("cannot concatenate an empty sequence") }
        if newAxis {
            let a = try normalizeAxis(axis, rank: first.rank + 1)
            return [.tensor(try AxisBlocks.stack(tensors, axis: a))]
        }
        let a = try normalizeAxis(axis, rank: first.rank)
        return [.tensor(try AxisBlocks.concat(tensors, axis: a))]
    }
}

/// Runs the body once per sequence position; sequence inputs give their i-th element,
/// tensor inputs are passed whole.
struct SequenceMap: Kernel {
    let body: Subgraph
    let listed: Int
    let outputTypes: [ValueType?]

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let (first, _) = try inputs.sequence(0)
        let n = first.count
        var seqs: [[Value]?] = []
        for i in 0..<listed {
            if case .sequence(let items, _)? = inputs[i] {
                guard items.count == n else { throw kernelError("input sequences have different lengths") }
                seqs.append(items)
            } else {
                seqs.append(nil)
            }
        }
        var outs = [[Value]](repeating: [], count: outputTypes.count)
        for k in 0..<n {
            var args: [Value?] = []
            for i in 0..<listed { args.append(seqs[i].map { $0[k] } ?? inputs[i]) }
            let r = try body.run(args, outer: inputs, context)
            for (j, v) in r.enumerated() where j < outs.count { outs[j].append(v) }
        }
        return outs.enumerated().map { j, items in
            var t = outputTypes[j]
            if case .sequence(let e)? = t { t = e }
            return .sequence(items, elementType: t ?? items.first?.valueType)
        }
    }
}

struct OptionalConstruct: Kernel {
    let elementType: ValueType?
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        if let v = inputs.first ?? nil { return [v] }
        return [.none(elementType)]
    }
}

struct OptionalHasElement: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var has = false
        if let v = inputs.first ?? nil {
            if case .none = v { has = false } else { has = true }
        }
        return [.tensor(.from([has], shape: []))]
    }
}

struct OptionalGetElement: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        guard let v = inputs.first ?? nil else { throw kernelError("the optional input is missing") }
        if case .none = v { throw kernelError("the optional input has no element") }
        return [v]
    }
}
