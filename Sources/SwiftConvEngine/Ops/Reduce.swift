import RealModule
import SwiftConvIR

/// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
/// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare.
enum ReduceKernels {
    static func register(into r: inout KernelRegistry) {
        let ops: [(String, ReduceKernel.Op, [Int64], Int64)] = [
            ("ReduceSum", .sum, [1, 11, 13], 13),
            ("ReduceMean", .mean, [1, 11, 13, 18], 18),
            ("ReduceMax", .max, [1, 11, 12, 13, 18, 20], 18),
            ("ReduceMin", .min, [1, 11, 12, 13, 18, 20], 18),
            ("ReduceProd", .prod, [1, 11, 13, 18], 18),
            ("ReduceL1", .l1, [1, 11, 13, 18], 18),
            ("ReduceL2", .l2, [1, 11, 13, 18], 18),
            ("ReduceLogSum", .logSum, [1, 11, 13, 18, 28], 18),
            ("ReduceLogSumExp", .logSumExp, [1, 11, 13, 18, 28], 18),
            ("ReduceSumSquare", .sumSquare, [1, 11, 13, 18], 18),
        ]
        for (name, op, versions, axesInputSince) in ops {
            r.register(name, since: versions) { ctx in
                let axesFromInput = ctx.sinceVersion >= axesInputSince
                var axes: [Int64]? = axesFromInput ? nil : ctx.ints("axes")
                if axesFromInput, ctx.hasInput(1), let c = ctx.constant(1) {
                    guard let v = c.int64Values() else { throw ctx.invalid("axes must be int64") }
                    axes = v
                }
                return ReduceKernel(
                    op: op, fixedAxes: axes, axesFromInput: axesFromInput && axes == nil,
                    keepDims: ctx.int("keepdims", default: 1) != 0,
                    noopWithEmptyAxes: ctx.int("noop_with_empty_axes", default: 0) != 0)
            }
        }
    }
}

/// One reduction over a set of axes. No axes reduces everything, unless
/// `noop_with_empty_axes` is set, which returns the input unchanged. Reducing an empty set
/// gives the operation's identity (0, 1, -inf for max/log-sums, +inf for min).
struct ReduceKernel: SingleOutputKernel {
    enum Op { case sum, mean, max, min, prod, l1, l2, logSum, logSumExp, sumSquare }
    let op: Op
    /// Axes known at session creation (attribute or constant input); nil when absent.
    let fixedAxes: [Int64]?
    /// Axes come from input 1 at run time.
    let axesFromInput: Bool
    let keepDims: Bool
    let noopWithEmptyAxes: Bool

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        var axes = fixedAxes ?? []
        if axesFromInput, let t = inputs.optionalTensor(1) {
            guard let v = t.int64Values() else { throw kernelError("axes must be int64, got \(t.dtype)") }
            axes = v
        }
        if axes.isEmpty && noopWithEmptyAxes { return .tensor(x) }
        let rank = x.rank
        var reduced = [Bool](repeating: axes.isEmpty, count: rank)
        if rank > 0 {
            for a in axes { reduced[try normalizeAxis(a, rank: rank, label: "axis")] = true }
        }
        let keptShape = (0..<rank).map { reduced[$0] ? 1 : x.shape[$0] }
        let outShape = keepDims ? keptShape : (0..<rank).filter { !reduced[$0] }.map { x.shape[$0] }
        let layout = ReductionLayout(shape: x.shape, reduced: reduced)
        let count = (0..<rank).filter { reduced[$0] }.reduce(1) { $0 * x.shape[$1] }
        let threads = context.threads
        if x.dtype == .float32, op == .sum || op == .mean, let out = try sumRowsFloat32(x, layout, outShape, count, threads) {
            return .tensor(out)
        }

