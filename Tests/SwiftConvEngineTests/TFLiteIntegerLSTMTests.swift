import Foundation
import SwiftConvIR
import Testing

@testable import SwiftConvEngine

// The integer LSTM kernels against the LSTM equations in Double on the dequantized weights:
// the quantized arithmetic must land within a few quantization steps of the real-valued
// cell. (Bit-exactness with LiteRT is checked from Python against its reference kernels.)

private let (lstmBatch, lstmSteps, lstmDepth, lstmUnits) = (2, 5, 3, 4)

/// Deterministic int8 values in [-100, 100].
private func int8Values(_ n: Int, seed: UInt64) -> [Int8] {
    tfliteTestValues(n, seed: seed).map { Int8(($0 * 100).rounded()) }
}

private func typed(_ name: String, _ t: DType, _ shape: [Int], _ q: QuantParams?) -> ValueInfo {
    ValueInfo(name: name, type: .tensor(elementType: t, shape: Shape(shape.map { .known($0) }), quantization: q))
}

/// Float LSTM (no CIFG, peephole, projection, layer norm) in Double: gates σ(Wx + Rh + b),
/// g = tanh(…), c = f c + i g, h = o tanh(c). `w[g]`, `r[g]` are `[units, depth]`, `[units, units]`.
private func referenceLSTM(x: [Double], w: [[Double]], r: [[Double]], b: [[Double]]) -> [Double] {
    let (batch, steps, depth, units) = (lstmBatch, lstmSteps, lstmDepth, lstmUnits)
    var out = [Double](repeating: 0, count: batch * steps * units)
    for bi in 0..<batch {
        var h = [Double](repeating: 0, count: units), c = h
        for t in 0..<steps {
            let xr = Array(x[((bi * steps + t) * depth)..<((bi * steps + t + 1) * depth)])
            var gates = [[Double]](repeating: [], count: 4)
            for g in 0..<4 {
                gates[g] = (0..<units).map { u in
                    var s = b[g][u]
                    for k in 0..<depth { s += w[g][u * depth + k] * xr[k] }
                    for k in 0..<units { s += r[g][u * units + k] * h[k] }
                    return g == 2 ? tanh(s) : 1 / (1 + exp(-s))
                }
            }
            for u in 0..<units {
                c[u] = gates[1][u] * c[u] + gates[0][u] * gates[2][u]
                h[u] = gates[3][u] * tanh(c[u])
                out[(bi * steps + t) * units + u] = h[u]
            }
        }
    }
    return out
}

/// A one-node full-integer LSTM model: int8 input and weights, int32 biases, int8 output
/// state and int16 cell state (zeros), five intermediates of which the last carries the
/// hidden state's quantization.
private func int8LSTMModel(cellScale: Float = 0x1p-11, intermediates: Bool = true) -> (Model, [Double], [Double]) {
    let (batch, steps, depth, units) = (lstmBatch, lstmSteps, lstmDepth, lstmUnits)
    let inQ = q8(1.0 / 64, 3), wScale: Float = 1.0 / 128, outQ = q8(1.0 / 128, -2)
    var g = Graph(name: "g")
    let xv = int8Values(batch * steps * depth, seed: 7)
    g.inputs = [typed("x", .int8, [batch, steps, depth], inQ)]
    g.outputs = [typed("y", .int8, [batch, steps, units], outQ)]
    var names = [String](repeating: "", count: 24)
    names[0] = "x"
    var w: [[Double]] = [], r: [[Double]] = [], b: [[Double]] = []
    for gate in 0..<4 {
        let wi = int8Values(units * depth, seed: 20 + UInt64(gate)), wr = int8Values(units * units, seed: 30 + UInt64(gate))
        let bias = tfliteTestValues(units, seed: 40 + UInt64(gate)).map { Int32(($0 * 2000).rounded()) }
        let biasScale = inQ.scale[0] * wScale
        for (i, v, shape) in [(1 + gate, wi, [units, depth]), (5 + gate, wr, [units, units])] {
            names[i] = "w\(i)"
            g.initializers.append(Tensor(name: names[i], dtype: .int8, shape: shape, values: v))
            g.valueInfo.append(typed(names[i], .int8, shape, q8(wScale, 0)))
        }
        names[12 + gate] = "b\(gate)"
        g.initializers.append(Tensor(name: names[12 + gate], dtype: .int32, shape: [units], values: bias))
        g.valueInfo.append(typed(names[12 + gate], .int32, [units], q8(biasScale, 0, .int32)))
        w.append(wi.map { Double($0) * Double(wScale) })
        r.append(wr.map { Double($0) * Double(wScale) })
        b.append(bias.map { Double($0) * Double(biasScale) })
    }
    names[18] = "h0"
    names[19] = "c0"
    // The output state's zero point (-2) is real 0; the cell state starts at 0.
    g.initializers.append(Tensor(name: "h0", dtype: .int8, shape: [batch, units], values: [Int8](repeating: -2, count: batch * units)))
    g.initializers.append(Tensor(name: "c0", dtype: .int16, shape: [batch, units], values: [Int16](repeating: 0, count: batch * units)))
    g.valueInfo.append(typed("h0", .int8, [batch, units], outQ))
    g.valueInfo.append(typed("c0", .int16, [batch, units], QuantParams(scale: cellScale, zeroPoint: 0, storageType: .int16)))
    var node = Node(
        name: "y", opType: "UNIDIRECTIONAL_SEQUENCE_LSTM", domain: OpDomain.tflite, inputs: names, outputs: ["y"],
        attributes: [tfl("fused_activation_function", "TANH"), tfl("time_major", 0)])
    if intermediates {
        let inter = (0..<5).map { "inter\($0)" }
        for n in inter.dropLast() { g.valueInfo.append(typed(n, .float32, [], nil)) }
        g.valueInfo.append(typed("inter4", .int8, [], outQ))
        node.metadata.append(MetadataEntry("tflite.intermediates", "[" + inter.map { "\"\($0)\"" }.joined(separator: ",") + "]"))
    }
    g.nodes = [node]
    let model = Model(format: .tflite, graph: g, opsetImports: [OpsetID(domain: OpDomain.tflite, version: 1)])
    let x = xv.map { (Double($0) - 3) / 64 }
    return (model, x, referenceLSTM(x: x, w: w, r: r, b: b))
}

