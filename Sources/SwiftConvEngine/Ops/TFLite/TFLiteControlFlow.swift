import SwiftConvIR
import Synchronization

/// TFLite's control flow: WHILE, IF and CALL_ONCE, running the subgraphs the importer attaches
/// as graph attributes (`cond_subgraph`/`body_subgraph`, `then_subgraph`/`else_subgraph`,
/// `init_subgraph`).
enum TFLiteControlFlowKernels {
    static func register(into r: inout KernelRegistry) {
        r.registerTFLite("WHILE") { ctx in
            return try TFLiteWhileKernel(ctx)
        }
        r.registerTFLite("IF") { ctx in
            return try TFLiteIfKernel(ctx)
        }
        r.registerTFLite("CALL_ONCE") { ctx in
            return try TFLiteCallOnceKernel(ctx)
        }
    }
}

/// WHILE: the loop values start as the node's inputs; while `cond_subgraph(values)` is true,
/// `values = body_subgraph(values)`. TFLite loops have no trip count: only the run's terminate
/// flag, checked every iteration, stops a loop that never ends.
struct TFLiteWhileKernel: Kernel {
    let cond: Subgraph
    let body: Subgraph
    let count: Int

    init(_ ctx: KernelBuildContext) throws {
        cond = try Subgraph(ctx, attribute: "cond_subgraph")
        body = try Subgraph(ctx, attribute: "body_subgraph")
        count = ctx.node.inputs.count
        guard cond.graph.inputs.count == count, cond.graph.outputs.count == 1 else {
            throw ctx.invalid("the WHILE condition must take the \(count) loop values and return one boolean")
        }
        guard body.graph.inputs.count == count, body.graph.outputs.count == count else {
            throw ctx.invalid("the WHILE body must take and return the \(count) loop values")
        }
        guard ctx.node.outputs.count <= count else { throw ctx.invalid("WHILE has more outputs than loop values") }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var values: [Value?] = Array(inputs.prefix(count))
        while true {
            try context.checkTerminated()
            let c = try cond.run(values, outer: inputs, context)
            guard try conditionValue(c.first, what: "the WHILE condition") else { break }
            let next = try body.run(values, outer: inputs, context)
            guard next.count == count else { throw kernelError("the WHILE body returned \(next.count) values, expected \(count)") }
            values = next
        }
        return values.map { $0 ?? .none(nil) }
    }
}

/// IF: inputs are the condition then the branch arguments; runs `then_subgraph` or
/// `else_subgraph` on the arguments.
struct TFLiteIfKernel: Kernel {
    let thenBranch: Subgraph
    let elseBranch: Subgraph
    let arguments: Int

    init(_ ctx: KernelBuildContext) throws {
        thenBranch = try Subgraph(ctx, attribute: "then_subgraph")
        elseBranch = try Subgraph(ctx, attribute: "else_subgraph")
        guard ctx.node.inputs.count >= 1 else { throw ctx.invalid("IF needs a condition input") }
        arguments = ctx.node.inputs.count - 1
        for (name, g) in [("then", thenBranch.graph), ("else", elseBranch.graph)] {
            guard g.inputs.count == arguments, g.outputs.count == ctx.node.outputs.count else {
                throw ctx.invalid(
                    "the \(name) subgraph takes \(g.inputs.count) inputs and returns \(g.outputs.count) values; "
                        + "the node has \(arguments) arguments and \(ctx.node.outputs.count) outputs")
            }
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let branch = try conditionValue(inputs.first ?? nil, what: "the IF condition") ? thenBranch : elseBranch
        return try branch.run(Array(inputs[1..<(1 + arguments)]), outer: inputs, context)
    }
}

/// CALL_ONCE: runs `init_subgraph` (resource-variable initialisation) on the first run of the
/// session only; it has no inputs or outputs.
struct TFLiteCallOnceKernel: Kernel {
    let initGraph: Subgraph
    let done: OnceFlag

    init(_ ctx: KernelBuildContext) throws {
        initGraph = try Subgraph(ctx, attribute: "init_subgraph")
        guard initGraph.graph.inputs.isEmpty else { throw ctx.invalid("the CALL_ONCE subgraph must take no inputs") }
        done = OnceFlag()
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        try done.runOnce { _ = try initGraph.run([], outer: inputs, context) }
        return []
    }
}

/// Session-lifetime "already ran" state of a CALL_ONCE node; a failed run leaves it unset so
/// the next run tries again.
final class OnceFlag: Sendable {
    private let ran = Mutex(false)

    func runOnce(_ body: () throws -> Void) throws {
        try ran.withLock { ran in
            if ran { return }
            try body()
            ran = true
        }
    }
}
