import SwiftConvIR

/// One link of a chain pattern: the op types a node may have, its domain, and which of its
/// inputs the previous link's output must feed.
public struct OpPattern: Sendable {
    public var opTypes: Set<String>
    /// Compared with the node's canonical domain: "" is the default ONNX domain.
    public var domain: String
    /// The input the previous link feeds; nil accepts any input. Ignored on the first link.
    public var input: Int?

    public init(_ opTypes: String..., domain: String = "", input: Int? = 0) {
        self.opTypes = Set(opTypes)
        self.domain = domain
        self.input = input
    }

    func matches(_ node: Node) -> Bool { opTypes.contains(node.opType) && node.canonicalDomain == domain }
}

/// What a replacement can see and ask for while a `PatternRewriter` runs.
public struct RewriteContext {
    /// The graph as it was when this round of matching started (for constants and types).
    public let graph: Graph
    private var names: UniqueNameGenerator
    private(set) var opsetImports: [OpsetID]
    /// Constants the replacements added, appended to the graph's initializers.
    fileprivate(set) var newInitializers: [Tensor] = []

    init(graph: Graph, opsetImports: [OpsetID]) {
        self.graph = graph
        names = UniqueNameGenerator(graph: graph)
        self.opsetImports = opsetImports
    }

    /// A value or node name nothing in the graph uses yet.
    public mutating func freshName(_ base: String) -> String { names.fresh(base) }

    /// Adds `tensor` to the graph's initializers (named with `freshName`), for replacements
    /// that compute new weights.
    public mutating func addInitializer(_ tensor: Tensor) { newInitializers.append(tensor) }

    /// Makes the model import `domain` (at `version` unless it imports it already), for
    /// replacements that use ops of another domain.
    public mutating func importOpset(_ domain: String, version: Int64) {
        if !opsetImports.contains(where: { OpDomain.canonical($0.domain) == OpDomain.canonical(domain) }) {
            opsetImports.append(OpsetID(domain: domain, version: version))
        }
    }
}

/// A pass that finds chains of nodes by op type and replaces each by new nodes, so that a
/// fusion is a pattern and a closure.
///
/// A chain `[a, b, c]` matches nodes where a's only output feeds b (at `b.input`) and b's
/// feeds c. Every value inside the chain must be single-use: read by exactly one node
/// input, not a graph output, not read by any subgraph, so removing its producer loses
/// nothing. The closure gets the matched nodes (producer first) and returns their
/// replacement, or nil to leave the match alone; the replacement takes the place of the
/// last node, and should produce the values the last node produced. Matches never overlap.
/// Only the main graph is rewritten.
public struct PatternRewriter: ModelPass {
    public typealias Replacement = (_ match: [Node], _ context: inout RewriteContext) throws -> [Node]?

    public let name: String
    public let chain: [OpPattern]
    public let replace: Replacement

    public init(name: String, chain: [OpPattern], replace: @escaping Replacement) {
        self.name = name
        self.chain = chain
        self.replace = replace
    }

    public func run(on model: inout Model) throws -> Bool {
        guard let last = chain.last else { return false }
        let g = model.graph
        let producer = g.producers
        let uses = g.useCounts
        let pinned = g.namesReadBySubgraphs.union(g.outputs.map(\.name))
        var context = RewriteContext(graph: g, opsetImports: model.opsetImports)

        /// The node feeding `consumer` as `link` requires, if it matches `pattern` and its value is single-use.
        func feeder(of consumer: Node, link: OpPattern, pattern: OpPattern, taken: Set<Int>) -> Int? {
            let candidates: [String]
            if let k = link.input {
                candidates = k < consumer.inputs.count ? [consumer.inputs[k]] : []
            } else {
                candidates = consumer.inputs
            }
            for x in candidates where !x.isEmpty && uses[x] == 1 && !pinned.contains(x) {
                guard let p = producer[x], !taken.contains(p), pattern.matches(g.nodes[p]),
                    g.nodes[p].outputs.filter({ !$0.isEmpty }) == [x]
                else { continue }
                return p
            }
            return nil
        }

        var taken = Set<Int>()
        var replacements: [Int: [Node]] = [:]
        for (i, node) in g.nodes.enumerated() where !taken.contains(i) && last.matches(node) {
            var matched = [i]
            var current = node
            for k in stride(from: chain.count - 2, through: 0, by: -1) {
                guard let p = feeder(of: current, link: chain[k + 1], pattern: chain[k], taken: taken.union(matched))
                else { break }
                matched.append(p)
                current = g.nodes[p]
            }
            guard matched.count == chain.count else { continue }
            matched.reverse()
            let added = context.newInitializers.count
            guard let nodes = try replace(matched.map { g.nodes[$0] }, &context) else {
                // A match left alone adds nothing.
                context.newInitializers.removeSubrange(added...)
                continue
            }
            taken.formUnion(matched)
            replacements[i] = nodes
        }
        guard !replacements.isEmpty else { return false }

        var rewritten: [Node] = []
        rewritten.reserveCapacity(g.nodes.count)
        for (i, node) in g.nodes.enumerated() {
            if let nodes = replacements[i] {
                rewritten += nodes
            } else if !taken.contains(i) {
                rewritten.append(node)
            }
        }
        // The values inside a chain are gone unless a replacement defines them again.
        var removed = Set(taken.flatMap { g.nodes[$0].outputs })
        removed.subtract(replacements.values.joined().flatMap(\.outputs))
        model.graph.nodes = rewritten
        model.graph.valueInfo.removeAll { removed.contains($0.name) }
        model.graph.initializers += context.newInitializers
        model.opsetImports = context.opsetImports
        return true
    }
}
