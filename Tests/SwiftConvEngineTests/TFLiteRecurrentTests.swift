import Foundation
import SwiftConvIR
import Testing

@testable import SwiftConvEngine

/// The LSTM configurations under test: which optional parts are present.
struct LSTMCase: Sendable, CustomTestStringConvertible {
    var timeMajor = false
    var cifg = false
    var peephole = false
    var projection = false
    var layerNorm = false
    var cellClip: Float = 0
    var projClip: Float = 0
    var testDescription: String {
        "timeMajor \(timeMajor) cifg \(cifg) peephole \(peephole) projection \(projection) layerNorm \(layerNorm)"
    }
}

/// UNIDIRECTIONAL_SEQUENCE_LSTM against TFLite's equations written out per gate in Double:
/// gate = σ(LN(W x + R h + p ⊙ c) ⊙ ln + b), c' = clip(f c + i g), h = o tanh(c'),
/// output = clip(P h + pb) with a projection.
@Test(arguments: [
    LSTMCase(),
    LSTMCase(timeMajor: true, peephole: true, cellClip: 0.5),
    LSTMCase(cifg: true, projection: true, projClip: 0.3),
    LSTMCase(cifg: true, peephole: true, layerNorm: true),
    LSTMCase(timeMajor: true, projection: true, layerNorm: true),
])
func sequenceLSTMFollowsTheGateEquations(_ cfg: LSTMCase) throws {
    let (batch, steps, depth, units) = (2, 4, 3, 5)
    let outSize = cfg.projection ? 4 : units
    let x = tfliteRandom(cfg.timeMajor ? [steps, batch, depth] : [batch, steps, depth], seed: 41)
    var names = [String](repeating: "", count: 24)
    var constants: [Tensor] = []
    var seed: UInt64 = 100
    func add(_ i: Int, _ shape: [Int], scale: Float = 1) {
        seed += 1
        let v = tfliteTestValues(shape.reduce(1, *), seed: seed).map { $0 * scale }
        names[i] = "t\(i)"
        constants.append(Tensor(name: names[i], dtype: .float32, shape: shape, values: v))
    }
    for g in 0..<4 where !(cfg.cifg && g == 0) {
        add(1 + g, [units, depth])
        add(5 + g, [units, outSize])
        add(12 + g, [units])
        if cfg.layerNorm { add(20 + g, [units]) }
    }
    if cfg.peephole {
        if !cfg.cifg { add(9, [units]) }
        add(10, [units])
        add(11, [units])
    }
    if cfg.projection {
        add(16, [outSize, units])
        add(17, [outSize])
    }
    add(18, [batch, outSize], scale: 0.5)
    add(19, [batch, units], scale: 0.5)
    names[0] = "x"
    let model = tfliteModel(
        "UNIDIRECTIONAL_SEQUENCE_LSTM", inputs: [("x", x)], constants: constants, nodeInputs: names,
        attributes: [
            tfl("fused_activation_function", "TANH"), tfl("time_major", cfg.timeMajor ? 1 : 0), tfl("cell_clip", cfg.cellClip),
            tfl("proj_clip", cfg.projClip),
        ])
    let got = try runTFLite(model, [("x", x)])

    func values(_ i: Int) -> [Double]? {
        constants.first { $0.name == "t\(i)" }.map { $0.values(as: Float.self).map(Double.init) }
    }
    let xv = x.values(as: Float.self).map(Double.init)
    var h = values(18)!, c = values(19)!
    var out = [Double](repeating: 0, count: steps * batch * outSize)
    func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
    for t in 0..<steps {
        var newH = h
        for b in 0..<batch {
            let xr = (cfg.timeMajor ? t * batch + b : b * steps + t) * depth
            let hPrev = Array(h[(b * outSize)..<((b + 1) * outSize)]), cPrev = Array(c[(b * units)..<((b + 1) * units)])
            /// Gate g's pre-activation for all units (peephole on `cell`).
            func gate(_ g: Int, cell: [Double]) -> [Double] {
                var v = [Double](repeating: 0, count: units)
                let w = values(1 + g)!, r = values(5 + g)!
                for u in 0..<units {
                    for k in 0..<depth { v[u] += w[u * depth + k] * xv[xr + k] }
                    for k in 0..<outSize { v[u] += r[u * outSize + k] * hPrev[k] }
                    if cfg.peephole, g != 2, let p = values(g == 0 ? 9 : (g == 1 ? 10 : 11)) { v[u] += p[u] * cell[u] }
                }
                if cfg.layerNorm {
                    let mean = v.reduce(0, +) / Double(units)
                    let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(units)
                    let ln = values(20 + g)!
                    for u in 0..<units { v[u] = (v[u] - mean) / (variance + 1e-8).squareRoot() * ln[u] }
                }
                let bias = values(12 + g)!
                return (0..<units).map { v[$0] + bias[$0] }
            }
            let f = gate(1, cell: cPrev).map(sigmoid)
            let i = cfg.cifg ? f.map { 1 - $0 } : gate(0, cell: cPrev).map(sigmoid)
            let g = gate(2, cell: cPrev).map(tanh)
            var cNew = (0..<units).map { f[$0] * cPrev[$0] + i[$0] * g[$0] }
            if cfg.cellClip > 0 { cNew = cNew.map { min(max($0, -Double(cfg.cellClip)), Double(cfg.cellClip)) } }
            let o = gate(3, cell: cNew).map(sigmoid)
            let hidden = (0..<units).map { o[$0] * tanh(cNew[$0]) }
            var output = hidden
            if cfg.projection {
                let p = values(16)!, pb = values(17)!
                output = (0..<outSize).map { r in (0..<units).reduce(pb[r]) { $0 + p[r * units + $1] * hidden[$1] } }
                if cfg.projClip > 0 { output = output.map { min(max($0, -Double(cfg.projClip)), Double(cfg.projClip)) } }
            }
            for u in 0..<units { c[b * units + u] = cNew[u] }
            for k in 0..<outSize { newH[b * outSize + k] = output[k] }
            let row = cfg.timeMajor ? t * batch + b : b * steps + t
            for k in 0..<outSize { out[row * outSize + k] = output[k] }
        }
        h = newH
    }
    #expect(got.shape == (cfg.timeMajor ? [steps, batch, outSize] : [batch, steps, outSize]))
    #expect(tfliteMaxError(got.values(as: Float.self), out.map { Float($0) }) < 1e-5)
}
