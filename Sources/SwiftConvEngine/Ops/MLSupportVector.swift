import RealModule
import SwiftConvIR

/// ai.onnx.ml SVMClassifier and SVMRegressor. Everything is evaluated in Float, in the order
/// onnxruntime's CPU kernels use, so labels decided by a sign or a vote agree with it.
extension MLKernels {
    static func registerSupportVector(into r: inout KernelRegistry) {
        r.register("SVMRegressor", domain: domain, since: [1]) { ctx in try SVMRegressorKernel(ctx) }
        r.register("SVMClassifier", domain: domain, since: [1]) { ctx in try SVMClassifierKernel(ctx) }
    }
}

/// The kernel function k(x, s) of an SVM (kernel_type with kernel_params [gamma, coef0, degree]).
struct SVMKernelFunction {
    enum Kind { case linear, poly, rbf, sigmoid }
    let kind: Kind
    let gamma: Float, coef0: Float, degree: Float

    init(_ ctx: KernelBuildContext) throws {
        switch ctx.string("kernel_type", default: "LINEAR") {
        case "LINEAR": kind = .linear
        case "POLY": kind = .poly
        case "RBF": kind = .rbf
        case "SIGMOID": kind = .sigmoid
        case let k: throw ctx.invalid("unknown kernel_type '\(k)'")
        }
        let params = ctx.floats("kernel_params") ?? []
        guard params.isEmpty || params.count >= 3 else {
            throw ctx.invalid("kernel_params needs [gamma, coef0, degree], got \(params.count) values")
        }
        (gamma, coef0, degree) = params.isEmpty ? (0, 0, 0) : (params[0], params[1], params[2])
    }

    init(linear: ()) {
        kind = .linear
        (gamma, coef0, degree) = (0, 0, 0)
    }

    /// k(x, s) for the `count` features at `x` and `s`; `bias` is added to a LINEAR dot product
    /// (onnxruntime folds rho into that GEMM in linear mode, while POLY/SIGMOID add coef0 instead).
    @inline(__always)
    func callAsFunction(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ count: Int, bias: Float) -> Float {
        if kind == .rbf {
            var sum: Float = 0
            for f in 0..<count {
                let d = x[f] - s[f]
                sum += d * d
            }
            return Float.exp(-gamma * sum)
        }
        var dot: Float = 0
        for f in 0..<count { dot += x[f] * s[f] }
        switch kind {
        case .linear: return dot + bias
        case .poly:
            let v = gamma * dot + coef0
            // Integral degrees as repeated products: a real-exponent pow is NaN for a negative base.
            return degree == degree.rounded() && Swift.abs(degree) < 64 ? Float.pow(v, Int(degree)) : Float.pow(v, degree)
        case .sigmoid: return Float.tanh(gamma * dot + coef0)
        case .rbf: return 0
        }
    }
}

/// onnxruntime's Float post-transforms of a score row (batched_update_scores_inplace for rows wider than one).
func svmPostTransform(_ post: PostTransform, _ row: inout ArraySlice<Float>) {
    switch post {
    case .none: return
    case .probit:
        for i in row.indices { row[i] = svmProbit(row[i]) }
    case .logistic:
        for i in row.indices { row[i] = svmLogistic(row[i]) }
    case .softmax:
        let m = row.max() ?? 0
        var sum: Float = 0
        for i in row.indices {
            row[i] = Float.exp(row[i] - m)
            sum += row[i]
        }
        for i in row.indices { row[i] /= sum }
    case .softmaxZero:
        // Zeros stay (almost) zero: they are scaled by exp(-max) instead of exponentiated.
        let m = row.max() ?? 0
        let expNegMax = Float.exp(-m)
        var sum: Float = 0
        for i in row.indices {
            if row[i] > 1e-7 || row[i] < -1e-7 {
                row[i] = Float.exp(row[i] - m)
                sum += row[i]
            } else {
                row[i] *= expNegMax
            }
        }
        for i in row.indices { row[i] /= sum }
    }
}

@inline(__always)
func svmLogistic(_ v: Float) -> Float {
    let e = 1 / (1 + Float.exp(-Swift.abs(v)))
    return v < 0 ? 1 - e : e
}

/// sqrt(2) * erfinv(2p - 1) with onnxruntime's Float inverse-erf approximation.
func svmProbit(_ p: Float) -> Float {
    var x = 2 * p - 1
    let sign: Float = x < 0 ? -1 : 1
    x = (1 - x) * (1 + x)
    let ln = Float.log(x)
    let v = 2 / (Float.pi * 0.147) + 0.5 * ln
    let v2 = 1 / Float(0.147) * ln
    let v3 = -v + (v * v - v2).squareRoot()
    return Float(2).squareRoot() * sign * v3.squareRoot()
}

