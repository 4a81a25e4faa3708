/// Data movement and shape ops: Reshape, Transpose, Concat, Split, Slice, Gather*, Squeeze,
/// Unsqueeze, Flatten, Expand, Tile, Pad, Resize, Shape, Size, TopK, Identity, Dropout...
enum ShapeOps {
    static func register(into r: inout OpRegistry) {
        r.add("Identity", since: [1, 13, 14, 16, 19, 21, 23, 24, 25], inputs: "1", outputs: "1", rule: passThrough)
        r.add("Dropout", since: [1, 6], inputs: "1", outputs: "1?", attributes: "is_test:i ratio:f", rule: dropout)
        r.add("Dropout", since: [7, 10], inputs: "1", outputs: "1?", attributes: "ratio:f", rule: dropout)
        r.add("Dropout", since: [12, 13, 22], inputs: "1??", outputs: "1?", attributes: "seed:i", rule: dropout)
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
        r.add("Gather", since: [1, 11, 13], inputs: "11", outputs: "1", attributes: "axis:i", rule: gather)
        r.add("GatherElements", since: [11, 13], inputs: "11", outputs: "1", attributes: "axis:i",
              rule: { $0.setOutput(0, $0.dtype(0), $0.shape(1)) })
        r.add("GatherND", since: [11], inputs: "11", outputs: "1", rule: gatherND)
        r.add("GatherND", since: [12, 13], inputs: "11", outputs: "1", attributes: "batch_dims:i", rule: gatherND)
        r.add("Scatter", since: [9, 11], inputs: "111", outputs: "1", attributes: "axis:i", rule: ElementwiseOps.unary)
        r.add("ScatterElements", since: [11, 13, 16, 18], inputs: "111", outputs: "1", attributes: "axis:i reduction:s",
              rule: ElementwiseOps.unary)
        r.add("ScatterND", since: [11, 13, 16, 18], inputs: "111", outputs: "1", attributes: "reduction:s",
              rule: ElementwiseOps.unary)
        r.add("Squeeze", since: [1, 11], inputs: "1", outputs: "1", attributes: "axes:is", rule: squeeze)
        r.add("Squeeze", since: [13, 21, 23, 24, 25], inputs: "1?", outputs: "1", rule: squeeze)
        r.add("Unsqueeze", since: [1, 11], inputs: "1", outputs: "1", attributes: "axes:is!", rule: unsqueeze)
        r.add("Unsqueeze", since: [13, 21, 23, 24, 25], inputs: "11", outputs: "1", rule: unsqueeze)
        r.add("Flatten", since: [1, 9, 11, 13, 21, 23, 24, 25], inputs: "1", outputs: "1", attributes: "axis:i", rule: flatten)
        r.add("Expand", since: [8, 13], inputs: "11", outputs: "1", rule: expand)
        r.add("Tile", since: [1], inputs: "111", outputs: "1", rule: { $0.setOutput(0, $0.dtype(0), $0.shape(0).map { s in
            Shape(repeating: .unknown, count: s.count) }) })
        r.add("Tile", since: [6, 13], inputs: "11", outputs: "1", rule: tile)
        r.add("Pad", since: [1], inputs: "1", outputs: "1", attributes: "mode:s paddings:is! value:f", rule: pad)
        r.add("Pad", since: [2], inputs: "1", outputs: "1", attributes: "mode:s pads:is! value:f", rule: pad)
        r.add("Pad", since: [11, 13], inputs: "11?", outputs: "1", attributes: "mode:s", rule: pad)
        r.add("Pad", since: [18, 19, 21, 23, 24, 25], inputs: "11??", outputs: "1", attributes: "mode:s", rule: pad)
        r.add("Shape", since: [1, 13], inputs: "1", outputs: "1", rule: shapeOf)
        r.add("Shape", since: [15, 19, 21, 23, 24, 25], inputs: "1", outputs: "1", attributes: "end:i start:i", rule: shapeOf)
        r.add("Size", since: [1, 13, 19, 21, 23, 24, 25], inputs: "1", outputs: "1", rule: { ctx in
            ctx.setOutput(0, .int64, [])
            if let s = ctx.shape(0) { ctx.setValues(0, [ShapeMath.productDim(s)]) }
        })
        r.add("DepthToSpace", since: [1, 11, 13, 28], inputs: "1", outputs: "1", attributes: "blocksize:i! mode:s",
              rule: { spaceDepth(&$0, toSpace: true) })
        r.add("SpaceToDepth", since: [1, 13], inputs: "1", outputs: "1", attributes: "blocksize:i!",
              rule: { spaceDepth(&$0, toSpace: false) })
        r.add("SpaceToDepth", since: [28], inputs: "1", outputs: "1", attributes: "blocksize:i! mode:s",
              rule: { spaceDepth(&$0, toSpace: false) })
        r.add("Upsample", since: [1], inputs: "1", outputs: "1", attributes: "height_scale:f! mode:s width_scale:f!", rule: resize)
        r.add("Upsample", since: [7], inputs: "1", outputs: "1", attributes: "mode:s scales:fs!", rule: resize)
        r.add("Upsample", since: [9, 10], inputs: "11", outputs: "1", attributes: "mode:s", rule: resize)
        r.add("Resize", since: [10], inputs: "11", outputs: "1", attributes: "mode:s", rule: resize)
        r.add("Resize", since: [11, 13], inputs: "1???", outputs: "1",
              attributes: "coordinate_transformation_mode:s cubic_coeff_a:f exclude_outside:i extrapolation_value:f mode:s nearest_mode:s",
              rule: resize)
        r.add("Resize", since: [18, 19], inputs: "1???", outputs: "1",
              attributes: "antialias:i axes:is coordinate_transformation_mode:s cubic_coeff_a:f exclude_outside:i extrapolation_value:f keep_aspect_ratio_policy:s mode:s nearest_mode:s",
              rule: resize)
        r.add("TopK", since: [1], inputs: "1", outputs: "11", attributes: "axis:i k:i!", rule: topK)
        r.add("TopK", since: [10, 11, 24], inputs: "11", outputs: "11", attributes: "axis:i largest:i sorted:i", rule: topK)
        r.add("NonZero", since: [9, 13], inputs: "1", outputs: "1", rule: { ctx in
            ctx.setOutput(0, .int64, ctx.rank(0).map { [.known($0), .unknown] })
        })
        r.add("Compress", since: [9, 11, 28], inputs: "11", outputs: "1", attributes: "axis:i", rule: { ctx in
            guard let x = ctx.shape(0), let a = ctx.int("axis") else { ctx.setOutput(0, ctx.dtype(0), [.unknown]); return }
            guard let axis = ShapeMath.axis(a, rank: x.count) else { return }
            var out = x
            out[axis] = .unknown
            ctx.setOutput(0, ctx.dtype(0), out)
        })
        r.add("Unique", since: [11, 28], inputs: "1", outputs: "1???", attributes: "axis:i sorted:i", rule: { ctx in
            if let a = ctx.int("axis"), let x = ctx.shape(0), let axis = ShapeMath.axis(a, rank: x.count) {
                var out = x
                out[axis] = .unknown
                ctx.setOutput(0, ctx.dtype(0), out)
            } else {
                ctx.setOutput(0, ctx.dtype(0), [.unknown])
            }
            for o in 1..<4 { ctx.setOutput(o, .int64, [.unknown]) }
        })
        r.add("Trilu", since: [14], inputs: "1?", outputs: "1", attributes: "upper:i", rule: ElementwiseOps.unary)
        r.add("ReverseSequence", since: [10, 28], inputs: "11", outputs: "1", attributes: "batch_axis:i time_axis:i",
              rule: ElementwiseOps.unary)
        r.add("OneHot", since: [9, 11, 28], inputs: "111", outputs: "1", attributes: "axis:i", rule: { ctx in
            let dtype = ctx.dtype(2)
            guard let idx = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
            let depth: Dim = ctx.doubles(1)?.first.map { ShapeMath.dim($0) } ?? .unknown
            guard let axis = ShapeMath.axis(ctx.int("axis", default: -1), rank: idx.count + 1) else { return }
            var out = idx
            out.insert(depth, at: axis)
            ctx.setOutput(0, dtype, out)
        })
        r.add("NonMaxSuppression", since: [10, 11], inputs: "11???", outputs: "1", attributes: "center_point_box:i",
              rule: { $0.setOutput(0, .int64, [.unknown, .known(3)]) })
        r.add("AffineGrid", since: [20], inputs: "11", outputs: "1", attributes: "align_corners:i", rule: { ctx in
            guard let size = ctx.values(1), size.count >= 3 else { ctx.setOutput(0, ctx.dtype(0), nil); return }
            ctx.setOutput(0, ctx.dtype(0), [size[0]] + Array(size.dropFirst(2)) + [.known(size.count - 2)])
        })
        r.add("CenterCropPad", since: [18], inputs: "11", outputs: "1", attributes: "axes:is", rule: { ctx in
            guard let x = ctx.shape(0), let sizes = ctx.values(1) else {
                ctx.setOutput(0, ctx.dtype(0), ctx.shape(0).map { Shape(repeating: .unknown, count: $0.count) })
                return
            }
            let axes = ctx.ints("axes") ?? Array(0..<x.count)
            var out = x
            for (i, a) in axes.enumerated() where i < sizes.count {
                guard let v = ShapeMath.axis(a, rank: x.count) else { return }
                out[v] = sizes[i]
            }
            ctx.setOutput(0, ctx.dtype(0), out)
        })
        r.add("Col2Im", since: [18], inputs: "111", outputs: "1", attributes: "dilations:is pads:is strides:is", rule: { ctx in
            guard let x = ctx.shape(0), x.count == 3, let image = ctx.values(1), let block = ctx.ints(2),
                  let k = ShapeMath.product(block.map { Dim.known($0) }), k.known > 0
            else { ctx.setOutput(0, ctx.dtype(0), nil); return }
            let c: Dim = x[1].value.map { .known($0 / k.known) } ?? .unknown
            ctx.setOutput(0, ctx.dtype(0), [x[0], c] + image)
        })
        r.add("BitCast", since: [26], inputs: "1", outputs: "1", attributes: "to:i!", rule: nil)
        r.add("TensorScatter", since: [24], inputs: "11?", outputs: "1", attributes: "axis:i mode:s",
              rule: ElementwiseOps.unary)
        r.add("ImageDecoder", since: [20], inputs: "1", outputs: "1", attributes: "pixel_format:s",
              rule: { $0.setOutput(0, .uint8, [.unknown, .unknown, .unknown]) })
        r.add("GridSample", since: [16, 20, 22], inputs: "11", outputs: "1", attributes: "align_corners:i mode:s padding_mode:s",
              rule: { ctx in
            guard let x = ctx.shape(0), let g = ctx.shape(1), x.count >= 2, g.count == x.count else {
                ctx.setOutput(0, ctx.dtype(0), nil)
                return
            }
            ctx.setOutput(0, ctx.dtype(0), [x[0], x[1]] + Array(g.dropFirst().dropLast()))
        })
    }

