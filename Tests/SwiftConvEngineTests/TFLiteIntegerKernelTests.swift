import SwiftConvIR
import SwiftConvKernels
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

// Integer tflite kernels against reference loops written here from TFLite's formulas
// (direct windows, no im2col; the fixed-point primitives have their own tests).

/// The standard kernels plus the integer paths of the ops whose float kernels other files own.
private let integerRegistry: KernelRegistry = {
    var r = Kernels.standard
    for op in [
        "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D", "RELU", "RELU6",
        "SOFTMAX", "LOGISTIC", "MEAN", "CONCATENATION", "RESIZE_BILINEAR", "BATCH_MATMUL", "TRANSPOSE_CONV", "PAD",
        "SQUARED_DIFFERENCE",
    ] {
        r.register(op, domain: OpDomain.tflite, since: [1]) { ctx in
            guard let k = try TFLiteIntegerKernels.make(ctx) else { throw SwiftConvError.unsupportedOp("no integer kernel for \(op)") }
            return k
        }
    }
    return r
}()

func q8(_ scale: Float, _ zp: Int64, _ t: DType = .int8) -> QuantParams { QuantParams(scale: scale, zeroPoint: zp, storageType: t) }

private func info(_ name: String, _ t: DType, _ shape: [Int], _ q: QuantParams?) -> ValueInfo {
    ValueInfo(name: name, type: .tensor(elementType: t, shape: Shape(shape.map { .known($0) }), quantization: q))
}

/// Runs one tflite node with graph inputs `feeds` (name, tensor, quantization) and constant `weights`.
func runNode(
    _ op: String, inputs: [String], feeds: [(String, Tensor, QuantParams?)], weights: [(Tensor, QuantParams?)] = [],
    output: (DType, [Int], QuantParams?), attributes: [Attribute] = []
) throws -> Tensor {
    var g = Graph(name: "g")
    g.inputs = feeds.map { info($0.0, $0.1.dtype, $0.1.shape, $0.2) }
    g.valueInfo = weights.map { info($0.0.name, $0.0.dtype, $0.0.shape, $0.1) }
    g.initializers = weights.map(\.0)
    g.outputs = [info("y", output.0, output.1, output.2)]
    g.nodes = [Node(name: "y", opType: op, domain: OpDomain.tflite, inputs: inputs, outputs: ["y"], attributes: attributes)]
    let m = Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
    let session = try InferenceSession(model: m, registry: integerRegistry)
    let out = try session.run(feeds: Dictionary(uniqueKeysWithValues: feeds.map { ($0.0, Value.tensor($0.1)) }))
    guard let t = out[0].tensor else { throw SwiftConvError.invalidArgument("no tensor output") }
    return t
}

/// Deterministic pseudo-random integers in `range`.
func ints(_ n: Int, _ range: ClosedRange<Int32>, seed: UInt64) -> [Int32] {
    var s = seed
    return (0..<n).map { _ in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return range.lowerBound + Int32((s >> 33) % UInt64(range.upperBound - range.lowerBound + 1))
    }
}

func int8(_ name: String, _ shape: [Int], _ v: [Int32]) -> Tensor {
    Tensor(name: name, dtype: .int8, shape: shape, values: v.map { Int8($0) })
}

func requant(_ acc: Int32, _ m: Double, _ zp: Int32, _ lo: Int32 = -128, _ hi: Int32 = 127) -> Int32 {
    min(max(FixedPoint.Multiplier(m).apply(acc) + zp, lo), hi)
}

