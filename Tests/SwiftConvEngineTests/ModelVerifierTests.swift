import SwiftConvIR
import SwiftConvTestSupport
import Testing

@testable import SwiftConvEngine

private func floats(_ values: [Float], _ shape: [Int]) -> Tensor { Tensor(dtype: .float32, shape: shape, values: values) }

private func compare(
    _ r: Tensor, _ c: Tensor, rq: QuantParams? = nil, cq: QuantParams? = nil, perm: [Int]? = nil, steps: Double = 1
) throws -> TensorComparison {
    try TensorComparison.compare(
        reference: r, referenceQuantization: rq, candidate: c, candidateQuantization: cq, perm: perm, rtol: 1e-4, atol: 1e-5,
        quantizedTolerance: TensorComparison.quantizedTolerance(cq ?? rq, steps: steps))
}

/// The metrics against their definitions, computed here by hand.
@Test func comparisonMetricsFollowTheirDefinitions() throws {
    let c = try compare(floats([1, 2, 3, 4], [4]), floats([1, 2, 3.5, 4], [4]))
    #expect(c.count == 4)
    #expect(c.maxAbs == 0.5)
    #expect(abs(c.maxRel - 0.5 / 3) < 1e-15)
    let cosine = 31.5 / (30.0 * 33.25).squareRoot()
    #expect(abs(c.cosine - cosine) < 1e-15)
    #expect(c.mismatches == 1)
    #expect(!c.ok)

    let same = try compare(floats([1, -2, 0], [3]), floats([1, -2, 0], [3]))
    #expect(same.ok && same.maxAbs == 0 && same.maxRel == 0 && same.cosine == 1)
    // Within atol + rtol * |r|: 1e-5 + 1e-4 * 100 = 0.01001.
    #expect(try compare(floats([100], [1]), floats([100.01], [1])).ok)
    #expect(!(try compare(floats([100], [1]), floats([100.011], [1])).ok))
    // Cosine of zero vectors: 1 for two, 0 for one.
    #expect(try compare(floats([0, 0], [2]), floats([0, 0], [2])).cosine == 1)
    #expect(try compare(floats([0, 0], [2]), floats([1, 0], [2])).cosine == 0)
}

@Test func nanEqualsNanAndFailsAgainstANumber() throws {
    let both = try compare(floats([.nan, 1, .infinity], [3]), floats([.nan, 1, .infinity], [3]))
    #expect(both.ok && both.nonFiniteMismatches == 0 && both.maxAbs == 0)
    let one = try compare(floats([.nan, 1, 2], [3]), floats([0, 1, .nan], [3]))
    #expect(one.nonFiniteMismatches == 2)
    #expect(one.mismatches == 0)
    #expect(!one.ok)
    #expect(!(try compare(floats([.infinity], [1]), floats([-.infinity], [1])).ok))
}

/// int8 values are compared after dequantizing; one step of the candidate's scale passes.
@Test func quantizedValuesPassWithinStepsOfTheScale() throws {
    let q = QuantParams(scale: 0.5, zeroPoint: 1, storageType: .int8)
    let r = Tensor(dtype: .int8, shape: [2], values: [Int8(3), 5]) // 1.0, 2.0
    let c = Tensor(dtype: .int8, shape: [2], values: [Int8(4), 5]) // 1.5, 2.0
    let one = try compare(r, c, rq: q, cq: q)
    #expect(one.maxAbs == 0.5)
    #expect(one.ok)
    #expect(!(try compare(r, c, rq: q, cq: q, steps: 0.5).ok))
    // A float reference against a quantized candidate: the candidate is dequantized.
    let mixed = try compare(floats([1.2, 2], [2]), c, cq: q)
    #expect(abs(mixed.maxAbs - 0.3) < 1e-7)
    #expect(mixed.ok)
    // Per-channel: channel 1 has scale 2, so its element reads 2 * (1 - 0).
    let pc = QuantParams(scale: [1, 2], zeroPoint: [0, 0], axis: 1, storageType: .int8)
    let perChannel = try compare(floats([1, 2, 1, 2], [2, 2]), Tensor(dtype: .int8, shape: [2, 2], values: [Int8(1), 1, 1, 1]), cq: pc)
    #expect(perChannel.maxAbs == 0)
}

