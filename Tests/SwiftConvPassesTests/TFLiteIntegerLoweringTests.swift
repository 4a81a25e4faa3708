import SwiftConvEngine
import SwiftConvIR
import SwiftConvKernels
import SwiftConvTestSupport
import Testing

@testable import SwiftConvPasses

// The integer lowering of full-integer TFLite ops. The requantization helper is checked
// against TFLite's fixed-point formulas written out below (gemmlowp's rounding doubling high
// multiply and rounding divide by a power of two, and the single-rounding variant), and whole
// ops against the engine's tflite-domain integer kernels, which the interpreter suite holds
// bit-exact with LiteRT's reference kernels.

/// gemmlowp's `SaturatingRoundingDoublingHighMul`, as TFLite's C++ computes it (division truncates).
private func doublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
    if a == Int32.min && b == Int32.min { return Int32.max }
    let ab = Int64(a) * Int64(b)
    let nudge: Int64 = ab >= 0 ? 1 << 30 : 1 - (1 << 30)
    return Int32(truncatingIfNeeded: (ab + nudge) / (1 << 31))
}

/// gemmlowp's `RoundingDivideByPOT`: an arithmetic shift, plus one when the remainder passes
/// half (half away from zero).
private func roundingDivideByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
    let mask = Int32(truncatingIfNeeded: (Int64(1) << exponent) - 1)
    let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
    return (x >> Int32(exponent)) + ((x & mask) > threshold ? 1 : 0)
}

/// TFLite's `MultiplyByQuantizedMultiplier`: left shift, doubling high multiply, rounding right shift.
private func tfliteDoubleRounding(_ x: Int32, _ m: FixedPoint.Multiplier) -> Int32 {
    roundingDivideByPOT(doublingHighMul(x &<< Int32(max(m.shift, 0)), m.mantissa), max(-m.shift, 0))
}

/// `TFLITE_SINGLE_ROUNDING`: `(x·m + 2^(t-1)) >> t`, t = 31 - shift.
private func tfliteSingleRounding(_ x: Int32, _ m: FixedPoint.Multiplier) -> Int32 {
    let t = Int64(31 - min(max(m.shift, -31), 30))
    return Int32(truncatingIfNeeded: (Int64(x) * Int64(m.mantissa) + (Int64(1) << (t - 1))) >> t)
}

/// The lowering helper applied to an int32 input `x` of `shape`, as a runnable ONNX model.
private func requantizationModel(_ ms: [FixedPoint.Multiplier], _ rounding: TFLiteRounding, shape: [Int]) -> Model {
    let x = ValueInfo(name: "x", type: .tensor(elementType: .int32, shape: Shape(shape)))
    let y = ValueInfo(name: "y", type: .tensor(elementType: .int32, shape: Shape(shape)))
    let source = Graph(name: "g", nodes: [], inputs: [x], outputs: [y])
    let state = TFLiteLoweringState(opset: 13, names: UniqueNameGenerator(graph: source))
    let scope = GraphLowering(graph: source, state: state, depth: 0)
    let node = Node(name: "y", opType: "MUL", domain: OpDomain.tflite, inputs: ["x"], outputs: ["y"])
    let l = NodeLowering(node: node, scope: scope)
    scope.emit("Identity", [l.multipliedByQuantizedMultiplier("x", ms, rounding: rounding)], ["y"])
    var g = Graph(name: "g", nodes: scope.nodes, inputs: [x], outputs: [y])
    g.initializers = scope.initializers
    return Model(format: .onnx, graph: g, opsetImports: [OpsetID(domain: OpDomain.onnx, version: 13)])
}

/// Accumulators that hit every rounding case: zero, ties at both steps, both signs, the int32 extremes.
private let accumulators: [Int32] = [
    0, 1, -1, 2, -2, 3, -3, 5, -5, 6, -6, 7, -7, 255, -256, 1 << 20, -(1 << 20) - 1, 123_456_789, -987_654_321, Int32.max,
    Int32.min, Int32.min + 1,
]

