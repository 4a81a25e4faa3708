import SwiftConvIR

/// QUANTIZE and DEQUANTIZE.
///
/// The QDQ scheme of `NodeLowering` does the work: a quantized input is dequantized on
/// read, a quantized output quantized on write. So DEQUANTIZE binds its (float) input, and
/// QUANTIZE binds its float input to the quantized output (a requantization passes
/// through float). A float16 DEQUANTIZE is a Cast to float32.
extension TFLiteLoweringRules {
    static let quantize: [String: TFLiteLoweringRule] = [
        "QUANTIZE": { l in
            guard l.scope.types[l.node.outputs.first ?? ""]?.quantization != nil else {
                throw NotLowerable("the output has no quantization parameters")
            }
            try l.bind(0, try l.input(0))
        },
        "DEQUANTIZE": { l in
            if l.type(0)?.quantization != nil { return try l.bind(0, try l.input(0)) }
            guard let t = l.type(0)?.tensorElementType, t == .float16 || t == .float32 else {
                throw NotLowerable("the input is neither quantized nor float16")
            }
            try l.bind(0, t == .float32 ? try l.input(0) : l.cast(try l.input(0), to: .float32))
        },
    ]
}
