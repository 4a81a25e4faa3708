import Foundation
import SwiftConvIR
import Testing

@testable import SwiftConvEngine

/// TFLite's SAME/VALID output size and leading pad (ComputePaddingWithOffset), written out.
private func tflitePad(_ n: Int, _ k: Int, _ s: Int, _ d: Int, same: Bool) -> (out: Int, pad: Int) {
    let ek = (k - 1) * d + 1
    if !same { return ((n - ek + s) / s, 0) }
    let out = (n + s - 1) / s
    return (out, max(0, (out - 1) * s + ek - n) / 2)
}

/// Direct NHWC convolution: every output element summed over its window.
private func referenceConv(
    _ x: Tensor, _ w: Tensor, _ b: [Float]?, stride: (Int, Int), dilation: (Int, Int), same: Bool, act: String
) -> (shape: [Int], values: [Float]) {
    let xv = x.values(as: Float.self), wv = w.values(as: Float.self)
    let (n, h, wd, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, kh, kw, cg) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let mg = cout / (cin / cg)
    let (oh, pt) = tflitePad(h, kh, stride.0, dilation.0, same: same)
    let (ow, pl) = tflitePad(wd, kw, stride.1, dilation.1, same: same)
    var out = [Float](repeating: 0, count: n * oh * ow * cout)
    for b0 in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for o in 0..<cout {
        var s: Float = b?[o] ?? 0
        let g = o / mg
        for ky in 0..<kh { for kx in 0..<kw { for c in 0..<cg {
            let iy = oy * stride.0 - pt + ky * dilation.0, ix = ox * stride.1 - pl + kx * dilation.1
            if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
            let xi: Int = ((b0 * h + iy) * wd + ix) * cin + g * cg + c
            let wi: Int = ((o * kh + ky) * kw + kx) * cg + c
            s += xv[xi] * wv[wi]
        } } }
        out[((b0 * oh + oy) * ow + ox) * cout + o] = tfliteActivate(s, act)
    } } } }
    return ([n, oh, ow, cout], out)
}

private func convAttributes(_ stride: (Int, Int), _ dilation: (Int, Int), _ same: Bool, _ act: String) -> [Attribute] {
    [
        tfl("padding", same ? "SAME" : "VALID"), tfl("stride_h", stride.0), tfl("stride_w", stride.1),
        tfl("dilation_h_factor", dilation.0), tfl("dilation_w_factor", dilation.1), tfl("fused_activation_function", act),
    ]
}

@Test(arguments: [
    // (input NHWC, filter OHWI, stride, dilation, SAME, activation)
    ([1, 9, 11, 3], [8, 3, 3, 3], 1, 1, true, "RELU6"),
    ([2, 10, 7, 5], [6, 3, 2, 5], 2, 1, true, "NONE"),
    ([1, 12, 12, 4], [5, 3, 3, 4], 1, 2, false, "RELU"),
    ([1, 6, 6, 16], [20, 1, 1, 16], 1, 1, true, "RELU_N1_TO_1"),  // pointwise: one GEMM
    ([1, 8, 8, 6], [6, 3, 3, 2], 1, 1, true, "TANH"),  // grouped: 3 groups
    ([1, 30, 30, 16], [32, 3, 3, 16], 2, 1, true, "NONE"),  // several window blocks
])
func conv2DMatchesDirectLoops(x: [Int], w: [Int], stride: Int, dilation: Int, same: Bool, act: String) throws {
    let xt = tfliteRandom(x, seed: 1), wt = tfliteRandom(w, seed: 2, name: "w"), bt = tfliteRandom([w[0]], seed: 3, name: "b")
    let attrs = convAttributes((stride, stride + (same ? 0 : 1)), (dilation, dilation), same, act)
    let model = tfliteModel("CONV_2D", inputs: [("x", xt)], constants: [wt, bt], nodeInputs: ["x", "w", "b"], attributes: attrs)
    let got = try runTFLite(model, [("x", xt)])
    let want = referenceConv(
        xt, wt, bt.values(as: Float.self), stride: (stride, stride + (same ? 0 : 1)), dilation: (dilation, dilation), same: same,
        act: act)
    #expect(got.shape == want.shape)
    #expect(tfliteMaxError(got.values(as: Float.self), want.values) < 1e-5)
}

/// Weights fed at run time (not pre-packed) and no bias give the same result.
@Test func conv2DWithFedWeightsAndNoBias() throws {
    let xt = tfliteRandom([1, 7, 7, 3], seed: 4), wt = tfliteRandom([4, 3, 3, 3], seed: 5)
    let model = tfliteModel(
        "CONV_2D", inputs: [("x", xt), ("w", wt)], nodeInputs: ["x", "w", ""],
        attributes: convAttributes((2, 2), (1, 1), true, "NONE"))
    let got = try runTFLite(model, [("x", xt), ("w", wt)])
    let want = referenceConv(xt, wt, nil, stride: (2, 2), dilation: (1, 1), same: true, act: "NONE")
    #expect(got.shape == want.shape)
    #expect(tfliteMaxError(got.values(as: Float.self), want.values) < 1e-5)
}