@Test(arguments: [TFLiteRounding.double, .single])
func requantizationHelperMatchesTFLiteFixedPoint(rounding: TFLiteRounding) throws {
    // Half (2^30 · 2^-31) with right shifts makes exact ties; the others are real scales.
    let perTensor: [FixedPoint.Multiplier] = [
        FixedPoint.Multiplier(mantissa: 1 << 30, shift: 0), FixedPoint.Multiplier(mantissa: 1 << 30, shift: -2),
        FixedPoint.Multiplier(0.000_123_4), FixedPoint.Multiplier(0.499_999_9), FixedPoint.Multiplier(0.0072),
        FixedPoint.Multiplier(1.0 / 3.0), FixedPoint.Multiplier(1e-9),
    ]
    for m in perTensor {
        let model = requantizationModel([m], rounding, shape: [accumulators.count])
        let got = try InferenceSession(model: model).run(feeds: [
            "x": .tensor(Tensor(dtype: .int32, shape: [accumulators.count], values: accumulators))
        ])[0].tensor?.values(as: Int32.self)
        let want = accumulators.map { rounding == .double ? tfliteDoubleRounding($0, m) : tfliteSingleRounding($0, m) }
        #expect(got == want, "multiplier \(m)")
        let engine = accumulators.map {
            rounding == .double
                ? FixedPoint.multiplyByQuantizedMultiplier($0, m.mantissa, m.shift)
                : FixedPoint.multiplyByQuantizedMultiplierSingleRounding($0, m.mantissa, m.shift)
        }
        #expect(engine == want, "the engine's FixedPoint, multiplier \(m)")
    }
    // One multiplier per channel (last axis), left shifts included, small values so they do not wrap.
    let perChannel = [FixedPoint.Multiplier(3.75), FixedPoint.Multiplier(0.015), FixedPoint.Multiplier(mantissa: 1 << 30, shift: -3)]
    let small: [Int32] = (-40...40).map { $0 * 977 }
    let values = small.flatMap { [$0, $0, $0] }
    let model = requantizationModel(perChannel, rounding, shape: [small.count, 3])
    let got = try #require(
        try InferenceSession(model: model).run(feeds: ["x": .tensor(Tensor(dtype: .int32, shape: [small.count, 3], values: values))])[0]
            .tensor?.values(as: Int32.self))
    for (i, v) in values.enumerated() {
        let m = perChannel[i % 3]
        #expect(got[i] == (rounding == .double ? tfliteDoubleRounding(v, m) : tfliteSingleRounding(v, m)), "\(v) by \(m)")
    }
}

// MARK: whole ops against the engine's tflite integer kernels

private func quant(_ scale: Float, _ zeroPoint: Int64) -> QuantParams {
    QuantParams(scale: scale, zeroPoint: zeroPoint, storageType: .int8)
}

private func int8Info(_ name: String, _ shape: [Int], _ q: QuantParams) -> ValueInfo {
    ValueInfo(name: name, type: .tensor(elementType: .int8, shape: Shape(shape), quantization: q))
}

/// Deterministic int8 values covering the whole range.
private func int8s(_ n: Int, seed: Int) -> [Int8] { (0..<n).map { Int8(truncatingIfNeeded: ($0 * 73 + seed * 41) % 256 - 128) } }

