/// TFLite QUANTIZE and DEQUANTIZE: element-wise, the shape of the input. QUANTIZE's element
/// type and quantization are the declared output's (the file says which integer type).
enum TFLiteQuantizeOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "QUANTIZE", domain: OpDomain.tflite, since: [1], inputs: "1", outputs: "1",
            rule: { ctx in ctx.setOutput(0, nil, ctx.shape(0)) })
        r.add(
            "DEQUANTIZE", domain: OpDomain.tflite, since: [1], inputs: "1", outputs: "1",
            rule: { ctx in ctx.setOutput(0, .float32, ctx.shape(0)) })
    }
}
