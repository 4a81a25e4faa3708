/// Image geometry: Resize, Upsample, GridSample, AffineGrid, RoiAlign, NonMaxSuppression, DepthToSpace, SpaceToDepth, CenterCropPad, Col2Im, ImageDecoder.
enum ImageOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "AffineGrid", since: [20], inputs: "11", outputs: "1", attributes: "align_corners:i",
            rule: { ctx in
                guard let size = ctx.values(1), size.count >= 3 else {
                    ctx.setOutput(0, ctx.dtype(0), nil)
                    return
                }
                ctx.setOutput(0, ctx.dtype(0), [size[0]] + Array(size.dropFirst(2)) + [.known(size.count - 2)])
            })
        r.add(
            "CenterCropPad", since: [18], inputs: "11", outputs: "1", attributes: "axes:is",
            rule: { ctx in
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
        r.add(
            "Col2Im", since: [18], inputs: "111", outputs: "1", attributes: "dilations:is pads:is strides:is",
            rule: { ctx in
                guard let x = ctx.shape(0), x.count == 3, let image = ctx.values(1), let block = ctx.ints(2),
                    let k = ShapeMath.product(block.map { Dim.known($0) }), k.known > 0
                else {
                    ctx.setOutput(0, ctx.dtype(0), nil)
                    return
                }
                let c: Dim = x[1].value.map { .known($0 / k.known) } ?? .unknown
                ctx.setOutput(0, ctx.dtype(0), [x[0], c] + image)
            })
        r.add(
            "DepthToSpace", since: [1, 11, 13, 28], inputs: "1", outputs: "1", attributes: "blocksize:i! mode:s",
            rule: { spaceDepth(&$0, toSpace: true) })
        r.add(
            "GridSample", since: [16, 20, 22], inputs: "11", outputs: "1", attributes: "align_corners:i mode:s padding_mode:s",
            rule: { ctx in
                guard let x = ctx.shape(0), let g = ctx.shape(1), x.count >= 2, g.count == x.count else {
                    ctx.setOutput(0, ctx.dtype(0), nil)
                    return
                }
                ctx.setOutput(0, ctx.dtype(0), [x[0], x[1]] + Array(g.dropFirst().dropLast()))
            })
        r.add(
            "NonMaxSuppression", since: [10, 11], inputs: "11???", outputs: "1", attributes: "center_point_box:i",
            rule: { $0.setOutput(0, .int64, [.unknown, .known(3)]) })
        r.add("Resize", since: [10], inputs: "11", outputs: "1", attributes: "mode:s", rule: resize)
        r.add(
            "Resize", since: [11, 13], inputs: "1???", outputs: "1",
            attributes: "coordinate_transformation_mode:s cubic_coeff_a:f exclude_outside:i extrapolation_value:f mode:s nearest_mode:s",
            rule: resize)
        r.add(
            "Resize", since: [18, 19], inputs: "1???", outputs: "1",
            attributes:
                "antialias:i axes:is coordinate_transformation_mode:s cubic_coeff_a:f exclude_outside:i extrapolation_value:f keep_aspect_ratio_policy:s mode:s nearest_mode:s",
            rule: resize)
        r.add(
            "SpaceToDepth", since: [1, 13], inputs: "1", outputs: "1", attributes: "blocksize:i!",
            rule: { spaceDepth(&$0, toSpace: false) })
        r.add(
            "SpaceToDepth", since: [28], inputs: "1", outputs: "1", attributes: "blocksize:i! mode:s",
            rule: { spaceDepth(&$0, toSpace: false) })
        r.add("Upsample", since: [1], inputs: "1", outputs: "1", attributes: "height_scale:f! mode:s width_scale:f!", rule: resize)
        r.add("Upsample", since: [7], inputs: "1", outputs: "1", attributes: "mode:s scales:fs!", rule: resize)
        r.add("Upsample", since: [9, 10], inputs: "11", outputs: "1", attributes: "mode:s", rule: resize)
        r.add(
            "ImageDecoder", since: [20], inputs: "1", outputs: "1", attributes: "pixel_format:s",
            rule: { $0.setOutput(0, .uint8, [.unknown, .unknown, .unknown]) })
        r.add(
            "RoiAlign", since: [10, 16, 22], inputs: "111", outputs: "1",
            attributes: "coordinate_transformation_mode:s mode:s output_height:i output_width:i sampling_ratio:i spatial_scale:f",
            rule: { ctx in
                let rois = ctx.shape(1)?.first ?? ctx.shape(2)?.first ?? .unknown
                let c = ctx.shape(0).flatMap { $0.count > 1 ? $0[1] : nil } ?? .unknown
                ctx.setOutput(
                    0, ctx.dtype(0),
                    [
                        rois, c, .known(ctx.int("output_height", default: 1)),
                        .known(ctx.int("output_width", default: 1)),
                    ])
            })
    }

    static func spaceDepth(_ ctx: inout InferenceContext, toSpace: Bool) {
        let dtype = ctx.dtype(0)
        let b = ctx.int("blocksize", default: 0)
        guard let x = ctx.shape(0), x.count == 4, b > 0, b < 1 << 16 else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        func div(_ d: Dim, _ k: Int) -> Dim { d.value.map { .known($0 / k) } ?? .unknown }
        if toSpace {
            ctx.setOutput(0, dtype, [x[0], div(x[1], b * b), ShapeMath.mul(x[2], .known(b)), ShapeMath.mul(x[3], .known(b))])
        } else {
            ctx.setOutput(0, dtype, [x[0], ShapeMath.mul(x[1], .known(b * b)), div(x[2], b), div(x[3], b)])
        }
    }

    static let resize: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
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
}