/// Runs a one-node tflite model in the engine as it is and lowered to ONNX; both outputs must be equal.
private func expectLoweringExact(
    _ op: String, inputs: [ValueInfo], constants: [Tensor] = [], nodeInputs: [String], output: ValueInfo,
    attributes: [Attribute] = [], feeds: [String: Tensor], onnxOps: Set<String>
) throws {
    var g = Graph(
        name: "g",
        nodes: [Node(name: "y", opType: op, domain: OpDomain.tflite, inputs: nodeInputs, outputs: [output.name], attributes: attributes)],
        inputs: inputs, outputs: [output], initializers: constants)
    g.valueInfo = constants.map {
        ValueInfo(name: $0.name, type: .tensor(elementType: $0.dtype, shape: Shape($0.shape), quantization: $0.quantization))
    }
    let source = Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
    var lowered = source
    _ = try TFLiteToONNX.pipeline().run(on: &lowered)
    try ModelChecker.check(lowered)
    let ops = Set(lowered.graph.nodes.map(\.opType))
    #expect(onnxOps.isSubset(of: ops), "\(op) lowered to \(ops.sorted())")
    #expect(!ops.contains("QuantizeLinear") && !ops.contains("DequantizeLinear"), "\(op) lowered to \(ops.sorted())")
    let values = feeds.mapValues { Value.tensor($0) }
    let want = try #require(try InferenceSession(model: source).run(feeds: values)[0].tensor)
    let got = try #require(try InferenceSession(model: lowered).run(feeds: values)[0].tensor)
    #expect(got.shape == want.shape)
    #expect(got.values(as: Int8.self) == want.values(as: Int8.self), "\(op)")
}

@Test(arguments: ["ADD", "SUB", "MUL", "SQUARED_DIFFERENCE"])
func int8BinaryOpsAreExact(op: String) throws {
    let (qa, qb) = (quant(0.031, 6), quant(0.0047, -128))
    let qy = op == "SQUARED_DIFFERENCE" ? quant(0.057, -128) : quant(op == "MUL" ? 0.0042 : 0.029, 9)
    let a = Tensor(dtype: .int8, shape: [2, 3, 16], values: int8s(96, seed: 1))
    let b = Tensor(dtype: .int8, shape: [2, 1, 16], values: int8s(32, seed: 2))
    let activation: [Attribute] = op == "SQUARED_DIFFERENCE" ? [] : [attr("fused_activation_function", op == "MUL" ? "NONE" : "RELU6")]
    try expectLoweringExact(
        op, inputs: [int8Info("a", [2, 3, 16], qa), int8Info("b", [2, 1, 16], qb)], nodeInputs: ["a", "b"],
        output: int8Info("y", [2, 3, 16], qy), attributes: activation, feeds: ["a": a, "b": b], onnxOps: ["Mod", "Div"])
}

@Test func int8MeanIsExact() throws {
    let x = Tensor(dtype: .int8, shape: [1, 5, 24], values: int8s(120, seed: 3))
    let axes = Tensor(name: "axes", dtype: .int32, shape: [1], values: [Int32(-1)])
    try expectLoweringExact(
        "MEAN", inputs: [int8Info("x", [1, 5, 24], quant(0.0303, 3))], constants: [axes], nodeInputs: ["x", "axes"],
        output: int8Info("y", [1, 5, 1], quant(0.0041, -6)), attributes: [attr("keep_dims", 1)], feeds: ["x": x],
        onnxOps: ["ReduceSum"])
}

@Test func int8BatchMatMulIsExact() throws {
    let a = Tensor(dtype: .int8, shape: [1, 2, 4, 8], values: int8s(64, seed: 4))
    let b = Tensor(dtype: .int8, shape: [1, 2, 4, 8], values: int8s(64, seed: 5))
    try expectLoweringExact(
        "BATCH_MATMUL", inputs: [int8Info("a", [1, 2, 4, 8], quant(0.03, -16)), int8Info("b", [1, 2, 4, 8], quant(0.029, -7))],
        nodeInputs: ["a", "b"], output: int8Info("y", [1, 2, 4, 4], quant(0.135, 0)), attributes: [attr("adj_y", 1)],
        feeds: ["a": a, "b": b], onnxOps: ["MatMulInteger", "Transpose"])
}

