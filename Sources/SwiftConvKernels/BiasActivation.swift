/// Element-wise finishing loops of a convolution's output: bias with Relu or Clip.
public enum BiasActivation {
    /// `p[0..<count] = clamp(p[i] + bias, lo, hi)`; NaN compares false and stays NaN.
    public static func biasClamp(_ p: UnsafeMutablePointer<Float>, _ count: Int, bias: Float, lo l: Float, hi h: Float) {
        typealias V = SIMD8<Float>
        let raw = UnsafeMutableRawPointer(p)
        let vb = V(repeating: bias), lo = V(repeating: l), hi = V(repeating: h)
        var i = 0
        while i + 8 <= count {
            var v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) + vb
            v.replace(with: lo, where: v .< lo)
            v.replace(with: hi, where: v .> hi)
            raw.storeBytes(of: v, toByteOffset: i * 4, as: V.self)
            i += 8
        }
        while i < count {
            let v = p[i] + bias
            p[i] = v < l ? l : (v > h ? h : v)
            i += 1
        }
    }
}