/// The numeric ML input as Float rows (onnxruntime casts double/int inputs to float first).
private func svmInput(_ t: Tensor) throws -> (rows: Int, cols: Int, values: [Float]) {
    let (rows, cols) = try mlRows(t)
    let values = t.dtype == .float32 ? t.values(as: Float.self) : try mlValues(t).map { Float($0) }
    return (rows, cols, values)
}

/// SVMRegressor: y = Σ coefficients[v] · k(x, sv[v]) + rho[0] (or x · coefficients + rho[0] when
/// n_supports is 0); one_class maps y to ±1. onnxruntime ignores post_transform here, and so do we.
struct SVMRegressorKernel: Kernel {
    let function: SVMKernelFunction
    let supportVectors: [Float], coefficients: [Float]
    let rho: Float
    let vectorCount: Int, featureCount: Int
    let oneClass: Bool

    init(_ ctx: KernelBuildContext) throws {
        guard let coefficients = ctx.floats("coefficients"), !coefficients.isEmpty else { throw ctx.missing("coefficients") }
        guard let rho = ctx.floats("rho")?.first else { throw ctx.missing("rho") }
        _ = try PostTransform(ctx)
        let n = ctx.int("n_supports", default: 0)
        guard n >= 0 else { throw ctx.invalid("n_supports must not be negative") }
        let sv = ctx.floats("support_vectors") ?? []
        vectorCount = Int(n)
        if vectorCount > 0 {
            guard !sv.isEmpty, sv.count % vectorCount == 0 else {
                throw ctx.invalid("support_vectors (\(sv.count) values) do not split into \(vectorCount) vectors")
            }
            guard coefficients.count >= vectorCount else {
                throw ctx.invalid("needs \(vectorCount) coefficients, got \(coefficients.count)")
            }
            featureCount = sv.count / vectorCount
            function = try SVMKernelFunction(ctx)
        } else {
            featureCount = coefficients.count
            function = SVMKernelFunction(linear: ())
        }
        supportVectors = sv
        self.coefficients = coefficients
        self.rho = rho
        oneClass = ctx.int("one_class", default: 0) != 0
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let (rows, cols, x) = try svmInput(try inputs.tensor(0))
        guard cols == featureCount else { throw kernelError("expected \(featureCount) features, got \(cols)") }
        var out = [Float](repeating: 0, count: rows)
        x.withUnsafeBufferPointer { xb in
            supportVectors.withUnsafeBufferPointer { svb in
                coefficients.withUnsafeBufferPointer { cb in
                    guard let xp = xb.baseAddress, let cp = cb.baseAddress else { return }
                    for r in 0..<rows {
                        let row = xp + r * cols
                        if vectorCount == 0 {
                            out[r] = function(row, cp, cols, bias: rho)
                            continue
                        }
                        guard let svp = svb.baseAddress else { return }
                        var sum: Float = 0
                        for v in 0..<vectorCount { sum += function(row, svp + v * cols, cols, bias: 0) * cp[v] }
                        out[r] = sum + rho
                    }
                }
            }
        }
        if oneClass { for i in out.indices { out[i] = out[i] > 0 ? 1 : -1 } }
        return [.tensor(Tensor.from(out, shape: [rows, 1]))]
    }
}

/// SVMClassifier, as onnxruntime computes it:
/// - SVC mode (vectors_per_class given): one-vs-one decision values over class pairs (i < j), each
///   a vote for i when positive; the label is the most voted class. Z holds the decision values
///   ([N, 2] as [-d, d] for two classes), or with prob_a/prob_b the Platt-scaled pairwise
///   probabilities coupled into per-class probabilities.
/// - Linear mode (no support vectors): Z = X · coefficientsᵀ + rho[0] per class, label = argmax.
/// post_transform then applies to Z.
struct SVMClassifierKernel: Kernel {
    let function: SVMKernelFunction
    let labels: ClassLabels
    let classCount: Int
    let vectorsPerClass: [Int], starts: [Int]
    let vectorCount: Int, featureCount: Int
    let supportVectors: [Float], coefficients: [Float], rho: [Float], probA: [Float], probB: [Float]
    let post: PostTransform
    let svc: Bool
    let weightsArePositive: Bool

    var classifierCount: Int { classCount * (classCount - 1) / 2 }

