import RealModule
import SwiftConvIR

/// Resize, GridSample, AffineGrid, RoiAlign, NonMaxSuppression, DepthToSpace, SpaceToDepth, CenterCropPad, Col2Im.
enum ImageKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("DepthToSpace", since: [1, 11, 13, 28]) { ctx in
            let mode = ctx.sinceVersion >= 11 ? ctx.string("mode", default: "DCR") : "DCR"
            guard mode == "DCR" || mode == "CRD" else { throw ctx.invalid("unknown mode '\(mode)'") }
            return SpaceDepthKernel(toSpace: true, block: Int(try ctx.int("blocksize")), crd: mode == "CRD")
        }
        r.register("SpaceToDepth", since: [1, 13, 28]) { ctx in
            let mode = ctx.string("mode", default: "DCR")
            guard mode == "DCR" || mode == "CRD" else { throw ctx.invalid("unknown mode '\(mode)'") }
            return SpaceDepthKernel(toSpace: false, block: Int(try ctx.int("blocksize")), crd: mode == "CRD")
        }
        r.register("Upsample", since: [1, 7, 9, 10]) { ctx in
            let mode = ctx.string("mode", default: "nearest")
            guard mode == "nearest" || mode == "linear" || mode == "bilinear" else {
                throw SwiftConvError.unsupportedOp("\(ctx.label): Upsample mode '\(mode)' is not supported")
            }
            var p = ResizeKernel.Params()
            p.mode = mode == "nearest" ? .nearest : .linear
            p.coordinates = "asymmetric"
            p.nearestMode = "floor"
            if ctx.sinceVersion < 7 {
                // Upsample-1: 4-D input, scales of the two spatial axes as attributes.
                guard let h = ctx.attribute("height_scale")?.float else { throw ctx.missing("height_scale") }
                guard let w = ctx.attribute("width_scale")?.float else { throw ctx.missing("width_scale") }
                p.attrScales = [1, 1, Double(h), Double(w)]
            } else {
                p.attrScales = ctx.sinceVersion < 9 ? ctx.floats("scales").map { $0.map(Double.init) } : nil
            }
            p.scalesInput = ctx.sinceVersion < 9 ? -1 : 1
            return ResizeKernel(p: p)
        }
        r.register("Resize", since: [10, 11, 13, 18, 19]) { ctx in
            var p = ResizeKernel.Params()
            switch ctx.string("mode", default: "nearest") {
            case "nearest": p.mode = .nearest
            case "linear": p.mode = .linear
            case "cubic" where ctx.sinceVersion >= 11: p.mode = .cubic
            case let m: throw SwiftConvError.unsupportedOp("\(ctx.label): Resize mode '\(m)' is not supported")
            }
            if ctx.sinceVersion == 10 {
                p.coordinates = "asymmetric"
                p.nearestMode = "floor"
                p.scalesInput = 1
            } else {
                p.coordinates = ctx.string("coordinate_transformation_mode", default: "half_pixel")
                p.nearestMode = ctx.string("nearest_mode", default: "round_prefer_floor")
                p.cubicA = Double(ctx.float("cubic_coeff_a", default: -0.75))
                p.excludeOutside = ctx.int("exclude_outside", default: 0) != 0
                p.extrapolation = Double(ctx.float("extrapolation_value", default: 0))
                p.roiInput = 1
                p.scalesInput = 2
                p.sizesInput = 3
            }
            if ctx.sinceVersion >= 18 {
                p.antialias = ctx.int("antialias", default: 0) != 0
                p.axes = ctx.ints("axes")?.map { Int($0) }
                p.policy = ctx.string("keep_aspect_ratio_policy", default: "stretch")
            }
            let known = [
                "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize",
                "half_pixel_symmetric",
            ]
            guard known.contains(p.coordinates) else {
                throw SwiftConvError.unsupportedOp("\(ctx.label): coordinate_transformation_mode '\(p.coordinates)' is not supported")
            }
            return ResizeKernel(p: p)
        }
        r.register("GridSample", since: [16, 20, 22]) { ctx in
            var mode = ctx.string("mode", default: ctx.sinceVersion >= 20 ? "linear" : "bilinear")
            if mode == "bilinear" { mode = "linear" }
            if mode == "bicubic" { mode = "cubic" }
            let padding = ctx.string("padding_mode", default: "zeros")
            guard ["linear", "nearest", "cubic"].contains(mode), ["zeros", "border", "reflection"].contains(padding) else {
                throw SwiftConvError.unsupportedOp("\(ctx.label): mode '\(mode)' / padding_mode '\(padding)' is not supported")
            }
            return GridSampleKernel(mode: mode, padding: padding, alignCorners: ctx.int("align_corners", default: 0) != 0)
        }
        r.register("AffineGrid", since: [20]) { ctx in AffineGridKernel(alignCorners: ctx.int("align_corners", default: 0) != 0) }
        r.register("RoiAlign", since: [10, 16, 22]) { ctx in
            let ctm = ctx.sinceVersion >= 16 ? ctx.string("coordinate_transformation_mode", default: "half_pixel") : "output_half_pixel"
            return RoiAlignKernel(
                isMax: ctx.string("mode", default: "avg") == "max",
                outH: Int(ctx.int("output_height", default: 1)), outW: Int(ctx.int("output_width", default: 1)),
                samplingRatio: Int(ctx.int("sampling_ratio", default: 0)),
                spatialScale: Double(ctx.float("spatial_scale", default: 1)), halfPixel: ctm == "half_pixel")
        }
        r.register("NonMaxSuppression", since: [10, 11]) { ctx in
            NonMaxSuppressionKernel(centerPointBox: ctx.int("center_point_box", default: 0) != 0)
        }
        r.register("CenterCropPad", since: [18]) { ctx in CenterCropPadKernel(axes: ctx.ints("axes")?.map { Int($0) }) }
        r.register("Col2Im", since: [18]) { ctx in
            Col2ImKernel(
                dilations: ctx.ints("dilations")?.map { Int($0) }, pads: ctx.ints("pads")?.map { Int($0) },
                strides: ctx.ints("strides")?.map { Int($0) })
        }
    }
}

