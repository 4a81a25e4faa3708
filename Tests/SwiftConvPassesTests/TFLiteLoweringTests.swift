import SwiftConvEngine
import SwiftConvIR
import SwiftConvONNX
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// The TFLite -> ONNX lowering on small tflite-domain graphs built here (as the importer
// makes them: NHWC, OHWI filters, fused activations, quantization on the value types).
// The lowered ONNX model runs in our engine; expected values are computed in the test
// with TFLite's definitions written out (SAME padding with the odd pixel at the end, the
// affine quantization formulas).

private func tflite(_ op: String, _ inputs: [String], _ outputs: [String], _ attributes: [Attribute] = []) -> Node {
    Node(name: outputs[0], opType: op, domain: OpDomain.tflite, inputs: inputs, outputs: outputs, attributes: attributes)
}

private func info(_ name: String, _ t: DType, _ shape: [Int], _ q: QuantParams? = nil) -> ValueInfo {
    ValueInfo(name: name, type: .tensor(elementType: t, shape: Shape(shape), quantization: q))
}

private func tfliteModel(
    _ nodes: [Node], inputs: [ValueInfo], outputs: [ValueInfo], values: [ValueInfo] = [], constants: [Tensor] = []
)
    -> Model
{
    var g = Graph(name: "main", nodes: nodes, inputs: inputs, outputs: outputs, initializers: constants)
    g.valueInfo = values
    return Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
}

/// Deterministic values in [-1, 1).
private func ramp(_ n: Int, seed: Int = 1) -> [Float] {
    (0..<n).map { Float(($0 * 37 + seed * 11) % 23) / 11.5 - 1 }
}

private func lowered(_ m: Model, opset: Int64 = 13) throws -> Model {
    var m = m
    _ = try TFLiteToONNX.pipeline(opset: opset).run(on: &m)
    try ModelChecker.check(m)
    // The ONNX writer and reader take it as it is.
    let bytes = try ONNXWriter.serialize(m)
    let storage = TensorStorage(copying: bytes.withUnsafeBytes { $0 })
    _ = try ONNXReader.load(bytes: storage.bytes, owner: storage, baseDirectory: nil)
    return m
}

