import SwiftConvIR
import SwiftConvKernels

extension ExecutionContext {
    /// The session's thread pool as the plain parallel-for that SwiftConvKernels takes.
    var parallel: ParallelFor {
        let pool = threads
        return { count, body in pool.parallelFor(count, body) }
    }
}

/// Float element types convert to and from Float32 (used to run float16/float64 through float kernels).
func convertToFloat32(_ t: Tensor) throws -> Tensor {
    switch t.dtype {
    case .float32: return t
    case .float16: return try mapUnary(t, Float16.self, Float.self) { Float($0) }
    case .float64: return try mapUnary(t, Double.self, Float.self) { Float($0) }
    default: throw kernelUnsupported("unsupported input type \(t.dtype)")
    }
}

func convertFromFloat32(_ t: Tensor, to dtype: DType) throws -> Tensor {
    switch dtype {
    case .float16: return try mapUnary(t, Float.self, Float16.self) { Float16($0) }
    case .float64: return try mapUnary(t, Float.self, Double.self) { Double($0) }
    default: return t
    }
}

/// Reads a float tensor of any float dtype as Double values.
func floatValuesAsDouble(_ t: Tensor) -> [Double]? {
    switch t.dtype {
    case .float32: return t.values(as: Float.self).map(Double.init)
    case .float64: return t.values(as: Double.self)
    case .float16: return t.values(as: Float16.self).map(Double.init)
    default: return nil
    }
}

/// Padding mode of Conv / pooling ops.
enum AutoPad: Equatable {
    case notSet, sameUpper, sameLower, valid

    init(_ s: String) throws {
        switch s {
        case "NOTSET", "": self = .notSet
        case "SAME_UPPER": self = .sameUpper
        case "SAME_LOWER": self = .sameLower
        case "VALID": self = .valid
        default: throw SwiftConvError.unsupportedOp("auto_pad '\(s)'")
        }
    }
}

/// Sliding-window geometry shared by Conv and pooling: resolved pads and output extents.
struct WindowGeometry {
    var inSpatial: [Int]
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    var padBegin: [Int]
    var padEnd: [Int]
    var outSpatial: [Int]

    /// `pads` holds begins then ends (ONNX order); `ceilMode` rounds the output size up (pooling).
    init(
        inSpatial: [Int], kernel: [Int], strides: [Int]?, dilations: [Int]?, pads: [Int]?,
        autoPad: AutoPad, ceilMode: Bool = false
    ) throws {
        let r = inSpatial.count
        guard kernel.count == r else { throw kernelError("kernel has rank \(kernel.count), input has \(r) spatial dimensions") }
        self.inSpatial = inSpatial
        self.kernel = kernel
        self.strides = strides ?? Array(repeating: 1, count: r)
        self.dilations = dilations ?? Array(repeating: 1, count: r)
        guard self.strides.count == r, self.dilations.count == r else { throw kernelError("strides/dilations rank mismatch") }
        guard self.strides.allSatisfy({ $0 > 0 }), self.dilations.allSatisfy({ $0 > 0 }), kernel.allSatisfy({ $0 > 0 }) else {
            throw kernelError("kernel sizes, strides and dilations must be positive")
        }
        var pb = Array(repeating: 0, count: r), pe = pb
        if autoPad == .notSet, let p = pads {
            guard p.count == 2 * r, p.allSatisfy({ $0 >= 0 }) else {
                throw kernelError("pads must be \(2 * r) non-negative values, got \(p)")
            }
            pb = Array(p[0..<r])
            pe = Array(p[r...])
        }
        var out = Array(repeating: 0, count: r)
        // Every size below comes from the model: checked, so a huge kernel or pad is an error, not a trap.
        for i in 0..<r {
            let ek = try Checked.add(Checked.multiply(kernel[i] - 1, self.dilations[i], "the dilated kernel"), 1, "the dilated kernel")
            let s = self.strides[i], n = inSpatial[i]
            switch autoPad {
            case .sameUpper, .sameLower:
                let o = n == 0 ? 0 : (n - 1) / s + 1
                let covered = try Checked.add(Checked.multiply(max(o - 1, 0), s, "the padded input"), ek, "the padded input")
                let total = max(0, covered - n)
                let small = total / 2, big = total - total / 2
                pb[i] = autoPad == .sameUpper ? small : big
                pe[i] = autoPad == .sameUpper ? big : small
                out[i] = o
            case .valid:
                out[i] = n >= ek ? (n - ek) / s + 1 : 0
            case .notSet:
                let span = try Checked.subtract(
                    Checked.add(Checked.add(n, pb[i], "the padded input"), pe[i], "the padded input"),
                    ek, "the padded input")
                if span < 0 {
                    out[i] = 0
                    continue
                }
                if ceilMode {
                    var o = span / s + (span % s == 0 ? 1 : 2)
                    // The last window must start inside the input or the begin padding.
                    let (lastStart, overflow) = (o - 1).multipliedReportingOverflow(by: s)
                    if overflow || lastStart >= n + pb[i] { o -= 1 }
                    out[i] = o
                } else {
                    out[i] = span / s + 1
                }
            }
        }
        padBegin = pb
        padEnd = pe
        outSpatial = out
    }

