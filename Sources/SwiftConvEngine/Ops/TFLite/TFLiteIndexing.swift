import SwiftConvIR

/// TFLite builtins that select, slice, pad or rearrange elements, through the engine's
/// strided-copy and gather machinery. Like the layout ops they work on any fixed-width dtype
/// and keep quantized bytes as they are.
enum TFLiteIndexingKernels {
    static func register(into r: inout KernelRegistry) {
        r.registerTFLite("GATHER") { ctx in
            let axis = ctx.int("axis", default: 0), batchDims = ctx.int("batch_dims", default: 0)
            return TFLiteKernel { inputs, _ in
                [.tensor(try gather(inputs.tensor(0), indices: inputs.tensor(1), axis: axis, batchDims: batchDims))]
            }
        }
        r.registerTFLite("GATHER_ND") { _ in GatherNDKernel(batchDims: 0) }
        // SCATTER_ND: the updates added into zeros of `shape` (repeated indices sum).
        r.registerTFLite("SCATTER_ND") { _ in
            TFLiteKernel { inputs, context in
                let indices = try inputs.tensor(0), updates = try inputs.tensor(1)
                let dims = try intValues(inputs.tensor(2), "shape")
                guard dims.allSatisfy({ $0 >= 0 }) else { throw kernelError("SCATTER_ND: shape \(dims) has a negative dim") }
                let zeros = try Tensor.zeros(updates.dtype, dims)
                return try ScatterNDKernel(reduction: .add).run([.tensor(zeros), .tensor(indices), .tensor(updates)], context)
            }
        }
        // WHERE with a condition only: the coordinates of its non-zero elements, int64 [n, rank].
        r.registerTFLite("WHERE") { _ in
            TFLiteKernel { inputs, context in
                let columns = try NonZeroKernel().run([inputs[0]], context).outputTensor(0)
                return [.tensor(try transposed(columns, [1, 0]))]
            }
        }
        r.registerTFLite("STRIDED_SLICE") { ctx in
            let spec = StridedSliceSpec(
                beginMask: ctx.int("begin_mask", default: 0), endMask: ctx.int("end_mask", default: 0),
                ellipsisMask: ctx.int("ellipsis_mask", default: 0), newAxisMask: ctx.int("new_axis_mask", default: 0),
                shrinkAxisMask: ctx.int("shrink_axis_mask", default: 0), offset: ctx.int("offset", default: 0) != 0)
            return TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let begin = try intValues(inputs.tensor(1), "begin"), end = try intValues(inputs.tensor(2), "end")
                let strides = try inputs.optionalTensor(3).map { try intValues($0, "strides") } ?? Array(repeating: 1, count: begin.count)
                return [.tensor(try spec.apply(x, begin: begin, end: end, strides: strides))]
            }
        }
        // SLICE: begin and size per dimension; a size of -1 takes the rest.
        r.registerTFLite("SLICE") { _ in
            TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let begin = try intValues(inputs.tensor(1), "begin"), size = try intValues(inputs.tensor(2), "size")
                guard begin.count == x.rank, size.count == x.rank else {
                    throw kernelError("SLICE: begin \(begin) and size \(size) must have one entry per dimension of \(x.shape)")
                }
                var counts = [Int]()
                for d in 0..<x.rank {
                    let n = size[d] == -1 ? x.shape[d] - begin[d] : size[d]
                    guard begin[d] >= 0, n >= 0, begin[d] <= x.shape[d], n <= x.shape[d] - begin[d] else {
                        throw kernelError("SLICE: begin \(begin) size \(size) is outside \(x.shape)")
                    }
                    counts.append(n)
                }
                let s = contiguousStrides(x.shape)
                let offset = (0..<x.rank).reduce(0) { $0 + begin[$1] * s[$1] }
                return [.tensor(try stridedGather(x, offset: offset, strides: s, shape: counts))]
            }
        }
        // PAD fills with zero, which for a quantized output is its zero point; PADV2 with input 2.
        for name in ["PAD", "PADV2"] {
            r.registerTFLite(name) { ctx in
                let zeroPoint = ctx.outputTypes.first??.quantization?.zeroPoint.first ?? ctx.inputQuantization(0)?.zeroPoint.first
                return TFLiteKernel { inputs, _ in
                    let x = try inputs.tensor(0)
                    var value = inputs.optionalTensor(2)
                    if let v = value {
                        guard v.dtype == x.dtype, v.elementCount == 1 else {
                            throw kernelError("\(name): constant_values must be one \(x.dtype) value")
                        }
                    } else if let zeroPoint, zeroPoint != 0 {
                        value = try scalarTensor(x.dtype, Double(zeroPoint))
                    }
                    let pads = try paddings(inputs.tensor(1), rank: x.rank, name)
                    return [.tensor(try constantPad(x, pads, value: value))]
                }
            }
        }
        r.registerTFLite("MIRROR_PAD") { ctx in
            let mode = ctx.string("mode", default: "REFLECT")
            guard mode == "REFLECT" || mode == "SYMMETRIC" else {
                throw ctx.invalid("MIRROR_PAD mode must be REFLECT or SYMMETRIC, got '\(mode)'")
            }
            let symmetric = mode == "SYMMETRIC"
            return TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let pads = try paddings(inputs.tensor(1), rank: x.rank, "MIRROR_PAD")
                return [.tensor(try mirrorPad(x, pads, symmetric: symmetric))]
            }
        }
        r.registerTFLite("DYNAMIC_UPDATE_SLICE") { _ in
            TFLiteKernel { inputs, _ in
                [.tensor(try dynamicUpdateSlice(inputs.tensor(0), update: inputs.tensor(1), start: inputs.tensor(2)))]
            }
        }
        r.registerTFLite("REVERSE_V2") { _ in
            TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let axes = try Set(intValues(inputs.tensor(1), "axis").map { try normalizeAxis(Int64($0), rank: x.rank) })
                let s = contiguousStrides(x.shape)
                let maps = (0..<x.rank).map { d in
                    (0..<x.shape[d]).map { i in (axes.contains(d) ? x.shape[d] - 1 - i : i) * s[d] }
                }
                return [.tensor(try indexMapGather(x, shape: x.shape) { maps })]
            }
        }
        r.registerTFLite("CUMSUM") { ctx in
            let k = CumSumKernel(exclusive: ctx.int("exclusive", default: 0) != 0, reverse: ctx.int("reverse", default: 0) != 0)
            return TFLiteKernel { inputs, context in try k.run(inputs, context) }
        }
        // TOPK_V2: the k largest along the last axis, sorted; indices are int32.
        r.registerTFLite("TOPK_V2") { ctx in
            let wideIndices = ctx.outputTypes.count > 1 && ctx.outputTypes[1]?.tensorElementType == .int64
            return TFLiteKernel { inputs, context in
                let x = try inputs.tensor(0)
                let k = try intValues(inputs.tensor(1), "k")
                guard k.count == 1, k[0] >= 0, x.rank >= 1, k[0] <= x.shape[x.rank - 1] else {
                    throw kernelError("TOPK_V2: k \(k) does not fit the last axis of \(x.shape)")
                }
                let out = try TopKKernel(axis: -1, attrK: k[0], largest: true, sorted: true).run([.tensor(x)], context)
                let indices = try out.outputTensor(1)
                return [out[0], .tensor(wideIndices ? indices : try castTensor(indices, to: .int32, threads: context.threads))]
            }
        }
        // ONE_HOT: indices outside [0, depth) give a row of off_value (ONNX would wrap negatives).
        r.registerTFLite("ONE_HOT") { ctx in
            let k = OneHotKernel(axis: Int(ctx.int("axis", default: -1)))
            return TFLiteKernel { inputs, context in
                let indices = try inputs.tensor(0), depth = try inputs.tensor(1)
                let on = try inputs.tensor(2), off = try inputs.tensor(3)
                guard on.dtype == off.dtype, on.elementCount == 1, off.elementCount == 1 else {
                    throw kernelError("ONE_HOT: on_value and off_value must be scalars of one type")
                }
                guard let d = depth.scalarInt(), let values = indices.int64Values() else {
                    throw kernelError("ONE_HOT: depth and indices must be integers")
                }
                let clean = Tensor.from(values.map { $0 < 0 ? d : $0 }, shape: indices.shape)
                let pair = try concatenate([off.reshaped([1]), on.reshaped([1])], axis: 0)
                return try k.run([.tensor(clean), .tensor(depth), .tensor(pair)], context)
            }
        }
        for (name, toDepth) in [("SPACE_TO_DEPTH", true), ("DEPTH_TO_SPACE", false)] {
            r.registerTFLite(name) { ctx in
                let block = Int(ctx.int("block_size", default: 0))
                guard block > 0 else { throw ctx.invalid("\(name): block_size must be positive") }
                return TFLiteKernel { inputs, _ in
                    [.tensor(try blockRearrange(inputs.tensor(0), block: block, toDepth: toDepth))]
                }
            }
        }
    }

    // MARK: - GATHER

    /// TFLite GATHER: `params[batch..., axis-index, ...]` for every index, the first
    /// `batchDims` dimensions shared by params and indices. Indices outside [0, dim) are an error.
    static func gather(_ params: Tensor, indices: Tensor, axis: Int64, batchDims: Int64) throws -> Tensor {
        guard indices.dtype == .int32 || indices.dtype == .int64 || indices.dtype == .int16, let idx = indices.int64Values() else {
            throw kernelError("GATHER: indices must be integers, got \(indices.dtype)")
        }
        let a = try normalizeAxis(axis, rank: params.rank)
        let b = batchDims < 0 ? Int(batchDims) + indices.rank : Int(batchDims)
        guard b >= 0, b <= a, b <= indices.rank else {
            throw kernelError("GATHER: batch_dims \(batchDims) does not fit axis \(a) and indices of rank \(indices.rank)")
        }
        guard Array(params.shape[..<b]) == Array(indices.shape[..<b]) else {
            throw kernelError("GATHER: batch dimensions of params \(params.shape) and indices \(indices.shape) differ")
        }
        let batch = params.shape[..<b].reduce(1, *)
        let outer = params.shape[b..<a].reduce(1, *)
        let dim = params.shape[a]
        let inner = params.shape[(a + 1)...].reduce(1, *)
        let perBatch = indices.shape[b...].reduce(1, *)
        for i in idx where i < 0 || i >= Int64(dim) {
            throw kernelError("GATHER: index \(i) is out of range for axis of size \(dim)")
        }
        let shape = Array(params.shape[..<a]) + Array(indices.shape[b...]) + Array(params.shape[(a + 1)...])
        // Rows of `inner` elements: for each (batch, outer, index) one source row.
        let rows = try Checked.multiply(try Checked.multiply(batch, outer, "GATHER output"), perBatch, "GATHER output")
        let out = try Tensor.allocate(params.dtype, shape)
        guard rows > 0, inner > 0 else { return out }
        var sourceRows = [Int]()
        sourceRows.reserveCapacity(rows)
        for bt in 0..<batch {
            for o in 0..<outer {
                for j in 0..<perBatch {
                    sourceRows.append((bt * outer + o) * dim + Int(idx[bt * perBatch + j]))
                }
            }
        }
        let byRows = try indexMapGather(params.reshaped([batch * outer * dim, inner]), shape: [rows, inner]) {
            [sourceRows.map { $0 * inner }, Array(0..<inner)]
        }
        return byRows.reshaped(shape)
    }

    // MARK: - PAD, MIRROR_PAD

    /// The [rank, 2] paddings tensor as (before, after) pairs, each non-negative.
    static func paddings(_ t: Tensor, rank: Int, _ name: String) throws -> [(Int, Int)] {
        let v = try intValues(t, "paddings")
        guard v.count == 2 * rank, t.rank == 2 || rank == 0 else {
            throw kernelError("\(name): paddings \(t.shape) must be [\(rank), 2]")
        }
        guard v.allSatisfy({ $0 >= 0 }) else { throw kernelError("\(name): paddings \(v) must not be negative") }
        return (0..<rank).map { (v[2 * $0], v[2 * $0 + 1]) }
    }

    /// `x` surrounded by `pads`, the new elements set to `value`'s (zero bytes when nil).
    static func constantPad(_ x: Tensor, _ pads: [(Int, Int)], value: Tensor?) throws -> Tensor {
        let shape = try (0..<x.rank).map { d in
            try Checked.add(x.shape[d], try Checked.add(pads[d].0, pads[d].1, "padded shape"), "padded shape")
        }
        let out = try Tensor.allocate(x.dtype, shape)
        try fillElements(out, with: value)
        let os = contiguousStrides(shape)
        let offset = (0..<x.rank).reduce(0) { $0 + pads[$1].0 * os[$1] }
        try stridedCopy(from: x, offset: 0, strides: contiguousStrides(x.shape), into: out, offset: offset, strides: os, shape: x.shape)
        return out
    }

    /// MIRROR_PAD: REFLECT mirrors around the edge element (pads up to dim - 1), SYMMETRIC
    /// repeats it (pads up to dim).
    static func mirrorPad(_ x: Tensor, _ pads: [(Int, Int)], symmetric: Bool) throws -> Tensor {
        let limit = symmetric ? 0 : 1
        for d in 0..<x.rank where max(pads[d].0, pads[d].1) > x.shape[d] - limit {
            throw kernelError("MIRROR_PAD: padding \(pads[d]) is too wide for dimension \(d) of size \(x.shape[d])")
        }
        let shape = (0..<x.rank).map { x.shape[$0] + pads[$0].0 + pads[$0].1 }
        let s = contiguousStrides(x.shape)
        return try indexMapGather(x, shape: shape) {
            (0..<x.rank).map { d in
                let n = x.shape[d]
                return (0..<shape[d]).map { o in
                    let i = o - pads[d].0
                    let src = i < 0 ? (symmetric ? -i - 1 : -i) : (i >= n ? (symmetric ? 2 * n - 1 - i : 2 * n - 2 - i) : i)
                    return src * s[d]
                }
            }
        }
    }

    // MARK: - SPACE_TO_DEPTH, DEPTH_TO_SPACE

    /// NHWC block moves: SPACE_TO_DEPTH puts each block x block patch into the channels
    /// (row, column, channel order); DEPTH_TO_SPACE undoes it.
    static func blockRearrange(_ x: Tensor, block b: Int, toDepth: Bool) throws -> Tensor {
        guard x.rank == 4 else { throw kernelError("expected an NHWC tensor, got \(x.shape)") }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let area = try Checked.multiply(b, b, "block_size squared")
        if toDepth {
            guard h % b == 0, w % b == 0 else { throw kernelError("SPACE_TO_DEPTH: \(h)x\(w) is not a multiple of block \(b)") }
            let depth = try Checked.multiply(area, c, "SPACE_TO_DEPTH channels")
            let moved = try transposed(x.reshaped([n, h / b, b, w / b, b, c]), [0, 1, 3, 2, 4, 5])
            return moved.reshaped([n, h / b, w / b, depth])
        }
        guard c % area == 0 else { throw kernelError("DEPTH_TO_SPACE: \(c) channels do not divide by block \(b) squared") }
        let (height, width) = (try Checked.multiply(h, b, "DEPTH_TO_SPACE height"), try Checked.multiply(w, b, "DEPTH_TO_SPACE width"))
        let moved = try transposed(x.reshaped([n, h, w, b, b, c / area]), [0, 1, 3, 2, 4, 5])
        return moved.reshaped([n, height, width, c / area])
    }
}

