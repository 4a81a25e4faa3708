import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The tensor-level arithmetic of TFLite post-training quantization: symmetric int8 weights
/// (per tensor or per channel), asymmetric int8 activations from a range, int32 biases, float16.
enum QuantizedTensors {
    /// Quantized values never use -128 in symmetric weights, as TFLite's kernels assume.
    static let symmetricLimit: Float = 127

    /// Symmetric int8 quantization of a float32 constant: one scale per index along `axis`,
    /// or one for the tensor when `axis` is nil; zero points are 0. Nil when `axis` is not
    /// a dimension of `t` (a malformed model: the op then stays float).
    static func symmetricInt8(_ t: Tensor, axis: Int?, name: String) -> Tensor? {
        if let axis, !(axis >= 0 && axis < t.shape.count && t.shape[axis] > 0) { return nil }
        let values = t.values(as: Float.self)
        let channels = axis.map { t.shape[$0] } ?? 1
        // inner: elements after the axis; an index i belongs to channel (i / inner) % channels.
        let inner = axis.map { t.shape[($0 + 1)...].reduce(1, *) } ?? values.count
        var maxAbs = [Float](repeating: 0, count: channels)
        for (i, v) in values.enumerated() {
            let c = axis == nil ? 0 : (i / inner) % channels
            maxAbs[c] = max(maxAbs[c], abs(v.isFinite ? v : 0))
        }
        // An all-zero channel still needs a positive scale.
        let scales = maxAbs.map { $0 > 0 ? $0 / symmetricLimit : 1 }
        var q = [Int8](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            let c = axis == nil ? 0 : (i / inner) % channels
            q[i] = Int8(clampedRounding: v / scales[c], limit: symmetricLimit)
        }
        var out = Tensor(name: name, dtype: .int8, shape: t.shape, values: q)
        out.quantization =
            axis.map { QuantParams(scale: scales, zeroPoint: [Int64](repeating: 0, count: channels), axis: $0, storageType: .int8) }
            ?? QuantParams(scale: scales[0], zeroPoint: 0, storageType: .int8)
        return out
    }

    /// Asymmetric int8 parameters covering `min...max` and 0 (TFLite's nudged zero point).
    static func activationParams(min lo: Float, max hi: Float) -> QuantParams {
        let lo = Swift.min(lo, 0)
        let hi = Swift.max(hi, 0)
        var scale = (hi - lo) / 255
        if !(scale > 0) || !scale.isFinite { scale = 1.0 / 255 }
        let zero = (-128 - Double(lo) / Double(scale)).rounded()
        let zp = Int64(Swift.max(-128, Swift.min(127, zero)))
        return QuantParams(scale: scale, zeroPoint: zp, storageType: .int8)
    }

    /// A float32 constant as int8 with asymmetric per-tensor parameters from its own range.
    static func asymmetricInt8(_ t: Tensor, name: String) -> Tensor {
        let values = t.values(as: Float.self).map { $0.isFinite ? $0 : 0 }
        let p = activationParams(min: values.min() ?? 0, max: values.max() ?? 0)
        var out = Tensor(name: name, dtype: .int8, shape: t.shape, values: quantize(values, p))
        out.quantization = p
        return out
    }

    /// `values` quantized with per-tensor `p` (round half away from zero, then clamp).
    static func quantize(_ values: [Float], _ p: QuantParams) -> [Int8] {
        let scale = p.scale[0]
        let zp = Float(p.zeroPoint[0])
        return values.map { v in Int8(clampedRounding: v / scale + zp, limit: 128) }
    }

    /// An int32 bias with scale inputScale * weightScale[c] per channel, zero point 0.
    static func int32Bias(_ t: Tensor, inputScale: Float, weight: QuantParams, name: String) -> Tensor {
        let values = t.values(as: Float.self)
        let scales = values.indices.map { c in inputScale * (weight.scale(forChannel: c) ?? weight.scale[0]) }
        let q = values.enumerated().map { c, v -> Int32 in
            let r = (Double(v) / Double(scales[c])).rounded()
            guard r.isFinite else { return 0 }
            return Int32(Swift.max(Double(Int32.min), Swift.min(Double(Int32.max), r)))
        }
        var out = Tensor(name: name, dtype: .int32, shape: t.shape, values: q)
        out.quantization =
            weight.isPerTensor || scales.count == 1
            ? QuantParams(scale: scales[0], zeroPoint: 0, storageType: .int32)
            : QuantParams(scale: scales, zeroPoint: [Int64](repeating: 0, count: scales.count), axis: 0, storageType: .int32)
        return out
    }

    /// A float32 constant as float16 (values beyond float16's range saturate to its largest finite value).
    static func float16(_ t: Tensor, name: String) -> Tensor {
        let limit = Float(Float16.greatestFiniteMagnitude)
        let bits = t.values(as: Float.self).map { v -> UInt16 in
            Float16(v.isNaN ? v : Swift.max(-limit, Swift.min(limit, v))).bitPattern
        }
        return Tensor(name: name, dtype: .float16, shape: t.shape, values: bits)
    }
}

extension Int8 {
    /// `v` rounded half away from zero and clamped to [-limit, limit] within Int8's range.
    init(clampedRounding v: Float, limit: Float) {
        let r = v.isFinite ? v.rounded(.toNearestOrAwayFromZero) : 0
        self = Int8(Swift.max(Swift.max(-limit, -128), Swift.min(Swift.min(limit, 127), r)))
    }
}