@Test(arguments: [
    // (input, KH, KW, multiplier, stride, dilation, SAME)
    ([1, 9, 9, 11], 3, 3, 1, 1, 1, true),
    ([2, 8, 10, 3], 3, 2, 2, 2, 1, true),
    ([1, 11, 11, 17], 5, 5, 1, 2, 1, false),
    ([1, 10, 10, 4], 3, 3, 3, 1, 2, true),
])
func depthwiseConv2DMatchesDirectLoops(x: [Int], kh: Int, kw: Int, mult: Int, stride: Int, dilation: Int, same: Bool) throws {
    let c = x[3], oc = c * mult
    let xt = tfliteRandom(x, seed: 6), wt = tfliteRandom([1, kh, kw, oc], seed: 7, name: "w"), bt = tfliteRandom([oc], seed: 8, name: "b")
    var attrs = convAttributes((stride, stride), (dilation, dilation), same, "RELU")
    attrs.append(tfl("depth_multiplier", mult))
    let model = tfliteModel(
        "DEPTHWISE_CONV_2D", inputs: [("x", xt)], constants: [wt, bt], nodeInputs: ["x", "w", "b"], attributes: attrs)
    let got = try runTFLite(model, [("x", xt)])
    let xv = xt.values(as: Float.self), wv = wt.values(as: Float.self), bv = bt.values(as: Float.self)
    let (h, wd) = (x[1], x[2])
    let (oh, pt) = tflitePad(h, kh, stride, dilation, same: same), (ow, pl) = tflitePad(wd, kw, stride, dilation, same: same)
    var want = [Float](repeating: 0, count: x[0] * oh * ow * oc)
    for b0 in 0..<x[0] { for oy in 0..<oh { for ox in 0..<ow { for ic in 0..<c { for m in 0..<mult {
        let o = ic * mult + m
        var s = bv[o]
        for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * stride - pt + ky * dilation, ix = ox * stride - pl + kx * dilation
            if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
            let xi = ((b0 * h + iy) * wd + ix) * c + ic
            let wi = (ky * kw + kx) * oc + o
            s += xv[xi] * wv[wi]
        } }
        want[((b0 * oh + oy) * ow + ox) * oc + o] = max(0, s)
    } } } } }
    #expect(got.shape == [x[0], oh, ow, oc])
    #expect(tfliteMaxError(got.values(as: Float.self), want) < 1e-5)
}

@Test(arguments: [
    // (input, output HW, weights OHWI, stride, SAME, activation)
    ([1, 4, 5, 3], [8, 10], [2, 3, 3, 3], 2, true, "NONE"),
    ([2, 3, 3, 4], [7, 7], [5, 3, 3, 4], 2, false, "RELU"),
    ([1, 5, 4, 2], [5, 4], [3, 2, 2, 2], 1, true, "NONE"),
    ([1, 3, 3, 2], [9, 9], [2, 4, 4, 2], 3, true, "RELU6"),
])
func transposeConvMatchesScatterLoops(x: [Int], outHW: [Int], w: [Int], stride: Int, same: Bool, act: String) throws {
    let xt = tfliteRandom(x, seed: 9), wt = tfliteRandom(w, seed: 10, name: "w"), bt = tfliteRandom([w[0]], seed: 11, name: "b")
    let outShape = [x[0], outHW[0], outHW[1], w[0]]
    let shapeT = Tensor(name: "shape", dtype: .int32, shape: [4], values: outShape.map { Int32($0) })
    let model = tfliteModel(
        "TRANSPOSE_CONV", inputs: [("x", xt)], constants: [shapeT, wt, bt], nodeInputs: ["shape", "w", "x", "b"],
        attributes: [
            tfl("padding", same ? "SAME" : "VALID"), tfl("stride_h", stride), tfl("stride_w", stride),
            tfl("fused_activation_function", act),
        ])
    let got = try runTFLite(model, [("x", xt)])
    // Reference: every input pixel scatters filter * value into the output (TFLite's reference loop).
    let xv = xt.values(as: Float.self), wv = wt.values(as: Float.self), bv = bt.values(as: Float.self)
    let (kh, kw, cin, cout) = (w[1], w[2], w[3], w[0])
    let pt = tflitePad(outHW[0], kh, stride, 1, same: same).pad, pl = tflitePad(outHW[1], kw, stride, 1, same: same).pad
    var want = [Float](repeating: 0, count: outShape.reduce(1, *))
    for b0 in 0..<x[0] { for iy in 0..<x[1] { for ix in 0..<x[2] { for ky in 0..<kh { for kx in 0..<kw {
        let oy = iy * stride - pt + ky, ox = ix * stride - pl + kx
        if oy < 0 || oy >= outHW[0] || ox < 0 || ox >= outHW[1] { continue }
        for o in 0..<cout { for c in 0..<cin {
            let oi: Int = ((b0 * outHW[0] + oy) * outHW[1] + ox) * cout + o
            let xi: Int = ((b0 * x[1] + iy) * x[2] + ix) * cin + c
            let wi: Int = ((o * kh + ky) * kw + kx) * cin + c
            want[oi] += xv[xi] * wv[wi]
        } }
    } } } } }
    for i in 0..<want.count { want[i] = tfliteActivate(want[i] + bv[i % cout], act) }
    #expect(got.shape == outShape)
    #expect(tfliteMaxError(got.values(as: Float.self), want) < 1e-5)
}

