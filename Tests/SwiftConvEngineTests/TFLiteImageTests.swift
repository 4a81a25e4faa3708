import Foundation
import SwiftConvIR
import Testing

@testable import SwiftConvEngine

private func resizeModel(_ op: String, _ x: Tensor, _ size: [Int], align: Bool, halfPixel: Bool) -> Model {
    let sizeT = Tensor(name: "size", dtype: .int32, shape: [2], values: size.map { Int32($0) })
    return tfliteModel(
        op, inputs: [("x", x)], constants: [sizeT], nodeInputs: ["x", "size"],
        attributes: [tfl("align_corners", align ? 1 : 0), tfl("half_pixel_centers", halfPixel ? 1 : 0)])
}

/// Source coordinate of output index `v` (TF's resize conventions, computed in Double).
private func source(_ v: Int, _ input: Int, _ output: Int, align: Bool, halfPixel: Bool) -> Double {
    let scale = align && output > 1 ? Double(input - 1) / Double(output - 1) : Double(input) / Double(output)
    return halfPixel ? (Double(v) + 0.5) * scale - 0.5 : Double(v) * scale
}

@Test(arguments: [(false, false), (true, false), (false, true)])
func resizeBilinearInterpolates(align: Bool, halfPixel: Bool) throws {
    let x = tfliteRandom([2, 4, 5, 3], seed: 31)
    let got = try runTFLite(resizeModel("RESIZE_BILINEAR", x, [7, 9], align: align, halfPixel: halfPixel), [("x", x)])
    let xv = x.values(as: Float.self)
    var want: [Float] = []
    for b in 0..<2 {
        for oy in 0..<7 {
            // Neighbours clamped into the image; the weight of the far one is the fraction.
            let sy = source(oy, 4, 7, align: align, halfPixel: halfPixel)
            let y0 = min(max(Int(floor(sy)), 0), 3), y1 = min(max(Int(ceil(sy)), 0), 3), fy = sy - Double(y0)
            for ox in 0..<9 {
                let sx = source(ox, 5, 9, align: align, halfPixel: halfPixel)
                let x0 = min(max(Int(floor(sx)), 0), 4), x1 = min(max(Int(ceil(sx)), 0), 4), fx = sx - Double(x0)
                for c in 0..<3 {
                    func at(_ y: Int, _ xx: Int) -> Double { Double(xv[((b * 4 + y) * 5 + xx) * 3 + c]) }
                    let v =
                        at(y0, x0) * (1 - fy) * (1 - fx) + at(y1, x0) * fy * (1 - fx) + at(y0, x1) * (1 - fy) * fx
                        + at(y1, x1) * fy * fx
                    want.append(Float(v))
                }
            }
        }
    }
    #expect(got.shape == [2, 7, 9, 3])
    #expect(tfliteMaxError(got.values(as: Float.self), want) < 1e-5)
}

@Test(arguments: [(false, false), (true, false), (false, true)])
func resizeNearestPicksTheNearestPixel(align: Bool, halfPixel: Bool) throws {
    let x = tfliteRandom([1, 5, 4, 2], seed: 32)
    let got = try runTFLite(resizeModel("RESIZE_NEAREST_NEIGHBOR", x, [8, 3], align: align, halfPixel: halfPixel), [("x", x)])
    let xv = x.values(as: Float.self)
    func pick(_ v: Int, _ input: Int, _ output: Int) -> Int {
        let scale = align && output > 1 ? Double(input - 1) / Double(output - 1) : Double(input) / Double(output)
        let p = (Double(v) + (halfPixel ? 0.5 : 0)) * scale
        return max(0, min(align ? Int(p.rounded()) : Int(floor(p)), input - 1))
    }
    var want: [Float] = []
    for oy in 0..<8 {
        for ox in 0..<3 {
            for c in 0..<2 { want.append(xv[(pick(oy, 5, 8) * 4 + pick(ox, 4, 3)) * 2 + c]) }
        }
    }
    #expect(got.shape == [1, 8, 3, 2])
    #expect(got.values(as: Float.self) == want)
}

/// A size that is not two positive values is a bad argument, not a trap.
@Test func resizeRejectsBadSize() throws {
    let x = tfliteRandom([1, 2, 2, 1], seed: 33)
    #expect(throws: SwiftConvError.self) {
        _ = try runTFLite(resizeModel("RESIZE_BILINEAR", x, [0, 3], align: false, halfPixel: false), [("x", x)])
    }
}
