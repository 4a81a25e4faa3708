import SwiftConvIR
import SwiftConvTestSupport
import Testing

/// A one-node model whose input `x` has the given type (Identity to `y`).
private func modelWithInput(_ type: ValueType) -> Model {
    var m = makeModel(
        [Node(name: "id", opType: "Identity", inputs: ["x"], outputs: ["y"])],
        inputs: [ValueInfo(name: "x", type: type)], outputs: ["y"])
    m.graph.outputs[0].type = .tensor(elementType: type.tensorElementType ?? .float32, shape: type.tensorShape)
    return m
}

private func quantized(_ e: DType, _ dims: [Int], _ q: QuantParams) -> ValueType {
    .tensor(elementType: e, shape: dims.map { .known($0) }, quantization: q)
}

@Test func checkerAcceptsValidQuantization() throws {
    try ModelChecker.check(modelWithInput(quantized(.uint8, [2, 3], QuantParams(scale: 0.5, zeroPoint: 255, storageType: .uint8))))
    try ModelChecker.check(
        modelWithInput(
            quantized(
                .int8, [2, 3],
                QuantParams(scale: [0.1, 0.2], zeroPoint: [-128, 127], axis: 0, storageType: .int8))))
    try ModelChecker.check(modelWithInput(quantized(.int4, [3], QuantParams(scale: 2, zeroPoint: -8, storageType: .int4))))
}

@Test func checkerRejectsBadQuantizationNamingTheValue() {
    let cases: [(QuantParams, DType, [Int], String)] = [
        (QuantParams(scale: 0, zeroPoint: 0, storageType: .uint8), .uint8, [2], "scale 0.0 is not finite and positive"),
        (QuantParams(scale: -1, zeroPoint: 0, storageType: .uint8), .uint8, [2], "scale -1.0 is not finite and positive"),
        (QuantParams(scale: .nan, zeroPoint: 0, storageType: .uint8), .uint8, [2], "is not finite and positive"),
        (QuantParams(scale: 1, zeroPoint: 256, storageType: .uint8), .uint8, [2], "zero point 256 is outside the uint8 range 0...255"),
        (QuantParams(scale: 1, zeroPoint: -129, storageType: .int8), .int8, [2], "zero point -129 is outside the int8 range"),
        (QuantParams(scale: 1, zeroPoint: 8, storageType: .int4), .int4, [2], "zero point 8 is outside the int4 range"),
        (
            QuantParams(scale: [1, 1, 1], zeroPoint: [0, 0, 0], axis: 0, storageType: .int8), .int8, [2, 3],
            "3 scales for 2 channels along axis 0"
        ),
        (QuantParams(scale: [1, 1], zeroPoint: [0], axis: 0, storageType: .int8), .int8, [2, 3], "2 scales but 1 zero points"),
        (QuantParams(scale: [1, 1], zeroPoint: [0, 0], axis: 2, storageType: .int8), .int8, [2, 3], "axis 2 is out of range for rank 2"),
        (QuantParams(scale: [1, 1], zeroPoint: [0, 0], storageType: .int8), .int8, [2], "per-tensor quantization has 2 scales"),
        (QuantParams(scale: 1, zeroPoint: 0, storageType: .int8), .uint8, [2], "storage type int8 differs from the element type uint8"),
        (QuantParams(scale: 1, zeroPoint: 0, storageType: .float32), .float32, [2], "storage type float is not an integer type"),
    ]
    for (q, e, dims, why) in cases {
        let message = validationFailure { try ModelChecker.check(modelWithInput(quantized(e, dims, q))) }
        #expect(message?.hasPrefix("graph input 'x': ") == true && message?.contains(why) == true, "\(q): \(message ?? "accepted")")
    }
}