private func run(_ m: Model, _ feeds: [String: Tensor]) throws -> [Tensor] {
    try InferenceSession(model: m).run(feeds: feeds.mapValues { Value.tensor($0) }).map { try #require($0.tensor) }
}

private func count(_ op: String, _ m: Model) -> Int { m.graph.nodes.filter { $0.opType == op }.count }

/// TFLite's NHWC convolution with OHWI filters (multiplier > 0: depthwise with [1,kh,kw,C*m]).
private func referenceConv(
    x: [Float], xShape: [Int], w: [Float], wShape: [Int], bias: [Float], stride: Int, same: Bool, depthwise multiplier: Int = 0
) -> (values: [Float], shape: [Int]) {
    let (n, h, wd, c) = (xShape[0], xShape[1], xShape[2], xShape[3])
    let (kh, kw) = (wShape[1], wShape[2])
    let cout = multiplier > 0 ? wShape[3] : wShape[0]
    let oh = same ? (h + stride - 1) / stride : (h - kh) / stride + 1
    let ow = same ? (wd + stride - 1) / stride : (wd - kw) / stride + 1
    let padH = same ? max((oh - 1) * stride + kh - h, 0) / 2 : 0
    let padW = same ? max((ow - 1) * stride + kw - wd, 0) / 2 : 0
    var out = [Float](repeating: 0, count: n * oh * ow * cout)
    for b in 0..<n {
        for y in 0..<oh {
            for xo in 0..<ow {
                for o in 0..<cout {
                    var acc = bias[o]
                    for i in 0..<kh {
                        for j in 0..<kw {
                            let (iy, ix) = (y * stride + i - padH, xo * stride + j - padW)
                            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                            if multiplier > 0 {
                                let ci = o / multiplier
                                acc += x[((b * h + iy) * wd + ix) * c + ci] * w[(i * kw + j) * cout + o]
                            } else {
                                for ci in 0..<c { acc += x[((b * h + iy) * wd + ix) * c + ci] * w[((o * kh + i) * kw + j) * c + ci] }
                            }
                        }
                    }
                    out[((b * oh + y) * ow + xo) * cout + o] = acc
                }
            }
        }
    }
    return (out, [n, oh, ow, cout])
}

private func maxError(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

@Test func conv2DSameStrideTwoWithRelu6MatchesTFLiteDefinition() throws {
    let xs = [1, 5, 5, 2]
    let ws = [3, 3, 3, 2]
    let (x, w, bias) = (ramp(50).map { $0 * 4 }, ramp(54, seed: 2), [0.5, -0.25, 1] as [Float])
    let m = tfliteModel(
        [
            tflite(
                "CONV_2D", ["x", "w", "b"], ["y"],
                [attr("padding", "SAME"), attr("stride_h", 2), attr("stride_w", 2), attr("fused_activation_function", "RELU6")])
        ],
        inputs: [info("x", .float32, xs)], outputs: [info("y", .float32, [1, 3, 3, 3])],
        constants: [
            Tensor(name: "w", dtype: .float32, shape: ws, values: w), Tensor(name: "b", dtype: .float32, shape: [3], values: bias),
        ])
    let onnx = try lowered(m)
    #expect(onnx.format == .onnx)
    #expect(onnx.graph.inputs.map(\.name) == ["x"])
    #expect(onnx.graph.outputs.map(\.name) == ["y"])
    #expect(!onnx.graph.nodes.contains { $0.canonicalDomain != "" })
    #expect(count("Transpose", onnx) == 2)
    let out = try run(onnx, ["x": Tensor(dtype: .float32, shape: xs, values: x)])[0]
    let ref = referenceConv(x: x, xShape: xs, w: w, wShape: ws, bias: bias, stride: 2, same: true)
    #expect(out.shape == ref.shape)
    #expect(maxError(out.values(as: Float.self), ref.values.map { min(max($0, 0), 6) }) < 1e-5)
}

@Test func depthwiseConvValidWithMultiplierMatchesTFLiteDefinition() throws {
    let xs = [1, 4, 4, 2]
    let ws = [1, 2, 2, 4]
    let (x, w, bias) = (ramp(32), ramp(16, seed: 3), [0, 1, 2, 3] as [Float])
    let m = tfliteModel(
        [tflite("DEPTHWISE_CONV_2D", ["x", "w", "b"], ["y"], [attr("padding", "VALID"), attr("depth_multiplier", 2)])],
        inputs: [info("x", .float32, xs)], outputs: [info("y", .float32, [1, 3, 3, 4])],
        constants: [
            Tensor(name: "w", dtype: .float32, shape: ws, values: w), Tensor(name: "b", dtype: .float32, shape: [4], values: bias),
        ])
    let out = try run(try lowered(m), ["x": Tensor(dtype: .float32, shape: xs, values: x)])[0]
    let ref = referenceConv(x: x, xShape: xs, w: w, wShape: ws, bias: bias, stride: 1, same: false, depthwise: 2)
    #expect(out.shape == ref.shape)
    #expect(maxError(out.values(as: Float.self), ref.values) < 1e-5)
}

/// conv -> relu -> conv, a residual add with a constant, max pool, all NHWC.
private func layoutChain() -> Model {
    let xs = [1, 4, 4, 2]
    let w1 = Tensor(name: "w1", dtype: .float32, shape: [2, 1, 1, 2], values: ramp(4))
    let w2 = Tensor(name: "w2", dtype: .float32, shape: [2, 3, 3, 2], values: ramp(36, seed: 5))
    let c = Tensor(name: "c", dtype: .float32, shape: [2], values: [0.5, -0.5] as [Float])
    let same = attr("padding", "SAME")
    return tfliteModel(
        [
            tflite("CONV_2D", ["x", "w1"], ["a"], [same]),
            tflite("RELU", ["a"], ["r"]),
            tflite("CONV_2D", ["r", "w2"], ["b"], [same]),
            tflite("ADD", ["b", "c"], ["s"]),
            tflite(
                "MAX_POOL_2D", ["s"], ["y"],
                [same, attr("filter_height", 2), attr("filter_width", 2), attr("stride_h", 2), attr("stride_w", 2)]),
        ],
        inputs: [info("x", .float32, xs)], outputs: [info("y", .float32, [1, 2, 2, 2])],
        values: [info("a", .float32, xs), info("r", .float32, xs), info("b", .float32, xs), info("s", .float32, xs)],
        constants: [w1, w2, c])
}

@Test func transposesBetweenLayoutOpsCancel() throws {
    // One transpose in, one out.
    let xs = [1, 4, 4, 2]
    let onnx = try lowered(layoutChain())
    #expect(count("Transpose", onnx) == 2)
    let x = ramp(32)
    let out = try run(onnx, ["x": Tensor(dtype: .float32, shape: xs, values: x)])[0].values(as: Float.self)
    let a = referenceConv(x: x, xShape: xs, w: ramp(4), wShape: [2, 1, 1, 2], bias: [0, 0], stride: 1, same: true).values
    let b = referenceConv(
        x: a.map { max($0, 0) }, xShape: xs, w: ramp(36, seed: 5), wShape: [2, 3, 3, 2], bias: [0, 0], stride: 1, same: true
    )
    .values
    let s = b.enumerated().map { $1 + ($0 % 2 == 0 ? 0.5 : -0.5) }
    var ref: [Float] = []
    for y in 0..<2 {
        for xo in 0..<2 {
            for ch in 0..<2 {
                ref.append([0, 1].flatMap { i in [0, 1].map { j in s[((2 * y + i) * 4 + 2 * xo + j) * 2 + ch] } }.max()!)
            }
        }
    }
    #expect(maxError(out, ref) < 1e-5)
}

/// Every tflite value survives in the value map, most of them as the NCHW value that the
/// cancelled transposes left, and the per-layer verification agrees on each.
@Test func loweringMapsTheTFLiteValuesItKeeps() throws {
    let m = layoutChain()
    let onnx = try lowered(m)
    let map = try #require(try ValueMap(model: onnx))
    let values = Set(onnx.graph.inputs.map(\.name) + onnx.graph.nodes.flatMap(\.outputs))
    #expect(map.names.allSatisfy { values.contains($0) })
    #expect(Set(map.names.compactMap { map[$0]?.source }) == ["x", "a", "r", "b", "s", "y"])
    #expect(map.names.filter { map[$0]?.perm == [0, 3, 1, 2] }.count == 5, "\(map.json)")
    var options = VerificationOptions()
    options.perLayer = true
    let x = Tensor(dtype: .float32, shape: [1, 4, 4, 2], values: ramp(32))
    let report = try ModelVerifier.verify(reference: m, candidate: onnx, feeds: [("x", .tensor(x))], options: options)
    #expect(report.ok)
    #expect(report.layers.map(\.name) == ["a", "r", "b", "s", "y"])
    #expect(report.layers.allSatisfy { $0.ok && $0.comparison.count == 32 || $0.name == "y" })
}

@Test func everyUnlowerableNodeIsReportedAtOnce() throws {
    let m = tfliteModel(
        [
            Node(name: "c", opType: "MyCustom", domain: OpDomain.tfliteCustom, inputs: ["x"], outputs: ["c"]),
            tflite("GATHER", ["c", "p"], ["m"], [attr("batch_dims", 1)]),
            tflite("NOT_A_TFLITE_OP", ["m"], ["y"]),
        ],
        inputs: [info("x", .float32, [2])], outputs: [info("y", .float32, [4])],
        values: [info("c", .float32, [2]), info("m", .float32, [4])],
        constants: [Tensor(name: "p", dtype: .int32, shape: [1, 2], values: [1, 1] as [Int32])])
    var copy = m
    let error = #expect(throws: SwiftConvError.self) { try TFLiteToONNX.pipeline().run(on: &copy) }
    #expect(error?.kind == .conversion)
    let message = error?.message ?? ""
    #expect(message.contains("MyCustom 'c'"))
    #expect(message.contains("GATHER 'm'") && message.contains("batch_dims"))
    #expect(message.contains("NOT_A_TFLITE_OP 'y'"))
    // Nothing was rewritten.
    #expect(copy.format == .tflite)
}

@Test func whileLoopBecomesLoopWithTheConditionInlined() throws {
    // while (i < limit) { i = i + step }
    func scalarInfo(_ n: String) -> ValueInfo { info(n, .float32, []) }
    var cond = Graph(
        name: "cond", nodes: [tflite("LESS", ["ci", "climit"], ["cc"])], inputs: [scalarInfo("ci")],
        outputs: [info("cc", .bool, [])], initializers: [Tensor(name: "climit", dtype: .float32, shape: [], values: [Float(10)])])
    cond.valueInfo = [scalarInfo("climit")]
    var body = Graph(
        name: "body", nodes: [tflite("ADD", ["bi", "bstep"], ["bo"])], inputs: [scalarInfo("bi")], outputs: [scalarInfo("bo")],
        initializers: [Tensor(name: "bstep", dtype: .float32, shape: [], values: [Float(3)])])
    body.valueInfo = [scalarInfo("bstep")]
    let m = tfliteModel(
        [
            tflite(
                "WHILE", ["x"], ["y"],
                [Attribute(name: "cond_subgraph", value: .graph(cond)), Attribute(name: "body_subgraph", value: .graph(body))])
        ],
        inputs: [scalarInfo("x")], outputs: [scalarInfo("y")])
    let onnx = try lowered(m)
    #expect(count("Loop", onnx) == 1)
    for (start, expected) in [(Float(0), Float(12)), (1, 10), (11, 11)] {
        let out = try run(onnx, ["x": Tensor(dtype: .float32, shape: [], values: [start])])[0]
        #expect(out.values(as: Float.self) == [expected])
    }
}

@Test func ifBecomesIfWithBranchesReadingOuterValues() throws {
    let then = Graph(
        name: "then", nodes: [tflite("MUL", ["ta", "ta"], ["tb"])], inputs: [info("ta", .float32, [2])],
        outputs: [info("tb", .float32, [2])])
    let other = Graph(
        name: "else", nodes: [tflite("NEG", ["ea"], ["eb"])], inputs: [info("ea", .float32, [2])], outputs: [info("eb", .float32, [2])])
    let m = tfliteModel(
        [
            tflite(
                "IF", ["c", "x"], ["y"],
                [Attribute(name: "then_subgraph", value: .graph(then)), Attribute(name: "else_subgraph", value: .graph(other))])
        ],
        inputs: [info("c", .bool, [1]), info("x", .float32, [2])], outputs: [info("y", .float32, [2])])
    let onnx = try lowered(m)
    let x = Tensor(dtype: .float32, shape: [2], values: [3, -2] as [Float])
    #expect(try run(onnx, ["c": Tensor(dtype: .bool, shape: [1], values: [true]), "x": x])[0].values(as: Float.self) == [9, 4])
    #expect(try run(onnx, ["c": Tensor(dtype: .bool, shape: [1], values: [false]), "x": x])[0].values(as: Float.self) == [-3, 2])
}

@Test func lstmGatesAreReorderedForONNX() throws {
    // One step, batch 1, input 1, hidden 1, batch-major: each gate has its own weight, so a
    // wrong gate order changes the result.
    let names = ["wi", "wf", "wc", "wo", "ri", "rf", "rc", "ro", "bi", "bf", "bc", "bo"]
    let values: [Float] = [0.5, -1, 2, 0.25, 0.1, 0.2, 0.3, 0.4, 0.1, 0.6, -0.2, 0.3]
    let constants = zip(names, values).map { n, v in
        Tensor(name: n, dtype: .float32, shape: n.hasPrefix("b") ? [1] : [1, 1], values: [v])
    }
    var inputs = ["x"] + Array(names[0..<8]) + ["", "", ""] + Array(names[8..<12]) + ["", "", "h", "c"]
    inputs += ["", "", "", ""]
    let m = tfliteModel(
        [tflite("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, ["y"], [attr("fused_activation_function", "TANH"), attr("time_major", 0)])],
        inputs: [info("x", .float32, [1, 2, 1])], outputs: [info("y", .float32, [1, 2, 1])],
        values: names.map { info($0, .float32, $0.hasPrefix("b") ? [1] : [1, 1]) } + [
            info("h", .float32, [1, 1]), info("c", .float32, [1, 1]),
        ],
        constants: constants)
    let onnx = try lowered(m)
    let xs: [Float] = [0.7, -1.3]
    let out = try run(onnx, ["x": Tensor(dtype: .float32, shape: [1, 2, 1], values: xs)])[0].values(as: Float.self)
    func sigmoid(_ v: Float) -> Float { 1 / (1 + Float.exp(-v)) }
    var (h, c): (Float, Float) = (0, 0)
    var expected: [Float] = []
    for x in xs {
        let i = sigmoid(values[0] * x + values[4] * h + values[8])
        let f = sigmoid(values[1] * x + values[5] * h + values[9])
        let g = Float.tanh(values[2] * x + values[6] * h + values[10])
        let o = sigmoid(values[3] * x + values[7] * h + values[11])
        c = f * c + i * g
        h = o * Float.tanh(c)
        expected.append(h)
    }
    #expect(maxError(out, expected) < 1e-5)
}

@Test func transposeCancellationMovesThroughUnaryAndConstantBinaryOps() throws {
    let t1 = Node(name: "t1", opType: "Transpose", inputs: ["x"], outputs: ["a"], attributes: [attr("perm", [0, 3, 1, 2])])
    let relu = Node(name: "r", opType: "Relu", inputs: ["a"], outputs: ["b"])
    let add = Node(name: "add", opType: "Add", inputs: ["b", "c"], outputs: ["s"])
    let t2 = Node(name: "t2", opType: "Transpose", inputs: ["s"], outputs: ["y"], attributes: [attr("perm", [0, 2, 3, 1])])
    // c broadcasts over NCHW channels: [2, 1, 1].
    let c = Tensor(name: "c", dtype: .float32, shape: [2, 1, 1], values: [10, 20] as [Float])
    let m = makeModel(
        [t1, relu, add, t2], inputs: [tensorInfo("x", .float32, [d(1), d(2), d(2), d(2)])], outputs: ["y"], initializers: [c], opset: 13)
    var rewritten = m
    #expect(try TransposeCancellation().run(on: &rewritten))
    #expect(count("Transpose", rewritten) == 0)
    let x = Tensor(dtype: .float32, shape: [1, 2, 2, 2], values: [-1, 1, 2, -2, 3, 4, -5, 6] as [Float])
    let before = try run(m, ["x": x])[0]
    let after = try run(rewritten, ["x": x])[0]
    #expect(after.shape == [1, 2, 2, 2])
    #expect(before.values(as: Float.self) == after.values(as: Float.self))
    #expect(after.values(as: Float.self) == [10, 21, 12, 20, 13, 24, 10, 26])
}
