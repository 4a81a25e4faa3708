import CSwiftConv
import SwiftConvEngine
import SwiftConvIR

/// Compares two models on the same inputs (`sc.verify`); the report is JSON (docs/C_API.md).
@_cdecl("sc_model_verify")
public func scModelVerify(
    _ reference: OpaquePointer?, _ candidate: OpaquePointer?, _ inputNames: UnsafePointer<UnsafePointer<CChar>?>?,
    _ inputs: UnsafePointer<OpaquePointer?>?, _ inputCount: Int, _ options: UnsafePointer<sc_verify_options>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let reference = object(try required(reference, "reference"), as: ModelBox.self).model
        let candidate = object(try required(candidate, "candidate"), as: ModelBox.self).model
        let out = try required(out, "out")
        guard inputCount == 0 || (inputNames != nil && inputs != nil) else {
            throw SwiftConvError.invalidArgument("input_names and inputs must not be NULL")
        }
        var feeds: [(String, Value)] = []
        for i in 0..<inputCount {
            let name = String(cString: try required(inputNames![i], "input_names[\(i)]"))
            feeds.append((name, object(try required(inputs![i], "inputs[\(i)]"), as: ValueBox.self).value))
        }
        var settings = VerificationOptions()
        if let o = options?.pointee {
            settings.rtol = o.rtol
            settings.atol = o.atol
            settings.quantizedSteps = o.quantized_steps
            settings.perLayer = o.per_layer != 0
            guard o.intra_op_threads >= 0 else {
                throw SwiftConvError.invalidArgument("intra_op_threads must be >= 0, not \(o.intra_op_threads)")
            }
            settings.session.intraOpThreads = Int(o.intra_op_threads)
            settings.session.graphOptimizationLevel = try GraphOptimizationLevel(code: o.graph_optimization_level)
        }
        let report = try ModelVerifier.verify(reference: reference, candidate: candidate, feeds: feeds, options: settings)
        out.pointee = retainedHandle(BufferBox(VerificationJSON.report(report)))
    }
}

/// The JSON form of a `VerificationReport` (schema in docs/C_API.md, "Verification").
enum VerificationJSON {
    static func report(_ r: VerificationReport) -> [UInt8] {
        var w = JSONWriter()
        w.object { w in
            w.key("ok")
            w.bool(r.ok)
            w.key("outputs")
            w.array { w in for v in r.outputs { value(v, into: &w) } }
            w.key("layers")
            w.array { w in for v in r.layers { value(v, into: &w) } }
            w.key("first_divergence")
            w.string(r.firstDivergence)
            w.key("notes")
            w.array { w in for n in r.notes { w.string(n) } }
        }
        return w.bytes
    }

    static func ints(_ values: [Int], into w: inout JSONWriter) {
        w.array { w in for v in values { w.int(Int64(v)) } }
    }

    static func value(_ v: ValueReport, into w: inout JSONWriter) {
        w.object { w in
            w.key("name")
            w.string(v.name)
            w.key("candidate_name")
            w.string(v.candidateName)
            w.key("shape")
            ints(v.shape, into: &w)
            w.key("candidate_shape")
            ints(v.candidateShape, into: &w)
            w.key("perm")
            if let p = v.perm { ints(p, into: &w) } else { w.null() }
            w.key("count")
            w.int(Int64(v.comparison.count))
            w.key("max_abs")
            w.double(v.comparison.maxAbs)
            w.key("max_rel")
            w.double(v.comparison.maxRel)
            w.key("cosine")
            w.double(v.comparison.cosine)
            w.key("mismatches")
            w.int(Int64(v.comparison.mismatches))
            w.key("nonfinite_mismatches")
            w.int(Int64(v.comparison.nonFiniteMismatches))
            w.key("quantized_tolerance")
            w.double(v.quantizedTolerance)
            w.key("ok")
            w.bool(v.ok)
            w.key("note")
            w.string(v.note)
        }
    }
}