    init(_ ctx: KernelBuildContext) throws {
        labels = try ClassLabels(ctx)
        classCount = labels.count
        guard classCount >= 1, classCount < 65536 else { throw ctx.invalid("unsupported number of classes \(classCount)") }
        guard let coefficients = ctx.floats("coefficients"), !coefficients.isEmpty else { throw ctx.missing("coefficients") }
        guard let rho = ctx.floats("rho") else { throw ctx.missing("rho") }
        probA = ctx.floats("prob_a") ?? []
        probB = ctx.floats("prob_b") ?? []
        guard probA.count == probB.count else { throw ctx.invalid("prob_a and prob_b differ in length") }
        post = try PostTransform(ctx)
        let perClass = ctx.ints("vectors_per_class") ?? []
        guard perClass.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else {
            throw ctx.invalid("vectors_per_class entries must be in 0...\(Int32.max)")
        }
        vectorsPerClass = perClass.map { Int($0) }
        var starts: [Int] = []
        var total = 0
        for n in vectorsPerClass {
            starts.append(total)
            total += n
        }
        self.starts = starts
        vectorCount = total
        let sv = ctx.floats("support_vectors") ?? []
        svc = vectorCount > 0
        if svc {
            guard vectorsPerClass.count == classCount else {
                throw ctx.invalid("vectors_per_class has \(vectorsPerClass.count) entries for \(classCount) classes")
            }
            guard !sv.isEmpty, sv.count % vectorCount == 0 else {
                throw ctx.invalid("support_vectors (\(sv.count) values) do not split into \(vectorCount) vectors")
            }
            featureCount = sv.count / vectorCount
            let pairs = classCount * (classCount - 1) / 2
            guard coefficients.count >= (classCount - 1) * vectorCount else {
                throw ctx.invalid("needs \((classCount - 1) * vectorCount) coefficients, got \(coefficients.count)")
            }
            guard rho.count >= pairs else { throw ctx.invalid("needs \(pairs) rho values, got \(rho.count)") }
            guard probA.isEmpty || probA.count >= pairs else {
                throw ctx.invalid("needs \(pairs) prob_a/prob_b values, got \(probA.count)")
            }
            function = try SVMKernelFunction(ctx)
        } else {
            guard coefficients.count % classCount == 0 else {
                throw ctx.invalid("\(coefficients.count) coefficients do not split into \(classCount) classes")
            }
            guard !rho.isEmpty else { throw ctx.missing("rho") }
            featureCount = coefficients.count / classCount
            _ = try SVMKernelFunction(ctx)
            function = SVMKernelFunction(linear: ())
        }
        supportVectors = sv
        self.coefficients = coefficients
        self.rho = rho
        weightsArePositive = coefficients.allSatisfy { $0 >= 0 }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let (rows, cols, x) = try svmInput(try inputs.tensor(0))
        guard cols == featureCount else { throw kernelError("expected \(featureCount) features, got \(cols)") }
        let haveProba = !probA.isEmpty
        let pairs = classifierCount
        let width = svc && !haveProba ? (classCount > 2 ? pairs : 2) : classCount
        var z = [Float](repeating: 0, count: rows * width)
        var picks: [Int] = []
        picks.reserveCapacity(rows)
        var kernels = [Float](repeating: 0, count: vectorCount)
        var pairScores = [Float](repeating: 0, count: pairs)
        var votes = [Int](repeating: 0, count: classCount)
        x.withUnsafeBufferPointer { xb in
            supportVectors.withUnsafeBufferPointer { svb in
                coefficients.withUnsafeBufferPointer { cb in
                    guard let xp = xb.baseAddress, let cp = cb.baseAddress else { return }
                    for r in 0..<rows {
                        let row = xp + r * cols
                        let base = r * width
                        var best = 0
                        var maxWeight: Float = 0
                        if !svc {
                            for c in 0..<classCount { z[base + c] = function(row, cp + c * cols, cols, bias: rho[0]) }
                            for c in 1..<Swift.max(classCount, 1) where z[base + c] > z[base + best] { best = c }
                            maxWeight = z[base + best]
                            var slice = z[base..<(base + width)]
                            transformRow(&slice)
                            z.replaceSubrange(base..<(base + width), with: slice)
                        } else {
                            guard let svp = svb.baseAddress else { return }
                            for v in 0..<vectorCount { kernels[v] = function(row, svp + v * cols, cols, bias: 0) }
                            decide(cp, kernels, &pairScores, &votes)
                            for c in 1..<classCount where votes[c] > votes[best] { best = c }
                            finishSVCRow(pairScores, &z, base, width)
                        }
                        picks.append(pick(best, maxWeight, haveProba))
                    }
                }
            }
        }
        return [.tensor(labels.tensor(picks)), .tensor(Tensor.from(z, shape: [rows, width]))]
    }