@Test func int8FullyConnectedPerChannelWithBiasAndRelu() throws {
    let x = ints(10, -128...127, seed: 1), w = ints(15, -127...127, seed: 2), b: [Int32] = [100, -2000, 37]
    let ws: [Float] = [0.01, 0.02, 0.03]
    let wq = QuantParams(scale: ws, zeroPoint: [0, 0, 0], axis: 0, storageType: .int8)
    let y = try runNode(
        "FULLY_CONNECTED", inputs: ["x", "w", "b"], feeds: [("x", int8("x", [2, 5], x), q8(0.05, 3))],
        weights: [(int8("w", [3, 5], w), wq), (Tensor(name: "b", dtype: .int32, shape: [3], values: b), nil)],
        output: (.int8, [2, 3], q8(0.1, -5)), attributes: [attr("fused_activation_function", "RELU")])
    var want: [Int8] = []
    for r in 0..<2 {
        for c in 0..<3 {
            var acc = b[c]
            for k in 0..<5 { acc += (x[r * 5 + k] - 3) * w[c * 5 + k] }
            // Per-channel FULLY_CONNECTED rounds once (x·m + 2^(30-shift)) >> (31-shift), as LiteRT.
            let m = FixedPoint.Multiplier(Double(Float(0.05)) * Double(ws[c]) / Double(Float(0.1)))
            let total = Int64(31 - m.shift)
            let scaled = Int32((Int64(acc) * Int64(m.mantissa) + (1 << (total - 1))) >> total)
            want.append(Int8(min(max(scaled - 5, -5), 127)))
        }
    }
    #expect(y.shape == [2, 3])
    #expect(y.values(as: Int8.self) == want)
}

@Test func uint8FullyConnectedWithWeightZeroPoint() throws {
    let x = ints(8, 0...255, seed: 3), w = ints(8, 0...255, seed: 4)
    let y = try runNode(
        "FULLY_CONNECTED", inputs: ["x", "w", ""],
        feeds: [("x", Tensor(name: "x", dtype: .uint8, shape: [1, 8], values: x.map { UInt8($0) }), q8(0.02, 128, .uint8))],
        weights: [(Tensor(name: "w", dtype: .uint8, shape: [1, 8], values: w.map { UInt8($0) }), q8(0.01, 120, .uint8))],
        output: (.uint8, [1, 1], q8(0.05, 100, .uint8)))
    var acc: Int32 = 0
    for k in 0..<8 { acc += (x[k] - 128) * (w[k] - 120) }
    #expect(y.values(as: UInt8.self) == [UInt8(requant(acc, Double(Float(0.02)) * Double(Float(0.01)) / Double(Float(0.05)), 100, 0, 255))])
}

/// Direct NHWC convolution over valid taps, as TFLite's reference `ConvPerChannel`.
private func referenceConv(
    x: [Int32], n: Int, h: Int, w: Int, c: Int, f: [Int32], oc: Int, kh: Int, kw: Int, stride: Int, same: Bool,
    zx: Int32, bias: [Int32], mult: [Double], zy: Int32, depthwise: Bool
) -> ([Int32], [Int]) {
    let oh = same ? (h + stride - 1) / stride : (h - kh + stride) / stride
    let ow = same ? (w + stride - 1) / stride : (w - kw + stride) / stride
    let pt = same ? max(0, ((oh - 1) * stride + kh - h) / 2) : 0
    let pl = same ? max(0, ((ow - 1) * stride + kw - w) / 2) : 0
    var out: [Int32] = []
    for b in 0..<n {
        for oy in 0..<oh {
            for ox in 0..<ow {
                for o in 0..<oc {
                    var acc = bias[o]
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            let iy = oy * stride - pt + ky, ix = ox * stride - pl + kx
                            if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                            if depthwise {
                                let ic = o / (oc / c)
                                acc += f[(ky * kw + kx) * oc + o] * (x[((b * h + iy) * w + ix) * c + ic] - zx)
                            } else {
                                for ic in 0..<c {
                                    acc += f[((o * kh + ky) * kw + kx) * c + ic] * (x[((b * h + iy) * w + ix) * c + ic] - zx)
                                }
                            }
                        }
                    }
                    out.append(requant(acc, mult[o], zy))
                }
            }
        }
    }
    return (out, [n, oh, ow, oc])
}

