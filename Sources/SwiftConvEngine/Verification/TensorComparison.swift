import SwiftConvIR

/// The error between a reference tensor and a candidate tensor, accumulated in Double.
///
/// Elements are compared as real numbers: quantized tensors are dequantized with their own
/// scale and zero point first. An element passes when |c - r| <= atol + rtol * |r| +
/// `quantizedTolerance` (numpy's `allclose` rule, widened for quantized values by steps of
/// the scale; the float rounding of a dequantized value stays within atol + rtol * |r|). NaN equals NaN and an infinity equals the same infinity; any other pair
/// with a NaN or an infinity fails and is counted apart, outside the other metrics.
public struct TensorComparison: Sendable, Equatable {
    /// Elements compared.
    public var count = 0
    /// Largest |c - r| over finite pairs.
    public var maxAbs = 0.0
    /// Largest |c - r| / |r| over finite pairs with r != 0.
    public var maxRel = 0.0
    /// Cosine similarity of the finite pairs; 1 when both are all zeros, 0 when only one is.
    public var cosine = 1.0
    /// Elements outside the tolerance.
    public var mismatches = 0
    /// Pairs where one side is NaN or infinite and the other is not the same.
    public var nonFiniteMismatches = 0

    /// True when every element is within tolerance.
    public var ok: Bool { mismatches == 0 && nonFiniteMismatches == 0 }

    /// An empty comparison (nothing compared yet).
    public init() {}

    /// The comparison of `count` pairs that `pairs` writes chunk by chunk.
    ///
    /// `pairs(start, n, r, c)` fills `r` and `c` with pairs start..<start+n. Working in chunks
    /// keeps the memory small whatever the tensor size.
    static func accumulate(
        count: Int, rtol: Double, atol: Double, quantizedTolerance: Double,
        pairs: (Int, Int, inout [Double], inout [Double]) -> Void
    ) -> TensorComparison {
        var result = TensorComparison()
        result.count = count
        var dot = 0.0
        var rr = 0.0
        var cc = 0.0
        let chunk = 4096
        var r = [Double](repeating: 0, count: chunk)
        var c = [Double](repeating: 0, count: chunk)
        var start = 0
        while start < count {
            let n = min(chunk, count - start)
            pairs(start, n, &r, &c)
            for k in 0..<n {
                let (a, b) = (r[k], c[k])
                guard a.isFinite, b.isFinite else {
                    let same = (a.isNaN && b.isNaN) || a == b
                    if !same { result.nonFiniteMismatches += 1 }
                    continue
                }
                let d = abs(b - a)
                result.maxAbs = max(result.maxAbs, d)
                if a != 0 { result.maxRel = max(result.maxRel, d / abs(a)) }
                if d > atol + rtol * abs(a) + quantizedTolerance { result.mismatches += 1 }
                dot += a * b
                rr += a * a
                cc += b * b
            }
            start += n
        }
        if rr == 0 && cc == 0 {
            result.cosine = 1
        } else if rr == 0 || cc == 0 {
            result.cosine = 0
        } else {
            // One square root of the product is exact for equal vectors; two may not be.
            let product = rr * cc
            let norms = product.isFinite ? product.squareRoot() : rr.squareRoot() * cc.squareRoot()
            result.cosine = min(1, max(-1, dot / norms))
        }
        return result
    }

    /// Compares `candidate` with `reference` transposed by `perm` (nil: as it is), both
    /// read as real numbers. The shapes must already agree (see `ModelVerifier`).
    public static func compare(
        reference: Tensor, referenceQuantization: QuantParams?, candidate: Tensor, candidateQuantization: QuantParams?,
        perm: [Int]?, rtol: Double, atol: Double, quantizedTolerance: Double
    ) throws -> TensorComparison {
        let ref = try RealElementReader(reference, referenceQuantization)
        let cand = try RealElementReader(candidate, candidateQuantization)
        guard reference.elementCount == candidate.elementCount else {
            throw SwiftConvError.internal("comparing \(reference.shape) with \(candidate.shape)")
        }
        var offsets = [Int](repeating: 0, count: 4096)
        var gather = PermutedOffsets(sourceShape: reference.shape, perm: perm)
        return accumulate(count: candidate.elementCount, rtol: rtol, atol: atol, quantizedTolerance: quantizedTolerance) {
            start, n, r, c in
            cand.read(contiguousFrom: start, count: n, into: &c)
            if gather == nil {
                ref.read(contiguousFrom: start, count: n, into: &r)
            } else {
                gather!.next(n, into: &offsets)
                ref.read(offsets: offsets, count: n, into: &r)
            }
        }
    }

    /// The absolute tolerance `steps` quantization steps of `q` allow (the largest scale of a
    /// per-channel one); 0 without quantization.
    public static func quantizedTolerance(_ q: QuantParams?, steps: Double) -> Double {
        guard let q, let scale = q.scale.max() else { return 0 }
        return steps * Double(scale)
    }
}

