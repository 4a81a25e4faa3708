import SwiftConvEngine
import SwiftConvIR
import SwiftConvONNX
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// Acceptance item 5 of issue 8: quantized models keep their quantization on the value
// types from load through the annotation pass and a save/load round trip, and a kernel
// reads the scale from its input type. Expected values come from the ONNX formulas
// (`q = saturate(round_half_even(x / s) + zp)`, `x = (q - zp) * s`) written out here.

private func scalar(_ name: String, _ v: Float) -> Tensor { Tensor(name: name, dtype: .float32, shape: [], values: [v]) }
private func scalar(_ name: String, _ v: UInt8) -> Tensor { Tensor(name: name, dtype: .uint8, shape: [], values: [v]) }

private func roundTrip(_ m: Model) throws -> Model {
    // The storage owns the bytes that large initializers borrow.
    let storage = TensorStorage(copying: try ONNXWriter.serialize(m).withUnsafeBytes { $0 })
    return try ONNXReader.load(bytes: storage.bytes, owner: storage, baseDirectory: nil)
}

private func typeOf(_ m: Model, _ name: String) -> ValueType? {
    (m.graph.inputs + m.graph.outputs + m.graph.valueInfo).first { $0.name == name }?.type
}

/// x (float) -> QuantizeLinear(s = 0.5, zp = 3) -> q -> DequantizeLinear(scale from a Constant node) -> y.
private func qdqModel() -> Model {
    var m = makeModel(
        [
            Node(name: "quantize", opType: "QuantizeLinear", inputs: ["x", "s", "zp"], outputs: ["q"]),
            Node(
                name: "scale", opType: "Constant", inputs: [], outputs: ["s_const"],
                attributes: [Attribute(name: "value", value: .tensor(scalar("", Float(0.5))))]),
            Node(name: "dequantize", opType: "DequantizeLinear", inputs: ["q", "s_const", "zp"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(2), d(3)])], outputs: ["y"],
        initializers: [scalar("s", Float(0.5)), scalar("zp", UInt8(3))], opset: 13)
    m.graph.outputs[0].type = .tensor(elementType: .float32, shape: [d(2), d(3)])
    return m
}

private func quantizeDequantize(_ x: Float, scale: Float, zeroPoint: Float) -> Float {
    let q = min(max((x / scale).rounded(.toNearestOrEven) + zeroPoint, 0), 255)
    return (q - zeroPoint) * scale
}

@Test func qdqQuantizationReachesTypesAndSurvivesRoundTrip() throws {
    let loaded = try roundTrip(qdqModel())
    var annotated = loaded
    #expect(try QuantizationAnnotation().run(on: &annotated))
    let expected = QuantParams(scale: 0.5, zeroPoint: 3, storageType: .uint8)
    #expect(typeOf(annotated, "q") == .tensor(elementType: .uint8, shape: nil, quantization: expected))
    #expect(typeOf(annotated, "x")?.quantization == nil)
    #expect(typeOf(annotated, "y")?.quantization == nil)
    #expect(try ModelChecker.check(annotated) == ())
    // A second run finds nothing to do.
    #expect(try QuantizationAnnotation().run(on: &annotated) == false)

    let reloaded = try roundTrip(annotated)
    #expect(typeOf(reloaded, "q")?.quantization == expected)
    // The annotation names the existing scale and zero-point initializers; nothing is added.
    #expect(reloaded.graph.initializers.map(\.name) == ["s", "zp"])
    #expect(
        reloaded.graph.quantizationAnnotations.first?.parameters
            == [MetadataEntry("SCALE_TENSOR", "s"), MetadataEntry("ZERO_POINT_TENSOR", "zp")])
    // Saving the reloaded model again writes the same bytes.
    #expect(try ONNXWriter.serialize(reloaded) == ONNXWriter.serialize(annotated))

    let xs: [Float] = [-1.3, -0.25, 0, 0.74, 1.25, 200]
    let feed = Tensor(dtype: .float32, shape: [2, 3], values: xs)
    let y = try InferenceSession(model: reloaded).run(feeds: ["x": .tensor(feed)])[0].tensor
    #expect(y?.values(as: Float.self) == xs.map { quantizeDequantize($0, scale: 0.5, zeroPoint: 3) })
}

