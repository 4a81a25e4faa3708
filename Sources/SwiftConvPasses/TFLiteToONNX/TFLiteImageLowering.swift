import SwiftConvIR

/// RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR as ONNX Resize in NCHW.
///
/// TensorFlow's coordinate rules map onto Resize's: align_corners -> "align_corners",
/// half_pixel_centers -> "half_pixel" (for nearest with round_prefer_ceil that is
/// floor((x + 0.5) * in / out), TensorFlow's rule), neither -> "asymmetric" (with floor).
extension TFLiteLoweringRules {
    static let image: [String: TFLiteLoweringRule] = [
        "RESIZE_BILINEAR": { l in try lowerResize(l, nearest: false) },
        "RESIZE_NEAREST_NEIGHBOR": { l in try lowerResize(l, nearest: true) },
    ]

    static func lowerResize(_ l: NodeLowering, nearest: Bool) throws {
        guard try l.rank(0) == 4 else { throw NotLowerable("needs a rank-4 input") }
        let align = l.bool("align_corners")
        let half = l.bool("half_pixel_centers")
        var attributes: [Attribute] = [.string("mode", nearest ? "nearest" : "linear")]
        attributes.append(.string("coordinate_transformation_mode", align ? "align_corners" : half ? "half_pixel" : "asymmetric"))
        if nearest { attributes.append(.string("nearest_mode", align || half ? "round_prefer_ceil" : "floor")) }
        let x = l.toNCHW(try l.input(0))
        // sizes = [N, C] of the input, then the requested [H, W].
        let sizes: String
        if let s = l.shape(0), let n = s[0].value, let c = s[3].value, let hw = l.constant(1)?.int64Values(), hw.count == 2 {
            sizes = l.int64s([Int64(n), Int64(c)] + hw)
        } else {
            let nc = l.emit("Slice", [l.emit("Shape", [x]), l.int64s([0]), l.int64s([2])])
            sizes = l.emit("Concat", [nc, try l.int64Input(1)], attributes: [.int("axis", 0)])
        }
        let y = l.emit("Resize", [x, "", "", sizes], attributes: attributes)
        try l.bind(0, l.toNHWC(y))
    }
}