@Test func checkerChecksQuantizationInValueInfoAndInitializers() {
    var m = modelWithInput(.tensor(elementType: .float32, shape: [.known(2)]))
    m.graph.valueInfo = [ValueInfo(name: "y", type: quantized(.uint8, [2], QuantParams(scale: 0, zeroPoint: 0, storageType: .uint8)))]
    #expect(validationFailure { try ModelChecker.check(m) }?.hasPrefix("value 'y': quantization scale 0.0") == true)

    var w = Tensor(name: "w", dtype: .int8, shape: [3, 2], values: [Int8](repeating: 1, count: 6))
    w.quantization = QuantParams(scale: [1, 2], zeroPoint: [0, 0], axis: 0, storageType: .int8)
    var n = modelWithInput(.tensor(elementType: .float32, shape: [.known(2)]))
    n.graph.initializers = [w]
    n.graph.inputs.append(ValueInfo(name: "w", type: .tensor(elementType: .int8, shape: [.known(3), .known(2)])))
    #expect(validationFailure { try ModelChecker.check(n) }?.hasPrefix("initializer 'w': quantization has 2 scales for 3 channels") == true)
}

@Test func perChannelAccessors() {
    let q = QuantParams(scale: [0.5, 0.25], zeroPoint: [1, -1], axis: 1, storageType: .int8)
    #expect(!q.isPerTensor && q.channelCount == 2)
    #expect(q.scale(forChannel: 1) == 0.25 && q.zeroPoint(forChannel: 1) == -1)
    #expect(q.scale(forChannel: 2) == nil && q.zeroPoint(forChannel: -1) == nil)
    let t = QuantParams(scale: 0.5, zeroPoint: 3, storageType: .uint8)
    #expect(t.isPerTensor && t.scale(forChannel: 7) == 0.5 && t.zeroPoint(forChannel: 7) == 3)
}

@Test func parametersRoundTripThroughTensors() throws {
    for q in [
        QuantParams(scale: [0.5, 0.25, 4], zeroPoint: [-8, 7, -1], axis: 0, storageType: .int4),
        QuantParams(scale: [0.5, 0.25, 4], zeroPoint: [0, 15, 9], axis: 2, storageType: .uint4),
        QuantParams(scale: 0.125, zeroPoint: -32768, storageType: .int16),
        QuantParams(scale: 3, zeroPoint: 200, storageType: .uint8),
    ] {
        let zp = try #require(q.zeroPointTensor(name: "zp"))
        #expect(zp.dtype == q.storageType && zp.shape == (q.isPerTensor ? [] : [q.channelCount]))
        #expect(QuantParams.fromConstants(scale: q.scaleTensor(name: "s"), zeroPoint: zp, storageType: q.storageType, axis: q.axis) == q)
    }
    // int4 packs two per byte, low nibble first: -8 -> 0x8, 7 -> 0x7, -1 -> 0xF.
    let packed = QuantParams(scale: [1, 1, 1], zeroPoint: [-8, 7, -1], axis: 0, storageType: .int4).zeroPointTensor(name: "zp")
    #expect(packed?.values(as: UInt8.self) == [0x78, 0x0F])
    // Several scales need an axis; a zero point of another type is not these parameters.
    #expect(
        QuantParams.fromConstants(
            scale: Tensor(dtype: .float32, shape: [2], values: [Float(1), 2]), zeroPoint: nil,
            storageType: .int8, axis: nil) == nil)
    #expect(
        QuantParams.fromConstants(
            scale: Tensor(dtype: .float32, shape: [], values: [Float(1)]),
            zeroPoint: Tensor(dtype: .int8, shape: [], values: [Int8(0)]), storageType: .uint8, axis: nil) == nil)
}

@Test func modelTextShowsQuantization() {
    let m = modelWithInput(quantized(.uint8, [2], QuantParams(scale: 0.5, zeroPoint: 3, storageType: .uint8)))
    #expect(ModelText.printableGraph(m).contains("%x[uint8, 2, quantized uint8 scale 0.5 zero point 3]"))
    #expect(ModelText.summary(m).contains("uint8 (quantized uint8 scale 0.5 zero point 3)"))
}