/// The flat offsets into a source tensor of the elements of transpose(source, perm), in
/// the transposed tensor's row-major order, produced chunk by chunk.
struct PermutedOffsets {
    private let shape: [Int]
    private let strides: [Int]
    private var index: [Int]

    /// nil when `perm` is nil or the identity: offsets are then contiguous.
    init?(sourceShape: [Int], perm: [Int]?) {
        guard let perm, perm != Array(0..<perm.count), perm.count == sourceShape.count else { return nil }
        var sourceStrides = [Int](repeating: 1, count: sourceShape.count)
        for i in stride(from: sourceShape.count - 2, through: 0, by: -1) {
            sourceStrides[i] = sourceStrides[i + 1] * sourceShape[i + 1]
        }
        shape = perm.map { sourceShape[$0] }
        strides = perm.map { sourceStrides[$0] }
        index = [Int](repeating: 0, count: perm.count)
    }

    /// The next `n` offsets.
    mutating func next(_ n: Int, into out: inout [Int]) {
        let rank = shape.count
        for k in 0..<n {
            var offset = 0
            for i in 0..<rank { offset += index[i] * strides[i] }
            out[k] = offset
            var i = rank - 1
            while i >= 0 {
                index[i] += 1
                if index[i] < shape[i] { break }
                index[i] = 0
                i -= 1
            }
        }
    }
}

/// Reads a tensor's elements as Double: numeric types as they are, bool as 0/1, bfloat16
/// widened, and quantized integers as scale * (q - zero point) of their channel.
struct RealElementReader {
    private let tensor: Tensor
    private let quantization: QuantParams?
    /// Elements per index of the quantization axis (the product of the later dims).
    private let inner: Int

    init(_ tensor: Tensor, _ quantization: QuantParams?) throws {
        let readable: Set<DType> = [
            .float32, .float64, .float16, .bfloat16, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool,
        ]
        guard readable.contains(tensor.dtype) else {
            throw SwiftConvError.unsupportedOp("comparing tensor(\(tensor.dtype.onnxTypeName)) values is not supported")
        }
        guard tensor.byteCount == tensor.elementCount * tensor.dtype.bitWidth / 8 else {
            throw SwiftConvError.internal("tensor of shape \(tensor.shape) holds \(tensor.byteCount) bytes")
        }
        self.tensor = tensor
        // Parameters that do not fit the tensor are not applied (nothing could be read right).
        var q = quantization
        if let p = q, p.violation(elementType: tensor.dtype, shape: Shape(tensor.shape)) != nil { q = nil }
        self.quantization = q
        if let axis = q?.axis, axis < tensor.shape.count {
            inner = tensor.shape[(axis + 1)...].reduce(1, *)
        } else {
            inner = 1
        }
    }

    private struct Gather: NumericVisitor {
        let tensor: Tensor
        let offsets: UnsafeBufferPointer<Int>?
        let start: Int
        let count: Int
        let out: UnsafeMutableBufferPointer<Double>
        func visit<T: NumericScalar>(_ type: T.Type) throws {
            tensor.withElements(as: T.self) { p in
                if let offsets {
                    for k in 0..<count { out[k] = p[offsets[k]].asDouble }
                } else {
                    for k in 0..<count { out[k] = p[start + k].asDouble }
                }
            }
        }
    }

    private func raw(_ offsets: UnsafeBufferPointer<Int>?, _ start: Int, _ count: Int, _ out: UnsafeMutableBufferPointer<Double>) {
        switch tensor.dtype {
        case .bool:
            tensor.withElements(as: UInt8.self) { p in
                for k in 0..<count { out[k] = p[offsets?[k] ?? (start + k)] != 0 ? 1 : 0 }
            }
        case .bfloat16:
            tensor.withElements(as: UInt16.self) { p in
                for k in 0..<count { out[k] = Double(Float(bitPattern: UInt32(p[offsets?[k] ?? (start + k)]) << 16)) }
            }
        default:
            _ = try? dispatchNumeric(tensor.dtype, Gather(tensor: tensor, offsets: offsets, start: start, count: count, out: out))
        }
        guard let q = quantization else { return }
        for k in 0..<count {
            let flat = offsets?[k] ?? (start + k)
            let c = q.isPerTensor ? 0 : (flat / max(inner, 1)) % q.scale.count
            out[k] = (out[k] - Double(q.zeroPoint[c])) * Double(q.scale[c])
        }
    }

    func read(contiguousFrom start: Int, count: Int, into out: inout [Double]) {
        out.withUnsafeMutableBufferPointer { raw(nil, start, count, $0) }
    }

    func read(offsets: [Int], count: Int, into out: inout [Double]) {
        offsets.withUnsafeBufferPointer { o in out.withUnsafeMutableBufferPointer { raw(o, 0, count, $0) } }
    }
}
