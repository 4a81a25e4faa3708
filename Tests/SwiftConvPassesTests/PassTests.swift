import Foundation
import SwiftConvEngine
import SwiftConvIR
import SwiftConvONNX
import SwiftConvPasses
import SwiftConvTestSupport
import Testing

// MARK: - Running models with and without a rewrite

/// Runs `model` in a session that rewrites nothing beyond inlining functions, so that the
/// only difference between two runs is the pass under test.
func unoptimizedOutputs(_ model: Model, _ feeds: [String: Value]) throws -> [Value] {
    var options = SessionOptions()
    options.graphOptimizationLevel = .disableAll
    return try InferenceSession(model: model, options: options).run(feeds: feeds)
}

/// `model`'s outputs before and after `pass`, and the rewritten model.
func outputsAround(
    _ pass: any ModelPass, _ model: Model, _ feeds: [String: Value]
) throws
    -> (before: [Value], after: [Value], rewritten: Model, changed: Bool)
{
    var rewritten = model
    let changed = try pass.run(on: &rewritten)
    return (try unoptimizedOutputs(model, feeds), try unoptimizedOutputs(rewritten, feeds), rewritten, changed)
}

/// Largest absolute difference between two lists of float32 outputs (infinity if they differ in shape).
func maxDifference(_ a: [Value], _ b: [Value]) -> Float {
    guard a.count == b.count else { return .infinity }
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        guard let s = x.tensor, let t = y.tensor, s.shape == t.shape, s.dtype == t.dtype else { return .infinity }
        guard s.dtype == .float32 else {
            if s.storage.bytes.elementsEqual(t.storage.bytes) { continue } else { return .infinity }
        }
        for (p, q) in zip(s.values(as: Float.self), t.values(as: Float.self)) where p != q {
            worst = max(worst, abs(p - q))
        }
    }
    return worst
}

func count(_ op: String, in model: Model) -> Int { model.graph.nodes.filter { $0.opType == op }.count }

// MARK: - Real models

