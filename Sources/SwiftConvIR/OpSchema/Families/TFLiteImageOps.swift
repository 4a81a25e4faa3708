/// TFLite's resizes over NHWC (domain `tflite`): RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR; input 1
/// is the new (height, width).
enum TFLiteImageOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "RESIZE_BILINEAR", domain: OpDomain.tflite, since: [1], inputs: "11", outputs: "1",
            attributes: "new_height:i new_width:i align_corners:i half_pixel_centers:i", rule: resize)
        r.add(
            "RESIZE_NEAREST_NEIGHBOR", domain: OpDomain.tflite, since: [1], inputs: "11", outputs: "1",
            attributes: "align_corners:i half_pixel_centers:i", rule: resize)
    }

    static let resize: TypeInferenceRule = { ctx in
        let dtype = ctx.dtype(0)
        let x = ctx.shape(0)
        let size = ctx.values(1)
        let n = x.flatMap { $0.count == 4 ? $0[0] : nil } ?? .unknown
        let c = x.flatMap { $0.count == 4 ? $0[3] : nil } ?? .unknown
        let hw: [Dim] = size.flatMap { $0.count == 2 ? $0 : nil } ?? [.unknown, .unknown]
        ctx.setOutput(0, dtype, [n] + hw + [c])
    }
}
