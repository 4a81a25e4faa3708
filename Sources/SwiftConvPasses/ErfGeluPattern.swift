import SwiftConvIR

/// The exact GELU that exporters write out with Erf, x·0.5·(1 + erf(x/√2)), found in a
/// graph: shared by the session's `GeluFusion` and the TFLite lowering's `ErfGeluFusion`,
/// which differ only in the node they put in its place.
///
/// Matched forms (any operand order of the commutative ops, x/√2 or x·(1/√2), constants
/// float32 scalars within 1e-6 relative of the exact values):
/// `Mul(Mul(x, 1 + erf(x/√2)), 0.5)`, `Mul(Mul(1 + erf(x/√2), 0.5), x)` and
/// `Mul(1 + erf(x/√2), Mul(x, 0.5))`. The Mul(x, 0.5) of the last is left to dead-code
/// removal. Every value inside a match must have no other reader (`PatternRewriter`).
public struct ErfGeluPattern {
    /// Builds the node that replaces one match: GELU of `input`, producing `last`'s outputs.
    public typealias MakeGelu = (_ input: String, _ last: Node, _ context: inout RewriteContext) -> Node

    public let name: String
    public let makeGelu: MakeGelu

    public init(name: String, makeGelu: @escaping MakeGelu) {
        self.name = name
        self.makeGelu = makeGelu
    }

    /// Replaces every match in the main graph; true when any was found.
    public func run(on model: inout Model) throws -> Bool {
        let start = [OpPattern("Div", "Mul"), OpPattern("Erf"), OpPattern("Add", input: nil)]
        let make = makeGelu
        let fiveLinks = PatternRewriter(name: name, chain: start + [OpPattern("Mul", input: nil), OpPattern("Mul", input: nil)]) {
            match, context in
            guard let x = Self.scaledInput(match[0], context.graph), Self.addsOne(match[2], context.graph) else { return nil }
            let first = Self.otherInput(match[3], than: match[2].outputs[0])
            let second = Self.otherInput(match[4], than: match[3].outputs[0])
            let graph = context.graph
            let half = { (v: String?) in v.map { Self.isScalar($0, 0.5, graph) } ?? false }
            guard (first == x && half(second)) || (half(first) && second == x) else { return nil }
            return [make(x, match[4], &context)]
        }
        let fourLinks = PatternRewriter(name: name, chain: start + [OpPattern("Mul", input: nil)]) { match, context in
            guard let x = Self.scaledInput(match[0], context.graph), Self.addsOne(match[2], context.graph),
                let other = Self.otherInput(match[3], than: match[2].outputs[0]),
                let p = context.graph.producers[other], context.graph.nodes[p].opType == "Mul",
                context.graph.nodes[p].canonicalDomain.isEmpty,
                Self.otherInput(context.graph.nodes[p], than: x).map({ Self.isScalar($0, 0.5, context.graph) }) == true
            else { return nil }
            return [make(x, match[3], &context)]
        }
        let five = try fiveLinks.run(on: &model)
        let four = try fourLinks.run(on: &model)
        return five || four
    }

    /// The x of x/√2 or x·(1/√2).
    static func scaledInput(_ node: Node, _ graph: Graph) -> String? {
        guard node.inputs.count == 2 else { return nil }
        if node.opType == "Div" { return isScalar(node.inputs[1], 2.0.squareRoot(), graph) ? node.inputs[0] : nil }
        for (k, c) in [(0, 1), (1, 0)] where isScalar(node.inputs[c], 0.5.squareRoot(), graph) { return node.inputs[k] }
        return nil
    }

    static func addsOne(_ add: Node, _ graph: Graph) -> Bool {
        add.inputs.count == 2 && add.inputs.contains { isScalar($0, 1, graph) }
    }

    /// The input of a two-input node that is not `value`.
    static func otherInput(_ node: Node, than value: String) -> String? {
        guard node.inputs.count == 2 else { return nil }
        if node.inputs[0] == value { return node.inputs[1] }
        if node.inputs[1] == value { return node.inputs[0] }
        return nil
    }

    /// Whether `name` is a float32 constant of one element within float32 rounding of `value`.
    static func isScalar(_ name: String, _ value: Double, _ graph: Graph) -> Bool {
        guard let t = graph.constantTensor(named: name), t.dtype == .float32, t.elementCount == 1,
            let v = t.doubleValues()?.first
        else { return false }
        return abs(v - value) <= 1e-6 * max(1, abs(value))
    }
}