/// The repository's example models and real-model skeletons, with elided weights filled
/// by deterministic pseudo-random values (enough to compare two runs of one model).
enum RealModels {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// SplitMix64: a fixed stream per name, so every run sees the same weights and feeds.
    struct Random {
        var state: UInt64
        init(_ name: String) { state = name.utf8.reduce(0x9E37_79B9_7F4A_7C15) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 } }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// Uniform in [-1, 1).
        mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    }

    static func floats(_ name: String, shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        var rng = Random(name)
        // Uniform with the requested spread (std of U(-1, 1) is 1/sqrt(3)).
        let values = (0..<(elementCount(shape) ?? 0)).map { _ in mean + std * 1.7320508 * rng.unit() }
        return Tensor(name: name, dtype: .float32, shape: shape, values: values)
    }

    static func example(_ file: String) throws -> Model {
        try ONNXReader.load(path: root.appendingPathComponent("examples/\(file)").path)
    }

    static var manifest: [String: [String: Any]] {
        get throws {
            let data = try Data(contentsOf: root.appendingPathComponent("tests/models/real_models.json"))
            return try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] ?? [:]
        }
    }

    /// The skeleton `name` of tests/models with its weights put back.
    static func skeleton(_ name: String) throws -> Model {
        let entry = try #require(try manifest[name])
        let file = try #require(entry["file"] as? String)
        var model = try ONNXReader.load(path: root.appendingPathComponent("tests/models/\(file)").path)
        for spec in entry["stripped"] as? [[String: Any]] ?? [] {
            let weight = try #require(spec["name"] as? String)
            let dims = try #require(spec["dims"] as? [Int])
            let mean = Float(spec["mean"] as? Double ?? 0), std = Float(spec["std"] as? Double ?? 1)
            model.graph.initializers.append(floats(weight, shape: dims, mean: mean, std: std))
        }
        return model
    }

    /// Feeds for the skeleton `name` at batch 1 (sequences of 8 tokens where the length is free).
    static func feeds(_ name: String) throws -> [String: Value] {
        let entry = try #require(try manifest[name])
        var feeds: [String: Value] = [:]
        for spec in entry["inputs"] as? [[String: Any]] ?? [] {
            let input = try #require(spec["name"] as? String)
            let shape = (spec["shape"] as? [Any] ?? []).map { d -> Int in
                if let n = d as? Int { return n }
                return (d as? String) == "batch" ? 1 : 8
            }
            let count = elementCount(shape) ?? 0
            var rng = Random(name + "/" + input)
            switch spec["kind"] as? String {
            case "tokens":
                let high = UInt64(spec["high"] as? Int ?? 2)
                feeds[input] = .tensor(Tensor(dtype: .int64, shape: shape, values: (0..<count).map { _ in Int64(rng.next() % high) }))
            case "padding":
                let last = shape.last ?? 1
                feeds[input] = .tensor(Tensor(dtype: .bool, shape: shape, values: (0..<count).map { UInt8($0 % last >= last - 4 ? 1 : 0) }))
            default:
                feeds[input] = .tensor(floats(name + "/" + input, shape: shape))
            }
        }
        return feeds
    }

    /// Small enough to run twice in a debug build: the examples and the non-CNN skeletons,
    /// plus squeezenet, the smallest CNN.
    static func runnable() throws -> [(name: String, model: Model, feeds: [String: Value])] {
        let image = floats("image", shape: [1, 1, 28, 28])
        var out: [(String, Model, [String: Value])] = [
            ("mnist_mlp", try example("mnist_mlp.onnx"), ["input": .tensor(floats("input", shape: [2, 784]))]),
            ("tiny_cnn", try example("tiny_cnn.onnx"), ["input": .tensor(image)]),
        ]
        for name in ["squeezenet1_1_op13", "lstm_classifier_op17", "transformer_encoder_op17"] {
            out.append((name, try skeleton(name), try feeds(name)))
        }
        return out
    }
}

// MARK: - Pattern helper

/// MatMul followed by Add of a bias becomes Gemm: the fusion a pattern makes a few lines.
/// Only for a 2-D activation and a 1-D bias constant, where both ops agree.
let matMulAddToGemm = PatternRewriter(name: "matmul-add-to-gemm", chain: [OpPattern("MatMul"), OpPattern("Add", input: nil)]) { m, ctx in
    let (matMul, add) = (m[0], m[1])
    guard let bias = add.inputs.first(where: { $0 != matMul.outputs[0] }), ctx.graph.constantTensor(named: bias)?.shape.count == 1,
        ctx.graph.inputs.first(where: { $0.name == matMul.inputs[0] })?.type?.tensorShape?.count == 2
    else { return nil }
    return [Node(name: ctx.freshName(matMul.name + "_gemm"), opType: "Gemm", inputs: matMul.inputs + [bias], outputs: add.outputs)]
}

/// Relu then MaxPool computes MaxPool then Relu (max commutes with a monotone function):
/// a rewrite that needs a new intermediate name, and fires on real CNNs.
let reluMaxPoolSwap = PatternRewriter(name: "swap-relu-maxpool", chain: [OpPattern("Relu"), OpPattern("MaxPool")]) { m, ctx in
    let (relu, pool) = (m[0], m[1])
    guard pool.outputs.count == 1 else { return nil }
    let pooled = ctx.freshName(pool.outputs[0] + "_before_relu")
    return [
        Node(name: pool.name, opType: "MaxPool", inputs: relu.inputs, outputs: [pooled], attributes: pool.attributes),
        Node(name: relu.name, opType: "Relu", inputs: [pooled], outputs: pool.outputs),
    ]
}

