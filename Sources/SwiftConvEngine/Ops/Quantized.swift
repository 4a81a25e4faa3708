import SwiftConvIR

/// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv, QLinearMatMul, MatMulInteger, ConvInteger.
enum QuantizedKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