/// DepthToSpace and SpaceToDepth: a reshape to 6-D, a transpose, a reshape back.
struct SpaceDepthKernel: Kernel {
    let toSpace: Bool
    let block: Int
    let crd: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank == 4, block > 0 else { throw kernelError("input must be 4-D, got \(x.shape)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let b = block, bb = try Checked.multiply(block, block, "blocksize²")
        let view: [Int], perm: [Int], final: [Int]
        if toSpace {
            guard c % bb == 0 else { throw kernelError("channels \(c) are not divisible by blocksize² \(bb)") }
            view = crd ? [n, c / bb, b, b, h, w] : [n, b, b, c / bb, h, w]
            perm = crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]
            final = [n, c / bb, try Checked.multiply(h, b, "the output height"), try Checked.multiply(w, b, "the output width")]
        } else {
            guard h % b == 0, w % b == 0 else { throw kernelError("spatial size \(h)x\(w) is not divisible by blocksize \(b)") }
            view = [n, c, h / b, b, w / b, b]
            perm = crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]
            final = [n, try Checked.multiply(c, bb, "the output channels"), h / b, w / b]
        }
        return [.tensor(try transposed(x.reshaped(view), perm).reshaped(final))]
    }
}

// MARK: - Resize

struct ResizeKernel: Kernel {
    enum Mode { case nearest, linear, cubic }
    struct Params {
        var mode = Mode.nearest
        var coordinates = "half_pixel"
        var nearestMode = "round_prefer_floor"
        var cubicA = -0.75
        var excludeOutside = false
        var extrapolation = 0.0
        var antialias = false
        var axes: [Int]? = nil
        var policy = "stretch"
        var attrScales: [Double]? = nil
        var roiInput = -1
        var scalesInput = -1
        var sizesInput = -1
    }
    let p: Params

    /// Taps of one output position along one axis: input indices and weights.
    struct AxisPlan {
        var taps: Int
        var index: [Int]
        var weight: [Double]
        var extrapolated: [Bool]
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let r = x.rank
        var scalesGiven: [Double]? = p.attrScales
        if p.scalesInput >= 0, let t = inputs.optionalTensor(p.scalesInput), t.elementCount > 0 {
            guard t.dtype == .float32 else { throw kernelError("scales must be float") }
            scalesGiven = t.values(as: Float.self).map(Double.init)
        }
        var sizesGiven: [Int]? = nil
        if p.sizesInput >= 0, let t = inputs.optionalTensor(p.sizesInput), t.elementCount > 0 {
            sizesGiven = try intValues(t, "sizes")
        }
        var roiGiven: [Double]? = nil
        if p.roiInput >= 0, let t = inputs.optionalTensor(p.roiInput), t.elementCount > 0 {
            roiGiven = t.dtype == .float16 ? t.values(as: Float16.self).map(Double.init) : t.doubleValues()
        }
        let axes = try p.axes.map { try normalizeAxes($0, rank: r) } ?? Array(0..<r)
        var scales = [Double](repeating: 1, count: r)
        var sizes = x.shape
        var roi: [Double]? = nil
        if let g = roiGiven {
            var full = [Double](repeating: 0, count: r) + [Double](repeating: 1, count: r)
            guard g.count == 2 * axes.count else { throw kernelError("roi has \(g.count) values for \(axes.count) axes") }
            for (i, a) in axes.enumerated() {
                full[a] = g[i]
                full[r + a] = g[axes.count + i]
            }
            roi = full
        }
        if let s = sizesGiven {
            guard s.count == axes.count, s.allSatisfy({ $0 >= 0 }) else { throw kernelError("sizes \(s) does not fit \(axes.count) axes") }
            for (i, a) in axes.enumerated() {
                sizes[a] = s[i]
                scales[a] = Double(s[i]) / Double(x.shape[a])
            }
            if p.policy != "stretch" {
                let chosen = axes.map { scales[$0] }
                let scale = p.policy == "not_larger" ? chosen.min() ?? 1 : chosen.max() ?? 1
                for a in axes {
                    scales[a] = scale
                    sizes[a] = try Checked.int(scale * Double(x.shape[a]) + 0.5, "the output size of axis \(a)")
                }
            }
        } else if let s = scalesGiven {
            guard s.count == axes.count, s.allSatisfy({ $0 > 0 }) else { throw kernelError("scales \(s) does not fit \(axes.count) axes") }
            for (i, a) in axes.enumerated() {
                scales[a] = s[i]
                sizes[a] = try Checked.int(s[i] * Double(x.shape[a]), "the output size of axis \(a)")
            }
        } else {
            throw kernelError("one of scales and sizes must be given")
        }

        if p.coordinates == "tf_crop_and_resize", let roi, !roi.allSatisfy(\.isFinite) {
            throw kernelError("roi \(roi) must be finite numbers")
        }
        // Plans and intermediate rows are sized by the output: checked before any is built, and
        // none is built for an empty output (whose other axes may still be huge).
        let outCount = try checkedElementCount(sizes)
        if outCount == 0 { return [.tensor(try Tensor.allocate(x.dtype, sizes))] }

        // Nearest without extrapolation is a pure gather: exact for every dtype.
        if p.mode == .nearest && p.coordinates != "tf_crop_and_resize" {
            let strides = contiguousStrides(x.shape)
            return [
                .tensor(
                    try indexMapGather(x, shape: sizes) {
                        try (0..<r).map { d in
                            try axisPlan(d: d, inSize: x.shape[d], outSize: sizes[d], scale: scales[d], roi: roi).index.map {
                                $0 * strides[d]
                            }
                        }
                    })
            ]
        }
        if x.dtype == .float32, p.mode == .linear, !p.antialias, r == 4, p.coordinates != "tf_crop_and_resize",
            sizes[0] == x.shape[0], sizes[1] == x.shape[1], scales[0] == 1, scales[1] == 1,
            roi.map({ $0[0] == 0 && $0[1] == 0 && $0[4] == 1 && $0[5] == 1 }) ?? true,
            let out = try bilinearNCHWFloat(x, sizes: sizes, scales: scales, roi: roi, context.threads)
        {
            return [.tensor(out)]
        }
        try checkTemporary(outCount, of: Double.self, "the resized values")