    var outCount: Int { outSpatial.reduce(1, *) }
    var inCount: Int { inSpatial.reduce(1, *) }
    var kernelCount: Int { kernel.reduce(1, *) }

    /// onnxruntime's pooling rule: a pad as wide as the kernel would make windows of padding only.
    func requirePadsSmallerThanKernel() throws {
        for i in 0..<kernel.count where padBegin[i] >= kernel[i] || padEnd[i] >= kernel[i] {
            throw kernelError("pads \(padBegin + padEnd) must be smaller than the kernel \(kernel)")
        }
    }
}

/// Converts Int64 attribute lists to Int.
func ints(_ v: [Int64]?) -> [Int]? { v.map { $0.map { Int($0) } } }

/// A heap buffer of floats that a kernel keeps for its lifetime (pre-packed weights).
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
    }
    deinit { pointer.deallocate() }

    /// `count` zeros (a constant operand for loops that always add one).
    static func zeros(_ count: Int) -> FloatBuffer {
        let b = FloatBuffer(count: count)
        b.pointer.initialize(repeating: 0, count: max(count, 1))
        return b
    }
}

/// `out[j] = add[j] + bias[j] + dot(w[j * k ..< j * k + k], x)` for `rows` rows of `w`, by the
/// kernel table's `gemvRows`, 64 rows per task; `after` runs on each task's finished rows.
/// One row of activations against weights stored one output per row: a batch-1 classifier
/// (Gemm with transB) or a squeeze-excitation 1x1 convolution on a 1x1 map.
func parallelRowDots(
    _ w: UnsafePointer<Float>, rows: Int, k: Int, x: UnsafePointer<Float>, add: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ parallel: ParallelFor,
    after: ((UnsafeMutablePointer<Float>, Int) -> Void)? = nil
) {
    let gemvRows = KernelTable.best.gemvRows, rowsPerTask = 64
    parallel((rows + rowsPerTask - 1) / rowsPerTask) { tasks in
        for t in tasks {
            let lo = t * rowsPerTask, hi = min(rows, lo + rowsPerTask)
            gemvRows(w + lo * k, hi - lo, k, x, add + lo, bias + lo, out + lo)
            after?(out + lo, hi - lo)
        }
    }
}

/// Scratch memory for one run, freed on scope exit, for sizes bounded by a tensor that
/// already exists (a row of the input); `withCheckedScratch` for sizes the model chooses.
@inline(__always)
func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    defer { p.deallocate() }
    return try body(p)
}

/// Scratch floats sized by model data (im2col columns): allocated as tensor storage, so a
/// size past the run's caps or refused by the system is `resourceExhausted`, where a Swift
/// allocation would abort the process.
func withCheckedScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) throws -> R {
    let storage = try TensorStorage(uninitializedByteCount: Checked.multiply(max(count, 1), MemoryLayout<Float>.stride, "scratch memory"))
    return try withExtendedLifetime(storage) {
        try body(storage.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self))
    }
}

/// Refuses a Swift array of `count` elements of `T` sized by model data before it is made:
/// Swift aborts the process when such an allocation fails. Large requests are checked
/// against the run's per-tensor cap and tried once as tensor storage, which fails cleanly.
func checkTemporary<T>(_ count: Int, of _: T.Type, _ what: @autoclosure () -> String) throws {
    guard count >= 0 else { throw SwiftConvError.invalidArgument("\(what()) has a negative size \(count)") }
    let bytes = try Checked.multiply(count, MemoryLayout<T>.stride, what())
    guard bytes >= 1 << 24 else { return }
    _ = try TensorStorage(uninitializedByteCount: bytes)
}

extension Tensor {
    /// Base pointer of a float32 tensor's elements (a dummy for empty tensors).
    var floatPointer: UnsafePointer<Float> {
        storage.bytes.baseAddress.map { $0.assumingMemoryBound(to: Float.self) } ?? UnsafePointer(emptyFloat)
    }
    var mutableFloatPointer: UnsafeMutablePointer<Float> {
        storage.mutableBytes.baseAddress.map { $0.assumingMemoryBound(to: Float.self) } ?? emptyFloat
    }
}

private let emptyFloat = UnsafeMutablePointer<Float>.allocate(capacity: 16)