func matMulAddModel(extraOutput: Bool = false) -> Model {
    var m = makeModel(
        [
            Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["xw"]),
            Node(name: "add", opType: "Add", inputs: ["b", "xw"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(2), d(3)])], outputs: extraOutput ? ["y", "xw"] : ["y"],
        initializers: [RealModels.floats("w", shape: [3, 4]), RealModels.floats("b", shape: [4])])
    m.graph.valueInfo = [tensorInfo("xw", .float32, [d(2), d(4)])]
    return m
}

@Test func patternFusionReplacesMatMulAddWithGemm() throws {
    let x = RealModels.floats("x", shape: [2, 3])
    let r = try outputsAround(matMulAddToGemm, matMulAddModel(), ["x": .tensor(x)])
    #expect(r.changed)
    #expect(r.rewritten.graph.nodes.map(\.opType) == ["Gemm"])
    #expect(r.rewritten.graph.valueInfo.isEmpty) // the intermediate's declaration left with it
    #expect(maxDifference(r.before, r.after) < 1e-6)
}

@Test func patternLeavesValuesThatAreReadElsewhere() throws {
    // The MatMul result is also a graph output: fusing would lose it.
    var model = matMulAddModel(extraOutput: true)
    #expect(try !matMulAddToGemm.run(on: &model))
    // Read by a second node.
    model = matMulAddModel()
    model.graph.nodes.append(Node(name: "neg", opType: "Neg", inputs: ["xw"], outputs: ["z"]))
    model.graph.outputs.append(ValueInfo(name: "z", type: nil))
    #expect(try !matMulAddToGemm.run(on: &model))
    // Read inside a subgraph.
    model = matMulAddModel()
    let branch = Graph(
        name: "then", nodes: [Node(opType: "Identity", inputs: ["xw"], outputs: ["t"])],
        outputs: [ValueInfo(name: "t", type: nil)])
    appendIf(to: &model, branch: branch)
    #expect(try !matMulAddToGemm.run(on: &model))
}

@Test func patternRewriteKeepsRealModelOutputs() throws {
    var fired = 0
    for (name, model, feeds) in try RealModels.runnable() {
        let r = try outputsAround(reluMaxPoolSwap, model, feeds)
        if r.changed { fired += 1 }
        #expect(count("MaxPool", in: r.rewritten) == count("MaxPool", in: model), "\(name)")
        #expect(maxDifference(r.before, r.after) == 0, "\(name)")
    }
    #expect(fired >= 2) // tiny_cnn and squeezenet have Relu -> MaxPool
}

// MARK: - Pipelines

/// Changes the model (one metadata entry per run) for its first `rounds` runs.
final class CountdownPass: ModelPass {
    let name = "countdown"
    var remaining: Int
    private(set) var runs = 0
    init(rounds: Int) { remaining = rounds }
    func run(on model: inout Model) throws -> Bool {
        runs += 1
        guard remaining > 0 else { return false }
        remaining -= 1
        model.metadata.append(MetadataEntry("round", "\(runs)"))
        return true
    }
}

@Test func fixedPointPipelineRunsUntilNothingChanges() throws {
    let countdown = CountdownPass(rounds: 3)
    var model = matMulAddModel()
    let pipeline = PassPipeline(name: "group", passes: [countdown], schedule: .untilFixedPoint(maxRounds: 3))
    #expect(try pipeline.run(on: &model))
    #expect(countdown.runs == 4) // three that changed the model, one that confirmed
    #expect(model.metadata.count == 3)
    #expect(try !pipeline.run(on: &model))
}

@Test func fixedPointPipelineThatDoesNotConvergeFails() throws {
    var model = matMulAddModel()
    let pipeline = PassPipeline(name: "group", passes: [CountdownPass(rounds: 5)], schedule: .untilFixedPoint(maxRounds: 4))
    do {
        _ = try pipeline.run(on: &model)
        Issue.record("expected an error")
    } catch let error as SwiftConvError {
        #expect(error.kind == .internal)
        #expect(error.message.contains("'group'") && error.message.contains("converge"))
    }
}

