import RealModule
import SwiftConvIR

/// DFT, STFT, window functions, MelWeightMatrix.
enum SignalKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("DFT", since: [17, 20]) { ctx in
            DFTKernel(
                axisAttribute: ctx.sinceVersion < 20 ? ctx.int("axis", default: 1) : nil,
                inverse: ctx.int("inverse", default: 0) != 0, onesided: ctx.int("onesided", default: 0) != 0)
        }
        r.register("STFT", since: [17]) { ctx in STFTKernel(onesided: ctx.int("onesided", default: 1) != 0) }
        for (op, kind) in [("HannWindow", WindowKernel.Kind.hann), ("HammingWindow", .hamming), ("BlackmanWindow", .blackman)] {
            r.register(op, since: [17]) { ctx in
                WindowKernel(
                    kind: kind, periodic: ctx.int("periodic", default: 1) != 0,
                    dtype: try outputDatatype(ctx, default: .float32))
            }
        }
        r.register("MelWeightMatrix", since: [17]) { ctx in
            MelWeightMatrixKernel(dtype: try outputDatatype(ctx, default: .float32))
        }
    }

    static func outputDatatype(_ ctx: KernelBuildContext, default d: DType) throws -> DType {
        let code = ctx.int("output_datatype", default: Int64(d.rawValue))
        guard let dt = DType(rawValue: Int32(code)), dt == .float32 || dt == .float64 || dt == .float16 || dt.isInteger,
            dt.bitWidth % 8 == 0
        else {
            throw SwiftConvError.unsupportedOp("output_datatype \(code) is not supported")
        }
        return dt
    }
}

/// A complex DFT of length `n` by direct summation with a precomputed twiddle table;
/// power-of-two lengths use an iterative radix-2 FFT.
struct ComplexDFT {
    let n: Int
    let inverse: Bool
    let cosTable: [Double]
    let sinTable: [Double]

    init(length n: Int, inverse: Bool) {
        self.n = n
        self.inverse = inverse
        let sign = inverse ? 1.0 : -1.0
        cosTable = (0..<max(n, 1)).map { Double.cos(2 * Double.pi * Double($0) / Double(n)) }
        sinTable = (0..<max(n, 1)).map { sign * Double.sin(2 * Double.pi * Double($0) / Double(n)) }
    }

    /// Transforms (re, im) in place (unnormalized).
    func transform(_ re: inout [Double], _ im: inout [Double]) {
        guard n > 1 else { return }
        if n & (n - 1) == 0 {
            fft(&re, &im)
            return
        }
        var outRe = [Double](repeating: 0, count: n), outIm = [Double](repeating: 0, count: n)
        for k in 0..<n {
            var sr = 0.0, si = 0.0
            var idx = 0
            for j in 0..<n {
                let c = cosTable[idx], s = sinTable[idx]
                sr += re[j] * c - im[j] * s
                si += re[j] * s + im[j] * c
                idx += k
                if idx >= n { idx -= n }
            }
            outRe[k] = sr
            outIm[k] = si
        }
        re = outRe
        im = outIm
    }

    private func fft(_ re: inout [Double], _ im: inout [Double]) {
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 {
                j ^= bit
                bit >>= 1
            }
            j |= bit
            if i < j {
                re.swapAt(i, j)
                im.swapAt(i, j)
            }
        }
        var len = 2
        while len <= n {
            let step = n / len
            for start in stride(from: 0, to: n, by: len) {
                for k in 0..<(len / 2) {
                    let c = cosTable[k * step], s = sinTable[k * step]
                    let a = start + k, b = a + len / 2
                    let tr = re[b] * c - im[b] * s, ti = re[b] * s + im[b] * c
                    re[b] = re[a] - tr
                    im[b] = im[a] - ti
                    re[a] += tr
                    im[a] += ti
                }
            }
            len <<= 1
        }
    }
}

