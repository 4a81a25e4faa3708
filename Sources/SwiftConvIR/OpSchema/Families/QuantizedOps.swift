/// Quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger.
enum QuantizedOps {
    static func register(into r: inout OpRegistry) {
        r.add("QuantizeLinear", since: [10], inputs: "11?", outputs: "1", rule: quantize)
        r.add("QuantizeLinear", since: [13], inputs: "11?", outputs: "1", attributes: "axis:i", rule: quantize)
        r.add("QuantizeLinear", since: [19], inputs: "11?", outputs: "1", attributes: "axis:i saturate:i", rule: quantize)
        r.add(
            "QuantizeLinear", since: [21, 23, 24, 25, 28], inputs: "11?", outputs: "1",
            attributes: "axis:i block_size:i output_dtype:i precision:i saturate:i", rule: quantize)
        r.add("DequantizeLinear", since: [10], inputs: "11?", outputs: "1", rule: dequantize)
        r.add("DequantizeLinear", since: [13, 19], inputs: "11?", outputs: "1", attributes: "axis:i", rule: dequantize)
        r.add(
            "DequantizeLinear", since: [21, 23, 24, 25, 28], inputs: "11?", outputs: "1",
            attributes: "axis:i block_size:i output_dtype:i", rule: dequantize)
        r.add(
            "DynamicQuantizeLinear", since: [11], inputs: "1", outputs: "111",
            rule: { ctx in
                ctx.setOutput(0, .uint8, ctx.shape(0))
                ctx.setOutput(1, .float32, [])
                ctx.setOutput(2, .uint8, [])
            })
        r.add(
            "QLinearConv", since: [10], inputs: "11111111?", outputs: "1",
            attributes: "auto_pad:s dilations:is group:i kernel_shape:is pads:is strides:is",
            rule: { ConvOps.conv(&$0, outType: $0.dtype(7) ?? $0.dtype(0), weight: 3) })
        r.add(
            "QLinearMatMul", since: [10, 21], inputs: "11111111", outputs: "1",
            rule: { ctx in
                ctx.setOutput(0, ctx.dtype(7) ?? ctx.dtype(0), MatMulOps.matmulShape(ctx.shape(0), ctx.shape(3)))
            })
        r.add(
            "ConvInteger", since: [10], inputs: "11??", outputs: "1", attributes: ConvOps.attributes,
            rule: { ConvOps.conv(&$0, outType: .int32) })
        r.add(
            "MatMulInteger", since: [10], inputs: "11??", outputs: "1",
            rule: { ctx in
                ctx.setOutput(0, .int32, MatMulOps.matmulShape(ctx.shape(0), ctx.shape(1)))
            })
    }

    static let quantize: TypeInferenceRule = { ctx in
        var t = ctx.dtype(2) ?? .uint8
        if let o = ctx.int("output_dtype"), o != 0, let d = DType(rawValue: Int32(clamping: o)) { t = d }
        ctx.setOutput(0, t, ctx.shape(0))
    }

    static let dequantize: TypeInferenceRule = { ctx in
        var t: DType = ctx.opset >= 19 ? (ctx.dtype(1) ?? .float32) : .float32
        if let o = ctx.int("output_dtype"), o != 0, let d = DType(rawValue: Int32(clamping: o)) { t = d }
        ctx.setOutput(0, t, ctx.shape(0))
    }
}