        struct Interp: FloatVisitor {
            let k: ResizeKernel, x: Tensor, sizes: [Int], scales: [Double], roi: [Double]?, axes: [Int]
            func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
                var shape = x.shape
                var data = x.values(as: T.self).map { $0.asDouble }
                for a in axes {
                    let inSize = shape[a]
                    let identityRoi = roi.map { abs($0[a]) < 1e-9 && abs($0[a + shape.count] - 1) < 1e-9 } ?? true
                    if abs(scales[a] - 1) < 1e-9 && sizes[a] == inSize && identityRoi { continue }
                    let plan = try k.axisPlan(d: a, inSize: inSize, outSize: sizes[a], scale: scales[a], roi: roi)
                    let (outer, _, inner) = try axisSplit(shape, a)
                    let outSize = sizes[a]
                    // Axes are resized one at a time: a shape between input and output can be larger than both.
                    let nextCount = try checkedElementCount([outer, outSize, inner])
                    try checkTemporary(nextCount, of: Double.self, "the resized values")
                    var next = [Double](repeating: 0, count: nextCount)
                    let taps = plan.taps
                    data.withUnsafeBufferPointer { src in
                        next.withUnsafeMutableBufferPointer { dst in
                            for o in 0..<outer {
                                let sBase = o * inSize * inner, dBase = o * outSize * inner
                                for y in 0..<outSize {
                                    let dRow = dBase + y * inner
                                    if plan.extrapolated[y] {
                                        for i in 0..<inner { dst[dRow + i] = k.p.extrapolation }
                                        continue
                                    }
                                    for t in 0..<taps {
                                        let w = plan.weight[y * taps + t]
                                        if w == 0 { continue }
                                        let sRow = sBase + plan.index[y * taps + t] * inner
                                        for i in 0..<inner { dst[dRow + i] += w * src[sRow + i] }
                                    }
                                }
                            }
                        }
                    }
                    data = next
                    shape[a] = outSize
                }
                let out = try Tensor.allocate(T.dtype, sizes)
                out.withMutableElements(as: T.self) { d in
                    for i in 0..<d.count { d[i] = T(data[i]) }
                }
                return out
            }
        }
        guard let out = try dispatchFloat(x.dtype, Interp(k: self, x: x, sizes: sizes, scales: scales, roi: roi, axes: axes)) else {
            // Integer inputs are computed in float64 and rounded back.
            guard let v = x.doubleValues() else { throw kernelUnsupported("unsupported type \(x.dtype)") }
            let f = try dispatchFloat(
                .float64,
                Interp(
                    k: self, x: Tensor.from(v, shape: x.shape), sizes: sizes, scales: scales,
                    roi: roi, axes: axes))!
            return [.tensor(try castRounded(f, to: x.dtype))]
        }
        return [.tensor(out)]
    }

    /// Bilinear float32 resize of the H and W of an NCHW tensor, computed in Float as
    /// onnxruntime does: the taps and weights of every output row and column are planned once
    /// per run. Each input row a task needs is blended across once (`wx0 * a + wx1 * b` per
    /// output column), and each output row is then `wy0 * upper + wy1 * lower` of two blended
    /// rows: the same products and sums as blending each output from its four taps, with a
    /// quarter of the gathers when upsampling by two (U-Net's decoder). Nil when a plan is not
    /// two taps.
    func bilinearNCHWFloat(_ x: Tensor, sizes: [Int], scales: [Double], roi: [Double]?, _ threads: ThreadPool) throws -> Tensor? {
        let inH = x.shape[2], inW = x.shape[3], outH = sizes[2], outW = sizes[3]
        let rowsPlan = try axisPlan(d: 2, inSize: inH, outSize: outH, scale: scales[2], roi: roi)
        let colsPlan = try axisPlan(d: 3, inSize: inW, outSize: outW, scale: scales[3], roi: roi)
        guard rowsPlan.taps == 2, colsPlan.taps == 2 else { return nil }
        let out = try Tensor.allocate(.float32, sizes)
        let rows = sizes[0] * sizes[1] * outH
        let px = x.floatPointer, po = out.mutableFloatPointer
        let rowWeights = rowsPlan.weight.map { Float($0) }, colWeights = colsPlan.weight.map { Float($0) }
        rowsPlan.index.withUnsafeBufferPointer { ri in
            colsPlan.index.withUnsafeBufferPointer { ci in
                rowWeights.withUnsafeBufferPointer { rw in
                    colWeights.withUnsafeBufferPointer { cw in
                        threads.parallelFor(rows, grain: max(1, elementwiseGrain / max(outW, 1))) { range in
                            // Two blended rows, tagged with the (plane, input row) they hold.
                            withScratch(2 * outW) { blended in
                                var held0 = -1, held1 = -1
                                // The slot holding (plane, iy), blended now if neither does; a
                                // miss replaces the lower-tagged slot, never `keep`.
                                func blendedRow(_ plane: Int, _ iy: Int, keep: Int) -> Int {
                                    let tag = plane * inH + iy
                                    if held0 == tag { return 0 }
                                    if held1 == tag { return 1 }
                                    let slot = keep >= 0 ? 1 - keep : (held0 <= held1 ? 0 : 1)
                                    let dst = blended + slot * outW
                                    let src = px + tag * inW
                                    for ox in 0..<outW {
                                        dst[ox] = cw[2 * ox] * src[ci[2 * ox]] + cw[2 * ox + 1] * src[ci[2 * ox + 1]]
                                    }
                                    if slot == 0 { held0 = tag } else { held1 = tag }
                                    return slot
                                }
                                for row in range {
                                    let plane = row / outH, oy = row % outH
                                    let upperSlot = blendedRow(plane, ri[2 * oy], keep: -1)
                                    let lowerSlot = blendedRow(plane, ri[2 * oy + 1], keep: upperSlot)
                                    let upper = UnsafePointer(blended + upperSlot * outW)
                                    let lower = UnsafePointer(blended + lowerSlot * outW)
                                    let wy0 = rw[2 * oy], wy1 = rw[2 * oy + 1]
                                    let dst = po + row * outW
                                    for ox in 0..<outW { dst[ox] = wy0 * upper[ox] + wy1 * lower[ox] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    func castRounded(_ t: Tensor, to dtype: DType) throws -> Tensor {
        struct Cast: IntegerVisitor {
            let v: [Double], shape: [Int]
            func visit<T: IntegerScalar>(_ type: T.Type) throws -> Tensor {
                Tensor.from(v.map { T(fromDouble: $0.rounded(.toNearestOrEven)) }, shape: shape)
            }
        }
        guard let r = try dispatchInteger(dtype, Cast(v: t.values(as: Double.self), shape: t.shape)) else {
            throw kernelUnsupported("unsupported type \(dtype)")
        }
        return r
    }

    /// Source coordinate of output position `y` along an axis.
    func sourceCoordinate(_ y: Double, inSize: Int, outSize: Int, scale: Double, roi: (Double, Double)?) -> Double {
        let outWidth = scale * Double(inSize)
        switch p.coordinates {
        case "align_corners": return outWidth == 1 ? 0 : y * Double(inSize - 1) / (outWidth - 1)
        case "asymmetric": return y / scale
        case "tf_crop_and_resize":
            let (r0, r1) = roi ?? (0, 1)
            let x = outWidth == 1 ? (r1 - r0) * Double(inSize - 1) / 2 : y * (r1 - r0) * Double(inSize - 1) / (outWidth - 1)
            return x + r0 * Double(inSize - 1)
        case "pytorch_half_pixel": return outWidth == 1 ? -0.5 : (y + 0.5) / scale - 0.5
        case "half_pixel_symmetric":
            let adjustment = Double(outSize) / outWidth
            let offset = Double(inSize) / 2 * (1 - adjustment)
            return offset + (y + 0.5) / scale - 0.5
        default: return (y + 0.5) / scale - 0.5
        }
    }

    /// Per output position: neighbour indices (clamped) and weights, as the ONNX reference picks them.
    func axisPlan(d: Int, inSize: Int, outSize: Int, scale: Double, roi: [Double]?) throws -> AxisPlan {
        guard inSize > 0 || outSize == 0 else { throw kernelError("cannot resize an empty axis") }
        let axisRoi = roi.map { ($0[d], $0[d + $0.count / 2]) }
        var plan = AxisPlan(taps: 0, index: [], weight: [], extrapolated: [Bool](repeating: false, count: outSize))
        if p.mode == .nearest {
            plan.taps = 1
            for y in 0..<outSize {
                let x = sourceCoordinate(Double(y), inSize: inSize, outSize: outSize, scale: scale, roi: axisRoi)
                if p.coordinates == "tf_crop_and_resize" && (x < 0 || x > Double(inSize - 1)) { plan.extrapolated[y] = true }
                var i: Double
                let f = x.rounded(.down)
                if x == f {
                    i = x
                } else {
                    let ratio = x - f
                    switch p.nearestMode {
                    case "round_prefer_ceil": i = ratio >= 0.5 ? f + 1 : f
                    case "floor": i = f
                    case "ceil": i = f + 1
                    default: i = ratio > 0.5 ? f + 1 : f
                    }
                }
                plan.index.append(try Checked.clampedInt(i, 0...(inSize - 1), "a source coordinate"))
                plan.weight.append(1)
            }
            return plan
        }
        for y in 0..<outSize {
            let x = sourceCoordinate(Double(y), inSize: inSize, outSize: outSize, scale: scale, roi: axisRoi)
            if p.coordinates == "tf_crop_and_resize" && (x < 0 || x > Double(inSize - 1)) { plan.extrapolated[y] = true }
            let xi = x.rounded(.down)
            let ratio = x == xi ? 1.0 : x - xi
            var coeffs = try coefficients(ratio, scale)
            let n = coeffs.count
            plan.taps = n
            let pad = (n + 1) / 2
            let xp = x + Double(pad)
            let pp = xp.rounded(.down)
            let frac = xp - pp
            let offset: Int
            if n % 2 == 0 {
                offset = frac == 0 ? -(n / 2) : -(n / 2) + 1
            } else {
                let base = -((n - 1) / 2)
                offset = frac <= 0.5 ? base : base + 1
            }
            // Clamped far outside the input, where every tap reads the edge anyway.
            let start = try Checked.clampedInt(pp, -(1 << 40)...(1 << 40), "a source coordinate") + offset - pad
            if p.excludeOutside {
                var sum = 0.0
                for j in 0..<n {
                    let idx = start + j
                    if idx < 0 || idx >= inSize { coeffs[j] = 0 }
                    sum += coeffs[j]
                }
                if sum != 0 { for j in 0..<n { coeffs[j] /= sum } }
            }
            for j in 0..<n {
                plan.index.append(min(max(start + j, 0), inSize - 1))
                plan.weight.append(coeffs[j])
            }
        }
        return plan
    }

    func coefficients(_ ratio: Double, _ scale: Double) throws -> [Double] {
        let a = p.cubicA
        switch (p.mode, p.antialias) {
        case (.linear, false): return [1 - ratio, ratio]
        case (.linear, true):
            let s = min(scale, 1)
            let start = try Checked.int((-1 / s).rounded(.down), "the antialias footprint") + 1
            let footprint = try Checked.subtract(2, Checked.multiply(2, start, "the antialias footprint"), "the antialias footprint")
            try checkTemporary(footprint, of: Double.self, "the antialias footprint")
            var c = (0..<footprint).map { i in min(max(1 - abs((Double(start + i) - ratio) * s), 0), 1) }
            let sum = c.reduce(0, +)
            for i in c.indices { c[i] /= sum }
            return c
        case (.cubic, false):
            let r1 = ratio + 1, q = 1 - ratio, q1 = q + 1
            return [
                ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a,
                ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1,
                ((a + 2) * q - (a + 3)) * q * q + 1,
                ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a,
            ]
        case (.cubic, true):
            let s = min(scale, 1)
            let iStart = try Checked.int((-2 / s).rounded(.down), "the antialias footprint") + 1
            try checkTemporary(
                Checked.subtract(2, Checked.multiply(2, iStart, "the antialias footprint"), "the antialias footprint"),
                of: Double.self, "the antialias footprint")
            let iEnd = 2 - iStart
            var c = (iStart..<iEnd).map { i -> Double in
                let x = abs(s * (Double(i) - ratio))
                if x <= 1 { return (a + 2) * x * x * x - (a + 3) * x * x + 1 }
                if x < 2 { return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a }
                return 0
            }
            let sum = c.reduce(0, +)
            for i in c.indices { c[i] /= sum }
            return c
        case (.nearest, _): return [1]
        }
    }
}

// MARK: - GridSample, AffineGrid

struct GridSampleKernel: Kernel {
    let mode: String
    let padding: String
    let alignCorners: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), g = try inputs.tensor(1)
        let nd = x.rank - 2
        guard nd >= 1, g.rank == nd + 2, g.shape[0] == x.shape[0], g.shape[nd + 1] == nd else {
            throw kernelError("grid shape \(g.shape) does not fit input \(x.shape)")
        }
        guard let gv = g.dtype == .float16 ? g.values(as: Float16.self).map(Double.init) : g.doubleValues(), g.dtype.isFloatingPoint else {
            throw kernelError("grid must be floating point")
        }
        // A NaN or infinite grid point has no defined sample (onnxruntime's result is an artefact
        // of casting it to an integer).
        guard gv.allSatisfy(\.isFinite) else { throw kernelError("grid values must be finite numbers") }
        let (n, c) = (x.shape[0], x.shape[1])
        let dims = Array(x.shape[2...])
        let outSpatial = Array(g.shape[1...nd])
        let points = outSpatial.reduce(1, *)
        let plane = dims.reduce(1, *)
        let strides = contiguousStrides(dims)
        let lo = dims.map { _ in alignCorners ? 0.0 : -0.5 }
        let hi = dims.map { alignCorners ? Double($0 - 1) : Double($0) - 0.5 }

        func reflect(_ v: Double, _ a: Double, _ b: Double) -> Double {
            let range = b - a
            if range <= 0 { return a }
            // The fold count stays a Double: grid values far outside the image exceed Int.
            if v < a {
                let dx = a - v, k = (dx / range).rounded(.towardZero), r = dx - k * range
                return k.truncatingRemainder(dividingBy: 2) == 0 ? a + r : b - r
            }
            if v > b {
                let dx = v - b, k = (dx / range).rounded(.towardZero), r = dx - k * range
                return k.truncatingRemainder(dividingBy: 2) == 0 ? b - r : a + r
            }
            return v
        }
        /// Index along dim d for tap i; -1 when it reads zero padding.
        func tapIndex(_ i: Int, _ d: Int) -> Int {
            let size = dims[d]
            if i >= 0 && i < size { return i }
            switch padding {
            case "zeros": return -1
            case "border": return min(max(i, 0), size - 1)
            default: return min(max(Int(reflect(Double(i), lo[d], hi[d]).rounded(.towardZero)), 0), size - 1)
            }
        }
        func cubic(_ t: Double) -> [Double] {
            let a = -0.75, x = abs(t)
            let x1 = x + 1, q = 1 - x, q2 = 2 - x
            return [
                ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a, ((a + 2) * x - (a + 3)) * x * x + 1,
                ((a + 2) * q - (a + 3)) * q * q + 1, ((a * q2 - 5 * a) * q2 + 8 * a) * q2 - 4 * a,
            ]
        }

        // Per output point: taps (flat offsets into a plane, -1 = zero) and weights.
        let tapsPerDim = mode == "nearest" ? 1 : mode == "linear" ? 2 : 4
        var tapCount = 1
        for _ in 0..<nd { tapCount *= tapsPerDim }
        var offsets = [Int](repeating: 0, count: n * points * tapCount)
        var weights = [Double](repeating: 0, count: n * points * tapCount)
        for b in 0..<n {
            for q in 0..<points {
                var perDimIdx: [[Int]] = [], perDimW: [[Double]] = []
                for d in 0..<nd {
                    // Grid holds (x, y, z): the last spatial dimension first.
                    let gval = Float(gv[(b * points + q) * nd + (nd - 1 - d)])
                    let size = Float(dims[d])
                    var v = Double(alignCorners ? (gval + 1) / 2 * (size - 1) : ((gval + 1) * size - 1) / 2)
                    if mode == "nearest" { v = v.rounded(.toNearestOrEven) }
                    if v < lo[d] || v > hi[d] {
                        if padding == "border" {
                            v = min(max(v, 0), Double(dims[d] - 1))
                        } else if padding == "reflection" {
                            v = reflect(v, lo[d], hi[d])
                        }
                    }
                    // Positions far outside the input are clamped where every tap reads padding or the edge.
                    if mode == "nearest" {
                        perDimIdx.append([tapIndex(try Checked.clampedInt(v, -(1 << 40)...(1 << 40), "a grid position"), d)])
                        perDimW.append([1])
                    } else {
                        let f = v.rounded(.down)
                        let i0 = try Checked.clampedInt(f, -(1 << 40)...(1 << 40), "a grid position")
                        if mode == "linear" {
                            perDimIdx.append([tapIndex(i0, d), tapIndex(i0 + 1, d)])
                            perDimW.append([1 - (v - f), v - f])
                        } else {
                            perDimIdx.append((-1...2).map { tapIndex(i0 + $0, d) })
                            perDimW.append(cubic(v - f))
                        }
                    }
                }
                let base = (b * points + q) * tapCount
                for t in 0..<tapCount {
                    var rest = t, off = 0, w = 1.0
                    for d in stride(from: nd - 1, through: 0, by: -1) {
                        let k = rest % tapsPerDim
                        rest /= tapsPerDim
                        let i = perDimIdx[d][k]
                        if i < 0 || off < 0 { off = -1 } else { off += i * strides[d] }
                        w *= perDimW[d][k]
                    }
                    offsets[base + t] = off
                    weights[base + t] = w
                }
            }
        }
        struct Sample: FloatVisitor {
            let x: Tensor, shape: [Int], n: Int, c: Int, points: Int, plane: Int, taps: Int, offsets: [Int], weights: [Double]
            func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
                let out = try Tensor.allocate(T.dtype, shape)
                guard out.elementCount > 0, let s = x.elementBase(T.self), let d = out.mutableElementBase(T.self) else { return out }
                for b in 0..<n {
                    for ch in 0..<c {
                        let src = s + (b * c + ch) * plane
                        let dst = d + (b * c + ch) * points
                        for q in 0..<points {
                            var acc = 0.0
                            let base = (b * points + q) * taps
                            for t in 0..<taps where offsets[base + t] >= 0 {
                                acc += weights[base + t] * src[offsets[base + t]].asDouble
                            }
                            dst[q] = T(acc)
                        }
                    }
                }
                return out
            }
        }
        let shape = [n, c] + outSpatial
        guard
            let out = try dispatchFloat(
                x.dtype,
                Sample(
                    x: x, shape: shape, n: n, c: c, points: points, plane: plane,
                    taps: tapCount, offsets: offsets, weights: weights))
        else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}

struct AffineGridKernel: Kernel {
    let alignCorners: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let theta = try inputs.tensor(0)
        let size = try intValues(inputs.tensor(1), "size")
        let nd = size.count - 2
        guard nd == 2 || nd == 3, theta.shape == [size[0], nd, nd + 1] else {
            throw kernelError("theta \(theta.shape) does not fit size \(size)")
        }
        guard let th = theta.dtype == .float16 ? theta.values(as: Float16.self).map(Double.init) : theta.doubleValues() else {
            throw kernelError("theta must be floating point")
        }
        let spatial = Array(size[2...])
        func base(_ i: Int, _ s: Int) -> Double {
            if alignCorners { return s <= 1 ? 0 : -1 + 2 * Double(i) / Double(s - 1) }
            return (2 * Double(i) + 1) / Double(s) - 1
        }
        let shape = [size[0]] + spatial + [nd]
        let result = try Tensor.allocate(theta.dtype, shape)
        try checkTemporary(result.elementCount, of: Double.self, "the grid")
        let points = try checkedElementCount(spatial)
        var out = [Double](repeating: 0, count: result.elementCount)
        let strides = contiguousStrides(spatial)
        for b in 0..<size[0] {
            for q in 0..<points {
                // Homogeneous coordinate (x, y, z, 1), x along the last spatial axis.
                var coord = [Double](repeating: 1, count: nd + 1)
                var rest = q
                for d in 0..<nd {
                    let i = rest / strides[d]
                    rest %= strides[d]
                    coord[nd - 1 - d] = base(i, spatial[d])
                }
                for r in 0..<nd {
                    var acc = 0.0
                    for k in 0...nd { acc += th[(b * nd + r) * (nd + 1) + k] * coord[k] }
                    out[(b * points + q) * nd + r] = acc
                }
            }
        }
        switch theta.dtype {
        case .float32: result.withMutableElements(as: Float.self) { p in for i in out.indices { p[i] = Float(out[i]) } }
        case .float16: result.withMutableElements(as: Float16.self) { p in for i in out.indices { p[i] = Float16(out[i]) } }
        default: result.withMutableElements(as: Double.self) { p in for i in out.indices { p[i] = out[i] } }
        }
        return [.tensor(result)]
    }
}

// MARK: - RoiAlign, NonMaxSuppression

struct RoiAlignKernel: Kernel {
    let isMax: Bool
    let outH: Int
    let outW: Int
    let samplingRatio: Int
    let spatialScale: Double
    let halfPixel: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), rois = try inputs.tensor(1)
        let batch = try intValues(inputs.tensor(2), "batch_indices")
        guard x.rank == 4, rois.rank == 2, rois.shape[1] == 4, batch.count == rois.shape[0] else {
            throw kernelError("shapes \(x.shape), \(rois.shape) do not fit RoiAlign")
        }
        guard let rv = rois.dtype == .float16 ? rois.values(as: Float16.self).map(Double.init) : rois.doubleValues() else {
            throw kernelError("rois must be floating point")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let count = rois.shape[0]
        for b in batch where b < 0 || b >= n { throw kernelError("batch index \(b) is out of range") }
        guard spatialScale.isFinite, rv.allSatisfy(\.isFinite) else { throw kernelError("rois and spatial_scale must be finite numbers") }
        struct Align: FloatVisitor {
            let k: RoiAlignKernel, x: Tensor, rv: [Double], batch: [Int], c: Int, h: Int, w: Int, count: Int
            func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
                let out = try Tensor.allocate(T.dtype, [count, c, k.outH, k.outW])
                guard out.elementCount > 0, let s = x.elementBase(T.self), let d = out.mutableElementBase(T.self) else { return out }
                let offset = k.halfPixel ? 0.5 : 0
                for r in 0..<count {
                    let sw = rv[r * 4] * k.spatialScale - offset, sh = rv[r * 4 + 1] * k.spatialScale - offset
                    let ew = rv[r * 4 + 2] * k.spatialScale - offset, eh = rv[r * 4 + 3] * k.spatialScale - offset
                    var rw = ew - sw, rh = eh - sh
                    if !k.halfPixel {
                        rw = max(rw, 1)
                        rh = max(rh, 1)
                    }
                    let binH = rh / Double(k.outH), binW = rw / Double(k.outW)
                    // An empty or inverted roi samples nothing (onnxruntime's loops run zero times).
                    let gh =
                        k.samplingRatio > 0
                        ? k.samplingRatio : max(0, try Checked.int((rh / Double(k.outH)).rounded(.up), "the sampling grid"))
                    let gw =
                        k.samplingRatio > 0
                        ? k.samplingRatio : max(0, try Checked.int((rw / Double(k.outW)).rounded(.up), "the sampling grid"))
                    let samples = max(try Checked.multiply(gh, gw, "the sampling grid"), 1)
                    try checkTemporary(
                        Checked.product([k.outH, k.outW, samples, 4], "the sampling grid"), of: (Int, Double).self, "the sampling grid")
                    // Bilinear taps per sample, shared by all channels.
                    var taps: [(Int, Double)] = []
                    for ph in 0..<k.outH {
                        for pw in 0..<k.outW {
                            for iy in 0..<gh {
                                let yy = sh + Double(ph) * binH + (Double(iy) + 0.5) * binH / Double(gh)
                                for ix in 0..<gw {
                                    let xx = sw + Double(pw) * binW + (Double(ix) + 0.5) * binW / Double(gw)
                                    if yy < -1 || yy > Double(h) || xx < -1 || xx > Double(w) {
                                        taps += [(0, 0), (0, 0), (0, 0), (0, 0)]
                                        continue
                                    }
                                    var y = max(yy, 0), xv = max(xx, 0)
                                    var yl = Int(y), xl = Int(xv), yh: Int, xh: Int
                                    if yl >= h - 1 {
                                        yl = h - 1
                                        yh = h - 1
                                        y = Double(yl)
                                    } else {
                                        yh = yl + 1
                                    }
                                    if xl >= w - 1 {
                                        xl = w - 1
                                        xh = w - 1
                                        xv = Double(xl)
                                    } else {
                                        xh = xl + 1
                                    }
                                    let ly = y - Double(yl), lx = xv - Double(xl), hy = 1 - ly, hx = 1 - lx
                                    taps += [
                                        (yl * w + xl, hy * hx), (yl * w + xh, hy * lx), (yh * w + xl, ly * hx), (yh * w + xh, ly * lx),
                                    ]
                                }
                            }
                        }
                    }
                    let perBin = gh * gw * 4
                    for ch in 0..<c {
                        let src = s + (batch[r] * c + ch) * h * w
                        let dst = d + (r * c + ch) * k.outH * k.outW
                        for bin in 0..<(k.outH * k.outW) {
                            var acc = 0.0
                            var first = true
                            for sIdx in 0..<(gh * gw) {
                                let t = bin * perBin + sIdx * 4
                                if k.isMax {
                                    var v = taps[t].1 * src[taps[t].0].asDouble
                                    for j in 1..<4 { v = max(v, taps[t + j].1 * src[taps[t + j].0].asDouble) }
                                    acc = first ? v : max(acc, v)
                                    first = false
                                } else {
                                    for j in 0..<4 { acc += taps[t + j].1 * src[taps[t + j].0].asDouble }
                                }
                            }
                            dst[bin] = T(k.isMax ? acc : acc / Double(samples))
                        }
                    }
                }
                return out
            }
        }
        guard let out = try dispatchFloat(x.dtype, Align(k: self, x: x, rv: rv, batch: batch, c: c, h: h, w: w, count: count)) else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}

struct NonMaxSuppressionKernel: Kernel {
    let centerPointBox: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let boxesT = try inputs.tensor(0), scoresT = try inputs.tensor(1)
        let maxOut = inputs.optionalTensor(2).flatMap { $0.int64Values()?.first } ?? 0
        let iouThreshold = inputs.optionalTensor(3).flatMap { $0.doubleValues()?.first } ?? 0
        let scoreThreshold = inputs.optionalTensor(4).flatMap { $0.doubleValues()?.first }
        guard boxesT.rank == 3, scoresT.rank == 3, boxesT.shape[2] == 4, boxesT.shape[0] == scoresT.shape[0],
            boxesT.shape[1] == scoresT.shape[2]
        else {
            throw kernelError("boxes \(boxesT.shape) and scores \(scoresT.shape) do not fit")
        }
        guard let boxes = boxesT.doubleValues(), let scores = scoresT.doubleValues() else {
            throw kernelError("boxes and scores must be float")
        }
        let (nb, nc, n) = (scoresT.shape[0], scoresT.shape[1], scoresT.shape[2])
        // Corners (y1, x1, y2, x2) with min/max ordered.
        func corners(_ b: Int, _ i: Int) -> (Double, Double, Double, Double) {
            let o = (b * n + i) * 4
            let v = (boxes[o], boxes[o + 1], boxes[o + 2], boxes[o + 3])
            if centerPointBox {
                return (v.1 - v.3 / 2, v.0 - v.2 / 2, v.1 + v.3 / 2, v.0 + v.2 / 2)
            }
            return (min(v.0, v.2), min(v.1, v.3), max(v.0, v.2), max(v.1, v.3))
        }
        func suppresses(_ a: (Double, Double, Double, Double), _ b: (Double, Double, Double, Double)) -> Bool {
            let areaA = (a.2 - a.0) * (a.3 - a.1), areaB = (b.2 - b.0) * (b.3 - b.1)
            if areaA <= 0 || areaB <= 0 { return false }
            let ih = max(0, min(a.2, b.2) - max(a.0, b.0)), iw = max(0, min(a.3, b.3) - max(a.1, b.1))
            let inter = ih * iw
            let union = areaA + areaB - inter
            return union > 0 && inter / union > iouThreshold
        }
        var selected: [Int64] = []
        for b in 0..<nb {
            let boxCorners = (0..<n).map { corners(b, $0) }
            for c in 0..<nc {
                guard maxOut > 0 else { continue }
                let base = (b * nc + c) * n
                var candidates = (0..<n).filter { scoreThreshold == nil || scores[base + $0] > scoreThreshold! }
                candidates.sort { scores[base + $0] > scores[base + $1] || (scores[base + $0] == scores[base + $1] && $0 < $1) }
                var kept: [Int] = []
                for i in candidates {
                    if kept.count >= maxOut { break }
                    if kept.contains(where: { suppresses(boxCorners[$0], boxCorners[i]) }) { continue }
                    kept.append(i)
                    selected += [Int64(b), Int64(c), Int64(i)]
                }
            }
        }
        return [.tensor(Tensor.from(selected, shape: [selected.count / 3, 3]))]
    }
}

// MARK: - CenterCropPad, Col2Im

struct CenterCropPadKernel: Kernel {
    let axes: [Int]?

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let target = try intValues(inputs.tensor(1), "shape")
        let axes = try normalizeAxes(self.axes ?? Array(0..<x.rank), rank: x.rank)
        guard target.count == axes.count, target.allSatisfy({ $0 >= 0 }) else {
            throw kernelError("shape \(target) does not fit \(axes.count) axes")
        }
        var shape = x.shape
        var inStart = [Int](repeating: 0, count: x.rank), outStart = inStart
        var region = x.shape
        for (i, a) in axes.enumerated() {
            let dim = x.shape[a], t = target[i]
            shape[a] = t
            if t < dim {
                inStart[a] = (dim - t) / 2
                region[a] = t
            } else {
                outStart[a] = (t - dim) / 2
            }
        }
        return [
            .tensor(
                try onStringIndices(x) { x in
                    let out = try Tensor.zeros(x.dtype, shape)
                    let si = contiguousStrides(x.shape), so = contiguousStrides(shape)
                    let inOff = (0..<x.rank).reduce(0) { $0 + inStart[$1] * si[$1] }
                    let outOff = (0..<x.rank).reduce(0) { $0 + outStart[$1] * so[$1] }
                    try stridedCopy(from: x, offset: inOff, strides: si, into: out, offset: outOff, strides: so, shape: region)
                    return out
                })
        ]
    }
}

struct Col2ImKernel: Kernel {
    let dilations: [Int]?
    let pads: [Int]?
    let strides: [Int]?

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let image = try intValues(inputs.tensor(1), "image_shape")
        let block = try intValues(inputs.tensor(2), "block_shape")
        let nd = image.count
        let dil = dilations ?? [Int](repeating: 1, count: nd)
        let str = strides ?? [Int](repeating: 1, count: nd)
        let pad = pads ?? [Int](repeating: 0, count: 2 * nd)
        guard x.rank == 3, block.count == nd, dil.count == nd, str.count == nd, pad.count == 2 * nd else {
            throw kernelError("input \(x.shape), image_shape \(image) and block_shape \(block) do not fit")
        }
        guard image.allSatisfy({ $0 >= 0 }), block.allSatisfy({ $0 > 0 }), dil.allSatisfy({ $0 > 0 }), str.allSatisfy({ $0 > 0 }),
            pad.allSatisfy({ $0 >= 0 })
        else {
            throw kernelError("image_shape and pads must be >= 0, block_shape, dilations and strides > 0")
        }
        let kernelSize = try checkedElementCount(block)
        guard x.shape[1] % kernelSize == 0 else { throw kernelError("channels do not divide by the block size") }
        let (n, c) = (x.shape[0], x.shape[1] / kernelSize)
        var positions: [Int] = []
        for d in 0..<nd {
            let padded = try Checked.add(Checked.add(image[d], pad[d], "the padded image"), pad[d + nd], "the padded image")
            let reach = try Checked.multiply(dil[d], block[d] - 1, "the dilated block")
            let span = padded - reach - 1
            positions.append(span < 0 ? 0 : span / str[d] + 1)
        }
        let l = try checkedElementCount(positions)
        guard l == x.shape[2] else { throw kernelError("input has \(x.shape[2]) blocks, the shapes give \(l)") }
        let imageSize = try checkedElementCount(image)
        // The output is checked before the offset table, which is as large as one image's columns.
        _ = try checkedByteCount(x.dtype, [n, c] + image)
        let tableCount = n == 0 || c == 0 || imageSize == 0 ? 0 : try Checked.multiply(kernelSize, l, "the block table")
        try checkTemporary(tableCount, of: Int.self, "the block table")
        let kStrides = contiguousStrides(block), pStrides = contiguousStrides(positions), iStrides = contiguousStrides(image)
        // Image offset (or -1) for every (kernel offset, block position) pair.
        var target = [Int](repeating: -1, count: tableCount)
        for k in 0..<(tableCount == 0 ? 0 : kernelSize) {
            for p in 0..<l {
                var off = 0
                for d in 0..<nd {
                    let kd = (k / kStrides[d]) % block[d], pd = (p / pStrides[d]) % positions[d]
                    let i = pd * str[d] - pad[d] + kd * dil[d]
                    if i < 0 || i >= image[d] {
                        off = -1
                        break
                    }
                    off += i * iStrides[d]
                }
                target[k * l + p] = off
            }
        }
        struct Fold: NumericVisitor {
            let x: Tensor, shape: [Int], n: Int, c: Int, kernelSize: Int, l: Int, imageSize: Int, target: [Int]
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                let out = try Tensor.zeros(T.dtype, shape)
                guard out.elementCount > 0, let s = x.elementBase(T.self), let d = out.mutableElementBase(T.self) else { return out }
                for b in 0..<n {
                    for ch in 0..<c {
                        let dst = d + (b * c + ch) * imageSize
                        let src = s + (b * c + ch) * kernelSize * l
                        for j in 0..<(kernelSize * l) where target[j] >= 0 { dst[target[j]] += src[j] }
                    }
                }
                return out
            }
        }
        guard
            let out = try dispatchNumeric(
                x.dtype,
                Fold(
                    x: x, shape: [n, c] + image, n: n, c: c, kernelSize: kernelSize, l: l,
                    imageSize: imageSize, target: target))
        else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}
