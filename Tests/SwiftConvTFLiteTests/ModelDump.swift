import SwiftConvIR

/// A complete, deterministic text of a model (every field the TFLite mapping sets, constant
/// bytes included), so that two imports can be compared line by line.
enum ModelDump {
    static func text(_ m: Model) -> [String] {
        var out = ["format \(m.format)", "doc \(m.docString)", "opsets \(m.opsetImports.map { "\($0.domain):\($0.version)" })"]
        out += m.metadata.map { "model metadata \($0.key)=\($0.value)" }
        graph(m.graph, "", &out)
        return out
    }

    static func graph(_ g: Graph, _ p: String, _ out: inout [String]) {
        out.append("\(p)graph \(g.name) metadata \(g.metadata.map { "\($0.key)=\($0.value)" })")
        for v in g.inputs { out.append("\(p)input \(info(v))") }
        for v in g.outputs { out.append("\(p)output \(info(v))") }
        for v in g.valueInfo { out.append("\(p)value \(info(v))") }
        for t in g.initializers { out.append("\(p)const \(tensor(t))") }
        for n in g.nodes {
            out.append(
                "\(p)node \(n.name) \(n.domain)::\(n.opType) \(n.inputs) -> \(n.outputs) \(n.metadata.map { "\($0.key)=\($0.value)" })")
            for a in n.attributes {
                if case .graph(let sub)? = a.value {
                    out.append("\(p)  attr \(a.name) graph")
                    graph(sub, p + "    ", &out)
                } else {
                    out.append("\(p)  attr \(a.name) \(attribute(a.value))")
                }
            }
        }
    }

    static func info(_ v: ValueInfo) -> String {
        "\(v.name) \(v.type.map(type) ?? "untyped") \(v.metadata.map { "\($0.key)=\($0.value)" })"
    }

    static func type(_ t: ValueType) -> String {
        if case .tensor(let e, let s, let q) = t {
            return
                "\(e)\(s.map { $0.map(\.description) } ?? ["*"]) q=\(q.map { "\($0.scale) \($0.zeroPoint) \($0.axis.map(String.init) ?? "-") \($0.storageType)" } ?? "none")"
        }
        return "\(t)"
    }

    static func tensor(_ t: Tensor) -> String {
        var h: UInt64 = 1_469_598_103_934_665_603
        for byte in t.storage.bytes { h = (h ^ UInt64(byte)) &* 1_099_511_628_211 }
        for s in t.strings { for byte in s { h = (h ^ UInt64(byte)) &* 1_099_511_628_211 } }
        return
            "\(t.name) \(t.dtype)\(t.shape) bytes=\(t.storage.bytes.count) strings=\(t.strings.count) hash=\(h) q=\(t.quantization.map { "\($0)" } ?? "none")"
    }

    static func attribute(_ v: AttributeValue?) -> String {
        switch v {
        case .int(let x)?: return "int \(x)"
        case .float(let x)?: return "float \(x.bitPattern)"
        case .string(let x)?: return "string \(x)"
        case .ints(let x)?: return "ints \(x)"
        case .floats(let x)?: return "floats \(x.map(\.bitPattern))"
        case .strings(let x)?: return "strings \(x)"
        default: return "other \(String(describing: v))"
        }
    }
}
