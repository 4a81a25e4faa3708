/// Data movement and shape ops: Reshape, Transpose, Concat, Split, Slice, Squeeze, Unsqueeze,
/// Flatten, Expand, Tile, Pad, Shape, Size, Identity, BitCast...
enum ShapeOps {
    static func register(into r: inout OpRegistry) {
        r.add("Identity", since: [1, 13, 14, 16, 19, 21, 23, 24, 25], inputs: "1", outputs: "1", rule: passThrough)
        r.add("Reshape", since: [1], inputs: "1", outputs: "1", attributes: "shape:is", rule: reshape)
        r.add("Reshape", since: [5, 13], inputs: "11", outputs: "1", rule: reshape)
        r.add("Reshape", since: [14, 19, 21, 23, 24, 25], inputs: "11", outputs: "1", attributes: "allowzero:i", rule: reshape)
        r.add("Transpose", since: [1, 13, 21, 23, 24, 25], inputs: "1", outputs: "1", attributes: "perm:is", rule: transpose)
        r.add("Concat", since: [1], inputs: "v", outputs: "1", attributes: "axis:i", rule: concat)
        r.add("Concat", since: [4, 11, 13], inputs: "v", outputs: "1", attributes: "axis:i!", rule: concat)
        r.add("Split", since: [1], inputs: "1?", outputs: "v", attributes: "axis:i split:is", rule: split)
        r.add("Split", since: [2, 11], inputs: "1", outputs: "v", attributes: "axis:i split:is", rule: split)
        r.add("Split", since: [13], inputs: "1?", outputs: "v", attributes: "axis:i", rule: split)
        r.add("Split", since: [18], inputs: "1?", outputs: "v", attributes: "axis:i num_outputs:i", rule: split)
        r.add("Slice", since: [1], inputs: "1", outputs: "1", attributes: "axes:is ends:is! starts:is!", rule: slice)
        r.add("Slice", since: [10, 11, 13], inputs: "111??", outputs: "1", rule: slice)
        r.add("Squeeze", since: [1, 11], inputs: "1", outputs: "1", attributes: "axes:is", rule: squeeze)
        r.add("Squeeze", since: [13, 21, 23, 24, 25], inputs: "1?", outputs: "1", rule: squeeze)
        r.add("Unsqueeze", since: [1, 11], inputs: "1", outputs: "1", attributes: "axes:is!", rule: unsqueeze)
        r.add("Unsqueeze", since: [13, 21, 23, 24, 25], inputs: "11", outputs: "1", rule: unsqueeze)
        r.add("Flatten", since: [1, 9, 11, 13, 21, 23, 24, 25], inputs: "1", outputs: "1", attributes: "axis:i", rule: flatten)
        r.add("Expand", since: [8, 13], inputs: "11", outputs: "1", rule: expand)
        r.add(
            "Tile", since: [1], inputs: "111", outputs: "1",
            rule: {
                $0.setOutput(
                    0, $0.dtype(0),
                    $0.shape(0).map { s in
                        Shape(repeating: .unknown, count: s.count)
                    })
            })
        r.add("Tile", since: [6, 13], inputs: "11", outputs: "1", rule: tile)
        r.add("Pad", since: [1], inputs: "1", outputs: "1", attributes: "mode:s paddings:is! value:f", rule: pad)
        r.add("Pad", since: [2], inputs: "1", outputs: "1", attributes: "mode:s pads:is! value:f", rule: pad)
        r.add("Pad", since: [11, 13], inputs: "11?", outputs: "1", attributes: "mode:s", rule: pad)
        r.add("Pad", since: [18, 19, 21, 23, 24, 25], inputs: "11??", outputs: "1", attributes: "mode:s", rule: pad)
        r.add("Shape", since: [1, 13], inputs: "1", outputs: "1", rule: shapeOf)
        r.add("Shape", since: [15, 19, 21, 23, 24, 25], inputs: "1", outputs: "1", attributes: "end:i start:i", rule: shapeOf)
        r.add(
            "Size", since: [1, 13, 19, 21, 23, 24, 25], inputs: "1", outputs: "1",
            rule: { ctx in
                ctx.setOutput(0, .int64, [])
                if let s = ctx.shape(0) { ctx.setValues(0, [ShapeMath.productDim(s)]) }
            })
        r.add("BitCast", since: [26], inputs: "1", outputs: "1", attributes: "to:i!", rule: nil)
    }

