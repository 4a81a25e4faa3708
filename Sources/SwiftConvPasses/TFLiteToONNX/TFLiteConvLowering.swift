import SwiftConvIR

/// CONV_2D, DEPTHWISE_CONV_2D, CONV_3D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL.
///
/// Convolutions run in NCHW in ONNX: the input is transposed in, the result transposed back,
/// the weights transposed once as constants (OHWI -> OIHW; depthwise [1,kh,kw,C*m] ->
/// [C*m,1,kh,kw] with group = C). `TransposeCancellation` removes the pairs between ops.
extension TFLiteLoweringRules {
    static let conv: [String: TFLiteLoweringRule] = [
        "CONV_2D": { l in try lowerConvolution(l, depthwise: false) },
        "DEPTHWISE_CONV_2D": { l in try lowerConvolution(l, depthwise: true) },
        "CONV_3D": lowerConv3D,
        "TRANSPOSE_CONV": lowerTransposeConv,
        "FULLY_CONNECTED": lowerFullyConnected,
        "BATCH_MATMUL": lowerBatchMatMul,
    ]

    static func lowerConvolution(_ l: NodeLowering, depthwise: Bool) throws {
        let (attributes, filterPerm) = try convolutionAttributes(l, depthwise: depthwise)
        let weight = try l.weight(1, perm: filterPerm)
        var x = try l.input(0)
        // Hybrid per-channel convolutions quantize each image asymmetrically.
        if l.isHybrid(weight: 1) { x = try l.hybridQuantized(x, axes: [1, 2, 3], asymmetric: true) }
        var inputs = [l.toNCHW(x), weight]
        if l.has(2) { inputs.append(try l.input(2)) }
        let y = l.emit("Conv", inputs, attributes: attributes)
        try l.bind(0, l.toNHWC(try l.fusedActivation(y)))
    }

