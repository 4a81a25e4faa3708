import SwiftConvIR

/// If, Loop, Scan.
enum ControlFlowKernels {
    static func register(into r: inout KernelRegistry) {
        let versions: [Int64] = [1, 11, 13, 16, 19, 21, 23, 24, 25]
        r.register("If", since: versions) { ctx in
            IfKernel(
                thenBranch: try Subgraph(ctx, attribute: "then_branch"),
                elseBranch: try Subgraph(ctx, attribute: "else_branch"))
        }
        r.register("Loop", since: versions) { ctx in try LoopKernel(ctx) }
        r.register("Scan", since: [8, 9, 11, 16, 19, 21, 23, 24, 25]) { ctx in
            if ctx.sinceVersion == 8 { return try Scan8Kernel(ctx) }
            return try ScanKernel(ctx)
        }
    }
}

/// Reads a boolean condition from a one-element bool tensor.
func conditionValue(_ v: Value?, what: String) throws -> Bool {
    guard case .tensor(let t)? = v, t.elementCount == 1 else { throw kernelError("\(what) must be a one-element tensor") }
    switch t.dtype {
    case .bool, .uint8, .int8: return t.storage.bytes[0] != 0
    default:
        guard let i = t.int64Values()?.first else { throw kernelError("\(what) must be a bool tensor, got \(t.dtype)") }
        return i != 0
    }
}

/// An empty value of a subgraph output's declared type, for scan outputs of zero iterations.
func emptyScanOutput(_ info: ValueInfo, axis: Int = 0) throws -> Value {
    guard case .tensor(let dt, let shape, _)? = info.type else { return .tensor(try Tensor.zeros(.float32, [0])) }
    var dims: [Int] = []
    if let shape {
        for d in shape { if case .known(let v) = d { dims.append(v) } else { dims.append(0) } }
    }
    dims.insert(0, at: min(axis, dims.count))
    return .tensor(try Tensor.zeros(dt, dims))
}

struct IfKernel: Kernel {
    let thenBranch: Subgraph
    let elseBranch: Subgraph

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let branch = try conditionValue(inputs.first ?? nil, what: "the If condition") ? thenBranch : elseBranch
        return try branch.run([], outer: inputs, context)
    }
}

/// Loop (opset 1..25): trip count and condition, loop-carried values of any kind, scan outputs
/// stacked along a new first axis.
struct LoopKernel: Kernel {
    let body: Subgraph
    let carried: Int
    let scanOutputs: Int
    let carriedTypes: [ValueType?]

    init(_ ctx: KernelBuildContext) throws {
        body = try Subgraph(ctx, attribute: "body")
        guard ctx.node.inputs.count >= 2 else { throw ctx.invalid("Loop needs the M and cond inputs (possibly empty)") }
        carried = ctx.node.inputs.count - 2
        guard body.graph.inputs.count == carried + 2 else {
            throw ctx.invalid("the body takes \(body.graph.inputs.count) inputs for \(carried) loop-carried values")
        }
        scanOutputs = body.graph.outputs.count - 1 - carried
        guard scanOutputs >= 0 else { throw ctx.invalid("the body has too few outputs") }
        carriedTypes = body.graph.inputs.dropFirst(2).map(\.type)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var tripLimit: Int64? = nil
        if case .tensor(let m)? = inputs[0] {
            guard let v = m.scalarInt() else { throw kernelError("M must be a one-element integer tensor") }
            tripLimit = v
        }
        var cond = true
        if let c = inputs[1] { cond = try conditionValue(c, what: "the loop condition") }
        var state: [Value?] = (0..<carried).map { k in
            inputs[2 + k] ?? .none({ if case .optional(let e)? = carriedTypes[k] { return e } else { return carriedTypes[k] } }())
        }
        var scans = [[Tensor]](repeating: [], count: scanOutputs)
        var i: Int64 = 0
        while cond, tripLimit.map({ i < $0 }) ?? true {
            // A body may have no nodes (the executor checks before each node), so check here too.
            try context.checkTerminated()
            var args: [Value?] = [.tensor(.from([i], shape: [])), .tensor(.from([cond], shape: []))]
            args.append(contentsOf: state)
            let out = try body.run(args, outer: inputs, context)
            cond = try conditionValue(out[0], what: "the loop body's condition output")
            for k in 0..<carried { state[k] = out[1 + k] }
            for k in 0..<scanOutputs {
                guard case .tensor(let t) = out[1 + carried + k] else { throw kernelError("a scan output of the body is not a tensor") }
                scans[k].append(t)
            }
            i += 1
        }
        var result: [Value] = state.map { $0 ?? .none(nil) }
        for k in 0..<scanOutputs {
            if scans[k].isEmpty {
                result.append(try emptyScanOutput(body.graph.outputs[1 + carried + k]))
            } else {
                result.append(.tensor(try AxisBlocks.stack(scans[k], axis: 0)))
            }
        }
        return result
    }
}

