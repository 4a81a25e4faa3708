import SwiftConvIR

/// Numpy broadcasting of two shapes; throws naming both when they do not fit.
public func broadcastShapes(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let n = max(a.count, b.count)
    var out = [Int](repeating: 1, count: n)
    for i in 0..<n {
        let da = i < n - a.count ? 1 : a[i - (n - a.count)]
        let db = i < n - b.count ? 1 : b[i - (n - b.count)]
        if da == db || db == 1 {
            out[i] = da
        } else if da == 1 {
            out[i] = db
        } else {
            throw kernelError("shapes \(a) and \(b) cannot be broadcast together")
        }
    }
    return out
}

/// Broadcast of any number of shapes.
public func broadcastShapes(_ shapes: [[Int]]) throws -> [Int] {
    try shapes.reduce([]) { try broadcastShapes($0, $1) }
}

/// Element strides of `shape` read as `outShape` (0 along broadcast dimensions).
public func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let pad = outShape.count - shape.count
    let s = contiguousStrides(shape)
    return (0..<outShape.count).map { i in
        i < pad || shape[i - pad] == 1 ? 0 : s[i - pad]
    }
}

/// Visits every element of a broadcast output in row-major order, in runs along the
/// innermost dimension: `body(outOffset, inOffsets, runLength, innerStrides)`.
/// Keeps per-element work to a multiply-add per input in the hot loop.
@inlinable
public func forEachBroadcastRun(
    outShape: [Int], inputStrides: [[Int]],
    _ body: (_ out: Int, _ ins: [Int], _ count: Int, _ inner: [Int]) -> Void
) {
    let rank = outShape.count
    guard let total = elementCount(outShape), total > 0 else { return }
    if rank == 0 {
        body(0, inputStrides.map { _ in 0 }, 1, inputStrides.map { _ in 0 })
        return
    }
    let inner = outShape[rank - 1]
    let innerStrides = inputStrides.map { $0[rank - 1] }
    var index = [Int](repeating: 0, count: rank)
    var offsets = [Int](repeating: 0, count: inputStrides.count)
    var out = 0
    while out < total {
        body(out, offsets, inner, innerStrides)
        out += inner
        // Advance the outer index (all but the innermost dimension).
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            for k in 0..<offsets.count { offsets[k] += inputStrides[k][d] }
            if index[d] < outShape[d] { break }
            for k in 0..<offsets.count { offsets[k] -= inputStrides[k][d] * outShape[d] }
            index[d] = 0
            d -= 1
        }
    }
}

/// `out[i] = f(a[i], b[i])` with numpy broadcasting; the result has dtype `R.dtype`.
@inlinable
public func broadcastBinary<A: TensorScalar, B: TensorScalar, R: TensorScalar>(
    _ a: Tensor, _ b: Tensor, _: A.Type, _: B.Type, _: R.Type, _ f: (A, B) -> R
) throws -> Tensor {
    let shape = try broadcastShapes(a.shape, b.shape)
    let out = try Tensor.allocate(R.dtype, shape)
    a.withElements(as: A.self) { pa in
        b.withElements(as: B.self) { pb in
            out.withMutableElements(as: R.self) { po in
                let n = po.count
                if a.shape == b.shape {
                    for i in 0..<n { po[i] = f(pa[i], pb[i]) }
                } else if pb.count == 1 {
                    let y = pb[0]
                    for i in 0..<n { po[i] = f(pa[i], y) }
                } else if pa.count == 1 {
                    let x = pa[0]
                    for i in 0..<n { po[i] = f(x, pb[i]) }
                } else {
                    let sa = broadcastStrides(a.shape, to: shape)
                    let sb = broadcastStrides(b.shape, to: shape)
                    forEachBroadcastRun(outShape: shape, inputStrides: [sa, sb]) { o, ins, count, inner in
                        var ia = ins[0], ib = ins[1]
                        let da = inner[0], db = inner[1]
                        for k in 0..<count {
                            po[o + k] = f(pa[ia], pb[ib])
                            ia += da
                            ib += db
                        }
                    }
                }
            }
        }
    }
    return out
}

/// `out[i] = f(x[i])`.
@inlinable
public func mapUnary<A: TensorScalar, R: TensorScalar>(_ x: Tensor, _: A.Type, _: R.Type, _ f: (A) -> R) throws -> Tensor {
    let out = try Tensor.allocate(R.dtype, x.shape)
    x.withElements(as: A.self) { px in
        out.withMutableElements(as: R.self) { po in
            for i in 0..<po.count { po[i] = f(px[i]) }
        }
    }
    return out
}

/// Normalizes a possibly negative axis against `rank`; throws when out of range.
public func normalizeAxis(_ axis: Int64, rank: Int, label: String = "axis") throws -> Int {
    let a = axis < 0 ? Int(axis) + rank : Int(axis)
    guard a >= 0, a < rank else { throw kernelError("\(label) \(axis) is out of range for rank \(rank)") }
    return a
}

extension Array where Element == Value? {
    /// Tensor input `i`; throws when it is missing or not a tensor.
    public func tensor(_ i: Int) throws -> Tensor {
        guard i < count, let v = self[i] else { throw kernelError("input \(i) is missing") }
        guard case .tensor(let t) = v else { throw kernelError("input \(i) must be a tensor, got \(v.typeDescription)") }
        return t
    }

    /// Tensor input `i` when it is given.
    public func optionalTensor(_ i: Int) -> Tensor? {
        guard i < count, case .tensor(let t)? = self[i] else { return nil }
        return t
    }
}