    /// CONV_3D (NDHWC input, filter [D, H, W, I, O]) as an NCDHW Conv between transposes.
    static func lowerConv3D(_ l: NodeLowering) throws {
        guard try l.rank(0) == 5, let w = l.shape(1), w.count == 5, let kernel = Optional(w[0..<3].compactMap(\.value)), kernel.count == 3
        else { throw NotLowerable("needs a rank-5 input and a rank-5 filter of known size") }
        let strides = ["stride_d", "stride_h", "stride_w"].map { Int(l.int($0, 1)) }
        let dilations = ["dilation_d_factor", "dilation_h_factor", "dilation_w_factor"].map { Int(l.int($0, 1)) }
        guard strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw NotLowerable("strides and dilations must be positive")
        }
        var attributes = [Attribute.ints("strides", strides), .ints("dilations", dilations), .ints("kernel_shape", kernel)]
        switch l.string("padding", "SAME") {
        case "VALID": attributes.append(.ints("pads", [0, 0, 0, 0, 0, 0]))
        // TFLite's SAME puts the odd padding at the end, as SAME_UPPER.
        case "SAME": attributes.append(.string("auto_pad", "SAME_UPPER"))
        case let other: throw NotLowerable("padding \(other) is not lowered")
        }
        if let c = l.shape(0)?[4].value, let per = w[3].value, c != per {
            throw NotLowerable("input channels \(c) differ from the filter's \(per) (CONV_3D has no groups)")
        }
        let x = l.emit("Transpose", [try l.input(0)], attributes: [.ints("perm", [0, 4, 1, 2, 3])])
        var inputs = [x, try l.weight(1, perm: [4, 3, 0, 1, 2])]
        if l.has(2) { inputs.append(try l.input(2)) }
        let y = try l.fusedActivation(l.emit("Conv", inputs, attributes: attributes))
        try l.bind(0, l.emit("Transpose", [y], attributes: [.ints("perm", [0, 2, 3, 4, 1])]))
    }

    /// The ONNX Conv attributes of a TFLite convolution and the permutation that takes its
    /// filter to OIHW: OHWI -> OIHW, or depthwise [1,kh,kw,C*m] -> [C*m,1,kh,kw] with one group
    /// per input channel.
    static func convolutionAttributes(_ l: NodeLowering, depthwise: Bool) throws -> (attributes: [Attribute], filterPerm: [Int]) {
        guard try l.rank(0) == 4, let w = l.shape(1), w.count == 4, let kh = w[1].value, let kw = w[2].value else {
            throw NotLowerable("needs a rank-4 input and a rank-4 filter of known size")
        }
        let strides = [Int(l.int("stride_h", 1)), Int(l.int("stride_w", 1))]
        let dilations = [Int(l.int("dilation_h_factor", 1)), Int(l.int("dilation_w_factor", 1))]
        var attributes = [Attribute.ints("strides", strides), .ints("dilations", dilations), .ints("kernel_shape", [kh, kw])]
        attributes += try l.paddingAttributes(kernel: [kh, kw], strides: strides, dilations: dilations)
        let channels = l.shape(0)?[3].value
        if depthwise {
            let multiplier = max(Int(l.int("depth_multiplier", 1)), 1)
            guard let group = channels ?? w[3].value.map({ $0 / multiplier }) else {
                throw NotLowerable("the input channel count is unknown")
            }
            attributes.append(.int("group", Int64(group)))
            return (attributes, [3, 0, 1, 2])
        }
        // TFLite runs a grouped convolution when the input has a multiple of the filter's channels.
        if let c = channels, let per = w[3].value, per > 0, c != per {
            guard c % per == 0 else { throw NotLowerable("input channels \(c) are not a multiple of the filter's \(per)") }
            attributes.append(.int("group", Int64(c / per)))
        }
        return (attributes, [0, 3, 1, 2])
    }

    /// TFLite's TRANSPOSE_CONV: inputs (output_shape, weights OHWI, input, bias?). Explicit pads
    /// and output_padding reproduce the requested output size with TFLite's SAME rule.
    static func lowerTransposeConv(_ l: NodeLowering) throws {
        let outShape = try l.constantInts(0, what: "output_shape")
        guard outShape.count == 4, try l.rank(2) == 4, let s = l.shape(2), let inH = s[1].value, let inW = s[2].value,
            let w = l.shape(1), w.count == 4, let kh = w[1].value, let kw = w[2].value
        else { throw NotLowerable("needs a constant output_shape, a static rank-4 input and a rank-4 filter") }
        let strides = [Int(l.int("stride_h", 1)), Int(l.int("stride_w", 1))]
        let same = l.string("padding", "SAME") == "SAME"
        var begin: [Int] = []
        var end: [Int] = []
        var outputPadding: [Int] = []
        for (i, (input, k)) in [(inH, kh), (inW, kw)].enumerated() {
            let out = Int(outShape[1 + i])
            let full = (input - 1) * strides[i] + k
            let total = same ? max(full - out, 0) : 0
            begin.append(total / 2)
            end.append(total - total / 2)
            let extra = out - (full - total)
            guard extra >= 0 else { throw NotLowerable("output_shape \(outShape) is smaller than the filter allows") }
            outputPadding.append(extra)
        }
        var x = try l.input(2)
        // Hybrid transpose convolutions quantize each image asymmetrically.
        if l.isHybrid(weight: 1, input: 2) { x = try l.hybridQuantized(x, axes: [1, 2, 3], asymmetric: true) }
        var inputs = [l.toNCHW(x), try l.weight(1, perm: [3, 0, 1, 2])]
        if l.has(3) { inputs.append(try l.input(3)) }
        let y = l.emit(
            "ConvTranspose", inputs,
            attributes: [
                .ints("strides", strides), .ints("kernel_shape", [kh, kw]), .ints("pads", begin + end),
                .ints("output_padding", outputPadding),
            ])
        try l.bind(0, l.toNHWC(try l.fusedActivation(y)))
    }

    /// y = x W^T + b on the last axis; without keep_num_dims the input is first flattened to
    /// [-1, K] as TFLite does.
    static func lowerFullyConnected(_ l: NodeLowering) throws {
        guard l.string("weights_format", "DEFAULT") == "DEFAULT" else {
            throw NotLowerable("weights_format \(l.string("weights_format", "")) is not lowered")
        }
        guard let w = l.shape(1), w.count == 2, let k = w[1].value else { throw NotLowerable("needs a rank-2 weight of known size") }
        var x = try l.input(0)
        let rank = try l.rank(0)
        if !l.bool("keep_num_dims") && rank != 2 {
            x = l.emit("Reshape", [x, l.int64s([-1, Int64(k)])])
        }
        let hybrid = l.isHybrid(weight: 1)
        if hybrid { x = try l.hybridQuantized(x, axes: [-1], asymmetric: l.bool("asymmetric_quantize_inputs")) }
        var y = l.emit("MatMul", [x, try l.weight(1, perm: [1, 0], dequantizedNow: hybrid)])
        if l.has(2) { y = l.emit("Add", [y, try l.input(2)]) }
        try l.bind(0, try l.fusedActivation(y))
    }

    static func lowerBatchMatMul(_ l: NodeLowering) throws {
        let hybrid = l.isHybrid(weight: 1)
        func operand(_ k: Int, adjoint: Bool) throws -> String {
            let foldWeight = hybrid && k == 1 && l.constant(k) != nil
            guard adjoint || foldWeight else { return try l.input(k) }
            let r = try l.rank(k)
            var perm = Array(0..<r)
            if adjoint {
                guard r >= 2 else { throw NotLowerable("an adjoint operand needs rank 2 or more") }
                perm.swapAt(r - 1, r - 2)
            }
            return try l.weight(k, perm: perm, dequantizedNow: foldWeight)
        }
        var lhs = try operand(0, adjoint: l.bool("adj_x"))
        if hybrid { lhs = try l.hybridQuantized(lhs, axes: [-1], asymmetric: l.bool("asymmetric_quantize_inputs")) }
        try l.bind(0, l.emit("MatMul", [lhs, try operand(1, adjoint: l.bool("adj_y"))]))
    }
}