    static let passThrough: TypeInferenceRule = { ctx in
        ctx.setOutputType(0, ctx.type(0))
        ctx.setValues(0, ctx.values(0))
    }

    static let reshape: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let target: [Dim]
        if ctx.opset < 5 {
            guard let s = ctx.ints("shape") else {
                ctx.setOutput(0, dtype, nil)
                return
            }
            target = s.map { .known($0) }
        } else if let v = ctx.values(1) {
            target = v
        } else {
            // Unknown target values: the rank is the shape tensor's length when that is known.
            let n = ctx.shape(1).flatMap { $0.count == 1 ? $0[0].value : nil }
            ctx.setOutput(0, dtype, n.flatMap { ShapeMath.unknownShape(rank: $0) })
            return
        }
        let x = ctx.shape(0)
        let allowZero = ctx.int("allowzero", default: 0) != 0
        var out: Shape = []
        var inferIndex: Int? = nil
        for (i, t) in target.enumerated() {
            switch t {
            case .known(0) where !allowZero:
                out.append(x.flatMap { i < $0.count ? $0[i] : nil } ?? .unknown)
            case .known(-1):
                guard inferIndex == nil else {
                    ctx.setOutput(0, dtype, nil)
                    return
                }
                inferIndex = i
                out.append(.unknown)
            case .known(let v) where v < 0:
                ctx.setOutput(0, dtype, nil)
                return
            default:
                out.append(t)
            }
        }
        if let k = inferIndex, let x, let total = ShapeMath.product(x) {
            var rest = out
            rest.remove(at: k)
            if let known = ShapeMath.product(rest) { out[k] = ShapeMath.quotient(total, known) }
        }
        ctx.setOutput(0, dtype, out)
        if out.count <= 1 { ctx.setValues(0, ctx.values(0)) }
    }

    static let transpose: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let perm = ctx.ints("perm") ?? Array((0..<x.count).reversed())
        guard perm.count == x.count, Set(perm).count == perm.count, perm.allSatisfy({ $0 >= 0 && $0 < x.count }) else {
            return
        }
        ctx.setOutput(0, dtype, perm.map { x[$0] })
    }

    static let concat: TypeInferenceRule = { ctx in
        let n = ctx.inputCount
        let dtype = ElementwiseOps.firstDType(ctx)
        let shapes = (0..<n).map { ctx.shape($0) }
        guard let first = shapes.first ?? nil else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let rank = first.count
        guard let axis = ShapeMath.axis(ctx.int("axis", default: 1), rank: rank) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        var out = first
        var sum: Dim = .known(0)
        for s in shapes {
            guard let s, s.count == rank else {
                out = Shape(repeating: .unknown, count: rank)
                sum = .unknown
                continue
            }
            for i in 0..<rank where i != axis {
                if case .unknown = out[i], s[i] != .unknown { out[i] = s[i] }
            }
            sum = ShapeMath.add(sum, s[axis])
        }
        if shapes.count == 1 { sum = first[axis] }
        out[axis] = sum
        ctx.setOutput(0, dtype, out)
        if rank == 1 {
            var values: [Dim] = []
            for i in 0..<n {
                guard let v = ctx.values(i) else { return }
                values += v
            }
            ctx.setValues(0, values)
        }
    }

    static let split: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let count = ctx.outputCount
        guard let x = ctx.shape(0), let axis = ShapeMath.axis(ctx.int("axis", default: 0), rank: x.count) else {
            for o in 0..<count { ctx.setOutput(o, dtype, nil) }
            return
        }
        var sizes: [Int]? = ctx.ints("split")
        if sizes == nil, ctx.has(1) { sizes = ctx.ints(1) }
        if sizes == nil, !ctx.has(1), let n = x[axis].value, n >= 0, n < 1 << 40 {
            let parts = ctx.int("num_outputs") ?? count
            if parts > 0, parts == count {
                // Equal parts, the last one smaller when it does not divide (opset 18 rule).
                let chunk = n / parts + (n % parts == 0 ? 0 : 1)
                sizes = (0..<parts).map { i in max(0, min(chunk, n - i * chunk)) }
                if ctx.int("num_outputs") == nil, n % parts != 0 { sizes = nil }
            }
        }
        for o in 0..<count {
            var s = x
            if let sizes, sizes.count == count { s[axis] = .known(sizes[o]) } else { s[axis] = .unknown }
            ctx.setOutput(o, dtype, s)
        }
    }

    /// Length of `start:end:step` over a dimension of size `n` (ONNX clamping rules).
    static func sliceRange(n: Int, start: Int, end: Int, step: Int) -> (start: Int, count: Int) {
        var s = start < 0 ? start &+ n : start
        var e = end < 0 ? end &+ n : end
        if step > 0 {
            s = min(max(s, 0), n)
            e = min(max(e, 0), n)
            return (s, e > s ? (e - s - 1) / step + 1 : 0)
        }
        s = min(max(s, 0), n - 1)
        e = min(max(e, -1), n - 1)
        return (s, s > e ? (s - e - 1) / (-step) + 1 : 0)
    }

    static let slice: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let starts: [Int]?, ends: [Int]?, axesIn: [Int]?, steps: [Int]?
        if ctx.opset < 10 {
            starts = ctx.ints("starts")
            ends = ctx.ints("ends")
            axesIn = ctx.ints("axes")
            steps = nil
        } else {
            starts = ctx.ints(1)
            ends = ctx.ints(2)
            axesIn = ctx.has(3) ? ctx.ints(3) : nil
            steps = ctx.has(4) ? ctx.ints(4) : nil
        }
        guard let starts, let ends, starts.count == ends.count,
            !(ctx.opset >= 10 && ctx.has(3) && axesIn == nil), !(ctx.opset >= 10 && ctx.has(4) && steps == nil)
        else {
            ctx.setOutput(0, dtype, Shape(repeating: .unknown, count: x.count))
            return
        }
        let axes = axesIn ?? Array(0..<starts.count)
        let stepList = steps ?? Array(repeating: 1, count: starts.count)
        guard axes.count == starts.count, stepList.count == starts.count else { return }
        var out = x
        var ranges: [Int: (start: Int, count: Int, step: Int)] = [:]
        for i in 0..<axes.count {
            guard let a = ShapeMath.axis(axes[i], rank: x.count), stepList[i] != 0, stepList[i] != Int.min else { return }
            if let n = x[a].value {
                let r = sliceRange(n: n, start: starts[i], end: ends[i], step: stepList[i])
                out[a] = .known(r.count)
                ranges[a] = (r.start, r.count, stepList[i])
            } else if starts[i] == 0, stepList[i] == 1, ends[i] >= Int(Int32.max) {
                out[a] = x[a]
            } else {
                out[a] = .unknown
            }
        }
        ctx.setOutput(0, dtype, out)
        // The loop is bounded by the known values, not by the (model-chosen) slice length.
        if x.count == 1, let v = ctx.values(0), let r = ranges[0], r.count <= v.count {
            var picked: [Dim] = []
            var i = r.start
            while picked.count < r.count, i >= 0, i < v.count {
                picked.append(v[i])
                let (next, overflow) = i.addingReportingOverflow(r.step)
                if overflow { break }
                i = next
            }
            if picked.count == r.count { ctx.setValues(0, picked) }
        } else if x.count == 1, ranges.isEmpty {
            ctx.setValues(0, ctx.values(0))
        }
    }

    static let squeeze: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        var axes: [Int]? = ctx.opset < 13 ? ctx.ints("axes") : (ctx.has(1) ? ctx.ints(1) : nil)
        if ctx.opset >= 13, ctx.has(1), axes == nil {
            ctx.setOutput(0, dtype, nil)
            return
        }
        if axes == nil {
            // Without axes every size-1 dim goes; an unknown dim makes the rank unknown.
            guard x.allSatisfy({ $0.value != nil }) else {
                ctx.setOutput(0, dtype, nil)
                return
            }
            axes = x.indices.filter { x[$0] == .known(1) }
        }
        var drop = Set<Int>()
        for a in axes ?? [] {
            guard let v = ShapeMath.axis(a, rank: x.count) else { return }
            drop.insert(v)
        }
        ctx.setOutput(0, dtype, x.indices.filter { !drop.contains($0) }.map { x[$0] })
        ctx.setValues(0, ctx.values(0))
    }

    static let unsqueeze: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let axes = ctx.opset < 13 ? ctx.ints("axes") : ctx.ints(1)
        guard let x = ctx.shape(0), let axes else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let rank = x.count + axes.count
        var positions = Set<Int>()
        for a in axes {
            guard let v = ShapeMath.axis(a, rank: rank), !positions.contains(v) else { return }
            positions.insert(v)
        }
        var out: Shape = []
        var it = x.makeIterator()
        for i in 0..<rank { out.append(positions.contains(i) ? .known(1) : (it.next() ?? .unknown)) }
        ctx.setOutput(0, dtype, out)
        if rank <= 1 { ctx.setValues(0, ctx.values(0)) }
    }

    static let flatten: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        var axis = ctx.int("axis", default: 1)
        if axis < 0 { axis += x.count }
        guard axis >= 0, axis <= x.count else { return }
        ctx.setOutput(0, dtype, [ShapeMath.productDim(x[..<axis]), ShapeMath.productDim(x[axis...])])
    }

    static let expand: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        guard let target = ctx.values(1) else {
            if let n = ctx.shape(1)?.first?.value {
                ctx.setOutput(0, dtype, ShapeMath.unknownShape(rank: max(n, x.count)))
            } else {
                ctx.setOutput(0, dtype, nil)
            }
            return
        }
        ctx.setOutput(0, dtype, ShapeMath.broadcast(x, target))
    }

    static let tile: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        guard let reps = ctx.ints(1), reps.count == x.count else {
            ctx.setOutput(0, dtype, Shape(repeating: .unknown, count: x.count))
            return
        }
        ctx.setOutput(0, dtype, zip(x, reps).map { ShapeMath.mul($0, .known($1)) })
    }

    static let pad: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let n = x.count
        let pads: [Int]?
        switch ctx.opset {
        case ..<2: pads = ctx.ints("paddings")
        case ..<11: pads = ctx.ints("pads")
        default: pads = ctx.ints(1)
        }
        var axes = Array(0..<n)
        if ctx.opset >= 18, ctx.has(3) {
            guard let a = ctx.ints(3) else {
                ctx.setOutput(0, dtype, Shape(repeating: .unknown, count: n))
                return
            }
            axes = a
        }
        guard let pads, pads.count == 2 * axes.count else {
            ctx.setOutput(0, dtype, Shape(repeating: .unknown, count: n))
            return
        }
        var out = x
        for (i, a) in axes.enumerated() {
            guard let v = ShapeMath.axis(a, rank: n) else { return }
            out[v] = ShapeMath.add(ShapeMath.add(x[v], .known(pads[i])), .known(pads[i + axes.count]))
            if let s = out[v].value, s < 0 { out[v] = .unknown }
        }
        ctx.setOutput(0, dtype, out)
    }

    static let shapeOf: TypeInferenceRule = { ctx in
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, .int64, [.unknown])
            return
        }
        let n = x.count
        var start = ctx.int("start", default: 0), end = ctx.int("end", default: n)
        if start < 0 { start += n }
        if end < 0 { end += n }
        start = min(max(start, 0), n)
        end = min(max(end, 0), n)
        let dims = end > start ? Array(x[start..<end]) : []
        ctx.setOutput(0, .int64, [.known(dims.count)])
        ctx.setValues(0, dims)
    }
}
