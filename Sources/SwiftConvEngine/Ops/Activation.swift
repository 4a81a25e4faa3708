import RealModule
import SwiftConvIR
import SwiftConvKernels

/// Activation functions: Relu family, sigmoid-likes, Gelu, Mish, Shrink, PRelu, and
/// Softmax/LogSoftmax/Hardmax.
enum ActivationKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Relu", since: [1, 6, 13, 14]) { _ in SignedUnaryKernel(op: .relu) }
        r.register("Shrink", since: [9]) { ctx in
            SignedUnaryKernel(op: .shrink(bias: ctx.float("bias", default: 0), lambd: ctx.float("lambd", default: 0.5)))
        }
        let simple: [(String, FloatUnaryOp, [Int64])] = [
            ("Sigmoid", .sigmoid, [1, 6, 13]), ("Tanh", .tanh, [1, 6, 13]), ("Softsign", .softsign, [1, 22]),
            ("Softplus", .softplus, [1, 22]), ("HardSwish", .hardSwish, [14, 22]), ("Mish", .mish, [18, 22]),
        ]
        for (op, fn, versions) in simple {
            r.register(op, since: versions) { _ in FloatUnaryKernel(op: fn) }
        }
        r.register("LeakyRelu", since: [1, 6, 16]) { ctx in FloatUnaryKernel(op: .leakyRelu(ctx.float("alpha", default: 0.01))) }
        r.register("Elu", since: [1, 6, 22]) { ctx in FloatUnaryKernel(op: .elu(ctx.float("alpha", default: 1))) }
        r.register("Celu", since: [12, 28]) { ctx in FloatUnaryKernel(op: .celu(ctx.float("alpha", default: 1))) }
        r.register("ThresholdedRelu", since: [10, 22]) { ctx in
            FloatUnaryKernel(op: .thresholdedRelu(ctx.float("alpha", default: 1)))
        }
        r.register("Selu", since: [1, 6, 22]) { ctx in
            FloatUnaryKernel(
                op: .selu(
                    alpha: ctx.float("alpha", default: 1.67326319217681884765625),
                    gamma: ctx.float("gamma", default: 1.05070102214813232421875)))
        }
        r.register("HardSigmoid", since: [1, 6, 22]) { ctx in
            FloatUnaryKernel(op: .hardSigmoid(alpha: ctx.float("alpha", default: 0.2), beta: ctx.float("beta", default: 0.5)))
        }
        r.register("Gelu", since: [20]) { ctx in
            switch ctx.string("approximate", default: "none") {
            case "none": return FloatUnaryKernel(op: .gelu)
            case "tanh": return FloatUnaryKernel(op: .geluTanh)
            case let a: throw ctx.invalid("approximate must be 'none' or 'tanh', got '\(a)'")
            }
        }
        // onnxruntime's contrib exact GELU, what the session's GeluFusion writes for any opset.
        r.register("Gelu", domain: OpDomain.microsoft, since: [1]) { _ in FloatUnaryKernel(op: .gelu) }
        r.register("PRelu", since: [1, 6, 7, 9, 16]) { ctx in PReluKernel(legacy: ctx.sinceVersion < 7) }
        r.register("Swish", since: [24]) { ctx in SwishKernel(alpha: Double(ctx.float("alpha", default: 1)), gated: false) }
        r.register("SwiGLU", since: [28]) { ctx in SwishKernel(alpha: Double(ctx.float("alpha", default: 1)), gated: true) }
        for (op, fn) in [("Softmax", SoftmaxKernel.Op.softmax), ("LogSoftmax", .logSoftmax), ("Hardmax", .hardmax)] {
            r.register(op, since: [1, 11, 13]) { ctx in
                let legacy = ctx.sinceVersion < 13
                return SoftmaxKernel(op: fn, axis: ctx.int("axis", default: legacy ? 1 : -1), coerced2D: legacy)
            }
        }
    }
}