/// Scan (opset 9+): states, scan inputs sliced along their axes, scan outputs stacked.
struct ScanKernel: Kernel {
    let body: Subgraph
    let states: Int
    let scanInputs: Int
    let inputAxes: [Int64]
    let inputReverse: [Bool]
    let outputAxes: [Int64]
    let outputReverse: [Bool]

    init(_ ctx: KernelBuildContext) throws {
        body = try Subgraph(ctx, attribute: "body")
        let n = try ctx.int("num_scan_inputs")
        guard n >= 1, n <= ctx.node.inputs.count else {
            throw ctx.invalid("num_scan_inputs is \(n) for \(ctx.node.inputs.count) inputs")
        }
        scanInputs = Int(n)
        states = ctx.node.inputs.count - scanInputs
        guard states >= 0, body.graph.inputs.count == ctx.node.inputs.count, body.graph.outputs.count >= states else {
            throw ctx.invalid("the body's inputs and outputs do not match the node's")
        }
        let k = body.graph.outputs.count - states
        inputAxes = ctx.ints("scan_input_axes") ?? Array(repeating: 0, count: scanInputs)
        inputReverse = (ctx.ints("scan_input_directions") ?? Array(repeating: 0, count: scanInputs)).map { $0 != 0 }
        outputAxes = ctx.ints("scan_output_axes") ?? Array(repeating: 0, count: k)
        outputReverse = (ctx.ints("scan_output_directions") ?? Array(repeating: 0, count: k)).map { $0 != 0 }
        guard inputAxes.count == scanInputs, inputReverse.count == scanInputs, outputAxes.count == k, outputReverse.count == k else {
            throw ctx.invalid("scan axes/directions do not match the number of scan inputs and outputs")
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var state: [Value?] = Array(inputs[0..<states])
        var xs: [Tensor] = []
        var axes: [Int] = []
        var length = -1
        for j in 0..<scanInputs {
            let t = try inputs.tensor(states + j)
            let a = try normalizeAxis(inputAxes[j], rank: t.rank, label: "scan_input_axes")
            guard t.rank > 0 else { throw kernelError("scan input \(j) is a scalar") }
            if length >= 0 && t.shape[a] != length { throw kernelError("scan inputs have different lengths") }
            length = t.shape[a]
            xs.append(t)
            axes.append(a)
        }
        length = max(length, 0)
        let k = outputAxes.count
        var scans = [[Tensor]](repeating: [], count: k)
        for t in 0..<length {
            try context.checkTerminated()
            var args = state
            for j in 0..<scanInputs {
                args.append(.tensor(try AxisBlocks.take(xs[j], axis: axes[j], index: inputReverse[j] ? length - 1 - t : t)))
            }
            let out = try body.run(args, outer: inputs, context)
            for s in 0..<states { state[s] = out[s] }
            for o in 0..<k {
                guard case .tensor(let y) = out[states + o] else { throw kernelError("a scan output of the body is not a tensor") }
                scans[o].append(y)
            }
        }
        var result: [Value] = state.map { $0 ?? .none(nil) }
        for o in 0..<k {
            if scans[o].isEmpty {
                result.append(try emptyScanOutput(body.graph.outputs[states + o]))
                continue
            }
            let parts = outputReverse[o] ? scans[o].reversed() : scans[o]
            let axis = try normalizeAxis(outputAxes[o], rank: parts[0].rank + 1, label: "scan_output_axes")
            result.append(.tensor(try AxisBlocks.stack(parts, axis: axis)))
        }
        return result
    }
}

/// Scan opset 8: a leading batch axis on every input and output, optional per-batch lengths.
struct Scan8Kernel: Kernel {
    let body: Subgraph
    let states: Int
    let scanInputs: Int
    let reverse: [Bool]

