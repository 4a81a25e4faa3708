/// Convolutions: Conv, ConvTranspose, DeformConv, and com.microsoft FusedConv.
enum ConvOps {
    /// The attributes every convolution shares.
    static let attributes = "auto_pad:s dilations:is group:i kernel_shape:is pads:is strides:is"

    static func register(into r: inout OpRegistry) {
        r.add("Conv", since: [1, 11, 22], inputs: "11?", outputs: "1", attributes: attributes, rule: { conv(&$0, outType: $0.dtype(0)) })
        // onnxruntime's contrib Conv + activation (optional 4th input Z is added before it);
        // swiftconv's graph optimizer produces it, so its sessions' graphs still infer shapes.
        r.add(
            "FusedConv", domain: "com.microsoft", since: [1], inputs: "11??", outputs: "1",
            attributes: attributes + " activation:s activation_params:fs", rule: { conv(&$0, outType: $0.dtype(0)) })
        r.add(
            "DeformConv", since: [19, 22], inputs: "111??", outputs: "1",
            attributes: "dilations:is group:i kernel_shape:is offset_group:i pads:is strides:is",
            rule: { conv(&$0, outType: $0.dtype(0)) })
        r.add(
            "ConvTranspose", since: [1, 11, 22], inputs: "11?", outputs: "1",
            attributes: attributes + " output_padding:is output_shape:is", rule: convTranspose)
    }

    /// Spatial output sizes of a window op over `input` (N, C, spatial...); nil when not computable.
    static func windowShape(_ ctx: InferenceContext, spatial: Shape, kernel: [Int], ceilMode: Bool = false) -> Shape? {
        let n = spatial.count
        guard kernel.count == n else { return nil }
        let strides = ctx.ints("strides") ?? Array(repeating: 1, count: n)
        let dilations = ctx.ints("dilations") ?? Array(repeating: 1, count: n)
        var pads = ctx.ints("pads") ?? Array(repeating: 0, count: 2 * n)
        guard strides.count == n, dilations.count == n, pads.count == 2 * n,
            ShapeMath.sane(strides + dilations + pads + kernel)
        else { return nil }
        let autoPad = ctx.string("auto_pad", default: "NOTSET")
        var out: Shape = []
        for i in 0..<n {
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                guard let v = spatial[i].value, v >= 0, strides[i] > 0 else {
                    out.append(.unknown)
                    continue
                }
                out.append(.known(v / strides[i] + (v % strides[i] == 0 ? 0 : 1)))
            default:
                if autoPad == "VALID" { pads = Array(repeating: 0, count: 2 * n) }
                out.append(
                    ShapeMath.windowOutput(
                        input: spatial[i], kernel: kernel[i], stride: strides[i],
                        dilation: dilations[i], padBegin: pads[i], padEnd: pads[i + n],
                        ceilMode: ceilMode))
            }
        }
        return out
    }

    static func conv(_ ctx: inout InferenceContext, outType: DType?, weight: Int = 1) {
        guard let x = ctx.shape(0), x.count >= 2 else {
            ctx.setOutput(0, outType, nil)
            return
        }
        let w = ctx.shape(weight)
        let spatialRank = x.count - 2
        let kernel = ctx.ints("kernel_shape") ?? w.flatMap { ws in ws.count == x.count ? Array(ws.dropFirst(2)).concrete : nil }
        let channels = w.flatMap { $0.first } ?? .unknown
        var out: Shape = [x[0], channels]
        if let kernel, let spatial = windowShape(ctx, spatial: Array(x.dropFirst(2)), kernel: kernel) {
            out += spatial
        } else {
            out += Array(repeating: .unknown, count: spatialRank)
        }
        ctx.setOutput(0, outType, out)
    }

    static let convTranspose: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), x.count >= 2 else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let n = x.count - 2
        let w = ctx.shape(1)
        let group = ctx.int("group", default: 1)
        var channels = Dim.unknown
        if let w, w.count >= 2 { channels = ShapeMath.mul(w[1], .known(group)) }
        var out: Shape = [x[0], channels]
        if let os = ctx.ints("output_shape"), os.count >= n {
            out += ShapeMath.dims(Array(os.suffix(n)))
            ctx.setOutput(0, dtype, out)
            return
        }
        let kernel = ctx.ints("kernel_shape") ?? w.flatMap { ws in ws.count == x.count ? Array(ws.dropFirst(2)).concrete : nil }
        let strides = ctx.ints("strides") ?? Array(repeating: 1, count: n)
        let dilations = ctx.ints("dilations") ?? Array(repeating: 1, count: n)
        let outputPadding = ctx.ints("output_padding") ?? Array(repeating: 0, count: n)
        let pads = ctx.ints("pads") ?? Array(repeating: 0, count: 2 * n)
        let autoPad = ctx.string("auto_pad", default: "NOTSET")
        guard let kernel, kernel.count == n, strides.count == n, dilations.count == n, outputPadding.count == n,
            pads.count == 2 * n, ShapeMath.sane(kernel + strides + dilations + outputPadding + pads)
        else {
            ctx.setOutput(0, dtype, out + Array(repeating: .unknown, count: n))
            return
        }
        for i in 0..<n {
            guard let v = x[i + 2].value, v >= 0, v < 1 << 31 else {
                out.append(.unknown)
                continue
            }
            if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                out.append(.known(v * strides[i]))
                continue
            }
            let p = autoPad == "VALID" ? 0 : pads[i] + pads[i + n]
            // With every value below 2^31 each term fits; the checked sum keeps that from being the only guard.
            guard let size = Checked.sumOrNil(strides[i] * (v - 1), outputPadding[i], (kernel[i] - 1) * dilations[i], 1, -p),
                size >= 0
            else {
                out.append(.unknown)
                continue
            }
            out.append(.known(size))
        }
        ctx.setOutput(0, dtype, out)
    }
}
