/// TFLite's 2-D pools over NHWC (domain `tflite`): AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D.
enum TFLitePoolingOps {
    static func register(into r: inout OpRegistry) {
        for op in ["AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"] {
            r.add(
                op, domain: OpDomain.tflite, since: [1], inputs: "1", outputs: "1",
                attributes: "padding:s stride_w:i stride_h:i filter_width:i filter_height:i fused_activation_function:s"
            ) { ctx in
                let filter: [Dim] = [.known(ctx.int("filter_height", default: 1)), .known(ctx.int("filter_width", default: 1))]
                TFLiteConvOps.window(&ctx, channels: ctx.shape(0).flatMap { $0.count == 4 ? $0[3] : nil }, filter: filter)
            }
        }
    }
}