/// STRIDED_SLICE's options, applied the way TFLite (and TensorFlow) read them: an ellipsis
/// covers the dimensions the other entries leave, a new axis adds a dimension of 1, a shrunk
/// axis takes one element and drops the dimension, and without an ellipsis the unnamed
/// trailing dimensions are kept whole. `offset` makes `end` relative to `begin`.
struct StridedSliceSpec: Sendable {
    let beginMask: Int64, endMask: Int64, ellipsisMask: Int64, newAxisMask: Int64, shrinkAxisMask: Int64
    let offset: Bool

    func apply(_ x: Tensor, begin: [Int], end: [Int], strides: [Int]) throws -> Tensor {
        let n = begin.count
        guard end.count == n, strides.count == n, n <= 64 else {
            throw kernelError("STRIDED_SLICE: begin, end and strides must have one length (\(begin.count), \(end.count), \(strides.count))")
        }
        func bit(_ mask: Int64, _ i: Int) -> Bool { mask & (1 << Int64(i)) != 0 }
        let s = contiguousStrides(x.shape)
        var srcOffset = 0
        var gatherShape = [Int](), gatherStrides = [Int](), outShape = [Int]()
        var d = 0
        var sawEllipsis = false

        func keepWhole(_ dim: Int) {
            gatherShape.append(x.shape[dim])
            gatherStrides.append(s[dim])
            outShape.append(x.shape[dim])
        }

        for i in 0..<n {
            if bit(ellipsisMask, i) && !sawEllipsis {
                sawEllipsis = true
                let namedAfter = (i + 1..<n).filter { !bit(newAxisMask, $0) && !bit(ellipsisMask, $0) }.count
                let stop = x.rank - namedAfter
                while d < stop {
                    keepWhole(d)
                    d += 1
                }
                continue
            }
            if bit(newAxisMask, i) {
                outShape.append(1)
                continue
            }
            guard d < x.rank else { throw kernelError("STRIDED_SLICE: more entries than the \(x.rank) dimensions of \(x.shape)") }
            let size = x.shape[d], stride = strides[i]
            guard stride != 0, stride != Int.min else { throw kernelError("STRIDED_SLICE: stride \(stride) on dimension \(d)") }
            let (lo, hi) = stride > 0 ? (0, size) : (-1, size - 1)
            var start = begin[i]
            if bit(beginMask, i) {
                start = stride > 0 ? lo : hi
            } else {
                if start < 0 { start += size }
                start = min(max(start, lo), hi)
            }
            if bit(shrinkAxisMask, i) {
                guard start >= 0, start < size else {
                    throw kernelError("STRIDED_SLICE: index \(begin[i]) is out of range for dimension \(d) of size \(size)")
                }
                srcOffset += start * s[d]
                d += 1
                continue
            }
            var stop: Int
            if bit(endMask, i) {
                stop = stride > 0 ? hi : lo
            } else {
                if offset {
                    let (sum, overflow) = start.addingReportingOverflow(end[i])
                    stop = overflow ? (end[i] > 0 ? hi : lo) : sum
                } else {
                    stop = end[i] < 0 ? end[i] + size : end[i]
                }
                stop = min(max(stop, lo), hi)
            }
            // start and stop lie in [-1, size], so these differences cannot overflow.
            let count =
                stride > 0 ? (stop > start ? (stop - start - 1) / stride + 1 : 0) : (start > stop ? (start - stop - 1) / -stride + 1 : 0)
            if count > 0 { srcOffset += start * s[d] }
            gatherShape.append(count)
            // With two or more elements |stride| < size, so the product stays within the tensor.
            gatherStrides.append(count > 1 ? stride * s[d] : 0)
            outShape.append(count)
            d += 1
        }
        while d < x.rank {
            keepWhole(d)
            d += 1
        }
        let out = try stridedGather(x, offset: gatherShape.contains(0) ? 0 : srcOffset, strides: gatherStrides, shape: gatherShape)
        return out.reshaped(outShape)
    }
}

