import SwiftConvIR

/// Conv followed by an Add of a tensor of the Conv output's shape (ResNet's and MobileNetV2's
/// residual connections), and optionally an activation after the Add, becomes one
/// `com.microsoft` FusedConv with the other operand as its sum input Z:
/// `activation(conv(X) + B + Z)`, onnxruntime's definition. The Add and the activation then
/// run on each output block the convolution finishes while it is in cache, instead of as two
/// more passes over the whole tensor.
///
/// The Add must not broadcast: both operands have one known float32 shape (equal symbolic
/// dims count as equal; the kernel checks the run's shapes). The Conv output must be read by
/// the Add only, and the Add output by the activation only when one is fused; none of them
/// may be a graph output or read by a subgraph. The activations are ConvActivationFusion's,
/// under its float32 rule. It runs before ConvActivationFusion, which would otherwise see no
/// Conv -> activation chain here anyway. Only the main graph is rewritten.
public struct ConvAddFusion: ModelPass {
    public let name = "fuse-conv-add"

    public init() {}

    /// The activations that may follow the Add (the ones FusedConv applies).
    static let activations: Set<String> = ["Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish"]

    public func run(on model: inout Model) throws -> Bool {
        let g = model.graph
        let producer = g.producers, readers = g.consumers
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        var types: [String: ValueType] = [:]
        for v in g.inputs + g.valueInfo + g.outputs { if let t = v.type { types[v.name] = t } }
        for t in g.initializers { types[t.name] = .tensor(elementType: t.dtype, shape: Shape(t.shape)) }
        func float32Shape(_ name: String) -> [Dim]? {
            guard types[name]?.tensorElementType == .float32, let dims = types[name]?.tensorShape,
                !dims.contains(.unknown)
            else { return nil }
            return dims
        }

        var fusedAt: [Int: Node] = [:]
        var removed = Set<Int>()
        for (i, add) in g.nodes.enumerated()
        where add.opType == "Add" && add.canonicalDomain == "" && add.inputs.count == 2 && add.outputs.count == 1
            && !add.outputs[0].isEmpty && !removed.contains(i)
        {
            for (c, z) in [(add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])] {
                guard !c.isEmpty, !z.isEmpty, c != z, !pinned.contains(c), let ci = producer[c], !removed.contains(ci),
                    readers[c] == [i]
                else { continue }
                let conv = g.nodes[ci]
                guard conv.opType == "Conv", conv.canonicalDomain == "", conv.outputs.filter({ !$0.isEmpty }) == [c],
                    ConvActivationFusion.isFloat32(conv, in: g), let cs = float32Shape(c), cs == float32Shape(z)
                else { continue }
                var outputs = add.outputs
                var activation: (node: Int, op: String, params: [Float])? = nil
                let sum = add.outputs[0]
                if !pinned.contains(sum), let r = readers[sum], r.count == 1, !removed.contains(r[0]) {
                    let act = g.nodes[r[0]]
                    if Self.activations.contains(act.opType), act.canonicalDomain == "", act.inputs.first == sum,
                        !act.inputs.dropFirst().contains(sum), act.outputs.count == 1,
                        let params = ConvActivationFusion.parameters(of: act, in: g)
                    {
                        activation = (r[0], act.opType, params)
                        outputs = act.outputs
                    }
                }
                var inputs = conv.inputs
                while inputs.count < 3 { inputs.append("") }
                var fused = Node(
                    name: conv.name, opType: "FusedConv", domain: OpDomain.microsoft, inputs: inputs + [z],
                    outputs: outputs, attributes: conv.attributes)
                if let activation {
                    fused.attributes.append(Attribute(name: "activation", value: .string(Array(activation.op.utf8))))
                    if !activation.params.isEmpty {
                        fused.attributes.append(Attribute(name: "activation_params", value: .floats(activation.params)))
                    }
                }
                // The fused node takes the last position of the nodes it replaces, where every
                // input (Z included) is computed and no reader of its output has run yet.
                let last = activation?.node ?? i
                fusedAt[last] = fused
                removed.formUnion([ci, i, last])
                break
            }
        }
        guard !fusedAt.isEmpty else { return false }
        ConvActivationFusion.apply(fusedAt, removing: removed, to: &model)
        return true
    }
}
