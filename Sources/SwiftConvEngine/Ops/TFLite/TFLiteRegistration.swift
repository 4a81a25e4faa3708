import SwiftConvIR

extension KernelRegistry {
    /// Registers a `tflite`-domain float/data-movement factory behind the integer hook: the
    /// integer kernels take the node first when its types call for fixed-point arithmetic.
    mutating func registerTFLite(_ op: String, _ factory: @escaping KernelFactory) {
        register(op, domain: OpDomain.tflite, since: [1]) { ctx in
            if let k = try TFLiteIntegerKernels.make(ctx) { return k }
            return try factory(ctx)
        }
    }
}

extension KernelBuildContext {
    /// Refuses quantized inputs on a float path: reached only when the integer kernels did
    /// not take the node, where computing on the raw integers would give wrong values.
    func requireUnquantizedInputs() throws {
        for i in 0..<node.inputs.count where inputQuantization(i) != nil {
            throw SwiftConvError.unsupportedOp("\(label): quantized input \(i) needs the integer kernels")
        }
    }

    /// Refuses a data-moving node whose quantized inputs and output do not share one scale
    /// and zero point (joining them would need requantization).
    func requireSharedQuantization() throws {
        let all = ((0..<node.inputs.count).map { inputQuantization($0) } + [outputTypes.first??.quantization]).compactMap { $0 }
        guard let first = all.first else { return }
        for q in all where q.scale != first.scale || q.zeroPoint != first.zeroPoint {
            throw SwiftConvError.unsupportedOp("\(label): inputs and output quantized differently need requantization")
        }
    }
}

/// A `tflite` kernel whose per-run work is a closure over what its factory parsed once
/// (most TFLite ops are a few lines around the engine's shared machinery).
struct TFLiteKernel: Kernel {
    let body: @Sendable (_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value]

    init(_ body: @escaping @Sendable (_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value]) {
        self.body = body
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] { try body(inputs, context) }
}

/// TFLite's `fused_activation_function`, applied by the op itself to its result.
///
/// TFLite's float and int32 kernels clamp to the activation's range
/// (`CalculateActivationRange`): RELU, RELU6 and RELU_N1_TO_1 bound the result, while TANH
/// and SIGN_BIT have no range and leave it as it is, which we follow.
struct TFLiteFusedActivation: Sendable, Equatable {
    let low: Double
    let high: Double

    static let none = TFLiteFusedActivation(low: -.infinity, high: .infinity)

    init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    /// The node's `fused_activation_function` (schema default NONE).
    init(_ ctx: KernelBuildContext) throws {
        switch ctx.string("fused_activation_function", default: "NONE") {
        case "NONE", "TANH", "SIGN_BIT": self = .none
        case "RELU": self.init(low: 0, high: .infinity)
        case "RELU6": self.init(low: 0, high: 6)
        case "RELU_N1_TO_1": self.init(low: -1, high: 1)
        case let name: throw ctx.invalid("unknown fused_activation_function '\(name)'")
        }
    }

    var isNone: Bool { self == .none }

    /// `t` clamped to the range; NaN stays NaN, as with TFLite's min(max(x, lo), hi).
    func apply(_ t: Tensor, _ threads: ThreadPool) throws -> Tensor {
        if isNone { return t }
        switch t.dtype {
        case .float32:
            let lo = Float(low), hi = Float(high)
            return try unaryFloat32(t, threads) { x in x < lo ? lo : (x > hi ? hi : x) }
        case .int32:
            let lo = Int32(max(low, -2_147_483_648)), hi = Int32(min(high, 2_147_483_647))
            return try unaryMap(t, Int32.self, .int32, threads) { (x: Int32) -> Int32 in min(max(x, lo), hi) }
        case .int64:
            let lo = low.isInfinite ? Int64.min : Int64(low), hi = high.isInfinite ? Int64.max : Int64(high)
            return try unaryMap(t, Int64.self, .int64, threads) { (x: Int64) -> Int64 in min(max(x, lo), hi) }
        default:
            throw kernelUnsupported("a fused activation on \(t.dtype)")
        }
    }
}
