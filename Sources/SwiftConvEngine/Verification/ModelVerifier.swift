import SwiftConvIR
import SwiftConvPasses

/// Settings of a verification.
public struct VerificationOptions: Sendable {
    /// Relative tolerance (numpy `allclose`'s rtol).
    public var rtol = 1e-4
    /// Absolute tolerance (numpy `allclose`'s atol).
    public var atol = 1e-5
    /// Also compare every intermediate value both models have.
    public var perLayer = false
    /// A quantized value may differ by this many steps of the candidate's scale (of the
    /// reference's when only the reference is quantized); so may a float value that
    /// dequantizes a quantized one, in steps of that one's scale.
    public var quantizedSteps = 1.0
    /// How the two sessions are made.
    public var session = SessionOptions()

    /// The defaults of `sc.verify`: rtol 1e-4, atol 1e-5, no per-layer comparison, 1 step.
    public init() {}
}

/// One compared value: an output, or with `perLayer` an intermediate value.
public struct ValueReport: Sendable {
    /// The reference model's name for the value.
    public var name: String
    /// The candidate model's name for it.
    public var candidateName: String
    /// The reference value's shape.
    public var shape: [Int]
    /// The candidate value's shape.
    public var candidateShape: [Int]
    /// candidate = transpose(reference, perm) when the models lay the value out differently.
    public var perm: [Int]?
    /// The error metrics (zero elements when the values could not be compared).
    public var comparison: TensorComparison
    /// The absolute tolerance that quantization allowed (0 for float values).
    public var quantizedTolerance: Double
    /// Whether the value matched.
    public var ok: Bool
    /// Why the value failed without a comparison, or how it was compared; nil when plain.
    public var note: String?
}

/// What `ModelVerifier.verify` found.
public struct VerificationReport: Sendable {
    /// One record per output of the reference, in its order.
    public var outputs: [ValueReport] = []
    /// With `perLayer`: one record per value both models have, in the reference's
    /// topological order (graph outputs included).
    public var layers: [ValueReport] = []
    /// The first record of `layers` that failed, if any.
    public var firstDivergence: String?
    /// How inputs and outputs were paired and anything else a reader should know.
    public var notes: [String] = []
    /// True when every output matched (intermediate values do not decide it).
    public var ok: Bool { outputs.allSatisfy(\.ok) }
}

/// Runs a reference and a candidate model on the same inputs and compares their outputs
/// and, on request, their intermediate values (the engine behind `sc.verify`).
///
/// Values are paired by the candidate's `ValueMap` when it has one (which may also give a
/// layout permutation), else outputs by name when both models use the same names and by
/// position otherwise, inputs likewise, and intermediate values by equal name and shape.
/// Intermediate values are read by running copies of the models in which they are graph
/// outputs.
public enum ModelVerifier {
    /// Runs both models on `feeds` (named as the reference names its inputs) and compares them.
    public static func verify(
        reference: Model, candidate: Model, feeds: [(String, Value)], options: VerificationOptions = VerificationOptions()
    ) throws -> VerificationReport {
        guard options.rtol >= 0, options.atol >= 0, options.quantizedSteps >= 0,
            options.rtol.isFinite, options.atol.isFinite, options.quantizedSteps.isFinite
        else {
            throw SwiftConvError.invalidArgument(
                "rtol, atol and the quantized step count must be finite and >= 0, not \(options.rtol), \(options.atol) and \(options.quantizedSteps)"
            )
        }
        let map = try ValueMap(model: candidate)
        let ref = try Side(reference, what: "reference")
        let cand = try Side(candidate, what: "candidate")
        var report = VerificationReport()
        if let map { report.notes.append("the candidate carries a value map of \(map.count) values (\(ValueMap.metadataKey))") }

        let candidateFeeds = try pairInputs(feeds, ref, cand, map, &report.notes)
        let outputPairs = try pairOutputs(ref, cand, map, &report.notes)
        var layerPairs: [(String, String, [Int]?)] = []
        if options.perLayer { layerPairs = try pairLayers(ref, cand, map) }

        let refValues = try ref.run(feeds: feeds, extra: layerPairs.map(\.0), options.session)
        let candValues = try cand.run(feeds: candidateFeeds, extra: layerPairs.map(\.1), options.session)
        for (r, c, perm) in outputPairs {
            let rv = refValues[r] ?? .none(nil)
            let cv = candValues[c] ?? .none(nil)
            report.outputs.append(
                try compare(
                    name: r, rv, ref.quantization[r], candidateName: c, cv, cand.quantization[c],
                    perm: perm, mapped: map != nil, step: ref.dequantizedFrom[r] ?? cand.dequantizedFrom[c], options))
        }
        for (r, c, perm) in layerPairs {
            guard let rv = refValues[r], let cv = candValues[c] else { continue }
            let record = try compare(
                name: r, rv, ref.quantization[r], candidateName: c, cv, cand.quantization[c], perm: perm, mapped: map != nil,
                step: ref.dequantizedFrom[r] ?? cand.dequantizedFrom[c], options)
            // Without a map, equal names with different shapes are different values.
            if map == nil, record.note?.hasPrefix("not compared: shapes") == true { continue }
            report.layers.append(record)
        }
        report.firstDivergence = report.layers.first { !$0.ok }?.name
        return report
    }

