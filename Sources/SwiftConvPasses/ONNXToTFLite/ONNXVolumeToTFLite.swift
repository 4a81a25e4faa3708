import SwiftConvIR

/// 3-D Conv and pooling on NCDHW inputs, reached through the Conv and pool rules for rank 5.
///
/// Conv becomes CONV_3D on an NDHWC input (filter [kD, kH, kW, C_in, C_out]). TFLite has no
/// builtin 3-D pooling, but a 3-D max or average is the same reduction over H and W and then
/// over D: a 2-D pool on [N·D, H, W, C], then one with a (kD, 1) window on [N, D, H'·W', C].
/// Explicit pads are a PAD (PADV2 with the lowest float for max pooling) before VALID ops.
extension ONNXToTFLiteRules {
    /// The 3-D window attributes of a Conv or pool: strides, dilations and [begin, end] pads
    /// per spatial axis, from explicit pads or auto_pad.
    struct Window3D {
        var strides: [Int]
        var dilations: [Int]
        var pads: [(Int, Int)]
        /// TFLite's SAME computes exactly these pads (so no PAD is needed).
        var isSame: Bool

        var hasPads: Bool { pads.contains { $0.0 != 0 || $0.1 != 0 } }
    }

    static func window3D(_ l: ToTFLiteNode, kernel: [Int]) throws -> Window3D {
        let strides = l.ints("strides")?.map { Int($0) } ?? [1, 1, 1]
        let dilations = l.ints("dilations")?.map { Int($0) } ?? [1, 1, 1]
        guard strides.count == 3, dilations.count == 3, (strides + dilations).allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else {
            throw NotLowerable("strides \(strides) and dilations \(dilations) must be three positive numbers each")
        }
        guard l.int("ceil_mode", 0) == 0 else { throw NotLowerable("ceil_mode=1 is not lowered for 3-D pooling") }
        let given = l.ints("pads")?.map { Int($0) } ?? [0, 0, 0, 0, 0, 0]
        guard given.count == 6, given.allSatisfy({ $0 >= 0 }) else { throw NotLowerable("pads \(given) must be six non-negative numbers") }
        var pads = (0..<3).map { (given[$0], given[$0 + 3]) }
        let spatial = l.spatialDims(0)
        // TFLite's SAME pads (extra at the end) for this input, when its size is known.
        let same: [(Int, Int)]? = spatial.map { dims in
            (0..<3).map { (i: Int) -> (Int, Int) in
                let out = (dims[i] + strides[i] - 1) / strides[i]
                let total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - dims[i], 0)
                return (total / 2, total - total / 2)
            }
        }
        switch l.string("auto_pad", "NOTSET") {
        case "NOTSET": break
        case "VALID": pads = [(0, 0), (0, 0), (0, 0)]
        case "SAME_UPPER":
            guard let same else { return Window3D(strides: strides, dilations: dilations, pads: [], isSame: true) }
            pads = same
        case "SAME_LOWER":
            guard let same else { throw NotLowerable("auto_pad SAME_LOWER needs a static input size") }
            pads = same.map { ($0.1, $0.0) }
        case let mode: throw NotLowerable("auto_pad '\(mode)' is unknown")
        }
        let isSame = same.map { s in (0..<3).allSatisfy { s[$0] == pads[$0] } } ?? false
        return Window3D(strides: strides, dilations: dilations, pads: pads, isSame: isSame)
    }

    /// PAD (or PADV2 with `value`) of an NDHWC value by [begin, end] pads of D, H and W.
    static func padNDHWC(_ l: ToTFLiteNode, _ x: String, _ pads: [(Int, Int)], value: Float? = nil) -> String {
        let paddings = l.int32s([0, 0] + pads.flatMap { [$0.0, $0.1] } + [0, 0], shape: [5, 2])
        guard let value else { return l.emit("PAD", [x, paddings]) }
        return l.emit("PADV2", [x, paddings, l.floatConstant(Tensor(dtype: .float32, shape: [], values: [value]))])
    }

    static func lowerConv3D(_ l: ToTFLiteNode) throws {
        guard l.elementType(0) == .float32 else { throw NotLowerable("only float32 3-D convolutions are lowered") }
        guard let w = l.constant(1), w.shape.count == 5, w.dtype == .float32 else {
            throw NotLowerable("the filter must be a constant float32 [O, I, kD, kH, kW] tensor")
        }
        guard l.int("group", 1) == 1 else { throw NotLowerable("grouped 3-D convolutions have no TFLite form (CONV_3D has no groups)") }
        let outChannels = w.shape[0]
        if let c = l.shape(0)?[1].value, c != w.shape[1] {
            throw NotLowerable("the filter's \(w.shape[1]) input channels do not match the input's \(c)")
        }
        let win = try window3D(l, kernel: Array(w.shape[2...]))
        var inputs = [l.toChannelsLast(try l.input(0), rank: 5)]
        if win.hasPads && !win.isSame { inputs[0] = padNDHWC(l, inputs[0], win.pads) }
        guard let filter = w.transposed([2, 3, 4, 1, 0]) else { throw NotLowerable("the filter cannot be transposed") }
        inputs.append(l.floatConstant(filter, l.node.inputs[1] + "_dhwio"))
        if l.has(2) {
            guard let b = l.constant(2), b.dtype == .float32, b.elementCount == outChannels else {
                throw NotLowerable("the bias must be a constant float32 vector of \(outChannels)")
            }
            inputs.append(try l.input(2))
        }
        let y = l.emit(
            "CONV_3D", inputs,
            attributes: [
                .string("padding", win.isSame ? "SAME" : "VALID"), .int("stride_d", Int64(win.strides[0])),
                .int("stride_h", Int64(win.strides[1])), .int("stride_w", Int64(win.strides[2])),
                .int("dilation_d_factor", Int64(win.dilations[0])), .int("dilation_h_factor", Int64(win.dilations[1])),
                .int("dilation_w_factor", Int64(win.dilations[2])), .string("fused_activation_function", "NONE"),
            ])
        try l.bind(0, l.toChannelsFirst(y, rank: 5))
    }

    /// MaxPool or AveragePool over D, H and W as two 2-D pools (see the file's comment). The
    /// dims after the batch must be static (the RESHAPEs between the pools name them).
    static func lowerPool3D(_ l: ToTFLiteNode, max: Bool) throws {
        guard l.elementType(0) == .float32 else { throw NotLowerable("only float32 3-D pooling is lowered") }
        guard let kernel = l.ints("kernel_shape")?.map({ Int($0) }), kernel.count == 3, kernel.allSatisfy({ $0 > 0 }) else {
            throw NotLowerable("kernel_shape must have 3 positive dims")
        }
        if l.node.outputs.count > 1, !l.node.outputs[1].isEmpty { throw NotLowerable("MaxPool's Indices output has no TFLite form") }
        if l.int("storage_order", 0) != 0 { throw NotLowerable("storage_order=1 has no TFLite form") }
        guard let s = l.shape(0), let c = s[1].value, let spatial = l.spatialDims(0) else {
            throw NotLowerable("3-D pooling needs static channel and spatial dims")
        }
        let win = try window3D(l, kernel: kernel)
        guard win.dilations == [1, 1, 1] else { throw NotLowerable("dilated pooling has no TFLite form") }
        var x = l.toChannelsLast(try l.input(0), rank: 5)
        var pads = win.pads.isEmpty ? [(0, 0), (0, 0), (0, 0)] : win.pads
        if win.hasPads {
            if !max && l.int("count_include_pad", 0) == 0 {
                throw NotLowerable("3-D average pooling with pads and count_include_pad=0 has no TFLite form")
            }
            x = padNDHWC(l, x, pads, value: max ? -Float.greatestFiniteMagnitude : nil)
        } else {
            pads = [(0, 0), (0, 0), (0, 0)]
        }
        let padded = (0..<3).map { spatial[$0] + pads[$0].0 + pads[$0].1 }
        guard (0..<3).allSatisfy({ padded[$0] >= kernel[$0] }) else { throw NotLowerable("the window is larger than the padded input") }
        let out = (0..<3).map { (padded[$0] - kernel[$0]) / win.strides[$0] + 1 }
        let op = max ? "MAX_POOL_2D" : "AVERAGE_POOL_2D"
        func pool(_ v: String, _ k: [Int], _ stride: [Int]) -> String {
            l.emit(
                op, [v],
                attributes: [
                    .string("padding", "VALID"), .int("stride_h", Int64(stride[0])), .int("stride_w", Int64(stride[1])),
                    .int("filter_height", Int64(k[0])), .int("filter_width", Int64(k[1])), .string("fused_activation_function", "NONE"),
                ])
        }
        var y = l.emit("RESHAPE", [x, l.int32s([-1, padded[1], padded[2], c])])
        y = pool(y, [kernel[1], kernel[2]], [win.strides[1], win.strides[2]])
        y = l.emit("RESHAPE", [y, l.int32s([-1, padded[0], out[1] * out[2], c])])
        y = pool(y, [kernel[0], 1], [win.strides[0], 1])
        y = l.emit("RESHAPE", [y, l.int32s([-1, out[0], out[1], out[2], c])])
        try l.bind(0, l.toChannelsFirst(y, rank: 5))
    }
}