@Test(arguments: [false, true])
func int8FullyConnectedIsExact(perChannel: Bool) throws {
    let scales: [Float] = perChannel ? [0.011, 0.02, 0.0035, 0.05] : [0.013]
    var w = Tensor(name: "w", dtype: .int8, shape: [4, 12], values: int8s(48, seed: 6).map { $0 == -128 ? -127 : $0 })
    func params(_ s: [Float], _ t: DType) -> QuantParams {
        s.count == 1
            ? QuantParams(scale: s[0], zeroPoint: 0, storageType: t)
            : QuantParams(scale: s, zeroPoint: s.map { _ in 0 }, axis: 0, storageType: t)
    }
    w.quantization = params(scales, .int8)
    var bias = Tensor(name: "bias", dtype: .int32, shape: [4], values: [Int32(300), -1200, 45, 0])
    bias.quantization = params(scales.map { $0 * 0.027 }, .int32)
    let x = Tensor(dtype: .int8, shape: [1, 3, 12], values: int8s(36, seed: 7))
    try expectLoweringExact(
        "FULLY_CONNECTED", inputs: [int8Info("x", [1, 3, 12], quant(0.027, 6))], constants: [w, bias], nodeInputs: ["x", "w", "bias"],
        output: int8Info("y", [1, 3, 4], quant(0.029, -7)),
        attributes: [attr("keep_num_dims", 1), attr("fused_activation_function", "RELU")], feeds: ["x": x],
        onnxOps: ["MatMulInteger"])
}

@Test func int8FullyConnectedBecomesMatMulIntegerRoundedAsTFLite() throws {
    // int8 input (scale 0.05, zp -3), per-channel int8 weights, int32 bias, int8 output (0.1, 5), RELU.
    let inQ = quant(0.05, -3)
    let wScales: [Float] = [0.01, 0.02, 0.03]
    let wQ = QuantParams(scale: wScales, zeroPoint: [0, 0, 0], axis: 0, storageType: .int8)
    let bQ = QuantParams(scale: wScales.map { $0 * 0.05 }, zeroPoint: [0, 0, 0], axis: 0, storageType: .int32)
    let wq: [Int8] = (0..<12).map { Int8(($0 * 29) % 61 - 30) }
    let bq: [Int32] = [100, -50, 7]
    var w = Tensor(name: "w", dtype: .int8, shape: [3, 4], values: wq)
    w.quantization = wQ
    var b = Tensor(name: "b", dtype: .int32, shape: [3], values: bq)
    b.quantization = bQ
    var g = Graph(
        name: "g",
        nodes: [
            Node(
                name: "y", opType: "FULLY_CONNECTED", domain: OpDomain.tflite, inputs: ["x", "w", "b"], outputs: ["y"],
                attributes: [attr("fused_activation_function", "RELU")])
        ],
        inputs: [int8Info("x", [2, 4], inQ)], outputs: [int8Info("y", [2, 3], quant(0.1, 5))], initializers: [w, b])
    g.valueInfo = [
        ValueInfo(name: "w", type: .tensor(elementType: .int8, shape: Shape([3, 4]), quantization: wQ)),
        ValueInfo(name: "b", type: .tensor(elementType: .int32, shape: Shape([3]), quantization: bQ)),
    ]
    var onnx = Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
    _ = try TFLiteToONNX.pipeline().run(on: &onnx)
    try ModelChecker.check(onnx)
    #expect(onnx.graph.nodes.filter { $0.opType == "MatMulInteger" }.count == 1)
    #expect(!onnx.graph.nodes.contains { $0.opType == "QuantizeLinear" || $0.opType == "DequantizeLinear" })
    #expect(onnx.graph.inputs[0].type?.tensorElementType == .int8)
    #expect(onnx.graph.outputs[0].type?.tensorElementType == .int8)
    let xq: [Int8] = [-128, -3, 40, 127, 10, -20, 0, 60]
    let out = try #require(
        try InferenceSession(model: onnx).run(feeds: ["x": .tensor(Tensor(dtype: .int8, shape: [2, 4], values: xq))])[0].tensor)
    for r in 0..<2 {
        for o in 0..<3 {
            // TFLite: int32 accumulator, bias, per-channel multiplier sx·sw/sy rounded once, zero point, RELU clamp (5 = zp + round(0/0.1)).
            var acc = bq[o]
            for k in 0..<4 { acc += (Int32(xq[r * 4 + k]) + 3) * Int32(wq[o * 4 + k]) }
            let m = FixedPoint.Multiplier(Double(Float(0.05)) * Double(wScales[o]) / Double(Float(0.1)))
            let expected = min(max(tfliteSingleRounding(acc, m) + 5, 5), 127)
            #expect(Int32(out.values(as: Int8.self)[r * 3 + o]) == expected)
        }
    }
}