    static let passThrough: TypeInferenceRule = { ctx in
        ctx.setOutputType(0, ctx.type(0))
        ctx.setValues(0, ctx.values(0))
    }

    static let dropout: TypeInferenceRule = { ctx in
        ctx.propagate(from: 0)
        if ctx.hasOutput(1) { ctx.setOutput(1, ctx.opset >= 10 ? .bool : ctx.dtype(0), ctx.shape(0)) }
    }

    static let reshape: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let target: [Dim]
        if ctx.opset < 5 {
            guard let s = ctx.ints("shape") else { ctx.setOutput(0, dtype, nil); return }
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
                guard inferIndex == nil else { ctx.setOutput(0, dtype, nil); return }
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
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
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
        guard let first = shapes.first ?? nil else { ctx.setOutput(0, dtype, nil); return }
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
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
        let starts: [Int]?, ends: [Int]?, axesIn: [Int]?, steps: [Int]?
        if ctx.opset < 10 {
            starts = ctx.ints("starts"); ends = ctx.ints("ends"); axesIn = ctx.ints("axes"); steps = nil
        } else {
            starts = ctx.ints(1); ends = ctx.ints(2)
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

    static let gather: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), let idx = ctx.shape(1),
              let axis = ShapeMath.axis(ctx.int("axis", default: 0), rank: x.count)
        else { ctx.setOutput(0, dtype, nil); return }
        ctx.setOutput(0, dtype, Array(x[..<axis]) + idx + Array(x[(axis + 1)...]))
        if x.count == 1, idx.count <= 1, let v = ctx.values(0), let i = ctx.ints(1) {
            var out: [Dim] = []
            for k in i {
                let j = k < 0 ? k + v.count : k
                guard j >= 0, j < v.count else { return }
                out.append(v[j])
            }
            ctx.setValues(0, out)
        }
    }

