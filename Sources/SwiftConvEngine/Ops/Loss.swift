import RealModule
import SwiftConvIR

/// Loss functions: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
enum LossKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("NegativeLogLikelihoodLoss", since: [12, 13, 22]) { ctx in
            try NLLLossKernel(ctx, softmax: false)
        }
        r.register("SoftmaxCrossEntropyLoss", since: [12, 13]) { ctx in
            try NLLLossKernel(ctx, softmax: true)
        }
    }
}

/// loss[n, d] = -w[t] * x[n, t, d] for target t = target[n, d] (0 where t is `ignore_index`),
/// then `none`, `sum`, or `mean` (divided by the sum of the weights that applied).
/// With `softmax`, `x` is first turned into log-probabilities over axis 1 (second output).
struct NLLLossKernel: Kernel {
    enum Reduction { case none, sum, mean }
    let reduction: Reduction
    let ignoreIndex: Int64?
    let softmax: Bool

    init(_ ctx: KernelBuildContext, softmax: Bool) throws {
        switch ctx.string("reduction", default: "mean") {
        case "none": reduction = .none
        case "sum": reduction = .sum
        case "mean": reduction = .mean
        case let other: throw ctx.invalid("unknown reduction '\(other)'")
        }
        ignoreIndex = ctx.attribute("ignore_index")?.int
        self.softmax = softmax
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), target = try inputs.tensor(1)
        guard x.rank >= 2 else { throw kernelError("input must be [N, C, ...], got shape \(x.shape)") }
        let n = x.shape[0], c = x.shape[1]
        let spatial = Array(x.shape.dropFirst(2))
        guard target.shape == [n] + spatial else {
            throw kernelError("target shape \(target.shape) does not match input shape \(x.shape)")
        }
        guard let targets = target.int64Values() else { throw kernelError("target must be int32 or int64") }
        let d = spatial.reduce(1, *)
        var values = try DoubleBridge.values(x)
        if softmax {
            // log_softmax over axis 1, in place.
            for i in 0..<n {
                for k in 0..<d {
                    var m = -Double.infinity
                    for j in 0..<c { m = max(m, values[(i * c + j) * d + k]) }
                    var s = 0.0
                    for j in 0..<c { s += Double.exp(values[(i * c + j) * d + k] - m) }
                    let logSum = m + Double.log(s)
                    for j in 0..<c { values[(i * c + j) * d + k] -= logSum }
                }
            }
        }
        var weights: [Double]? = nil
        if let w = inputs.optionalTensor(2) {
            weights = try DoubleBridge.values(w)
            guard weights!.count == c else { throw kernelError("weight has \(weights!.count) elements for \(c) classes") }
        }
        var loss = [Double](repeating: 0, count: n * d)
        var weightSum = 0.0
        for i in 0..<n {
            for k in 0..<d {
                let t = targets[i * d + k]
                if let ii = ignoreIndex, t == ii { continue }
                guard t >= 0, t < Int64(c) else { throw kernelError("target \(t) is out of range [0, \(c))") }
                let w = weights?[Int(t)] ?? 1
                loss[i * d + k] = -values[(i * c + Int(t)) * d + k] * w
                weightSum += w
            }
        }
        let out: Tensor
        switch reduction {
        case .none: out = try DoubleBridge.tensor(loss, dtype: x.dtype, shape: target.shape)
        case .sum: out = try DoubleBridge.tensor([loss.reduce(0, +)], dtype: x.dtype, shape: [])
        case .mean:
            let total = loss.reduce(0, +)
            out = try DoubleBridge.tensor([weightSum == 0 ? total / 0 : total / weightSum], dtype: x.dtype, shape: [])
        }
        if softmax {
            return [.tensor(out), .tensor(try DoubleBridge.tensor(values, dtype: x.dtype, shape: x.shape))]
        }
        return [.tensor(out)]
    }
}