    init(_ ctx: KernelBuildContext) throws {
        body = try Subgraph(ctx, attribute: "body")
        let n = try ctx.int("num_scan_inputs")
        guard n >= 1, n < ctx.node.inputs.count else {
            throw ctx.invalid("num_scan_inputs is \(n) for \(ctx.node.inputs.count) inputs")
        }
        scanInputs = Int(n)
        states = ctx.node.inputs.count - 1 - scanInputs
        guard states >= 0, body.graph.inputs.count == states + scanInputs, body.graph.outputs.count >= states else {
            throw ctx.invalid("the body's inputs and outputs do not match the node's")
        }
        reverse = (ctx.ints("directions") ?? Array(repeating: 0, count: scanInputs)).map { $0 != 0 }
        guard reverse.count == scanInputs else { throw ctx.invalid("directions has the wrong length") }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let stateIn = try (0..<states).map { try inputs.tensor(1 + $0) }
        let xs = try (0..<scanInputs).map { try inputs.tensor(1 + states + $0) }
        guard let batch = (stateIn.first ?? xs.first)?.shape.first else { throw kernelError("Scan needs batched inputs") }
        var maxLen = 0
        for x in xs {
            guard x.rank >= 2, x.shape[0] == batch else { throw kernelError("scan inputs must be [batch, sequence, ...]") }
            maxLen = max(maxLen, x.shape[1])
        }
        var lens = [Int](repeating: maxLen, count: batch)
        if let l = inputs.optionalTensor(0), let v = l.int64Values() {
            guard v.count == batch else { throw kernelError("sequence_lens must have one entry per batch") }
            for b in 0..<batch {
                guard v[b] >= 0, v[b] <= maxLen else { throw kernelError("sequence_lens[\(b)] = \(v[b]) is out of range") }
                lens[b] = Int(v[b])
            }
        }
        let k = body.graph.outputs.count - states
        var finalStates = [[Tensor]](repeating: [], count: states)
        var scanOut = [[Tensor]](repeating: [], count: k)
        for b in 0..<batch {
            var state: [Value?] = try stateIn.map { .tensor(try AxisBlocks.take($0, axis: 0, index: b)) }
            let rows = try xs.map { try AxisBlocks.take($0, axis: 0, index: b) }
            var per = [[Tensor]](repeating: [], count: k)
            for t in 0..<lens[b] {
                try context.checkTerminated()
                var args = state
                for j in 0..<scanInputs {
                    args.append(.tensor(try AxisBlocks.take(rows[j], axis: 0, index: reverse[j] ? lens[b] - 1 - t : t)))
                }
                let out = try body.run(args, outer: inputs, context)
                for s in 0..<states { state[s] = out[s] }
                for o in 0..<k {
                    guard case .tensor(let y) = out[states + o] else { throw kernelError("a scan output is not a tensor") }
                    per[o].append(y)
                }
            }
            for s in 0..<states {
                guard case .tensor(let y)? = state[s] else { throw kernelError("a state is not a tensor") }
                finalStates[s].append(y)
            }
            for o in 0..<k {
                guard let proto = try per[o].first ?? scanOut[o].first.map({ try AxisBlocks.take($0, axis: 0, index: 0) }) else {
                    throw kernelError("cannot determine the shape of an empty scan output")
                }
                while per[o].count < maxLen { per[o].append(try Tensor.zeros(proto.dtype, proto.shape)) }
                scanOut[o].append(try AxisBlocks.stack(per[o], axis: 0))
            }
        }
        var result: [Value] = try finalStates.map { .tensor(try AxisBlocks.stack($0, axis: 0)) }
        for o in 0..<k { result.append(.tensor(try AxisBlocks.stack(scanOut[o], axis: 0))) }
        return result
    }
}