        switch x.dtype {
        case .bool:
            guard op == .max || op == .min else { throw kernelUnsupported("unsupported input type bool") }
            let isMax = op == .max
            let out = try Tensor.allocate(.bool, outShape)
            x.withElements(as: Bool.self) { px in
                out.withMutableElements(as: Bool.self) { po in
                    for i in 0..<po.count { po[i] = !isMax }
                    layout.forEachRun { o, base, inner, reducedInner in
                        for k in 0..<inner {
                            let j = reducedInner ? o : o + k
                            po[j] = isMax ? (po[j] || px[base + k]) : (po[j] && px[base + k])
                        }
                    }
                }
            }
            return .tensor(out)
        case _ where x.dtype.isInteger && [.sum, .prod, .max, .min, .l1, .sumSquare, .mean].contains(op):
            struct Visit: IntegerVisitor {
                let x: Tensor, kernel: ReduceKernel, layout: ReductionLayout, outShape: [Int], count: Int
                func visit<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                    try kernel.reduceIntegers(x, T.self, layout, outShape, count)
                }
            }
            guard let out = try dispatchInteger(x.dtype, Visit(x: x, kernel: self, layout: layout, outShape: outShape, count: count)) else {
                throw kernelUnsupported("unsupported input type \(x.dtype)")
            }
            return .tensor(out)
        case _ where x.dtype.isInteger:
            // Log/sqrt reductions of integers compute in double and truncate back.
            let wide = try castTensor(x, to: .float64)
            let r = try reduceFloats(wide, NativeLane<Double>.self, layout, outShape, count, threads)
            return .tensor(try castTensor(r, to: x.dtype))
        default:
            struct Visit: FloatLaneVisitor {
                let x: Tensor, kernel: ReduceKernel, layout: ReductionLayout, outShape: [Int], count: Int, threads: ThreadPool
                func visit<L: FloatLane>(_ lane: L.Type) throws -> Tensor {
                    try kernel.reduceFloats(x, lane, layout, outShape, count, threads)
                }
            }
            guard
                let out = try dispatchFloatLane(
                    x.dtype,
                    Visit(
                        x: x, kernel: self, layout: layout, outShape: outShape,
                        count: count, threads: threads))
            else {
                throw kernelUnsupported("unsupported input type \(x.dtype)")
            }
            return .tensor(out)
        }
    }

    /// Float reductions accumulate in the lane's compute type (Float for float16/bfloat16).
    func reduceFloats<L: FloatLane>(
        _ x: Tensor, _: L.Type, _ layout: ReductionLayout, _ outShape: [Int],
        _ count: Int, _ threads: ThreadPool
    ) throws -> Tensor {
        typealias T = L.Compute
        let outCount = outShape.reduce(1, *)
        var acc = [T](repeating: 0, count: outCount)
        x.withElements(as: L.Storage.self) { px in
            acc.withUnsafeMutableBufferPointer { pa in
                func pass(initial: T, _ combine: (T, T) -> T, _ pre: (T, Int) -> T) {
                    for i in 0..<pa.count { pa[i] = initial }
                    layout.forEachRun(threads: threads) { o, base, inner, reducedInner in
                        if reducedInner {
                            var a = pa[o]
                            for k in 0..<inner { a = combine(a, pre(L.load(px[base + k]), o)) }
                            pa[o] = a
                        } else {
                            for k in 0..<inner { pa[o + k] = combine(pa[o + k], pre(L.load(px[base + k]), o + k)) }
                        }
                    }
                }
                let add: (T, T) -> T = { $0 + $1 }
                switch op {
                case .sum, .mean, .logSum: pass(initial: 0, add) { v, _ in v }
                case .l1: pass(initial: 0, add) { v, _ in v.magnitude }
                case .l2, .sumSquare: pass(initial: 0, add) { v, _ in v * v }
                case .prod: pass(initial: 1, { $0 * $1 }) { v, _ in v }
                case .max: pass(initial: -.infinity, { $1 > $0 || $1.isNaN ? $1 : $0 }) { v, _ in v }
                case .min: pass(initial: .infinity, { $1 < $0 || $1.isNaN ? $1 : $0 }) { v, _ in v }
                case .logSumExp:
                    pass(initial: -.infinity, { $1 > $0 || $1.isNaN ? $1 : $0 }) { v, _ in v }
                    let shifts = Array(pa).map { $0.isFinite ? $0 : 0 }
                    shifts.withUnsafeBufferPointer { ps in
                        pass(initial: 0, add) { v, o in T.exp(v - ps[o]) }
                        for i in 0..<pa.count { pa[i] = T.log(pa[i]) + ps[i] }
                    }
                }
                let n = T(count)
                switch op {
                case .mean: for i in 0..<pa.count { pa[i] /= n }
                case .l2: for i in 0..<pa.count { pa[i] = pa[i].squareRoot() }
                case .logSum: for i in 0..<pa.count { pa[i] = T.log(pa[i]) }
                default: break
                }
            }
        }
        let out = try Tensor.allocate(x.dtype, outShape)
        out.withMutableElements(as: L.Storage.self) { po in
            for i in 0..<min(po.count, acc.count) { po[i] = L.store(acc[i]) }
        }
        return out
    }

    /// ReduceSum/ReduceMean of float32 over the trailing axes (LayerNorm's mean, pooling by
    /// mean) as one plain loop per output row, summed in the same order as `reduceFloats`;
    /// nil when the reduced axes are not the trailing ones.
    func sumRowsFloat32(_ x: Tensor, _ layout: ReductionLayout, _ outShape: [Int], _ count: Int, _ threads: ThreadPool) throws -> Tensor? {
        let inner = layout.shape[layout.shape.count - 1]
        guard layout.shape.count <= 2, layout.outStrides[layout.shape.count - 1] == 0, inner > 0, layout.total > 0 else { return nil }
        let rows = layout.total / inner
        let out = try Tensor.allocate(.float32, outShape)
        let px = x.floatPointer, po = out.mutableFloatPointer
        let scale: Float? = op == .mean ? Float(count) : nil
        threads.parallelFor(rows, grain: max(1, elementwiseGrain / inner)) { range in
            for r in range {
                let row = px + r * inner
                var a: Float = 0
                for k in 0..<inner { a += row[k] }
                po[r] = scale.map { a / $0 } ?? a
            }
        }
        return out
    }

    /// Integer sums and products wrap; Mean divides the sum, truncating.
    func reduceIntegers<T: IntegerScalar>(
        _ x: Tensor, _: T.Type, _ layout: ReductionLayout, _ outShape: [Int],
        _ count: Int
    ) throws -> Tensor {
        let out = try Tensor.allocate(x.dtype, outShape)
        x.withElements(as: T.self) { px in
            out.withMutableElements(as: T.self) { pa in
                func pass(initial: T, _ combine: (T, T) -> T, _ pre: (T) -> T) {
                    for i in 0..<pa.count { pa[i] = initial }
                    layout.forEachRun { o, base, inner, reducedInner in
                        if reducedInner {
                            var a = pa[o]
                            for k in 0..<inner { a = combine(a, pre(px[base + k])) }
                            pa[o] = a
                        } else {
                            for k in 0..<inner { pa[o + k] = combine(pa[o + k], pre(px[base + k])) }
                        }
                    }
                }
                switch op {
                case .max: pass(initial: .min, { Swift.max($0, $1) }) { $0 }
                case .min: pass(initial: .max, { Swift.min($0, $1) }) { $0 }
                case .prod: pass(initial: 1, { $0 &* $1 }) { $0 }
                case .l1: pass(initial: 0, { $0 &+ $1 }) { $0 < 0 ? 0 &- $0 : $0 }
                case .sumSquare, .l2: pass(initial: 0, { $0 &+ $1 }) { $0 &* $0 }
                default: pass(initial: 0, { $0 &+ $1 }) { $0 }
                }
                if op == .mean && count > 0 {
                    let n = T(truncatingIfNeeded: count)
                    for i in 0..<pa.count { pa[i] = pa[i].dividedReportingOverflow(by: n).partialValue }
                }
            }
        }
        return out
    }
}

