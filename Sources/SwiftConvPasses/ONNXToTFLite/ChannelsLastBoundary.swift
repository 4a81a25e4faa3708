import SwiftConvIR

/// Exposes channels-last graph inputs and outputs instead of transposing at the boundary
/// (`keep_layout=False`, as onnx2tf's models do): an input read only by channels-last
/// TRANSPOSEs becomes channels-last itself, and an output made by a channels-first TRANSPOSE
/// becomes that transpose's input. Names stay; model metadata `swiftconv.layout.<name>`
/// records `channels_last` for each value changed, so `summary()` can say which.
public struct ChannelsLastBoundary: ModelPass {
    public let name = "channels-last-boundary"

    public init() {}

    public static let metadataPrefix = "swiftconv.layout."

    public func run(on model: inout Model) throws -> Bool {
        var g = model.graph
        var changed = false
        let consumers = g.consumers
        let outputs = Set(g.outputs.map(\.name))
        var drop = Set<Int>()
        var renames: [String: String] = [:]
        for (k, input) in g.inputs.enumerated() {
            guard let shape = input.type?.tensorShape, shape.count >= 3, !outputs.contains(input.name),
                let readers = consumers[input.name], !readers.isEmpty
            else { continue }
            let rank = shape.count
            let last = [0] + Array(2..<rank) + [1]
            guard readers.allSatisfy({ isTranspose(g.nodes[$0], perm: last, in: g) }) else { continue }
            for r in readers {
                drop.insert(r)
                renames[g.nodes[r].outputs[0]] = input.name
            }
            g.inputs[k].type = input.type.map { permuted($0, last) }
            model.metadata.append(MetadataEntry(Self.metadataPrefix + input.name, "channels_last"))
            changed = true
        }
        let producers = g.producers
        for (k, output) in g.outputs.enumerated() {
            guard let p = producers[output.name], let shape = output.type?.tensorShape, shape.count >= 3 else { continue }
            let rank = shape.count
            let first = [0, rank - 1] + Array(1..<(rank - 1))
            let n = g.nodes[p]
            guard isTranspose(n, perm: first, in: g), producers[n.inputs[0]] != nil, !outputs.contains(n.inputs[0]),
                !g.inputs.contains(where: { $0.name == n.inputs[0] })
            else { continue }
            drop.insert(p)
            renames[n.inputs[0]] = output.name
            let last = [0] + Array(2..<rank) + [1]
            g.outputs[k].type = output.type.map { permuted($0, last) }
            model.metadata.append(MetadataEntry(Self.metadataPrefix + output.name, "channels_last"))
            changed = true
        }
        guard changed else { return false }
        g.nodes = g.nodes.enumerated().filter { !drop.contains($0.offset) }.map { _, n in
            var n = n
            n.inputs = n.inputs.map { renames[$0] ?? $0 }
            n.outputs = n.outputs.map { renames[$0] ?? $0 }
            return n
        }
        g.valueInfo.removeAll { renames[$0.name] != nil }
        model.graph = g
        return true
    }

    private func isTranspose(_ n: Node, perm: [Int], in g: Graph) -> Bool {
        guard n.canonicalDomain == OpDomain.tflite, n.opType == "TRANSPOSE", n.inputs.count == 2,
            let p = g.constantTensor(named: n.inputs[1])?.int64Values()
        else { return false }
        return p.map { Int($0) } == perm
    }

    private func permuted(_ t: ValueType, _ perm: [Int]) -> ValueType {
        guard case .tensor(let e, let s?, let q) = t, s.count == perm.count else { return t }
        return .tensor(elementType: e, shape: Shape(perm.map { s[$0] }), quantization: q)
    }
}