extension NodeLowering {
    /// ONNX pads for TFLite's `padding`: VALID is none; SAME is explicit pads when the input's
    /// spatial size is known (TFLite puts the odd pixel at the end), else SAME_UPPER, which
    /// does the same.
    func paddingAttributes(kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Attribute] {
        let padding = string("padding", "SAME")
        switch padding {
        case "VALID": return [.ints("pads", [0, 0, 0, 0])]
        case "SAME": break
        default: throw NotLowerable("padding \(padding) is not lowered")
        }
        guard let s = shape(0), s.count == 4, let h = s[1].value, let w = s[2].value else {
            return [.string("auto_pad", "SAME_UPPER")]
        }
        var begin: [Int] = []
        var end: [Int] = []
        for (i, size) in [h, w].enumerated() {
            guard strides[i] > 0, dilations[i] > 0 else { throw NotLowerable("strides and dilations must be positive") }
            let effective = (kernel[i] - 1) * dilations[i] + 1
            let out = (size + strides[i] - 1) / strides[i]
            let total = max((out - 1) * strides[i] + effective - size, 0)
            begin.append(total / 2)
            end.append(total - total / 2)
        }
        return [.ints("pads", begin + end)]
    }
}

extension NodeLowering {
    /// Whether this is a dynamic-range ("hybrid") op: float input 0, quantized int8 weight `k`.
    func isHybrid(weight k: Int, input i: Int = 0) -> Bool {
        type(i)?.quantization == nil && type(i)?.tensorElementType == .float32 && type(k)?.quantization?.storageType == .int8
    }

    /// `x` as TFLite's hybrid kernels see it: quantized to int8 per row (the values over
    /// `axes`) and back, symmetric (range max|x|, 127 steps) or asymmetric (TFLite's nudged
    /// zero point over [min(x,0), max(x,0)], 255 steps). The ONNX model then multiplies the
    /// same numbers LiteRT does, so the conversion agrees with it to float rounding (about
    /// 1e-6 on the fixtures) instead of to the input's quantization noise (about 1e-2).
    func hybridQuantized(_ x: String, axes: [Int64], asymmetric: Bool) throws -> String {
        func reduce(_ op: String) -> String {
            if opset >= 18 { return emit(op, [x, int64s(axes)], attributes: [.int("keepdims", 1)]) }
            return emit(op, [x], attributes: [.int("keepdims", 1), .ints("axes", axes)])
        }
        let zero = float(0)
        if !asymmetric {
            let absMax = emit("Max", [emit("Abs", [reduce("ReduceMin")]), emit("Abs", [reduce("ReduceMax")])])
            let nonzero = emit("Where", [emit("Equal", [absMax, zero]), float(1), absMax])
            let inverse = emit("Div", [float(127), nonzero])
            let q = emit("Clip", [emit("Round", [emit("Mul", [x, inverse])]), float(-127), float(127)])
            return emit("Mul", [q, emit("Div", [nonzero, float(127)])])
        }
        let low = emit("Min", [reduce("ReduceMin"), zero])
        let high = emit("Max", [reduce("ReduceMax"), zero])
        let span = emit("Div", [emit("Sub", [high, low]), float(255)])
        let scale = emit("Where", [emit("Equal", [span, zero]), float(1), span])
        let lowSteps = emit("Div", [low, scale])
        let highSteps = emit("Div", [high, scale])
        let fromMin = emit("Sub", [float(-128), lowSteps])
        let fromMax = emit("Sub", [float(127), highSteps])
        let minError = emit("Add", [float(-128), emit("Abs", [lowSteps])])
        let maxError = emit("Add", [float(127), emit("Abs", [highSteps])])
        let zeroPoint = emit(
            "Round", [emit("Clip", [emit("Where", [emit("Less", [minError, maxError]), fromMin, fromMax]), float(-128), float(127)])])
        let inverse = emit("Div", [float(1), scale])
        let q = emit("Clip", [emit("Add", [emit("Round", [emit("Mul", [x, inverse])]), zeroPoint]), float(-128), float(127)])
        return emit("Mul", [emit("Sub", [q, zeroPoint]), scale])
    }
}