/// Merges pairs of Identity nodes: a chain of n needs about log2(n) rounds.
let identityPairMerge = PatternRewriter(name: "merge-identities", chain: [OpPattern("Identity"), OpPattern("Identity")]) { m, _ in
    [Node(name: m[0].name, opType: "Identity", inputs: m[0].inputs, outputs: m[1].outputs)]
}

@Test func fixedPointPipelineKeepsRealModelOutputs() throws {
    let group = PassPipeline(
        name: "fuse", passes: [identityPairMerge, reluMaxPoolSwap, ConvActivationFusion(), DeadCodeElimination()],
        schedule: .untilFixedPoint(maxRounds: 8))
    for (name, model, feeds) in try RealModels.runnable() {
        // Five Identity nodes in front of the first node reading an input take three merging rounds.
        var padded = model
        let reader = try #require(padded.graph.nodes.firstIndex { !($0.inputs.first ?? "").isEmpty })
        let first = padded.graph.nodes[reader].inputs[0]
        var previous = first
        for k in 0..<5 {
            let next = "\(first)_identity\(k)"
            padded.graph.nodes.insert(Node(name: next, opType: "Identity", inputs: [previous], outputs: [next]), at: k)
            previous = next
        }
        padded.graph.nodes[reader + 5].inputs[0] = previous
        let r = try outputsAround(group, padded, feeds)
        #expect(r.changed)
        #expect(r.rewritten.graph.nodes.filter { $0.name.hasPrefix("\(first)_identity") }.count == 1, "\(name)")
        #expect(maxDifference(r.before, r.after) < 1e-5, "\(name)")
    }
}

// MARK: - Dead-code elimination

@Test func deadCodeEliminationRemovesUnreadNodesAndValues() throws {
    var model = matMulAddModel()
    model.graph.inputs.append(tensorInfo("unused_input", .float32, [d(1)]))
    model.graph.initializers.append(RealModels.floats("unused_weight", shape: [2]))
    // A dead chain: two nodes, the second reading the first, neither reaching an output.
    model.graph.nodes += [
        Node(name: "dead1", opType: "Relu", inputs: ["x"], outputs: ["d1"]),
        Node(name: "dead2", opType: "Neg", inputs: ["d1"], outputs: ["d2"]),
    ]
    model.graph.valueInfo.append(tensorInfo("d2", .float32, nil))
    // A value read only by a subgraph stays.
    model.graph.nodes.append(Node(name: "kept", opType: "Neg", inputs: ["x"], outputs: ["k"]))
    let branch = Graph(
        name: "b",
        nodes: [
            Node(opType: "Identity", inputs: ["k"], outputs: ["t"]),
            Node(opType: "Neg", inputs: ["k"], outputs: ["dead_in_branch"]),
        ],
        outputs: [ValueInfo(name: "t", type: nil)])
    appendIf(to: &model, branch: branch)

    let feeds: [String: Value] = [
        "x": .tensor(RealModels.floats("x", shape: [2, 3])),
        "unused_input": .tensor(RealModels.floats("u", shape: [1])),
    ]
    let r = try outputsAround(DeadCodeElimination(), model, feeds)
    let g = r.rewritten.graph
    #expect(r.changed)
    #expect(g.nodes.map(\.name) == ["mm", "add", "kept", "if"])
    #expect(g.initializers.map(\.name).sorted() == ["b", "c", "w"])
    #expect(g.inputs.map(\.name) == ["x", "unused_input"])
    #expect(!g.valueInfo.contains { $0.name == "d2" })
    #expect(g.nodes[3].attribute("then_branch")?.graph?.nodes.count == 1)
    #expect(maxDifference(r.before, r.after) == 0)
    var again = r.rewritten
    #expect(try !DeadCodeElimination().run(on: &again))
}

