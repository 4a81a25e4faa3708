import SwiftConvIR

/// Resize, Upsample, DepthToSpace, SpaceToDepth: NHWC image ops between two transposes.
///
/// RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR take the output size and two flags; each ONNX
/// coordinate_transformation_mode (and nearest_mode) that one of the four flag pairs computes
/// exactly is lowered, the others are refused. DepthToSpace's DCR order is TFLite's; CRD
/// first reorders the channels with a GATHER.
extension ONNXToTFLiteRules {
    static let image: [String: ToTFLiteRule] = [
        "Resize": { l in try lowerResize(l, upsample: false) },
        "Upsample": { l in try lowerResize(l, upsample: true) },
        "DepthToSpace": lowerDepthToSpace,
        "SpaceToDepth": lowerSpaceToDepth,
    ]

    static func lowerResize(_ l: ToTFLiteNode, upsample: Bool) throws {
        guard try l.rank(0) == 4, l.elementType(0) == .float32, let input = l.staticShape(0) else {
            throw NotLowerable("only float32 4-D inputs of a static shape are resized")
        }
        // Opset 10 Resize and Upsample: (X, scales), asymmetric coordinates.
        let legacy = upsample || l.opset < 11
        if l.int("antialias", 0) != 0 || l.ints("axes") != nil || l.string("keep_aspect_ratio_policy", "stretch") != "stretch" {
            throw NotLowerable("antialias, axes and keep_aspect_ratio_policy have no TFLite form")
        }
        var output: [Int]
        let scalesInput = legacy ? 1 : 2
        if !legacy, l.has(3) {
            let sizes = try l.constantInts(3, what: "sizes").map { Int($0) }
            guard sizes.count == 4, sizes[0] == input[0], sizes[1] == input[1] else {
                throw NotLowerable("sizes \(sizes) must keep N and C")
            }
            output = Array(sizes[2...])
        } else {
            let scales: [Float]
            if let attribute = l.floats("scales") {
                scales = attribute
            } else {
                scales = try l.constantFloats(scalesInput, what: "scales")
            }
            guard scales.count == 4, scales[0] == 1, scales[1] == 1 else { throw NotLowerable("scales \(scales) must keep N and C") }
            output = (0..<2).map { Int((Float(input[$0 + 2]) * scales[$0 + 2]).rounded(.down)) }
            // ONNX maps coordinates with the given scale, TFLite with out / in: they agree
            // only when the scale gives a whole size.
            guard (0..<2).allSatisfy({ Float(output[$0]) == Float(input[$0 + 2]) * scales[$0 + 2] }), output.allSatisfy({ $0 > 0 }) else {
                throw NotLowerable("scales \(scales) do not give a whole output size for input \(input)")
            }
        }
        let mode = l.string("mode", "nearest")
        let transform = legacy ? "asymmetric" : l.string("coordinate_transformation_mode", "half_pixel")
        let upscale = (0..<2).allSatisfy { output[$0] >= input[$0 + 2] && output[$0] % input[$0 + 2] == 0 }
        let bigger = output.allSatisfy { $0 > 1 }
        var flags: (alignCorners: Int64, halfPixel: Int64)?
        switch mode {
        case "linear", "bilinear":
            switch transform {
            case "half_pixel": flags = (0, 1)
            case "pytorch_half_pixel" where bigger: flags = (0, 1)
            case "align_corners": flags = (1, 0)
            case "asymmetric": flags = (0, 0)
            default: break
            }
        case "nearest":
            // Before opset 11, nearest rounds down when enlarging.
            let rounding = legacy ? (upscale ? "floor" : "") : l.string("nearest_mode", "round_prefer_floor")
            switch (transform, rounding) {
            case ("asymmetric", "floor"): flags = (0, 0)
            case ("align_corners", "round_prefer_ceil"): flags = (1, 0)
            case ("tf_half_pixel_for_nn", "floor"): flags = (0, 1)
            case ("half_pixel", "round_prefer_ceil"): flags = (0, 1)
            case ("pytorch_half_pixel", "round_prefer_ceil") where bigger: flags = (0, 1)
            // An integer enlargement never meets a tie, so both roundings are the same.
            case ("half_pixel", "round_prefer_floor") where upscale: flags = (0, 1)
            case ("pytorch_half_pixel", "round_prefer_floor") where bigger && upscale: flags = (0, 1)
            default: break
            }
        default: break
        }
        if mode == "cubic" { throw NotLowerable("mode 'cubic' has no TFLite resize (TFLite has no bicubic interpolation)") }
        guard let flags else {
            throw NotLowerable("mode '\(mode)' with coordinate_transformation_mode '\(transform)' has no TFLite resize")
        }
        let x = l.toChannelsLast(try l.input(0), rank: 4)
        let y = l.emit(
            mode == "nearest" ? "RESIZE_NEAREST_NEIGHBOR" : "RESIZE_BILINEAR", [x, l.int32s(output)],
            attributes: [.int("align_corners", flags.alignCorners), .int("half_pixel_centers", flags.halfPixel)])
        try l.bind(0, l.toChannelsFirst(y, rank: 4))
    }

    static func lowerDepthToSpace(_ l: ToTFLiteNode) throws {
        guard try l.rank(0) == 4 else { throw NotLowerable("DepthToSpace needs a 4-D input") }
        let block = Int(l.int("blocksize", 0))
        guard block >= 1 else { throw NotLowerable("blocksize must be positive") }
        var x = l.toChannelsLast(try l.input(0), rank: 4)
        switch l.string("mode", "DCR") {
        case "DCR": break
        case "CRD":
            // CRD reads channel c * b * b + i * b + j where DCR reads (i * b + j) * C' + c.
            guard let channels = l.shape(0)?[1].value, channels % (block * block) == 0 else {
                throw NotLowerable("CRD mode needs a static channel count divisible by blocksize^2")
            }
            let depth = channels / (block * block)
            var order: [Int] = []
            for ij in 0..<(block * block) { for c in 0..<depth { order.append(c * block * block + ij) } }
            x = l.emit("GATHER", [x, l.int32s(order)], attributes: [.int("axis", 3), .int("batch_dims", 0)])
        case let mode: throw NotLowerable("mode '\(mode)' is unknown")
        }
        let y = l.emit("DEPTH_TO_SPACE", [x], attributes: [.int("block_size", Int64(block))])
        try l.bind(0, l.toChannelsFirst(y, rank: 4))
    }

    static func lowerSpaceToDepth(_ l: ToTFLiteNode) throws {
        guard try l.rank(0) == 4 else { throw NotLowerable("SpaceToDepth needs a 4-D input") }
        let block = Int(l.int("blocksize", 0))
        guard block >= 1 else { throw NotLowerable("blocksize must be positive") }
        let x = l.toChannelsLast(try l.input(0), rank: 4)
        let y = l.emit("SPACE_TO_DEPTH", [x], attributes: [.int("block_size", Int64(block))])
        try l.bind(0, l.toChannelsFirst(y, rank: 4))
    }
}