@Test func int8LSTMTracksTheRealValuedCell() throws {
    let (model, _, expected) = int8LSTMModel()
    let session = try InferenceSession(model: model)
    let x = Tensor(dtype: .int8, shape: [lstmBatch, lstmSteps, lstmDepth], values: int8Values(lstmBatch * lstmSteps * lstmDepth, seed: 7))
    guard let y = try session.run(feeds: ["x": .tensor(x)])[0].tensor else { throw SwiftConvError.validation("no output") }
    #expect(y.dtype == .int8)
    #expect(y.shape == [lstmBatch, lstmSteps, lstmUnits])
    let got = y.values(as: Int8.self).map { (Double($0) + 2) / 128 }
    let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? .infinity
    // A few output steps (1/128): the int8 hidden state feeds back every step.
    #expect(worst < 4.0 / 128, "worst error \(worst)")
    #expect(expected.map(abs).max() ?? 0 > 0.1)
}

@Test func int8LSTMNeedsItsIntermediatesAndAPowerOfTwoCellScale() throws {
    #expect(throws: SwiftConvError.self) { _ = try InferenceSession(model: int8LSTMModel(intermediates: false).0) }
    #expect(throws: SwiftConvError.self) { _ = try InferenceSession(model: int8LSTMModel(cellScale: 0.001).0) }
    // TFLite's tanh handles at most 6 integer bits: a cell scale of 2^-8 is refused.
    #expect(throws: SwiftConvError.self) { _ = try InferenceSession(model: int8LSTMModel(cellScale: 0x1p-8).0) }
    // A NaN or negative clip is refused, not converted to an integer.
    for clip in [Float.nan, -1, .infinity] {
        var m = int8LSTMModel().0
        m.graph.nodes[0].attributes.append(tfl("cell_clip", clip))
        #expect(throws: SwiftConvError.self) { _ = try InferenceSession(model: m) }
    }
}

/// The dynamic-range form: the same weights as int8 with scales, float input, biases and state.
@Test(arguments: [false, true])
func hybridLSTMTracksTheFloatCell(asymmetric: Bool) throws {
    let (intModel, x, expected) = int8LSTMModel()
    var g = intModel.graph
    let (batch, steps, depth, units) = (lstmBatch, lstmSteps, lstmDepth, lstmUnits)
    g.inputs = [typed("x", .float32, [batch, steps, depth], nil)]
    g.outputs = [typed("y", .float32, [batch, steps, units], nil)]
    g.valueInfo.removeAll { $0.name.hasPrefix("b") || $0.name == "h0" || $0.name == "c0" || $0.name.hasPrefix("inter") }
    g.initializers = g.initializers.map { t in
        switch t.dtype {
        case .int32:
            // Biases back to float with their scale (input scale * weight scale).
            return Tensor(name: t.name, dtype: .float32, shape: t.shape, values: t.values(as: Int32.self).map { Float($0) / 64 / 128 })
        case .int16,
            .int8 where t.name == "h0":
            return Tensor(name: t.name, dtype: .float32, shape: t.shape, values: [Float](repeating: 0, count: t.elementCount))
        default:
            return t
        }
    }
    g.nodes[0].metadata = []
    g.nodes[0].attributes.append(tfl("asymmetric_quantize_inputs", asymmetric ? 1 : 0))
    let model = Model(format: .tflite, graph: g, opsetImports: intModel.opsetImports)
    let xt = Tensor(dtype: .float32, shape: [batch, steps, depth], values: x.map { Float($0) })
    let y = try runTFLite(model, [("x", xt)])
    #expect(y.dtype == .float32)
    let got = y.values(as: Float.self).map(Double.init)
    let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? .infinity
    // Per-row int8 quantization of the input and the state: about 1% of their range.
    #expect(worst < 0.02, "worst error \(worst)")
}