/// `PRelu(x, slope)`: x where x >= 0, slope * x elsewhere; the slope broadcasts to x.
/// Before opset 7 a 1-D slope that does not broadcast is per channel (dimension 1).
struct PReluKernel: Kernel {
    let legacy: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        var slope = try inputs.tensor(1)
        if legacy, slope.rank == 1, x.rank >= 2, slope.shape[0] == x.shape[1], (try? broadcastShapes(x.shape, slope.shape)) == nil {
            slope = slope.reshaped([slope.shape[0]] + [Int](repeating: 1, count: x.rank - 2))
        }
        guard x.dtype == slope.dtype else { throw kernelError("slope type \(slope.dtype) differs from input type \(x.dtype)") }
        struct Visit: FloatLaneVisitor {
            let x: Tensor, s: Tensor, threads: ThreadPool
            func visit<L: FloatLane>(_: L.Type) throws -> Tensor {
                try binaryMap(x, s, L.Storage.self, L.Storage.self, x.dtype, threads) { (a, b) -> L.Storage in
                    let v = L.load(a)
                    return v < 0 ? L.store(v * L.load(b)) : a
                }
            }
        }
        struct IntVisit: IntegerVisitor {
            let x: Tensor, s: Tensor, threads: ThreadPool
            func visit<T: IntegerScalar>(_: T.Type) throws -> Tensor {
                try binaryMap(x, s, T.self, T.self, x.dtype, threads) { (a: T, b: T) -> T in a < 0 ? a &* b : a }
            }
        }
        if let out = try dispatchFloatLane(x.dtype, Visit(x: x, s: slope, threads: context.threads))
            ?? dispatchInteger(x.dtype, IntVisit(x: x, s: slope, threads: context.threads))
        {
            guard out.shape == x.shape else { throw kernelError("slope shape \(slope.shape) does not broadcast to \(x.shape)") }
            return [.tensor(out)]
        }
        throw kernelUnsupported("unsupported input type \(x.dtype)")
    }
}

/// Softmax, LogSoftmax and Hardmax. Opset < 13 flattens the input to 2-D at `axis` and
/// normalizes each row; opset 13+ normalizes along the single dimension `axis`.
struct SoftmaxKernel: SingleOutputKernel {
    enum Op { case softmax, logSoftmax, hardmax }
    let op: Op
    let axis: Int64
    let coerced2D: Bool