    // MARK: the two models

    /// A model ready to run, with the types and quantization of its values.
    struct Side {
        let model: Model
        let what: String
        /// Inputs a caller feeds, in graph order.
        let inputs: [ValueInfo]
        /// Quantization of every value whose type carries it (Q/DQ included, for ONNX).
        let quantization: [String: QuantParams]
        /// Float values that dequantize a quantized one (DequantizeLinear, DEQUANTIZE): a step
        /// of that value is their tolerance too, since an allowed step shows in them unchanged.
        let dequantizedFrom: [String: QuantParams]
        /// Main-graph node outputs in topological order.
        let values: [String]
        /// Declared or inferred type of every value.
        let types: [String: ValueInfo]

        init(_ model: Model, what: String) throws {
            var annotated = model
            do {
                try ModelChecker.checkForSession(annotating: &annotated)
            } catch let e as SwiftConvError {
                throw SwiftConvError(e.kind, "the \(what) model: \(e.message)", node: e.node)
            }
            // Q/DQ parameters become quantization on the types; a model whose annotation
            // contradicts itself is compared without it.
            var typed = annotated
            if (try? QuantizationAnnotation().run(on: &typed)) == nil { typed = annotated }
            var quantization: [String: QuantParams] = [:]
            var types: [String: ValueInfo] = [:]
            let g = typed.graph
            for info in g.inputs + g.outputs + g.valueInfo where types[info.name] == nil {
                types[info.name] = info
                if let q = info.type?.quantization { quantization[info.name] = q }
            }
            var dequantizedFrom: [String: QuantParams] = [:]
            for n in g.nodes where ["DequantizeLinear", "DEQUANTIZE"].contains(n.opType) && n.outputs.count == 1 {
                if let x = n.inputs.first, let q = quantization[x], quantization[n.outputs[0]] == nil {
                    dequantizedFrom[n.outputs[0]] = q
                }
            }
            self.model = annotated
            self.what = what
            self.quantization = quantization
            self.dequantizedFrom = dequantizedFrom
            self.types = types
            inputs = annotated.graph.runtimeInputs
            values = try annotated.graph.topologicallyOrderedNodes().flatMap { $0.outputs.filter { !$0.isEmpty } }
        }

        /// Runs the model; the results by name: its outputs and the `extra` values, which
        /// are made graph outputs of a copy first.
        func run(feeds: [(String, Value)], extra: [String], _ options: SessionOptions) throws -> [String: Value] {
            var m = model
            let present = Set(m.graph.outputs.map(\.name))
            var added = Set<String>()
            for name in extra where !present.contains(name) && added.insert(name).inserted {
                m.graph.outputs.append(types[name] ?? ValueInfo(name: name, type: nil))
            }
            m.graph.valueInfo.removeAll { added.contains($0.name) }
            var feedTable: [String: Value] = [:]
            for (name, value) in feeds { feedTable[name] = value }
            let results: [Value]
            do {
                let session = try InferenceSession(model: m, options: options)
                results = try session.run(feeds: feedTable)
            } catch let e as SwiftConvError {
                throw SwiftConvError(e.kind, "the \(what) model: \(e.message)", node: e.node)
            }
            var out: [String: Value] = [:]
            for (info, value) in zip(m.graph.outputs, results) { out[info.name] = value }
            return out
        }
    }