/// QLinearConv: x uint8 [1,1,3,3], weights int8 [2,1,2,2] with one scale per output channel.
private func qlinearConvModel() -> Model {
    let w: [Int8] = [1, -2, 3, 4, -5, 6, 7, -8]
    var m = makeModel(
        [
            Node(
                name: "conv", opType: "QLinearConv",
                inputs: ["x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp"], outputs: ["y"])
        ],
        inputs: [tensorInfo("x", .uint8, [d(1), d(1), d(3), d(3)])], outputs: ["y"],
        initializers: [
            scalar("x_scale", Float(0.1)), scalar("x_zp", UInt8(2)),
            Tensor(name: "w", dtype: .int8, shape: [2, 1, 2, 2], values: w),
            Tensor(name: "w_scale", dtype: .float32, shape: [2], values: [Float(0.05), 0.02]),
            Tensor(name: "w_zp", dtype: .int8, shape: [2], values: [Int8(0), 1]),
            scalar("y_scale", Float(0.2)), scalar("y_zp", UInt8(5)),
        ], opset: 13)
    m.graph.outputs[0].type = .tensor(elementType: .uint8, shape: [d(1), d(2), d(2), d(2)])
    return m
}

@Test func qlinearConvQuantizationReachesTypesAndSurvivesRoundTrip() throws {
    var annotated = try roundTrip(qlinearConvModel())
    #expect(try QuantizationAnnotation().run(on: &annotated))
    let x = QuantParams(scale: 0.1, zeroPoint: 2, storageType: .uint8)
    let w = QuantParams(scale: [0.05, 0.02], zeroPoint: [0, 1], axis: 0, storageType: .int8)
    let y = QuantParams(scale: 0.2, zeroPoint: 5, storageType: .uint8)
    #expect(typeOf(annotated, "x") == .tensor(elementType: .uint8, shape: [d(1), d(1), d(3), d(3)], quantization: x))
    #expect(typeOf(annotated, "w") == .tensor(elementType: .int8, shape: [d(2), d(1), d(2), d(2)], quantization: w))
    #expect(typeOf(annotated, "y") == .tensor(elementType: .uint8, shape: [d(1), d(2), d(2), d(2)], quantization: y))
    #expect(try ModelChecker.check(annotated) == ())

    let reloaded = try roundTrip(annotated)
    for name in ["x", "w", "y"] { #expect(typeOf(reloaded, name) == typeOf(annotated, name)) }
    #expect(try ONNXWriter.serialize(roundTrip(reloaded)) == ONNXWriter.serialize(reloaded))

    let xq: [UInt8] = [0, 7, 20, 255, 3, 2, 90, 1, 44]
    let out = try InferenceSession(model: reloaded)
        .run(feeds: ["x": .tensor(Tensor(dtype: .uint8, shape: [1, 1, 3, 3], values: xq))])[0].tensor
    // y[c, i, j] = saturate(round(sum((x - 2) * (w - w_zp[c])) * 0.1 * w_scale[c] / 0.2) + 5)
    let wv: [Int] = [1, -2, 3, 4, -5, 6, 7, -8], wzp = [0, 1], ws: [Float] = [0.05, 0.02]
    var expected: [UInt8] = []
    for c in 0..<2 {
        for i in 0..<2 {
            for j in 0..<2 {
                var acc = 0
                for ki in 0..<2 {
                    for kj in 0..<2 {
                        acc += (Int(xq[(i + ki) * 3 + j + kj]) - 2) * (wv[c * 4 + ki * 2 + kj] - wzp[c])
                    }
                }
                let r = (Float(acc) * (Float(0.1) * ws[c] / 0.2)).rounded(.toNearestOrEven) + 5
                expected.append(UInt8(min(max(r, 0), 255)))
            }
        }
    }
    // onnxruntime and onnx.reference give the same for this model.
    #expect(expected == [24, 4, 18, 9, 20, 6, 0, 1])
    #expect(out?.values(as: UInt8.self) == expected)
}

/// DequantizeLinear whose scale is a graph input: the kernel knows the scale only from x's type.
private func dequantizeFedScale(declared: QuantParams) -> Model {
    var m = makeModel(
        [Node(name: "dequantize", opType: "DequantizeLinear", inputs: ["x", "s", "zp"], outputs: ["y"])],
        inputs: [
            ValueInfo(name: "x", type: .tensor(elementType: .uint8, shape: [d(4)], quantization: declared)),
            tensorInfo("s", .float32, []),
        ],
        outputs: ["y"], initializers: [scalar("zp", UInt8(10))], opset: 13)
    m.graph.outputs[0].type = .tensor(elementType: .float32, shape: [d(4)])
    return m
}

@Test func dequantizeKernelReadsTheScaleFromItsInputType() throws {
    let declared = QuantParams(scale: 0.25, zeroPoint: 10, storageType: .uint8)
    let loaded = try roundTrip(dequantizeFedScale(declared: declared))
    // The save wrote the scale as a new initializer and reused the equal zero point one.
    #expect(loaded.graph.initializers.map(\.name) == ["zp", "x_scale"])
    #expect(typeOf(loaded, "x")?.quantization == declared)
    let session = try InferenceSession(model: loaded)
    let xq: [UInt8] = [0, 10, 11, 255]
    let x = Value.tensor(Tensor(dtype: .uint8, shape: [4], values: xq))
    let y = try session.run(feeds: ["x": x, "s": .tensor(scalar("", Float(0.25)))])[0].tensor
    #expect(y?.values(as: Float.self) == xq.map { (Float($0) - 10) * 0.25 })
    // A fed scale that contradicts the type is refused: the kernel compared it with the type.
    do {
        _ = try session.run(feeds: ["x": x, "s": .tensor(scalar("", Float(0.5)))])
        Issue.record("a scale contradicting the input type was accepted")
    } catch let e as SwiftConvError {
        #expect("\(e)".contains("quantization"))
    }
}

@Test func dequantizeKernelRefusesConstantsThatContradictTheType() throws {
    var m = dequantizeFedScale(declared: QuantParams(scale: 0.25, zeroPoint: 10, storageType: .uint8))
    m.graph.inputs.removeLast()
    m.graph.initializers.append(scalar("s", Float(0.5)))
    let message = validationFailure { _ = try InferenceSession(model: m) }
    #expect(message?.contains("node 'dequantize'") == true && message?.contains("quantization") == true)
}

@Test func annotationRefusesConflictingQuantization() throws {
    var m = qdqModel()
    m.graph.valueInfo = [
        ValueInfo(
            name: "q",
            type: .tensor(
                elementType: .uint8, shape: nil,
                quantization: QuantParams(scale: 0.25, zeroPoint: 3, storageType: .uint8)))
    ]
    let message = validationFailure { _ = try QuantizationAnnotation().run(on: &m) }
    #expect(message?.contains("value 'q'") == true && message?.contains("node 'quantize'") == true)
}

@Test func modelsWithoutQuantizedTypesGainNoAnnotations() throws {
    let reloaded = try roundTrip(qdqModel())
    #expect(reloaded.graph.quantizationAnnotations.isEmpty)
    #expect(reloaded.graph.initializers.map(\.name) == ["s", "zp"])
    #expect(reloaded.graph.valueInfo.isEmpty)
}

@Test func qlinearConvRefusesWeightsThatContradictTheirType() throws {
    var m = qlinearConvModel()
    m.graph.valueInfo = [
        ValueInfo(
            name: "w",
            type: .tensor(
                elementType: .int8, shape: nil,
                quantization: QuantParams(scale: [0.05, 0.03], zeroPoint: [0, 1], axis: 0, storageType: .int8)))
    ]
    let message = validationFailure { _ = try InferenceSession(model: m) }
    #expect(message?.contains("node 'conv'") == true && message?.contains("input 'w'") == true)
    // The same model with the weights' true quantization builds.
    m.graph.valueInfo[0].type = .tensor(
        elementType: .int8, shape: nil,
        quantization: QuantParams(scale: [0.05, 0.02], zeroPoint: [0, 1], axis: 0, storageType: .int8))
    _ = try InferenceSession(model: m)
}