@Test func deadCodeEliminationKeepsRealModelOutputs() throws {
    for (name, model, feeds) in try RealModels.runnable() {
        // A dead branch hanging off the first input, with its own weight.
        var padded = model
        let input = model.graph.runtimeInputs[0].name
        padded.graph.initializers.append(RealModels.floats("dead_weight", shape: [1]))
        padded.graph.nodes += [
            Node(name: "dead_shape", opType: "Shape", inputs: [input], outputs: ["dead_shape"]),
            Node(
                name: "dead_cast", opType: "Cast", inputs: ["dead_shape"], outputs: ["dead_float"],
                attributes: [attr("to", Int64(DType.float32.rawValue))]),
            Node(name: "dead_mul", opType: "Mul", inputs: ["dead_float", "dead_weight"], outputs: ["dead_out"]),
        ]
        let r = try outputsAround(DeadCodeElimination(), padded, feeds)
        #expect(r.changed)
        #expect(r.rewritten.graph.nodes.count == model.graph.nodes.count, "\(name)")
        #expect(r.rewritten.graph.initializer(named: "dead_weight") == nil)
        #expect(maxDifference(r.before, r.after) == 0, "\(name)")
    }
}

// MARK: - Conv activation fusion and the session pipeline

@Test func convActivationFusionFiresOnRealCNNs() throws {
    for (name, convs) in [("squeezenet1_1_op13", 26), ("mobilenet_v2_op17", 52), ("resnet18_op13", 20)] {
        var model = try RealModels.skeleton(name)
        #expect(try ConvActivationFusion().run(on: &model))
        let fused = count("FusedConv", in: model)
        #expect(fused > 0 && fused + count("Conv", in: model) == convs, "\(name): \(fused) fused")
        #expect(model.opsetVersion(for: "com.microsoft") == 1)
    }
    let squeezenet = try RealModels.skeleton("squeezenet1_1_op13")
    let r = try outputsAround(ConvActivationFusion(), squeezenet, try RealModels.feeds("squeezenet1_1_op13"))
    #expect(count("Relu", in: r.rewritten) == 0)
    #expect(maxDifference(r.before, r.after) < 1e-5)
}

@Test func sessionPipelineGrowsWithTheLevel() {
    #expect(SessionPipeline.passes(for: .disableAll).isEmpty)
    #expect(SessionPipeline.passes(for: .basic).map(\.name) == ["fold-constants", "eliminate-dead-code"])
    #expect(
        SessionPipeline.passes(for: .all).map(\.name) == [
            "fold-constants", "eliminate-dead-code", "fuse-conv-add", "fuse-conv-activation", "fuse-gelu", "fuse-layer-norm",
            "eliminate-dead-code",
        ])
    // tests/test_optimization_levels.py relies on this: extended runs what all runs.
    #expect(SessionPipeline.passes(for: .extended).map(\.name) == SessionPipeline.passes(for: .all).map(\.name))
    #expect(SessionPipeline.pipeline(for: .disableAll).passes.map(\.name) == ["inline-functions"])
    let nested = PassPipeline(name: "outer", passes: [FunctionInlining(), SessionPipeline.pipeline(for: .basic)])
    #expect(nested.description == "outer[inline-functions, session-basic[inline-functions, fold-constants, eliminate-dead-code]]")
}