    // MARK: pairing

    /// The candidate's feeds: each reference input's value under the candidate's name for
    /// it (value map, equal name, else the same position), transposed when the map says so.
    static func pairInputs(
        _ feeds: [(String, Value)], _ ref: Side, _ cand: Side, _ map: ValueMap?, _ notes: inout [String]
    ) throws -> [(String, Value)] {
        let refNames = ref.inputs.map(\.name)
        let candNames = cand.inputs.map(\.name)
        var seen = Set<String>()
        for (name, _) in feeds {
            guard refNames.contains(name) else {
                throw SwiftConvError.invalidArgument("'\(name)' is not an input of the reference model (its inputs are \(refNames))")
            }
            guard seen.insert(name).inserted else { throw SwiftConvError.invalidArgument("input '\(name)' is given twice") }
        }
        let missing = refNames.filter { !seen.contains($0) }
        guard missing.isEmpty else {
            throw SwiftConvError.invalidArgument("inputs \(missing) of the reference model are missing (given: \(feeds.map(\.0)))")
        }
        guard refNames.count == candNames.count else {
            throw SwiftConvError.invalidArgument(
                "the reference model has \(refNames.count) inputs \(refNames) and the candidate \(candNames.count) \(candNames)")
        }
        let byName = Set(refNames) == Set(candNames)
        if !byName {
            notes.append("inputs paired by position: \(zip(refNames, candNames).map { "\($0) -> \($1)" })")
        }
        var out: [(String, Value)] = []
        for (name, value) in feeds {
            var target = byName ? name : candNames[refNames.firstIndex(of: name)!]
            var perm: [Int]?
            if let map, let mapped = candNames.first(where: { map[$0]?.source == name }) {
                target = mapped
                perm = map[mapped]?.perm
            }
            guard case .tensor(let t) = value else {
                out.append((target, value))
                continue
            }
            let declared = cand.inputs.first { $0.name == target }?.type?.tensorShape
            if let perm {
                guard perm.count == t.shape.count, let moved = try transposed(t, perm) else {
                    throw SwiftConvError.invalidArgument(
                        "input '\(name)' of shape \(t.shape) cannot be transposed by \(perm) for the candidate's '\(target)'")
                }
                notes.append("candidate input '\(target)' = transpose('\(name)', \(perm))")
                out.append((target, .tensor(moved)))
                continue
            }
            if let dims = declared?.concrete, dims != t.shape, dims.sorted() == t.shape.sorted() {
                throw SwiftConvError.invalidArgument(
                    "the candidate's input '\(target)' has shape \(dims), the reference's '\(name)' \(t.shape): "
                        + "another layout, and the candidate has no \(ValueMap.metadataKey) entry giving the permutation")
            }
            out.append((target, value))
        }
        return out
    }

    /// Output pairs (reference name, candidate name, perm) in the reference's order.
    static func pairOutputs(_ ref: Side, _ cand: Side, _ map: ValueMap?, _ notes: inout [String]) throws -> [(String, String, [Int]?)] {
        let refNames = ref.model.graph.outputs.map(\.name)
        let candNames = cand.model.graph.outputs.map(\.name)
        var pairs: [(String, String, [Int]?)] = []
        if let map {
            for r in refNames {
                if let c = candNames.first(where: { map[$0]?.source == r }) {
                    pairs.append((r, c, map[c]?.perm))
                } else if candNames.contains(r) {
                    pairs.append((r, r, nil))
                }
            }
            if pairs.count == refNames.count { return pairs }
            pairs = []
        }
        if Set(refNames) == Set(candNames) { return refNames.map { ($0, $0, nil) } }
        guard refNames.count == candNames.count else {
            throw SwiftConvError.invalidArgument(
                "the reference model has \(refNames.count) outputs \(refNames) and the candidate \(candNames.count) \(candNames); "
                    + "they cannot be paired by name or position")
        }
        notes.append("outputs paired by position: \(zip(refNames, candNames).map { "\($0) -> \($1)" })")
        return zip(refNames, candNames).map { ($0, $1, nil) }
    }