/// DFT: the signal is [..., N, 1|2] (real or complex in the last dimension); opset 17 takes
/// `axis` as an attribute (default 1), opset 20 as an input (default -2).
struct DFTKernel: Kernel {
    let axisAttribute: Int64?
    let inverse: Bool
    let onesided: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank >= 2, let c = x.shape.last, c == 1 || c == 2 else {
            throw kernelError("the signal must be [..., N, 1 or 2], got \(x.shape)")
        }
        var axis = axisAttribute ?? -2
        if axisAttribute == nil, let a = inputs.optionalTensor(2) {
            guard let v = a.scalarInt() else { throw kernelError("axis must be an integer scalar") }
            axis = v
        }
        let r = x.rank
        let ax = Int(((axis % Int64(r)) + Int64(r)) % Int64(r))
        guard ax < r - 1 else { throw kernelError("axis \(axis) cannot be the complex dimension") }
        let inLen = x.shape[ax]
        var length = (inverse && onesided) ? 2 * (inLen - 1) : inLen
        if let l = inputs.optionalTensor(1) {
            guard let v = l.scalarInt(), v > 0 else { throw kernelError("dft_length must be a positive integer scalar") }
            length = Int(v)
        }
        guard length > 0 else { throw kernelError("the DFT length must be positive") }
        let irfft = inverse && onesided
        let outLen = (!inverse && onesided) ? length / 2 + 1 : length
        let outC = irfft ? 1 : 2
        var outer = 1, inner = 1
        for i in 0..<ax { outer *= x.shape[i] }
        for i in (ax + 1)..<(r - 1) { inner *= x.shape[i] }
        var outShape = x.shape
        outShape[ax] = outLen
        outShape[r - 1] = outC
        // The output and the transform's buffers are sized by dft_length, a run-time value.
        try checkTemporary(checkedElementCount(outShape), of: Double.self, "the DFT output")
        try checkTemporary(Checked.multiply(length, 8, "the DFT buffers"), of: Double.self, "the DFT buffers")

        let src = try DoubleBridge.values(x)
        var dst = [Double](repeating: 0, count: outer * outLen * inner * outC)
        let dft = ComplexDFT(length: length, inverse: inverse)
        var re = [Double](repeating: 0, count: length), im = [Double](repeating: 0, count: length)
        for o in 0..<outer {
            for i in 0..<inner {
                for k in 0..<length {
                    re[k] = 0
                    im[k] = 0
                }
                if irfft {
                    // Hermitian extension of the one-sided spectrum.
                    for k in 0...(length / 2) where k < inLen {
                        let p = ((o * inLen + k) * inner + i) * c
                        re[k] = src[p]
                        im[k] = c == 2 ? src[p + 1] : 0
                    }
                    if length / 2 + 1 < length {
                        for k in (length / 2 + 1)..<length {
                            re[k] = re[length - k]
                            im[k] = -im[length - k]
                        }
                    }
                } else {
                    for k in 0..<min(inLen, length) {
                        let p = ((o * inLen + k) * inner + i) * c
                        re[k] = src[p]
                        im[k] = c == 2 ? src[p + 1] : 0
                    }
                }
                dft.transform(&re, &im)
                let scale = inverse ? 1 / Double(length) : 1
                for k in 0..<outLen {
                    let q = ((o * outLen + k) * inner + i) * outC
                    dst[q] = re[k] * scale
                    if outC == 2 { dst[q + 1] = im[k] * scale }
                }
            }
        }
        return [.tensor(try DoubleBridge.tensor(dst, dtype: x.dtype, shape: outShape))]
    }
}

/// STFT: [batch, length, 1|2] signal → [batch, frames, bins, 2].
struct STFTKernel: Kernel {
    let onesided: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank == 3, x.shape[2] == 1 || x.shape[2] == 2 else { throw kernelError("the signal must be [batch, length, 1 or 2]") }
        guard let step = try inputs.tensor(1).scalarInt(), step > 0 else { throw kernelError("frame_step must be a positive integer") }
        let window = try inputs.optionalTensor(2).map(DoubleBridge.values)
        var frameLength = window?.count ?? x.shape[1]
        if let fl = inputs.optionalTensor(3) {
            guard let v = fl.scalarInt(), v > 0 else { throw kernelError("frame_length must be a positive integer") }
            frameLength = Int(v)
        }
        if let w = window, w.count != frameLength { throw kernelError("the window length differs from frame_length") }
        let (batch, length, c) = (x.shape[0], x.shape[1], x.shape[2])
        guard frameLength <= length else { throw kernelError("frame_length \(frameLength) exceeds the signal length \(length)") }
        let frames = 1 + (length - frameLength) / Int(step)
        let bins = onesided ? frameLength / 2 + 1 : frameLength
        let src = try DoubleBridge.values(x)
        try checkTemporary(checkedElementCount([batch, frames, bins, 2]), of: Double.self, "the STFT output")
        var dst = [Double](repeating: 0, count: batch * frames * bins * 2)
        let dft = ComplexDFT(length: frameLength, inverse: false)
        var re = [Double](repeating: 0, count: frameLength), im = re
        for b in 0..<batch {
            for f in 0..<frames {
                for j in 0..<frameLength {
                    let p = (b * length + f * Int(step) + j) * c
                    let w = window?[j] ?? 1
                    re[j] = src[p] * w
                    im[j] = c == 2 ? src[p + 1] * w : 0
                }
                dft.transform(&re, &im)
                for k in 0..<bins {
                    let q = ((b * frames + f) * bins + k) * 2
                    dst[q] = re[k]
                    dst[q + 1] = im[k]
                }
            }
        }
        return [.tensor(try DoubleBridge.tensor(dst, dtype: x.dtype, shape: [batch, frames, bins, 2]))]
    }
}