@Test(arguments: [("SAME", 1), ("SAME", 2), ("VALID", 1)])
func int8Conv2DPerChannelMatchesDirectWindows(padding: String, stride: Int) throws {
    let x = ints(1 * 5 * 5 * 3, -128...127, seed: 5), f = ints(4 * 3 * 3 * 3, -127...127, seed: 6)
    let bias: [Int32] = [10, -300, 2000, 0]
    let ws: [Float] = [0.004, 0.006, 0.002, 0.01]
    let y = try runNode(
        "CONV_2D", inputs: ["x", "f", "b"], feeds: [("x", int8("x", [1, 5, 5, 3], x), q8(0.03, -7))],
        weights: [
            (int8("f", [4, 3, 3, 3], f), QuantParams(scale: ws, zeroPoint: [0, 0, 0, 0], axis: 0, storageType: .int8)),
            (Tensor(name: "b", dtype: .int32, shape: [4], values: bias), nil),
        ],
        output: (.int8, [1, 5, 5, 4], q8(0.2, 4)),
        attributes: [attr("padding", padding), attr("stride_h", Int64(stride)), attr("stride_w", Int64(stride))])
    let (want, shape) = referenceConv(
        x: x, n: 1, h: 5, w: 5, c: 3, f: f, oc: 4, kh: 3, kw: 3, stride: stride, same: padding == "SAME", zx: -7, bias: bias,
        mult: ws.map { Double(Float(0.03)) * Double($0) / Double(Float(0.2)) }, zy: 4, depthwise: false)
    #expect(y.shape == shape)
    #expect(y.values(as: Int8.self) == want.map { Int8($0) })
}

@Test func int8DepthwiseConvWithMultiplier() throws {
    let x = ints(2 * 4 * 4 * 2, -128...127, seed: 7), f = ints(3 * 3 * 4, -127...127, seed: 8)
    let bias: [Int32] = [5, -5, 50, -50]
    let ws: [Float] = [0.01, 0.02, 0.015, 0.005]
    let y = try runNode(
        "DEPTHWISE_CONV_2D", inputs: ["x", "f", "b"], feeds: [("x", int8("x", [2, 4, 4, 2], x), q8(0.05, 10))],
        weights: [
            (int8("f", [1, 3, 3, 4], f), QuantParams(scale: ws, zeroPoint: [0, 0, 0, 0], axis: 3, storageType: .int8)),
            (Tensor(name: "b", dtype: .int32, shape: [4], values: bias), nil),
        ],
        output: (.int8, [2, 4, 4, 4], q8(0.1, 0)),
        attributes: [attr("padding", "SAME"), attr("stride_h", 1), attr("stride_w", 1), attr("depth_multiplier", 2)])
    let (want, _) = referenceConv(
        x: x, n: 2, h: 4, w: 4, c: 2, f: f, oc: 4, kh: 3, kw: 3, stride: 1, same: true, zx: 10, bias: bias,
        mult: ws.map { Double(Float(0.05)) * Double($0) / Double(Float(0.1)) }, zy: 0, depthwise: true)
    #expect(y.values(as: Int8.self) == want.map { Int8($0) })
}