    static let gatherND: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let b = ctx.int("batch_dims", default: 0)
        guard let x = ctx.shape(0), let idx = ctx.shape(1), let last = idx.last?.value, b >= 0, last >= 0,
              b < 1 << 20, last < 1 << 20, b + last <= x.count
        else { ctx.setOutput(0, dtype, nil); return }
        ctx.setOutput(0, dtype, Array(idx.dropLast()) + Array(x[(b + last)...]))
    }

    static let squeeze: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
        var axes: [Int]? = ctx.opset < 13 ? ctx.ints("axes") : (ctx.has(1) ? ctx.ints(1) : nil)
        if ctx.opset >= 13, ctx.has(1), axes == nil { ctx.setOutput(0, dtype, nil); return }
        if axes == nil {
            // Without axes every size-1 dim goes; an unknown dim makes the rank unknown.
            guard x.allSatisfy({ $0.value != nil }) else { ctx.setOutput(0, dtype, nil); return }
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
        guard let x = ctx.shape(0), let axes else { ctx.setOutput(0, dtype, nil); return }
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
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
        var axis = ctx.int("axis", default: 1)
        if axis < 0 { axis += x.count }
        guard axis >= 0, axis <= x.count else { return }
        ctx.setOutput(0, dtype, [ShapeMath.productDim(x[..<axis]), ShapeMath.productDim(x[axis...])])
    }

    static let expand: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
        guard let target = ctx.values(1) else {
            if let n = ctx.shape(1)?.first?.value { ctx.setOutput(0, dtype, ShapeMath.unknownShape(rank: max(n, x.count))) }
            else { ctx.setOutput(0, dtype, nil) }
            return
        }
        ctx.setOutput(0, dtype, ShapeMath.broadcast(x, target))
    }

    static let tile: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
        guard let reps = ctx.ints(1), reps.count == x.count else {
            ctx.setOutput(0, dtype, Shape(repeating: .unknown, count: x.count))
            return
        }
        ctx.setOutput(0, dtype, zip(x, reps).map { ShapeMath.mul($0, .known($1)) })
    }

    static let pad: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
        let n = x.count
        let pads: [Int]?
        switch ctx.opset {
        case ..<2: pads = ctx.ints("paddings")
        case ..<11: pads = ctx.ints("pads")
        default: pads = ctx.ints(1)
        }
        var axes = Array(0..<n)
        if ctx.opset >= 18, ctx.has(3) {
            guard let a = ctx.ints(3) else { ctx.setOutput(0, dtype, Shape(repeating: .unknown, count: n)); return }
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
        guard let x = ctx.shape(0) else { ctx.setOutput(0, .int64, [.unknown]); return }
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

    static func spaceDepth(_ ctx: inout InferenceContext, toSpace: Bool) {
        let dtype = ctx.dtype(0)
        let b = ctx.int("blocksize", default: 0)
        guard let x = ctx.shape(0), x.count == 4, b > 0, b < 1 << 16 else { ctx.setOutput(0, dtype, nil); return }
        func div(_ d: Dim, _ k: Int) -> Dim { d.value.map { .known($0 / k) } ?? .unknown }
        if toSpace {
            ctx.setOutput(0, dtype, [x[0], div(x[1], b * b), ShapeMath.mul(x[2], .known(b)), ShapeMath.mul(x[3], .known(b))])
        } else {
            ctx.setOutput(0, dtype, [x[0], ShapeMath.mul(x[1], .known(b * b)), div(x[2], b), div(x[3], b)])
        }
    }

    static let resize: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else { ctx.setOutput(0, dtype, nil); return }
        let n = x.count
        var scales: [Double]? = nil
        var sizes: [Int]? = nil
        if ctx.node.opType == "Upsample", ctx.opset < 7 {
            if let h = ctx.float("height_scale"), let w = ctx.float("width_scale") { scales = [1, 1, Double(h), Double(w)] }
        } else if ctx.node.opType == "Upsample", ctx.opset < 9 {
            scales = ctx.floats("scales")?.map(Double.init)
        } else if ctx.opset < 11 {
            scales = ctx.doubles(1)
        } else {
            if ctx.has(3) { sizes = ctx.ints(3) }
            if ctx.has(2), let s = ctx.doubles(2), !s.isEmpty { scales = s }
            // An empty constant for scales means "use sizes".
            if sizes?.isEmpty == true { sizes = nil }
        }
        let axes = ctx.ints("axes")?.compactMap { ShapeMath.axis($0, rank: n) } ?? Array(0..<n)
        var out = x
        if let sizes, sizes.count == axes.count {
            let policy = ctx.string("keep_aspect_ratio_policy", default: "stretch")
            if policy == "stretch" {
                for (i, a) in axes.enumerated() { out[a] = .known(sizes[i]) }
            } else {
                let ratios = axes.enumerated().compactMap { (i, a) in x[a].value.map { Double(sizes[i]) / Double($0) } }
                guard ratios.count == axes.count,
                      let r = policy == "not_larger" ? ratios.min() : ratios.max()
                else {
                    ctx.setOutput(0, dtype, Shape(repeating: .unknown, count: n))
                    return
                }
                for a in axes { out[a] = x[a].value.map { ShapeMath.dim((Double($0) * r).rounded()) } ?? .unknown }
            }
        } else if let scales, scales.count == axes.count {
            for (i, a) in axes.enumerated() {
                if scales[i] == 1 { continue }
                out[a] = x[a].value.map { ShapeMath.dim((Double($0) * scales[i]).rounded(.down)) } ?? .unknown
            }
        } else {
            out = Shape(repeating: .unknown, count: n)
        }
        ctx.setOutput(0, dtype, out)
    }

    static let topK: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), let axis = ShapeMath.axis(ctx.int("axis", default: -1), rank: x.count) else {
            ctx.setOutput(0, dtype, nil)
            ctx.setOutput(1, .int64, nil)
            return
        }
        let k: Int? = ctx.opset < 10 ? ctx.int("k") : ctx.ints(1)?.first
        var out = x
        out[axis] = k.map { .known($0) } ?? .unknown
        ctx.setOutput(0, dtype, out)
        ctx.setOutput(1, .int64, out)
    }
}