    func runSingle(_ inputs: [Value?], _ context: ExecutionContext) throws -> Value {
        let x = try inputs.tensor(0)
        let rank = x.rank
        let a = rank == 0 ? 0 : try normalizeAxis(axis, rank: rank)
        let outer: Int, length: Int, inner: Int
        if coerced2D {
            outer = x.shape[..<a].reduce(1, *)
            length = x.shape[a...].reduce(1, *)
            inner = 1
        } else {
            outer = x.shape[..<a].reduce(1, *)
            length = rank == 0 ? 1 : x.shape[a]
            inner = rank == 0 ? 1 : x.shape[(a + 1)...].reduce(1, *)
        }
        if x.dtype == .float32 && inner == 1 && op != .hardmax && length > 0 {
            return .tensor(try softmaxRowsFloat(x, rows: outer, length: length, context.threads))
        }
        struct Visit: FloatLaneVisitor {
            let x: Tensor, op: Op, outer: Int, length: Int, inner: Int, threads: ThreadPool
            func visit<L: FloatLane>(_: L.Type) throws -> Tensor {
                typealias T = L.Compute
                let out = try Tensor.allocate(x.dtype, x.shape)
                let (outer, length, inner, op) = (outer, length, inner, op)
                x.withElements(as: L.Storage.self) { px in
                    out.withMutableElements(as: L.Storage.self) { po in
                        guard length > 0 else { return }
                        threads.parallelFor(outer * inner, grain: max(1, 4096 / length)) { range in
                            for line in range {
                                let base = (line / inner) * length * inner + line % inner
                                var best = L.load(px[base]), bestIndex = 0
                                for k in 1..<max(length, 1) {
                                    let v = L.load(px[base + k * inner])
                                    if v > best {
                                        best = v
                                        bestIndex = k
                                    }
                                }
                                switch op {
                                case .hardmax:
                                    for k in 0..<length { po[base + k * inner] = L.store(k == bestIndex ? 1 : 0) }
                                case .softmax:
                                    var sum: T = 0
                                    for k in 0..<length {
                                        let e = T.exp(L.load(px[base + k * inner]) - best)
                                        sum += e
                                        po[base + k * inner] = L.store(e)
                                    }
                                    let scale = 1 / sum
                                    for k in 0..<length {
                                        po[base + k * inner] = L.store(L.load(po[base + k * inner]) * scale)
                                    }
                                case .logSoftmax:
                                    var sum: T = 0
                                    for k in 0..<length { sum += T.exp(L.load(px[base + k * inner]) - best) }
                                    let logSum = T.log(sum)
                                    for k in 0..<length {
                                        po[base + k * inner] = L.store(L.load(px[base + k * inner]) - best - logSum)
                                    }
                                }
                            }
                        }
                    }
                }
                return out
            }
        }
        guard
            let out = try dispatchFloatLane(
                x.dtype,
                Visit(
                    x: x, op: op, outer: outer, length: length, inner: inner,
                    threads: context.threads))
        else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        return .tensor(out)
    }
}

extension SoftmaxKernel {
    /// Softmax / LogSoftmax of contiguous float32 rows, one `KernelTable.softmaxRow` per row.
    func softmaxRowsFloat(_ x: Tensor, rows: Int, length: Int, _ threads: ThreadPool) throws -> Tensor {
        let out = try Tensor.allocate(.float32, x.shape)
        let px = x.floatPointer, po = out.mutableFloatPointer
        let log = op == .logSoftmax
        let row = KernelTable.best.softmaxRow
        threads.parallelFor(rows, grain: max(1, 16384 / length)) { range in
            for r in range { row(px + r * length, po + r * length, length, log) }
        }
        return out
    }
}

/// Swish: `x * sigmoid(alpha * x)`; SwiGLU (gated): `swish(a) * b` for same-shaped a and b.
/// The sigmoid and each product are rounded to the storage type in turn, as ONNX's
/// reference does for float16.
struct SwishKernel: Kernel {
    let alpha: Double
    let gated: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0)
        let b = gated ? try inputs.tensor(1) : a
        guard a.dtype == b.dtype, a.shape == b.shape else {
            throw kernelError("A \(a.dtype)\(a.shape) and B \(b.dtype)\(b.shape) must have the same type and shape")
        }
        struct Visit: FloatLaneVisitor {
            let a: Tensor, b: Tensor, alpha: Double, gated: Bool, threads: ThreadPool
            func visit<L: FloatLane>(_: L.Type) throws -> Tensor {
                let k = L.Compute(fromDouble: alpha)
                func swish(_ x: L.Storage) -> L.Storage {
                    let v = L.load(x)
                    let sig = L.load(L.store(1 / (1 + L.Compute.exp(-k * v))))
                    return L.store(v * sig)
                }
                if !gated { return try unaryMap(a, L.Storage.self, a.dtype, threads, swish) }
                return try binaryMap(a, b, L.Storage.self, L.Storage.self, a.dtype, threads) { x, y in
                    L.store(L.load(swish(x)) * L.load(y))
                }
            }
        }
        guard let out = try dispatchFloatLane(a.dtype, Visit(a: a, b: b, alpha: alpha, gated: gated, threads: context.threads)) else {
            throw kernelUnsupported("unsupported input type \(a.dtype)")
        }
        return [.tensor(out)]
    }
}