struct WindowKernel: Kernel {
    enum Kind { case hann, hamming, blackman }
    let kind: Kind
    let periodic: Bool
    let dtype: DType

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        guard let size = try inputs.tensor(0).scalarInt(), size >= 0 else {
            throw kernelError("size must be a non-negative integer scalar")
        }
        let n = Int(size)
        try checkTemporary(n, of: Double.self, "the window")
        let denom = Double(periodic ? n : n - 1)
        let values = (0..<n).map { i -> Double in
            let x = 2 * Double.pi * Double(i) / denom
            switch kind {
            case .hann: return 0.5 - 0.5 * Double.cos(x)
            case .hamming: return 25.0 / 46.0 - (1 - 25.0 / 46.0) * Double.cos(x)
            case .blackman: return 0.42 - 0.5 * Double.cos(x) + 0.08 * Double.cos(2 * x)
            }
        }
        return [.tensor(try DoubleBridge.tensor(values, dtype: dtype, shape: [n]))]
    }
}

struct MelWeightMatrixKernel: Kernel {
    let dtype: DType

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        guard let mels = try inputs.tensor(0).scalarInt(), mels > 0,
            let dftLength = try inputs.tensor(1).scalarInt(), dftLength > 0,
            let rate = try inputs.tensor(2).scalarInt(), rate > 0
        else {
            throw kernelError("num_mel_bins, dft_length and sample_rate must be positive integer scalars")
        }
        guard let low = try DoubleBridge.values(try inputs.tensor(3)).first,
            let high = try DoubleBridge.values(try inputs.tensor(4)).first
        else {
            throw kernelError("the edge frequencies must be float scalars")
        }
        let bins = Int(dftLength) / 2 + 1
        let m = Int(mels)
        try checkTemporary(checkedElementCount([bins, m]), of: Double.self, "the mel weight matrix")
        try checkTemporary(m, of: Int.self, "the mel points")
        // Same arithmetic as the ONNX reference (mel step over num_mel_bins + 2 points).
        let lowMel = Double(Float(2595 * Double.log(onePlus: low / 700) / Double.log(10)))
        let highMel = Double(Float(2595 * Double.log(onePlus: high / 700) / Double.log(10)))
        let step = Double(Float((highMel - lowMel) / Double(m + 2)))
        var points = [Int](repeating: 0, count: m + 2)
        for i in 0..<(m + 2) {
            let mel = Double(i) * step + lowMel
            let hz = 700 * Double.expMinusOne(mel / 2595 * Double.log(10))
            points[i] = try Checked.int(((Double(dftLength) + 1) * hz / Double(rate)).rounded(.down), "a mel band edge")
        }
        var out = [Double](repeating: 0, count: bins * m)
        func set(_ j: Int, _ i: Int, _ v: Double) throws {
            guard j >= 0, j < bins else { throw kernelError("a mel band falls outside the spectrogram bins") }
            out[j * m + i] = v
        }
        for i in 0..<m {
            let (l, c, h) = (points[i], points[i + 1], points[i + 2])
            if c == l {
                try set(c, i, 1)
            } else if c > l {
                for j in l...c { try set(j, i, Double(j - l) / Double(c - l)) }
            }
            if h > c {
                for j in c..<h { try set(j, i, Double(h - j) / Double(h - c)) }
            }
        }
        return [.tensor(try DoubleBridge.tensor(out, dtype: dtype, shape: [bins, m]))]
    }
}