@Test(arguments: ["ADD", "SUB"])
func int8AddSubRescaleThroughTwiceTheLargerScale(op: String) throws {
    let a = ints(6, -128...127, seed: 9), b = ints(3, -128...127, seed: 10)
    let (sa, sb, so): (Float, Float, Float) = (0.05, 0.02, 0.06)
    let y = try runNode(
        op, inputs: ["a", "b"], feeds: [("a", int8("a", [2, 3], a), q8(sa, 1)), ("b", int8("b", [3], b), q8(sb, -3))],
        output: (.int8, [2, 3], q8(so, 2)))
    let twice = Double(2 * max(sa, sb))
    let m1 = FixedPoint.Multiplier(Double(sa) / twice)
    var m2 = FixedPoint.Multiplier(Double(sb) / twice)
    if op == "SUB" { m2.mantissa = -m2.mantissa }
    let mo = FixedPoint.Multiplier(twice / (Double(1 << 20) * Double(so)))
    let want = (0..<6).map { i -> Int8 in
        let s = m1.apply((a[i] - 1) << 20) + m2.apply((b[i % 3] + 3) << 20)
        return Int8(min(max(mo.apply(s) + 2, -128), 127))
    }
    #expect(y.values(as: Int8.self) == want)
    // The result is the real sum or difference within one output step.
    for i in 0..<6 {
        let real = sa * Float(a[i] - 1) + (op == "SUB" ? -1 : 1) * sb * Float(b[i % 3] + 3)
        let clamped = min(max(real / so + 2, -128), 127)
        #expect(abs(Float(want[i]) - clamped) <= 1)
    }
}

@Test func int8MulRequantizesTheProduct() throws {
    let a = ints(4, -128...127, seed: 11), b = ints(4, -128...127, seed: 12)
    let y = try runNode(
        "MUL", inputs: ["a", "b"], feeds: [("a", int8("a", [4], a), q8(0.1, 0)), ("b", int8("b", [4], b), q8(0.05, 5))],
        output: (.int8, [4], q8(0.5, -1)), attributes: [attr("fused_activation_function", "RELU6")])
    let hi = Int32(-1 + (6 / Float(0.5)).rounded())
    let want = (0..<4).map { i in Int8(requant(a[i] * (b[i] - 5), Double(Float(0.1) * Float(0.05) / Float(0.5)), -1, -1, hi)) }
    #expect(y.values(as: Int8.self) == want)
}

@Test func int8PoolingOverValidTaps() throws {
    let x = ints(1 * 3 * 3 * 2, -128...127, seed: 13)
    let attrs = [attr("padding", "SAME"), attr("stride_h", 2), attr("stride_w", 2), attr("filter_height", 2), attr("filter_width", 2)]
    let mx = try runNode(
        "MAX_POOL_2D", inputs: ["x"], feeds: [("x", int8("x", [1, 3, 3, 2], x), q8(0.1, 0))],
        output: (.int8, [1, 2, 2, 2], q8(0.1, 0)), attributes: attrs)
    let avg = try runNode(
        "AVERAGE_POOL_2D", inputs: ["x"], feeds: [("x", int8("x", [1, 3, 3, 2], x), q8(0.1, 0))],
        output: (.int8, [1, 2, 2, 2], q8(0.1, 0)), attributes: attrs)
    var wantMax: [Int8] = [], wantAvg: [Int8] = []
    for oy in 0..<2 {
        for ox in 0..<2 {
            for c in 0..<2 {
                var taps: [Int32] = []
                for iy in (oy * 2)..<min(3, oy * 2 + 2) {
                    for ix in (ox * 2)..<min(3, ox * 2 + 2) { taps.append(x[(iy * 3 + ix) * 2 + c]) }
                }
                wantMax.append(Int8(taps.max()!))
                // Round half away from zero of the mean.
                let mean = (Double(taps.reduce(0, +)) / Double(taps.count)).rounded(.toNearestOrAwayFromZero)
                wantAvg.append(Int8(mean))
            }
        }
    }
    #expect(mx.values(as: Int8.self) == wantMax)
    #expect(avg.values(as: Int8.self) == wantAvg)
}

@Test func int8Relu6RequantizesAndClamps() throws {
    let x: [Int32] = [-128, -20, 0, 10, 60, 127]
    let y = try runNode(
        "RELU6", inputs: ["x"], feeds: [("x", int8("x", [6], x), q8(0.1, -10))], output: (.int8, [6], q8(0.05, -128)))
    // Real inputs -11.8, -1, 1, 2, 7, 13.7 → clamp to [0, 6] → /0.05 - 128.
    #expect(y.values(as: Int8.self) == [-128, -128, -108, -88, -8, -8])
}