/// candidate = transpose(reference, perm) compares equal.
@Test func permutationIsAppliedToTheReference() throws {
    let r = floats([0, 1, 2, 3, 4, 5], [1, 2, 3])
    let c = floats([0, 3, 1, 4, 2, 5], [1, 3, 2])
    #expect(try compare(r, c, perm: [0, 2, 1]).maxAbs == 0)
    #expect(try compare(r, floats([0, 1, 2, 3, 4, 5], [1, 3, 2]), perm: [0, 2, 1]).maxAbs == 2)
    let moved = try #require(try ModelVerifier.transposed(r, [0, 2, 1]))
    #expect(moved.shape == [1, 3, 2])
    #expect(moved.values(as: Float.self) == [0, 3, 1, 4, 2, 5])
}

/// y = Relu(x + b) and z = y * 2: a model and a copy with `b` changed.
private func chain(bias: Float, names: (String, String) = ("s", "y")) -> Model {
    makeModel(
        [
            Node(name: "add", opType: "Add", inputs: ["x", "b"], outputs: [names.0]),
            Node(name: "relu", opType: "Relu", inputs: [names.0], outputs: [names.1]),
            Node(name: "mul", opType: "Mul", inputs: [names.1, "two"], outputs: ["z"]),
        ],
        inputs: [tensorInfo("x", .float32, [d(1), d(4)])], outputs: ["z"],
        initializers: [floats([bias, 0, 0, 0], [4]).named("b"), floats([2], []).named("two")])
}

extension Tensor {
    fileprivate func named(_ n: String) -> Tensor {
        var t = self
        t.name = n
        return t
    }
}

@Test func verifierFindsTheFirstDivergingLayer() throws {
    let x: [(String, Value)] = [("x", .tensor(floats([1, -1, 2, -2], [1, 4])))]
    var options = VerificationOptions()
    options.perLayer = true
    let same = try ModelVerifier.verify(reference: chain(bias: 0), candidate: chain(bias: 0), feeds: x, options: options)
    #expect(same.ok)
    #expect(same.layers.map(\.name) == ["s", "y", "z"])
    #expect(same.firstDivergence == nil)

    let broken = try ModelVerifier.verify(reference: chain(bias: 0), candidate: chain(bias: 0.5), feeds: x, options: options)
    #expect(!broken.ok)
    #expect(broken.outputs.map(\.name) == ["z"])
    #expect(broken.outputs[0].comparison.maxAbs == 1)
    #expect(broken.firstDivergence == "s")
}

/// A value map pairs differently named values and gives their layout.
@Test func valueMapPairsRenamedAndTransposedValues() throws {
    var candidate = chain(bias: 0, names: ("sum", "act"))
    var map = ValueMap()
    map.set("sum", ValueMap.Entry(source: "s"))
    map.set("act", ValueMap.Entry(source: "y"))
    map.store(in: &candidate)
    var options = VerificationOptions()
    options.perLayer = true
    let x: [(String, Value)] = [("x", .tensor(floats([1, -1, 2, -2], [1, 4])))]
    let report = try ModelVerifier.verify(reference: chain(bias: 0), candidate: candidate, feeds: x, options: options)
    #expect(report.layers.map(\.name) == ["s", "y"])
    #expect(report.layers.map(\.candidateName) == ["sum", "act"])
    #expect(report.layers.allSatisfy { $0.ok })

    // Input fed transposed: the candidate takes x as [4, 1].
    var transposed = makeModel(
        [
            Node(name: "t", opType: "Transpose", inputs: ["xt"], outputs: ["x1"], attributes: [attr("perm", [1, 0])]),
            Node(name: "add", opType: "Add", inputs: ["x1", "b"], outputs: ["s"]),
            Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["y"]),
            Node(name: "mul", opType: "Mul", inputs: ["y", "two"], outputs: ["z"]),
        ],
        inputs: [tensorInfo("xt", .float32, [d(4), d(1)])], outputs: ["z"],
        initializers: [floats([0, 0, 0, 0], [4]).named("b"), floats([2], []).named("two")])
    var inputMap = ValueMap()
    inputMap.set("xt", ValueMap.Entry(source: "x", perm: [1, 0]))
    inputMap.set("z", ValueMap.Entry(source: "z"))
    inputMap.store(in: &transposed)
    let viaMap = try ModelVerifier.verify(reference: chain(bias: 0), candidate: transposed, feeds: x)
    #expect(viaMap.ok)
    #expect(viaMap.outputs[0].comparison.count == 4)
}

@Test func wrongInputNameIsAnInvalidArgument() throws {
    let feeds: [(String, Value)] = [("nope", .tensor(floats([1, 2, 3, 4], [1, 4])))]
    do {
        _ = try ModelVerifier.verify(reference: chain(bias: 0), candidate: chain(bias: 0), feeds: feeds)
        Issue.record("expected an error")
    } catch let e as SwiftConvError {
        #expect(e.kind == .invalidArgument)
        #expect(e.message.contains("'nope'"))
    }
}