/// The input viewed as runs along its (coalesced) last dimension, each with the output
/// offset it accumulates into: adjacent dimensions that are both reduced or both kept merge.
struct ReductionLayout {
    /// Coalesced input shape and output strides (0 along reduced dimensions).
    let shape: [Int]
    let outStrides: [Int]
    let total: Int

    init(shape inShape: [Int], reduced: [Bool]) {
        var shape = [Int](), flags = [Bool]()
        for d in 0..<inShape.count where inShape[d] != 1 {
            if let f = flags.last, f == reduced[d] {
                shape[shape.count - 1] *= inShape[d]
            } else {
                shape.append(inShape[d])
                flags.append(reduced[d])
            }
        }
        if shape.isEmpty {
            shape = [1]
            flags = [true]
        }
        var strides = [Int](repeating: 0, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where !flags[d] {
            strides[d] = acc
            acc *= shape[d]
        }
        self.shape = shape
        self.outStrides = strides
        self.total = inShape.reduce(1, *)
    }

    /// Calls `body(outOffset, inputOffset, runLength, lastDimReduced)` for every run.
    /// With `threads`, runs go in parallel when each output is fed by exactly one run.
    func forEachRun(threads: ThreadPool? = nil, _ body: (Int, Int, Int, Bool) -> Void) {
        let inner = shape[shape.count - 1]
        guard inner > 0, total > 0 else { return }
        let rows = total / inner
        let reducedInner = outStrides[shape.count - 1] == 0
        func outOffset(_ row: Int) -> Int {
            var r = row, off = 0, d = shape.count - 2
            while d >= 0 {
                off += (r % shape[d]) * outStrides[d]
                r /= shape[d]
                d -= 1
            }
            return off
        }
        // Independent rows: [kept..., reduced] with one kept block, or [kept] alone.
        if let threads, shape.count <= 2, reducedInner || shape.count == 1 {
            threads.parallelFor(rows, grain: max(1, elementwiseGrain / inner)) { range in
                for r in range { body(outOffset(r), r * inner, inner, reducedInner) }
            }
            return
        }
        for r in 0..<rows { body(outOffset(r), r * inner, inner, reducedInner) }
    }
}
