/// TFLite's recurrent ops (domain `tflite`): UNIDIRECTIONAL_SEQUENCE_LSTM with its 24 inputs
/// (input, 4 input weights, 4 recurrent weights, 3 peepholes, 4 biases, projection weights and
/// bias, output and cell state, 4 layer-norm coefficients).
enum TFLiteRecurrentOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "UNIDIRECTIONAL_SEQUENCE_LSTM", domain: OpDomain.tflite, since: [1],
            inputs: "1?111?111????111????????", outputs: "1",
            attributes:
                "fused_activation_function:s cell_clip:f proj_clip:f time_major:i asymmetric_quantize_inputs:i"
                + " diagonal_recurrent_tensors:i"
        ) { ctx in
            let dtype = ctx.dtype(0)
            guard let x = ctx.shape(0), x.count == 3 else {
                ctx.setOutput(0, dtype, ShapeMath.unknownShape(rank: 3))
                return
            }
            // The output width is the projection's rows, else the units (input-to-forget rows).
            let width = (ctx.has(16) ? ctx.shape(16)?.first : ctx.shape(2)?.first) ?? .unknown
            ctx.setOutput(0, dtype, [x[0], x[1], width])
        }
    }
}
