import SwiftConvIR
import RealModule
import SwiftConvKernels

/// TFLite's on-the-fly quantization of one float row for dynamic-range kernels
/// (`SymmetricQuantizeFloats` / `AsymmetricQuantizeFloats` of portable_tensor_utils): returns
/// the int8 row's scale and zero point (0 when symmetric).
func quantizeRowForHybrid(_ x: UnsafePointer<Float>, _ n: Int, asymmetric: Bool, into q: UnsafeMutablePointer<Int8>) -> (
    scale: Float, offset: Int32
) {
    var lo = Float.infinity, hi = -Float.infinity
    for i in 0..<n {
        lo = min(lo, x[i])
        hi = max(hi, x[i])
    }
    if n == 0 { (lo, hi) = (0, 0) }
    if !asymmetric {
        let range = max(abs(lo), abs(hi))
        if range == 0 {
            for i in 0..<n { q[i] = 0 }
            return (1, 0)
        }
        let inv = 127 / range
        for i in 0..<n {
            let v = (x[i] * inv).rounded(.toNearestOrAwayFromZero)
            q[i] = Int8(min(127, max(-127, v.isNaN ? 0 : v)))
        }
        return (range / 127, 0)
    }
    let rmin = Double(min(0, lo)), rmax = Double(max(0, hi))
    if rmin == rmax {
        for i in 0..<n { q[i] = 0 }
        return (1, 0)
    }
    let scale = (rmax - rmin) / 255
    let fromMin = -128 - rmin / scale, fromMax = 127 - rmax / scale
    let errMin = 128 + abs(rmin / scale), errMax = 127 + abs(rmax / scale)
    let zp = errMin < errMax ? fromMin : fromMax
    let offset: Int32 = zp <= -128 ? -128 : zp >= 127 ? 127 : Int32(zp.rounded(.toNearestOrAwayFromZero))
    let fscale = Float(scale)
    let inv = 1 / fscale
    for i in 0..<n {
        let v = (Float(offset) + x[i] * inv).rounded(.toNearestOrAwayFromZero)
        q[i] = Int8(min(127, max(-128, v.isNaN ? 0 : v)))
    }
    return (fscale, offset)
}

/// A float fused activation applied after a dynamic-range op (`ApplyActivationToVector`).
func applyFloatActivation(_ name: String, _ v: inout [Float]) throws {
    switch name {
    case "NONE": return
    case "RELU": for i in v.indices { v[i] = max(0, v[i]) }
    case "RELU6": for i in v.indices { v[i] = min(6, max(0, v[i])) }
    case "RELU_N1_TO_1": for i in v.indices { v[i] = min(1, max(-1, v[i])) }
    case "TANH": for i in v.indices { v[i] = Float.tanh(v[i]) }
    case "SIGN_BIT": for i in v.indices { v[i] = v[i].sign == .minus ? 1 : 0 }
    default: throw kernelUnsupported("fused activation \(name)")
    }
}

/// Dynamic-range FULLY_CONNECTED (TFLite's `EvalHybrid`): each input row quantized to int8 on
/// the fly, int8 dot products with the weights, scaled back by row scale times weight scale,
/// added to the float bias; the fused activation in float.
struct HybridFullyConnectedKernel: Kernel {
    let weights: [Int8]
    let rowSums: [Int32]
    let units: Int, depth: Int
    let weightScales: [Float]  // one, or one per unit
    let bias: [Float]?
    let asymmetric: Bool
    let keepNumDims: Bool
    let activation: String

    init(_ ctx: KernelBuildContext) throws {
        guard let w = ctx.constant(1), w.shape.count == 2, w.dtype == .int8 else {
            throw SwiftConvError.unsupportedOp("a dynamic-range FULLY_CONNECTED needs constant int8 rank-2 weights").at(ctx.nodeContext)
        }
        guard let q = ctx.quantization(ofInput: 1), q.zeroPoint.allSatisfy({ $0 == 0 }) else {
            throw ctx.invalid("dynamic-range weights must be symmetric (zero point 0)")
        }
        (units, depth) = (w.shape[0], w.shape[1])
        guard q.scale.count == 1 || q.scale.count == units else { throw ctx.invalid("weights have \(q.scale.count) scales for \(units) units") }
        weightScales = q.scale
        let data = w.values(as: Int8.self)
        let (u, k) = (units, depth)
        weights = data
        rowSums = (0..<u).map { r in data[(r * k)..<((r + 1) * k)].reduce(Int32(0)) { $0 &+ Int32($1) } }
        if ctx.hasInput(2) {
            guard let b = ctx.constant(2), b.dtype == .float32, b.elementCount == units else {
                throw SwiftConvError.unsupportedOp("a dynamic-range FULLY_CONNECTED needs a constant float bias of \(units)").at(ctx.nodeContext)
            }
            bias = b.values(as: Float.self)
        } else {
            bias = nil
        }
        asymmetric = ctx.int("asymmetric_quantize_inputs", default: 0) != 0
        keepNumDims = ctx.int("keep_num_dims", default: 0) != 0
        activation = ctx.fusedActivation
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dtype == .float32 else { throw kernelError("dynamic-range FULLY_CONNECTED expects float32 input, got \(x.dtype)") }
        guard depth > 0, x.elementCount % depth == 0 else { throw kernelError("input of shape \(x.shape) does not divide into rows of \(depth)") }
        let batch = x.elementCount / depth
        let xs = x.values(as: Float.self)
        var out = [Float](repeating: 0, count: batch * units)
        var q = [Int8](repeating: 0, count: depth)
        xs.withUnsafeBufferPointer { xb in
            q.withUnsafeMutableBufferPointer { qb in
                weights.withUnsafeBufferPointer { wb in
                    for b in 0..<batch {
                        let (rowScale, offset) = quantizeRowForHybrid(xb.baseAddress! + b * depth, depth, asymmetric: asymmetric, into: qb.baseAddress!)
                        // TFLite folds a per-tensor weight scale into the row scale first.
                        let folded = weightScales.count == 1 ? rowScale * weightScales[0] : rowScale
                        for r in 0..<units {
                            let row = wb.baseAddress! + r * depth
                            var dot: Int32 = 0
                            for k in 0..<depth { dot &+= Int32(row[k]) &* Int32(qb[k]) }
                            dot &-= rowSums[r] &* offset
                            let scale = weightScales.count == 1 ? folded : folded * weightScales[r]
                            out[b * units + r] = (bias?[r] ?? 0) + Float(dot) * scale
                        }
                    }
                }
            }
        }
        try applyFloatActivation(activation, &out)
        let shape = keepNumDims ? Array(x.shape.dropLast()) + [units] : [batch, units]
        return [.tensor(Tensor(dtype: .float32, shape: shape, values: out))]
    }
}
