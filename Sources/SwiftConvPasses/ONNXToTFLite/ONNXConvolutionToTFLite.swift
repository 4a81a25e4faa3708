import SwiftConvIR

/// Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: the NHWC ops.
///
/// Each becomes its TFLite op on a channels-last input between two transposes; weights are
/// transposed once as constants (OIHW -> OHWI; depthwise OIHW -> [1, kh, kw, O]; grouped
/// convolutions one CONV_2D per group). 1-D ops run as 2-D ones on [N, 1, L, C]. ONNX's
/// explicit pads become TFLite's SAME when they are what SAME computes for the static input
/// size, and a PAD (PADV2 with the lowest float for max pooling) before a VALID op otherwise.
/// 3-D Conv and pools are in `ONNXVolumeToTFLite.swift`.
extension ONNXToTFLiteRules {
    static let convolution: [String: ToTFLiteRule] = [
        "Conv": lowerConv,
        "ConvTranspose": lowerConvTranspose,
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
        var explicitPads: [Int] // [top, left, bottom, right]

        var needsPad: Bool { explicitPads.contains { $0 != 0 } }
    }

    /// `lifted`: the node is 1-D, run as 2-D on [N, 1, L, C]; its attributes gain a unit H.
    static func window(_ l: ToTFLiteNode, kernel: [Int], spatial: [Int]?, ceilAllowed: Bool = false, lifted: Bool = false) throws -> Window
    {
        let strides = l.ints("strides").map { lift($0, lifted, pad: 1) } ?? [1, 1]
        let dilations = l.ints("dilations").map { lift($0, lifted, pad: 1) } ?? [1, 1]
        guard strides.count == 2, dilations.count == 2, strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw NotLowerable("strides \(strides) and dilations \(dilations) must be two positive numbers each")
        }
        let autoPad = l.string("auto_pad", "NOTSET")
        var pads = l.ints("pads").map { lifted && $0.count == 2 ? [0, Int($0[0]), 0, Int($0[1])] : $0.map { Int($0) } } ?? [0, 0, 0, 0]
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw NotLowerable("pads \(pads) must be four non-negative numbers") }
        if l.int("ceil_mode", 0) != 0 {
            // ceil_mode adds a last window that starts inside the (padded) input: as more
            // padding at the end, which only max pooling can take (it ignores the -inf pad).
            guard autoPad == "NOTSET", let spatial else {
                throw NotLowerable("ceil_mode=1 is lowered only with explicit pads and a static input size")
            }
            if !ceilAllowed {
                // Average pooling: TFLite's SAME leaves padding out of the count, as ONNX
                // (count_include_pad=0) does for the windows ceil_mode adds, when SAME puts
                // no padding in front and ends where ceil_mode ends.
                let same = samePads(spatial: spatial, kernel: kernel, strides: strides, dilations: dilations, upper: true)
                let sizes: [Int] = (0..<2).map { (i: Int) -> Int in
                    let effective: Int = (kernel[i] - 1) * dilations[i] + 1
                    let span: Int = spatial[i] + pads[i] + pads[i + 2] - effective
                    return (span + strides[i] - 1) / strides[i] + 1
                }
                guard pads.allSatisfy({ $0 == 0 }), l.int("count_include_pad", 0) == 0, same[0] == 0, same[1] == 0,
                    sizes == (0..<2).map({ (spatial[$0] + strides[$0] - 1) / strides[$0] })
                else {
                    throw NotLowerable(
                        "ceil_mode=1 average pooling is lowered only without pads and count_include_pad=0, where it is TFLite's SAME")
                }
                return Window(kernel: kernel, strides: strides, dilations: dilations, padding: "SAME", explicitPads: [0, 0, 0, 0])
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

    /// A 1-D attribute as the 2-D one of a [N, C, 1, L] input (`pad` for the unit H dim).
    static func lift(_ v: [Int64], _ lifted: Bool, pad: Int) -> [Int] {
        lifted && v.count == 1 ? [pad, Int(v[0])] : v.map { Int($0) }
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

    /// Whether max pooling over a SYMMETRIC mirror padding equals max pooling over -inf
    /// padding: checked window by window, every padded row (column) a window reaches must be
    /// a copy of a real one inside the same window. Such a pad keeps the value range, so int8
    /// quantization calibrates it as its input (a -FLT_MAX pad would give the padded tensor an
    /// unusable range).
    static func mirrorPadKeepsMaximum(_ pads: [Int], kernel: [Int], strides: [Int], spatial: [Int]) -> Bool {
        guard pads.count == 4, kernel.count == 2, strides.count == 2, spatial.count == 2 else { return false }
        for axis in 0..<2 {
            let (before, after, size, k, step) = (pads[axis], pads[axis + 2], spatial[axis], kernel[axis], strides[axis])
            guard before <= size, after <= size, step > 0, k > 0, size <= 1 << 20 else { return false }
            let length = before + size + after
            var start = 0
            while start + k <= length {
                for i in start..<(start + k) {
                    // The padded index i copies real row `source`, at padded index before + source.
                    let source: Int
                    if i < before {
                        source = before - 1 - i
                    } else if i >= before + size {
                        source = size - 1 - (i - before - size)
                    } else {
                        continue
                    }
                    let at = before + source
                    if at < start || at >= start + k { return false }
                }
                start += step
            }
        }
        return true
    }

    /// A PAD (or PADV2 with `value`) of an NHWC value by ONNX-order spatial pads.
    static func padNHWC(_ l: ToTFLiteNode, _ x: String, _ pads: [Int], value: Float? = nil) -> String {
        let paddings = l.int32s([0, 0, pads[0], pads[2], pads[1], pads[3], 0, 0], shape: [4, 2])
        if let value {
            return l.emit("PADV2", [x, paddings, l.floatConstant(Tensor(dtype: .float32, shape: [], values: [value]))])
        }
        return l.emit("PAD", [x, paddings])
    }

    /// Input 0 channels-last, as [N, H, W, C]: a 1-D [N, C, L] input becomes [N, 1, L, C].
    static func channelsLast2D(_ l: ToTFLiteNode, rank: Int) throws -> String {
        let x = l.toChannelsLast(try l.input(0), rank: rank)
        return rank == 3 ? l.emit("EXPAND_DIMS", [x, l.int32s([1], shape: [])]) : x
    }

    /// Binds an [N, H, W, C] result as the ONNX output, back to channels-first (and 1-D).
    static func bindChannelsFirst(_ l: ToTFLiteNode, _ y: String, rank: Int) throws {
        let y = rank == 3 ? l.emit("SQUEEZE", [y], attributes: [.ints("squeeze_dims", [1])]) : y
        try l.bind(0, l.toChannelsFirst(y, rank: rank))
    }

    /// The spatial dims of input 0 as 2-D ([1, L] for 1-D), or nil when unknown.
    static func spatial2D(_ l: ToTFLiteNode, rank: Int) -> [Int]? {
        l.spatialDims(0).map { rank == 3 ? [1] + $0 : $0 }
    }

    static func lowerConv(_ l: ToTFLiteNode) throws {
        let rank = try l.rank(0)
        if rank == 5 { return try lowerConv3D(l) }
        guard rank == 3 || rank == 4, l.elementType(0) == .float32 else {
            throw NotLowerable("only 1-D, 2-D and 3-D float32 convolutions are lowered")
        }
        guard var w = l.constant(1), w.shape.count == rank, w.dtype == .float32 else {
            throw NotLowerable("the filter must be a constant float32 [O, I/group, k...] tensor")
        }
        if rank == 3 { w.shape.insert(1, at: 2) }
        let outChannels = w.shape[0]
        let group = Int(l.int("group", 1))
        let inChannels = l.shape(0)?[1].value ?? w.shape[1] * group
        guard group >= 1, outChannels % group == 0, inChannels == w.shape[1] * group else {
            throw NotLowerable("group \(group) does not divide \(inChannels) input and \(outChannels) output channels")
        }
        let win = try window(l, kernel: [w.shape[2], w.shape[3]], spatial: spatial2D(l, rank: rank), lifted: rank == 3)
        var biasValues = [Float](repeating: 0, count: outChannels)
        if l.has(2) {
            guard let b = l.constant(2), let v = b.float32Values, v.count == outChannels else {
                throw NotLowerable("the bias must be a constant float32 vector of \(outChannels)")
            }
            biasValues = v
        }
        var x = try channelsLast2D(l, rank: rank)
        if win.needsPad { x = padNHWC(l, x, win.explicitPads) }
        var attributes: [Attribute] = [
            .string("padding", win.padding), .int("stride_h", Int64(win.strides[0])), .int("stride_w", Int64(win.strides[1])),
            .int("dilation_h_factor", Int64(win.dilations[0])), .int("dilation_w_factor", Int64(win.dilations[1])),
            .string("fused_activation_function", "NONE"),
        ]
        let bias = { (values: ArraySlice<Float>) -> String in
            l.floatConstant(Tensor(dtype: .float32, shape: [values.count], values: Array(values)))
        }
        let y: String
        if group == 1 {
            guard let filter = w.transposed([0, 2, 3, 1]) else { throw NotLowerable("the filter cannot be transposed") }
            y = l.emit(
                "CONV_2D", [x, l.floatConstant(filter, (l.node.inputs[1]) + "_ohwi"), bias(biasValues[...])], attributes: attributes)
        } else if group == inChannels, w.shape[1] == 1 {
            guard let filter = w.transposed([1, 2, 3, 0]) else { throw NotLowerable("the filter cannot be transposed") }
            attributes.append(.int("depth_multiplier", Int64(outChannels / group)))
            y = l.emit(
                "DEPTHWISE_CONV_2D", [x, l.floatConstant(filter, (l.node.inputs[1]) + "_1hwo"), bias(biasValues[...])],
                attributes: attributes)
        } else {
            // Grouped: one CONV_2D per group on its channels, joined again (LiteRT's CONV_2D
            // takes fewer filter channels than input channels in its reference kernel only).
            guard let filter = w.transposed([0, 2, 3, 1]), let values = filter.float32Values else {
                throw NotLowerable("the filter cannot be transposed")
            }
            let parts = l.emit("SPLIT", [l.int32s([3], shape: []), x], outputs: group, attributes: [.int("num_splits", Int64(group))])
            let perGroup = outChannels / group
            let size = values.count / group
            var results: [String] = []
            for (k, part) in parts.enumerated() {
                let slice = Tensor(
                    dtype: .float32, shape: [perGroup] + Array(filter.shape[1...]), values: Array(values[(k * size)..<((k + 1) * size)]))
                results.append(
                    l.emit(
                        "CONV_2D", [part, l.floatConstant(slice), bias(biasValues[(k * perGroup)..<((k + 1) * perGroup)])],
                        attributes: attributes))
            }
            y = l.emit("CONCATENATION", results, attributes: [.int("axis", 3), .string("fused_activation_function", "NONE")])
        }
        try bindChannelsFirst(l, y, rank: rank)
    }

    /// ConvTranspose as TRANSPOSE_CONV: one per group (a SPLIT of the channels before, a
    /// CONCATENATION after), dilations as a filter with zeros between its taps. It computes the
    /// full result (VALID, grown by the rows of bias alone that output_padding adds past it) or
    /// TFLite's SAME crop when that is the ONNX pads'; other pads crop the full result with a
    /// STRIDED_SLICE. With spatial dims unknown, TRANSPOSE_CONV's output shape is computed from
    /// the input's at run time (auto_pad SAME_* pads do not depend on the input size).
    static func lowerConvTranspose(_ l: ToTFLiteNode) throws {
        guard try l.rank(0) == 4, l.elementType(0) == .float32, let inShape = l.shape(0) else {
            throw NotLowerable("only 2-D float32 transposed convolutions are lowered")
        }
        guard var w = l.constant(1), w.shape.count == 4, w.dtype == .float32 else {
            throw NotLowerable("the filter must be a constant float32 [C_in, C_out/group, kH, kW] tensor")
        }
        let group = Int(l.int("group", 1))
        let cIn = w.shape[0]
        guard group >= 1, cIn % group == 0, inShape[1].value.map({ $0 == cIn }) ?? true else {
            throw NotLowerable("group \(group) does not divide the filter's \(cIn) input channels")
        }
        let cOut = w.shape[1] * group
        let strides = l.ints("strides")?.map { Int($0) } ?? [1, 1]
        let dilations = l.ints("dilations")?.map { Int($0) } ?? [1, 1]
        guard strides.count == 2, strides.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }), dilations.count == 2,
            dilations.allSatisfy({ $0 > 0 && $0 <= 1 << 16 })
        else { throw NotLowerable("strides \(strides) and dilations \(dilations) must be two positive numbers each") }
        if dilations != [1, 1] { w = try dilatedFilter(w, dilations) }
        let kernel = [w.shape[2], w.shape[3]]
        let outputPadding = l.ints("output_padding")?.map { Int($0) } ?? [0, 0]
        guard outputPadding.count == 2, (0..<2).allSatisfy({ outputPadding[$0] >= 0 && outputPadding[$0] < strides[$0] }) else {
            throw NotLowerable("output_padding \(outputPadding) must be two numbers below the strides \(strides)")
        }
        let input = [inShape[2].value, inShape[3].value]
        let full: [Int?] = (0..<2).map { i in input[i].map { strides[i] * ($0 - 1) + kernel[i] } }
        var pads = l.ints("pads")?.map { Int($0) } ?? [0, 0, 0, 0]
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw NotLowerable("pads \(pads) must be four non-negative numbers") }
        switch l.string("auto_pad", "NOTSET") {
        case "NOTSET": break
        case "VALID": pads = [0, 0, 0, 0]
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            // The output is input · stride, so the total padding is kernel − stride + output_padding.
            for i in 0..<2 {
                let total = kernel[i] - strides[i] + outputPadding[i]
                guard total >= 0 else { throw NotLowerable("auto_pad \(mode) with a kernel smaller than the stride crops nothing") }
                pads[i] = mode == "SAME_UPPER" ? total / 2 : total - total / 2
                pads[i + 2] = total - pads[i]
            }
        case let mode: throw NotLowerable("auto_pad '\(mode)' is unknown")
        }
        if let given = l.ints("output_shape")?.map({ Int($0) }) {
            let wanted = Array(given.suffix(2))
            guard wanted.count == 2, let fullH = full[0], let fullW = full[1] else {
                throw NotLowerable("output_shape needs the two spatial sizes and a static input size")
            }
            for (i, f) in [fullH, fullW].enumerated() {
                let total = f + outputPadding[i] - wanted[i]
                guard total >= 0 else { throw NotLowerable("output_shape \(given) is larger than the full result") }
                pads[i] = total - total / 2
                pads[i + 2] = total / 2
            }
        }
        // Rows of bias alone past the full result, and the rows cut from its end.
        let extra = (0..<2).map { max(0, outputPadding[$0] - pads[$0 + 2]) }
        let trim = (0..<2).map { max(0, pads[$0 + 2] - outputPadding[$0]) }
        if let fullH = full[0], let fullW = full[1] {
            guard fullH + extra[0] - pads[0] - trim[0] > 0, fullW + extra[1] - pads[1] - trim[1] > 0 else {
                throw NotLowerable("pads \(pads) leave no output")
            }
        }
        var biasValues = [Float](repeating: 0, count: cOut)
        if l.has(2) {
            guard let b = l.constant(2), let v = b.float32Values, v.count == cOut else {
                throw NotLowerable("the bias must be a constant float32 vector of \(cOut)")
            }
            biasValues = v
        }
        guard let filterValues = w.float32Values else { throw NotLowerable("the filter cannot be read") }
        let x = l.toChannelsLast(try l.input(0), rank: 4)
        // TFLite's SAME crops total/2 in front of an output of ceil(out/stride) input rows.
        var same = false
        if let inH = input[0], let inW = input[1], let fullH = full[0], let fullW = full[1], extra == [0, 0] {
            let inputs: [Int] = [inH, inW]
            let fulls: [Int] = [fullH, fullW]
            same = (0..<2).allSatisfy { (i: Int) -> Bool in
                let out: Int = fulls[i] - pads[i] - trim[i]
                let rows: Int = (out + strides[i] - 1) / strides[i]
                return rows == inputs[i] && (fulls[i] - out) / 2 == pads[i]
            }
        }
        let crop = !same && (pads[0] != 0 || pads[1] != 0 || trim != [0, 0])
        let perGroupOut = cOut / group
        let shape = try transposeConvShape(
            l, x, strides: strides, kernel: kernel, grow: same ? [-pads[0] - trim[0], -pads[1] - trim[1]] : extra, channels: perGroupOut)
        let parts =
            group == 1
            ? [x] : l.emit("SPLIT", [l.int32s([3], shape: []), x], outputs: group, attributes: [.int("num_splits", Int64(group))])
        let perGroupIn = cIn / group
        let size = perGroupIn * perGroupOut * kernel[0] * kernel[1]
        var results: [String] = []
        for (g, part) in parts.enumerated() {
            let slice = Tensor(
                dtype: .float32, shape: [perGroupIn, perGroupOut, kernel[0], kernel[1]],
                values: Array(filterValues[(g * size)..<((g + 1) * size)]))
            guard let filter = slice.transposed([1, 2, 3, 0]) else { throw NotLowerable("the filter cannot be transposed") }
            let bias = Tensor(dtype: .float32, shape: [perGroupOut], values: Array(biasValues[(g * perGroupOut)..<((g + 1) * perGroupOut)]))
            results.append(
                l.emit(
                    "TRANSPOSE_CONV", [shape, l.floatConstant(filter, l.node.inputs[1] + "_ohwi"), part, l.floatConstant(bias)],
                    attributes: [
                        .string("padding", same ? "SAME" : "VALID"), .int("stride_h", Int64(strides[0])),
                        .int("stride_w", Int64(strides[1])), .string("fused_activation_function", "NONE"),
                    ]))
        }
        var y = group == 1 ? results[0] : concatenate(l, results, axis: 3)
        if crop {
            // Rows [pad_begin, size − trim) of H and W; N and C whole (mask bits 0 and 3).
            var endMask = 0b1001
            if trim[0] == 0 { endMask |= 0b10 }
            if trim[1] == 0 { endMask |= 0b100 }
            y = l.emit(
                "STRIDED_SLICE",
                [y, l.int32s([0, pads[0], pads[1], 0]), l.int32s([0, -trim[0], -trim[1], 0]), l.int32s([1, 1, 1, 1])],
                attributes: [
                    .int("begin_mask", 0b1001), .int("end_mask", Int64(endMask)), .int("ellipsis_mask", 0), .int("new_axis_mask", 0),
                    .int("shrink_axis_mask", 0), .int("offset", 0),
                ])
        }
        try l.bind(0, l.toChannelsFirst(y, rank: 4))
    }

    /// TRANSPOSE_CONV's int32 output shape [N, stride·(H − 1) + kH + grow, …, channels]: a
    /// constant when N, H and W are known, else computed from the SHAPE of the NHWC input.
    static func transposeConvShape(
        _ l: ToTFLiteNode, _ x: String, strides: [Int], kernel: [Int], grow: [Int], channels: Int
    ) throws -> String {
        if let dims = l.staticShape(0) {
            let h = strides[0] * (dims[2] - 1) + kernel[0] + grow[0]
            let w = strides[1] * (dims[3] - 1) + kernel[1] + grow[1]
            return l.int32s([dims[0], h, w, channels])
        }
        let scaled = binary(l, "MUL", shapeOf(l, x), l.int32s([1, strides[0], strides[1], 0]))
        let offset = l.int32s([0, kernel[0] - strides[0] + grow[0], kernel[1] - strides[1] + grow[1], channels])
        return binary(l, "ADD", scaled, offset)
    }

    /// A [C_in, C_out, kH, kW] filter with dilation − 1 zeros between its taps: the filter of the
    /// same transposed convolution without dilation.
    static func dilatedFilter(_ w: Tensor, _ dilations: [Int]) throws -> Tensor {
        guard let v = w.float32Values else { throw NotLowerable("the filter cannot be read") }
        let (planes, kh, kw) = (w.shape[0] * w.shape[1], w.shape[2], w.shape[3])
        let (dh, dw) = ((kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1)
        guard planes * dh * dw <= 1 << 28 else { throw NotLowerable("the dilated filter would be too large") }
        var out = [Float](repeating: 0, count: planes * dh * dw)
        for p in 0..<planes {
            for i in 0..<kh {
                for j in 0..<kw { out[(p * dh + i * dilations[0]) * dw + j * dilations[1]] = v[(p * kh + i) * kw + j] }
            }
        }
        return Tensor(dtype: .float32, shape: [w.shape[0], w.shape[1], dh, dw], values: out)
    }

    static func lowerPool(_ l: ToTFLiteNode, max: Bool) throws {
        let rank = try l.rank(0)
        if rank == 5 { return try lowerPool3D(l, max: max) }
        guard rank == 3 || rank == 4, l.elementType(0) == .float32 else {
            throw NotLowerable("only 1-D, 2-D and 3-D float32 pooling is lowered")
        }
        guard let given = l.ints("kernel_shape"), given.count == rank - 2 else {
            throw NotLowerable("kernel_shape must have \(rank - 2) dims")
        }
        let k = lift(given, rank == 3, pad: 1)
        if l.node.outputs.count > 1, !l.node.outputs[1].isEmpty { throw NotLowerable("MaxPool's Indices output has no TFLite form") }
        if l.int("storage_order", 0) != 0 { throw NotLowerable("storage_order=1 has no TFLite form") }
        let spatial = spatial2D(l, rank: rank)
        let win = try window(l, kernel: k, spatial: spatial, ceilAllowed: max, lifted: rank == 3)
        guard win.dilations == [1, 1] else { throw NotLowerable("dilated pooling has no TFLite form") }
        var x = try channelsLast2D(l, rank: rank)
        if win.needsPad {
            if !max && l.int("count_include_pad", 0) == 0 {
                throw NotLowerable(
                    "average pooling with pads \(win.explicitPads) that are not SAME and count_include_pad=0 has no TFLite form")
            }
            if max, let spatial, mirrorPadKeepsMaximum(win.explicitPads, kernel: k, strides: win.strides, spatial: spatial) {
                x = l.emit(
                    "MIRROR_PAD",
                    [
                        x,
                        l.int32s(
                            [0, 0, win.explicitPads[0], win.explicitPads[2], win.explicitPads[1], win.explicitPads[3], 0, 0], shape: [4, 2]),
                    ],
                    attributes: [.string("mode", "SYMMETRIC")])
            } else {
                x = padNHWC(l, x, win.explicitPads, value: max ? -Float.greatestFiniteMagnitude : nil)
            }
        } else if !max, win.padding == "SAME", l.int("count_include_pad", 0) != 0 {
            // TFLite's SAME average leaves padding out of the count.
            x = padNHWC(l, x, samePads(spatial: spatial ?? [], kernel: k, strides: win.strides, dilations: [1, 1], upper: true))
            return try finishPool(l, x, win, max: max, padding: "VALID", rank: rank)
        }
        try finishPool(l, x, win, max: max, padding: win.padding, rank: rank)
    }

    private static func finishPool(_ l: ToTFLiteNode, _ x: String, _ win: Window, max: Bool, padding: String, rank: Int) throws {
        let y = l.emit(
            max ? "MAX_POOL_2D" : "AVERAGE_POOL_2D", [x],
            attributes: [
                .string("padding", padding), .int("stride_h", Int64(win.strides[0])), .int("stride_w", Int64(win.strides[1])),
                .int("filter_height", Int64(win.kernel[0])), .int("filter_width", Int64(win.kernel[1])),
                .string("fused_activation_function", "NONE"),
            ])
        try bindChannelsFirst(l, y, rank: rank)
    }

    static func lowerGlobalPool(_ l: ToTFLiteNode, op: String) throws {
        let rank = try l.rank(0)
        guard rank >= 3, l.elementType(0) == .float32 else { throw NotLowerable("needs a float32 input of rank 3 or more") }
        let x = l.toChannelsLast(try l.input(0), rank: rank)
        let y = l.emit(op, [x, l.int32s(Array(1..<(rank - 1)))], attributes: [.int("keep_dims", 1)])
        try l.bind(0, l.toChannelsFirst(y, rank: rank))
    }
}
