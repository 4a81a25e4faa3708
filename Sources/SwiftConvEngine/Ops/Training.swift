import RealModule
import SwiftConvIR

/// The ai.onnx.preview.training domain: Adagrad, Adam, Momentum (Gradient is not supported:
/// it needs automatic differentiation of the graph).
enum TrainingKernels {
    static let domain = "ai.onnx.preview.training"

    static func register(into r: inout KernelRegistry) {
        r.register("Adagrad", domain: domain, since: [1]) { ctx in
            OptimizerKernel(
                rule: .adagrad(
                    decay: Double(ctx.float("decay_factor", default: 0)),
                    epsilon: Double(ctx.float("epsilon", default: 1e-6))),
                norm: Double(ctx.float("norm_coefficient", default: 0)), stateCount: 1)
        }
        r.register("Adam", domain: domain, since: [1]) { ctx in
            OptimizerKernel(
                rule: .adam(
                    alpha: Double(ctx.float("alpha", default: 0.9)), beta: Double(ctx.float("beta", default: 0.999)),
                    epsilon: Double(ctx.float("epsilon", default: 1e-6)),
                    post: Double(ctx.float("norm_coefficient_post", default: 0))),
                norm: Double(ctx.float("norm_coefficient", default: 0)), stateCount: 2)
        }
        r.register("Momentum", domain: domain, since: [1]) { ctx in
            let mode = ctx.string("mode", default: "standard")
            guard mode == "standard" || mode == "nesterov" else { throw ctx.invalid("unknown mode '\(mode)'") }
            func required(_ name: String) throws -> Double {
                guard let v = ctx.attribute(name)?.float else { throw ctx.missing(name) }
                return Double(v)
            }
            return OptimizerKernel(
                rule: .momentum(
                    alpha: try required("alpha"), beta: try required("beta"),
                    nesterov: mode == "nesterov"),
                norm: try required("norm_coefficient"), stateCount: 1)
        }
    }
}

/// One optimizer step on n tensors: inputs R, T, X1..n, G1..n, then `stateCount` groups of
/// n state tensors; outputs X1..n then the updated states.
struct OptimizerKernel: Kernel {
    enum Rule {
        case adagrad(decay: Double, epsilon: Double)
        case adam(alpha: Double, beta: Double, epsilon: Double, post: Double)
        case momentum(alpha: Double, beta: Double, nesterov: Bool)
    }
    let rule: Rule
    let norm: Double
    let stateCount: Int

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let rT = try inputs.tensor(0), tT = try inputs.tensor(1)
        guard let r = try DoubleBridge.values(rT).first, let t = tT.scalarInt() else {
            throw kernelError("R must be a float scalar and T an integer scalar")
        }
        let groups = 2 + stateCount
        guard (inputs.count - 2) % groups == 0 else { throw kernelError("expected \(groups) tensors per optimized input") }
        let n = (inputs.count - 2) / groups
        var xs: [Tensor] = [], states = [[Tensor]](repeating: [], count: stateCount)
        for i in 0..<n {
            let x = try inputs.tensor(2 + i), g = try inputs.tensor(2 + n + i)
            let ss = try (0..<stateCount).map { try inputs.tensor(2 + (2 + $0) * n + i) }
            guard g.shape == x.shape, ss.allSatisfy({ $0.shape == x.shape }) else {
                throw kernelError("X, G and states must have the same shape")
            }
            let xv = try DoubleBridge.values(x), gv = try DoubleBridge.values(g)
            var sv = try ss.map(DoubleBridge.values)
            var out = xv
            for k in 0..<xv.count {
                let gr = norm * xv[k] + gv[k]
                switch rule {
                case .adagrad(let decay, let eps):
                    let lr = r / (1 + Double(t) * decay)
                    let h = sv[0][k] + gr * gr
                    sv[0][k] = h
                    out[k] = xv[k] - lr * gr / (h.squareRoot() + eps)
                case .adam(let alpha, let beta, let eps, let post):
                    let v = alpha * sv[0][k] + (1 - alpha) * gr
                    let h = beta * sv[1][k] + (1 - beta) * gr * gr
                    sv[0][k] = v
                    sv[1][k] = h
                    let lr = t > 0 ? r * (1 - Double.pow(beta, Double(t))).squareRoot() / (1 - Double.pow(alpha, Double(t))) : r
                    out[k] = (1 - post) * (xv[k] - lr * v / (h.squareRoot() + eps))
                case .momentum(let alpha, let beta, let nesterov):
                    let v = alpha * sv[0][k] + (t > 0 ? beta : 1) * gr
                    sv[0][k] = v
                    out[k] = nesterov ? xv[k] - r * (gr + alpha * v) : xv[k] - r * v
                }
            }
            xs.append(try DoubleBridge.tensor(out, dtype: x.dtype, shape: x.shape))
            for s in 0..<stateCount { states[s].append(try DoubleBridge.tensor(sv[s], dtype: ss[s].dtype, shape: x.shape)) }
        }
        return (xs + states.flatMap { $0 }).map { .tensor($0) }
    }
}