/// DYNAMIC_UPDATE_SLICE (XLA's semantics, as LiteRT's kernel): a copy of `operand` with
/// `update` written from `start`, each start index clamped to [0, operand dim - update dim]
/// so the update always lies inside; the update must have the operand's rank and dtype and
/// no larger dims.
func dynamicUpdateSlice(_ operand: Tensor, update: Tensor, start: Tensor) throws -> Tensor {
    guard update.dtype == operand.dtype, update.rank == operand.rank else {
        throw kernelError(
            "DYNAMIC_UPDATE_SLICE: the update (\(update.dtype) \(update.shape)) must have the operand's type and rank (\(operand.dtype) \(operand.shape))"
        )
    }
    guard zip(update.shape, operand.shape).allSatisfy({ $0 <= $1 }) else {
        throw kernelError("DYNAMIC_UPDATE_SLICE: the update \(update.shape) is larger than the operand \(operand.shape)")
    }
    guard start.rank == 1, start.dtype == .int32 || start.dtype == .int64 else {
        throw kernelError("DYNAMIC_UPDATE_SLICE: start_indices must be a vector of int32 or int64, got \(start.dtype) \(start.shape)")
    }
    let begin = try intValues(start, "start_indices")
    guard begin.count == operand.rank else {
        throw kernelError("DYNAMIC_UPDATE_SLICE: \(begin.count) start indices for an operand of rank \(operand.rank)")
    }
    return try onStringIndices([operand, update]) { ts in
        let (operand, update) = (ts[0], ts[1])
        let strides = contiguousStrides(operand.shape)
        let out = try stridedGather(operand, offset: 0, strides: strides, shape: operand.shape)
        var offset = 0
        for d in 0..<operand.rank {
            let clamped = min(max(0, begin[d]), operand.shape[d] - update.shape[d])
            offset += clamped * strides[d]
        }
        try stridedCopy(
            from: update, offset: 0, strides: contiguousStrides(update.shape), into: out, offset: offset, strides: strides,
            shape: update.shape)
        return [out]
    }[0]
}
