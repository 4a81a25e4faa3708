import SwiftConvIR

/// Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: the NHWC ops.
///
/// Each becomes its TFLite op on a channels-last input between two transposes; weights are
/// transposed once as constants (OIHW -> OHWI; depthwise OIHW -> [1, kh, kw, O]). ONNX's
/// explicit pads become TFLite's SAME when they are what SAME computes for the static input
/// size, and a PAD (PADV2 with the lowest float for max pooling) before a VALID op otherwise.
extension ONNXToTFLiteRules {
    static let convolution: [String: ToTFLiteRule] = [
        "Conv": lowerConv,
        "MaxPool": { l in try lowerPool(l, max: true) },
        "AveragePool": { l in try lowerPool(l, max: false) },
        "GlobalAveragePool": { l in try lowerGlobalPool(l, op: "MEAN") },
        "GlobalMaxPool": { l in try lowerGlobalPool(l, op: "REDUCE_MAX") },
    ]

    /// The 2-D window of a Conv or pool: kernel, strides, dilations and the TFLite padding,
    /// with the explicit pads that padding cannot express (all zero when it can).
    struct Window {
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int]
        var padding: String
        var explicitPads: [Int]  // [top, left, bottom, right]

        var needsPad: Bool { explicitPads.contains { $0 != 0 } }
    }

    static func window(_ l: ToTFLiteNode, kernel: [Int], spatial: [Int]?, ceilAllowed: Bool = false) throws -> Window {
        let strides = l.ints("strides")?.map { Int($0) } ?? [1, 1]
        let dilations = l.ints("dilations")?.map { Int($0) } ?? [1, 1]
        guard strides.count == 2, dilations.count == 2, strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw NotLowerable("strides \(strides) and dilations \(dilations) must be two positive numbers each")
        }
        let autoPad = l.string("auto_pad", "NOTSET")
        var pads = l.ints("pads")?.map { Int($0) } ?? [0, 0, 0, 0]
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw NotLowerable("pads \(pads) must be four non-negative numbers") }
        if l.int("ceil_mode", 0) != 0 {
            // ceil_mode adds a last window that starts inside the (padded) input: as more
            // padding at the end, which only max pooling can take (it ignores the -inf pad).
            guard ceilAllowed, autoPad == "NOTSET", let spatial else {
                throw NotLowerable("ceil_mode=1 is lowered only for max pooling with explicit pads and a static input size")
            }
            for i in 0..<2 {
                let effective = (kernel[i] - 1) * dilations[i] + 1
                let span = spatial[i] + pads[i] + pads[i + 2] - effective
                guard span >= 0 else { throw NotLowerable("the window is larger than the padded input") }
                var out = (span + strides[i] - 1) / strides[i] + 1
                // ONNX drops a last window that would start in the end padding.
                if (out - 1) * strides[i] >= spatial[i] + pads[i] { out -= 1 }
                pads[i + 2] += max((out - 1) * strides[i] + effective - (spatial[i] + pads[i] + pads[i + 2]), 0)
            }
            return Window(kernel: kernel, strides: strides, dilations: dilations, padding: "VALID", explicitPads: pads)
        }
        switch autoPad {
        case "VALID": return Window(kernel: kernel, strides: strides, dilations: dilations, padding: "VALID", explicitPads: [0, 0, 0, 0])
        case "SAME_UPPER":
            return Window(kernel: kernel, strides: strides, dilations: dilations, padding: "SAME", explicitPads: [0, 0, 0, 0])
        case "SAME_LOWER":
            guard let spatial else { throw NotLowerable("auto_pad SAME_LOWER needs a static input size") }
            pads = samePads(spatial: spatial, kernel: kernel, strides: strides, dilations: dilations, upper: false)
        case "NOTSET": break
        default: throw NotLowerable("auto_pad '\(autoPad)' is unknown")
        }
        if pads.allSatisfy({ $0 == 0 }) {
            return Window(kernel: kernel, strides: strides, dilations: dilations, padding: "VALID", explicitPads: [0, 0, 0, 0])
        }
        // Pads that equal TFLite's SAME for this input size need no PAD op.
        if let spatial, pads == samePads(spatial: spatial, kernel: kernel, strides: strides, dilations: dilations, upper: true) {
            return Window(kernel: kernel, strides: strides, dilations: dilations, padding: "SAME", explicitPads: [0, 0, 0, 0])
        }
        return Window(kernel: kernel, strides: strides, dilations: dilations, padding: "VALID", explicitPads: pads)
    }

    /// ONNX-order pads [top, left, bottom, right] of SAME padding (extra pixel at the end when
    /// `upper`, as TFLite and SAME_UPPER do).
    static func samePads(spatial: [Int], kernel: [Int], strides: [Int], dilations: [Int], upper: Bool) -> [Int] {
        var begin: [Int] = []
        var end: [Int] = []
        for i in 0..<2 {
            let out = (spatial[i] + strides[i] - 1) / strides[i]
            let effective = (kernel[i] - 1) * dilations[i] + 1
            let total = max((out - 1) * strides[i] + effective - spatial[i], 0)
            begin.append(upper ? total / 2 : total - total / 2)
            end.append(total - begin[i])
        }
        return begin + end
    }

    /// A PAD (or PADV2 with `value`) of an NHWC value by ONNX-order spatial pads.
    static func padNHWC(_ l: ToTFLiteNode, _ x: String, _ pads: [Int], value: Float? = nil) -> String {
        let paddings = l.int32s([0, 0, pads[0], pads[2], pads[1], pads[3], 0, 0], shape: [4, 2])
        if let value {
            return l.emit("PADV2", [x, paddings, l.floatConstant(Tensor(dtype: .float32, shape: [], values: [value]))])
        }
        return l.emit("PAD", [x, paddings])
    }

    static func lowerConv(_ l: ToTFLiteNode) throws {
        guard try l.rank(0) == 4, l.elementType(0) == .float32 else {
            throw NotLowerable("only 2-D float32 convolutions are lowered so far")
        }
        guard let w = l.constant(1), w.shape.count == 4, w.dtype == .float32 else {
            throw NotLowerable("the filter must be a constant float32 [O, I/group, kH, kW] tensor")
        }
        let outChannels = w.shape[0]
        let group = Int(l.int("group", 1))
        let inChannels = l.shape(0)?[1].value ?? w.shape[1] * group
        let spatial = l.spatialDims(0)
        let win = try window(l, kernel: [w.shape[2], w.shape[3]], spatial: spatial)
        let bias: String
        if l.has(2) {
            guard let b = l.constant(2), b.dtype == .float32, b.elementCount == outChannels else {
                throw NotLowerable("the bias must be a constant float32 vector of \(outChannels)")
            }
            bias = try l.input(2)
            _ = b
        } else {
            bias = l.floatConstant(Tensor(dtype: .float32, shape: [outChannels], values: [Float](repeating: 0, count: outChannels)))
        }
        var x = l.toChannelsLast(try l.input(0), rank: 4)
        if win.needsPad { x = padNHWC(l, x, win.explicitPads) }
        var attributes: [Attribute] = [
            .string("padding", win.padding), .int("stride_h", Int64(win.strides[0])), .int("stride_w", Int64(win.strides[1])),
            .int("dilation_h_factor", Int64(win.dilations[0])), .int("dilation_w_factor", Int64(win.dilations[1])),
            .string("fused_activation_function", "NONE"),
        ]
        let y: String
        if group == 1 {
            guard let filter = w.transposed([0, 2, 3, 1]) else { throw NotLowerable("the filter cannot be transposed") }
            y = l.emit("CONV_2D", [x, l.floatConstant(filter, (l.node.inputs[1]) + "_ohwi"), bias], attributes: attributes)
        } else if group == inChannels, w.shape[1] == 1, outChannels % group == 0 {
            guard let filter = w.transposed([1, 2, 3, 0]) else { throw NotLowerable("the filter cannot be transposed") }
            attributes.append(.int("depth_multiplier", Int64(outChannels / group)))
            y = l.emit("DEPTHWISE_CONV_2D", [x, l.floatConstant(filter, (l.node.inputs[1]) + "_1hwo"), bias], attributes: attributes)
        } else {
            throw NotLowerable("grouped convolution (group \(group) of \(inChannels) channels) is not lowered yet")
        }
        try l.bind(0, l.toChannelsFirst(y, rank: 4))
    }

    static func lowerPool(_ l: ToTFLiteNode, max: Bool) throws {
        guard try l.rank(0) == 4, l.elementType(0) == .float32 else { throw NotLowerable("only 2-D float32 pooling is lowered so far") }
        guard let k = l.ints("kernel_shape")?.map({ Int($0) }), k.count == 2 else { throw NotLowerable("kernel_shape must have two dims") }
        if l.node.outputs.count > 1, !l.node.outputs[1].isEmpty { throw NotLowerable("MaxPool's Indices output has no TFLite form") }
        if l.int("storage_order", 0) != 0 { throw NotLowerable("storage_order=1 has no TFLite form") }
        let spatial = l.spatialDims(0)
        let win = try window(l, kernel: k, spatial: spatial, ceilAllowed: max)
        guard win.dilations == [1, 1] else { throw NotLowerable("dilated pooling has no TFLite form") }
        var x = l.toChannelsLast(try l.input(0), rank: 4)
        if win.needsPad {
            if !max && l.int("count_include_pad", 0) == 0 {
                throw NotLowerable("average pooling with pads \(win.explicitPads) that are not SAME and count_include_pad=0 has no TFLite form")
            }
            x = padNHWC(l, x, win.explicitPads, value: max ? -Float.greatestFiniteMagnitude : nil)
        } else if !max, win.padding == "SAME", l.int("count_include_pad", 0) != 0 {
            // TFLite's SAME average leaves padding out of the count.
            x = padNHWC(l, x, samePads(spatial: spatial ?? [], kernel: k, strides: win.strides, dilations: [1, 1], upper: true))
            return try finishPool(l, x, win, max: max, padding: "VALID")
        }
        try finishPool(l, x, win, max: max, padding: win.padding)
    }

    private static func finishPool(_ l: ToTFLiteNode, _ x: String, _ win: Window, max: Bool, padding: String) throws {
        let y = l.emit(
            max ? "MAX_POOL_2D" : "AVERAGE_POOL_2D", [x],
            attributes: [
                .string("padding", padding), .int("stride_h", Int64(win.strides[0])), .int("stride_w", Int64(win.strides[1])),
                .int("filter_height", Int64(win.kernel[0])), .int("filter_width", Int64(win.kernel[1])),
                .string("fused_activation_function", "NONE"),
            ])
        try l.bind(0, l.toChannelsFirst(y, rank: 4))
    }

    static func lowerGlobalPool(_ l: ToTFLiteNode, op: String) throws {
        let rank = try l.rank(0)
        guard rank >= 3, l.elementType(0) == .float32 else { throw NotLowerable("needs a float32 input of rank 3 or more") }
        let x = l.toChannelsLast(try l.input(0), rank: rank)
        let y = l.emit(op, [x, l.int32s(Array(1..<(rank - 1)))], attributes: [.int("keep_dims", 1)])
        try l.bind(0, l.toChannelsFirst(y, rank: rank))
    }
}