@Test(arguments: [false, true])
func int8ConvolutionIsExact(depthwise: Bool) throws {
    // SAME padding with a stride of 2: padding taps must add nothing, as the input zero point.
    let (c, oc) = (3, depthwise ? 6 : 4)
    let wShape = depthwise ? [1, 3, 3, oc] : [oc, 3, 3, c]
    let scales: [Float] = (0..<oc).map { 0.004 + Float($0) * 0.003 }
    var w = Tensor(name: "w", dtype: .int8, shape: wShape, values: int8s(wShape.reduce(1, *), seed: 8).map { $0 == -128 ? -127 : $0 })
    w.quantization = QuantParams(scale: scales, zeroPoint: scales.map { _ in 0 }, axis: depthwise ? 3 : 0, storageType: .int8)
    var bias = Tensor(name: "bias", dtype: .int32, shape: [oc], values: (0..<oc).map { Int32($0 * 350 - 700) })
    bias.quantization = QuantParams(scale: scales.map { $0 * 0.021 }, zeroPoint: scales.map { _ in 0 }, axis: 0, storageType: .int32)
    let x = Tensor(dtype: .int8, shape: [1, 7, 6, c], values: int8s(7 * 6 * c, seed: 9))
    var attributes = [attr("padding", "SAME"), attr("stride_h", 2), attr("stride_w", 2), attr("fused_activation_function", "RELU6")]
    if depthwise { attributes.append(attr("depth_multiplier", 2)) }
    try expectLoweringExact(
        depthwise ? "DEPTHWISE_CONV_2D" : "CONV_2D", inputs: [int8Info("x", [1, 7, 6, c], quant(0.021, -5))], constants: [w, bias],
        nodeInputs: ["x", "w", "bias"], output: int8Info("y", [1, 4, 3, oc], quant(0.031, -128)), attributes: attributes,
        feeds: ["x": x], onnxOps: ["ConvInteger"])
}

@Test(arguments: ["SAME", "VALID"])
func int8AveragePoolIsExact(padding: String) throws {
    // 3x3 windows with stride 2 over 7x6: edge windows have 4 or 6 taps, so many sums are ties.
    let q = quant(0.0099, -93)
    let x = Tensor(dtype: .int8, shape: [1, 7, 6, 5], values: int8s(210, seed: 10))
    let out = padding == "SAME" ? [1, 4, 3, 5] : [1, 3, 2, 5]
    try expectLoweringExact(
        "AVERAGE_POOL_2D", inputs: [int8Info("x", [1, 7, 6, 5], q)], nodeInputs: ["x"], output: int8Info("y", out, q),
        attributes: [
            attr("padding", padding), attr("filter_height", 3), attr("filter_width", 3), attr("stride_h", 2), attr("stride_w", 2),
            attr("fused_activation_function", "RELU"),
        ], feeds: ["x": x], onnxOps: ["ConvInteger"])
}

@Test(arguments: [Float(0.2), -0.7])
func int8LeakyReluIsExact(alpha: Float) throws {
    let x = Tensor(dtype: .int8, shape: [2, 128], values: int8s(256, seed: 11))
    try expectLoweringExact(
        "LEAKY_RELU", inputs: [int8Info("x", [2, 128], quant(0.023, 4))], nodeInputs: ["x"],
        output: int8Info("y", [2, 128], quant(0.017, -60)),
        attributes: [attrF("alpha", alpha)], feeds: ["x": x], onnxOps: ["Where"])
}