@Test(arguments: [
    ([3, 20], false, "NONE"), ([2, 3, 20], true, "RELU"), ([2, 3, 20], false, "RELU6"), ([1, 300], false, "TANH"),
])
func fullyConnectedMatchesDotProducts(x: [Int], keep: Bool, act: String) throws {
    let depth = x.last!, units = 7
    let xt = tfliteRandom(x, seed: 12), wt = tfliteRandom([units, depth], seed: 13, name: "w"), bt = tfliteRandom([units], seed: 14, name: "b")
    let model = tfliteModel(
        "FULLY_CONNECTED", inputs: [("x", xt)], constants: [wt, bt], nodeInputs: ["x", "w", "b"],
        attributes: [tfl("keep_num_dims", keep ? 1 : 0), tfl("fused_activation_function", act)])
    let got = try runTFLite(model, [("x", xt)])
    let xv = xt.values(as: Float.self), wv = wt.values(as: Float.self), bv = bt.values(as: Float.self)
    let rows = xv.count / depth
    var want: [Float] = []
    for r in 0..<rows {
        for u in 0..<units {
            var s = bv[u]
            for k in 0..<depth { s += xv[r * depth + k] * wv[u * depth + k] }
            want.append(tfliteActivate(s, act))
        }
    }
    #expect(got.shape == (keep ? Array(x.dropLast()) + [units] : [rows, units]))
    #expect(tfliteMaxError(got.values(as: Float.self), want) < 1e-5)
}

@Test(arguments: [
    ([2, 3, 4], [2, 4, 5], false, false), ([2, 4, 3], [4, 5], true, false), ([3, 1, 3, 4], [2, 5, 4], false, true),
    ([1, 6, 7], [1, 40, 6], true, true),
])
func batchMatMulBroadcastsAndTransposes(x: [Int], y: [Int], adjX: Bool, adjY: Bool) throws {
    let xt = tfliteRandom(x, seed: 15), yt = tfliteRandom(y, seed: 16)
    let model = tfliteModel(
        "BATCH_MATMUL", inputs: [("x", xt), ("b", yt)], nodeInputs: ["x", "b"],
        attributes: [tfl("adj_x", adjX ? 1 : 0), tfl("adj_y", adjY ? 1 : 0)])
    let got = try runTFLite(model, [("x", xt), ("b", yt)])
    let xr = x.count, yr = y.count
    let m = adjX ? x[xr - 1] : x[xr - 2], k = adjX ? x[xr - 2] : x[xr - 1], n = adjY ? y[yr - 2] : y[yr - 1]
    let xb = Array(x.dropLast(2)), yb = Array(y.dropLast(2))
    let rank = max(xb.count, yb.count)
    let xp = [Int](repeating: 1, count: rank - xb.count) + xb, yp = [Int](repeating: 1, count: rank - yb.count) + yb
    let batch = zip(xp, yp).map { max($0, $1) }
    let xv = xt.values(as: Float.self), yv = yt.values(as: Float.self)
    var want: [Float] = []
    for b in 0..<batch.reduce(1, *) {
        // Batch index → each operand's matrix (a broadcast dimension stays at 0).
        var rem = b, xi = 0, yi = 0
        var idx = [Int](repeating: 0, count: rank)
        for d in stride(from: rank - 1, through: 0, by: -1) {
            idx[d] = rem % batch[d]
            rem /= batch[d]
        }
        for d in 0..<rank {
            xi = xi * xp[d] + (xp[d] == 1 ? 0 : idx[d])
            yi = yi * yp[d] + (yp[d] == 1 ? 0 : idx[d])
        }
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for t in 0..<k {
                    let a = adjX ? xv[xi * m * k + t * m + i] : xv[xi * m * k + i * k + t]
                    let c = adjY ? yv[yi * k * n + j * k + t] : yv[yi * k * n + t * n + j]
                    s += a * c
                }
                want.append(s)
            }
        }
    }
    #expect(got.shape == batch + [m, n])
    #expect(tfliteMaxError(got.values(as: Float.self), want) < 1e-5)
}

/// Filters that do not fit the input are errors, not traps.
@Test func conv2DRejectsMismatchedFilter() throws {
    let xt = tfliteRandom([1, 5, 5, 3], seed: 1), wt = tfliteRandom([4, 3, 3, 2], seed: 2)
    let model = tfliteModel(
        "CONV_2D", inputs: [("x", xt), ("w", wt)], nodeInputs: ["x", "w"], attributes: convAttributes((1, 1), (1, 1), true, "NONE"))
    #expect(throws: SwiftConvError.self) { _ = try runTFLite(model, [("x", xt), ("w", wt)]) }
}