@Test func quantizeDequantizeRoundTrips() throws {
    let xs: [Float] = [-1.0, -0.26, 0, 0.25, 0.75, 100, -100]
    let q = try runNode(
        "QUANTIZE", inputs: ["x"], feeds: [("x", Tensor(name: "x", dtype: .float32, shape: [7], values: xs), nil)],
        output: (.int8, [7], q8(0.5, 3)))
    // round(x / 0.5) half away from zero, + 3, clamped.
    #expect(q.values(as: Int8.self) == [1, 2, 3, 4, 5, 127, -128])
    let r = try runNode(
        "QUANTIZE", inputs: ["x"], feeds: [("x", int8("x", [4], [-128, -3, 0, 127]), q8(0.5, 3))],
        output: (.int8, [4], q8(0.25, -1)))
    #expect(r.values(as: Int8.self) == [-128, -13, -7, 127])
    let u = try runNode(
        "QUANTIZE", inputs: ["x"],
        feeds: [("x", Tensor(name: "x", dtype: .uint8, shape: [3], values: [UInt8(0), 128, 255]), q8(0.1, 128, .uint8))],
        output: (.int8, [3], q8(0.1, 0)))
    #expect(u.values(as: Int8.self) == [-128, 0, 127])
    let d = try runNode(
        "DEQUANTIZE", inputs: ["x"], feeds: [("x", int8("x", [3], [-128, 3, 127]), q8(0.5, 3))], output: (.float32, [3], nil))
    #expect(d.values(as: Float.self) == [-65.5, 0, 62])
    let h = try runNode(
        "DEQUANTIZE", inputs: ["x"],
        feeds: [("x", Tensor(name: "x", dtype: .float16, shape: [2], values: [Float16(1.5), Float16(-0.25)]), nil)],
        output: (.float32, [2], nil))
    #expect(h.values(as: Float.self) == [1.5, -0.25])
}

/// TFLite's symmetric per-row quantization, written out for the test.
private func symmetricRow(_ x: [Float]) -> ([Int32], Float) {
    let range = x.map(abs).max() ?? 0
    if range == 0 { return (x.map { _ in 0 }, 1) }
    return (x.map { Int32(min(127, max(-127, ($0 * (127 / range)).rounded(.toNearestOrAwayFromZero)))) }, range / 127)
}

@Test func hybridFullyConnectedQuantizesRowsOnTheFly() throws {
    let xs: [Float] = [0.5, -1.25, 2.0, 0.1, -0.3, 0.0, 0.7, 1.5]
    let w = ints(12, -127...127, seed: 14)
    let bias: [Float] = [0.5, -0.25, 1]
    let y = try runNode(
        "FULLY_CONNECTED", inputs: ["x", "w", "b"], feeds: [("x", Tensor(name: "x", dtype: .float32, shape: [2, 4], values: xs), nil)],
        weights: [(int8("w", [3, 4], w), q8(0.02, 0)), (Tensor(name: "b", dtype: .float32, shape: [3], values: bias), nil)],
        output: (.float32, [2, 3], nil))
    var want: [Float] = []
    for r in 0..<2 {
        let (q, s) = symmetricRow(Array(xs[(r * 4)..<(r * 4 + 4)]))
        for u in 0..<3 {
            let dot = (0..<4).reduce(Int32(0)) { $0 + q[$1] * w[u * 4 + $1] }
            want.append(bias[u] + Float(dot) * (s * 0.02))
        }
    }
    let got = y.values(as: Float.self)
    #expect(zip(got, want).allSatisfy { abs($0 - $1) <= 1e-5 })
    // And close to the float product.
    for r in 0..<2 {
        for u in 0..<3 {
            let real = bias[u] + (0..<4).reduce(Float(0)) { $0 + xs[r * 4 + $1] * Float(w[u * 4 + $1]) * 0.02 }
            #expect(abs(got[r * 3 + u] - real) < 0.1)
        }
    }
}
