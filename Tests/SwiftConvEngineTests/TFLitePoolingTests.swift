import Foundation
import SwiftConvIR
import Testing

@testable import SwiftConvEngine

/// Pools against windows summed directly; TFLite leaves padded positions out of the average.
@Test(arguments: [
    // (op, input, filter, stride, SAME, activation)
    ("AVERAGE_POOL_2D", [1, 7, 9, 5], 3, 2, true, "NONE"),
    ("AVERAGE_POOL_2D", [2, 8, 8, 3], 2, 2, false, "RELU"),
    ("MAX_POOL_2D", [1, 9, 7, 4], 3, 2, true, "NONE"),
    ("MAX_POOL_2D", [2, 6, 6, 10], 2, 1, false, "RELU6"),
    ("L2_POOL_2D", [1, 5, 6, 3], 2, 2, true, "NONE"),
])
func poolMatchesDirectWindows(op: String, x: [Int], filter: Int, stride: Int, same: Bool, act: String) throws {
    let xt = tfliteRandom(x, seed: 21)
    let model = tfliteModel(
        op, inputs: [("x", xt)], nodeInputs: ["x"],
        attributes: [
            tfl("padding", same ? "SAME" : "VALID"), tfl("stride_h", stride), tfl("stride_w", stride),
            tfl("filter_height", filter), tfl("filter_width", filter + 1), tfl("fused_activation_function", act),
        ])
    let got = try runTFLite(model, [("x", xt)])
    let (n, h, w, c) = (x[0], x[1], x[2], x[3])
    let fh = filter, fw = filter + 1
    func geometry(_ size: Int, _ f: Int) -> (Int, Int) {
        if !same { return ((size - f + stride) / stride, 0) }
        let o = (size + stride - 1) / stride
        return (o, max(0, (o - 1) * stride + f - size) / 2)
    }
    let (oh, pt) = geometry(h, fh), (ow, pl) = geometry(w, fw)
    let xv = xt.values(as: Float.self)
    var want: [Float] = []
    for b in 0..<n {
        for oy in 0..<oh {
            for ox in 0..<ow {
                for ch in 0..<c {
                    var values: [Float] = []
                    for ky in 0..<fh {
                        for kx in 0..<fw {
                            let iy = oy * stride - pt + ky, ix = ox * stride - pl + kx
                            if iy >= 0 && iy < h && ix >= 0 && ix < w { values.append(xv[((b * h + iy) * w + ix) * c + ch]) }
                        }
                    }
                    let v: Float
                    switch op {
                    case "AVERAGE_POOL_2D": v = values.reduce(0, +) / Float(values.count)
                    case "MAX_POOL_2D": v = values.max()!
                    default: v = (values.map { $0 * $0 }.reduce(0, +) / Float(values.count)).squareRoot()
                    }
                    want.append(tfliteActivate(v, act))
                }
            }
        }
    }
    #expect(got.shape == [n, oh, ow, c])
    #expect(tfliteMaxError(got.values(as: Float.self), want) < 1e-5)
}
