/// TFLite's convolutions and matrix products (domain `tflite`, NHWC): CONV_2D, DEPTHWISE_CONV_2D,
/// TRANSPOSE_CONV, CONV_3D (NDHWC), FULLY_CONNECTED, BATCH_MATMUL. Attributes are the builtin options fields.
enum TFLiteConvOps {
    static let conv2D =
        "padding:s stride_w:i stride_h:i fused_activation_function:s dilation_w_factor:i dilation_h_factor:i"
        + " quantized_bias_type:s"

    static func register(into r: inout OpRegistry) {
        let tfl = OpDomain.tflite
        r.add("CONV_2D", domain: tfl, since: [1], inputs: "11?", outputs: "1", attributes: conv2D) { ctx in
            window(&ctx, channels: ctx.shape(1)?.first, filter: ctx.shape(1).map { Array($0.dropFirst().prefix(2)) })
        }
        r.add(
            "DEPTHWISE_CONV_2D", domain: tfl, since: [1], inputs: "11?", outputs: "1",
            attributes:
                "padding:s stride_w:i stride_h:i depth_multiplier:i fused_activation_function:s dilation_w_factor:i"
                + " dilation_h_factor:i"
        ) { ctx in
            window(&ctx, channels: ctx.shape(1)?.last, filter: ctx.shape(1).map { Array($0.dropFirst().prefix(2)) })
        }
        r.add(
            "TRANSPOSE_CONV", domain: tfl, since: [1], inputs: "111?", outputs: "1",
            attributes: "padding:s stride_w:i stride_h:i fused_activation_function:s quantized_bias_type:s"
        ) { ctx in
            // The output shape is input 0's value.
            if let dims = ctx.values(0), dims.count == 4 {
                ctx.setOutput(0, ctx.dtype(2), dims)
            } else {
                ctx.setOutput(0, ctx.dtype(2), ShapeMath.unknownShape(rank: 4))
            }
        }
        r.add(
            "CONV_3D", domain: tfl, since: [1], inputs: "11?", outputs: "1",
            attributes:
                "padding:s stride_d:i stride_w:i stride_h:i fused_activation_function:s dilation_d_factor:i dilation_w_factor:i"
                + " dilation_h_factor:i"
        ) { ctx in
            // NDHWC input, [kD, kH, kW, C_in, C_out] filter.
            let dtype = ctx.dtype(0)
            guard let x = ctx.shape(0), x.count == 5 else {
                ctx.setOutput(0, dtype, ShapeMath.unknownShape(rank: 5))
                return
            }
            let f = ctx.shape(1)
            let padding = ctx.string("padding", default: "SAME")
            var out: Shape = [x[0]]
            for (i, axis) in ["d", "h", "w"].enumerated() {
                out.append(
                    extent(
                        x[1 + i], filter: f.map { $0.count == 5 ? $0[i] : .unknown } ?? .unknown,
                        stride: ctx.int("stride_\(axis)", default: 1),
                        dilation: ctx.int("dilation_\(axis)_factor", default: 1), padding: padding))
            }
            out.append(f.map { $0.count == 5 ? $0[4] : .unknown } ?? .unknown)
            ctx.setOutput(0, dtype, out)
        }
        r.add(
            "FULLY_CONNECTED", domain: tfl, since: [1], inputs: "11?", outputs: "1",
            attributes:
                "fused_activation_function:s weights_format:s keep_num_dims:i asymmetric_quantize_inputs:i"
                + " quantized_bias_type:s", rule: fullyConnected)
        r.add(
            "BATCH_MATMUL", domain: tfl, since: [1], inputs: "11", outputs: "1",
            attributes: "adj_x:i adj_y:i asymmetric_quantize_inputs:i", rule: batchMatMul)
    }

    /// TFLite's output extent of a window op along one axis: ceil(in / stride) for SAME,
    /// floor((in - dilated filter) / stride) + 1 for VALID.
    static func extent(_ input: Dim, filter: Dim, stride: Int, dilation: Int, padding: String) -> Dim {
        guard let n = input.value, stride > 0, stride < 1 << 31 else { return .unknown }
        if padding == "SAME" { return .known(n / stride + (n % stride == 0 ? 0 : 1)) }
        guard let f = filter.value, padding == "VALID" else { return .unknown }
        return ShapeMath.windowOutput(input: input, kernel: f, stride: stride, dilation: dilation, padBegin: 0, padEnd: 0)
    }

    /// `[N, OH, OW, channels]` of a conv or pool over an NHWC input 0; filter holds (KH, KW).
    static func window(_ ctx: inout InferenceContext, channels: Dim?, filter: [Dim]?) {
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), x.count == 4 else {
            ctx.setOutput(0, dtype, ShapeMath.unknownShape(rank: 4))
            return
        }
        let padding = ctx.string("padding", default: "SAME")
        let strides = [ctx.int("stride_h", default: 1), ctx.int("stride_w", default: 1)]
        let dilations = [ctx.int("dilation_h_factor", default: 1), ctx.int("dilation_w_factor", default: 1)]
        let f = filter ?? [.unknown, .unknown]
        var out: Shape = [x[0]]
        for i in 0..<2 {
            out.append(
                extent(x[1 + i], filter: i < f.count ? f[i] : .unknown, stride: strides[i], dilation: dilations[i], padding: padding))
        }
        out.append(channels ?? .unknown)
        ctx.setOutput(0, dtype, out)
    }

    static let fullyConnected: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let units = ctx.shape(1)?.first ?? .unknown
        guard let x = ctx.shape(0), !x.isEmpty else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        if ctx.int("keep_num_dims", default: 0) != 0 {
            ctx.setOutput(0, dtype, Array(x.dropLast()) + [units])
            return
        }
        var batch = Dim.unknown
        if let depth = ctx.shape(1)?.last?.value, depth > 0, let total = ShapeMath.product(x), total.symbols.isEmpty,
            total.known % depth == 0
        {
            batch = .known(total.known / depth)
        }
        ctx.setOutput(0, dtype, [batch, units])
    }

    static let batchMatMul: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        guard let x = ctx.shape(0), let y = ctx.shape(1), x.count >= 2, y.count >= 2 else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        let m = ctx.int("adj_x", default: 0) != 0 ? x[x.count - 1] : x[x.count - 2]
        let n = ctx.int("adj_y", default: 0) != 0 ? y[y.count - 2] : y[y.count - 1]
        guard let batch = ShapeMath.broadcast(Array(x.dropLast(2)), Array(y.dropLast(2))) else {
            ctx.setOutput(0, dtype, nil)
            return
        }
        ctx.setOutput(0, dtype, batch + [m, n])
    }
}