    /// One-vs-one decision values (accumulated in Double, as onnxruntime does) and votes.
    private func decide(_ coef: UnsafePointer<Float>, _ kernels: [Float], _ scores: inout [Float], _ votes: inout [Int]) {
        for c in votes.indices { votes[c] = 0 }
        var index = 0
        for i in 0..<Swift.max(classCount - 1, 0) {
            for j in (i + 1)..<classCount {
                var sum = 0.0
                let rowJ = coef + vectorCount * (j - 1), rowI = coef + vectorCount * i
                for m in starts[i]..<(starts[i] + vectorsPerClass[i]) { sum += Double(rowJ[m] * kernels[m]) }
                for m in starts[j]..<(starts[j] + vectorsPerClass[j]) { sum += Double(rowI[m] * kernels[m]) }
                sum += Double(rho[index])
                scores[index] = Float(sum)
                votes[sum > 0 ? i : j] += 1
                index += 1
            }
        }
    }

    /// Writes an SVC row of Z: probabilities, or decision values, then post_transform.
    private func finishSVCRow(_ scores: [Float], _ z: inout [Float], _ base: Int, _ width: Int) {
        if !probA.isEmpty {
            let n = classCount
            var pairwise = [Float](repeating: 0, count: n * n)
            var index = 0
            for i in 0..<Swift.max(n - 1, 0) {
                for j in (i + 1)..<n {
                    let p = Swift.min(Swift.max(1 - svmLogistic(scores[index] * probA[index] + probB[index]), 1e-7), 1 - 1e-7)
                    pairwise[i * n + j] = p
                    pairwise[j * n + i] = 1 - p
                    index += 1
                }
            }
            var probs = svmCoupleProbabilities(n, pairwise)[...]
            transformRow(&probs)
            z.replaceSubrange(base..<(base + width), with: probs)
        } else if classCount > 2 {
            var slice = scores[...]
            svmPostTransform(post, &slice)
            z.replaceSubrange(base..<(base + width), with: slice)
        } else if let s = scores.first {
            // Two classes: one decision value d expanded to two columns (onnxruntime 1.32 behaviour:
            // [-d, d], [σ(-d), σ(d)] for LOGISTIC, [1 - d, d] for SOFTMAX*, PROBIT fills one column).
            switch post {
            case .probit: z[base] = svmProbit(s)
            case .none: (z[base], z[base + 1]) = (-s, s)
            case .logistic: (z[base], z[base + 1]) = (svmLogistic(-s), svmLogistic(s))
            case .softmax, .softmaxZero: (z[base], z[base + 1]) = (1 - s, s)
            }
        }
    }

    /// A row of `classCount` scores: the usual transforms, but a single column only takes PROBIT.
    private func transformRow(_ row: inout ArraySlice<Float>) {
        if row.count > 1 { svmPostTransform(post, &row) } else if post == .probit, let i = row.indices.first { row[i] = svmProbit(row[i]) }
    }

    /// The label index: the winner, except that a binary model without probabilities in linear mode
    /// picks class 1 when its top raw score passes the threshold onnxruntime uses.
    private func pick(_ best: Int, _ maxWeight: Float, _ haveProba: Bool) -> Int {
        guard classCount == 2, !haveProba else { return best }
        if weightsArePositive && maxWeight >= 0.5 { return 1 }
        if maxWeight > 0 && !weightsArePositive { return 1 }
        return best
    }
}

/// Pairwise coupling of one-vs-one probabilities r (n × n) into class probabilities
/// (Wu, Lin and Weng 2004, method 2, as in libsvm), in Float like onnxruntime.
func svmCoupleProbabilities(_ n: Int, _ r: [Float]) -> [Float] {
    var q = [Float](repeating: 0, count: n * n)
    var qp = [Float](repeating: 0, count: n)
    var p = [Float](repeating: 1 / Float(n), count: n)
    let eps = 0.005 / Float(n)
    for i in 0..<n {
        for j in 0..<i {
            q[i * n + i] += r[j * n + i] * r[j * n + i]
            q[i * n + j] = q[j * n + i]
        }
        for j in (i + 1)..<n {
            q[i * n + i] += r[j * n + i] * r[j * n + i]
            q[i * n + j] = -r[j * n + i] * r[i * n + j]
        }
    }
    for _ in 0..<100 {
        var pqp: Float = 0
        for i in 0..<n {
            qp[i] = 0
            for j in 0..<n { qp[i] += q[i * n + j] * p[j] }
            pqp += p[i] * qp[i]
        }
        var maxError: Float = 0
        for i in 0..<n { maxError = Swift.max(maxError, Swift.abs(qp[i] - pqp)) }
        if maxError < eps { break }
        for i in 0..<n {
            let diff = (-qp[i] + pqp) / q[i * n + i]
            p[i] += diff
            pqp = (pqp + diff * (diff * q[i * n + i] + 2 * qp[i])) / (1 + diff) / (1 + diff)
            for j in 0..<n {
                qp[j] = (qp[j] + diff * q[i * n + j]) / (1 + diff)
                p[j] /= (1 + diff)
            }
        }
    }
    return p
}