/// Conv (1x1, weight 1) then Clip with only a max: -inf must stay -inf, fused or not.
@Test func clipWithoutMinKeepsMinusInfinityAtEveryLevel() throws {
    for opset: Int64 in [6, 13] {
        let clip =
            opset < 11
            ? Node(name: "clip", opType: "Clip", inputs: ["c"], outputs: ["y"], attributes: [attrF("max", 6)])
            : Node(name: "clip", opType: "Clip", inputs: ["c", "", "hi"], outputs: ["y"])
        let model = makeModel(
            [Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"]), clip],
            inputs: [tensorInfo("x", .float32, [d(1), d(1), d(1), d(4)])], outputs: ["y"],
            initializers: [
                Tensor(name: "w", dtype: .float32, shape: [1, 1, 1, 1], values: [Float(1)]),
                Tensor(name: "hi", dtype: .float32, shape: [], values: [Float(6)]),
            ],
            opset: opset)
        let x = Tensor(dtype: .float32, shape: [1, 1, 1, 4], values: [-Float.infinity, -1, 7, .infinity])
        for level in [GraphOptimizationLevel.disableAll, .basic, .extended, .all] {
            var options = SessionOptions()
            options.graphOptimizationLevel = level
            let session = try InferenceSession(model: model, options: options)
            #expect(session.model.graph.nodes.contains { $0.opType == "FusedConv" } == (level.rawValue >= 2))
            let y = try session.run(feeds: ["x": .tensor(x)])[0].tensor?.values(as: Float.self)
            #expect(y == [-.infinity, -1, 6, 6], "opset \(opset), level \(level)")
        }
    }
}

@Test func sessionsRecordInferredTypesForKernels() throws {
    // y = Relu(x) + 1: nothing declares the type of the intermediate r; inference does.
    let model = makeModel(
        [
            Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["r"]),
            Node(name: "add", opType: "Add", inputs: ["r", "one"], outputs: ["y"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(2), d(3)])], outputs: ["y"],
        initializers: [Tensor(name: "one", dtype: .float32, shape: [], values: [Float(1)])])
    let session = try InferenceSession(model: model)
    let r = session.model.graph.valueInfo.first { $0.name == "r" }?.type
    #expect(r?.tensorElementType == .float32 && r?.tensorShape == [d(2), d(3)])
    #expect(session.model.graph.outputs[0].type == nil) // declarations stay as the model has them
    #expect(session.inferredOutputTypes[0]?.tensorShape == [d(2), d(3)])
}

// MARK: - Graph queries

@Test func graphQueriesSeeNodeInputsAndSubgraphReads() throws {
    // Listed out of order: "neg" reads what "mm" makes; the If branch reads "xw" from outside.
    let branch = Graph(
        name: "then", nodes: [Node(opType: "Identity", inputs: ["xw"], outputs: ["t"])],
        outputs: [ValueInfo(name: "t", type: nil)])
    var g = matMulAddModel().graph
    g.nodes.insert(Node(name: "neg", opType: "Neg", inputs: ["xw"], outputs: ["n"]), at: 0)
    g.nodes.append(
        Node(
            name: "if", opType: "If", inputs: ["c"], outputs: ["z"],
            attributes: [
                Attribute(name: "then_branch", value: .graph(branch)),
                Attribute(name: "else_branch", value: .graph(branch)),
            ]))
    #expect(try g.topologicallyOrderedNodes().map(\.name) == ["mm", "neg", "add", "if"])
    #expect(g.producers["xw"] == 1)
    #expect(g.consumers["xw"] == [0, 2, 3, 3]) // each branch's read counts
    #expect(g.useCounts["xw"] == 4)
    #expect(g.namesReadBySubgraphs == ["xw"])
    #expect(branch.freeNames == ["xw"])

    var names = UniqueNameGenerator(graph: g)
    #expect(names.fresh("fresh") == "fresh")
    #expect(names.fresh("fresh") == "fresh_1")
    #expect(names.fresh("t") == "t_1") // taken inside a subgraph

    g.nodes[1].inputs = ["x", "n"] // mm now needs neg, which needs mm
    #expect(validationFailure { _ = try g.topologicallyOrderedNodes() }?.contains("cycle") == true)
}

/// Appends `if c then branch else branch` writing graph output "z" (c: a true constant).
private func appendIf(to model: inout Model, branch: Graph) {
    model.graph.initializers.append(Tensor(name: "c", dtype: .bool, shape: [], values: [UInt8(1)]))
    model.graph.nodes.append(
        Node(
            name: "if", opType: "If", inputs: ["c"], outputs: ["z"],
            attributes: [
                Attribute(name: "then_branch", value: .graph(branch)),
                Attribute(name: "else_branch", value: .graph(branch)),
            ]))
    model.graph.outputs.append(ValueInfo(name: "z", type: nil))
}