    /// Intermediate pairs in the reference's topological order: by the map (preferring an
    /// entry without a permutation), else by equal name.
    static func pairLayers(_ ref: Side, _ cand: Side, _ map: ValueMap?) throws -> [(String, String, [Int]?)] {
        let candValues = Set(cand.values)
        var bySource: [String: (String, [Int]?)] = [:]
        if let map {
            for name in map.names where candValues.contains(name) {
                guard let e = map[name] else { continue }
                if let old = bySource[e.source], old.1 == nil { continue }
                if bySource[e.source] == nil || e.perm == nil { bySource[e.source] = (name, e.perm) }
            }
        }
        var pairs: [(String, String, [Int]?)] = []
        for r in ref.values {
            if map != nil {
                if let (c, perm) = bySource[r] { pairs.append((r, c, perm)) }
            } else if candValues.contains(r) {
                pairs.append((r, r, nil))
            }
        }
        return pairs
    }

    // MARK: comparing

    static func compare(
        name: String, _ r: Value, _ rq: QuantParams?, candidateName: String, _ c: Value, _ cq: QuantParams?, perm: [Int]?,
        mapped: Bool, step: QuantParams?, _ options: VerificationOptions
    ) throws -> ValueReport {
        var report = ValueReport(
            name: name, candidateName: candidateName, shape: [], candidateShape: [], perm: perm, comparison: TensorComparison(),
            quantizedTolerance: 0, ok: false, note: nil)
        guard case .tensor(let rt) = r, case .tensor(let ct) = c else {
            report.note = "not compared: \(r.typeDescription) and \(c.typeDescription) are not both tensors"
            return report
        }
        report.shape = rt.shape
        report.candidateShape = ct.shape
        if rt.dtype == .string || ct.dtype == .string {
            report.ok = rt.dtype == ct.dtype && rt.shape == ct.shape && rt.strings == ct.strings
            report.note = "strings compared for equality"
            return report
        }
        let expected = perm.map { p in p.map { $0 < rt.shape.count ? rt.shape[$0] : -1 } } ?? rt.shape
        if let perm, perm.count != rt.shape.count {
            report.note = "not compared: the permutation \(perm) does not fit the reference's rank \(rt.shape.count)"
            return report
        }
        if expected != ct.shape {
            let squeezedEqual = expected.filter { $0 != 1 } == ct.shape.filter { $0 != 1 } && perm == nil
            if !squeezedEqual {
                if perm == nil, expected.sorted() == ct.shape.sorted() {
                    report.note =
                        "not compared: shapes \(rt.shape) and \(ct.shape) differ by a layout permutation"
                        + (mapped ? " that the value map does not give" : "; the candidate has no \(ValueMap.metadataKey) entry giving it")
                } else {
                    report.note = "not compared: shapes \(rt.shape) and \(ct.shape) differ"
                }
                return report
            }
            report.note = "shapes differ only in dimensions of size 1"
        }
        let tolerance = TensorComparison.quantizedTolerance(cq ?? rq ?? step, steps: options.quantizedSteps)
        report.quantizedTolerance = tolerance
        report.comparison = try TensorComparison.compare(
            reference: rt, referenceQuantization: rq, candidate: ct, candidateQuantization: cq,
            perm: expected == ct.shape ? perm : nil, rtol: options.rtol, atol: options.atol, quantizedTolerance: tolerance)
        report.ok = report.comparison.ok
        return report
    }

    // MARK: helpers

    /// transpose(t, perm) in new library memory; nil for types without whole bytes per element.
    static func transposed(_ t: Tensor, _ perm: [Int]) throws -> Tensor? {
        guard t.dtype != .string, t.dtype.bitWidth % 8 == 0, Set(perm) == Set(0..<t.shape.count) else { return nil }
        let size = t.dtype.bitWidth / 8
        let out = try Tensor.allocate(t.dtype, perm.map { t.shape[$0] })
        guard var offsets = PermutedOffsets(sourceShape: t.shape, perm: perm) else { return t }
        let count = t.elementCount
        var chunk = [Int](repeating: 0, count: 4096)
        let src = t.storage.bytes
        let dst = out.storage.mutableBytes
        var start = 0
        while start < count {
            let n = min(chunk.count, count - start)
            offsets.next(n, into: &chunk)
            for k in 0..<n {
                for b in 0..<size { dst[(start + k) * size + b] = src[chunk[k] * size + b] }
            }
            start += n
        }
        return out
    }
}
